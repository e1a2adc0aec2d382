"""pinws's loggers, and logging a repeated condition once per interval.

Every logger is a child of ``pinws`` (``pinws.tls``, ``pinws.policy``,
``pinws.reports``, ``pinws.client``, ``pinws.executors``, ``pinws.cli``), so
an application can tune one subsystem, or all of pinws at once. ``pinws``
itself carries a :class:`logging.NullHandler`, as libraries should: an
application that never configured logging gets no output from pinws on
stderr (Python's last-resort handler stays out of it); one that did gets
everything through its own handlers.

A library that logs the same warning on every connection buries the one
that matters. :class:`RepeatLimiter` logs a condition the first time it
is seen, then at most once per interval, and says how many repeats it held
back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Optional

__all__ = [
    "DEFAULT_INTERVAL",
    "REPEATS",
    "RepeatLimiter",
    "get_logger",
    "log_repeated",
]

ROOT = "pinws"

#: Seconds between two records of the same repeated condition.
DEFAULT_INTERVAL = 3600.0

logging.getLogger(ROOT).addHandler(logging.NullHandler())


def get_logger(subsystem: str) -> logging.Logger:
    """The logger of one pinws subsystem: ``pinws.<subsystem>``."""
    return logging.getLogger(f"{ROOT}.{subsystem}")


class RepeatLimiter:
    """Decides which occurrences of a repeated condition get logged.

    The first occurrence of a *key* is logged; later ones only once
    *interval* seconds have passed since the last logged one, and that
    record counts the occurrences held back in between. Thread-safe.

    Args:
        interval: seconds between two records of the same key.
        clock: a monotonic clock in seconds (a seam for tests).
        max_keys: how many keys are remembered; the least recently logged
            is forgotten first, so memory stays bounded whatever the keys.
    """

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 1024,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._max_keys = max_keys
        self._lock = threading.Lock()
        # key -> (when last logged, occurrences held back since)
        self._seen: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    def check(self, key: Hashable, interval: Optional[float] = None) -> Optional[int]:
        """Record one occurrence of *key*.

        Returns:
            ``None`` if it should not be logged; otherwise how many
            occurrences were held back since it was last logged (``0`` the
            first time).
        """
        wait = self.interval if interval is None else interval
        now = self._clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < wait:
                self._seen[key] = (entry[0], entry[1] + 1)
                return None
            held_back = entry[1] if entry is not None else 0
            self._seen[key] = (now, 0)
            self._seen.move_to_end(key)
            while len(self._seen) > self._max_keys:
                self._seen.popitem(last=False)
            return held_back

    def log(
        self,
        logger: logging.Logger,
        level: int,
        key: Hashable,
        message: str,
        *args: Any,
        interval: Optional[float] = None,
        stacklevel: int = 1,
    ) -> bool:
        """Log ``message % args`` at *level* unless *key* was logged recently.

        *stacklevel* is :meth:`logging.Logger.log`'s, counted from the
        caller of this method.

        Returns:
            whether it was logged.
        """
        if not logger.isEnabledFor(level):
            return False
        held_back = self.check(key, interval)
        if held_back is None:
            return False
        if held_back:
            message += f" (seen {held_back} more time{'s' if held_back != 1 else ''}"
            message += " since it was last logged)"
        logger.log(level, message, *args, stacklevel=stacklevel + 1)
        return True


#: The process-wide limiter for conditions that outlive one object: a pin
#: set is often rebuilt for every connection (``pins=[...]`` given as a
#: list), and must not warn again each time.
REPEATS = RepeatLimiter()


def log_repeated(
    logger: logging.Logger,
    level: int,
    key: Hashable,
    message: str,
    *args: Any,
    interval: Optional[float] = None,
) -> bool:
    """Log through :data:`REPEATS`; see :meth:`RepeatLimiter.log`."""
    return REPEATS.log(
        logger, level, key, message, *args, interval=interval, stacklevel=2
    )
