"""Interop: mitmproxy as the attacker, with a CA the client trusts.

``mitmdump`` generates a fresh CA in its confdir; the client's trust store
holds it next to the real root (a corporate TLS inspection box, or malware
that installed its root). It intercepts as an HTTP proxy (``regular``) or in
front of the server (``reverse``: the attacker owns the route or DNS). A
recorder addon writes down what mitmproxy saw. A pinned client is refused
and mitmproxy sees no request; the unpinned control, stock websocket-client
trusting the same CA, leaks its ``Authorization`` header to it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

import pinws
from helpers.pki import Chain, unrelated_pin
from helpers.process import wait_for_text
from helpers.servers import WebSocketServer, running
from helpers.thirdparty import Mitmdump
from helpers.timing import WAIT

pytestmark = pytest.mark.interop

SECRET = "Bearer interop-secret"


class Interception:
    """mitmdump in front of the echo server, and how a client reaches it."""

    def __init__(self, mitm: Mitmdump, mode: str, server: WebSocketServer) -> None:
        self.mitm = mitm
        self.mode = mode
        self.server = server

    @property
    def url(self) -> str:
        if self.mode == "regular":
            return self.server.url()
        return f"wss://localhost:{self.mitm.port}/"

    def options(self) -> dict[str, Any]:
        if self.mode == "regular":
            return {"http_proxy_host": "127.0.0.1", "http_proxy_port": self.mitm.port}
        return {}


@pytest.fixture(params=["regular", "reverse"])
def interception(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    chain: Chain,
    echo_server: WebSocketServer,
) -> Iterator[Interception]:
    mode: str = request.param
    target = f"https://localhost:{echo_server.port}/"
    mitm_mode = "regular" if mode == "regular" else f"reverse:{target}"
    mitm = Mitmdump(tmp_path / "mitmproxy", upstream_ca=chain.ca_file, mode=mitm_mode)
    with running(mitm):
        yield Interception(mitm, mode, echo_server)


@pytest.fixture
def trusted(tmp_path: Path, chain: Chain, interception: Interception) -> str:
    """A CA file holding the real root and mitmproxy's fresh one."""
    bundle = tmp_path / "trusted.pem"
    bundle.write_bytes(
        Path(chain.ca_file).read_bytes() + Path(interception.mitm.ca_file).read_bytes()
    )
    return str(bundle)


def assert_nothing_intercepted(interception: Interception) -> None:
    # mitmproxy recorded the client's failed handshake: it is done with the
    # connection, and it saw no request, header or message.
    failed = interception.mitm.wait_for_event("tls_failed_client")
    assert failed is not None, interception.mitm.output()
    assert [event["event"] for event in interception.mitm.events()] in (
        ["tls_failed_client"],
        ["http_connect", "tls_failed_client"],
    )
    assert SECRET not in interception.mitm.output()
    assert interception.server.requests == []


def test_pinned_create_connection_is_refused(
    chain: Chain, interception: Interception, trusted: str
) -> None:
    with pytest.raises(pinws.PinMismatchError) as refused:
        pinws.create_connection(
            interception.url,
            pins=[chain.intermediate_pin, unrelated_pin()],
            ca_certs=trusted,
            timeout=WAIT,
            header=[f"Authorization: {SECRET}"],
            **interception.options(),
        )
    # The chain that verified was mitmproxy's: its own CA signed the leaf.
    subjects = [str(certificate.subject) for certificate in refused.value.chain]
    assert any("mitmproxy" in subject for subject in subjects), subjects
    assert_nothing_intercepted(interception)


def test_pinned_app_is_refused(
    chain: Chain, interception: Interception, trusted: str
) -> None:
    errors: list[Exception] = []
    opened = threading.Event()
    app = pinws.PinnedWebSocketApp(
        interception.url,
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=trusted,
        header=[f"Authorization: {SECRET}"],
        on_open=lambda app: opened.set(),
        on_error=lambda app, error: errors.append(error),
    )
    app.run_forever(**interception.options())
    assert [type(error) for error in errors] == [pinws.PinMismatchError]
    assert not opened.is_set()
    assert_nothing_intercepted(interception)


def test_unpinned_control_leaks_the_authorization_header(
    interception: Interception, trusted: str
) -> None:
    # Stock websocket-client, trusting the same CAs: the attack works.
    ws = websocket.create_connection(
        interception.url,
        sslopt={"ca_certs": trusted},
        timeout=WAIT,
        header=[f"Authorization: {SECRET}"],
        **interception.options(),
    )
    try:
        ws.send("seen by the interceptor")
        assert ws.recv() == "seen by the interceptor"
    finally:
        ws.close()
    upgrade = interception.mitm.wait_for_event("requestheaders")
    assert upgrade is not None, interception.mitm.output()
    assert ["Authorization", SECRET] in upgrade["headers"]
    message = interception.mitm.wait_for_event("websocket_message")
    assert message is not None
    assert message["text"] == "seen by the interceptor"
    # Its log shows the header too (flow_detail=3), so the twin check that
    # the log does not hold it can fail.
    assert wait_for_text(interception.mitm.log, SECRET)
    # mitmproxy passed it on: the real server cannot tell.
    [request] = interception.server.requests
    assert request.headers["Authorization"] == SECRET
