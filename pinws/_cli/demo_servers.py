"""The demo's two servers: a real wss:// echo server and an interceptor."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from typing import Optional

from websockets.sync.server import ServerConnection, serve

__all__ = ["EchoServer", "InterceptingServer"]


def _echo(connection: ServerConnection) -> None:
    for message in connection:
        connection.send(message)


def _quiet_logger(debug: bool) -> logging.Logger:
    # websockets logs every aborted handshake; in the demo those are the
    # point, not noise worth a traceback. --debug shows them.
    logger = logging.getLogger("pinws.demo.server")
    if not debug:
        logger.propagate = False
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
    return logger


class EchoServer:
    """A `websockets` wss:// echo server on loopback, in a thread.

    Args:
        context: the server's TLS context.
        port: the port to listen on (0: any free one).
        debug: let the server's logs through.
    """

    def __init__(self, context: ssl.SSLContext, port: int = 0, debug: bool = False):
        listener = socket.create_server(("127.0.0.1", port))
        self._server = serve(
            _echo, sock=listener, ssl=context, logger=_quiet_logger(debug)
        )
        self.port: int = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pinws-demo-echo", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The server's wss:// URL."""
        return f"wss://localhost:{self.port}/"

    def close(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.shutdown()
        self._thread.join(5)


class InterceptingServer:
    """A TLS-intercepting attacker that records what each client sends it.

    It completes TLS with a certificate from its own root (one the client
    trusts) and records every decrypted byte of each connection, up to the
    end of the HTTP request head. It answers nothing.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Condition()
        self._received: list[bytes] = []
        self._thread = threading.Thread(
            target=self._serve, name="pinws-demo-attacker", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The attacker's URL: the same host name as the real server."""
        return f"wss://localhost:{self.port}/"

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(raw,), daemon=True).start()

    def _session(self, raw: socket.socket) -> None:
        received = bytearray()
        raw.settimeout(10)
        try:
            with self._context.wrap_socket(raw, server_side=True) as tls:
                while b"\r\n\r\n" not in received:
                    data = tls.recv(65536)
                    if not data:
                        break
                    received += data
        except (ssl.SSLError, OSError):
            pass  # the pinned client aborts the handshake: that is the point
        finally:
            raw.close()
            with self._lock:
                self._received.append(bytes(received))
                self._lock.notify_all()

    def wait_for_session(self, number: int, timeout: float) -> Optional[bytes]:
        """The bytes received on the *number*-th connection (from 1), once it ended.

        Returns ``None`` if that connection has not ended within *timeout*.
        """
        with self._lock:
            self._lock.wait_for(lambda: len(self._received) >= number, timeout)
            if len(self._received) < number:
                return None
            return self._received[number - 1]

    def close(self) -> None:
        """Stop accepting connections."""
        self._listener.close()
