"""Real servers on loopback: a WebSocket echo server, an eavesdropping TLS
server (the attacker), an HTTP CONNECT proxy and a redirecting server.

Each runs on its own thread, binds an ephemeral port and records what it
saw, with events to wait on instead of sleeps.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any, Optional

from websockets.sync.server import ServerConnection, serve

import pinws

from .timing import WAIT


def relay(client: socket.socket, upstream: socket.socket, first: list[bytes]) -> None:
    """Pipe bytes both ways until both sides are done.

    The client's first 16 bytes are appended to *first* as soon as they pass.
    """
    recorded = False

    def pump(src: socket.socket, dst: socket.socket, record: bool) -> None:
        nonlocal recorded
        with contextlib.suppress(OSError):
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record and not recorded:
                    recorded = True
                    first.append(data[:16])
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    back = threading.Thread(target=pump, args=(upstream, client, False), daemon=True)
    back.start()
    pump(client, upstream, True)
    back.join(10)


def roundtrip(url: str, **kwargs: object) -> str:
    """Connect with pinws.create_connection, send "ping", return the reply."""
    ws = pinws.create_connection(url, timeout=WAIT, **kwargs)
    try:
        ws.send("ping")
        reply = ws.recv()
        assert isinstance(reply, str)
        return reply
    finally:
        ws.close()


def stop_accepting(listener: socket.socket, thread: threading.Thread) -> None:
    """Close *listener* and wait for *thread*, blocked in its accept(), to end.

    shutdown() wakes the blocked accept(); close() alone does not, on Linux.
    """
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()
    thread.join(10)
    assert not thread.is_alive(), "the accept loop did not end"


def echo(connection: ServerConnection) -> None:
    for message in connection:
        connection.send(message)


class WebSocketServer:
    """A `websockets` TLS server in a thread; records request headers.

    With ``context=None`` it serves plain ``ws://`` (a backend behind a
    TLS-terminating reverse proxy).
    """

    def __init__(
        self,
        context: Optional[ssl.SSLContext],
        handler: Callable[[ServerConnection], None] = echo,
        host: str = "127.0.0.1",
        process_request: Optional[Callable[..., Any]] = None,
        **options: Any,
    ) -> None:
        self.requests: list[Any] = []
        self.connections = 0
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._handler = handler
        self.context = context
        self._user_process_request = process_request

        def record(connection: ServerConnection, request: Any) -> Any:
            with self._lock:
                self.requests.append(request)
                self.connections += 1
            self.connected.set()
            if self._user_process_request is not None:
                return self._user_process_request(connection, request)
            return None

        listener = socket.create_server(
            (host, 0), family=socket.AF_INET6 if ":" in host else socket.AF_INET
        )
        self._server = serve(
            handler,
            sock=listener,
            ssl=context,
            process_request=record,
            **options,
        )
        self.host = host
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, host: Optional[str] = None, path: str = "/") -> str:
        name = host or ("localhost" if self.host == "127.0.0.1" else self.host)
        if ":" in name:
            name = f"[{name}]"
        return f"wss://{name}:{self.port}{path}"

    def serve_certificate(self, leaf: Any) -> None:
        """Serve *leaf* (a trustme.LeafCert) from the next connection on.

        As a restarted server does: no session issued before is resumed
        (a restart brings new session-ticket keys; the standard library
        cannot replace them, so the server stops resuming instead). A
        server that keeps its ticket keys resumes sessions of the old
        certificate: see test_resumption.py.
        """
        assert self.context is not None
        leaf.configure_cert(self.context)
        self.resume_no_sessions()

    def resume_no_sessions(self) -> None:
        """Resume no session issued so far, as a restarted server would.

        Call it after changing the context's certificate in place, to model
        a key rotation by restart or reload (new session-ticket keys).
        """
        assert self.context is not None
        self.context.options |= ssl.OP_NO_TICKET
        self.context.num_tickets = 0

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


class EavesdropServer:
    """The attacker: a TLS server that records every byte a client sends it.

    It completes TLS with whatever certificate it is given (one a rogue CA
    the client trusts has issued, say) and records the decrypted bytes; the
    test then asserts it received none.
    """

    def __init__(self, context: ssl.SSLContext, host: str = "127.0.0.1") -> None:
        self.context = context
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self.received = bytearray()
        self.handshakes_completed = 0
        self.handshakes_failed = 0
        self.sessions_done = threading.Event()
        self.accepted = 0
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, host: str = "localhost", path: str = "/") -> str:
        return f"wss://{host}:{self.port}{path}"

    def _serve(self) -> None:
        while not self._closed:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._session, args=(raw,), daemon=True).start()

    def _session(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        try:
            with self.context.wrap_socket(raw, server_side=True) as tls:
                self.handshakes_completed += 1
                while True:
                    data = tls.recv(65536)
                    if not data:
                        break
                    self.received.extend(data)
                    if b"\r\n\r\n" in self.received:
                        # Enough to prove a leak; answer nothing.
                        break
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
        finally:
            raw.close()
            self.sessions_done.set()

    def close(self) -> None:
        self._closed = True
        self._listener.close()


class ConnectProxy:
    """A plain HTTP CONNECT proxy that records the tunnels it opened and the
    first bytes the client sent through each (which must be a TLS record)."""

    def __init__(self, host: str = "127.0.0.1", upstream_host: str = "") -> None:
        self._listener = socket.create_server(
            (host, 0), family=socket.AF_INET6 if ":" in host else socket.AF_INET
        )
        self.host = host
        self.port = self._listener.getsockname()[1]
        # Where every tunnel really goes, whatever name it asks for (the
        # proxy's own DNS, for names that only exist in a test).
        self.upstream_host = upstream_host
        self.tunnels: list[str] = []
        self.first_client_bytes: list[bytes] = []
        self.tunnel_opened = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(client,), daemon=True).start()

    def _session(self, client: socket.socket) -> None:
        with contextlib.closing(client):
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            head, _, rest = request.partition(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                return
            host, _, port = target.rpartition(":")
            try:
                upstream = socket.create_connection(
                    (self.upstream_host or host.strip("[]"), int(port))
                )
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
                return
            self.tunnels.append(target)
            self.tunnel_opened.set()
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with contextlib.closing(upstream):
                if rest:
                    upstream.sendall(rest)
                relay(client, upstream, self.first_client_bytes)

    def close(self) -> None:
        self._closed = True
        self._listener.close()


def redirect_to(
    location: str, status: HTTPStatus = HTTPStatus.FOUND
) -> Callable[..., Any]:
    """A websockets process_request hook answering every upgrade with a redirect."""

    def process_request(connection: ServerConnection, request: Any) -> Any:
        response = connection.respond(status, "")
        response.headers["Location"] = location
        return response

    return process_request


@contextlib.contextmanager
def running(server: Any) -> Iterator[Any]:
    try:
        yield server
    finally:
        server.close()
