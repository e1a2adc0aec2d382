"""Log a repeated condition once, then at most once per interval."""

from __future__ import annotations

import threading
import time
from typing import Callable

__all__ = ["INTERVAL", "Throttle"]

#: How often the same message may be logged again.
INTERVAL = 60 * 60.0
# Distinct messages remembered; the oldest are dropped beyond this.
_REMEMBERED = 256


class Throttle:
    """Decides whether a message is due: new, or not seen for :data:`INTERVAL`.

    Args:
        clock: monotonic seconds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}

    def due(self, message: str) -> bool:
        """Whether *message* should be logged now (and note that it was)."""
        now = self._clock()
        with self._lock:
            last = self._last.get(message)
            if last is not None and now - last < INTERVAL:
                return False
            self._last.pop(message, None)
            self._last[message] = now
            while len(self._last) > _REMEMBERED:
                del self._last[next(iter(self._last))]
            return True
