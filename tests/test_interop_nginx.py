"""Interop: nginx terminating ``wss://`` in front of a plain WebSocket server.

The deployment most pinned clients meet: the pinned key is nginx's, the
application server behind it speaks plain ``ws://`` on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pinws
from helpers.callbacks import ECHO_SEQUENCE, echo_conversation
from helpers.pki import Chain, unrelated_pin
from helpers.process import wait_for_text
from helpers.servers import WebSocketServer, running
from helpers.thirdparty import Nginx
from helpers.timing import WAIT

pytestmark = pytest.mark.interop

SECRET = "Authorization: Bearer interop-secret"


@pytest.fixture
def backend() -> Iterator[WebSocketServer]:
    with running(WebSocketServer(None)) as server:
        yield server


@pytest.fixture
def nginx(tmp_path: Path, chain: Chain, backend: WebSocketServer) -> Iterator[Nginx]:
    with running(Nginx(tmp_path / "nginx", chain.leaf, backend.port)) as server:
        yield server


def test_create_connection_through_nginx(
    chain: Chain, nginx: Nginx, backend: WebSocketServer
) -> None:
    ws = pinws.create_connection(
        nginx.url("/feed"),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=WAIT,
        header=[SECRET],
    )
    try:
        ws.send("through nginx")
        assert ws.recv() == "through nginx"
    finally:
        ws.close()
    # nginx proxied the upgrade, with its headers, to the plain backend.
    [request] = backend.requests
    assert request.path == "/feed"
    assert request.headers["Authorization"] == "Bearer interop-secret"
    assert wait_for_text(nginx.access_log, '"GET /feed HTTP/1.1" 101 upgrade=websocket')


def test_app_through_nginx(
    chain: Chain, nginx: Nginx, backend: WebSocketServer
) -> None:
    recorder = echo_conversation()
    app = pinws.PinnedWebSocketApp(
        nginx.url(),
        pins=[chain.intermediate_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        **recorder.kwargs(),
    )
    app.run_forever()
    assert recorder.names == ECHO_SEQUENCE
    assert recorder.args_of("on_message") == [("one",), ("two",)]
    assert backend.connections == 1


def test_wrong_pin_is_refused_before_nginx_sees_a_request(
    chain: Chain, nginx: Nginx, backend: WebSocketServer
) -> None:
    with pytest.raises(pinws.PinMismatchError) as refused:
        pinws.create_connection(
            nginx.url("/feed"),
            pins=[unrelated_pin(), unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
            header=[SECRET],
        )
    assert chain.leaf_pin in str(refused.value)
    # nginx logs the handshake the client aborted (after the one of the
    # readiness probe, which connected and closed); once it has, it is done
    # with the connection: no request line, nothing proxied.
    assert wait_for_text(nginx.error_log, "while SSL handshaking", count=2)
    assert nginx.requests() == []
    assert backend.connections == 0
    assert backend.requests == []
