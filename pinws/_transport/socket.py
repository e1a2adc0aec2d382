"""TLSStream: a thread-safe TLS socket over memory BIOs.

The transport knows nothing of pins: :class:`pinws.PinnedSocket` (in the
TLS layer) is the TLSStream whose handshake passed pinws's checks, and
carries their outcome.


websocket-client calls ``recv``, ``send``, ``pending``, ``settimeout``,
``fileno``, ``shutdown`` and ``close`` on the object ``wrap_socket`` returns,
from several threads at once: the receiving worker, any number of senders, a
ping thread, the closing thread. An :class:`OpenSSL.SSL.Connection` is not
safe for concurrent calls, and OpenSSL wants a write it could not finish
retried with the same bytes before anything else happens on the connection
-- a rule a reader that must answer a TLS 1.3 key update breaks (the pattern
of OpenSSL issue 8677). So the Connection never touches the network::

      senders ──► SSL_write ──► outgoing BIO ──► queue ──► flusher ──► socket
                       (one lock around every                 (one at a
                        call into OpenSSL)                     time, in order)
      reader  ◄── SSL_read  ◄── incoming BIO ◄── reader drains the socket

* The Connection talks to memory BIOs (``Connection(context, None)``). Every
  call into it is short, made under one lock, and never spans a network
  wait; a write always completes into the outgoing BIO, so OpenSSL never
  holds a half-done write, whatever the reader meets (key updates, session
  tickets, alerts, close_notify).
* Ciphertext moves between the BIOs and the socket outside OpenSSL: what
  OpenSSL produced is queued in order under the same lock, and one flusher at
  a time writes the queue to the socket; the reader drains the socket into the
  incoming BIO. Senders wait for their bytes to reach the socket, so the queue
  holds at most one chunk of a message plus the reader's own replies; past
  :data:`OUTGOING_LIMIT` the reader stops taking more from a peer that does
  not read.
* Every wait watches the socket and the connection's :class:`Wakeup` and
  honours the timeout; :meth:`close` from any thread shuts the socket down,
  which ends every wait.
"""

from __future__ import annotations

import errno
import select
import socket
import threading
from typing import Any, Callable, Optional, TypeVar, Union

from OpenSSL import SSL
from websocket import (
    WebSocketConnectionClosedException,
    WebSocketException,
    WebSocketTimeoutException,
)

from .wait import Readiness, Wakeup, deadline_after, remaining, wait_socket

__all__ = ["OUTGOING_LIMIT", "ConnectionInterrupted", "TLSStream"]

T = TypeVar("T")

# One TLS record carries at most 16 KiB of plaintext; SSL_read never returns
# more than one record, so a larger read-ahead would only waste memory.
READ_AHEAD = 16384
# Plaintext asked of one SSL_read for a long payload: one byte more than a
# record holds, so that a shorter answer says the record is read whole.
RECORD_READ = READ_AHEAD + 1
# Plaintext handed to OpenSSL in one go by a sender; its records are queued
# and flushed before the next chunk is encrypted.
WRITE_CHUNK = 256 * 1024
# Ciphertext taken from the socket in one recv: under glibc's mmap threshold
# (128 KiB), above which every read's buffer would be fresh pages to fault in.
RECV_SIZE = 65536
# Ciphertext handed to OpenSSL at a time: one record of the largest size
# (16 KiB of plaintext, its header and AEAD expansion).
FEED_LIMIT = 16384 + 256 + 5
# The longest record body TLS allows (RFC 8446 section 5.2; RFC 5246 6.2.3),
# and the record content types (change_cipher_spec to heartbeat).
MAX_RECORD = 16384 + 2048
_RECORD_TYPES = frozenset(range(20, 25))
# Ciphertext written to the socket in one send when several records wait.
SEND_BATCH = 256 * 1024
_HAVE_POLL = hasattr(select, "poll")
# Events poll() reports whether asked or not; a failed socket counts as ready.
_FAILED = getattr(select, "POLLERR", 0) | getattr(select, "POLLHUP", 0)
#: Queued outgoing ciphertext past which the reader stops taking data from a
#: peer that does not read what it is sent (its replies would pile up).
OUTGOING_LIMIT = 1024 * 1024


class ConnectionInterrupted(WebSocketConnectionClosedException):
    """A wait ended because the connection was closed from another thread."""


def _closed_error() -> WebSocketConnectionClosedException:
    return ConnectionInterrupted("the connection was closed")


class TLSStream:
    """A TLS connection over a socket, usable as a blocking socket.

    It behaves as a blocking socket honouring
    :meth:`settimeout`, and is safe for one receiving thread plus any number
    of sending threads, with :meth:`close` from any thread.

    Args:
        connection: a client :class:`OpenSSL.SSL.Connection` created over
            memory BIOs (``SSL.Connection(context, None)``).
        raw: the connected TCP socket.
        timeout: seconds every blocking call may wait (``None``: no limit).
        wakeup: when set, every wait of this socket ends (with
            :class:`ConnectionInterrupted`).
    """

    # Slots: thousands of idle connections each hold one.
    __slots__ = (
        "_cin",
        "_cin_pos",
        "_close_deadline",
        "_close_notify_sent",
        "_closed",
        "_conn",
        "_eof",
        "_fd",
        "_fed_records",
        "_flush_waiters",
        "_flushed",
        "_flushing",
        "_incoming",
        "_lock",
        "_out",
        "_out_offset",
        "_out_size",
        "_owed",
        "_poll_events",
        "_poller",
        "_raw",
        "_rbuf",
        "_read_limit",
        "_recv_lock",
        "_release_pending",
        "_reply_due",
        "_rpos",
        "_send_lock",
        "_timeout",
        "_users",
        "_wakeup",
    )

    def __init__(
        self,
        connection: SSL.Connection,
        raw: socket.socket,
        timeout: Optional[float],
        *,
        wakeup: Optional[Wakeup] = None,
    ) -> None:
        self._conn = connection
        self._raw = raw
        self._fd = raw.fileno()
        self._timeout = timeout
        self._wakeup = wakeup
        # Guards every call into the Connection and the outgoing queue.
        self._lock = threading.Lock()
        # Made when a thread first has to wait for another's write (rare).
        self._flushed: Optional[threading.Condition] = None
        self._flush_waiters = 0
        self._recv_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._out: list[bytes] = []
        self._out_offset = 0
        self._out_size = 0
        self._flushing = False
        # Ciphertext received but not yet handed to OpenSSL, from _cin_pos on.
        self._cin = b""
        self._cin_pos = 0
        # Records handed to OpenSSL by the last _feed.
        self._fed_records = 0
        # Bytes still due of a record whose beginning OpenSSL already has.
        self._owed = 0
        # Whether reading may have made OpenSSL write something to send.
        self._reply_due = False
        # The reader's poll object, made at its first wait: _fill runs in one
        # thread at a time (under the receive lock, or in the handshake).
        self._poller: Optional[Any] = None
        self._poll_events = 0
        # Ciphertext arrived since SSL_read last asked for more: whole records
        # may be waiting that no socket event will announce.
        self._incoming = False
        self._eof = False
        self._rbuf: Optional[bytes] = None
        self._rpos = 0
        self._read_limit: Optional[int] = None
        self._closed = False
        self._close_notify_sent = False
        self._users = 0
        self._release_pending = False
        self._close_deadline: Optional[float] = None
        raw.setblocking(False)

    # -- handshake -----------------------------------------------------------

    def do_handshake(self) -> None:
        """Run the TLS handshake to completion, honouring the timeout.

        Raises:
            OpenSSL.SSL.Error: the handshake failed (or an exception raised in
                the verify callback, unchanged).
            websocket.WebSocketTimeoutException: it did not finish in time.
            ConnectionInterrupted: the socket was closed, or its wake-up set.
        """
        self._handshake(deadline_after(self._timeout))

    def _handshake(self, deadline: Optional[float]) -> None:
        while True:
            failure: Optional[SSL.Error] = None
            with self._lock:
                while True:
                    try:
                        self._conn.do_handshake()
                        done = True
                    except SSL.WantReadError:
                        if self._feed():
                            continue
                        done = False
                    except SSL.Error as exc:
                        failure = exc
                    break
                self._queue_output()
            if failure is not None:
                # The alert OpenSSL queued goes out if the socket takes it.
                try:
                    self._try_flush()
                except (WebSocketException, OSError):
                    pass
                raise failure
            self._flush(remaining(deadline))
            if done:
                return
            self._fill(deadline)

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
                # _keep, inline: the Upgrade response is read a byte at a time.
                start = self._rpos
                end = start + bufsize
                if end < len(buffered):
                    self._rpos = end
                else:
                    self._rbuf, self._rpos = None, 0
                # A slice of the whole of a bytes object is that object.
                data = buffered[start:end]
            elif bufsize >= READ_AHEAD:
                data = self._read_tls(bufsize)
            else:
                data = self._read_tls(READ_AHEAD)
                self._keep(data, bufsize)
                data = data[:bufsize]
            limit = self._read_limit
            if limit is not None:
                # Inline: the Upgrade response is read a byte at a time.
                self._read_limit = limit = limit - len(data)
                if limit < 0:
                    raise WebSocketException(
                        "the server's response to the WebSocket upgrade is too large"
                    )
            return data

    def limit_reads(self, limit: Optional[int]) -> None:
        """Fail :meth:`recv` once it has returned more than *limit* bytes.

        For the Upgrade response, which websocket-client reads without a
        bound; ``None`` lifts the limit.
        """
        self._read_limit = limit

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
                buffered, position = self._next_record(), 0
            parsed = parse(buffered, position)
            if parsed is None:
                return None
            value, size = parsed
            # _keep, inline: this is a stream of small messages' every frame.
            position += size
            if position < len(buffered):
                self._rpos = position
            else:
                self._rbuf, self._rpos = None, 0
            return value

    def take_payload(
        self, parse_header: Callable[[bytes, int], Optional[tuple[T, int, int]]]
    ) -> Optional[tuple[T, bytes]]:
        """Read a header and the *length* bytes that follow it, in one go.

        Calls ``parse_header(data, start)`` on the bytes not yet returned
        (reading one TLS record first when nothing is buffered). If it
        returns ``(value, size, length)``, the header spans *size* bytes and
        is followed by *length* bytes of payload, which are read -- waiting
        for as many records as they span -- and returned with *value*; if it
        returns ``None`` (the header is not all here), nothing is consumed.
        For payloads larger than a record, read without a call per record
        from the layers above. Should the read fail (a timeout, say), the
        header and what arrived of the payload are kept for the next read.

        Raises:
            websocket.WebSocketConnectionClosedException: the peer closed
                the connection before the payload ended, or as :meth:`recv`.
            websocket.WebSocketTimeoutException: as :meth:`recv`.
        """
        with self._recv_lock:
            buffered = self._rbuf
            position = self._rpos
            if buffered is None:
                buffered, position = self._next_record(), 0
            parsed = parse_header(buffered, position)
            if parsed is None:
                return None
            value, size, length = parsed
            start = position + size
            end = start + length
            if end <= len(buffered):
                self._keep(buffered, end)
                return value, buffered[start:end]
            parts = [buffered[start:]]
            missing = end - len(buffered)
            try:
                while missing > 0:
                    data = self._read_tls(RECORD_READ)
                    if not data:
                        raise WebSocketConnectionClosedException(
                            "Connection to remote host was lost."
                        )
                    parts.append(data)
                    missing -= len(data)
                    if missing > 0 and self._incoming:
                        # The records already here, under one lock.
                        with self._lock:
                            while missing > 0 and self._incoming:
                                more = self._decrypt(RECORD_READ)
                                if not more:
                                    break
                                parts.append(more)
                                missing -= len(more)
            except BaseException:
                # Nothing is lost: the next read starts at the header again.
                self._keep(buffered[position:start] + b"".join(parts), 0)
                raise
            if missing:
                # The last record ran past the payload: keep the rest.
                last = parts[-1]
                cut = len(last) + missing
                parts[-1] = last[:cut]
                self._keep(last, cut)
            else:
                self._rbuf, self._rpos = None, 0
            return value, b"".join(parts)

    def _next_record(self) -> bytes:
        """Decrypt the next record into the (empty) read-ahead buffer.

        Raises:
            websocket.WebSocketConnectionClosedException: the peer has
                closed the connection.
        """
        data = self._read_tls(READ_AHEAD)
        if not data:
            raise WebSocketConnectionClosedException(
                "Connection to remote host was lost."
            )
        self._rbuf, self._rpos = data, 0
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Receive into *buffer*; return the number of bytes written."""
        view = memoryview(buffer).cast("B")
        data = self.recv(nbytes or len(view))
        view[: len(data)] = data
        return len(data)

    def _decrypt(self, bufsize: int) -> Optional[bytes]:
        """One SSL_read: plaintext, ``b""`` at the end, ``None`` for "need more".

        Hands OpenSSL the next records received when it asks for them.
        Called with the lock held.
        """
        if not self._fed_records and self._cin_pos < len(self._cin):
            # OpenSSL has read all it was given (at most a record's
            # beginning is left): hand over more before asking, rather than
            # after it asks.
            self._feed()
        try:
            while True:
                try:
                    data = self._conn.recv(bufsize)
                    if self._fed_records == 1 and (
                        len(data) < bufsize or not self._conn.pending()
                    ):
                        # The one record fed is read whole, so the incoming
                        # BIO is empty: another SSL_read would only ask for
                        # more. Hand over the next record now (saving that
                        # failed call), or note there is none.
                        self._fed_records = 0
                        if self._cin_pos >= len(self._cin) or not self._feed():
                            self._incoming = False
                    return data
                except SSL.WantReadError:
                    if self._fed_records:
                        # Records that gave no data (a ticket, a key update,
                        # an alert) may have made OpenSSL write something.
                        self._reply_due = True
                    if not self._feed():
                        self._fed_records = 0
                        self._incoming = False
                        return None
        except SSL.ZeroReturnError:
            self._eof = True
            return b""
        except SSL.SysCallError as exc:
            if self._eof or self._closed:
                # The peer closed TCP without a TLS close_notify. WebSocket
                # has its own close handshake and framing, so a truncated
                # stream cannot pass for a complete one: end of stream.
                return b""
            raise WebSocketConnectionClosedException(
                f"TLS error on the connection: {exc}"
            ) from exc
        except SSL.Error as exc:
            # OpenSSL may have queued an alert saying why.
            self._reply_due = True
            if self._closed:
                raise _closed_error() from exc
            raise WebSocketConnectionClosedException(
                f"TLS error on the connection: {exc}"
            ) from exc

    def _read_tls(self, bufsize: int) -> bytes:
        deadline: Optional[float] = None
        waited = False
        while True:
            if self._closed:
                raise _closed_error()
            if self._incoming or self._eof:
                # (Otherwise OpenSSL has all there is and would ask for more.)
                with self._lock:
                    data = self._decrypt(bufsize)
                if data is not None:
                    return data
            if self._eof:
                return b""
            if self._timeout == 0 and not self._fill_now():
                raise WebSocketTimeoutException("no data available")
            if not waited:
                # Computed at the first wait: most reads find a record ready.
                deadline, waited = self._deadline(), True
            self._fill(deadline)

    def _fill_now(self) -> bool:
        """Take what the socket holds now, without waiting; whether any came."""
        data = self._recv_raw()
        if data is None:
            return False
        self._take_in(data)
        return True  # data, or the end of the stream

    def _fill(self, deadline: Optional[float]) -> bool:
        """Move ciphertext from the socket into the incoming BIO.

        Waits (honouring *deadline* and the wake-up) until some arrives, and
        meanwhile writes out what OpenSSL queued. Returns ``False`` at the
        end of the stream.

        Raises:
            websocket.WebSocketTimeoutException: nothing came in time.
            ConnectionInterrupted: closed from another thread.
        """
        data = self._recv_raw()
        if data is not None:
            return self._take_in(data)
        # About to wait: first send what reading made OpenSSL write (an
        # alert, say; its answer to a key update waits for the next write);
        # until now it could wait in the BIO, whose order every sender's
        # drain keeps.
        self._queue_replies()
        queued, wait_write = self._try_flush() if self._out_size else (0, False)
        while True:
            # The socket was found empty just now: wait before reading again.
            if not self._wait_in_fill(queued < OUTGOING_LIMIT, wait_write, deadline):
                raise WebSocketTimeoutException("Connection timed out")
            queued, wait_write = self._try_flush() if self._out_size else (0, False)
            if queued < OUTGOING_LIMIT:
                data = self._recv_raw()
                if data is not None:
                    return self._take_in(data)

    def _wait_in_fill(self, read: bool, write: bool, deadline: Optional[float]) -> bool:
        """:meth:`_wait` for the reader, on its own poll object; ``False``
        once *deadline* passed.

        A fresh poll object and its registrations cost each wait about as
        much as the rest of a small message's receiving; :meth:`_fill` waits
        once per round trip.
        """
        if not _HAVE_POLL or self._close_deadline is not None:
            return not self._wait(read=read, write=write, deadline=deadline).timed_out
        self._enter()
        try:
            events = _FAILED | (select.POLLIN if read else 0)
            if write:
                events |= select.POLLOUT
            poller = self._poller
            wakeup = self._wakeup
            if poller is None:
                poller = self._poller = select.poll()
                poller.register(self._fd, events)
                if wakeup is not None:
                    poller.register(wakeup.fileno(), select.POLLIN)
                self._poll_events = events
            elif events != self._poll_events:
                poller.modify(self._fd, events)
                self._poll_events = events
            if wakeup is not None and wakeup.is_set():
                raise _closed_error()
            timeout = remaining(deadline)
            ready = poller.poll(
                None if timeout is None else max(0, int(timeout * 1000 + 0.999))
            )
        finally:
            self._leave()
        if self._closed:
            raise _closed_error()
        fd = self._fd
        for ready_fd, _event in ready:
            if ready_fd != fd:
                raise _closed_error()  # the wake-up
        return bool(ready)

    def _take_in(self, data: bytes) -> bool:
        """Keep *data* from the socket for OpenSSL; ``False`` at end of stream."""
        with self._lock:
            if not data:
                self._eof = True
                rest = self._cin[self._cin_pos :]
                if rest:
                    # A truncated record: OpenSSL is to see it, and fail.
                    self._conn.bio_write(rest)
                self._cin, self._cin_pos = b"", 0
                self._conn.bio_shutdown()
                return False
            if self._cin_pos < len(self._cin):
                # Rare: _feed hands a record's beginning over as soon as it
                # is all there is, so only a header cut short (or a read
                # racing a pending() check) is left to join.
                data = self._cin[self._cin_pos :] + data
            self._cin, self._cin_pos = data, 0
            self._incoming = True
        return True

    def _feed(self) -> bool:
        """Hand OpenSSL the next records received; whether a whole one went.

        At most :data:`FEED_LIMIT` bytes (but always one whole record) go
        into the incoming BIO at a time: a memory BIO keeps the largest size
        it ever held for the life of the connection, so a 64 KiB read
        handed over at once would stay allocated on an idle connection. A
        record cut by the end of what was received goes over in parts,
        rather than be joined to the next read (a copy of all of it).
        Called with the lock held.
        """
        data = self._cin
        start = end = self._cin_pos
        size = len(data)
        records = 0
        owed = self._owed
        if owed:
            end = min(start + owed, size)
            self._owed = owed - (end - start)
            if not self._owed:
                records = 1
        if not self._owed:
            while size - end >= 5:
                # A TLS record: type (1), version (2), length (2), body.
                length = int.from_bytes(data[end + 3 : end + 5], "big")
                if data[end] not in _RECORD_TYPES or length > MAX_RECORD:
                    # Not TLS: OpenSSL is to see it and say so, not wait for
                    # more.
                    end = size
                    records = 2  # unknown
                    break
                record_end = end + 5 + length
                if record_end > size:
                    if end == start:
                        # Only the beginning of a record is here: hand it
                        # over, and the rest as it comes.
                        self._owed = record_end - size
                        end = size
                    break
                if end > start and record_end - start > FEED_LIMIT:
                    break
                end = record_end
                records += 1
        if end == start:
            return False
        self._fed_records = records
        if records > 1:
            # Which of them gave data is not followed: any may need a reply.
            self._reply_due = True
        self._conn.bio_write(
            data if start == 0 and end == size else memoryview(data)[start:end]
        )
        if end == size:
            self._cin, self._cin_pos = b"", 0
        else:
            self._cin_pos = end
        # A record's beginning alone gives OpenSSL nothing to return yet.
        return records > 0

    def _recv_raw(self) -> Optional[bytes]:
        """What the socket has now: bytes, ``b""`` at EOF, ``None`` if nothing.

        Non-blocking, so it needs no guard against :meth:`close`: a closed
        socket object fails at once (only waits hold its descriptor).
        """
        try:
            return self._raw.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            if self._closed:
                raise _closed_error() from exc
            raise

    def pending(self) -> int:
        """Bytes received and decrypted but not yet returned by :meth:`recv`.

        Decrypts a record already received when nothing else is buffered, so
        that a positive answer means :meth:`recv` will not wait.
        """
        buffered = self._rbuf
        count = len(buffered) - self._rpos if buffered is not None else 0
        if self._closed:
            return count
        with self._lock:
            count += self._conn.pending()
            if count or not self._incoming:
                return count
        if not self._recv_lock.acquire(blocking=False):
            return 0  # another thread is reading, and will take it
        try:
            if self._rbuf is not None:
                return len(self._rbuf) - self._rpos
            with self._lock:
                data = self._decrypt(READ_AHEAD)
            if data:
                self._keep(data, 0)
                return len(data)
            return 0
        finally:
            self._recv_lock.release()

    def wait_readable(self, timeout: Optional[float]) -> bool:
        """Wait until :meth:`recv` has something to return without waiting.

        Returns ``False`` when *timeout* seconds passed first or the wake-up
        was set; ``True`` when data (or the end of the stream) is there.
        """
        deadline = deadline_after(timeout)
        try:
            while True:
                if self._closed or self._eof or self.pending() > 0:
                    return True
                self._queue_replies()
                queued, wait_write = self._try_flush()
                if queued < OUTGOING_LIMIT:
                    data = self._recv_raw()
                    if data is not None:
                        self._take_in(data)
                        continue
                while True:
                    ready = self._wait(
                        read=queued < OUTGOING_LIMIT,
                        write=wait_write,
                        deadline=deadline,
                    )
                    if ready.timed_out:
                        return False
                    queued, wait_write = self._try_flush()
                    if queued < OUTGOING_LIMIT:
                        data = self._recv_raw()
                        if data is not None:
                            self._take_in(data)
                            break
        except ConnectionInterrupted:
            return False
        except (WebSocketException, OSError):
            return True  # the read that follows raises it

    # -- sending -------------------------------------------------------------

    def send(self, data: Union[bytes, bytearray, memoryview], flags: int = 0) -> int:
        """Send all of *data*; return its length.

        The bytes are encrypted in chunks, each written to the socket before
        the next is encrypted; one sender at a time, so the records of two
        messages never interleave.

        Raises:
            websocket.WebSocketTimeoutException: the peer did not accept data
                within the timeout (what was encrypted is still sent later,
                in order).
            websocket.WebSocketConnectionClosedException: the socket is
                closed, or the TLS connection failed.
        """
        total = len(data)
        if total <= READ_AHEAD and self._timeout != 0 and type(data) is not memoryview:
            with self._send_lock:
                self._send_record(data)
            return total
        view = memoryview(data).cast("B")
        total = len(view)
        with self._send_lock:
            offset = 0
            while offset < total:
                if self._closed:
                    raise _closed_error()
                if self._timeout == 0 and self._try_flush()[0] >= OUTGOING_LIMIT:
                    raise WebSocketTimeoutException("the peer is not reading")
                chunk = view[offset : offset + WRITE_CHUNK]
                with self._lock:
                    try:
                        while chunk:
                            # A record at a time (partial-write mode), each
                            # taken out of the BIO at once: a memory BIO keeps
                            # the largest size it ever held.
                            written = self._conn.send(chunk)
                            chunk = chunk[written:]
                            offset += written
                            self._queue_output(written + 256)
                    except SSL.Error as exc:
                        self._queue_output()  # an alert, say
                        raise self._write_error(exc) from exc
                if self._timeout == 0:
                    self._try_flush()
                    continue
                if not self._send_now():
                    self._flush(self._timeout)
        return total

    def _send_record(self, data: Union[bytes, bytearray]) -> None:
        """Send what fits in one record: :meth:`send`'s loop, without the
        loop. Send lock held."""
        with self._lock:
            if self._closed:
                raise _closed_error()
            try:
                self._conn.send(data)
            except SSL.Error as exc:
                self._queue_output()  # an alert, say
                raise self._write_error(exc) from exc
            self._queue_output(len(data) + 256)
        if not self._send_now():
            self._flush(self._timeout)

    def _write_error(self, exc: SSL.Error) -> WebSocketException:
        """The exception for an SSL_write that failed with *exc*."""
        if isinstance(exc, SSL.ZeroReturnError):
            return WebSocketConnectionClosedException(
                "the peer closed the TLS connection"
            )
        if self._closed:
            return _closed_error()
        return WebSocketConnectionClosedException(f"TLS error on the connection: {exc}")

    def _send_now(self) -> bool:
        """The common case of a flush, in one go: nothing else queued, and the
        socket takes it all. Returns whether it did; if not, :meth:`_flush`
        carries on from where this left off."""
        with self._lock:
            out = self._out
            if self._flushing or len(out) != 1 or self._out_offset:
                return False
            head = out[0]
            self._flushing = True
        sent = 0
        try:
            sent = self._send_raw(head)
        finally:
            with self._lock:
                self._consume(sent)
                done = not self._out
                self._flushing = False
                if self._flush_waiters:
                    assert self._flushed is not None
                    self._flushed.notify_all()
        return done

    def sendall(
        self, data: Union[bytes, bytearray, memoryview], flags: int = 0
    ) -> None:
        """Send all of *data*."""
        self.send(data)

    def _queue_replies(self) -> None:
        """Queue what reading made OpenSSL write, if it may have written.

        Only records that gave no data (or a batch of records, which are not
        followed one by one) can have made it write; a stream of single
        application-data records never does, and is spared the empty
        ``bio_read``.
        """
        if self._reply_due:
            with self._lock:
                self._reply_due = False
                self._queue_output()

    def _queue_output(self, expected: int = 4096) -> None:
        """Queue what OpenSSL wrote to the outgoing BIO. Lock held.

        *expected* is how much there is likely to be: one read then drains it.
        """
        size = expected
        while True:
            try:
                data = self._conn.bio_read(size)
            except SSL.WantReadError:
                return
            except SSL.Error:
                return  # the BIO is gone with a failed connection
            self._out.append(data)
            self._out_size += len(data)
            if len(data) < size:
                return
            size = 4 * size

    def _try_flush(self) -> tuple[int, bool]:
        """Write what the socket takes now, unless another thread is writing.

        Returns the bytes still queued, and whether the caller should wait for
        the socket to become writable to write them (not while another
        thread's write is under way, unless the queue is over its limit).
        """
        if not self._out_size:
            return 0, False
        with self._lock:
            if self._flushing or not self._out:
                queued = self._out_size
                return queued, queued >= OUTGOING_LIMIT
            self._flushing = True
        try:
            self._write_out(0.0, block=False)
        finally:
            self._end_flush()
        queued = self._out_size
        return queued, queued > 0

    def _end_flush(self) -> None:
        with self._lock:
            self._flushing = False
            if self._flush_waiters:
                assert self._flushed is not None
                self._flushed.notify_all()

    def _flush(self, timeout: Optional[float]) -> None:
        """Write every queued byte to the socket, in order, waiting as needed.

        Raises:
            websocket.WebSocketTimeoutException: not all written within
                *timeout* seconds of the first wait.
            ConnectionInterrupted: closed from another thread.
            websocket.WebSocketConnectionClosedException: the socket failed.
        """
        with self._lock:
            while self._flushing:
                # The other writer drains the whole queue, ours included;
                # it writes without waiting, so this is short.
                if self._flushed is None:
                    self._flushed = threading.Condition(self._lock)
                self._flush_waiters += 1
                try:
                    self._flushed.wait()
                finally:
                    self._flush_waiters -= 1
                if self._closed:
                    raise _closed_error()
            if not self._out:
                return
            self._flushing = True
        try:
            self._write_out(timeout, block=True)
        finally:
            self._end_flush()

    def _write_out(self, timeout: Optional[float], *, block: bool) -> None:
        # Computed at the first wait: most writes need none.
        deadline: Optional[float] = None
        waited = False
        while True:
            with self._lock:
                if not self._out:
                    return
                head = self._out[0]
                if self._out_offset or len(self._out) == 1:
                    batch: Union[bytes, memoryview] = memoryview(head)[
                        self._out_offset :
                    ]
                else:
                    parts = []
                    size = 0
                    for part in self._out:
                        if size and size + len(part) > SEND_BATCH:
                            break
                        parts.append(part)
                        size += len(part)
                    batch = b"".join(parts) if len(parts) > 1 else head
            sent = self._send_raw(batch)
            with self._lock:
                self._consume(sent)
            if sent == len(batch):
                continue
            if not block:
                return
            if not waited:
                deadline, waited = deadline_after(timeout), True
            ready = self._wait(read=False, write=True, deadline=deadline)
            if ready.timed_out:
                raise WebSocketTimeoutException("Connection timed out")

    def _consume(self, size: int) -> None:
        """Drop *size* written bytes from the head of the queue. Lock held."""
        self._out_size -= size
        while size:
            head = self._out[0]
            left = len(head) - self._out_offset
            if size < left:
                self._out_offset += size
                return
            size -= left
            del self._out[0]
            self._out_offset = 0

    def _send_raw(self, data: Union[bytes, memoryview]) -> int:
        # Non-blocking, as _recv_raw.
        try:
            return self._raw.send(data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            if self._closed:
                raise _closed_error() from exc
            code = exc.errno
            if code in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                raise WebSocketConnectionClosedException(
                    "socket is already closed."
                ) from exc
            raise

    # -- waiting -------------------------------------------------------------

    def _wait(self, *, read: bool, write: bool, deadline: Optional[float]) -> Readiness:
        closing = self._close_deadline
        if closing is not None:
            # The closing handshake after close() from another thread: the
            # wake-up is why we are here, so it is not watched; the grace
            # period bounds the wait instead.
            deadline = closing if deadline is None else min(deadline, closing)
        self._enter()
        try:
            ready = wait_socket(
                self._fd,
                read=read,
                write=write,
                deadline=deadline,
                wakeup=None if closing is not None else self._wakeup,
            )
        finally:
            self._leave()
        if ready.woken or self._closed:
            raise _closed_error()
        return ready

    def _enter(self) -> None:
        with self._lock:
            if self._closed:
                raise _closed_error()
            self._users += 1

    def _leave(self) -> None:
        with self._lock:
            self._users -= 1
            release = self._release_pending and not self._users
            if release:
                self._release_pending = False
        if release:
            self._raw.close()

    def begin_close(self, deadline: Optional[float]) -> None:
        """Let the closing handshake run until *deadline*, wake-up or not.

        After ``close()`` from another thread sets the wake-up, the worker
        still sends its close frame and reads the peer's: those waits ignore
        the wake-up and end by *deadline* instead.
        """
        self._close_deadline = deadline

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
        with self._lock:
            return self._conn.get_protocol_version_name()

    def cipher(self) -> Optional[str]:
        """The negotiated cipher suite's name."""
        with self._lock:
            return self._conn.get_cipher_name()

    @property
    def connection(self) -> SSL.Connection:
        """The pyOpenSSL connection (not safe to call concurrently)."""
        return self._conn

    # -- closing -------------------------------------------------------------

    def _send_close_notify(self) -> None:
        with self._lock:
            if self._close_notify_sent or self._closed:
                return
            self._close_notify_sent = True
            try:
                # Queues our close_notify; WebSocket's own close handshake has
                # already run, so the peer's is not waited for.
                self._conn.shutdown()
            except SSL.Error:
                pass
            self._queue_output()
        try:
            self._try_flush()
        except WebSocketException:
            pass
        except OSError:
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
        """Close the TLS connection and the socket. Safe from any thread, twice.

        Every wait of this socket in other threads ends with
        :class:`ConnectionInterrupted`; the descriptor is released once the
        last of them has left it, so it is never reused under their feet.
        """
        self._send_close_notify()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._flush_waiters:
                assert self._flushed is not None
                self._flushed.notify_all()
            release = not self._users
            self._release_pending = not release
        if self._wakeup is not None:
            self._wakeup.detach(self._raw)
        try:
            self._raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if release:
            self._raw.close()
        self._rbuf = None
        self._poller = None
        self._out.clear()
        self._out_size = 0

    def __enter__(self) -> TLSStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _deadline(self) -> Optional[float]:
        return deadline_after(self._timeout)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._fd}"
        return f"<{type(self).__name__} {state}>"
