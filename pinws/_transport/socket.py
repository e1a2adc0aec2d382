"""PinnedSocket: the socket websocket-client drives, over a pyOpenSSL connection.

websocket-client calls ``recv``, ``send``, ``pending``, ``settimeout``,
``fileno``, ``shutdown`` and ``close`` on the object ``wrap_socket`` returns.
An :class:`OpenSSL.SSL.Connection` is not safe for concurrent calls, and
websocket-client calls from several threads at once (the receiving worker,
any number of senders, a ping thread, the closing thread). So:

* every call into the Connection happens under one short-held lock;
* that lock is never held while waiting on the network -- the raw socket is
  non-blocking and waits happen outside it (holding it there is how a
  blocked reader starves every writer, cf. CPython gh-143756);
* a second lock keeps one reader at a time (it owns the read-ahead buffer),
  a third one writer at a time (OpenSSL wants a write retried with the same
  data after WANT_WRITE, so a half-done write must not interleave with
  another).

Small ``recv`` calls (websocket-client reads 2 bytes of frame header, then
the rest, and the upgrade response one byte at a time) are served from a
read-ahead buffer filled one TLS record at a time. :meth:`pending` counts it,
so buffered frames are delivered at once, and it is released as soon as it
is drained, so an idle connection holds none.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar, Union

from OpenSSL import SSL
from websocket import (
    WebSocketConnectionClosedException,
    WebSocketTimeoutException,
)

from .wait import remaining, wait_for_fd

if TYPE_CHECKING:
    from .._errors import ChainCertificate
    from .._pins.pin import Pin

__all__ = ["PinnedSocket"]

T = TypeVar("T")

# One TLS record carries at most 16 KiB of plaintext; SSL_read never returns
# more than one record, so a larger read-ahead would only waste memory.
READ_AHEAD = 16384
# Bytes handed to one SSL_write; OpenSSL splits them into records.
WRITE_CHUNK = 256 * 1024


class PinnedSocket:
    """A TLS socket whose handshake passed pinws's checks.

    Created by pinws for every connection; websocket-client sees it as
    ``ws.sock``. It behaves as a blocking socket honouring
    :meth:`settimeout`, and is safe for one receiving thread plus any number
    of sending threads.

    Attributes:
        verified_chain: the chain verified in the handshake, leaf first, as
            :class:`ChainCertificate` entries.
        matched_pin: the pin that matched, ``None`` for an unpinned host (or
            a report-only / expired pin set that did not match).
    """

    def __init__(
        self,
        connection: SSL.Connection,
        raw: socket.socket,
        timeout: Optional[float],
    ) -> None:
        self._conn = connection
        self._raw = raw
        self._fd = raw.fileno()
        self._timeout = timeout
        self._ssl_lock = threading.Lock()
        self._recv_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._rbuf: Optional[bytes] = None
        self._rpos = 0
        self._closed = False
        self._close_notify_sent = False
        self.verified_chain: tuple[ChainCertificate, ...] = ()
        self.matched_pin: Optional[Pin] = None
        raw.setblocking(False)

    # -- handshake -----------------------------------------------------------

    def do_handshake(self) -> None:
        """Run the TLS handshake to completion, honouring the timeout.

        Raises:
            OpenSSL.SSL.Error: the handshake failed (or an exception raised in
                the verify callback, unchanged).
            websocket.WebSocketTimeoutException: it did not finish in time.
        """
        deadline = self._deadline()
        while True:
            try:
                self._conn.do_handshake()
                return
            except SSL.WantReadError:
                write = False
            except SSL.WantWriteError:
                write = True
            if not wait_for_fd(self._fd, write=write, timeout=remaining(deadline)):
                raise WebSocketTimeoutException("the TLS handshake timed out")

    # -- receiving -----------------------------------------------------------

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Receive up to *bufsize* bytes; ``b""`` once the peer has closed.

        Raises:
            websocket.WebSocketTimeoutException: nothing arrived within the
                timeout.
            websocket.WebSocketConnectionClosedException: the socket is
                closed, or the TLS connection failed.
            ConnectionResetError: the peer reset the connection.
        """
        with self._recv_lock:
            buffered = self._rbuf
            if buffered is not None:
                start = self._rpos
                self._keep(buffered, start + bufsize)
                # A slice of the whole of a bytes object is that object.
                return buffered[start : start + bufsize]
            if bufsize >= READ_AHEAD:
                return self._read_tls(bufsize)
            data = self._read_tls(READ_AHEAD)
            self._keep(data, bufsize)
            return data[:bufsize]

    def _keep(self, data: bytes, position: int) -> None:
        """Buffer ``data[position:]`` for the next read; nothing once drained.

        The one place the read-ahead buffer is kept or dropped, so that an
        idle connection never holds one.
        """
        if position >= len(data):
            self._rbuf = None
            self._rpos = 0
        else:
            self._rbuf = data
            self._rpos = position

    def take(
        self, parse: Callable[[bytes, int], Optional[tuple[T, int]]]
    ) -> Optional[T]:
        """Parse received bytes in place, consuming what the parser used.

        Calls ``parse(data, start)`` on the bytes not yet returned
        (``data[start:]``), reading one TLS record first when nothing is
        buffered (blocking as :meth:`recv` does). If it returns
        ``(value, size)``, *size* bytes are consumed and *value* returned; if
        it returns ``None`` (it needs more bytes), nothing is consumed. For a
        reader that parses frames without copying them out byte by byte.

        Raises:
            websocket.WebSocketConnectionClosedException: the peer has
                closed the connection, or as :meth:`recv`.
            websocket.WebSocketTimeoutException: as :meth:`recv`.
        """
        with self._recv_lock:
            buffered = self._rbuf
            position = self._rpos
            if buffered is None:
                buffered = self._read_tls(READ_AHEAD)
                if not buffered:
                    raise WebSocketConnectionClosedException(
                        "Connection to remote host was lost."
                    )
                self._rbuf = buffered
                position = self._rpos = 0
            parsed = parse(buffered, position)
            if parsed is None:
                return None
            value, size = parsed
            self._keep(buffered, position + size)
            return value

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Receive into *buffer*; return the number of bytes written."""
        view = memoryview(buffer).cast("B")
        data = self.recv(nbytes or len(view))
        view[: len(data)] = data
        return len(data)

    def _read_tls(self, bufsize: int) -> bytes:
        # Computed at the first wait: most reads find a record ready.
        deadline: Optional[float] = None
        waited = False
        while True:
            if self._closed:
                raise WebSocketConnectionClosedException("socket is already closed.")
            with self._ssl_lock:
                try:
                    return self._conn.recv(bufsize)
                except SSL.WantReadError:
                    write = False
                except SSL.WantWriteError:
                    write = True
                except SSL.ZeroReturnError:
                    return b""
                except SSL.SysCallError as exc:
                    return self._on_syscall_error(exc)
                except SSL.Error as exc:
                    if self._closed:
                        raise WebSocketConnectionClosedException(
                            "socket is already closed."
                        ) from exc
                    raise WebSocketConnectionClosedException(
                        f"TLS error on the connection: {exc}"
                    ) from exc
            if self._timeout == 0:
                raise WebSocketTimeoutException("no data available")
            if not waited:
                deadline, waited = self._deadline(), True
            if not wait_for_fd(self._fd, write=write, timeout=remaining(deadline)):
                raise WebSocketTimeoutException("Connection timed out")

    def _on_syscall_error(self, exc: SSL.SysCallError) -> bytes:
        code = exc.args[0] if exc.args else -1
        if code in (-1, 0):
            # The peer closed TCP without a TLS close_notify. WebSocket has its
            # own close handshake and framing, so a truncated stream cannot be
            # mistaken for a complete one: treat it as end of stream.
            return b""
        if self._closed:
            raise WebSocketConnectionClosedException("socket is already closed.")
        if code == errno.ECONNRESET:
            raise ConnectionResetError(code, "connection reset by peer") from exc
        raise OSError(code, str(exc)) from exc

    def pending(self) -> int:
        """Bytes received and decrypted but not yet returned by :meth:`recv`."""
        buffered = self._rbuf
        count = len(buffered) - self._rpos if buffered is not None else 0
        if self._closed:
            return count
        with self._ssl_lock:
            return count + self._conn.pending()

    # -- sending -------------------------------------------------------------

    def send(self, data: Union[bytes, bytearray, memoryview], flags: int = 0) -> int:
        """Send all of *data*; return its length.

        A write OpenSSL could not finish (WANT_WRITE) is retried with the same
        bytes before this returns, as OpenSSL requires, so writes from
        different threads never interleave inside a TLS record.

        Raises:
            websocket.WebSocketTimeoutException: the peer did not accept data
                within the timeout.
            websocket.WebSocketConnectionClosedException: the socket is
                closed, or the TLS connection failed.
        """
        view = memoryview(data).cast("B")
        total = len(view)
        with self._send_lock:
            # Computed at the first wait: most sends complete without one.
            deadline: Optional[float] = None
            waited = False
            offset = 0
            while offset < total:
                chunk = view[offset : offset + WRITE_CHUNK]
                if self._closed:
                    raise WebSocketConnectionClosedException(
                        "socket is already closed."
                    )
                with self._ssl_lock:
                    try:
                        offset += self._conn.send(chunk)
                        continue
                    except SSL.WantWriteError:
                        write = True
                    except SSL.WantReadError:
                        write = False
                    except SSL.ZeroReturnError as exc:
                        raise WebSocketConnectionClosedException(
                            "the peer closed the TLS connection"
                        ) from exc
                    except SSL.SysCallError as exc:
                        code = exc.args[0] if exc.args else -1
                        if code in (errno.EPIPE, errno.ECONNRESET, -1, 0):
                            raise WebSocketConnectionClosedException(
                                "socket is already closed."
                            ) from exc
                        raise OSError(code, str(exc)) from exc
                    except SSL.Error as exc:
                        raise WebSocketConnectionClosedException(
                            f"TLS error on the connection: {exc}"
                        ) from exc
                if self._timeout == 0 and offset:
                    return offset
                if not waited:
                    deadline, waited = self._deadline(), True
                if not wait_for_fd(self._fd, write=write, timeout=remaining(deadline)):
                    raise WebSocketTimeoutException("Connection timed out")
        return total

    def sendall(
        self, data: Union[bytes, bytearray, memoryview], flags: int = 0
    ) -> None:
        """Send all of *data*."""
        self.send(data)

    # -- socket surface --------------------------------------------------------

    def settimeout(self, timeout: Optional[float]) -> None:
        """Set the timeout of blocking calls, in seconds (``None``: no limit)."""
        self._timeout = timeout

    def gettimeout(self) -> Optional[float]:
        """The timeout of blocking calls, in seconds, or ``None``."""
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        """``True``: no timeout; ``False``: non-blocking (timeout 0)."""
        self._timeout = None if flag else 0.0

    def fileno(self) -> int:
        """The underlying socket's file descriptor (-1 once closed)."""
        return -1 if self._closed else self._fd

    def getpeername(self) -> Any:
        """The remote address of the underlying socket."""
        return self._raw.getpeername()

    def getsockname(self) -> Any:
        """The local address of the underlying socket."""
        return self._raw.getsockname()

    def setsockopt(self, *args: Any) -> None:
        """Set an option of the underlying socket."""
        self._raw.setsockopt(*args)

    def getsockopt(self, *args: Any) -> Any:
        """Get an option of the underlying socket."""
        return self._raw.getsockopt(*args)

    @property
    def family(self) -> int:
        """The underlying socket's address family."""
        return self._raw.family

    def version(self) -> str:
        """The negotiated protocol, e.g. ``"TLSv1.3"``."""
        with self._ssl_lock:
            return self._conn.get_protocol_version_name()

    def cipher(self) -> Optional[str]:
        """The negotiated cipher suite's name."""
        with self._ssl_lock:
            return self._conn.get_cipher_name()

    @property
    def connection(self) -> SSL.Connection:
        """The pyOpenSSL connection (not safe to call concurrently)."""
        return self._conn

    # -- closing -------------------------------------------------------------

    def _send_close_notify(self) -> None:
        with self._ssl_lock:
            if self._close_notify_sent:
                return
            self._close_notify_sent = True
            try:
                # Non-blocking: sends our close_notify, does not wait for the
                # peer's; WebSocket's own close handshake has already run.
                self._conn.shutdown()
            except SSL.Error:
                pass

    def shutdown(self, how: int = socket.SHUT_RDWR) -> None:
        """Send a TLS close_notify, then shut the socket down (waking readers)."""
        if self._closed:
            return
        self._send_close_notify()
        try:
            self._raw.shutdown(how)
        except OSError:
            pass

    def close(self) -> None:
        """Close the TLS connection and the socket. Safe to call twice."""
        if self._closed:
            return
        self._send_close_notify()
        self._closed = True
        try:
            self._raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._raw.close()
        self._rbuf = None

    def __enter__(self) -> PinnedSocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _deadline(self) -> Optional[float]:
        timeout = self._timeout
        return None if timeout is None else time.monotonic() + timeout

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._fd}"
        return f"<PinnedSocket {state}>"
