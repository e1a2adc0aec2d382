"""pinws's frame fast path decodes exactly what websocket-client decodes.

The same bytes are served to websocket-client over the standard library's
ssl (its own frame reader) and to pinws (whole frames parsed in place from
the socket's buffer, websocket-client's reader for the rest); both must see
the same frames, or fail with the same exception.
"""

from __future__ import annotations

import struct

import pytest
import websocket

import pinws
from helpers.pki import Chain, unrelated_pin
from helpers.rawws import RawWebSocketServer, frame
from helpers.timing import WAIT


def masked(payload: bytes, opcode: int = 0x1) -> bytes:
    key = b"\x01\x02\x03\x04"
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    header = bytes([0x80 | opcode])
    length = len(payload)
    if length < 126:
        header += bytes([0x80 | length])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", length)
    return header + key + body


def fragment(payload: bytes, opcode: int, fin: bool) -> bytes:
    return bytes([(0x80 if fin else 0) | opcode, len(payload)]) + payload


CLOSE = frame(struct.pack("!H", 1000), opcode=0x8)

SCENARIOS = {
    "mixed": [
        frame(b"hello"),
        frame(b"\x00" * 300, opcode=0x2),
        fragment(b"frag", 0x1, fin=False),
        frame(b"ping!", opcode=0x9),
        fragment(b"mented", 0x0, fin=True),
        masked("mäsked".encode()),
        frame("é".encode() * 20),
        frame(b"", opcode=0x2),
        CLOSE,
    ],
    "large": [frame(bytes(range(256)) * 300, opcode=0x2), frame(b"after"), CLOSE],
    "bad-utf8": [frame(b"ok"), frame(b"\xff\xfe")],
    "bad-utf8-fragmented": [
        fragment(b"\xc3", 0x1, fin=False),
        fragment(b"(", 0x0, fin=True),
    ],
    "rsv-bit": [bytes([0xC1, 2]) + b"hi"],
    "lone-continuation": [fragment(b"x", 0x0, fin=True)],
    "bad-opcode": [bytes([0x83, 1]) + b"x"],
}


def collect(ws: websocket.WebSocket, limit: int = 20) -> list[object]:
    seen: list[object] = []
    for _ in range(limit):
        try:
            opcode, received = ws.recv_data_frame(True)
        except websocket.WebSocketException as exc:
            seen.append(type(exc).__name__)
            return seen
        seen.append((opcode, received.data))
        if opcode == 0x8:
            return seen
    return seen


def play(server: RawWebSocketServer, data: bytes, split: str) -> None:
    assert server.upgraded.wait(WAIT)
    assert server.connection is not None
    if split == "one-write" and len(data) <= 16384:
        server.send_in_one_write(data)
    elif split == "bytewise-records":
        # Every frame boundary falls inside a TLS record and frames span
        # records: the fast path must hand over to websocket-client's reader.
        server.send(*(data[i : i + 7] for i in range(0, len(data), 7)))
    else:
        server.send(data)


@pytest.mark.parametrize("split", ["one-write", "bytewise-records"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_pinws_decodes_what_websocket_client_decodes(
    chain: Chain, name: str, split: str
) -> None:
    data = b"".join(SCENARIOS[name])
    results = []
    for client in ("websocket-client", "pinws"):
        server = RawWebSocketServer(chain.server_context())
        try:
            if client == "pinws":
                ws: websocket.WebSocket = pinws.create_connection(
                    server.url(),
                    pins=[chain.leaf_pin, unrelated_pin()],
                    ca_certs=chain.ca_file,
                    timeout=WAIT,
                )
            else:
                ws = websocket.create_connection(
                    server.url(), sslopt={"ca_certs": chain.ca_file}, timeout=WAIT
                )
            play(server, data, split)
            results.append(collect(ws))
            ws.shutdown()
        finally:
            server.close()
    stock, pinned = results
    assert pinned == stock
    assert stock  # the scenario produced something to compare


def pinned_client(server: RawWebSocketServer, chain: Chain) -> pinws.PinnedWebSocket:
    return pinws.create_connection(
        server.url(),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=WAIT,
    )


def test_the_fast_path_is_taken_for_whole_frames(chain: Chain) -> None:
    server = RawWebSocketServer(chain.server_context())
    try:
        ws = pinned_client(server, chain)
        calls: list[int] = []
        stock = ws.frame_buffer.recv_frame

        def counting() -> object:
            calls.append(1)
            return stock()

        ws.frame_buffer.recv_frame = counting
        play(server, b"".join(frame(f"m{i}".encode()) for i in range(50)), "one-write")
        assert [ws.recv() for _ in range(50)] == [f"m{i}" for i in range(50)]
        assert calls == []
        ws.shutdown()
    finally:
        server.close()


@pytest.mark.parametrize(
    "data",
    [
        frame(b"\xc2"),
        frame(b"ok \xe2\x82"),
        fragment(b"ok", 0x1, fin=False) + fragment(b" \xc2", 0x0, fin=True),
    ],
    ids=["whole", "whole-3-byte", "fragmented"],
)
@pytest.mark.parametrize("split", ["one-write", "bytewise-records"])
def test_text_cut_short_in_a_utf8_sequence_is_a_payload_error(
    chain: Chain, data: bytes, split: str
) -> None:
    # Found by fuzzing: websocket-client's validate_utf8 accepts a sequence
    # cut short at the end, and recv() then raised a bare UnicodeDecodeError
    # (stock websocket-client still does).
    server = RawWebSocketServer(chain.server_context())
    try:
        ws = pinned_client(server, chain)
        play(server, data, split)
        with pytest.raises(websocket.WebSocketPayloadException, match="cannot decode"):
            ws.recv()
        ws.shutdown()
    finally:
        server.close()


def test_a_long_frame_cut_by_a_timeout_is_read_whole_afterwards(chain: Chain) -> None:
    # The payload of a frame longer than what arrived is read in one call;
    # a timeout in the middle must lose nothing, header included.
    payload = bytes(range(256)) * 400  # 100 KiB: seven records
    data = frame(payload, opcode=0x2)
    server = RawWebSocketServer(chain.server_context())
    try:
        ws = pinned_client(server, chain)
        assert server.upgraded.wait(WAIT)
        server.send(data[:40_000])
        ws.settimeout(0.3)  # the timeout is what is under test
        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv()
        server.send(data[40_000:], frame(b"next"))
        ws.settimeout(WAIT)
        assert ws.recv() == payload
        assert ws.recv() == "next"
        ws.shutdown()
    finally:
        server.close()


def test_long_frames_back_to_back_keep_what_follows(chain: Chain) -> None:
    # The record that ends one long payload also carries the next frames.
    first = bytes(range(256)) * 100
    second = b"\x07" * 70_000
    data = frame(first, opcode=0x2) + frame(second, opcode=0x2) + frame(b"tail")
    server = RawWebSocketServer(chain.server_context())
    try:
        ws = pinned_client(server, chain)
        assert server.upgraded.wait(WAIT)
        server.send(data)
        assert ws.recv() == first
        assert ws.recv() == second
        assert ws.recv() == "tail"
        ws.shutdown()
    finally:
        server.close()
