"""PinnedWebSocketApp: the worker, closing, reconnects, errors, options."""

from __future__ import annotations

import ssl
import threading
import time
from pathlib import Path

import pytest
import websocket
from websockets.sync.server import ServerConnection

import pinws
from helpers.pki import Chain, make_chain, unrelated_pin
from helpers.servers import WebSocketServer, running
from helpers.timing import PROMPT, WAIT


class Recorder:
    """Collects callbacks with the thread each ran on."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.threads: set[int] = set()
        self.opened = threading.Event()
        self.message = threading.Event()
        self.error = threading.Event()
        self.closed = threading.Event()
        self.close_args: tuple[object, object] | None = None

    def kwargs(self) -> dict[str, object]:
        return {
            "on_open": self.on_open,
            "on_message": self.on_message,
            "on_error": self.on_error,
            "on_close": self.on_close,
        }

    def on_open(self, app: object) -> None:
        self.threads.add(threading.get_ident())
        self.events.append(("open", None))
        self.opened.set()

    def on_message(self, app: object, message: object) -> None:
        self.events.append(("message", message))
        self.message.set()

    def on_error(self, app: object, error: object) -> None:
        self.events.append(("error", error))
        self.error.set()

    def on_close(self, app: object, code: object, reason: object) -> None:
        self.close_args = (code, reason)
        self.events.append(("close", code))
        self.closed.set()

    def errors(self) -> list[object]:
        return [value for kind, value in self.events if kind == "error"]


def make_app(
    url: str, chain: Chain, recorder: Recorder, **kwargs: object
) -> pinws.PinnedWebSocketApp:
    kwargs.setdefault("pins", [chain.intermediate_pin, unrelated_pin()])
    return pinws.PinnedWebSocketApp(
        url,
        ca_certs=chain.ca_file,
        **recorder.kwargs(),
        **kwargs,  # type: ignore[arg-type]
    )


def test_start_send_close_join_promptly(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    recorder = Recorder()
    app = make_app(echo_server.url(), chain, recorder)
    thread = app.start()
    assert thread.daemon
    assert recorder.opened.wait(WAIT)
    app.send("hello")
    assert recorder.message.wait(WAIT)
    started = time.monotonic()
    app.close()
    assert app.join(timeout=5)
    assert time.monotonic() - started < PROMPT
    assert recorder.closed.is_set()
    if hasattr(websocket.WebSocket(), "close_frame"):
        # websocket-client >= 1.9.1 reports the peer's close status.
        assert recorder.close_args == (1000, None)
    assert ("message", "hello") in recorder.events
    assert recorder.errors() == []
    assert threading.get_ident() not in recorder.threads


def test_close_from_a_callback(chain: Chain, echo_server: WebSocketServer) -> None:
    recorder = Recorder()

    def on_message(app: pinws.PinnedWebSocketApp, message: object) -> None:
        app.close()

    app = make_app(echo_server.url(), chain, recorder)
    app.on_message = on_message
    app.on_open = lambda app: app.send("x")
    assert app.run_forever() is False
    assert recorder.closed.is_set()


def test_close_before_the_worker_connected_still_stops_it(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    recorder = Recorder()
    app = make_app(echo_server.url(), chain, recorder)
    app.start()
    app.close()
    assert app.join(WAIT)


def test_first_connection_pin_mismatch_reaches_on_error(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    recorder = Recorder()
    app = make_app(
        echo_server.url(), chain, recorder, pins=[unrelated_pin(), unrelated_pin()]
    )
    assert app.run_forever() is True
    [error] = recorder.errors()
    assert isinstance(error, pinws.PinMismatchError)
    assert not recorder.opened.is_set()
    assert echo_server.requests == []


def close_on_bye(connection: ServerConnection) -> None:
    for message in connection:
        if message == "bye":
            connection.close()
            return
        connection.send(message)


def test_reconnect_rechecks_pins_after_the_server_key_changed(tmp_path: Path) -> None:
    first = make_chain(tmp_path, name="first")
    # Same CA, new leaf key: the leaf pin no longer matches.
    new_leaf = first.intermediate.issue_cert("localhost", "127.0.0.1")
    recorder = Recorder()
    reconnect_errors: list[object] = []
    got_mismatch = threading.Event()

    def on_error(app: object, error: object) -> None:
        reconnect_errors.append(error)
        if isinstance(error, pinws.PinMismatchError):
            got_mismatch.set()

    with running(
        WebSocketServer(first.server_context(), handler=close_on_bye)
    ) as server:
        app = pinws.PinnedWebSocketApp(
            server.url(),
            pins=[first.leaf_pin, unrelated_pin()],
            ca_certs=first.ca_file,
            on_open=recorder.on_open,
            on_error=on_error,
        )
        app.start(reconnect=0.05)
        try:
            assert recorder.opened.wait(WAIT)
            server.serve_certificate(new_leaf)
            app.send("bye")
            assert got_mismatch.wait(WAIT), reconnect_errors
        finally:
            started = time.monotonic()
            app.close()
            assert app.join(WAIT)
            assert time.monotonic() - started < PROMPT
        # The server saw exactly the first upgrade; reconnects were refused
        # inside the TLS handshake.
        assert len(server.requests) == 1


def test_reconnect_succeeds_with_a_backup_pin(tmp_path: Path) -> None:
    first = make_chain(tmp_path, name="first")
    second = make_chain(tmp_path, name="second", root=first.root)
    opened = threading.Semaphore(0)
    reconnected = threading.Event()
    with running(
        WebSocketServer(first.server_context(), handler=close_on_bye)
    ) as server:
        app = pinws.PinnedWebSocketApp(
            server.url(),
            pins=[first.intermediate_pin, second.intermediate_pin],
            ca_certs=first.ca_file,
            on_open=lambda app: opened.release(),
            on_reconnect=lambda app: reconnected.set(),
        )
        app.start(reconnect=0.05)
        try:
            assert opened.acquire(timeout=WAIT)
            server.serve_certificate(second.leaf)
            app.send("bye")
            assert reconnected.wait(WAIT)
            assert app.sock is not None
            assert str(app.sock.matched_pin) == second.intermediate_pin
        finally:
            app.close()
            assert app.join(WAIT)


def test_close_during_reconnect_wait_is_prompt(chain: Chain) -> None:
    with running(WebSocketServer(chain.server_context())) as server:
        url = server.url()
    recorder = Recorder()
    app = make_app(url, chain, recorder)
    app.start(reconnect=30)
    assert recorder.error.wait(WAIT)  # the first attempt: connection refused
    started = time.monotonic()
    app.close()
    assert app.join(WAIT)
    assert time.monotonic() - started < PROMPT


def test_failed_reconnect_attempts_all_reach_on_error(chain: Chain) -> None:
    with running(WebSocketServer(chain.server_context())) as server:
        url = server.url()
    seen = threading.Semaphore(0)
    errors: list[object] = []

    def on_error(app: object, error: object) -> None:
        errors.append(error)
        seen.release()

    app = pinws.PinnedWebSocketApp(
        url,
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        on_error=on_error,
    )
    app.start(reconnect=0.01)
    try:
        for _ in range(3):
            assert seen.acquire(timeout=WAIT)
    finally:
        app.close()
        assert app.join(WAIT)
    assert all(isinstance(e, ConnectionRefusedError) for e in errors[:3])


@pytest.mark.parametrize(
    "url", ["ws://localhost:1/", "http://localhost/", "localhost:443", "wss:///path"]
)
def test_plaintext_and_malformed_urls_are_refused_at_construction(url: str) -> None:
    with pytest.raises(ValueError, match=r"wss://|no host"):
        pinws.PinnedWebSocketApp(url, pins=[unrelated_pin(), unrelated_pin()])
    with pytest.raises(ValueError, match=r"wss://|no host"):
        pinws.create_connection(url, pins=[unrelated_pin(), unrelated_pin()])


@pytest.mark.parametrize(
    ("sslopt", "fragment"),
    [
        ({"cert_reqs": ssl.CERT_NONE}, "cert_reqs"),
        ({"check_hostname": False}, "check_hostname"),
        ({"context": ssl.create_default_context()}, "context"),
        (
            {
                "ssl_version": ssl.PROTOCOL_TLSv1_2
                if hasattr(ssl, "PROTOCOL_TLSv1_2")
                else 5
            },
            "ssl_version",
        ),
        ({"do_handshake_on_connect": False}, "do_handshake_on_connect"),
        ({"verify_mode": 0}, "unsupported"),
    ],
)
def test_sslopt_that_would_weaken_verification_is_refused(
    chain: Chain, echo_server: WebSocketServer, sslopt: dict[str, object], fragment: str
) -> None:
    app = pinws.PinnedWebSocketApp(
        echo_server.url(),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
    )
    with pytest.raises(ValueError, match=fragment):
        app.start(sslopt=sslopt)
    with pytest.raises(ValueError, match=fragment):
        app.run_forever(sslopt=sslopt)
    with pytest.raises(ValueError, match=fragment):
        pinws.create_connection(
            echo_server.url(),
            pins=[chain.leaf_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            sslopt=sslopt,
        )
    assert echo_server.requests == []


def verified_root_pin(ws: pinws.PinnedWebSocket) -> str:
    """The pin of the trust anchor the connection's chain verified to."""
    return ws.verified_chain[-1].pin


def test_sslopt_ca_certs_is_honoured(
    chain: Chain, rogue_chain: Chain, echo_server: WebSocketServer
) -> None:
    ws = pinws.create_connection(
        echo_server.url(),
        pins=[chain.leaf_pin, unrelated_pin()],
        sslopt={"ca_certs": chain.ca_file, "cert_reqs": ssl.CERT_REQUIRED},
        timeout=WAIT,
    )
    try:
        ws.send("via sslopt")
        assert ws.recv() == "via sslopt"
        assert verified_root_pin(ws) == chain.root_pin
    finally:
        ws.close()
    # Another store in sslopt, and the same server no longer verifies.
    with pytest.raises(pinws.CertificateVerificationError):
        pinws.create_connection(
            echo_server.url(),
            pins=[chain.leaf_pin, unrelated_pin()],
            sslopt={"ca_certs": rogue_chain.ca_file},
            timeout=WAIT,
        )


def test_missing_ca_file_is_an_early_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        pinws.PinnedWebSocketApp(
            "wss://localhost/",
            pins=[unrelated_pin(), unrelated_pin()],
            ca_certs=str(tmp_path / "nope.pem"),
        )


def test_tls_socket_prepared_elsewhere_is_refused(chain: Chain) -> None:
    wrapped = ssl.create_default_context().wrap_socket(
        __import__("socket").socket(),
        server_hostname="localhost",
        do_handshake_on_connect=False,
    )
    try:
        with pytest.raises(ValueError, match="plain connected TCP socket"):
            pinws.PinnedWebSocketApp(
                "wss://localhost/",
                pins=[unrelated_pin(), unrelated_pin()],
                socket=wrapped,
            )
    finally:
        wrapped.close()


def test_plain_prepared_socket_is_pinned(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    import socket

    raw = socket.create_connection(("127.0.0.1", echo_server.port))
    ws = pinws.create_connection(
        echo_server.url(),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=WAIT,
        socket=raw,
    )
    try:
        ws.send("p")
        assert ws.recv() == "p"
        assert ws.is_ssl()
    finally:
        ws.close()
    raw = socket.create_connection(("127.0.0.1", echo_server.port))
    with pytest.raises(pinws.PinMismatchError):
        pinws.create_connection(
            echo_server.url(),
            pins=[unrelated_pin(), unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
            socket=raw,
        )
    raw.close()


def test_sends_after_close_raise_the_websocket_client_exception(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    app = make_app(echo_server.url(), chain, Recorder())
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        app.send("not connected")
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        app.send_bytes(b"not connected")


def test_start_twice_is_an_error(chain: Chain, echo_server: WebSocketServer) -> None:
    recorder = Recorder()
    app = make_app(echo_server.url(), chain, recorder)
    app.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            app.start()
    finally:
        app.close()
        assert app.join(WAIT)


def test_ping_interval_and_timeout_work_over_the_pinned_socket(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    pongs = threading.Semaphore(0)
    app = pinws.PinnedWebSocketApp(
        echo_server.url(),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        on_pong=lambda app, data: pongs.release(),
    )
    app.start(ping_interval=0.05, ping_timeout=0.04, ping_payload="are you there")
    try:
        for _ in range(3):
            assert pongs.acquire(timeout=WAIT)
    finally:
        app.close()
        assert app.join(WAIT)


def test_headers_cookies_and_subprotocols_reach_the_server(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    opened = threading.Event()
    app = pinws.PinnedWebSocketApp(
        echo_server.url(path="/feed?x=1"),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        header={"Authorization": "Bearer t0ken"},
        cookie="session=abc",
        on_open=lambda app: opened.set(),
    )
    app.start(origin="https://app.example")
    try:
        assert opened.wait(WAIT)
    finally:
        app.close()
        assert app.join(WAIT)
    [request] = echo_server.requests
    assert request.path == "/feed?x=1"
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert request.headers["Cookie"] == "session=abc"
    assert request.headers["Origin"] == "https://app.example"


def test_sslopt_server_hostname_names_the_certificate_to_verify(tmp_path: Path) -> None:
    named = make_chain(tmp_path, "localhost")
    with running(WebSocketServer(named.server_context())) as server:
        url = server.url("127.0.0.1")
        ws = pinws.create_connection(
            url,
            pins=[named.leaf_pin, unrelated_pin()],
            ca_certs=named.ca_file,
            sslopt={"server_hostname": "localhost"},
            timeout=WAIT,
        )
        ws.close()
        with pytest.raises(pinws.HostnameMismatchError):
            pinws.create_connection(
                url, pins=[named.leaf_pin, unrelated_pin()], ca_certs=named.ca_file
            )


@pytest.mark.parametrize(
    ("sslopt", "fragment"),
    [
        ({"ciphers": "NO-SUCH-CIPHER"}, "selects no usable cipher"),
        ({"ecdh_curve": "no_such_curve"}, "not a known curve"),
        ({"keyfile": "k.pem"}, "needs sslopt\\['certfile'\\]"),
        ({"cert_chain": ("a",)}, "cert_chain"),
        ({"certfile": "/nonexistent/client.pem"}, "no such file"),
    ],
)
def test_bad_sslopt_values_are_early_errors(
    chain: Chain, sslopt: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        pinws.PinnedWebSocket(
            sslopt=sslopt,
            pins=[chain.leaf_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
        )


def test_good_cipher_and_curve_options(chain: Chain) -> None:
    context = chain.server_context(maximum=ssl.TLSVersion.TLSv1_2)
    with running(WebSocketServer(context)) as server:
        ws = pinws.create_connection(
            server.url(),
            pins=[chain.leaf_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            sslopt={
                "ciphers": "ECDHE-ECDSA-AES256-GCM-SHA384",
                "ecdh_curve": "prime256v1",
            },
            timeout=WAIT,
        )
        try:
            assert ws.sock.cipher() == "ECDHE-ECDSA-AES256-GCM-SHA384"
        finally:
            ws.close()


def test_ca_certs_directory(
    tmp_path: Path, chain: Chain, echo_server: WebSocketServer
) -> None:
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to hash the directory")
    directory = tmp_path / "cadir"
    directory.mkdir()
    shutil.copy(chain.ca_file, directory / "root.pem")
    subprocess.run(["openssl", "rehash", str(directory)], check=True)
    ws = pinws.create_connection(
        echo_server.url(),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=str(directory),
        timeout=WAIT,
    )
    try:
        ws.send("via a directory")
        assert ws.recv() == "via a directory"
        assert verified_root_pin(ws) == chain.root_pin
    finally:
        ws.close()
    # The directory is the whole trust store: emptied, nothing verifies.
    for entry in directory.iterdir():
        entry.unlink()
    with pytest.raises(pinws.CertificateVerificationError):
        pinws.create_connection(
            echo_server.url(),
            pins=[chain.leaf_pin, unrelated_pin()],
            ca_certs=str(directory),
            timeout=WAIT,
        )


def close_at_once(connection: ServerConnection) -> None:
    connection.close(code=4000, reason="maintenance")


def test_a_server_close_reaches_on_close_with_its_status(chain: Chain) -> None:
    recorder = Recorder()
    with running(
        WebSocketServer(chain.server_context(), handler=close_at_once)
    ) as server:
        app = make_app(server.url(), chain, recorder)
        app.run_forever()
    assert recorder.close_args == (4000, "maintenance")
    [error] = recorder.errors()
    assert isinstance(error, websocket.WebSocketConnectionClosedException)
    assert error.status_code == 4000  # type: ignore[attr-defined]
    assert "maintenance" in str(error)


def test_two_different_trust_stores_are_an_early_error(
    chain: Chain, rogue_chain: Chain
) -> None:
    with pytest.raises(ValueError, match="not both"):
        pinws.PinnedWebSocket(
            pins=[chain.leaf_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            sslopt={"ca_certs": rogue_chain.ca_file},
        )
