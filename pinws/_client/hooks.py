"""ConnectionHooks: what a PinnedWebSocketApp lends each connection it drives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from .._transport.wait import Wakeup

__all__ = ["CLOSE_GRACE", "ConnectionHooks"]

#: Seconds the worker waits for the server's close frame after ``close()``
#: from another thread (unless ``close(timeout=...)`` says otherwise): long
#: enough for a live server to answer, short enough that ``join(1)`` holds
#: against one that has stalled.
CLOSE_GRACE = 0.5


@dataclass
class ConnectionHooks:
    """The app's side of a connection, in one object.

    websocket-client's ``WebSocketApp`` builds a plain ``WebSocket`` for
    every attempt; the app adopts it as a :class:`PinnedWebSocket` and hands
    it this, instead of reaching into it.

    Attributes:
        wakeup: set by ``close()`` from another thread; every wait of the
            connection watches it.
        on_attempt_error: told of every failed connection attempt.
        on_connected: told of every successful one.
        on_closed: told of the server's close frame, once the closing
            handshake has run.
        close_request: the ``close()`` arguments (status, reason, timeout)
            to run the closing handshake with; set by ``close()`` from
            another thread.
    """

    wakeup: Optional[Wakeup] = None
    on_attempt_error: Optional[Callable[[BaseException], None]] = None
    on_connected: Optional[Callable[[], None]] = None
    on_closed: Optional[Callable[[Any], None]] = None
    close_request: Optional[dict[str, Any]] = field(default=None)
