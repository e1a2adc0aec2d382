"""Every path to a server is pinned: proxies, redirects, SOCKS."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

import pinws
from helpers.pki import Chain, trust_bundle, unrelated_pin
from helpers.servers import (
    ConnectProxy,
    EavesdropServer,
    WebSocketServer,
    redirect_to,
    running,
)
from helpers.timing import WAIT

TLS_HANDSHAKE_RECORD = 0x16


@pytest.fixture(autouse=True)
def _no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "no_proxy",
        "NO_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with running(ConnectProxy()) as server:
        yield server


class PlainListener:
    """A TCP listener that counts the connections made to it."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._sock.close()


def test_create_connection_through_a_connect_proxy_is_pinned_end_to_end(
    chain: Chain, echo_server: WebSocketServer, proxy: ConnectProxy
) -> None:
    ws = pinws.create_connection(
        echo_server.url(),
        pins=[chain.intermediate_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=WAIT,
        http_proxy_host="127.0.0.1",
        http_proxy_port=proxy.port,
    )
    try:
        ws.send("via proxy")
        assert ws.recv() == "via proxy"
    finally:
        ws.close()
    assert proxy.tunnels == [f"localhost:{echo_server.port}"]
    # What crossed the proxy was TLS from the first byte.
    assert proxy.first_client_bytes[0][0] == TLS_HANDSHAKE_RECORD


def test_proxy_that_intercepts_tls_is_refused(
    tmp_path: Path, chain: Chain, rogue_chain: Chain, proxy: ConnectProxy
) -> None:
    # The "proxy" tunnels to an interceptor presenting a rogue certificate
    # the client's trust store accepts.
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    with running(EavesdropServer(rogue_chain.server_context())) as attacker:
        with pytest.raises(pinws.PinMismatchError):
            pinws.create_connection(
                attacker.url(),
                pins=[chain.intermediate_pin, unrelated_pin()],
                ca_certs=bundle,
                timeout=WAIT,
                http_proxy_host="127.0.0.1",
                http_proxy_port=proxy.port,
                header={"Authorization": "Bearer secret"},
            )
        assert attacker.sessions_done.wait(WAIT)
        assert bytes(attacker.received) == b""
    assert proxy.tunnels == [f"localhost:{attacker.port}"]


def test_app_uses_the_proxy_environment_variable_and_stays_pinned(
    chain: Chain,
    echo_server: WebSocketServer,
    proxy: ConnectProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{proxy.port}")
    messages: list[object] = []
    got = threading.Event()

    def on_message(app: pinws.PinnedWebSocketApp, message: object) -> None:
        messages.append(message)
        app.close()
        got.set()

    app = pinws.PinnedWebSocketApp(
        echo_server.url(),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        on_open=lambda app: app.send("env proxy"),
        on_message=on_message,
    )
    app.run_forever()
    assert messages == ["env proxy"]
    assert proxy.tunnels == [f"localhost:{echo_server.port}"]


def test_app_through_http_proxy_host_with_wrong_pin_reaches_on_error(
    chain: Chain, echo_server: WebSocketServer, proxy: ConnectProxy
) -> None:
    errors: list[object] = []
    app = pinws.PinnedWebSocketApp(
        echo_server.url(),
        pins=[unrelated_pin(), unrelated_pin()],
        ca_certs=chain.ca_file,
        on_error=lambda app, error: errors.append(error),
    )
    assert (
        app.run_forever(http_proxy_host="127.0.0.1", http_proxy_port=proxy.port) is True
    )
    assert [type(e) for e in errors] == [pinws.PinMismatchError]
    assert echo_server.requests == []
    assert proxy.tunnels == [f"localhost:{echo_server.port}"]


def test_socks5_proxy_is_pinned(chain: Chain, echo_server: WebSocketServer) -> None:
    pytest.importorskip("python_socks")
    from helpers.socks import Socks5Proxy

    with running(Socks5Proxy()) as socks:
        ws = pinws.create_connection(
            echo_server.url(),
            pins=[chain.intermediate_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
            http_proxy_host="127.0.0.1",
            http_proxy_port=socks.port,
            proxy_type="socks5",
        )
        try:
            ws.send("socks")
            assert ws.recv() == "socks"
        finally:
            ws.close()
        assert socks.targets
        assert socks.first_client_bytes[0][0] == TLS_HANDSHAKE_RECORD
        with pytest.raises(pinws.PinMismatchError):
            pinws.create_connection(
                echo_server.url(),
                pins=[unrelated_pin(), unrelated_pin()],
                ca_certs=chain.ca_file,
                timeout=WAIT,
                http_proxy_host="127.0.0.1",
                http_proxy_port=socks.port,
                proxy_type="socks5",
            )


@pytest.mark.parametrize(
    "status",
    [HTTPStatus.MOVED_PERMANENTLY, HTTPStatus.FOUND, HTTPStatus.TEMPORARY_REDIRECT],
)
def test_redirect_to_another_pinned_wss_server_is_followed(
    chain: Chain, echo_server: WebSocketServer, status: HTTPStatus
) -> None:
    target = echo_server.url(path="/target")
    with running(
        WebSocketServer(
            chain.server_context(), process_request=redirect_to(target, status)
        )
    ) as front:
        ws = pinws.create_connection(
            front.url(),
            pins=[chain.leaf_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
        )
        try:
            ws.send("after redirect")
            assert ws.recv() == "after redirect"
        finally:
            ws.close()
    assert [r.path for r in echo_server.requests] == ["/target"]


def test_relative_redirect_is_resolved(chain: Chain) -> None:
    def maybe_redirect(connection: object, request: object) -> object:
        if request.path == "/start":  # type: ignore[attr-defined]
            return redirect_to("/landed")(connection, request)
        return None

    with running(
        WebSocketServer(chain.server_context(), process_request=maybe_redirect)
    ) as server:
        ws = pinws.create_connection(
            server.url(path="/start"),
            pins=[chain.leaf_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
        )
        ws.close()
        assert [r.path for r in server.requests] == ["/start", "/landed"]


def test_redirect_to_plaintext_is_refused_before_connecting(chain: Chain) -> None:
    with running(PlainListener()) as plain:
        location = f"ws://127.0.0.1:{plain.port}/"
        with running(
            WebSocketServer(
                chain.server_context(), process_request=redirect_to(location)
            )
        ) as front:
            with pytest.raises(pinws.InsecureRedirectError) as info:
                pinws.create_connection(
                    front.url(),
                    pins=[chain.leaf_pin, unrelated_pin()],
                    ca_certs=chain.ca_file,
                    timeout=WAIT,
                )
            assert info.value.location == location
        assert plain.accepted == 0


@pytest.mark.parametrize(
    "location", ["https://[::1/", "wss://[bad/", "wss:///no-host", "wss://h:99999/"]
)
def test_a_malformed_redirect_is_an_insecure_redirect_error(
    chain: Chain, location: str
) -> None:
    # Found by fuzzing: the server's Location made create_connection raise a
    # bare ValueError, which is documented only for the caller's own URL.
    with (
        running(
            WebSocketServer(
                chain.server_context(), process_request=redirect_to(location)
            )
        ) as front,
        pytest.raises(pinws.InsecureRedirectError) as info,
    ):
        pinws.create_connection(
            front.url(),
            pins=[chain.leaf_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
        )
    assert info.value.location == location


def test_redirect_to_a_server_with_another_key_is_refused(
    tmp_path: Path, chain: Chain, rogue_chain: Chain
) -> None:
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    with running(EavesdropServer(rogue_chain.server_context())) as attacker:
        with running(
            WebSocketServer(
                chain.server_context(), process_request=redirect_to(attacker.url())
            )
        ) as front:
            with pytest.raises(pinws.PinMismatchError):
                pinws.create_connection(
                    front.url(),
                    pins=[chain.intermediate_pin, unrelated_pin()],
                    ca_certs=bundle,
                    timeout=WAIT,
                    header={"Authorization": "Bearer secret"},
                )
            assert len(front.requests) == 1
        assert attacker.sessions_done.wait(WAIT)
        assert bytes(attacker.received) == b""


def test_redirect_loop_is_bounded(chain: Chain) -> None:
    holder: dict[str, str] = {}

    def loop(connection: object, request: object) -> object:
        return redirect_to(holder["url"])(connection, request)

    with running(
        WebSocketServer(chain.server_context(), process_request=loop)
    ) as server:
        holder["url"] = server.url()
        with pytest.raises(pinws.InsecureRedirectError, match="too many redirects"):
            pinws.create_connection(
                server.url(),
                pins=[chain.leaf_pin, unrelated_pin()],
                ca_certs=chain.ca_file,
                timeout=WAIT,
                redirect_limit=2,
            )
        assert len(server.requests) == 3
