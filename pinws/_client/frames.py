"""Parsing a whole WebSocket frame in place, from the socket's buffer.

websocket-client reads a frame in four ``recv`` calls (two header bytes,
the extended length, the mask, the payload), each through a lock and a
list of partial reads; for a stream of small messages that costs more
than the TLS read itself. When the socket's read-ahead buffer already
holds a whole frame, :func:`parse_frame` takes it in one step and builds
the same :class:`websocket.ABNF` object; anything else (a frame split
across TLS records) is left to websocket-client's own reader.
"""

from __future__ import annotations

import struct
from typing import Optional

from websocket import ABNF, WebSocketPayloadException

__all__ = ["check_text", "parse_frame"]

_LENGTH_16 = struct.Struct("!H")
_LENGTH_64 = struct.Struct("!Q")


def parse_frame(data: bytes, start: int) -> Optional[tuple[ABNF, int]]:
    """The frame at ``data[start:]`` and the bytes it spans, or ``None``.

    ``None`` when the buffer does not hold the whole frame yet. The frame is
    not validated; the caller validates it as websocket-client does.
    """
    available = len(data) - start
    if available < 2:
        return None
    first = data[start]
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
    end = position + length
    if len(data) < end:
        return None
    payload = data[position:end]
    if has_mask:
        payload = ABNF.mask(mask, payload)
    frame = ABNF(
        first >> 7 & 1,
        first >> 6 & 1,
        first >> 5 & 1,
        first >> 4 & 1,
        first & 0x0F,
        has_mask,
        payload,
    )
    return frame, end - start


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
