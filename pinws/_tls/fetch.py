"""Fetch a server's verified chain: one TLS handshake, no WebSocket request.

What ``pinws pins URL`` does, for Python callers: connect, run the same
handshake a pinned client runs (trust store, host name, the chain OpenSSL
verified) with a policy that pins nothing, and return that chain -- exactly
what a pinned client would match its pins against.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from typing import Optional, Union
from urllib.parse import unquote, urlsplit

from cryptography import x509

from .._errors import ChainCertificate
from .._pins.policy import PinPolicy
from .._transport.connector import Route, open_connection
from .config import TLSConfig
from .context import TLSClient

__all__ = ["FetchedChain", "fetch_verified_chain", "proxy_route", "verify_only_policy"]

DEFAULT_TIMEOUT = 10.0
_PROXY_SCHEMES = ("http", "socks4", "socks4a", "socks5", "socks5h")


@dataclasses.dataclass(frozen=True)
class FetchedChain:
    """What one verified handshake with a server showed.

    Attributes:
        host: the host name (or IP address) verified.
        port: the TCP port.
        chain: the verified chain, leaf first, up to and including the trust
            anchor from the trust store, as :class:`ChainCertificate` entries
            (depth, subject, pin, certificate).
        served: the certificates as the server sent them, in its order (it
            may omit the root, or send extra certificates).
        tls_version: the protocol negotiated, e.g. ``"TLSv1.3"``.
    """

    host: str
    port: int
    chain: tuple[ChainCertificate, ...]
    served: tuple[x509.Certificate, ...]
    tls_version: str

    @property
    def pins(self) -> list[str]:
        """The pins of the verified chain, leaf first."""
        return [entry.pin for entry in self.chain]


def verify_only_policy() -> PinPolicy:
    """A policy that pins no host: the chain and host name are still verified.

    A :class:`TLSClient` with it checks every server's chain against the
    trust store and its certificate against the host name -- as for any
    pinned connection -- and, having no pin set for the host, matches no
    pin. Fetching a chain to *compute* pins from is the one use.
    """
    return PinPolicy({}, allow_unpinned=True)


def proxy_route(host: str, port: int, proxy: Optional[str]) -> Route:
    """The route to *host*:*port*: direct, or through the proxy URL *proxy*.

    Args:
        host: the server's host name or address.
        port: its port.
        proxy: ``http://[user:password@]host[:port]`` (HTTP CONNECT, port 80
            by default) or ``socks5h://...`` (also ``socks4``, ``socks4a``,
            ``socks5``; port 1080 by default), or ``None`` for a direct
            connection. Environment variables are not read.

    Raises:
        ValueError: *proxy* is not such a URL.
    """
    if proxy is None:
        return Route(host, port)
    parts = urlsplit(proxy.strip())
    scheme = parts.scheme.lower()
    if scheme not in _PROXY_SCHEMES:
        raise ValueError(
            f"proxy={proxy!r}: give http://host:port (HTTP CONNECT) or "
            "socks5h://host:port (also socks4, socks4a, socks5)"
        )
    try:
        proxy_host = parts.hostname
        proxy_port = parts.port or (80 if scheme == "http" else 1080)
    except ValueError as exc:
        raise ValueError(f"proxy={proxy!r} is not a valid URL: {exc}") from None
    if not proxy_host:
        raise ValueError(f"proxy={proxy!r} has no host name")
    auth = None
    if parts.username is not None:
        password = unquote(parts.password) if parts.password is not None else None
        auth = (unquote(parts.username), password)
    return Route(host, port, scheme, proxy_host, proxy_port, auth, None)


def fetch_verified_chain(
    host: str,
    port: int = 443,
    *,
    ca_certs: Optional[Union[str, os.PathLike[str]]] = None,
    timeout: Optional[float] = DEFAULT_TIMEOUT,
    proxy: Optional[str] = None,
    sock: Optional[socket.socket] = None,
) -> FetchedChain:
    """Handshake with *host* as a pinned client would, and return its chain.

    Only a TLS handshake is made: no WebSocket request is sent. The chain is
    verified against the trust store and the certificate against *host*,
    as on every pinned connection; no pin is checked, so the result is what
    pins should be computed from (:attr:`FetchedChain.pins`).

    Args:
        host: the server's host name or IP address (what is verified).
        port: its TCP port.
        ca_certs: trust store, a PEM file or a directory of hashed
            certificates; ``None`` for certifi's bundle.
        timeout: seconds each step (connecting, the proxy, the handshake)
            may take; ``None`` waits forever.
        proxy: connect through this proxy, ``http://[user:password@]host:port``
            or ``socks5h://host:port`` (SOCKS needs ``pinws[socks]``).
        sock: run the handshake over this connected socket instead of
            connecting (*proxy* must then be ``None``); it is closed when
            this returns or raises.

    Returns:
        the :class:`FetchedChain`.

    Raises:
        CertificateVerificationError: the chain did not verify.
        HostnameMismatchError: the certificate is not valid for *host*.
        TLSHandshakeError: TLS failed otherwise.
        ValueError: *ca_certs* cannot be loaded, or *proxy* is malformed.
        websocket.WebSocketAddressException: *host* does not resolve.
        websocket.WebSocketProxyException: the proxy refused or failed.
        websocket.WebSocketTimeoutException: a step took longer than *timeout*.
        OSError: the connection failed (``ConnectionRefusedError``, say).

    Example::

        chain = pinws.fetch_verified_chain("example.com")
        print(chain.pins)  # leaf, intermediate(s), root

    .. versionadded:: 0.2
    """
    if sock is not None and proxy is not None:
        sock.close()
        raise ValueError("give either sock= or proxy=, not both")
    route = proxy_route(host, port, proxy)
    # Built (and its trust store loaded) before connecting: a bad ca_certs
    # costs no connection.
    try:
        # Never resumed: the chain must be the one the server serves now,
        # not one stored with an earlier connection's session.
        client = TLSClient(
            TLSConfig.create(
                verify_only_policy(), ca_certs=ca_certs, resume_sessions=False
            )
        )
    except BaseException:
        if sock is not None:
            sock.close()
        raise
    raw = sock if sock is not None else open_connection(route, timeout=timeout)
    # wrap owns raw from here: it closes it when the handshake fails.
    pinned = client.wrap(raw, host, port, timeout=timeout)
    try:
        served = pinned.connection.get_peer_cert_chain(as_cryptography=True) or []
        return FetchedChain(
            host, port, pinned.verified_chain, tuple(served), pinned.version()
        )
    finally:
        pinned.close()
