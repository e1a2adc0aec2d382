"""``pinws.fetch_verified_chain``: a live server's verified chain, from Python."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import websocket

import pinws
from helpers.pki import Chain, make_chain
from helpers.servers import ConnectProxy, WebSocketServer, running
from helpers.socks import Socks5Proxy
from helpers.timing import WAIT
from pinws._tls.fetch import proxy_route, verify_only_policy


def test_returns_the_verified_chain_up_to_the_trust_anchor(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    fetched = pinws.fetch_verified_chain(
        "localhost", echo_server.port, ca_certs=chain.ca_file, timeout=WAIT
    )
    assert fetched.pins == chain.pins  # leaf, intermediate, root
    assert [entry.depth for entry in fetched.chain] == [0, 1, 2]
    assert pinws.spki_pin(fetched.chain[0].certificate) == chain.leaf_pin
    # The server sent the leaf and the intermediate; the root came from the
    # trust store.
    assert [pinws.spki_pin(cert) for cert in fetched.served] == chain.pins[:2]
    assert fetched.tls_version.startswith("TLSv1.")
    assert (fetched.host, fetched.port) == ("localhost", echo_server.port)
    # A TLS handshake only: no WebSocket request reached the server.
    assert echo_server.requests == []


def test_an_untrusted_chain_is_refused(
    tmp_path: Path, echo_server: WebSocketServer
) -> None:
    other = make_chain(tmp_path, name="other")
    with pytest.raises(pinws.CertificateVerificationError):
        pinws.fetch_verified_chain(
            "localhost", echo_server.port, ca_certs=other.ca_file, timeout=WAIT
        )


def test_the_host_name_is_verified(tmp_path: Path) -> None:
    chain = make_chain(tmp_path, "elsewhere.test")
    server = WebSocketServer(chain.server_context())
    with running(server), pytest.raises(pinws.HostnameMismatchError):
        pinws.fetch_verified_chain(
            "localhost", server.port, ca_certs=chain.ca_file, timeout=WAIT
        )


def test_through_an_http_connect_proxy(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    with running(ConnectProxy()) as proxy:
        fetched = pinws.fetch_verified_chain(
            "localhost",
            echo_server.port,
            ca_certs=chain.ca_file,
            timeout=WAIT,
            proxy=f"http://127.0.0.1:{proxy.port}",
        )
    assert fetched.pins == chain.pins
    assert proxy.tunnels == [f"localhost:{echo_server.port}"]
    assert proxy.first_client_bytes[0][:1] == b"\x16"  # TLS, not HTTP


def test_through_a_socks_proxy(chain: Chain, echo_server: WebSocketServer) -> None:
    pytest.importorskip("python_socks")
    with running(Socks5Proxy()) as proxy:
        fetched = pinws.fetch_verified_chain(
            "localhost",
            echo_server.port,
            ca_certs=chain.ca_file,
            timeout=WAIT,
            proxy=f"socks5h://127.0.0.1:{proxy.port}",
        )
    assert fetched.pins == chain.pins
    assert proxy.targets == [("localhost", echo_server.port)]


def test_over_a_given_socket_which_it_closes(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    raw = socket.create_connection(("127.0.0.1", echo_server.port), timeout=WAIT)
    fetched = pinws.fetch_verified_chain(
        "localhost", echo_server.port, ca_certs=chain.ca_file, sock=raw
    )
    assert fetched.pins == chain.pins
    assert raw.fileno() == -1


def test_a_refused_connection_raises() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(ConnectionRefusedError):
            pinws.fetch_verified_chain("127.0.0.1", port, timeout=WAIT)


def test_a_proxy_that_refuses_raises(chain: Chain) -> None:
    # Nothing listens on port 1: the proxy answers 502.
    proxy = ConnectProxy()
    with running(proxy), pytest.raises(websocket.WebSocketProxyException, match="502"):
        pinws.fetch_verified_chain(
            "localhost", 1, timeout=WAIT, proxy=f"http://127.0.0.1:{proxy.port}"
        )


def test_a_missing_trust_store_is_a_value_error_before_connecting() -> None:
    with pytest.raises(ValueError, match="no such file"):
        pinws.fetch_verified_chain("localhost", 1, ca_certs="/nonexistent/ca.pem")


def test_sock_and_proxy_together_are_refused() -> None:
    left, right = socket.socketpair()
    with right, pytest.raises(ValueError, match="not both"):
        pinws.fetch_verified_chain("localhost", sock=left, proxy="http://p:3128")
    assert left.fileno() == -1


@pytest.mark.parametrize(
    ("url", "route"),
    [
        (None, (None, None, 0, None)),
        ("http://proxy.test", ("http", "proxy.test", 80, None)),
        ("http://u%40x:p%3Aw@proxy.test:3128/",
         ("http", "proxy.test", 3128, ("u@x", "p:w"))),
        ("socks5h://[::1]:9050", ("socks5h", "::1", 9050, None)),
        ("SOCKS4://proxy.test", ("socks4", "proxy.test", 1080, None)),
        ("socks5://user@proxy.test", ("socks5", "proxy.test", 1080, ("user", None))),
    ],
)  # fmt: skip
def test_proxy_urls(url: str, route: tuple[object, ...]) -> None:
    found = proxy_route("server.test", 443, url)
    assert (found.host, found.port) == ("server.test", 443)
    found_route = (
        found.proxy_protocol,
        found.proxy_host,
        found.proxy_port,
        found.proxy_auth,
    )
    assert found_route == route


@pytest.mark.parametrize(
    "url", ["https://proxy.test", "proxy.test:3128", "http://", "http://p:99999"]
)
def test_bad_proxy_urls(url: str) -> None:
    with pytest.raises(ValueError, match="proxy="):
        proxy_route("server.test", 443, url)


def test_the_verify_only_policy_pins_no_host() -> None:
    policy = verify_only_policy()
    assert policy.allow_unpinned
    assert policy.rules == ()
    assert policy.match("any.example") is None
