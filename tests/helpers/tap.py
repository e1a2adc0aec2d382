"""A TCP tap on loopback: forwards to a server and records what passes.

Placed between a third-party proxy and the server, it shows what the proxy
forwarded from the client: the first bytes of each connection (a TLS
ClientHello, for a pinned client) and how many connections came through.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading

from .servers import relay


class _Forward(socketserver.BaseRequestHandler):
    server: Tap

    def handle(self) -> None:
        self.server.connections += 1
        with contextlib.suppress(OSError):
            upstream = socket.create_connection(("127.0.0.1", self.server.target))
            with contextlib.closing(upstream):
                relay(self.request, upstream, self.server.first_client_bytes)


class Tap(socketserver.ThreadingTCPServer):
    """Listens on 127.0.0.1 and relays each connection to *target* there."""

    daemon_threads = True

    def __init__(self, target: int) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.target = target
        self.port: int = self.server_address[1]
        self.first_client_bytes: list[bytes] = []
        self.connections = 0
        # A short poll interval: close() waits for serve_forever to notice.
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()
