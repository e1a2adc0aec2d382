"""create_connection: the blocking, callback-free way in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from websocket import getdefaulttimeout

from .._ct.ctpolicy import CTPolicy
from .._pins.policy import PinsArgument
from .._pins.report import PinFailureReport
from .._store.store import PinStore
from .config import PathArgument, wss_url
from .keywords import CREATE_CONNECTION, check_keywords
from .websocket import PinnedWebSocket

__all__ = ["create_connection"]


def create_connection(
    url: str,
    *,
    pins: Optional[PinsArgument],
    timeout: Optional[float] = None,
    ca_certs: PathArgument = None,
    pin_only: bool = False,
    debug_ca: PathArgument = None,
    on_pin_failure: Optional[Callable[[PinFailureReport], Any]] = None,
    report_uri: Optional[str] = None,
    ct: Optional[CTPolicy] = None,
    pin_store: Optional[PinStore] = None,
    resume_sessions: bool = True,
    **options: Any,
) -> PinnedWebSocket:
    """Open a pinned WebSocket connection and return it, connected.

    The pinned counterpart of :func:`websocket.create_connection`, with its
    options (``header``, ``cookie``, ``subprotocols``, ``http_proxy_host``,
    ``sslopt``, ``sockopt``, ``redirect_limit``, ...).

    Args:
        url: a ``wss://`` URL (``https://`` is read as ``wss://``).
        pins: a list of pins, a :class:`PinSet` or a :class:`PinPolicy`;
            ``None`` with a *pin_store* (every host's pins then come from it).
        timeout: socket timeout in seconds; ``None`` for websocket-client's
            default timeout.
        ca_certs: trust store, a PEM file or directory; ``None`` for certifi.
        pin_only: accept a self-signed server whose leaf key is pinned.
        debug_ca: a development CA accepted without pins (with a warning).
        on_pin_failure: ``on_pin_failure(report)`` for every mismatch.
        report_uri: an ``https://`` URL that receives RFC 7469 reports.
        ct: a :class:`CTPolicy`: Certificate Transparency checked in the
            handshake, alone (``pins=None``) or with pins.
        pin_store: a :class:`PinStore` of remembered pins for the hosts
            *pins* does not cover: trust on first use and ``Public-Key-Pins``
            headers.
        resume_sessions: resume the TLS session of an earlier accepted
            connection to the same host, port and trust store (a shorter
            handshake), after judging the chain verified for it against the
            pins in force; ``False`` makes every handshake a full one. Never
            with *pin_only* or *debug_ca*.

    Returns:
        a connected :class:`PinnedWebSocket` (a :class:`websocket.WebSocket`).

    Raises:
        InvalidPinError: the pins are malformed.
        UnpinnedHostError: no pins anywhere for the host (and no first use).
        StoredPinMismatchError: the host's key is not the one remembered.
        ValueError: the URL is not ``wss://`` or another argument is bad.
        TypeError: an unknown keyword argument (a misspelling).
        PinMismatchError: no certificate of the verified chain matched.
        CTPolicyError: the certificate fails an enforced CT policy.
        CertificateVerificationError: the chain or host name did not verify.
        PinningError: another pinning refusal (see the subclasses).
        websocket.WebSocketException: the WebSocket handshake failed.
    """
    url = wss_url(url)
    check_keywords(create_connection, options, CREATE_CONNECTION)
    if "class_" in options:
        raise ValueError("class_ is not supported: the connection is a PinnedWebSocket")
    sockopt = options.pop("sockopt", None)
    sslopt = options.pop("sslopt", None)
    fire_cont_frame = options.pop("fire_cont_frame", False)
    enable_multithread = options.pop("enable_multithread", True)
    skip_utf8_validation = options.pop("skip_utf8_validation", False)
    ws = PinnedWebSocket(
        sockopt=sockopt,
        sslopt=sslopt,
        pins=pins,
        ca_certs=ca_certs,
        pin_only=pin_only,
        debug_ca=debug_ca,
        on_pin_failure=on_pin_failure,
        report_uri=report_uri,
        ct=ct,
        pin_store=pin_store,
        resume_sessions=resume_sessions,
        fire_cont_frame=fire_cont_frame,
        enable_multithread=enable_multithread,
        skip_utf8_validation=skip_utf8_validation,
        **options,
    )
    ws.settimeout(timeout if timeout is not None else getdefaulttimeout())
    ws.connect(url, **options)
    return ws
