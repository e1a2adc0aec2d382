"""WebSocket frames: parsed in place from the socket's buffer, and formatted.

websocket-client reads a frame in four ``recv`` calls (two header bytes,
the extended length, the mask, the payload), each through a lock and a
list of partial reads; for a stream of small messages that costs more
than the TLS read itself. When the socket's read-ahead buffer already
holds a whole frame, :func:`parse_frame` takes it in one step and builds
the same :class:`websocket.ABNF` object; a frame longer than what has
arrived has its payload read in one call (:func:`parse_header`).

Sending, websocket-client masks a payload in pure Python by turning it into
one big integer and back, three passes over a fresh copy: about 3.6 ms per
MiB here, most of the cost of sending a large message. :func:`format_frame`
masks each of the four byte lanes with ``bytes.translate`` instead (about a
quarter of the time), straight into the frame's buffer.
"""

from __future__ import annotations

import os
import struct
import threading
from typing import Optional, Union

from websocket import ABNF, WebSocketPayloadException

__all__ = [
    "FrameHeader",
    "build_frame",
    "check_text",
    "format_frame",
    "mask_into",
    "masked_frame",
    "new_mask_key",
    "parse_frame",
    "parse_header",
]

_LENGTH_16 = struct.Struct("!H")
_LENGTH_64 = struct.Struct("!Q")
_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")
_BITS = (0, 1)
# Below this, masking through one integer is quicker than four lanes.
_LANES_FROM = 1024
# _XOR_TABLES[k] maps every byte b to b ^ k (64 KiB, made on first use).
_XOR_TABLES: list[bytes] = []


def parse_frame(data: bytes, start: int) -> Optional[tuple[ABNF, int]]:
    """The frame at ``data[start:]`` and the bytes it spans, or ``None``.

    ``None`` when the buffer does not hold the whole frame yet. The frame is
    not validated; the caller validates it as websocket-client does.
    """
    parsed = parse_header(data, start)
    if parsed is None:
        return None
    header, size, length = parsed
    payload_start = start + size
    end = payload_start + length
    if len(data) < end:
        return None
    return build_frame(header, data[payload_start:end]), end - start


#: A frame header's first byte, whether the payload is masked, and its key.
FrameHeader = tuple[int, int, bytes]


def parse_header(data: bytes, start: int) -> Optional[tuple[FrameHeader, int, int]]:
    """The header at ``data[start:]``: ``(header, its size, payload length)``.

    ``None`` when the buffer does not hold the whole header yet.
    """
    available = len(data) - start
    if available < 2:
        return None
    second = data[start + 1]
    length = second & 0x7F
    position = start + 2
    if length == 126:
        if available < 4:
            return None
        (length,) = _LENGTH_16.unpack_from(data, position)
        position += 2
    elif length == 127:
        if available < 10:
            return None
        (length,) = _LENGTH_64.unpack_from(data, position)
        position += 8
    has_mask = second >> 7
    mask = b""
    if has_mask:
        if len(data) < position + 4:
            return None
        mask = data[position : position + 4]
        position += 4
    return (data[start], has_mask, mask), position - start, length


def build_frame(header: FrameHeader, payload: bytes) -> ABNF:
    """The :class:`websocket.ABNF` of a frame parsed by :func:`parse_header`."""
    first, has_mask, mask = header
    if has_mask:
        payload = ABNF.mask(mask, payload)
    return ABNF(
        first >> 7 & 1,
        first >> 6 & 1,
        first >> 5 & 1,
        first >> 4 & 1,
        first & 0x0F,
        has_mask,
        payload,
    )


def check_text(opcode: int, data: object) -> None:
    """Refuse a text message that is not valid UTF-8.

    websocket-client's own ``validate_utf8`` accepts a sequence cut short at
    the end of the message (``b"\\xc2"``), which ``recv`` then fails to
    decode with a bare :class:`UnicodeDecodeError` (found by fuzzing).

    Raises:
        websocket.WebSocketPayloadException: the text is not UTF-8, as
            websocket-client raises for the cases it does catch.
    """
    if opcode != ABNF.OPCODE_TEXT or not isinstance(data, (bytes, bytearray)):
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise WebSocketPayloadException(f"cannot decode: {bytes(data)!r}") from None


def _xor_tables() -> list[bytes]:
    if not _XOR_TABLES:
        identity = bytes(range(256))
        whole = int.from_bytes(identity, "big")
        _XOR_TABLES.extend(
            (whole ^ int.from_bytes(bytes((key,)) * 256, "big")).to_bytes(256, "big")
            for key in range(256)
        )
    return _XOR_TABLES


def mask_into(
    out: bytearray, offset: int, key: bytes, payload: Union[bytes, bytearray]
) -> None:
    """Write *payload* masked with the 4-byte *key* into ``out[offset:]``.

    *out* must hold ``len(payload)`` bytes from *offset*. The masking is
    RFC 6455's (section 5.3): byte *i* is XORed with ``key[i % 4]``.
    """
    size = len(payload)
    if size < _LANES_FROM:
        repeated = key * (size // 4 + 1)
        masked = int.from_bytes(payload, "little") ^ int.from_bytes(
            repeated[:size], "little"
        )
        out[offset : offset + size] = masked.to_bytes(size, "little")
        return
    tables = _xor_tables()
    end = offset + size
    for lane in range(4):
        out[offset + lane : end : 4] = payload[lane::4].translate(tables[key[lane]])


def format_frame(frame: ABNF) -> Union[bytes, bytearray]:
    """The bytes of *frame* on the wire, as :meth:`websocket.ABNF.format`.

    Masks with a key from ``frame.get_mask_key(4)``, as websocket-client
    does, and validates the frame the same way; the unusual cases (a text
    mask key, ``str`` data, no mask) are left to websocket-client.

    Raises:
        ValueError: a flag is not 0 or 1, the opcode is unknown, or the
            payload is too long, as websocket-client raises.
    """
    data = frame.data
    if not frame.mask_value or not isinstance(data, (bytes, bytearray)):
        return frame.format()
    if not (
        frame.fin in _BITS
        and frame.rsv1 in _BITS
        and frame.rsv2 in _BITS
        and frame.rsv3 in _BITS
    ):
        return frame.format()  # raises its own ValueError
    opcode = frame.opcode
    if opcode not in ABNF.OPCODES:
        raise ValueError("Invalid OPCODE")
    length = len(data)
    if length >= ABNF.LENGTH_63:
        raise ValueError("data is too long")
    key = frame.get_mask_key(4)
    first = (
        frame.fin << 7 | frame.rsv1 << 6 | frame.rsv2 << 5 | frame.rsv3 << 4 | opcode
    )
    if not isinstance(key, bytes) or len(key) != 4:
        # websocket-client's masking, with the key already asked for.
        return _header(first, length) + frame._get_masked(key)
    return masked_frame(first, data, key)


def _header(first: int, length: int) -> bytes:
    if length < ABNF.LENGTH_7:
        return bytes((first, 0x80 | length))
    if length < ABNF.LENGTH_16:
        return _HEADER_16.pack(first, 0xFE, length)
    return _HEADER_64.pack(first, 0xFF, length)


def masked_frame(
    first: int, payload: Union[bytes, bytearray], key: bytes
) -> Union[bytes, bytearray]:
    """A client frame: header (*first* byte, masked length), *key*, payload.

    *payload* shorter than 2**63 bytes, *key* 4 bytes; nothing is checked.
    """
    size = len(payload)
    header = _header(first, size)
    if size < _LANES_FROM:
        # Small: three short bytes objects joined beat a buffer filled in.
        masked = int.from_bytes(payload, "little") ^ int.from_bytes(
            (key * (size // 4 + 1))[:size], "little"
        )
        return header + key + masked.to_bytes(size, "little")
    start = len(header) + 4
    out = bytearray(start + len(payload))
    out[: start - 4] = header
    out[start - 4 : start] = key
    mask_into(out, start, key, payload)
    return out


class _MaskKeys:
    """Masking keys cut from one large read of the operating system's CSPRNG.

    RFC 6455 (section 5.3) wants each key unpredictable from the ones before;
    4 bytes of ``os.urandom`` output are, wherever they sit in a longer read.
    One ``getrandom`` system call per message cost about a tenth of a small
    message's round trip; one per 1 024 messages does not. A forked child
    draws afresh, so it never repeats its parent's keys.
    """

    _SIZE = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._position = 0

    def take(self, size: int = 4) -> bytes:
        with self._lock:
            position = self._position
            end = position + size
            if end > len(self._pool):
                self._pool = os.urandom(max(self._SIZE, size))
                position, end = 0, size
            self._position = end
            return self._pool[position:end]

    def reset(self) -> None:
        with self._lock:
            self._pool = b""
            self._position = 0


_MASK_KEYS = _MaskKeys()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_MASK_KEYS.reset)


def new_mask_key(size: int = 4) -> bytes:
    """*size* unpredictable bytes for a frame's masking key (as ``os.urandom``)."""
    return _MASK_KEYS.take(size)
