"""The dispatcher a PinnedWebSocketApp's worker reads with.

websocket-client's own dispatcher wakes every ``ping_timeout or 10`` seconds
and sleeps through reconnect delays, so closing an app from another thread
could take up to ten seconds. This one also waits on the app's wake-up
socket, so :meth:`PinnedWebSocketApp.close` ends the worker at once. It asks
the connection for already-decrypted bytes first, so frames that arrived
together are delivered without waiting for more traffic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional, cast

from .._transport.socket import PinnedSocket
from .._transport.wait import wait_for_fd

if TYPE_CHECKING:
    from .app import PinnedWebSocketApp

__all__ = ["PinnedDispatcher"]


class PinnedDispatcher:
    """Reads for one app, wakes at once when the app closes.

    It offers what websocket-client asks of a dispatcher: ``read``,
    ``reconnect`` and ``send``.
    """

    def __init__(self, app: PinnedWebSocketApp, ping_timeout: Optional[float]) -> None:
        self.app = app
        self.ping_timeout = ping_timeout

    def read(
        self,
        sock: Any,
        read_callback: Callable[[], bool],
        check_callback: Callable[[], Any],
    ) -> None:
        """Call *read_callback* whenever data is ready, until the app stops."""
        app = self.app
        ws = app.sock
        if ws is None or ws.sock is None:
            return
        conn = cast(PinnedSocket, ws.sock)
        wake_fd = app._wake_fd()
        while app.keep_running and not app._closing.is_set():
            fd = conn.fileno()
            if fd < 0:
                break
            ready = conn.pending() > 0 or wait_for_fd(
                fd, write=False, timeout=self.ping_timeout, wake_fd=wake_fd
            )
            if app._closing.is_set():
                break
            if ready and not read_callback():
                break
            check_callback()

    def reconnect(self, seconds: float, reconnector: Callable[..., Any]) -> None:
        """Wait *seconds* (ending early if the app closes), then reconnect."""
        app = self.app
        if app._closing.wait(seconds):
            return
        app._reconnect_attempt(reconnector)

    def send(self, sock: Any, data: bytes) -> int:
        """Send *data* on the app's connection (the socket serialises writers)."""
        return int(sock.send(data))
