"""The dispatchers a PinnedWebSocketApp's connections are read with.

websocket-client's own dispatcher wakes every ``ping_timeout or 10`` seconds
and sleeps through reconnect delays, so closing an app from another thread
could take up to ten seconds. :class:`PinnedDispatcher` waits on the
connection and the run's :class:`Wakeup` together, so ``close()`` ends it at
once. It asks the connection whether it already holds decrypted data first:
frames that arrived together are delivered without waiting for more
traffic.

A dispatcher the user passes (``run_forever(dispatcher=rel)``) is wrapped in
:class:`DrainingDispatcher`, which delivers every frame already received
before handing control back (the user's dispatcher only sees the socket
become readable) and stretches the delay after a refused reconnect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from .._transport.socket import TLSStream
from .._transport.wait import Wakeup, deadline_after, wait_socket

__all__ = ["DrainingDispatcher", "PinnedDispatcher"]

ReconnectDelay = Callable[[float], float]


class PinnedDispatcher:
    """Reads for one app run, and wakes at once when the run is stopped.

    It offers what websocket-client asks of a dispatcher: ``read``,
    ``reconnect`` and ``send``.

    Args:
        wakeup: set when the app closes from another thread.
        ping_timeout: how often to let websocket-client check for pongs.
        reconnect_delay: the delay before the next reconnect attempt, given
            the configured one (see ``PinnedWebSocketApp``'s backoff).
    """

    def __init__(
        self,
        wakeup: Wakeup,
        ping_timeout: Optional[float],
        reconnect_delay: ReconnectDelay,
    ) -> None:
        self.wakeup = wakeup
        self.ping_timeout = ping_timeout
        self.reconnect_delay = reconnect_delay

    def read(
        self,
        sock: Any,
        read_callback: Callable[[], bool],
        check_callback: Callable[[], Any],
    ) -> None:
        """Call *read_callback* whenever data is ready, until the run stops."""
        if not isinstance(sock, TLSStream):
            return
        wakeup = self.wakeup
        while not wakeup.is_set():
            ready = sock.wait_readable(self.ping_timeout)
            if wakeup.is_set():
                break
            if ready and not read_callback():
                break
            check_callback()

    def reconnect(self, seconds: float, reconnector: Callable[..., Any]) -> None:
        """Wait before reconnecting (ending early if the run stops), then do."""
        wakeup = self.wakeup
        delay = self.reconnect_delay(seconds)
        ready = wait_socket(
            wakeup.fileno(),
            read=True,
            write=False,
            deadline=deadline_after(delay),
            wakeup=wakeup,
        )
        if ready.woken or wakeup.is_set():
            return
        reconnector(reconnecting=True)

    def send(self, sock: Any, data: bytes) -> int:
        """Send *data* on the app's connection (the socket serialises writers)."""
        return int(sock.send(data))


class DrainingDispatcher:
    """A user's dispatcher, made to deliver every frame already received.

    Args:
        inner: websocket-client's wrapper around the user's dispatcher.
        reconnect_delay: as for :class:`PinnedDispatcher`.
    """

    def __init__(self, inner: Any, reconnect_delay: ReconnectDelay) -> None:
        self.inner = inner
        self.reconnect_delay = reconnect_delay

    def read(
        self,
        sock: Any,
        read_callback: Callable[[], bool],
        check_callback: Callable[[], Any],
    ) -> None:
        """Register with the user's dispatcher a callback that drains *sock*."""

        def drain() -> bool:
            while True:
                if not read_callback():
                    return False
                if not isinstance(sock, TLSStream) or sock.pending() <= 0:
                    return True

        self.inner.read(sock, drain, check_callback)

    def reconnect(self, seconds: float, reconnector: Callable[..., Any]) -> None:
        """The user's dispatcher's reconnect, after the backoff delay."""
        self.inner.reconnect(self.reconnect_delay(seconds), reconnector)

    def send(self, sock: Any, data: bytes) -> int:
        """The user's dispatcher's send."""
        return int(self.inner.send(sock, data))

    def timeout(self, seconds: float, callback: Callable[..., Any], *args: Any) -> None:
        """The user's dispatcher's timeout."""
        self.inner.timeout(seconds, callback, *args)
