"""Internationalised host names: the name dialled is the name verified.

For ``wss://api.faß.test/`` pinws looks up pins and checks the certificate
for the IDNA 2008 A-label ``api.xn--fa-hia.test``. The resolver, the HTTP
proxy's CONNECT line, the SOCKS request, SNI and the Host header must carry
that same name: IDNA 2003 (the standard library's codec) turns ``ß`` into
``ss`` -- ``api.fass.test``, another domain -- and a raw U-label in a CONNECT
line is resolved by the proxy however it likes.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pinws
from helpers.pki import Chain, make_chain, unrelated_pin
from helpers.servers import ConnectProxy, WebSocketServer, running
from helpers.socks import Socks5Proxy
from helpers.timing import WAIT
from pinws._client.urls import dial_url

U_LABEL = "api.faß.test"
A_LABEL = "api.xn--fa-hia.test"
IDNA2003 = "api.fass.test"


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def idn_chain(tmp_path: Path) -> Chain:
    return make_chain(tmp_path, A_LABEL, name="idn")


@pytest.fixture
def idn_server(idn_chain: Chain) -> Iterator[WebSocketServer]:
    with running(WebSocketServer(idn_chain.server_context())) as server:
        yield server


@pytest.fixture
def looked_up(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every name resolved; the test names all resolve to 127.0.0.1."""
    names: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        names.append(host)
        if isinstance(host, str) and host.endswith(".test"):
            host = "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


def test_dial_url_spells_the_host_as_its_a_label() -> None:
    assert (
        dial_url(f"wss://{U_LABEL}:8443/feed?q=1") == f"wss://{A_LABEL}:8443/feed?q=1"
    )
    assert dial_url(f"wss://user@{U_LABEL}/") == f"wss://user@{A_LABEL}/"
    assert dial_url("wss://[::1]:9/") == "wss://[::1]:9/"
    assert dial_url("wss://Example.COM/") == "wss://Example.COM/"


def test_a_direct_connection_resolves_and_verifies_the_a_label(
    idn_chain: Chain, idn_server: WebSocketServer, looked_up: list[str]
) -> None:
    ws = pinws.create_connection(
        f"wss://{U_LABEL}:{idn_server.port}/",
        pins=[idn_chain.intermediate_pin, unrelated_pin()],
        ca_certs=idn_chain.ca_file,
        timeout=WAIT,
    )
    ws.close()
    assert looked_up == [A_LABEL]
    assert idn_server.requests[0].headers["Host"] == f"{A_LABEL}:{idn_server.port}"


def test_the_connect_line_carries_the_a_label(
    idn_chain: Chain, idn_server: WebSocketServer
) -> None:
    with running(ConnectProxy(upstream_host="127.0.0.1")) as proxy:
        ws = pinws.create_connection(
            f"wss://{U_LABEL}:{idn_server.port}/",
            pins=[idn_chain.intermediate_pin, unrelated_pin()],
            ca_certs=idn_chain.ca_file,
            timeout=WAIT,
            http_proxy_host="127.0.0.1",
            http_proxy_port=proxy.port,
        )
        ws.close()
    assert proxy.tunnels == [f"{A_LABEL}:{idn_server.port}"]


def test_socks_with_remote_dns_asks_for_the_a_label(
    idn_chain: Chain, idn_server: WebSocketServer
) -> None:
    proxy = Socks5Proxy(upstream_host="127.0.0.1")
    try:
        ws = pinws.create_connection(
            f"wss://{U_LABEL}:{idn_server.port}/",
            pins=[idn_chain.intermediate_pin, unrelated_pin()],
            ca_certs=idn_chain.ca_file,
            timeout=WAIT,
            http_proxy_host="127.0.0.1",
            http_proxy_port=proxy.port,
            proxy_type="socks5h",
        )
        ws.close()
    finally:
        proxy.close()
    assert proxy.targets == [(A_LABEL, idn_server.port)]


def test_the_idna_2003_twin_is_never_dialled_nor_its_policy_used(
    tmp_path: Path, idn_chain: Chain, idn_server: WebSocketServer, looked_up: list[str]
) -> None:
    # The review's attack: a policy pins **.fass.test and lets other hosts
    # through unpinned. Dialled as IDNA 2003, api.faß.test went to the
    # fass.test twin while being verified as xn--fa-hia. Now the name
    # dialled, the name whose policy applies and the name verified are one.
    twin = make_chain(tmp_path, IDNA2003, name="twin")
    policy = pinws.PinPolicy(
        {"**.fass.test": [twin.intermediate_pin, unrelated_pin()]},
        allow_unpinned=True,
    )
    ws = pinws.create_connection(
        f"wss://{U_LABEL}:{idn_server.port}/",
        pins=policy,
        ca_certs=idn_chain.ca_file,
        timeout=WAIT,
    )
    ws.close()
    assert IDNA2003 not in looked_up
    assert looked_up == [A_LABEL]
