"""Waiting on a socket with a deadline, and the wake-up that ends every wait.

Every wait of a connection -- TCP connect, proxy negotiation, TLS handshake,
the Upgrade response, frame reads, blocked senders, the dispatcher's idle
wait -- goes through :func:`wait_socket`, and each watches the connection's
:class:`Wakeup` as well as its socket. Setting the wake-up (what
``PinnedWebSocketApp.close()`` does from another thread) therefore ends all of
them at once, whatever stage the connection is in.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from typing import NamedTuple, Optional

__all__ = ["Readiness", "Wakeup", "deadline_after", "remaining", "wait_socket"]

_HAVE_POLL = hasattr(select, "poll")


def deadline_after(timeout: Optional[float]) -> Optional[float]:
    """The :func:`time.monotonic` value *timeout* seconds from now, or None."""
    return None if timeout is None else time.monotonic() + timeout


def remaining(deadline: Optional[float]) -> Optional[float]:
    """Seconds left until *deadline* (a :func:`time.monotonic` value), or None."""
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


class Readiness(NamedTuple):
    """What ended a :func:`wait_socket` call."""

    readable: bool
    writable: bool
    woken: bool

    @property
    def timed_out(self) -> bool:
        """Nothing happened before the deadline."""
        return not (self.readable or self.writable or self.woken)


class Wakeup:
    """A flag that any thread sets and every socket wait sees.

    It is a connected socket pair: setting it makes one end readable, which
    ends every :func:`wait_socket` that watches it, and it stays set (the
    byte is not consumed) until :meth:`clear`, so a wait that starts later
    ends at once too. Sockets :meth:`attach`-ed to it are shut down when it
    is set, which also ends blocking calls made by code pinws does not own
    (python-socks' proxy negotiation).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._set = False
        self._attached: set[socket.socket] = set()

    def fileno(self) -> int:
        """The descriptor that becomes readable when the wake-up is set."""
        return self._reader.fileno()

    def is_set(self) -> bool:
        """Whether :meth:`set` was called since the last :meth:`clear`."""
        return self._set

    def set(self) -> None:
        """End every wait that watches this wake-up, now and until cleared."""
        with self._lock:
            if self._set:
                return
            self._set = True
            attached = list(self._attached)
            try:
                self._writer.send(b"\0")
            except OSError:
                pass  # closed: nothing waits on it any more
        for sock in attached:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def clear(self) -> None:
        """Make the wake-up unset again (for the next run)."""
        with self._lock:
            self._set = False
            try:
                while self._reader.recv(64):
                    pass
            except OSError:
                pass

    def attach(self, sock: socket.socket) -> None:
        """Shut *sock* down when the wake-up is set (at once if it is)."""
        with self._lock:
            already = self._set
            if not already:
                self._attached.add(sock)
        if already:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def detach(self, sock: socket.socket) -> None:
        """Stop watching *sock* (it is being closed)."""
        with self._lock:
            self._attached.discard(sock)

    def close(self) -> None:
        """Release the socket pair."""
        with self._lock:
            self._attached.clear()
        self._reader.close()
        self._writer.close()


def wait_socket(
    fd: int,
    *,
    read: bool,
    write: bool,
    deadline: Optional[float],
    wakeup: Optional[Wakeup] = None,
) -> Readiness:
    """Wait until *fd* is readable (*read*) or writable (*write*).

    Ends early when *wakeup* is set (``woken``), and at *deadline* (a
    :func:`time.monotonic` value; ``None``: no limit) with nothing ready.
    A socket that was shut down or failed counts as readable and writable,
    so the call that follows sees the error. Uses poll() where there is one,
    so descriptors above FD_SETSIZE work; select() elsewhere.
    """
    wake_fd = wakeup.fileno() if wakeup is not None else -1
    if wakeup is not None and wakeup.is_set():
        return Readiness(False, False, True)
    timeout = remaining(deadline)
    if _HAVE_POLL:
        poller = select.poll()
        events = (select.POLLIN if read else 0) | (select.POLLOUT if write else 0)
        poller.register(fd, events | select.POLLERR | select.POLLHUP)
        if wake_fd >= 0:
            poller.register(wake_fd, select.POLLIN)
        millis = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        readable = writable = woken = False
        for ready_fd, event in poller.poll(millis):
            if ready_fd == wake_fd:
                woken = True
                continue
            failed = bool(event & (select.POLLERR | select.POLLHUP | select.POLLNVAL))
            readable = bool(event & select.POLLIN) or failed
            writable = bool(event & select.POLLOUT) or failed
        return Readiness(readable, writable, woken)
    readers = [fd] if read else []
    if wake_fd >= 0:
        readers.append(wake_fd)
    writers = [fd] if write else []
    r, w, x = select.select(readers, writers, [fd], timeout)
    return Readiness(fd in r or fd in x, fd in w or fd in x, wake_fd in r)
