"""pinws formats frames byte for byte as websocket-client does.

pinws masks payloads its own (quicker) way; what goes on the wire must be
exactly what websocket-client's ``ABNF.format`` produces for the same frame
and mask key, at every length class and for every opcode.
"""

from __future__ import annotations

import os

import pytest
from websocket import ABNF

import pinws
from helpers.pki import Chain, unrelated_pin
from helpers.rawws import RawWebSocketServer
from helpers.timing import WAIT
from pinws._client.frames import format_frame, mask_into, new_mask_key

LENGTHS = [0, 1, 3, 4, 5, 125, 126, 127, 1000, 1023, 1024, 1025, 4097]
LENGTHS += [65535, 65536, 70001, 1 << 20]


def with_key(frame: ABNF, key: bytes) -> ABNF:
    frame.get_mask_key = lambda size: key
    return frame


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize(
    "opcode", [ABNF.OPCODE_TEXT, ABNF.OPCODE_BINARY, ABNF.OPCODE_PING]
)
def test_the_bytes_are_websocket_clients(length: int, opcode: int) -> None:
    payload = os.urandom(length)
    key = os.urandom(4)
    ours = format_frame(with_key(ABNF.create_frame(payload, opcode), key))
    stock = with_key(ABNF.create_frame(payload, opcode), key).format()
    assert bytes(ours) == stock


@pytest.mark.parametrize("fin", [0, 1])
@pytest.mark.parametrize("rsv", [(0, 0, 0), (1, 0, 1)])
def test_flags_are_kept(fin: int, rsv: tuple[int, int, int]) -> None:
    key = b"\x01\x02\x03\x04"
    frames = [
        with_key(ABNF(fin, *rsv, ABNF.OPCODE_CONT, 1, b"abc"), key) for _ in range(2)
    ]
    assert bytes(format_frame(frames[0])) == frames[1].format()


def test_malformed_frames_fail_as_websocket_client_fails() -> None:
    with pytest.raises(ValueError, match="not 0 or 1"):
        format_frame(ABNF(2, 0, 0, 0, ABNF.OPCODE_TEXT, 1, b"x"))
    with pytest.raises(ValueError, match="Invalid OPCODE"):
        format_frame(ABNF(1, 0, 0, 0, 0x3, 1, b"x"))


def test_unusual_frames_are_left_to_websocket_client() -> None:
    # A text mask key, str data, an unmasked frame: websocket-client's own
    # formatting, whatever it makes of them.
    text_key = with_key(ABNF.create_frame(b"data", ABNF.OPCODE_BINARY), "abcd")  # type: ignore[arg-type]
    assert format_frame(text_key) == text_key.format()
    unmasked = ABNF(1, 0, 0, 0, ABNF.OPCODE_BINARY, 0, b"plain")
    assert format_frame(unmasked) == unmasked.format()


def test_the_mask_key_comes_from_the_frame_every_time() -> None:
    keys = iter([b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"])
    frame = ABNF.create_frame(b"\x00" * 8, ABNF.OPCODE_BINARY)
    frame.get_mask_key = lambda size: next(keys)
    assert (
        bytes(format_frame(frame))[2:] == b"\x00\x00\x00\x01" + b"\x00\x00\x00\x01" * 2
    )
    assert (
        bytes(format_frame(frame))[2:] == b"\x00\x00\x00\x02" + b"\x00\x00\x00\x02" * 2
    )


@pytest.mark.parametrize("offset", [0, 3, 10])
@pytest.mark.parametrize("length", [0, 7, 1023, 1024, 5000])
def test_masking_writes_only_its_span(offset: int, length: int) -> None:
    payload = os.urandom(length)
    key = os.urandom(4)
    out = bytearray(b"\xaa" * (offset + length + 3))
    mask_into(out, offset, key, payload)
    assert out[:offset] == b"\xaa" * offset
    assert out[offset + length :] == b"\xaa" * 3
    assert bytes(out[offset : offset + length]) == ABNF.mask(key, payload)


# -- PinnedWebSocket.send: the same frames on the wire -------------------------


def stock_frame(payload: object, opcode: int, key: bytes) -> bytes:
    frame = ABNF.create_frame(payload, opcode)
    frame.get_mask_key = lambda size: key
    return frame.format()


def test_send_puts_websocket_clients_frames_on_the_wire(chain: Chain) -> None:
    keys = [os.urandom(4) for _ in range(6)]
    handed_out = iter(keys)
    server = RawWebSocketServer(chain.server_context())
    try:
        ws = pinws.create_connection(
            server.url(),
            pins=[chain.leaf_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
            get_mask_key=lambda size: next(handed_out),
        )
        assert server.upgraded.wait(WAIT)
        big = os.urandom(70_000)
        sent = [
            ("héllo", ABNF.OPCODE_TEXT),
            (b"\x00\x01", ABNF.OPCODE_BINARY),
            (bytearray(b"array"), ABNF.OPCODE_BINARY),
            (big, ABNF.OPCODE_BINARY),
            (b"ping!", ABNF.OPCODE_PING),
            ("", ABNF.OPCODE_TEXT),
        ]
        sizes = [ws.send(payload, opcode) for payload, opcode in sent]
        received = server.wait_received(len(sent), WAIT)
        expected = [
            stock_frame(bytes(p) if isinstance(p, bytearray) else p, opcode, key)
            for (p, opcode), key in zip(sent, keys)
        ]
        assert received == expected  # one key per message, in order
        assert sizes == [len(frame) for frame in expected]
        ws.close()
    finally:
        server.close()


def test_mask_keys_are_fresh_and_never_repeat_a_run() -> None:
    keys = [new_mask_key() for _ in range(5000)]  # several pool refills
    assert all(len(key) == 4 for key in keys)
    # 5 000 draws from 2**32 values: a repeat is a one-in-a-thousand event,
    # a refill that hands out the same pool again would repeat them all.
    assert len(set(keys)) > 4990
    assert len(new_mask_key(4097)) == 4097


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_does_not_repeat_its_parents_keys() -> None:
    new_mask_key()  # the pool is filled
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(write, b"".join(new_mask_key() for _ in range(8)))
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read, "rb") as pipe:
        theirs = pipe.read()
    ours = b"".join(new_mask_key() for _ in range(8))
    assert theirs != ours
