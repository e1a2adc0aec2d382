"""What the user points a command at: a wss:// URL or host:port."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlsplit

from .errors import CLIError

__all__ = ["Target", "bracketed", "parse_target"]

_TLS_SCHEMES = {"wss": 443, "https": 443}
_PLAINTEXT_SCHEMES = {"ws": "wss", "http": "https"}
# "wss//host/", "wss:/host": a scheme with its "://" mistyped.
_SCHEME_TYPO = re.compile(r"^(wss|ws|https|http)(?::/?|//)(?!/)(.+)$", re.IGNORECASE)


def bracketed(host: str) -> str:
    """*host* as it stands in a URL or ``host:port``: IPv6 in brackets."""
    return f"[{host}]" if ":" in host else host


@dataclasses.dataclass(frozen=True)
class Target:
    """A TLS server to talk to.

    Attributes:
        host: host name or IP address, without IPv6 brackets.
        port: TCP port.
        url: the ``wss://`` URL for a WebSocket connection to it.
    """

    host: str
    port: int
    url: str

    @property
    def authority(self) -> str:
        """``host:port``, with brackets around an IPv6 address."""
        return f"{bracketed(self.host)}:{self.port}"


def parse_target(text: str) -> Target:
    """Parse ``wss://host[:port]/path``, ``https://...``, ``host:port`` or ``host``.

    Raises:
        CLIError: not one of those, or a plaintext URL (``ws://``).
    """
    stripped = text.strip()
    if not stripped:
        raise CLIError("the URL is empty; give wss://host[:port]/path or host:port")
    typo = _SCHEME_TYPO.match(stripped)
    if typo is not None and "://" not in stripped:
        scheme = typo.group(1).lower()
        scheme = _PLAINTEXT_SCHEMES.get(scheme, scheme)
        raise CLIError(
            f"{text!r}: the scheme's '://' is mistyped; did you mean "
            f"'{scheme}://{typo.group(2)}'?"
        )
    if "://" in stripped:
        scheme = stripped.split("://", 1)[0].lower()
        if scheme in _PLAINTEXT_SCHEMES:
            raise CLIError(
                f"{text!r} is plaintext; pinning is a TLS feature: use "
                f"{_PLAINTEXT_SCHEMES[scheme]}://{stripped.split('://', 1)[1]}"
            )
        if scheme not in _TLS_SCHEMES:
            raise CLIError(
                f"{text!r}: unsupported scheme {scheme!r}; give wss://host[:port]/path "
                "or host:port"
            )
        parts = urlsplit(stripped)
        default_port = _TLS_SCHEMES[scheme]
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
    else:
        parts = urlsplit("//" + stripped)
        default_port = 443
        if parts.path not in ("", "/"):
            raise CLIError(
                f"{text!r}: a path needs a URL; give wss://{stripped} instead"
            )
        path = "/"
    try:
        host = parts.hostname
        port = parts.port or default_port
    except ValueError as exc:
        raise CLIError(f"{text!r} is not a valid URL or host:port: {exc}") from None
    if not host:
        raise CLIError(f"{text!r} has no host name")
    if parts.username is not None:
        raise CLIError(f"{text!r}: user names in the URL are not supported")
    suffix = "" if port == 443 else f":{port}"
    return Target(host=host, port=port, url=f"wss://{bracketed(host)}{suffix}{path}")
