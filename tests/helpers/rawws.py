"""A bare-hands WebSocket server that writes frames exactly as told.

`websockets` writes one TLS record per frame. To test that frames which
arrive *together* in one record are all delivered at once, this server
writes many frames in a single TLS write.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import struct
import threading
from typing import Optional

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """An unmasked, final server-to-client frame."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def read_request(tls: ssl.SSLSocket) -> Optional[bytes]:
    """The client's Upgrade request, up to its blank line (None: it left)."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = tls.recv(4096)
        if not chunk:
            return None
        request += chunk
    return request


def switching_protocols(request: bytes) -> bytes:
    """The 101 response that accepts *request*'s Sec-WebSocket-Key."""
    key = b""
    for line in request.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


class RawWebSocketServer:
    """Accepts one TLS connection, answers its upgrade, then waits for orders."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.upgraded = threading.Event()
        self.connection: Optional[ssl.SSLSocket] = None
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self) -> str:
        return f"wss://localhost:{self.port}/"

    def _accept(self) -> None:
        try:
            raw, _ = self._listener.accept()
        except OSError:
            return
        tls = self._context.wrap_socket(raw, server_side=True)
        request = read_request(tls)
        if request is None:
            return
        tls.sendall(switching_protocols(request))
        self.connection = tls
        self.upgraded.set()
        self._answer_close(tls)

    def _answer_close(self, tls: ssl.SSLSocket) -> None:
        """Read client frames; answer a close frame so clients close at once."""
        buffer = b""

        def need(n: int) -> bytes:
            nonlocal buffer
            while len(buffer) < n:
                chunk = tls.recv(65536)
                if not chunk:
                    raise EOFError
                buffer += chunk
            data, buffer = buffer[:n], buffer[n:]
            return data

        try:
            while True:
                first, second = need(2)
                length = second & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", need(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", need(8))
                need(4 if second & 0x80 else 0)
                need(length)
                if first & 0x0F == 0x8:
                    tls.sendall(frame(struct.pack("!H", 1000), opcode=0x8))
                    return
        except (EOFError, OSError):
            return

    def send_in_one_write(self, data: bytes) -> None:
        assert self.connection is not None
        assert len(data) <= 16384, "keep it to one TLS record"
        self.connection.sendall(data)

    def close(self) -> None:
        self._listener.close()
        if self.connection is not None:
            try:
                self.connection.close()
            except OSError:
                pass
