"""Interop: pinned connections through real proxies (tinyproxy, Dante).

tinyproxy is an HTTP proxy (CONNECT), Dante's ``danted`` a SOCKS5 server;
``socks5h`` lets the proxy resolve the name. Between the proxy and the
server, a tap records what the proxy forwarded: the client's TLS, from the
first byte.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pinws
from helpers.callbacks import ECHO_SEQUENCE, echo_conversation
from helpers.pki import Chain, trust_bundle, unrelated_pin
from helpers.process import ServerProcess
from helpers.servers import EavesdropServer, WebSocketServer, running
from helpers.tap import Tap
from helpers.thirdparty import Dante, Tinyproxy
from helpers.timing import WAIT

pytestmark = pytest.mark.interop

TLS_HANDSHAKE_RECORD = 0x16
CLIENT_HELLO = 0x01


@dataclasses.dataclass
class Route:
    """A running proxy and how websocket-client is told to use it."""

    proxy_type: str
    proxy: ServerProcess

    def options(self) -> dict[str, Any]:
        return {
            "http_proxy_host": "127.0.0.1",
            "http_proxy_port": self.proxy.port,
            "proxy_type": self.proxy_type,
        }

    def tunnelled_to(self, port: int) -> bool:
        """Whether the proxy's own log shows a tunnel to 127.0.0.1:*port*."""
        if isinstance(self.proxy, Dante):
            # "tcp/connect [: client proxy -> proxy-out target", target as ip.port
            pattern = rf"tcp/connect \[: .* -> \S+ 127\.0\.0\.1\.{port}\b"
            return re.search(pattern, self.proxy.log_file.read_text()) is not None
        return f"CONNECT localhost:{port} HTTP/1.1" in self.proxy.output()


@pytest.fixture(params=["http", "socks5", "socks5h"])
def route(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Route]:
    proxy_type: str = request.param
    if proxy_type == "http":
        proxy: ServerProcess = Tinyproxy(tmp_path / "tinyproxy")
    else:
        pytest.importorskip("python_socks")
        proxy = Dante(tmp_path / "danted")
    with running(proxy):
        yield Route(proxy_type, proxy)


@pytest.fixture
def tap(echo_server: WebSocketServer) -> Iterator[Tap]:
    with running(Tap(echo_server.port)) as server:
        yield server


def assert_tls_from_the_first_byte(tap: Tap) -> None:
    [first] = tap.first_client_bytes
    assert first[0] == TLS_HANDSHAKE_RECORD, first
    assert first[5] == CLIENT_HELLO, first


def test_create_connection_through_proxy(
    chain: Chain, echo_server: WebSocketServer, tap: Tap, route: Route
) -> None:
    ws = pinws.create_connection(
        f"wss://localhost:{tap.port}/",
        pins=[chain.intermediate_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=WAIT,
        **route.options(),
    )
    try:
        ws.send(f"via {route.proxy_type}")
        assert ws.recv() == f"via {route.proxy_type}"
    finally:
        ws.close()
    assert tap.connections == 1
    assert_tls_from_the_first_byte(tap)
    assert len(echo_server.requests) == 1
    # The proxy itself logged the tunnel to the tap.
    assert route.tunnelled_to(tap.port)


def test_app_through_proxy(
    chain: Chain, echo_server: WebSocketServer, tap: Tap, route: Route
) -> None:
    recorder = echo_conversation()
    app = pinws.PinnedWebSocketApp(
        f"wss://localhost:{tap.port}/",
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        **recorder.kwargs(),
    )
    app.run_forever(**route.options())
    assert recorder.names == ECHO_SEQUENCE
    assert route.tunnelled_to(tap.port)
    assert_tls_from_the_first_byte(tap)


def test_rogue_server_behind_proxy_is_refused(
    tmp_path: Path, chain: Chain, rogue_chain: Chain, route: Route
) -> None:
    # The proxy leads to an interceptor whose certificate the client's trust
    # store accepts (its root is in the bundle), but whose key is not pinned.
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    with running(EavesdropServer(rogue_chain.server_context())) as rogue:
        with pytest.raises(pinws.PinMismatchError):
            pinws.create_connection(
                rogue.url(),
                pins=[chain.intermediate_pin, unrelated_pin()],
                ca_certs=bundle,
                timeout=WAIT,
                header=["Authorization: Bearer interop-secret"],
                **route.options(),
            )
        assert rogue.sessions_done.wait(WAIT)
        assert rogue.handshakes_failed == 1
        assert bytes(rogue.received) == b""
    assert route.tunnelled_to(rogue.port)
