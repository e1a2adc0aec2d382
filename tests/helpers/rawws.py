"""A bare-hands WebSocket server that writes frames exactly as told.

`websockets` writes one TLS record per frame. To test that frames which
arrive *together* in one record are all delivered at once, this server
writes many frames in a single TLS write.
"""

from __future__ import annotations

import base64
import hashlib
import queue
import select
import socket
import ssl
import struct
import threading
from typing import Optional

from .timing import WAIT

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


def read_request(sock: socket.socket) -> Optional[bytes]:
    """Read an HTTP request head (up to the blank line); ``None`` at EOF."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        request += chunk
    return request


def switching_protocols(request: bytes) -> bytes:
    """The 101 response that accepts *request*'s Sec-WebSocket-Key."""
    return upgrade_response(request)


def upgrade_response(request: bytes, extra_headers: bytes = b"") -> bytes:
    """The 101 answer to the WebSocket upgrade *request* (a request head)."""
    key = b""
    for line in request.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
        + accept
        + b"\r\n"
        + extra_headers
        + b"\r\n"
    )


class RawWebSocketServer:
    """Accepts one TLS connection, answers its upgrade, then writes as told.

    One thread owns the server's TLS socket and does all its reading and
    writing: the standard library's ``SSLSocket`` must not be read in one
    thread while another writes it (the record layer's state is shared, and
    a write racing a read corrupts it: "bad record mac"). The test hands it
    bytes with :meth:`send`; it writes each item in one TLS write, and
    answers the client's close frame.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.upgraded = threading.Event()
        self.connection: Optional[ssl.SSLSocket] = None
        # Every whole frame the client sent, as it came on the wire.
        self.received: list[bytes] = []
        self._arrived = threading.Condition()
        self._outbox: queue.Queue[bytes] = queue.Queue()
        self._doorbell, self._ring = socket.socketpair()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self) -> str:
        return f"wss://localhost:{self.port}/"

    def send(self, *writes: bytes) -> None:
        """Write each of *writes* to the client, in order, one TLS write each."""
        for data in writes:
            self._outbox.put(data)
        try:
            self._ring.send(b"\0")
        except OSError:
            pass  # the server has finished

    def send_in_one_write(self, data: bytes) -> None:
        assert len(data) <= 16384, "keep it to one TLS record"
        self.send(data)

    def _accept(self) -> None:
        try:
            raw, _ = self._listener.accept()
        except OSError:
            return
        try:
            tls = self._context.wrap_socket(raw, server_side=True)
            request = read_request(tls)
            if request is None:
                return
            tls.sendall(upgrade_response(request))
        except OSError:
            raw.close()  # the client went away mid-handshake
            return
        self.connection = tls
        self.upgraded.set()
        self._serve(tls)

    def _serve(self, tls: ssl.SSLSocket) -> None:
        """Write what the test queues; answer a close frame so clients close."""
        buffer = b""

        def frames() -> Optional[int]:
            """The opcode of the first whole client frame buffered, consumed."""
            nonlocal buffer
            if len(buffer) < 2:
                return None
            second = buffer[1]
            length, offset = second & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return None
                (length,), offset = struct.unpack("!H", buffer[2:4]), 4
            elif length == 127:
                if len(buffer) < 10:
                    return None
                (length,), offset = struct.unpack("!Q", buffer[2:10]), 10
            end = offset + (4 if second & 0x80 else 0) + length
            if len(buffer) < end:
                return None
            opcode = buffer[0] & 0x0F
            with self._arrived:
                self.received.append(buffer[:end])
                self._arrived.notify_all()
            buffer = buffer[end:]
            return opcode

        try:
            while True:
                readable, _, _ = select.select([tls, self._doorbell], [], [])
                if self._doorbell in readable:
                    if not self._doorbell.recv(4096):
                        return  # close()
                    while not self._outbox.empty():
                        tls.sendall(self._outbox.get())
                if tls in readable or tls.pending():
                    try:
                        chunk = tls.recv(65536)
                    except ssl.SSLWantReadError:
                        continue
                    if not chunk:
                        return
                    buffer += chunk
                    while (opcode := frames()) is not None:
                        if opcode == 0x8:
                            tls.sendall(frame(struct.pack("!H", 1000), opcode=0x8))
                            return
        except OSError:
            return

    def wait_received(self, count: int, timeout: float) -> list[bytes]:
        """The client's first *count* frames, once they have arrived."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return self.received[:count]

    def close(self) -> None:
        self._listener.close()
        self._ring.close()  # ends the server's wait
        connection = self.connection
        if connection is not None:
            try:
                connection.shutdown(socket.SHUT_RDWR)  # ends a read under way
            except OSError:
                pass
        self._thread.join(WAIT)
        self._doorbell.close()
        if connection is not None:
            connection.close()
