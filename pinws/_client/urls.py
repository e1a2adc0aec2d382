"""The one form of a URL's host that every step of a connection uses."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from .._pins.hostnames import as_ip_address, normalize_hostname

__all__ = ["dial_url"]


def dial_url(url: str) -> str:
    """*url* with an internationalised host name spelled as its A-label.

    ``wss://api.faß.test/`` becomes ``wss://api.xn--fa-hia.test/`` (IDNA
    2008, UTS #46), the name pinws looks up pins for and checks the
    certificate against. Handing websocket-client and the resolver the same
    spelling keeps them from dialling another domain: the raw U-label goes
    into an HTTP proxy's CONNECT line as it is, and IDNA 2003 -- what the
    standard library's resolver and SOCKS use -- maps ``ß`` to ``ss``, which
    is ``api.fass.test``, someone else's name. ASCII hosts and IP literals
    are returned unchanged.

    Raises:
        ValueError: the host is not a valid internationalised name.
    """
    parts = urlsplit(url.strip())
    host = parts.hostname
    if host is None or host.isascii() or as_ip_address(host) is not None:
        return url
    a_label = normalize_hostname(host)
    netloc = parts.netloc
    userinfo, at, _ = netloc.rpartition("@")
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{a_label}{port}"))
