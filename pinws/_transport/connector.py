"""Opening the TCP connection: directly, through an HTTP CONNECT or SOCKS proxy.

websocket-client would open it itself, in blocking calls nobody else can
end. pinws opens it here instead -- the same routes, options and
environment variables -- so that every step (name lookup, TCP connect,
proxy negotiation) waits with the connection's :class:`Wakeup` in view and
``close()`` from another thread ends it at once. The TLS handshake then runs
over the socket this returns, and websocket-client receives the finished
:class:`pinws.PinnedSocket` as its ``socket=``.
"""

from __future__ import annotations

import base64
import errno
import ipaddress
import logging
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from websocket import (
    WebSocketAddressException,
    WebSocketProxyException,
    WebSocketTimeoutException,
)
from websocket._http import proxy_info
from websocket._socket import DEFAULT_SOCKET_OPTION
from websocket._url import get_proxy_info

from .socket import ConnectionInterrupted
from .wait import Wakeup, deadline_after, wait_socket

__all__ = ["Route", "open_connection", "route_for"]

logger = logging.getLogger("pinws.transport")

# The proxy's answer to CONNECT is a few hundred bytes; anything longer is
# not a proxy worth waiting for.
MAX_PROXY_RESPONSE = 64 * 1024
_SOCKS_PROTOCOLS = ("socks4", "socks4a", "socks5", "socks5h")
# What websocket-client moves on to the next address for.
_TRY_NEXT_ADDRESS = (errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH)


@dataclass(frozen=True)
class Route:
    """How to reach a WebSocket server: directly or through one proxy.

    Attributes:
        host: the server's host name or address.
        port: the server's port.
        proxy_protocol: ``None`` (direct), ``"http"`` (CONNECT) or a SOCKS
            protocol (``"socks4"``, ``"socks4a"``, ``"socks5"``, ``"socks5h"``).
        proxy_host: the proxy's host.
        proxy_port: the proxy's port.
        proxy_auth: ``(user, password)`` for the proxy, or ``None``.
        proxy_timeout: seconds the SOCKS negotiation may take (``None``:
            python-socks' default).
    """

    host: str
    port: int
    proxy_protocol: Optional[str] = None
    proxy_host: Optional[str] = None
    proxy_port: int = 0
    proxy_auth: Optional[tuple[str, Optional[str]]] = None
    proxy_timeout: Optional[float] = None


def route_for(host: str, port: int, options: dict[str, Any]) -> Route:
    """The route websocket-client would take to *host* with these options.

    Reads websocket-client's ``http_proxy_host``, ``http_proxy_port``,
    ``http_proxy_auth``, ``http_no_proxy``, ``http_proxy_timeout`` and
    ``proxy_type``, and, when no proxy is given, the ``https_proxy`` /
    ``no_proxy`` environment variables, as websocket-client does.

    Raises:
        websocket.WebSocketProxyException: a proxy option is unusable.
        websocket.WebSocketAddressException: the proxy settings are bad.
    """
    try:
        proxy = proxy_info(**options)  # type: ignore[no-untyped-call]
    except Exception as exc:
        raise WebSocketProxyException(str(exc)) from exc
    if proxy.proxy_host and proxy.proxy_protocol in _SOCKS_PROTOCOLS:
        if not proxy.proxy_port:
            raise WebSocketProxyException("Cannot use port 0 when proxy_host specified")
        return Route(
            host,
            port,
            proxy.proxy_protocol,
            proxy.proxy_host,
            int(proxy.proxy_port),
            _auth(proxy.auth),
            proxy.proxy_timeout,
        )
    try:
        proxy_host, proxy_port, auth = get_proxy_info(
            host,
            True,
            proxy.proxy_host,
            proxy.proxy_port,
            proxy.auth,
            proxy.no_proxy,
        )
    except TypeError as exc:
        raise WebSocketAddressException(str(exc)) from exc
    if not proxy_host:
        return Route(host, port)
    return Route(host, port, "http", proxy_host, int(proxy_port or 80), _auth(auth))


def _auth(auth: Any) -> Optional[tuple[str, Optional[str]]]:
    if not auth or not auth[0]:
        return None
    return (str(auth[0]), None if len(auth) < 2 or auth[1] is None else str(auth[1]))


def open_connection(
    route: Route,
    *,
    timeout: Optional[float],
    sockopt: Iterable[tuple[Any, ...]] = (),
    wakeup: Optional[Wakeup] = None,
) -> socket.socket:
    """A connected TCP socket to the server, tunnelled through the proxy if any.

    Each step may take *timeout* seconds (``None``: no limit); setting
    *wakeup* ends any of them at once.

    Raises:
        ConnectionRefusedError: no address of the server (or proxy) accepted.
        websocket.WebSocketAddressException: the name does not resolve.
        websocket.WebSocketTimeoutException: a step took longer than *timeout*.
        websocket.WebSocketProxyException: the proxy refused or failed.
        ConnectionInterrupted: *wakeup* was set.
        OSError: the network failed otherwise.
    """
    options = [*DEFAULT_SOCKET_OPTION, *sockopt]
    if route.proxy_protocol is None:
        return connect_tcp(route.host, route.port, timeout, options, wakeup)
    assert route.proxy_host is not None
    if route.proxy_protocol == "http":
        sock = connect_tcp(route.proxy_host, route.proxy_port, timeout, options, wakeup)
        try:
            _http_tunnel(sock, route, timeout, wakeup)
        except BaseException:
            sock.close()
            raise
        return sock
    return _socks_tunnel(route, timeout, options, wakeup)


def connect_tcp(
    host: str,
    port: int,
    timeout: Optional[float],
    options: Sequence[tuple[Any, ...]],
    wakeup: Optional[Wakeup],
) -> socket.socket:
    """Connect to the first address of *host* that accepts, as websocket-client.

    Returns a non-blocking connected socket.

    Raises:
        as :func:`open_connection`.
    """
    addresses = _resolve(host, port, deadline_after(timeout), wakeup)
    error: Optional[OSError] = None
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            for option in options:
                sock.setsockopt(*option)
            _connect(sock, address, deadline_after(timeout), wakeup)
        except OSError as exc:
            sock.close()
            if exc.errno not in _TRY_NEXT_ADDRESS:
                raise
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    assert error is not None
    raise error


def _connect(
    sock: socket.socket,
    address: Any,
    deadline: Optional[float],
    wakeup: Optional[Wakeup],
) -> None:
    code = sock.connect_ex(address)
    if code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
        ready = wait_socket(
            sock.fileno(), read=False, write=True, deadline=deadline, wakeup=wakeup
        )
        if ready.woken:
            raise ConnectionInterrupted("closed while connecting")
        if ready.timed_out:
            raise WebSocketTimeoutException(f"connecting to {_show(address)} timed out")
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        raise OSError(code, f"{errno.errorcode.get(code, code)}: {_show(address)}")


def _show(address: Any) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _resolve(
    host: str, port: int, deadline: Optional[float], wakeup: Optional[Wakeup]
) -> list[Any]:
    """getaddrinfo, in a helper thread when something may need to interrupt it."""
    try:
        ipaddress.ip_address(host)
        literal = True
    except ValueError:
        literal = False
    if literal or wakeup is None:
        return _getaddrinfo(host, port)
    result: list[Any] = []
    failure: list[BaseException] = []
    done_reader, done_writer = socket.socketpair()

    def lookup() -> None:
        try:
            result.extend(_getaddrinfo(host, port))
        except BaseException as exc:
            failure.append(exc)
        finally:
            done_writer.close()  # the reader sees end of stream

    try:
        threading.Thread(
            target=lookup, name=f"pinws resolve {host}", daemon=True
        ).start()
        ready = wait_socket(
            done_reader.fileno(),
            read=True,
            write=False,
            deadline=deadline,
            wakeup=wakeup,
        )
        if ready.woken:
            raise ConnectionInterrupted("closed while resolving the host name")
        if ready.timed_out:
            raise WebSocketTimeoutException(f"looking up {host} timed out")
    finally:
        done_reader.close()
    if failure:
        raise failure[0]
    return result


def _getaddrinfo(host: str, port: int) -> list[Any]:
    try:
        addresses = socket.getaddrinfo(
            host, port, 0, socket.SOCK_STREAM, socket.SOL_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise WebSocketAddressException(f"{host}: {exc}") from exc
    if not addresses:
        raise WebSocketAddressException(f"Host not found.: {host}:{port}")
    return addresses


def _http_tunnel(
    sock: socket.socket,
    route: Route,
    timeout: Optional[float],
    wakeup: Optional[Wakeup],
) -> None:
    """Ask an HTTP proxy to CONNECT to the server; return once it agreed."""
    authority = (
        f"[{route.host}]:{route.port}"
        if ":" in route.host
        else (f"{route.host}:{route.port}")
    )
    request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
    if route.proxy_auth is not None:
        user, password = route.proxy_auth
        secret = user if password is None else f"{user}:{password}"
        token = base64.b64encode(secret.encode()).decode("ascii")
        request += f"Proxy-Authorization: Basic {token}\r\n"
    request += "\r\n"
    deadline = deadline_after(timeout)
    _send_all(sock, request.encode("utf-8"), deadline, wakeup)
    response = _read_head(sock, deadline, wakeup)
    status_line = response.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    try:
        status = int(parts[1])
    except (IndexError, ValueError):
        raise WebSocketProxyException(
            f"the proxy's answer to CONNECT is not HTTP: {status_line[:80]!r}"
        ) from None
    if status != 200:
        raise WebSocketProxyException(f"failed CONNECT via proxy status: {status}")


def _send_all(
    sock: socket.socket,
    data: bytes,
    deadline: Optional[float],
    wakeup: Optional[Wakeup],
) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view) :]
            continue
        except (BlockingIOError, InterruptedError):
            pass
        _wait(sock, write=True, deadline=deadline, wakeup=wakeup)


def _read_head(
    sock: socket.socket, deadline: Optional[float], wakeup: Optional[Wakeup]
) -> bytes:
    """The proxy's response head, up to the blank line; nothing past it.

    Reads a byte at a time once the head has nearly arrived, so the TLS
    bytes that follow stay in the socket for the handshake.
    """
    head = bytearray()
    while not head.endswith(b"\r\n\r\n"):
        if len(head) > MAX_PROXY_RESPONSE:
            raise WebSocketProxyException("the proxy's answer to CONNECT is too long")
        try:
            # Peek, then take exactly up to the end of the head.
            chunk = sock.recv(4096, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            _wait(sock, write=False, deadline=deadline, wakeup=wakeup)
            continue
        if not chunk:
            raise WebSocketProxyException("the proxy closed the connection")
        end = (bytes(head[-3:]) + chunk).find(b"\r\n\r\n")
        take = len(chunk) if end < 0 else end + 4 - min(3, len(head))
        head += sock.recv(take)
    return bytes(head)


def _wait(
    sock: socket.socket,
    *,
    write: bool,
    deadline: Optional[float],
    wakeup: Optional[Wakeup],
) -> None:
    ready = wait_socket(
        sock.fileno(), read=not write, write=write, deadline=deadline, wakeup=wakeup
    )
    if ready.woken:
        raise ConnectionInterrupted("closed while talking to the proxy")
    if ready.timed_out:
        raise WebSocketTimeoutException("the proxy did not answer in time")


class _ProxyHop:
    """What python-socks calls to reach the SOCKS proxy: pinws's own connect.

    python-socks' ``forward=`` takes any object with this ``connect``; the
    socket it returns is shut down when the wake-up is set, which ends the
    blocking SOCKS negotiation python-socks runs over it.
    """

    def __init__(
        self,
        options: Sequence[tuple[Any, ...]],
        connect_timeout: Optional[float],
        wakeup: Optional[Wakeup],
    ) -> None:
        self._options = options
        self._connect_timeout = connect_timeout
        self._wakeup = wakeup
        self.sock: Optional[socket.socket] = None

    def connect(
        self, dest_host: str, dest_port: int, timeout: Optional[float] = None
    ) -> socket.socket:
        sock = connect_tcp(
            dest_host, dest_port, self._connect_timeout, self._options, self._wakeup
        )
        sock.settimeout(timeout)
        if self._wakeup is not None:
            self._wakeup.attach(sock)
        self.sock = sock
        return sock


def _socks_tunnel(
    route: Route,
    timeout: Optional[float],
    options: Sequence[tuple[Any, ...]],
    wakeup: Optional[Wakeup],
) -> socket.socket:
    try:
        from python_socks import ProxyType
        from python_socks.sync import Proxy
    except ImportError:
        raise WebSocketProxyException(
            f"a {route.proxy_protocol} proxy needs python-socks: "
            "pip install 'pinws[socks]'"
        ) from None
    protocol = route.proxy_protocol or ""
    hop = _ProxyHop(options, timeout, wakeup)
    assert route.proxy_host is not None
    user, password = route.proxy_auth or (None, None)
    proxy = Proxy(
        ProxyType.SOCKS5 if protocol.startswith("socks5") else ProxyType.SOCKS4,
        route.proxy_host,
        route.proxy_port,
        username=user,
        password=password,
        rdns=protocol in ("socks4a", "socks5h"),
        forward=hop,  # type: ignore[arg-type]
    )
    try:
        sock: socket.socket = proxy.connect(
            route.host, route.port, timeout=route.proxy_timeout
        )
    except (ConnectionInterrupted, WebSocketTimeoutException):
        raise
    except Exception as exc:
        if hop.sock is not None:
            hop.sock.close()
        if wakeup is not None and wakeup.is_set():
            raise ConnectionInterrupted("closed while talking to the proxy") from exc
        if isinstance(exc, (WebSocketAddressException, ConnectionRefusedError)):
            raise
        raise WebSocketProxyException(
            f"{protocol} proxy {route.proxy_host}:{route.proxy_port}: {exc}"
        ) from exc
    finally:
        if wakeup is not None and hop.sock is not None:
            wakeup.detach(hop.sock)
    if wakeup is not None and wakeup.is_set():
        sock.close()
        raise ConnectionInterrupted("closed while talking to the proxy")
    sock.setblocking(False)
    return sock
