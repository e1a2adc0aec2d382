"""A minimal SOCKS5 proxy (no auth, CONNECT only) that records its tunnels."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from .servers import relay


class Socks5Proxy:
    def __init__(self, upstream_host: str = "") -> None:
        # Where every tunnel really goes, whatever name it asks for.
        self.upstream_host = upstream_host
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.targets: list[tuple[str, int]] = []
        self.first_client_bytes: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(client,), daemon=True).start()

    @staticmethod
    def _read(sock: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _session(self, client: socket.socket) -> None:
        with contextlib.closing(client), contextlib.suppress(EOFError, OSError):
            _, methods = self._read(client, 2)
            self._read(client, methods)
            client.sendall(b"\x05\x00")
            _, command, _, kind = self._read(client, 4)
            if kind == 1:
                host = socket.inet_ntoa(self._read(client, 4))
            elif kind == 3:
                host = self._read(client, self._read(client, 1)[0]).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET6, self._read(client, 16))
            (port,) = struct.unpack("!H", self._read(client, 2))
            if command != 1:
                client.sendall(b"\x05\x07\x00\x01" + b"\0" * 6)
                return
            upstream = socket.create_connection((self.upstream_host or host, port))
            self.targets.append((host, port))
            client.sendall(b"\x05\x00\x00\x01" + b"\0" * 6)
            with contextlib.closing(upstream):
                relay(client, upstream, self.first_client_bytes)

    def close(self) -> None:
        self._listener.close()
