"""PinnedWebSocketApp: websocket-client's WebSocketApp, pinned."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Optional, Union

import websocket
from websocket import (
    ABNF,
    STATUS_INVALID_PAYLOAD,
    STATUS_PROTOCOL_ERROR,
    WebSocketConnectionClosedException,
    WebSocketPayloadException,
    WebSocketProtocolException,
)

from .._ct.ctpolicy import CTPolicy
from .._errors import PinningError, TLSHandshakeError
from .._pins.policy import PinsArgument
from .._pins.report import PinFailureReport
from .._store.store import PinStore
from .._tls.context import TLSClient
from .._tls.options import parse_sslopt
from .._transport.socket import ConnectionInterrupted
from .._transport.wait import Wakeup
from .backoff import ReconnectBackoff
from .config import (
    PathArgument,
    build_tls_client,
    check_prepared_socket,
    wss_target,
    wss_url,
)
from .dispatcher import DrainingDispatcher, PinnedDispatcher
from .hooks import CLOSE_GRACE, ConnectionHooks
from .keywords import APP, RUN_FOREVER, check_keywords
from .websocket import PinnedWebSocket

__all__ = ["CallbackExecutor", "PinnedWebSocketApp"]

logger = logging.getLogger("pinws.client")

# A refused reconnect is logged as a warning once, then at most this often
# while the same refusal repeats (at debug level in between).
REFUSAL_LOG_INTERVAL = 300.0

CallbackExecutor = Callable[[Callable[[], None]], Any]


class PinnedWebSocketApp(websocket.WebSocketApp):
    """A :class:`websocket.WebSocketApp` that talks only to pinned servers.

    Takes every argument of :class:`websocket.WebSocketApp` (``header``,
    ``on_open``, ``on_message``, ``on_error``, ``on_close``, ...), and its
    :meth:`run_forever` every option of websocket-client's (proxies,
    ``reconnect``, ``ping_interval``, ...). Every connection it opens --
    first connect, reconnects, proxy tunnels, redirects -- is pinned, and
    the pin check happens inside the TLS handshake, before a byte of the
    WebSocket upgrade request is sent.

    Args:
        url: a ``wss://`` URL.
        pins: a list of pins (``"sha256/<base64>"`` and the other accepted
            forms), a :class:`PinSet` or a :class:`PinPolicy`. Any
            certificate of the verified chain may match (leaf, intermediate
            or root). ``None`` with a *pin_store*.
        ca_certs: trust store: a PEM file or a directory; ``None`` for
            certifi's bundle.
        pin_only: for self-signed servers and devices with no CA: the leaf
            key must match a pin; no CA path and no host name are checked.
        debug_ca: a development CA (mitmproxy's, say) whose chains are
            accepted without pins, with a warning on every connection.
        on_pin_failure: ``on_pin_failure(app, report)`` for every mismatch,
            enforced or report-only.
        report_uri: an ``https://`` URL that receives RFC 7469 JSON reports.
        callback_executor: ``f(callable)`` that runs each callback on the
            thread it should run on (see :mod:`pinws.executors`); ``None``
            runs them on the worker thread.
        ct: a :class:`CTPolicy`: Certificate Transparency checked in every
            handshake, alone (``pins=None``) or with pins.
        pin_store: a :class:`PinStore` of remembered pins for the hosts
            *pins* does not cover: trust on first use (SSH's model, for
            devices) and ``Public-Key-Pins`` headers.
        resume_sessions: let a connection (a reconnect, say) resume the TLS
            session of an earlier accepted one to the same host, port and
            trust store, after judging the chain verified for it against
            the pins in force; ``False`` makes every handshake a full one.
            Never with *pin_only* or *debug_ca*.

    Raises:
        ValueError: *url* is not ``wss://``, or another argument is bad.
        InvalidPinError: the pins are malformed.

    Connection failures -- every attempt, reconnects included -- go to
    ``on_error``, so a pin mismatch after a key change is never silent.
    """

    def __init__(
        self,
        url: str,
        *args: Any,
        pins: Optional[PinsArgument],
        ca_certs: PathArgument = None,
        pin_only: bool = False,
        debug_ca: PathArgument = None,
        on_pin_failure: Optional[Callable[[Any, PinFailureReport], Any]] = None,
        report_uri: Optional[str] = None,
        callback_executor: Optional[CallbackExecutor] = None,
        ct: Optional[CTPolicy] = None,
        pin_store: Optional[PinStore] = None,
        resume_sessions: bool = True,
        **kwargs: Any,
    ) -> None:
        url = wss_url(url)
        check_keywords(PinnedWebSocketApp.__init__, kwargs, APP)
        if callback_executor is not None and not callable(callback_executor):
            raise ValueError("callback_executor must be callable")
        if on_pin_failure is not None and not callable(on_pin_failure):
            raise ValueError("on_pin_failure must be callable")
        self._pinws_sock: Optional[PinnedWebSocket] = None
        self._callback_executor = callback_executor
        self.on_pin_failure = on_pin_failure
        self._base_tls = build_tls_client(
            pins=pins,
            ca_certs=ca_certs,
            pin_only=pin_only,
            debug_ca=debug_ca,
            on_pin_failure=self._deliver_pin_failure,
            report_uri=report_uri,
            ct=ct,
            pin_store=pin_store,
            resume_sessions=resume_sessions,
        )
        self._active_tls = self._base_tls
        self._backoff = ReconnectBackoff()
        self._hooks = ConnectionHooks(
            on_attempt_error=self._on_attempt_error,
            on_connected=self._backoff_reset,
            on_closed=self._remember_close_frame,
        )
        self._runner: Optional[int] = None
        self._worker: Optional[threading.Thread] = None
        self._attempts = 0
        self._last_refusal: Optional[tuple[str, float]] = None
        super().__init__(url, *args, **kwargs)
        if self.prepared_socket is not None:
            check_prepared_socket(self.prepared_socket)

    # websocket-client assigns ``self.sock = WebSocket(...)`` inside
    # run_forever for every connection attempt. Intercepting the assignment is
    # the one seam that reaches every attempt without copying run_forever.
    @property
    def sock(self) -> Optional[PinnedWebSocket]:
        """The connection's :class:`PinnedWebSocket`, ``None`` between connections."""
        return self._pinws_sock

    @sock.setter
    def sock(self, value: Optional[websocket.WebSocket]) -> None:
        if value is not None and not isinstance(value, PinnedWebSocket):
            if type(value) is not websocket.WebSocket:
                raise TypeError(
                    "pinws expected websocket-client to create a "
                    f"websocket.WebSocket, got {type(value).__name__}; this "
                    "websocket-client version is not supported"
                )
            value = PinnedWebSocket._adopt(value, self._active_tls, self._hooks)
            self.last_close_frame = None
            self._attempts += 1
        self._pinws_sock = value

    @property
    def tls(self) -> TLSClient:
        """The TLS client (context, trust store, pin policy) of this app."""
        return self._active_tls

    # -- running -------------------------------------------------------------

    def run_forever(
        self,
        sockopt: Optional[list[tuple[Any, ...]]] = None,
        sslopt: Optional[dict[str, Any]] = None,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """Connect and run the event loop, as websocket-client's ``run_forever``.

        Blocks until the connection ends (or, with ``reconnect=``, until
        :meth:`close`). Returns ``True`` if it ended because of an error.

        Raises:
            ValueError: *sslopt* would weaken verification or is unknown.
        """
        if args:
            raise TypeError(
                "run_forever takes sockopt and sslopt positionally; pass the "
                "other options by keyword"
            )
        check_keywords(PinnedWebSocketApp.run_forever, kwargs, RUN_FOREVER)
        self._prepare_run()
        return self._run(sockopt, sslopt, kwargs)

    def _prepare_run(self) -> None:
        # Before the worker starts: a close() from then on stops it.
        previous = self._hooks.wakeup
        if previous is not None:
            previous.close()  # left by a run with a user's dispatcher
        wakeup = self._hooks.wakeup = Wakeup()
        # A user's dispatcher reads on after run_forever returns, so its run's
        # wake-up stays until the next run, or until the app is collected.
        weakref.finalize(self, wakeup.close)
        self._hooks.close_request = None

    def _run(
        self,
        sockopt: Optional[list[tuple[Any, ...]]],
        sslopt: Optional[dict[str, Any]],
        kwargs: dict[str, Any],
    ) -> bool:
        wakeup = self._hooks.wakeup
        assert wakeup is not None, "_prepare_run comes first"
        try:
            self._active_tls = self._base_tls.with_options(parse_sslopt(sslopt))
            if kwargs.get("http_proxy_host") and kwargs.get("proxy_type") is None:
                # run_forever passes proxy_type=None through, which
                # websocket-client then rejects as an unknown proxy protocol.
                kwargs["proxy_type"] = "http"
            self._attempts = 0
            self._backoff.connected()
            self._runner = threading.get_ident()
            return bool(super().run_forever(sockopt=sockopt, sslopt={}, **kwargs))
        finally:
            self._runner = None
            if not kwargs.get("dispatcher"):
                # A user's dispatcher goes on reading after run_forever
                # returns; its connection keeps watching the wake-up.
                self._hooks.wakeup = None
                wakeup.close()

    def start(self, **run_forever_kwargs: Any) -> threading.Thread:
        """Run :meth:`run_forever` on a new daemon thread and return the thread.

        The keyword arguments are :meth:`run_forever`'s; they are checked
        here, in the calling thread, so a bad option raises at once.

        Raises:
            RuntimeError: the app is already running.
            ValueError: an option is bad.
        """
        if self._worker is not None and self._worker.is_alive():
            raise RuntimeError("this PinnedWebSocketApp is already running")
        check_keywords(PinnedWebSocketApp.start, run_forever_kwargs, RUN_FOREVER)
        parse_sslopt(run_forever_kwargs.get("sslopt"))
        sockopt = run_forever_kwargs.pop("sockopt", None)
        sslopt = run_forever_kwargs.pop("sslopt", None)
        host, _ = wss_target(self.url)
        self._prepare_run()
        thread = threading.Thread(
            target=self._run_worker,
            args=(sockopt, sslopt, run_forever_kwargs),
            name=f"pinws {host}",
            daemon=True,
        )
        self._worker = thread
        thread.start()
        return thread

    def _run_worker(
        self,
        sockopt: Optional[list[tuple[Any, ...]]],
        sslopt: Optional[dict[str, Any]],
        kwargs: dict[str, Any],
    ) -> None:
        try:
            self._run(sockopt, sslopt, kwargs)
        except Exception:
            logger.exception("the pinws worker thread failed")

    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait for the thread :meth:`start` began to end.

        Returns:
            ``True`` if it has ended (or none was started), ``False`` if
            *timeout* seconds passed first.
        """
        worker = self._worker
        if worker is None:
            return True
        worker.join(timeout)
        return not worker.is_alive()

    # -- closing -------------------------------------------------------------

    def close(self, **kwargs: Any) -> None:
        """Close the connection and stop :meth:`run_forever`. Safe from any thread.

        From a callback (the worker thread), this closes at once, as
        websocket-client does. From any other thread it asks the worker to
        run the closing handshake and returns immediately; the worker ends
        promptly -- ``join()`` to wait for it. Takes websocket-client's
        ``status``, ``reason`` and ``timeout``.
        """
        runner = self._runner
        worker = self._worker
        starting = (
            runner is None
            and worker is not None
            and worker.is_alive()
            and worker is not threading.current_thread()
        )
        if runner == threading.get_ident() or (runner is None and not starting):
            if runner is None and self._hooks.wakeup is not None:
                # A user's dispatcher may be in the middle of a reconnect.
                self._hooks.wakeup.set()
            super().close(**kwargs)
            return
        self.keep_running = False
        self._hooks.close_request = dict(kwargs)
        wakeup = self._hooks.wakeup
        if wakeup is not None:
            wakeup.set()

    # -- what websocket-client calls -------------------------------------------

    def create_dispatcher(
        self,
        ping_timeout: Optional[float],
        dispatcher: Any = None,
        is_ssl: bool = False,
        handleDisconnect: Optional[Callable[..., Any]] = None,
    ) -> Any:
        """The dispatcher run_forever reads with: pinws's, unless you gave one."""
        if dispatcher:
            inner = super().create_dispatcher(
                ping_timeout, dispatcher, is_ssl, handleDisconnect
            )
            return DrainingDispatcher(inner, self._backoff.delay)
        wakeup = self._hooks.wakeup
        assert wakeup is not None, "run_forever creates the wake-up first"
        return PinnedDispatcher(wakeup, ping_timeout, self._backoff.delay)

    def _on_attempt_error(self, exc: BaseException) -> None:
        refused = isinstance(exc, PinningError) and not isinstance(
            exc, TLSHandshakeError
        )
        if refused:
            self._backoff.refused()
        if isinstance(exc, ConnectionInterrupted):
            self.keep_running = False  # close() asked for it: no reconnect
            return
        if self._attempts <= 1:
            # websocket-client reports a failed first attempt itself.
            return
        # It stays silent about failed reconnects, whichever dispatcher
        # runs them; report every one here.
        self._log_reconnect_failure(exc)
        self._callback(self.on_error, exc)

    def _fail_fast(self, error: object) -> None:
        # A server that broke the protocol is not waited on for a polite
        # close: the teardown that follows sends the status RFC 6455 7.4.1
        # names and waits CLOSE_GRACE, not websocket-client's 3 s.
        status = None
        if isinstance(error, WebSocketPayloadException):
            status = STATUS_INVALID_PAYLOAD
        elif isinstance(error, WebSocketProtocolException):
            status = STATUS_PROTOCOL_ERROR
        if status is not None and self._hooks.close_request is None:
            self._hooks.close_request = {"status": status, "timeout": CLOSE_GRACE}

    def _stop_requested(self) -> bool:
        wakeup = self._hooks.wakeup
        return wakeup is not None and wakeup.is_set()

    def _backoff_reset(self) -> None:
        self._backoff.connected()
        self._last_refusal = None

    def _log_reconnect_failure(self, exc: BaseException) -> None:
        summary = (
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        now = time.monotonic()
        last = self._last_refusal
        if (
            last is not None
            and last[0] == summary
            and now - last[1] < REFUSAL_LOG_INTERVAL
        ):
            logger.debug("reconnect to %s failed again: %s", self.url, summary)
            return
        self._last_refusal = (summary, now)
        logger.warning(
            "reconnect to %s failed: %s (attempt %d; repeats of this are "
            "logged at most every %d s)",
            self.url,
            summary,
            self._attempts,
            REFUSAL_LOG_INTERVAL,
        )

    def _remember_close_frame(self, frame: Any) -> None:
        # websocket-client reports the peer's close status to on_close from
        # here when the closing handshake ran on the worker thread.
        self.last_close_frame = frame

    def _deliver_pin_failure(self, report: PinFailureReport) -> None:
        self._callback(self.on_pin_failure, report)

    def _callback(self, callback: Optional[Callable[..., Any]], *args: Any) -> None:
        if callback is self.on_error and args:
            self._fail_fast(args[0])
        if callback is None:
            return
        if (
            callback is self.on_error
            and args
            and isinstance(args[0], ConnectionInterrupted)
            and self._stop_requested()
        ):
            return  # the connection ended because close() asked it to
        if callback is self.on_error and args and _is_close_frame(args[0]):
            # websocket-client 1.9.0 (the last for Python 3.9) hands the
            # server's close frame itself to on_error and then reports no
            # status to on_close; present it as 1.9.1+ does.
            frame = args[0]
            self.last_close_frame = frame
            args = (_closed_by_peer(frame), *args[1:])
        executor = self._callback_executor
        if executor is None:
            super()._callback(callback, *args)
            return
        run_stock = super()._callback
        try:
            executor(lambda: run_stock(callback, *args))
        except Exception:
            # An executor that refuses (its event loop is gone, say) must not
            # unwind run_forever: that drops the connection, loses on_close
            # and kills the worker. As websocket-client does with a failing
            # callback: log it and carry on.
            logger.exception("callback_executor failed; %r was not run", callback)

    def _get_close_args(self, close_frame: Any) -> Any:
        # websocket-client 1.9.0's teardown passes no frame; fall back to the
        # one remembered above (1.9.1+ does this itself).
        return super()._get_close_args(
            close_frame or getattr(self, "last_close_frame", None)
        )

    # -- sending (any thread) -------------------------------------------------

    def send(self, data: Union[bytes, str], opcode: int = ABNF.OPCODE_TEXT) -> None:
        """Send a message. Safe from any thread.

        Raises:
            websocket.WebSocketConnectionClosedException: not connected.
        """
        ws = self._pinws_sock
        if ws is None or ws.send(data, opcode) == 0:
            raise WebSocketConnectionClosedException("Connection is already closed.")

    def send_text(self, text_data: str) -> None:
        """Send a text message. Safe from any thread."""
        self.send(text_data, ABNF.OPCODE_TEXT)

    def send_bytes(self, data: Union[bytes, bytearray]) -> None:
        """Send a binary message. Safe from any thread."""
        self.send(bytes(data), ABNF.OPCODE_BINARY)


def _is_close_frame(value: object) -> bool:
    return isinstance(value, ABNF) and value.opcode == ABNF.OPCODE_CLOSE


def _closed_by_peer(frame: ABNF) -> WebSocketConnectionClosedException:
    raw = frame.data or b""
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
    reason = data[2:].decode("utf-8", "replace") or None
    if code is None:
        message = "Connection closed"
    elif code == 1000:
        message = "Connection closed normally (code 1000)"
    else:
        message = f"Connection closed (code {code})"
    if reason:
        message = f"{message}: {reason}"
    error = WebSocketConnectionClosedException(message)
    setattr(error, "status_code", code)  # noqa: B010 - as websocket-client sets them
    setattr(error, "reason", reason)  # noqa: B010
    return error
