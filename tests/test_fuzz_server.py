"""Fuzzing what a server sends: the Upgrade response and the frames after it.

A loopback TLS server, whose certificate the client pins, completes the
handshake and then answers the Upgrade request with Hypothesis's bytes --
a response, or a valid 101 followed by arbitrary frames -- and closes.
Whatever it sends, ``create_connection`` and ``recv`` may raise only the
documented errors: PinningError and the rest of websocket-client's
WebSocketException tree, or OSError. See helpers/fuzz.py.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from typing import Optional

import pytest
import trustme
import websocket
from hypothesis import event, given
from hypothesis import strategies as st

import pinws
from helpers.fuzz import fuzz
from helpers.pki import unrelated_pin
from helpers.rawws import read_request, switching_protocols
from helpers.servers import stop_accepting
from helpers.timing import WAIT

DOCUMENTED = (pinws.PinningError, websocket.WebSocketException, OSError)


class ScriptedServer:
    """Answers each connection's Upgrade request with the current script.

    ``upgrade_first``: send a valid 101 before :attr:`payload` (to reach
    the frame reader); otherwise :attr:`payload` is the whole response.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.payload = b""
        self.upgrade_first = False
        self.answered = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self) -> str:
        return f"wss://localhost:{self.port}/"

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            payload, upgrade_first = self.payload, self.upgrade_first
            try:
                self._answer(raw, payload, upgrade_first)
            except (OSError, ssl.SSLError):
                pass
            finally:
                raw.close()
                self.answered.release()

    def _answer(self, raw: socket.socket, payload: bytes, upgrade_first: bool) -> None:
        raw.settimeout(WAIT)
        with self._context.wrap_socket(raw, server_side=True) as tls:
            request = read_request(tls)
            if request is None:
                return
            if upgrade_first:
                tls.sendall(switching_protocols(request))
            tls.sendall(payload)
            tls.shutdown(socket.SHUT_WR)
            # Let the client read it all before the socket goes away.
            while tls.recv(4096):
                pass

    def close(self) -> None:
        stop_accepting(self._listener, self._thread)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, ssl.SSLContext]:
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost")
    ca_file = tmp_path_factory.mktemp("fuzz-pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return str(ca_file), pinws.spki_pin(leaf.cert_chain_pems[0].bytes()), context


@pytest.fixture(scope="module")
def server(pki: tuple[str, str, ssl.SSLContext]) -> Iterator[ScriptedServer]:
    scripted = ScriptedServer(pki[2])
    try:
        yield scripted
    finally:
        scripted.close()


def exchange(
    server: ScriptedServer,
    pki: tuple[str, str, ssl.SSLContext],
    payload: bytes,
    *,
    upgrade_first: bool,
    reads: int = 4,
) -> Optional[BaseException]:
    """Have the server send *payload*, connect and read; return the
    documented error raised, if any (anything else fails the test)."""
    server.payload, server.upgrade_first = payload, upgrade_first
    ca_file, pin, _ = pki
    try:
        ws = pinws.create_connection(
            server.url(), pins=[pin, PIN_BACKUP], ca_certs=ca_file, timeout=WAIT
        )
        try:
            for _ in range(reads):
                event(f"received {type(ws.recv()).__name__}")
        finally:
            ws.close(timeout=0)
    except DOCUMENTED as exc:
        event(f"raised {type(exc).__name__}")
        return exc
    finally:
        assert server.answered.acquire(timeout=WAIT)
    return None


PIN_BACKUP = unrelated_pin()

# -- the Upgrade response ------------------------------------------------------

header_names = st.sampled_from(
    [
        b"Upgrade",
        b"Connection",
        b"Sec-WebSocket-Accept",
        b"Sec-WebSocket-Protocol",
        b"Location",
        b"Content-Length",
        b"Transfer-Encoding",
        b"Set-Cookie",
        b"X-Anything",
        b"",
    ]
)
header_values = st.sampled_from(
    [
        b"websocket",
        b"Upgrade",
        b"wss://localhost:1/",
        b"ws://localhost/",
        b"https://[::1/",
        b"wss://[bad/",
        b"/relative",
        b"//other.example/",
        b"wss://user@localhost:99999/",
        b"0",
        b"-1",
        b"chunked",
        b"\xff\xfe",
        b"",
    ]
) | st.binary(max_size=30)
status_lines = st.sampled_from(
    [
        b"HTTP/1.1 101 Switching Protocols",
        b"HTTP/1.1 200 OK",
        b"HTTP/1.1 301 Moved",
        b"HTTP/1.1 302 Found",
        b"HTTP/1.1 307 Temporary Redirect",
        b"HTTP/1.1 308",
        b"HTTP/1.1 401 Unauthorized",
        b"HTTP/1.0 101",
        b"HTTP/1.1 999 What",
        b"HTTP/1.1 abc",
        b"HTTP/1.1",
        b"HTTP/1.1  101",
        b"ICY 200 OK",
        b"",
    ]
) | st.binary(max_size=40)


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    lines = [draw(status_lines)]
    for _ in range(draw(st.integers(0, 5))):
        separator = draw(st.sampled_from([b": ", b":", b" : ", b"", b"::"]))
        lines.append(draw(header_names) + separator + draw(header_values))
    ending = draw(st.sampled_from([b"\r\n\r\n", b"\r\n", b"\n\n", b""]))
    return b"\r\n".join(lines) + ending + draw(st.binary(max_size=20))


@fuzz
@given(responses() | st.binary(max_size=200))
def test_any_upgrade_response_raises_only_documented_errors(
    server: ScriptedServer, pki: tuple[str, str, ssl.SSLContext], payload: bytes
) -> None:
    exchange(server, pki, payload, upgrade_first=False)


# -- frames after a valid upgrade -------------------------------------------------


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    # Mostly well-formed (text, binary, ping, pong, close, fragments), so the
    # reader gets past the first frame; sometimes any FIN/RSV/opcode byte.
    first = draw(
        st.sampled_from([0x81, 0x82, 0x89, 0x8A, 0x88, 0x01, 0x00, 0x80])
        | st.integers(0, 255)
    )
    payload = draw(st.binary(max_size=40) | st.text(max_size=20).map(str.encode))
    masked = draw(st.sampled_from([False, False, False, True]))
    length_form = draw(
        st.sampled_from(["exact", "exact", "exact", "short", "long", "huge", "lie"])
    )
    length = len(payload)
    if length_form == "short" or (length_form == "exact" and length < 126):
        header = struct.pack("!BB", first, (0x80 if masked else 0) | min(length, 125))
    elif length_form in ("exact", "long"):
        header = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, length)
    elif length_form == "huge":
        header = struct.pack("!BBQ", first, (0x80 if masked else 0) | 127, 1 << 62)
    else:
        lie = draw(st.integers(0, 200))
        header = struct.pack("!BB", first, (0x80 if masked else 0) | min(lie, 125))
    mask = draw(st.binary(min_size=4, max_size=4)) if masked else b""
    return header + mask + payload


@fuzz
@given(st.lists(frames(), max_size=4).map(b"".join) | st.binary(max_size=120))
def test_any_frames_after_the_upgrade_raise_only_documented_errors(
    server: ScriptedServer, pki: tuple[str, str, ssl.SSLContext], payload: bytes
) -> None:
    exchange(server, pki, payload, upgrade_first=True)


def test_the_scripted_server_can_deliver_a_message(
    server: ScriptedServer, pki: tuple[str, str, ssl.SSLContext]
) -> None:
    # The twin of the fuzz tests: a well-formed frame is received.
    server.upgrade_first = True
    server.payload = b"\x81\x05hello"
    ca_file, pin, _ = pki
    ws = pinws.create_connection(
        server.url(), pins=[pin, PIN_BACKUP], ca_certs=ca_file, timeout=WAIT
    )
    try:
        assert ws.recv() == "hello"
    finally:
        ws.close(timeout=0)
        assert server.answered.acquire(timeout=WAIT)


def test_a_wrong_pin_is_still_refused_by_the_scripted_server(
    server: ScriptedServer, pki: tuple[str, str, ssl.SSLContext]
) -> None:
    server.upgrade_first = True
    server.payload = b""
    with pytest.raises(pinws.PinMismatchError):
        pinws.create_connection(
            server.url(),
            pins=[unrelated_pin(), PIN_BACKUP],
            ca_certs=pki[0],
            timeout=WAIT,
        )
    assert server.answered.acquire(timeout=WAIT)
