"""Servers that fail in one precise way, for the fault matrix.

A :class:`FaultServer` runs a *script* for every connection it accepts: a
function that drives the raw socket (and TLS, when it gets that far) and
marks each stage it reaches on the server, so a test can wait for "the
client is now blocked right here" instead of sleeping. Scripts that stall
hold until the server closes.

:data:`FAULTS` is the matrix: every way a server can misbehave that issue 8
lists, with the stage where the client is left waiting and the exceptions a
client may document for it. :class:`FullBacklog` makes the TCP connect
itself hang; :class:`SilentProxy` is an HTTP CONNECT proxy that never
answers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import select
import socket
import ssl
import struct
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Optional

import websocket

import pinws

from .rawws import frame, read_request, upgrade_response
from .timing import SCALE, WAIT

__all__ = [
    "FAULTS",
    "Fault",
    "FaultConnection",
    "FaultServer",
    "FullBacklog",
    "SilentProxy",
    "syn_sent_to",
]

# Stages a test waits for.
ACCEPTED = "accepted"
CLIENT_HELLO = "client hello received"
TLS_DONE = "TLS done"
UPGRADE_REQUEST = "upgrade request received"
UPGRADE_ANSWERED = "upgrade answered"
HALF_FRAME = "half frame sent"
HUGE_FRAME_HEADER = "2**62-byte frame header sent"
PROXY_REQUEST = "CONNECT request received"


class FaultConnection:
    """One accepted connection, as a script sees it."""

    def __init__(self, server: FaultServer, raw: socket.socket) -> None:
        self.server = server
        self.raw = raw
        self.tls: Optional[ssl.SSLSocket] = None
        self.request = b""

    @property
    def sock(self) -> socket.socket:
        """The TLS socket once the handshake ran, the raw one before."""
        return self.tls if self.tls is not None else self.raw

    def mark(self, stage: str) -> None:
        self.server.stage(stage).set()

    def stall(self) -> None:
        """Hold the connection open, silent, until the server closes."""
        self.server.released.wait()

    def read_client_hello(self) -> bytes:
        """Read the client's first bytes (a TLS record header at least)."""
        data = b""
        while len(data) < 5:
            chunk = self.raw.recv(65536)
            if not chunk:
                raise EOFError("the client closed before its ClientHello")
            data += chunk
        self.mark(CLIENT_HELLO)
        return data

    def handshake(self) -> None:
        assert self.server.context is not None
        self.tls = self.server.context.wrap_socket(self.raw, server_side=True)
        self.mark(TLS_DONE)

    def read_upgrade_request(self) -> None:
        if self.tls is None:
            self.handshake()
        request = read_request(self.sock)
        if request is None:
            raise EOFError("the client closed before its upgrade request")
        self.request = request
        self.mark(UPGRADE_REQUEST)

    def answer(self, head: bytes, body: bytes = b"") -> None:
        """Answer the upgrade request with an HTTP response of our own."""
        self.read_upgrade_request()
        self.sock.sendall(head + body)

    def upgrade(self, extra_headers: bytes = b"") -> None:
        """Complete TLS and the WebSocket upgrade, as a good server would."""
        self.read_upgrade_request()
        self.sock.sendall(upgrade_response(self.request, extra_headers))
        self.mark(UPGRADE_ANSWERED)

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0), no TLS or WebSocket goodbye."""
        self.raw.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.raw.close()


Script = Callable[[FaultConnection], None]


class FaultServer:
    """A loopback server that runs *script* on every connection it accepts.

    Args:
        script: what to do with each connection (see :data:`FAULTS`).
        context: the TLS server context scripts handshake with.
    """

    def __init__(
        self, script: Script, context: Optional[ssl.SSLContext] = None
    ) -> None:
        self.script = script
        self.context = context
        self.released = threading.Event()
        self.errors: list[BaseException] = []
        self._stages: defaultdict[str, threading.Event] = defaultdict(threading.Event)
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(
            target=self._accept, name="fault-server", daemon=True
        )
        self._thread.start()

    def url(self) -> str:
        return f"wss://localhost:{self.port}/"

    def stage(self, name: str) -> threading.Event:
        """The event set when a connection reaches stage *name*."""
        with self._lock:
            return self._stages[name]

    def _accept(self) -> None:
        while not self.released.is_set():
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(raw)
            thread = threading.Thread(
                target=self._serve, args=(raw,), name="fault-session", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _serve(self, raw: socket.socket) -> None:
        connection = FaultConnection(self, raw)
        connection.mark(ACCEPTED)
        try:
            self.script(connection)
        except (OSError, EOFError, ssl.SSLError) as exc:
            # The client gave up first: expected in most of the matrix.
            self.errors.append(exc)
        finally:
            with contextlib.suppress(OSError):
                connection.sock.close()
            raw.close()

    def close(self) -> None:
        self.released.set()
        with contextlib.suppress(OSError):
            # Wakes the blocked accept(); close() alone does not.
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(WAIT)
        with self._lock:
            sockets = list(self._sockets)
        for raw in sockets:
            with contextlib.suppress(OSError):
                raw.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(WAIT)


# -- the scripts -------------------------------------------------------------


def stall_after_accept(c: FaultConnection) -> None:
    c.stall()


def stall_before_server_hello(c: FaultConnection) -> None:
    c.read_client_hello()
    c.stall()


def stall_after_tls_handshake(c: FaultConnection) -> None:
    c.handshake()
    c.stall()


def stall_before_upgrade_answer(c: FaultConnection) -> None:
    c.read_upgrade_request()
    c.stall()


def stall_mid_frame(c: FaultConnection) -> None:
    c.upgrade()
    c.sock.sendall(frame(b"hello, world")[:5])
    c.mark(HALF_FRAME)
    c.stall()


def frame_of_2_62_bytes(c: FaultConnection) -> None:
    c.upgrade()
    c.sock.sendall(struct.pack("!BBQ", 0x82, 127, 2**62))
    c.mark(HUGE_FRAME_HEADER)
    c.stall()


def garbage_instead_of_tls(c: FaultConnection) -> None:
    c.read_client_hello()
    c.raw.sendall(b"this is not TLS, it is not anything\r\n" * 50)
    c.stall()


def tls_alert(c: FaultConnection) -> None:
    c.read_client_hello()
    # A plaintext alert record: fatal handshake_failure (RFC 8446 6.2).
    c.raw.sendall(b"\x15\x03\x03\x00\x02\x02\x28")
    c.stall()


def status(code: int, reason: str) -> Script:
    def answer_status(c: FaultConnection) -> None:
        body = f"{code} {reason}\n".encode()
        c.answer(
            f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode(),
            body,
        )
        c.stall()

    return answer_status


def non_http_answer(c: FaultConnection) -> None:
    c.answer(b"\xff\xfe\x00\x01 not HTTP at all\r\n\r\n")
    c.stall()


def header_of_1_mib(c: FaultConnection) -> None:
    c.upgrade(extra_headers=b"X-Padding: " + b"a" * (1 << 20) + b"\r\n")
    c.stall()


def bad_frame(data: bytes) -> Script:
    def send_bad_frame(c: FaultConnection) -> None:
        c.upgrade()
        c.sock.sendall(data)
        c.stall()

    return send_bad_frame


def reset_mid_frame(c: FaultConnection) -> None:
    c.upgrade()
    c.sock.sendall(frame(b"hello, world")[:5])
    c.mark(HALF_FRAME)
    c.reset()


def close_without_close_frame(c: FaultConnection) -> None:
    c.upgrade()
    # Neither a WebSocket close frame nor a TLS close_notify: TCP FIN only.
    c.raw.shutdown(socket.SHUT_RDWR)


# -- the matrix ----------------------------------------------------------------

TIMEOUT = (websocket.WebSocketTimeoutException,)
TLS_FAILURE = (pinws.TLSHandshakeError,)
BAD_STATUS = (websocket.WebSocketBadStatusException,)
PROTOCOL = (websocket.WebSocketProtocolException,)
CLOSED = (websocket.WebSocketConnectionClosedException, ConnectionResetError)


@dataclasses.dataclass(frozen=True)
class Fault:
    """One row of the fault matrix.

    Attributes:
        script: the server's behaviour.
        stage: where a client is left waiting when the server stalls there
            (``None``: the server does not stall; the client must fail).
        after_upgrade: the fault comes after a successful upgrade (a
            ``create_connection`` sees it in ``recv()``, not in connect).
        expected: what a client may raise (with a timeout configured).
        may_connect: the connection may also succeed (the fault is
            legal, only hostile: a 1 MiB header).
    """

    script: Script
    stage: Optional[str]
    expected: tuple[type[BaseException], ...]
    after_upgrade: bool = False
    may_connect: bool = False


FAULTS: dict[str, Fault] = {
    "stall after accept": Fault(stall_after_accept, ACCEPTED, TIMEOUT),
    "stall before ServerHello": Fault(stall_before_server_hello, CLIENT_HELLO, TIMEOUT),
    "stall after TLS handshake": Fault(stall_after_tls_handshake, TLS_DONE, TIMEOUT),
    "stall before upgrade answer": Fault(
        stall_before_upgrade_answer, UPGRADE_REQUEST, TIMEOUT
    ),
    "stall mid-frame": Fault(stall_mid_frame, HALF_FRAME, TIMEOUT, after_upgrade=True),
    "frame header of 2**62 bytes": Fault(
        frame_of_2_62_bytes,
        HUGE_FRAME_HEADER,
        TIMEOUT + PROTOCOL,
        after_upgrade=True,
    ),
    "garbage instead of TLS": Fault(garbage_instead_of_tls, None, TLS_FAILURE),
    "TLS alert": Fault(tls_alert, None, TLS_FAILURE),
    "HTTP 200": Fault(status(200, "OK"), None, BAD_STATUS),
    "HTTP 403": Fault(status(403, "Forbidden"), None, BAD_STATUS),
    "HTTP 500": Fault(status(500, "Internal Server Error"), None, BAD_STATUS),
    "non-HTTP answer": Fault(non_http_answer, None, (websocket.WebSocketException,)),
    "1 MiB header": Fault(
        header_of_1_mib,
        UPGRADE_ANSWERED,
        (websocket.WebSocketException,),
        may_connect=True,
    ),
    "reserved opcode": Fault(
        bad_frame(struct.pack("!BB", 0x83, 0)), None, PROTOCOL, after_upgrade=True
    ),
    "RSV bits set": Fault(
        bad_frame(struct.pack("!BB", 0xF1, 2) + b"hi"),
        None,
        PROTOCOL,
        after_upgrade=True,
    ),
    "oversized control frame": Fault(
        bad_frame(struct.pack("!BBH", 0x89, 126, 200) + b"p" * 200),
        None,
        PROTOCOL,
        after_upgrade=True,
    ),
    "reset mid-frame": Fault(reset_mid_frame, None, CLOSED, after_upgrade=True),
    "close without close frame": Fault(
        close_without_close_frame, None, CLOSED, after_upgrade=True
    ),
}


# -- stalls below TLS ----------------------------------------------------------


def syn_sent_to(port: int) -> int:
    """How many local sockets are in SYN_SENT towards 127.0.0.1:*port*."""
    try:
        with open("/proc/net/tcp") as table:
            rows = table.read().splitlines()[1:]
    except OSError:
        return 0
    target = f"0100007F:{port:04X}"
    return sum(1 for row in rows if row.split()[3] == "02" and row.split()[2] == target)


class FullBacklog:
    """A listening socket whose accept queue is full, so a connect hangs.

    Linux drops a SYN when the accept queue of the listener is full (backlog
    0 holds one connection); the connecting side retransmits for minutes.
    The constructor fills the queue and checks that one more connect really
    does not complete.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port = self._listener.getsockname()[1]
        self._fillers: list[socket.socket] = []
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            self._fillers.append(filler)
            filler.connect_ex(("127.0.0.1", self.port))
            _, writable, _ = select.select([], [filler], [], 0.5 * SCALE)
            if not writable:
                break  # this connect hangs: the queue is full
        else:
            self.close()
            raise RuntimeError("connects to a full backlog did not hang")

    def url(self) -> str:
        return f"wss://localhost:{self.port}/"

    def close(self) -> None:
        for sock in (*self._fillers, self._listener):
            sock.close()


class SilentProxy:
    """An HTTP CONNECT proxy that reads the request and never answers."""

    def __init__(self) -> None:
        self.server = FaultServer(self._script)
        self.port = self.server.port

    @staticmethod
    def _script(c: FaultConnection) -> None:
        if read_request(c.raw) is not None:
            c.mark(PROXY_REQUEST)
        c.stall()

    def close(self) -> None:
        self.server.close()
