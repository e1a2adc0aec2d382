"""The benchmark's WebSocket server, run in its own process.

``python -m bench.server CONFIG``: CONFIG is a JSON file naming one
certificate chain per listener. The server listens on 127.0.0.1 (ephemeral
ports), prints ``{"ports": {name: port}}`` as one line on stdout, and runs
until its standard input closes (so it never outlives the suite) or
``MAX_LIFETIME`` seconds pass.

It is built to stay out of the way of the clients it serves: one thread per
connection, TLS through the standard library's ``ssl.SSLObject`` on memory
BIOs (so many TLS records leave in one ``send`` system call), frames
pre-encoded, unmasking in websockets' C speedups. Each message the server
sends is still its own TLS record, as a server that writes every message as
it is produced sends it.

Routes (binary messages only, no extensions, no pings):

* ``/echo`` sends every message back;
* ``/stream?count=N&size=S`` waits for one message, then sends N messages
  of S bytes;
* ``/sink?count=N`` reads N messages, then sends one message ``b"done"``;
* ``/hold`` keeps the connection open, idle, until the client closes it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import ssl
import sys
import threading
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from .worker import raise_fd_limit

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets without its C extension

    def apply_mask(data: bytes, mask: bytes) -> bytes:
        size = len(data)
        key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
        return (int.from_bytes(data, "big") ^ key).to_bytes(size, "big")


MAX_LIFETIME = 3600.0
SCALE_FDS = 4096
IDLE_TIMEOUT = 120.0  # a connection nobody talks to for this long is dropped
# Ciphertext collected before a send: under glibc's mmap threshold
# (128 KiB), so reading it out of the BIO reuses heap memory instead of
# faulting in fresh pages for every flush.
FLUSH_AT = 64 * 1024
# Plaintext handed to the TLS layer in one write: a multiple of a record's
# 16 KiB, so the records are those of one large write.
WRITE_SLICE = 64 * 1024
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload: bytes, opcode: int = 0x2) -> bytes:
    """An unmasked, final WebSocket frame (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        header = bytes([0x80 | opcode, size])
    elif size < 65536:
        header = bytes([0x80 | opcode, 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 127]) + size.to_bytes(8, "big")
    return header + payload


class Closed(Exception):
    """The peer closed the connection (or sent a close frame)."""


class TLSStream:
    """A server-side TLS connection on memory BIOs over a blocking socket."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.buffer = bytearray()
        self.chunk = bytearray(16384)  # one TLS record's worth of plaintext
        # Reused: a fresh buffer this large per recv is an mmap and page
        # faults every time.
        self.raw = bytearray(262144)

    def flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def _fill(self) -> None:
        count = self.sock.recv_into(self.raw)
        if not count:
            raise Closed
        self.incoming.write(memoryview(self.raw)[:count])

    def handshake(self) -> None:
        for _ in range(100):
            try:
                self.tls.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                self._fill()
        raise Closed

    def _read_some(self) -> None:
        while True:
            try:
                count = self.tls.read(len(self.chunk), self.chunk)
            except ssl.SSLWantReadError:
                self.flush()
                self._fill()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError) as exc:
                raise Closed from exc
            if not count:
                raise Closed
            self.buffer += memoryview(self.chunk)[:count]
            return

    def read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._read_some()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_until(self, marker: bytes, limit: int = 65536) -> bytes:
        while marker not in self.buffer:
            if len(self.buffer) > limit:
                raise Closed
            self._read_some()
        end = self.buffer.index(marker) + len(marker)
        data = bytes(self.buffer[:end])
        del self.buffer[:end]
        return data

    def write(self, data: bytes, flush: bool = True) -> None:
        if len(data) <= WRITE_SLICE:
            self.tls.write(data)
        else:
            view = memoryview(data)
            for start in range(0, len(data), WRITE_SLICE):
                self.tls.write(view[start : start + WRITE_SLICE])
                if self.outgoing.pending >= FLUSH_AT:
                    self.flush()
        if flush or self.outgoing.pending >= FLUSH_AT:
            self.flush()


class WebSocket:
    """Just enough server-side RFC 6455 for the benchmark."""

    def __init__(self, stream: TLSStream) -> None:
        self.stream = stream
        self.path = "/"

    def accept(self) -> None:
        request = self.stream.read_until(b"\r\n\r\n").decode("latin-1")
        lines = request.split("\r\n")
        self.path = lines[0].split(" ")[1]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        key = headers["sec-websocket-key"].encode()
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        self.stream.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )

    def recv(self) -> bytes:
        """The next data message (fragments joined); Closed on a close frame."""
        parts = []
        while True:
            first, second = self.stream.read_exactly(2)
            size = second & 0x7F
            if size == 126:
                size = int.from_bytes(self.stream.read_exactly(2), "big")
            elif size == 127:
                size = int.from_bytes(self.stream.read_exactly(8), "big")
            mask = self.stream.read_exactly(4) if second & 0x80 else b""
            payload = self.stream.read_exactly(size)
            if mask:
                payload = apply_mask(payload, mask)
            opcode = first & 0x0F
            if opcode == 0x8:
                self.stream.write(frame(payload[:2], 0x8))
                raise Closed
            if opcode == 0x9:
                self.stream.write(frame(payload, 0xA))
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if first & 0x80:
                return b"".join(parts)

    def skip(self) -> None:
        """Read and discard the next data message without copying it."""
        buffer = self.stream.buffer
        while True:
            first, second = self.stream.read_exactly(2)
            size = second & 0x7F
            if size == 126:
                size = int.from_bytes(self.stream.read_exactly(2), "big")
            elif size == 127:
                size = int.from_bytes(self.stream.read_exactly(8), "big")
            if second & 0x80:
                self.stream.read_exactly(4)
            if first & 0x0F >= 0x8:
                raise Closed  # the benchmark's clients send no control frames here
            while size:
                if not buffer:
                    self.stream._read_some()
                taken = min(size, len(buffer))
                del buffer[:taken]
                size -= taken
            if first & 0x80:
                return

    def send(self, payload: bytes, flush: bool = True) -> None:
        self.stream.write(frame(payload), flush)


def _params(path: str) -> dict[str, int]:
    query = parse_qs(urlsplit(path).query)
    return {key: int(values[0]) for key, values in query.items()}


def serve_connection(sock: socket.socket, context: ssl.SSLContext) -> None:
    sock.settimeout(IDLE_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream = TLSStream(sock, context)
    try:
        stream.handshake()
        ws = WebSocket(stream)
        ws.accept()
        route = urlsplit(ws.path).path
        if route == "/echo":
            while True:
                ws.send(ws.recv())
        elif route == "/stream":
            params = _params(ws.path)
            ws.recv()
            encoded = frame(b"\x5a" * params["size"])
            for _ in range(params["count"]):
                stream.write(encoded, flush=False)
            stream.flush()
        elif route == "/sink":
            params = _params(ws.path)
            for _ in range(params["count"]):
                ws.skip()
            ws.send(b"done")
        while True:  # /hold, and after the others: until the client closes
            ws.recv()
    except (Closed, OSError, ssl.SSLError, ValueError, KeyError, IndexError):
        pass
    finally:
        sock.close()


def listen(context: ssl.SSLContext) -> socket.socket:
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)

    def accept_loop() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(
                target=serve_connection, args=(sock, context), daemon=True
            ).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return listener


def main(config: dict[str, Any]) -> None:
    # The scale group holds a thousand connections, a socket each.
    raise_fd_limit(SCALE_FDS)
    listeners = {}
    for name, files in config["chains"].items():
        # A server context on every Python (3.9's create_default_context
        # makes a generic one, which refuses num_tickets).
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(files["cert_chain"], files["key"])
        # No TLS 1.3 session tickets: full handshakes for every client, and
        # a ticket arriving while websockets' sync client writes its
        # Upgrade request from another thread trips that client's
        # concurrent-SSLSocket race (see bench/clients.py), hanging it.
        # The one exception: the listener of the resumed-connect metric,
        # which only pinws connects to.
        if not files.get("tickets"):
            context.num_tickets = 0
        listeners[name] = listen(context)
    ports = {name: sock.getsockname()[1] for name, sock in listeners.items()}
    print(json.dumps({"ports": ports}), flush=True)
    done = threading.Event()

    def watch_stdin() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait(MAX_LIFETIME)
    for sock in listeners.values():
        sock.close()


if __name__ == "__main__":
    config_path: Optional[str] = sys.argv[1] if len(sys.argv) > 1 else None
    if config_path is None:
        raise SystemExit("usage: python -m bench.server CONFIG.json")
    with open(config_path, encoding="utf-8") as handle:
        main(json.load(handle))
