"""A TCP tap on loopback: forwards to a server and records what passes.

Placed between a third-party proxy and the server, it shows what the proxy
forwarded from the client: the first bytes of each connection (a TLS
ClientHello, for a pinned client) and how many connections came through.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from .servers import relay


class Tap:
    """Listens on 127.0.0.1 and relays each connection to *port* there."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.first_client_bytes: list[bytes] = []
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._session, args=(client,), daemon=True).start()

    def _session(self, client: socket.socket) -> None:
        with contextlib.closing(client), contextlib.suppress(OSError):
            upstream = socket.create_connection(("127.0.0.1", self._target))
            with contextlib.closing(upstream):
                relay(client, upstream, self.first_client_bytes)

    def close(self) -> None:
        self._listener.close()
