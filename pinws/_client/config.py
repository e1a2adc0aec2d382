"""Checking what users pass in, once, before anything connects."""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Callable
from typing import Any, Optional, Union
from urllib.parse import urljoin, urlsplit

from .._ct.ctpolicy import CTPolicy
from .._errors import InsecureRedirectError
from .._flags import require_bool
from .._pins.policy import PinPolicy, PinsArgument, as_policy
from .._pins.report import PinFailureReport
from .._store.store import PinStore
from .._tls.config import TLSConfig
from .._tls.context import TLSClient
from .._tls.options import SSLOptions
from .._transport.socket import TLSStream

__all__ = [
    "build_tls_client",
    "check_ct_argument",
    "check_prepared_socket",
    "redirect_target",
    "static_policy",
    "wss_target",
    "wss_url",
]

PathArgument = Optional[Union[str, "os.PathLike[str]"]]


def wss_url(url: object) -> str:
    """*url* as the ``wss://`` URL to hand websocket-client.

    ``https://`` is read as ``wss://``: the same TLS connection to the same
    host and port (the command line takes both, so the library does too).

    Raises:
        ValueError: *url* is not a ``wss://`` (or ``https://``) URL with a
            host; for ``ws://`` and ``http://``, the message gives the
            ``wss://`` URL to use instead.
    """
    wss_target(url)
    assert isinstance(url, str)
    text = url.strip()
    scheme, rest = text.split(":", 1)
    return "wss:" + rest if scheme.lower() == "https" else text


def wss_target(url: object) -> tuple[str, int]:
    """The (host, port) of a ``wss://`` (or ``https://``) URL.

    Raises:
        ValueError: *url* is not a ``wss://`` URL with a host.
    """
    if not isinstance(url, str):
        raise ValueError(f"the URL must be a string, not {type(url).__name__}")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in ("ws", "http"):
        fixed = "wss" + url.strip()[len(scheme) :]
        raise ValueError(
            f"refusing {url!r}: a pinned client never speaks plaintext; use {fixed!r}"
        )
    if scheme not in ("wss", "https"):
        hint = ""
        if "://" not in url:
            hint = "; write it as wss://host[:port]/path"
        raise ValueError(f"{url!r} is not a wss:// URL{hint}")
    try:
        host = parts.hostname
        port = parts.port or 443
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid URL: {exc}") from None
    if not host:
        raise ValueError(f"{url!r} has no host name")
    return host, port


def check_prepared_socket(prepared: object) -> socket.socket:
    """Check a ``socket=`` argument: a plain connected TCP socket.

    Raises:
        ValueError: it is already a TLS socket (pinws must run the handshake
            itself to check the pins), or not a socket at all.
    """
    if isinstance(prepared, (ssl.SSLSocket, TLSStream)):
        raise ValueError(
            "socket= must be a plain connected TCP socket: pinws runs the "
            "TLS handshake itself, and cannot vouch for one made elsewhere"
        )
    if not isinstance(prepared, socket.socket):
        raise ValueError(
            f"socket= must be a socket.socket, not {type(prepared).__name__}"
        )
    return prepared


def redirect_target(current_url: str, location: Optional[str]) -> str:
    """The absolute URL a redirect points to, if a pinned client may follow it.

    Raises:
        InsecureRedirectError: no Location, a Location that is not a valid
            ``wss://`` URL with a host (the server chose it: never a plain
            ``ValueError``).
    """
    if not location:
        raise InsecureRedirectError(
            "",
            "the redirect response has no Location",
            hostname=urlsplit(current_url).hostname,
        )
    absolute = location.strip()
    try:
        if not urlsplit(absolute).scheme:
            # urljoin does not know ws/wss on every Python; join as https.
            base = "https" + current_url[current_url.index(":") :]
            absolute = "wss" + urljoin(base, absolute)[len("https") :]
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError as exc:
        # Found by fuzzing: "Location: https://[::1/" raised ValueError.
        raise InsecureRedirectError(absolute, f"not a valid URL ({exc})") from None
    if scheme != "wss":
        raise InsecureRedirectError(
            absolute,
            "a pinned client follows redirects only to wss:// URLs",
            hostname=urlsplit(current_url).hostname,
        )
    try:
        wss_target(absolute)
    except ValueError as exc:
        raise InsecureRedirectError(absolute, str(exc)) from None
    return absolute


def build_tls_client(
    *,
    pins: Optional[PinsArgument],
    ca_certs: PathArgument,
    pin_only: bool,
    debug_ca: PathArgument,
    on_pin_failure: Optional[Callable[[PinFailureReport], Any]],
    report_uri: Optional[str],
    options: Optional[SSLOptions] = None,
    ct: Optional[CTPolicy] = None,
    pin_store: Optional[PinStore] = None,
    resume_sessions: bool = True,
) -> TLSClient:
    """Validate the pinning arguments and build the TLS client.

    Raises:
        InvalidPinError: the pins are malformed.
        ValueError: another argument is (*pin_only* not a real :class:`bool`,
            say: the string ``"false"`` must never drop the CA and host name
            checks).
    """
    pin_only = require_bool(pin_only, "pin_only")
    # Checked first, before any file is read.
    require_bool(resume_sessions, "resume_sessions")
    check_ct_argument(ct)
    if pins is None and ct is not None and pin_store is None:
        # With ct= alone, pins=None means "CT alone": no pins, every host
        # allowed.
        policy = PinPolicy({}, allow_unpinned=True)
    else:
        policy = static_policy(pins, pin_store)
    if on_pin_failure is not None and not callable(on_pin_failure):
        raise ValueError("on_pin_failure must be callable")
    sink = None
    if report_uri is not None:
        from .._reports.sender import ReportSender

        sink = ReportSender(report_uri, ca_certs=ca_certs)
    return TLSClient(
        TLSConfig.create(
            policy,
            ca_certs=ca_certs,
            pin_only=pin_only,
            debug_ca=debug_ca,
            on_pin_failure=on_pin_failure,
            report_sink=sink,
            options=options or SSLOptions(),
            ct=ct,
            pin_store=pin_store,
            resume_sessions=resume_sessions,
        )
    )


def check_ct_argument(ct: object) -> None:
    """Check a ``ct=`` argument: ``None`` or a :class:`CTPolicy`.

    Raises:
        ValueError: it is anything else.
    """
    if ct is not None and not isinstance(ct, CTPolicy):
        raise ValueError(
            f"ct= takes a pinws.CTPolicy (or None), not {type(ct).__name__}"
        )


def static_policy(
    pins: Optional[PinsArgument], pin_store: Optional[PinStore]
) -> PinPolicy:
    """The ``pins=`` policy; with a pin store, ``pins=None`` pins nothing itself.

    Raises:
        InvalidPinError: *pins* is malformed, or ``None`` without a store.
        ValueError: *pin_store* is not a :class:`PinStore`.
    """
    if pin_store is not None and not isinstance(pin_store, PinStore):
        raise ValueError(
            f"pin_store must be a pinws.PinStore, not {type(pin_store).__name__}"
        )
    if pins is None and pin_store is not None:
        # No pattern, and no unpinned host either: every host's pins come
        # from the store (or first use), else it is refused.
        policy = PinPolicy({}, allow_unpinned=True)
        policy.allow_unpinned = False
        return policy
    return as_policy(pins)
