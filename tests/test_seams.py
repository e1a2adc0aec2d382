"""The websocket-client internals pinws relies on, checked directly.

pinws hooks websocket-client at a few seams instead of copying its code.
Behaviour tests elsewhere exercise each seam end to end; these tests name
them, so that an upstream change fails here, loudly, with the seam's name.
"""

from __future__ import annotations

import inspect

import websocket

import pinws
from helpers.pki import Chain
from helpers.servers import WebSocketServer
from helpers.timing import WAIT


def test_run_forever_creates_a_plain_websocket_and_assigns_app_sock() -> None:
    # PinnedWebSocketApp.sock is a property whose setter upgrades the
    # WebSocket run_forever builds into a PinnedWebSocket.
    source = inspect.getsource(websocket.WebSocketApp.run_forever)
    assert "self.sock = WebSocket(" in source


def test_run_forever_reads_with_the_dispatcher_create_dispatcher_returns() -> None:
    params = list(
        inspect.signature(websocket.WebSocketApp.create_dispatcher).parameters
    )
    assert params[:3] == ["self", "ping_timeout", "dispatcher"]
    source = inspect.getsource(websocket.WebSocketApp.run_forever)
    assert "self.create_dispatcher(" in source
    assert "dispatcher.read(" in source
    assert "dispatcher.reconnect(" in source


def test_websocket_sends_through_its_dispatcher() -> None:
    source = inspect.getsource(websocket.WebSocket._send)
    assert "self.dispatcher.send(" in source


def test_callbacks_go_through_underscore_callback() -> None:
    assert callable(websocket.WebSocketApp._callback)
    source = inspect.getsource(websocket.WebSocketApp.run_forever)
    assert "self._callback(self.on_open)" in source
    assert "self._callback(self.on_error, e)" in source


def test_connect_supports_redirect_limit_and_keeps_the_redirect_response() -> None:
    source = inspect.getsource(websocket.WebSocket.connect)
    assert 'options.pop("redirect_limit"' in source
    assert "self.handshake_response = handshake(" in source


def test_ssl_socket_calls_the_context_wrap_socket_with_server_hostname() -> None:
    from websocket import _http

    source = inspect.getsource(_http._wrap_sni_socket)
    assert 'sslopt.get("context"' in source
    assert "context.wrap_socket(" in source
    assert "server_hostname=hostname" in source


def test_pinned_socket_offers_what_shutdown_reads(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    # websocket-client >= 1.9.1's WebSocket.shutdown() reads sock._closed;
    # PinnedSocket keeps one, false while open, true once closed.
    ws = pinws.create_connection(
        echo_server.url(), pins=chain.pins, ca_certs=chain.ca_file, timeout=WAIT
    )
    sock = ws.sock
    assert isinstance(sock, pinws.PinnedSocket)
    assert sock._closed is False
    ws.shutdown()
    assert sock._closed is True
    assert ws.sock is None


def test_proxy_settings_are_read_as_websocket_client_reads_them() -> None:
    # pinws opens the TCP connection itself (_transport/connector.py) from
    # websocket-client's own proxy option parsing and environment lookup.
    from websocket import _http, _socket, _url

    assert _http.proxy_info(http_proxy_host="p", http_proxy_port=3).proxy_port == 3
    assert inspect.signature(_url.get_proxy_info).parameters.keys() >= {
        "hostname",
        "is_secure",
        "proxy_host",
        "proxy_port",
        "proxy_auth",
        "no_proxy",
    }
    assert all(len(option) == 3 for option in _socket.DEFAULT_SOCKET_OPTION)


def test_connect_uses_a_given_socket_as_it_is() -> None:
    # The finished, pinned TLS socket goes to websocket-client as socket=.
    from websocket import _http

    source = inspect.getsource(_http.connect)
    assert "if socket:" in source
    assert "return socket, (hostname, port_from_url, resource)" in source


def test_python_socks_reaches_the_proxy_through_forward() -> None:
    # python-socks' forward= hop is how pinws hands it a socket it opened.
    from python_socks.sync import Proxy

    assert "forward" in inspect.signature(Proxy).parameters
    assert "self._forward.connect(" in inspect.getsource(Proxy.connect)


def test_frame_reader_state_the_fast_path_reads() -> None:
    ws = websocket.WebSocket()
    reader = ws.frame_buffer
    assert reader.header is None
    assert reader.recv_buffer == []
    assert hasattr(reader.lock, "__enter__")
    assert isinstance(reader.skip_utf8_validation, bool)
    continuation = ws.cont_frame
    assert continuation.cont_data is None
    assert isinstance(continuation.fire_cont_frame, bool)
    assert isinstance(continuation.skip_utf8_validation, bool)
    from websocket._utils import validate_utf8

    assert validate_utf8(b"ok")
    assert not validate_utf8(b"\xff")
