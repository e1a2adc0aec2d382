"""A WebSocket server whose TLS runs over memory BIOs on one thread.

The storm and soak tests need a server that does things no ordinary server
does between two records (a TLS 1.3 key update before *each* record, a new
session ticket, a close_notify in the middle of traffic) and that never
itself trips over OpenSSL's threading rules while doing so. So every
connection is driven by one selector loop on one thread: ciphertext moves
between the socket and a stdlib :class:`ssl.MemoryBIO` pair, plaintext
through `websockets`' sans-I/O :class:`~websockets.server.ServerProtocol`.
What the server does with a connection is a :class:`Behaviour`.

The TLS side is the standard library's, not pyOpenSSL's: that is the
OpenSSL that :mod:`helpers.keyupdate` can reach (see there). The client
under test, pinws, uses pyOpenSSL; two OpenSSL builds on the two ends is
only more realistic.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Optional

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from .timing import WAIT

__all__ = ["Behaviour", "EchoBehaviour", "Session", "TLSLoopServer"]

# One TLS record holds at most 16 KiB of plaintext: writing in pieces of
# this size gives Behaviour.before_record one call per record.
RECORD = 16384
# Behaviour.produce runs only while less than this waits for the socket, so
# a client that stops reading holds the server back instead of growing it.
LOW_WATER = 256 * 1024


class Behaviour:
    """What a :class:`TLSLoopServer` does on one connection.

    Subclass and override; every method runs on the server's loop thread.
    The default echoes nothing and pushes nothing.
    """

    def before_record(self, session: Session) -> None:
        """Called before each TLS record of application data is written."""

    def on_open(self, session: Session) -> None:
        """The WebSocket upgrade was answered with 101."""

    def on_message(self, session: Session, frame: Frame) -> None:
        """A text or binary frame arrived (clients here never fragment)."""

    def on_ping(self, session: Session, frame: Frame) -> None:
        """A ping arrived (the protocol answers it by itself)."""

    def produce(self, session: Session) -> None:
        """The socket has room: send more, if there is more to send."""

    def on_closed(self, session: Session) -> None:
        """The connection is gone (cleanly or not)."""


class EchoBehaviour(Behaviour):
    """Sends every message back, as it came."""

    def on_message(self, session: Session, frame: Frame) -> None:
        if frame.opcode is Opcode.TEXT:
            session.send_text(frame.data.decode())
        else:
            session.send_binary(frame.data)


class Session:
    """One client connection of a :class:`TLSLoopServer`."""

    def __init__(
        self, sock: socket.socket, context: ssl.SSLContext, behaviour: Behaviour
    ) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.ws = ServerProtocol(max_size=None)
        self.behaviour = behaviour
        self.out = bytearray()
        self.handshaken = False
        self.upgraded = False
        # No more application data: close the socket once `out` is flushed.
        self.closing = False
        self.closed = False
        self.close_notify_sent = False

    # -- sending -------------------------------------------------------------

    def send_text(self, text: str) -> None:
        self.ws.send_text(text.encode())
        self._flush_protocol()

    def send_binary(self, data: bytes) -> None:
        self.ws.send_binary(data)
        self._flush_protocol()

    def send_raw(self, plaintext: bytes) -> None:
        """Write bytes on the TLS stream as they are (hand-made frames)."""
        self._tls_write(plaintext)

    def send_close_notify(self) -> None:
        """End TLS now (a close_notify), whatever WebSocket was doing.

        What the client sends afterwards is read and dropped until it closes
        the socket, so the client sees the close_notify, not a reset.
        """
        with contextlib.suppress(ssl.SSLWantReadError):
            self.tls.unwrap()
        self.close_notify_sent = True
        self._collect()

    def _flush_protocol(self) -> None:
        for data in self.ws.data_to_send():
            if data:
                self._tls_write(data)
            else:
                # The protocol's way of saying: close the TCP connection.
                self.closing = True

    def _tls_write(self, plaintext: bytes) -> None:
        if self.close_notify_sent:
            return
        view = memoryview(plaintext)
        for start in range(0, len(view), RECORD):
            self.behaviour.before_record(self)
            self.tls.write(view[start : start + RECORD])
            self._collect()

    def _collect(self) -> None:
        pending = self.outgoing.pending
        if pending:
            self.out += self.outgoing.read(pending)

    # -- receiving (called by the loop) ----------------------------------------

    def _on_bytes(self, data: bytes) -> None:
        if self.close_notify_sent:
            return
        self.incoming.write(data)
        if not self.handshaken:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                self._collect()
                return
            self.handshaken = True
            self._collect()
        while True:
            try:
                plaintext = self.tls.read(1 << 17)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.ws.receive_eof()
                break
            if not plaintext:
                self.ws.receive_eof()
                break
            self.ws.receive_data(plaintext)
        self._collect()
        self._handle_events()

    def _on_eof(self) -> None:
        if self.handshaken and not self.close_notify_sent:
            self.ws.receive_eof()
            self._handle_events()
        self.closing = True

    def _handle_events(self) -> None:
        for event in self.ws.events_received():
            if isinstance(event, Request):
                response = self.ws.accept(event)
                self.ws.send_response(response)
                self._flush_protocol()
                if response.status_code == 101:
                    self.upgraded = True
                    self.behaviour.on_open(self)
            elif isinstance(event, Frame):
                if event.opcode in (Opcode.TEXT, Opcode.BINARY):
                    self.behaviour.on_message(self, event)
                elif event.opcode is Opcode.PING:
                    self.behaviour.on_ping(self, event)
        self._flush_protocol()


class TLSLoopServer:
    """Serves TLS + WebSocket connections from one selector thread.

    Args:
        context: the server's :class:`ssl.SSLContext` (TLS 1.3 for key
            updates: see :func:`TLSLoopServer.tls13_context`).
        behaviour: called once per accepted connection for its
            :class:`Behaviour`.
        rcvbuf: the receive buffer of accepted sockets (``SO_RCVBUF``);
            with *read_size*, how quickly a writing client meets a full
            socket (``None``: the system's default).
        read_size: the most bytes taken from a socket per loop turn.

    ``errors`` collects exceptions that broke the loop itself (a bug in a
    behaviour, say); a test asserts it is empty. ``dropped`` describes each
    connection the client broke (a failed handshake, a reset): the client's
    business, judged by the test if at all. Kept as text: an exception
    would keep the session alive through its traceback.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        behaviour: Callable[[], Behaviour],
        host: str = "127.0.0.1",
        rcvbuf: Optional[int] = None,
        read_size: int = 1 << 18,
    ) -> None:
        self.context = context
        self._behaviour = behaviour
        self._read_size = read_size
        self._listener = socket.create_server((host, 0))
        if rcvbuf is not None:
            # Sockets accepted from now on inherit the listener's buffer size.
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self.errors: list[BaseException] = []
        self.dropped: list[str] = []
        self.ended = 0
        self._changed = threading.Condition()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._stopped = False
        self._thread = threading.Thread(
            target=self._run, name="tls-loop-server", daemon=True
        )
        self._thread.start()

    @staticmethod
    def tls13_context(configure: Callable[[ssl.SSLContext], None]) -> ssl.SSLContext:
        """A TLS 1.3-only server context; *configure* loads its certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        configure(context)
        return context

    def url(self, path: str = "/") -> str:
        return f"wss://localhost:{self.port}{path}"

    def wait_ended(self, count: int = 1, timeout: float = WAIT) -> bool:
        """Wait until *count* connections have ended."""
        with self._changed:
            return self._changed.wait_for(lambda: self.ended >= count, timeout)

    def close(self) -> None:
        self._stopped = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")
        self._thread.join(WAIT)
        for end in (self._wake_r, self._wake_w, self._listener):
            end.close()

    # -- the loop ------------------------------------------------------------

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, None)
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        interest: dict[Session, int] = {}
        try:
            while not self._stopped:
                for session in list(interest):
                    wanted = selectors.EVENT_READ | (
                        selectors.EVENT_WRITE if session.out else 0
                    )
                    if wanted != interest[session]:
                        selector.modify(session.sock, wanted, session)
                        interest[session] = wanted
                for key, mask in selector.select():
                    session = key.data
                    if session is None:
                        if key.fileobj is self._listener:
                            self._accept(selector, interest)
                        continue
                    self._serve(session, mask)
                    if session.closed:
                        selector.unregister(session.sock)
                        del interest[session]
                        self._end(session)
        except BaseException as exc:  # reported to the test, not swallowed
            self.errors.append(exc)
        finally:
            for session in interest:
                session.sock.close()
            selector.close()
            with self._changed:
                self._changed.notify_all()

    def _accept(self, selector: selectors.BaseSelector, interest: dict) -> None:  # type: ignore[type-arg]
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        session = Session(sock, self.context, self._behaviour())
        selector.register(sock, selectors.EVENT_READ, session)
        interest[session] = selectors.EVENT_READ

    def _serve(self, session: Session, mask: int) -> None:
        try:
            if mask & selectors.EVENT_READ:
                try:
                    data = session.sock.recv(self._read_size)
                except BlockingIOError:
                    data = None
                if data == b"":
                    session._on_eof()
                elif data:
                    session._on_bytes(data)
            if session.out:
                try:
                    sent = session.sock.send(session.out)
                except BlockingIOError:
                    sent = 0
                del session.out[:sent]
            if session.upgraded and not session.close_notify_sent:
                while len(session.out) < LOW_WATER and not session.closing:
                    before = len(session.out)
                    session.behaviour.produce(session)
                    if len(session.out) == before:
                        break
            if session.closing and not session.out:
                session.closed = True
        except (ssl.SSLError, OSError) as exc:
            # The client broke the connection (or TLS): the test decides
            # whether that was expected; the loop goes on.
            if len(self.dropped) < 100:  # bounded: leak tests run this loop
                self.dropped.append(f"{type(exc).__name__}: {exc}")
            session.closed = True

    def _end(self, session: Session) -> None:
        with contextlib.suppress(OSError):
            session.sock.shutdown(socket.SHUT_RDWR)
        session.sock.close()
        try:
            session.behaviour.on_closed(session)
        finally:
            with self._changed:
                self.ended += 1
                self._changed.notify_all()
