"""HTTP CONNECT tunnels for ``pins`` and ``check``.

Those commands run a TLS handshake and nothing else, so they open the tunnel
themselves and hand the tunnelled socket to the pinned TLS client, exactly
as websocket-client does for ``connect``.
"""

from __future__ import annotations

import base64
import dataclasses
import socket
from typing import Optional
from urllib.parse import unquote, urlsplit

from .errors import CLIError
from .target import bracketed

__all__ = ["Proxy", "ProxyError", "open_tunnel", "parse_proxy"]

# A CONNECT response is a status line and a few headers; anything longer is
# not a proxy talking.
_MAX_RESPONSE = 16 * 1024


@dataclasses.dataclass(frozen=True)
class Proxy:
    """An HTTP proxy that tunnels with CONNECT.

    Attributes:
        host: the proxy's host name or address.
        port: its port.
        username: for Basic proxy authentication, if any.
        password: likewise.
    """

    host: str
    port: int
    username: Optional[str] = None
    password: Optional[str] = dataclasses.field(default=None, repr=False)

    @property
    def authority(self) -> str:
        """``host:port`` of the proxy (never its credentials)."""
        return f"{bracketed(self.host)}:{self.port}"


def parse_proxy(text: str) -> Proxy:
    """Parse ``http://[user:password@]host[:port]`` (port 80 by default).

    Raises:
        CLIError: another scheme, or no host.
    """
    parts = urlsplit(text.strip())
    if parts.scheme.lower() != "http":
        raise CLIError(
            f"--proxy {text!r}: give an HTTP CONNECT proxy as http://host:port"
        )
    try:
        host = parts.hostname
        port = parts.port or 80
    except ValueError as exc:
        raise CLIError(f"--proxy {text!r} is not a valid URL: {exc}") from None
    if not host:
        raise CLIError(f"--proxy {text!r} has no host name")
    if parts.path not in ("", "/"):
        raise CLIError(f"--proxy {text!r}: a proxy URL has no path")
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return Proxy(host, port, username, password)


def _connect_request(proxy: Proxy, host: str, port: int) -> bytes:
    authority = f"{bracketed(host)}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.username is not None:
        token = f"{proxy.username}:{proxy.password or ''}".encode()
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(token).decode()}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


class ProxyError(CLIError):
    """The proxy could not be reached or would not open the tunnel."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="proxy_error")


def _read_response_head(sock: socket.socket, proxy: Proxy) -> bytes:
    # One byte at a time: what follows the head belongs to TLS, and must be
    # left in the socket for the handshake.
    head = bytearray()
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise ProxyError(
                f"the proxy {proxy.authority} closed the connection without "
                "answering CONNECT"
            )
        head += byte
        if len(head) > _MAX_RESPONSE:
            raise ProxyError(f"the proxy {proxy.authority} sent an oversized response")
    return bytes(head)


def open_tunnel(
    proxy: Proxy, host: str, port: int, timeout: Optional[float]
) -> socket.socket:
    """Connect to *proxy* and open a CONNECT tunnel to *host*:*port*.

    Returns:
        the connected socket, with the tunnel open and nothing read past
        the proxy's response.

    Raises:
        ProxyError: the proxy is unreachable or refused the tunnel.
    """
    try:
        sock = socket.create_connection((proxy.host, proxy.port), timeout=timeout)
    except OSError as exc:
        raise ProxyError(
            f"cannot reach the proxy {proxy.authority}: {exc.strerror or exc}"
        ) from exc
    try:
        sock.sendall(_connect_request(proxy, host, port))
        head = _read_response_head(sock, proxy)
    except socket.timeout as exc:
        sock.close()
        raise ProxyError(f"the proxy {proxy.authority} did not answer in time") from exc
    except OSError as exc:
        sock.close()
        raise ProxyError(f"the proxy {proxy.authority} failed: {exc}") from exc
    except ProxyError:
        sock.close()
        raise
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        sock.close()
        raise ProxyError(
            f"the proxy {proxy.authority} answered CONNECT with {status_line!r}, "
            "which is not HTTP"
        )
    if not 200 <= int(fields[1]) < 300:
        sock.close()
        raise ProxyError(
            f"the proxy {proxy.authority} refused to CONNECT to "
            f"{host}:{port}: {' '.join(fields[1:])}"
        )
    return sock
