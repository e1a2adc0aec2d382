"""What the entry points accept: misspelled keywords are refused with a
"did you mean", every websocket-client keyword still passes, and
``https://`` is read as ``wss://`` (review finding 8)."""

from __future__ import annotations

import inspect
from typing import Any, Callable

import pytest
import websocket

import pinws
from helpers.pki import Chain, unrelated_pin
from helpers.servers import WebSocketServer
from helpers.timing import WAIT

PINS = [unrelated_pin(), unrelated_pin()]
URL = "wss://localhost:1/"  # nothing listens: a refusal must come first


def _app(**kwargs: Any) -> pinws.PinnedWebSocketApp:
    return pinws.PinnedWebSocketApp(URL, pins=PINS, **kwargs)


ENTRY_POINTS: dict[str, Callable[..., Any]] = {
    "create_connection": lambda **kw: pinws.create_connection(URL, pins=PINS, **kw),
    "PinnedWebSocket": lambda **kw: pinws.PinnedWebSocket(pins=PINS, **kw),
    "PinnedWebSocketApp": _app,
    "PinnedWebSocketApp.run_forever": lambda **kw: _app().run_forever(**kw),
    "PinnedWebSocketApp.start": lambda **kw: _app().start(**kw),
}


@pytest.mark.parametrize(
    ("entry", "typo", "meant"),
    [
        ("create_connection", "ca_cert", "ca_certs"),
        ("create_connection", "sslop", "sslopt"),
        ("create_connection", "headers", "header"),
        ("create_connection", "pin_onyl", "pin_only"),
        ("PinnedWebSocket", "ca_cert", "ca_certs"),
        ("PinnedWebSocket", "http_proxy_hots", "http_proxy_host"),
        ("PinnedWebSocketApp", "ca_cert", "ca_certs"),
        ("PinnedWebSocketApp", "on_mesage", "on_message"),
        ("PinnedWebSocketApp.run_forever", "reconect", "reconnect"),
        ("PinnedWebSocketApp.start", "ping_intervall", "ping_interval"),
    ],
)
def test_a_misspelled_keyword_is_refused_with_a_suggestion(
    entry: str, typo: str, meant: str
) -> None:
    with pytest.raises(TypeError) as info:
        ENTRY_POINTS[entry](**{typo: None})
    message = str(info.value)
    assert f"{entry}() got an unexpected keyword argument {typo!r}" in message
    assert f"did you mean {meant!r}?" in message


def test_a_keyword_like_nothing_gets_no_suggestion() -> None:
    with pytest.raises(TypeError, match=r"'zzzzzz'$"):
        pinws.create_connection(URL, pins=PINS, zzzzzz=1)


# What websocket-client documents for create_connection / WebSocket.connect
# (written out here, not read from the implementation under test).
DOCUMENTED_CONNECT_OPTIONS: dict[str, Any] = {
    "header": ["X-Test: 1"],
    "cookie": None,
    "origin": None,
    "suppress_origin": False,
    "host": None,
    "suppress_host": False,
    "connection": None,
    "http_proxy_host": None,
    "http_proxy_port": None,
    "http_no_proxy": None,
    "http_proxy_auth": None,
    "http_proxy_timeout": None,
    "proxy_type": None,
    "redirect_limit": 3,
    "subprotocols": None,
    "socket": None,
    "sockopt": None,
    "sslopt": None,
    "fire_cont_frame": False,
    "enable_multithread": True,
    "skip_utf8_validation": False,
}


def test_every_websocket_client_option_still_passes_create_connection(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    ws = pinws.create_connection(
        echo_server.url(),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=WAIT,
        **DOCUMENTED_CONNECT_OPTIONS,
    )
    try:
        ws.send("all options")
        assert ws.recv() == "all options"
    finally:
        ws.close()
    constructor = {
        k: v
        for k, v in DOCUMENTED_CONNECT_OPTIONS.items()
        if k not in ("sockopt", "sslopt", "fire_cont_frame")
    }
    pinws.PinnedWebSocket(pins=PINS, get_mask_key=None, **constructor)


def _defaults(function: Callable[..., Any]) -> dict[str, Any]:
    return {
        name: parameter.default
        for name, parameter in inspect.signature(function).parameters.items()
        if name not in ("self", "url")
        and parameter.default is not inspect.Parameter.empty
    }


def test_every_websocket_client_app_option_still_passes(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    received: list[str] = []
    options = _defaults(websocket.WebSocketApp.__init__)
    options.pop("keep_running", None)  # deprecated; websocket-client warns
    app = pinws.PinnedWebSocketApp(
        echo_server.url(),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        **options,
    )
    app.on_open = lambda app: app.send("every option")

    def on_message(app: pinws.PinnedWebSocketApp, message: str) -> None:
        received.append(message)
        app.close()

    app.on_message = on_message
    run_options = _defaults(websocket.WebSocketApp.run_forever)
    assert "reconnect" in run_options
    run_options["reconnect"] = 0
    thread = app.start(**run_options)
    thread.join(WAIT)
    assert not thread.is_alive()
    assert received == ["every option"]


# -- https:// ------------------------------------------------------------------


def test_https_is_read_as_wss_by_create_connection(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    url = echo_server.url().replace("wss://", "HTTPS://")
    ws = pinws.create_connection(
        url,
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=WAIT,
    )
    try:
        ws.send("https")
        assert ws.recv() == "https"
    finally:
        ws.close()


def test_https_is_read_as_wss_by_the_app(chain: Chain) -> None:
    app = pinws.PinnedWebSocketApp("https://example.com:8443/feed?x=1", pins=PINS)
    assert app.url == "wss://example.com:8443/feed?x=1"


@pytest.mark.parametrize(
    ("url", "fixed"),
    [
        ("ws://example.com/feed", "wss://example.com/feed"),
        ("http://example.com:8080/", "wss://example.com:8080/"),
    ],
)
def test_plaintext_is_refused_with_the_url_to_use(url: str, fixed: str) -> None:
    for attempt in (
        lambda: pinws.create_connection(url, pins=PINS),
        lambda: pinws.PinnedWebSocketApp(url, pins=PINS),
    ):
        with pytest.raises(ValueError, match="never speaks plaintext") as info:
            attempt()
        assert repr(fixed) in str(info.value)


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValueError, match="is not a wss:// URL"):
        pinws.create_connection("ftp://example.com/", pins=PINS)
    with pytest.raises(ValueError, match="write it as wss://"):
        pinws.create_connection("wss//example.com/", pins=PINS)
