"""PinnedWebSocket: websocket-client's WebSocket, pinned on every connection."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any, Optional, Union, cast

import websocket
from websocket import (
    ABNF,
    STATUS_NORMAL,
    WebSocketConnectionClosedException,
    WebSocketException,
)
from websocket._handshake import handshake_response
from websocket._logging import isEnabledForTrace, trace

from .._ct.ctpolicy import CTPolicy
from .._errors import ChainCertificate, InsecureRedirectError
from .._pins.pin import Pin
from .._pins.policy import PinsArgument
from .._pins.report import PinFailureReport
from .._store.store import PinStore
from .._tls.context import TLSClient
from .._tls.options import parse_sslopt
from .._tls.pinned import PinnedSocket
from .._transport.connector import open_connection, route_for
from .._transport.wait import deadline_after
from .config import (
    PathArgument,
    build_tls_client,
    check_prepared_socket,
    redirect_target,
    wss_target,
    wss_url,
)
from .dispatcher import PinnedDispatcher
from .frames import (
    build_frame,
    check_text,
    format_frame,
    masked_frame,
    new_mask_key,
    parse_frame,
    parse_header,
)
from .hooks import CLOSE_GRACE, ConnectionHooks
from .keywords import WEBSOCKET, check_keywords
from .urls import dial_url

__all__ = ["REDIRECT_STATUSES", "PinnedWebSocket"]

# The statuses websocket-client follows (its SUPPORTED_REDIRECT_STATUSES).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MESSAGE_OPCODES = (ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY)
# An Upgrade response is a few hundred bytes; one this large is an attack
# on memory (websocket-client reads headers without a limit).
MAX_UPGRADE_RESPONSE = 64 * 1024

logger = logging.getLogger("pinws.store")


class PinnedWebSocket(websocket.WebSocket):
    """A :class:`websocket.WebSocket` whose every connection is pinned.

    :func:`pinws.create_connection` returns one, connected. It takes all of
    :class:`websocket.WebSocket`'s arguments, plus the pinning ones (see
    :func:`pinws.create_connection`). :meth:`connect` accepts only
    ``wss://`` URLs, follows redirects only to ``wss://`` URLs, and pins each
    connection it opens: directly, through an HTTP CONNECT or SOCKS proxy,
    after a redirect, or over a ``socket=`` you connected yourself.

    Raises:
        InvalidPinError: the pins are malformed.
        ValueError: another argument is (a ``sslopt`` that would weaken
            verification, a missing ``ca_certs`` file, ...).
    """

    _pinws_tls: TLSClient
    _pinws_hooks: ConnectionHooks = ConnectionHooks()
    # A frame recv_data_frame's fast path read but handed back (see there).
    _pinws_unread: Optional[ABNF] = None

    def __init__(
        self,
        get_mask_key: Optional[Callable[[int], bytes]] = None,
        sockopt: Optional[list[tuple[Any, ...]]] = None,
        sslopt: Optional[dict[str, Any]] = None,
        *,
        pins: Optional[PinsArgument],
        ca_certs: PathArgument = None,
        pin_only: bool = False,
        debug_ca: PathArgument = None,
        on_pin_failure: Optional[Callable[[PinFailureReport], Any]] = None,
        report_uri: Optional[str] = None,
        ct: Optional[CTPolicy] = None,
        pin_store: Optional[PinStore] = None,
        resume_sessions: bool = True,
        **kwargs: Any,
    ) -> None:
        check_keywords(PinnedWebSocket.__init__, kwargs, WEBSOCKET)
        tls = build_tls_client(
            pin_store=pin_store,
            pins=pins,
            ca_certs=ca_certs,
            pin_only=pin_only,
            debug_ca=debug_ca,
            on_pin_failure=on_pin_failure,
            report_uri=report_uri,
            options=parse_sslopt(sslopt),
            ct=ct,
            resume_sessions=resume_sessions,
        )
        super().__init__(get_mask_key, sockopt=sockopt, sslopt={}, **kwargs)
        self._pinws_tls = tls

    @classmethod
    def _adopt(
        cls, ws: websocket.WebSocket, tls: TLSClient, hooks: ConnectionHooks
    ) -> PinnedWebSocket:
        """Make a plain WebSocket that WebSocketApp created a pinned one.

        WebSocketApp.run_forever builds its ``websocket.WebSocket`` itself; the
        app upgrades it here, before it connects. The subclass adds methods
        and class-level defaults only, so the instance's state carries over;
        what the app lends the connection comes in one *hooks* object.
        """
        ws.__class__ = cls
        pinned = cast(PinnedWebSocket, ws)
        pinned._pinws_tls = tls
        pinned._pinws_hooks = hooks
        return pinned

    def connect(self, url: str, **options: Any) -> None:
        """Connect to a ``wss://`` URL, pinned.

        Takes websocket-client's connect options (``header``, ``timeout``,
        ``http_proxy_host``, ``redirect_limit``, ``socket``, ...).

        Raises:
            ValueError: *url* is not ``wss://``.
            PinningError: a pin, certificate or redirect check failed; nothing
                of the WebSocket handshake was sent to that server.
            websocket.WebSocketException: as websocket-client raises.
        """
        hooks = self._pinws_hooks
        try:
            self._connect_pinned(url, options)
        except BaseException as exc:
            if hooks.on_attempt_error is not None and isinstance(exc, Exception):
                hooks.on_attempt_error(exc)
            raise
        if hooks.on_connected is not None:
            hooks.on_connected()

    def _connect_pinned(self, url: str, options: dict[str, Any]) -> None:
        url = wss_url(url)
        tls = self._pinws_tls
        redirect_limit = int(options.pop("redirect_limit", 3))
        prepared = options.pop("socket", None)
        timeout = options.get("timeout", self.sock_opt.timeout)
        for _hop in range(redirect_limit + 1):
            # One spelling of the host for the resolver, the proxy, SNI, the
            # policy, the certificate check and the Host header alike.
            url = dial_url(url)
            host, port = wss_target(url)
            tls.check_target(host)
            # Should websocket-client ever wrap a socket itself, it would
            # still be pinned through this context.
            self.sock_opt.sslopt = {"context": tls.for_target(port)}
            raw = (
                check_prepared_socket(prepared)
                if prepared is not None
                else open_connection(
                    route_for(host, port, options),
                    timeout=timeout,
                    sockopt=self.sock_opt.sockopt,
                    wakeup=self._pinws_hooks.wakeup,
                )
            )
            prepared = None
            pinned = self._handshake(raw, host, port, timeout)
            self.handshake_response = None
            try:
                # websocket-client takes the finished TLS socket as it is.
                super().connect(url, redirect_limit=0, **options, socket=pinned)  # type: ignore[no-untyped-call]
            except WebSocketException:
                # The handshake sets handshake_response even when connect()
                # then raises for the redirect it may not follow.
                response = self._redirect_response()
                if response is None:
                    raise
            else:
                response = self._redirect_response()
                if response is None:
                    pinned.limit_reads(None)
                    self._pinws_remember_headers(host)
                    # The 101 has been read, so a TLS 1.3 server's session
                    # tickets (sent after its handshake) have been too.
                    pinned.keep_session()
                    return
                # websocket-client before 1.9.1 returns "connected" from a
                # redirect it did not follow; that socket must not be used.
                self.shutdown()  # type: ignore[no-untyped-call]
            url = redirect_target(url, response.headers.get("location"))
        raise InsecureRedirectError(url, "too many redirects")

    def _handshake(
        self, raw: socket.socket, host: str, port: int, timeout: Optional[float]
    ) -> PinnedSocket:
        tls = self._pinws_tls
        try:
            pinned = tls.wrap(
                raw,
                tls.options.server_hostname or host,
                port,
                timeout=timeout,
                wakeup=self._pinws_hooks.wakeup,
            )
        except BaseException:
            raw.close()
            raise
        # websocket-client reads the Upgrade response without a bound.
        pinned.limit_reads(MAX_UPGRADE_RESPONSE)
        return pinned

    def _pinws_remember_headers(self, host: str) -> None:
        """Hand the 101 response's headers to the pin store (HPKP), if any.

        Best effort: the connection is up and stays up whatever happens here.
        """
        response = getattr(self, "handshake_response", None)
        sock: object = self.sock
        if response is None or not isinstance(sock, PinnedSocket):
            return
        tls = self._pinws_tls
        # The name the handshake checked the chain for (sslopt may override).
        host = tls.options.server_hostname or host
        try:
            tls.remembered.remember_headers(host, response.headers, sock.verified_chain)
        except (OSError, ValueError) as exc:
            logger.warning("could not remember the pins %s declared: %s", host, exc)

    def _redirect_response(self) -> Optional[handshake_response]:
        response: Optional[handshake_response] = getattr(
            self, "handshake_response", None
        )
        if response is not None and response.status in REDIRECT_STATUSES:
            return response
        return None

    def close(
        self,
        status: int = STATUS_NORMAL,
        reason: Union[str, bytes] = b"",
        timeout: Optional[float] = 3,
    ) -> None:
        """Run the closing handshake, then close the connection.

        As :meth:`websocket.WebSocket.close`; when a
        :class:`PinnedWebSocketApp` was asked to close from another thread,
        its worker calls this with the status and reason asked for.
        """
        hooks = self._pinws_hooks
        request = hooks.close_request
        if request is not None:
            hooks.close_request = None
            status = request.get("status", status)
            reason = request.get("reason", reason)
            timeout = request.get("timeout", CLOSE_GRACE)
            sock: object = self.sock
            if isinstance(sock, PinnedSocket):
                sock.begin_close(deadline_after(timeout))
        super().close(status, reason, timeout)
        close_frame = getattr(self, "close_frame", None)  # websocket-client >= 1.9.1
        if hooks.on_closed is not None and close_frame is not None:
            hooks.on_closed(close_frame)
        if self.sock is not None:
            # websocket-client returns early when a close frame has already
            # been sent; the socket must still be released.
            self.shutdown()  # type: ignore[no-untyped-call]

    def send(self, payload: Union[bytes, str], opcode: int = ABNF.OPCODE_TEXT) -> int:
        """Send a message, as :meth:`websocket.WebSocket.send`.

        Args:
            payload: the message; a ``str`` is sent as UTF-8.
            opcode: ``ABNF.OPCODE_TEXT`` (the default), ``OPCODE_BINARY``, or
                another opcode (a ping, say).

        Returns:
            the number of bytes the frame took on the wire.

        Raises:
            websocket.WebSocketConnectionClosedException: the connection is
                closed.
            websocket.WebSocketTimeoutException: the peer did not take the
                data within the timeout.
        """
        sock: object = self.sock
        dispatcher: object = self.dispatcher
        if (
            opcode in _MESSAGE_OPCODES
            and isinstance(sock, PinnedSocket)
            and (dispatcher is None or isinstance(dispatcher, PinnedDispatcher))
            and not isEnabledForTrace()
        ):
            # A message: the frame websocket-client would build and send,
            # without its frame object and socket-wrapper layers.
            if isinstance(payload, str) and opcode == ABNF.OPCODE_TEXT:
                data: Union[bytes, bytearray] = payload.encode("utf-8")
            elif isinstance(payload, (bytes, bytearray)):
                data = payload
            else:
                return super().send(payload, opcode)
            key = (self.get_mask_key or new_mask_key)(4)
            if isinstance(key, bytes) and len(key) == 4 and len(data) < ABNF.LENGTH_63:
                out = masked_frame(0x80 | opcode, data, key)
                with self.lock:
                    sock.send(out)
                return len(out)
            frame = ABNF.create_frame(bytes(data), opcode)
            frame.get_mask_key = lambda _size: key  # the key already asked for
            return self.send_frame(frame)
        return super().send(payload, opcode)

    def send_frame(self, frame: ABNF) -> int:
        """Send *frame*, as :meth:`websocket.WebSocket.send_frame`.

        The same bytes on the wire, masked with a key from
        ``get_mask_key``; the masking is several times quicker for large
        payloads.

        Raises:
            websocket.WebSocketConnectionClosedException: the connection is
                closed.
            websocket.WebSocketTimeoutException: the peer did not take the
                data within the timeout.
            ValueError: the frame is malformed.
        """
        if self.get_mask_key:
            frame.get_mask_key = self.get_mask_key
        data = format_frame(frame)
        dispatcher: object = self.dispatcher
        if dispatcher is not None and not isinstance(dispatcher, PinnedDispatcher):
            data = bytes(data)  # a user's dispatcher gets what it always got
        length = len(data)
        if isEnabledForTrace():
            trace(f"++Sent raw: {bytes(data)!r}")
            trace(f"++Sent decoded: {frame.__str__()}")
        with self.lock:
            while data:
                sent = self._send(data)  # type: ignore[arg-type]
                data = data[sent:]
        return length

    def recv(self) -> Union[str, bytes]:
        """Receive a message, as :meth:`websocket.WebSocket.recv`.

        Returns:
            the text of a text message, the bytes of a binary one, ``""``
            for anything else (as websocket-client returns).

        Raises:
            websocket.WebSocketConnectionClosedException: the connection is
                closed.
            websocket.WebSocketTimeoutException: nothing arrived within the
                timeout.
            websocket.WebSocketPayloadException: a text message is not UTF-8.
        """
        with self.readlock:
            opcode, frame = self.recv_data_frame()
        data = frame.data
        if opcode == ABNF.OPCODE_TEXT:
            return data.decode("utf-8") if isinstance(data, bytes) else data
        if opcode == ABNF.OPCODE_BINARY:
            return data
        return ""

    def recv_frame(self) -> ABNF:
        """Receive one frame, as :meth:`websocket.WebSocket.recv_frame`.

        When the connection's buffer holds the whole frame, it is parsed in
        place, in one step; otherwise websocket-client's own reader runs.
        Both validate the frame the same way.
        """
        unread = self._pinws_unread
        if unread is not None:
            self._pinws_unread = None
            return unread
        sock: object = self.sock
        reader = self.frame_buffer
        if isinstance(sock, PinnedSocket):
            with reader.lock:
                # Only between frames: a frame websocket-client has begun
                # reading must be finished by it.
                if reader.header is None and not reader.recv_buffer:
                    try:
                        frame = sock.take(parse_frame)
                        if frame is None:
                            # A frame longer than what has arrived: its
                            # payload is read in one call rather than a
                            # record at a time through websocket-client's
                            # reader.
                            parsed = sock.take_payload(parse_header)
                            if parsed is not None:
                                frame = build_frame(*parsed)
                    except WebSocketConnectionClosedException:
                        # What websocket-client's own reader does on a lost
                        # connection.
                        sock.close()
                        self.sock = None
                        self.connected = False
                        raise
                    if frame is not None:
                        frame.validate(reader.skip_utf8_validation)
                        return frame
        return super().recv_frame()  # type: ignore[no-untyped-call,no-any-return]

    def recv_data_frame(self, control_frame: bool = False) -> tuple[int, ABNF]:
        """Receive the next data frame, as websocket-client's method does.

        A whole, unfragmented text or binary message (the common case) is
        returned directly; everything else -- fragments, pings, pongs,
        close -- goes through websocket-client's own handling.
        """
        continuation = self.cont_frame
        if continuation.cont_data is None and not continuation.fire_cont_frame:
            frame = self.recv_frame()
            opcode = frame.opcode
            if frame.fin and opcode in _MESSAGE_OPCODES:
                if opcode == ABNF.OPCODE_TEXT and not continuation.skip_utf8_validation:
                    check_text(opcode, frame.data)
                return opcode, frame
            self._pinws_unread = frame
        opcode, frame = super().recv_data_frame(control_frame)
        if not continuation.skip_utf8_validation and not continuation.fire_cont_frame:
            check_text(opcode, frame.data)
        return opcode, frame

    def is_ssl(self) -> bool:
        """Whether the connection is up (and so, TLS: it can be nothing else)."""
        return isinstance(self.sock, PinnedSocket)

    @property
    def verified_chain(self) -> tuple[ChainCertificate, ...]:
        """The certificate chain verified for this connection, leaf first."""
        sock = self.sock
        return sock.verified_chain if isinstance(sock, PinnedSocket) else ()

    @property
    def matched_pin(self) -> Optional[Pin]:
        """The pin that matched this connection's chain, if any."""
        sock = self.sock
        return sock.matched_pin if isinstance(sock, PinnedSocket) else None
