"""Waiting for a socket to become readable or writable, with a deadline."""

from __future__ import annotations

import select
import time
from typing import Optional

__all__ = ["remaining", "wait_for_fd"]

_HAVE_POLL = hasattr(select, "poll")


def remaining(deadline: Optional[float]) -> Optional[float]:
    """Seconds left until *deadline* (a :func:`time.monotonic` value), or None."""
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


def wait_for_fd(
    fd: int, *, write: bool, timeout: Optional[float], wake_fd: Optional[int] = None
) -> bool:
    """Wait until *fd* is readable (or writable, with *write*).

    Returns whether it became ready before *timeout* seconds (``None``: no
    limit). Uses poll() where there is one, so descriptors above FD_SETSIZE
    work; select() elsewhere. *wake_fd* becoming readable also ends the wait
    (and then the result is false).
    """
    if _HAVE_POLL:
        poller = select.poll()
        event = select.POLLOUT if write else select.POLLIN
        poller.register(fd, event | select.POLLERR | select.POLLHUP)
        if wake_fd is not None:
            poller.register(wake_fd, select.POLLIN)
        millis = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        ready = poller.poll(millis)
        if wake_fd is None:
            return bool(ready)  # fd is the only descriptor registered
        return any(ready_fd == fd for ready_fd, _ in ready)
    readers = [] if write else [fd]
    if wake_fd is not None:
        readers.append(wake_fd)
    writers = [fd] if write else []
    r, w, x = select.select(readers, writers, [fd], timeout)
    return fd in r or fd in w or fd in x
