"""What a process holds: open file descriptors, threads, resident memory.

For leak tests: take a :class:`Snapshot` before, run the cycles, then
:meth:`Snapshot.settle` waits (joining, not sleeping) for every thread
started since to end, and :meth:`Snapshot.growth` says what is left.
"""

from __future__ import annotations

import dataclasses
import os
import resource
import threading
import time

from .timing import WAIT

__all__ = ["Growth", "Snapshot", "open_fds", "rss"]

_PAGE = resource.getpagesize()


def open_fds() -> int:
    """The number of file descriptors this process has open (Linux)."""
    return len(os.listdir("/proc/self/fd"))


def rss() -> int:
    """This process's resident set size in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


@dataclasses.dataclass(frozen=True)
class Growth:
    fds: int
    threads: list[str]
    rss: int

    def __str__(self) -> str:
        return (
            f"{self.fds:+d} fds, {len(self.threads)} new threads {self.threads}, "
            f"RSS {self.rss / 1024:+.0f} KiB"
        )


class Snapshot:
    """Descriptors, threads and RSS at one moment."""

    def __init__(self) -> None:
        self.threads = set(threading.enumerate())
        self.fds = open_fds()
        self.rss = rss()

    def settle(self, timeout: float = WAIT) -> list[threading.Thread]:
        """Join every thread started since; return those still alive."""
        deadline = time.monotonic() + timeout
        for thread in set(threading.enumerate()) - self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return [
            thread
            for thread in set(threading.enumerate()) - self.threads
            if thread.is_alive()
        ]

    def growth(self) -> Growth:
        alive = self.settle()
        return Growth(
            open_fds() - self.fds, sorted(t.name for t in alive), rss() - self.rss
        )
