"""One small function: an exclusive advisory lock on a file, across processes.

``fcntl.flock`` on POSIX and ``msvcrt.locking`` on Windows. ``flock`` locks
belong to an *open file description*, so two descriptors opened separately
exclude each other whether they live in two processes or two threads of
one; POSIX record locks (``lockf``) would not, within a process. The lock
file is a separate, empty file next to the store and is never deleted:
deleting a lock file lets two writers hold "the" lock on two inodes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["exclusive_lock"]


@contextlib.contextmanager
def exclusive_lock(path: str) -> Iterator[None]:
    """Hold an exclusive advisory lock on *path* (created if missing).

    Blocks until the lock is free. Closing the descriptor releases it, so a
    process that dies holding it never leaves it held.

    Raises:
        OSError: *path* cannot be opened or locked.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd)
        try:
            yield
        finally:
            _release(fd)
    finally:
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows CI only
    import msvcrt

    def _acquire(fd: int) -> None:
        # msvcrt locks bytes from the current position: always byte 0.
        os.lseek(fd, 0, os.SEEK_SET)
        while True:
            try:
                # LK_LOCK retries for about ten seconds, then raises.
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue

    def _release(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _acquire(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _release(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
