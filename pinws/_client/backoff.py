"""How long to wait before reconnecting after the server was refused."""

from __future__ import annotations

import random
import threading
from typing import Callable

__all__ = ["RECONNECT_BACKOFF_CAP", "ReconnectBackoff"]

#: Seconds the delay after refused reconnects grows to at most.
RECONNECT_BACKOFF_CAP = 300.0


class ReconnectBackoff:
    """Exponential backoff, with jitter, after refused connection attempts.

    A server refused for its pins or policy will not change its key back a
    second later, and a fleet of clients retrying at the same rate is a
    storm. After *n* refused attempts in a row the delay is the configured
    one doubled *n* times, capped at :data:`RECONNECT_BACKOFF_CAP` (or the
    configured delay, if longer), and drawn at random from its upper half so
    that clients spread out; any other failure keeps the configured delay,
    and a successful connection starts over.

    Args:
        uniform: the random source, ``random.uniform``'s signature.
    """

    def __init__(
        self, uniform: Callable[[float, float], float] = random.uniform
    ) -> None:
        self._uniform = uniform
        self._lock = threading.Lock()
        self._refused = 0

    @property
    def refused_in_a_row(self) -> int:
        """Refused attempts since the last successful connection."""
        return self._refused

    def refused(self) -> None:
        """Count an attempt refused by a pin or policy check."""
        with self._lock:
            self._refused += 1

    def connected(self) -> None:
        """Start over: the last attempt connected."""
        with self._lock:
            self._refused = 0

    def delay(self, configured: float) -> float:
        """Seconds to wait before the next attempt, given the configured delay."""
        with self._lock:
            refused = self._refused
        if refused == 0 or configured <= 0:
            return configured
        cap = max(configured, RECONNECT_BACKOFF_CAP)
        longest = min(cap, configured * 2.0 ** min(refused, 64))
        return self._uniform(max(configured, longest / 2), longest)
