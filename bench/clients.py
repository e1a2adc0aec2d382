"""The clients under test, each behind the same small set of operations.

Every operation opens its own connection(s), times only the part it is
named after, and returns seconds. Sockets carry ``TIMEOUT`` so that no
operation can hang; the operations loop a given number of times only.

* ``pinws``: :func:`pinws.create_connection`, pins on the intermediate
  (a prebuilt :class:`pinws.PinSet`: the intermediate's pin and a backup).
* ``websocket-client-tuned``: :func:`websocket.create_connection` over the
  standard library's ``ssl`` with one :class:`ssl.SSLContext`, built once
  from the run's own roots only (a small trust store) and passed as
  ``sslopt={"context": ctx}``: how a careful user runs it. Verifies chain
  and host name, unpinned. **The baseline** (``BASELINE``), the one the
  targets are measured against.
* ``websocket-client``: the same with ``sslopt={"ca_certs": bundle}``, its
  documented configuration, which builds a new context and loads certifi's
  whole bundle for every connection (``CERTIFI_BASELINE``). Ratios to it
  are reported too.
* ``floor``: not a library -- a hand-written WebSocket client loop on a
  blocking :class:`ssl.SSLSocket` (the tuned baseline's context), masking
  in websockets' C extension: about the least a client can cost, so what
  is left is the server, the kernel and TLS.
* ``websockets``: ``websockets.sync.client.connect`` with one
  :class:`ssl.SSLContext`, built once, as its documentation shows.
* ``aiohttp``: ``ClientSession.ws_connect(ssl=aiohttp.Fingerprint(...))``.
  aiohttp's fingerprint mode pins the SHA-256 of the leaf's DER, and its
  context does *not* verify the chain or the host name.

All but the tuned baseline and the floor use the same trust store file
(certifi's bundle plus the run's root).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import os
import socket
import ssl
import time
from collections.abc import Sequence
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

__all__ = [
    "BASELINE",
    "CERTIFI_BASELINE",
    "CLIENTS",
    "ClientSettings",
    "make_client",
]

TIMEOUT = 30.0
# websockets' sync client reads and writes one ssl.SSLSocket from two threads
# at once, which intermittently breaks its opening handshake over TLS 1.3
# (python-websockets/websockets#1648, CPython gh-137583). Failed opens are
# retried this many times in all and counted in the results.
ATTEMPTS = 3
# ... and instead of failing, a broken open sometimes waits for a response
# that never comes: bound that wait tighter than TIMEOUT.
WEBSOCKETS_OPEN_TIMEOUT = 5.0
BASELINE = "websocket-client-tuned"
CERTIFI_BASELINE = "websocket-client"
CLIENTS = (
    "pinws",
    "websocket-client-tuned",
    "websocket-client",
    "floor",
    "websockets",
    "aiohttp",
)


@dataclasses.dataclass
class ClientSettings:
    """What a client needs to reach the benchmark server."""

    bundle: str  # certifi's bundle plus the run's roots
    pins: list[str]
    leaf_sha256: bytes
    roots: str  # the run's roots only: the tuned baseline's trust store


class SyncClient:
    """A blocking client: open, send, recv, close; the operations on top."""

    name = ""
    failed_opens = 0

    def open(self, url: str) -> Any:
        raise NotImplementedError

    def open_retrying(self, url: str) -> tuple[float, Any]:
        """Open a connection; return (seconds the successful attempt took, it)."""
        for attempt in range(ATTEMPTS):
            start = time.perf_counter()
            try:
                conn = self.open(url)
            except Exception:
                self.failed_opens += 1
                if attempt == ATTEMPTS - 1:
                    raise
                continue
            return time.perf_counter() - start, conn
        raise AssertionError("unreachable")

    def send(self, conn: Any, data: bytes) -> None:
        raise NotImplementedError

    def recv(self, conn: Any) -> bytes:
        raise NotImplementedError

    def close(self, conn: Any) -> None:
        conn.close()

    # -- operations ------------------------------------------------------------

    def connect_times(self, url: str, count: int) -> list[float]:
        times = []
        for _ in range(count):
            seconds, conn = self.open_retrying(url)
            times.append(seconds)
            self.close(conn)
        return times

    def echo(self, url: str, count: int, size: int) -> float:
        _, conn = self.open_retrying(url)
        payload = b"\x01" * size
        try:
            start = time.perf_counter()
            for _ in range(count):
                self.send(conn, payload)
                self.recv(conn)
            return time.perf_counter() - start
        finally:
            self.close(conn)

    def receive(self, url: str, count: int) -> float:
        _, conn = self.open_retrying(url)
        try:
            start = time.perf_counter()
            self.send(conn, b"go")
            for _ in range(count):
                self.recv(conn)
            return time.perf_counter() - start
        finally:
            self.close(conn)

    def send_many(self, url: str, count: int, size: int) -> float:
        _, conn = self.open_retrying(url)
        payload = b"\x02" * size
        try:
            start = time.perf_counter()
            for _ in range(count):
                self.send(conn, payload)
            if self.recv(conn) != b"done":
                raise RuntimeError("the sink did not confirm")
            return time.perf_counter() - start
        finally:
            self.close(conn)

    def open_many(
        self, url: str, count: int, concurrent: bool
    ) -> tuple[float, list[Any]]:
        """Open *count* connections; return (seconds, connections)."""
        if not concurrent:
            start = time.perf_counter()
            conns = [self.open_retrying(url)[1] for _ in range(count)]
            return time.perf_counter() - start, conns
        import threading

        results: list[Any] = [None] * count
        errors: list[BaseException] = []
        barrier = threading.Barrier(count + 1, timeout=TIMEOUT)

        def worker(index: int) -> None:
            try:
                barrier.wait()
                results[index] = self.open_retrying(url)[1]
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        barrier.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join(TIMEOUT)
        elapsed = time.perf_counter() - start
        if errors:
            raise RuntimeError(f"{len(errors)} connections failed: {errors[0]!r}")
        return elapsed, results

    def close_many(self, conns: Sequence[Any]) -> None:
        for conn in conns:
            self.close(conn)


class PinwsClient(SyncClient):
    name = "pinws"

    def __init__(self, settings: ClientSettings) -> None:
        import pinws

        self._pinws = pinws
        self.bundle = settings.bundle
        self.pins = pinws.PinSet(settings.pins)
        # For the ct metrics: a pinws.CTPolicy, or a function making a new
        # one for every connection (which then remembers no signature).
        self.ct: Optional[Any] = None
        # Full handshakes, as every other client makes; only the
        # resumed-connect metric turns resumption on.
        self.resume_sessions = False

    def open(self, url: str) -> Any:
        ct = self.ct() if callable(self.ct) else self.ct
        return self._pinws.create_connection(
            url,
            pins=self.pins,
            ca_certs=self.bundle,
            timeout=TIMEOUT,
            ct=ct,
            resume_sessions=self.resume_sessions,
        )

    def send(self, conn: Any, data: bytes) -> None:
        conn.send_binary(data)

    def recv(self, conn: Any) -> bytes:
        data: bytes = conn.recv()
        return data


class WebsocketClientClient(PinwsClient):
    name = "websocket-client"

    def __init__(self, settings: ClientSettings) -> None:
        import websocket

        self._websocket = websocket
        self.bundle = settings.bundle

    def open(self, url: str) -> Any:
        return self._websocket.create_connection(
            url, sslopt={"ca_certs": self.bundle}, timeout=TIMEOUT
        )


class TunedWebsocketClientClient(WebsocketClientClient):
    name = "websocket-client-tuned"

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings)
        self.context = ssl.create_default_context(cafile=settings.roots)

    def open(self, url: str) -> Any:
        return self._websocket.create_connection(
            url, sslopt={"context": self.context}, timeout=TIMEOUT
        )


GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FloorConnection:
    """A WebSocket connection reduced to a buffer over a blocking SSLSocket."""

    def __init__(
        self, sock: ssl.SSLSocket, buffered: bytes, mask: Any, chunk: memoryview
    ) -> None:
        self.sock = sock
        self.buffer = bytearray(buffered)
        self.chunk = chunk  # the client's scratch buffer, shared: see FloorClient
        self.mask = mask

    def _fill(self, size: int) -> None:
        chunk = self.chunk
        while len(self.buffer) < size:
            count = self.sock.recv_into(chunk)
            if not count:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk[:count]

    def _take(self, size: int) -> Any:
        if size > len(self.chunk):
            # A large payload: read straight into its own buffer, one copy.
            payload = bytearray(size)
            view = memoryview(payload)
            have = min(size, len(self.buffer))
            view[:have] = self.buffer[:have]
            del self.buffer[:have]
            while have < size:
                count = self.sock.recv_into(view[have:])
                if not count:
                    raise ConnectionError("the server closed the connection")
                have += count
            return payload
        self._fill(size)
        with memoryview(self.buffer) as buffered:
            data = bytes(buffered[:size])
        del self.buffer[:size]
        return data

    def send(self, payload: bytes, opcode: int = 0x2) -> None:
        size = len(payload)
        if size < 126:
            header = bytes([0x80 | opcode, 0x80 | size])
        elif size < 65536:
            header = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
        key = os.urandom(4)
        self.sock.sendall(header + key + self.mask(payload, key))

    def recv(self) -> Any:
        """The next message (the server sends unfragmented, unmasked frames).

        bytes, or a bytearray for a payload larger than 64 KiB.
        """
        first, second = self._take(2)
        size = second & 0x7F
        if size == 126:
            size = int.from_bytes(self._take(2), "big")
        elif size == 127:
            size = int.from_bytes(self._take(8), "big")
        if first & 0x0F == 0x8:
            raise ConnectionError("the server sent a close frame")
        return self._take(size)

    def close(self) -> None:
        try:
            self.send((1000).to_bytes(2, "big"), opcode=0x8)
        except OSError:
            pass
        self.sock.close()


class FloorClient(SyncClient):
    name = "floor"

    def __init__(self, settings: ClientSettings) -> None:
        from websockets.speedups import apply_mask

        self.mask = apply_mask
        self.context = ssl.create_default_context(cafile=settings.roots)
        # One scratch buffer for every connection's reads: no operation here
        # reads two connections of one client at once, and a 64 KiB buffer
        # per connection would make the floor's idle memory its own.
        self.chunk = memoryview(bytearray(65536))

    def open(self, url: str) -> FloorConnection:
        parts = urlsplit(url)
        host, port = parts.hostname or "localhost", parts.port or 443
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock = self.context.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise
        key = base64.b64encode(os.urandom(16))
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n".encode()
            + b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            + b"Sec-WebSocket-Key: "
            + key
            + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(4096)
            if not chunk or len(response) > 65536:
                sock.close()
                raise ConnectionError("no Upgrade response")
            response += chunk
        head, rest = response.split(b"\r\n\r\n", 1)
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        if not head.startswith(b"HTTP/1.1 101") or accept not in head:
            sock.close()
            raise ConnectionError(f"bad Upgrade response: {head[:80]!r}")
        return FloorConnection(sock, rest, self.mask, self.chunk)

    def send(self, conn: FloorConnection, data: bytes) -> None:
        conn.send(data)

    def recv(self, conn: FloorConnection) -> Any:
        return conn.recv()


class WebsocketsClient(SyncClient):
    name = "websockets"

    def __init__(self, settings: ClientSettings) -> None:
        from websockets.sync.client import connect

        self._connect = connect
        self.context = ssl.create_default_context(cafile=settings.bundle)

    def open(self, url: str) -> Any:
        return self._connect(
            url,
            ssl=self.context,
            compression=None,
            max_size=None,
            proxy=None,
            open_timeout=WEBSOCKETS_OPEN_TIMEOUT,
            ping_interval=None,
        )

    def send(self, conn: Any, data: bytes) -> None:
        conn.send(data)

    def recv(self, conn: Any) -> bytes:
        data: bytes = conn.recv(timeout=TIMEOUT)
        return data


class AiohttpClient:
    """aiohttp in its own event loop; each operation is one coroutine."""

    name = "aiohttp"
    failed_opens = 0

    def __init__(self, settings: ClientSettings) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self.fingerprint = aiohttp.Fingerprint(settings.leaf_sha256)

    def _session(self) -> Any:
        # limit=0: the connector's default pool of 100 would make the 101st
        # held connection wait for one of the others to close.
        return self._aiohttp.ClientSession(
            connector=self._aiohttp.TCPConnector(limit=0),
            timeout=self._aiohttp.ClientTimeout(total=TIMEOUT),
        )

    async def _open(self, session: Any, url: str) -> Any:
        return await session.ws_connect(
            url, ssl=self.fingerprint, max_msg_size=0, autoping=False
        )

    def _run(self, body: Callable[[Any], Any]) -> Any:
        async def main() -> Any:
            async with self._session() as session:
                return await asyncio.wait_for(body(session), TIMEOUT * 4)

        return asyncio.run(main())

    def connect_times(self, url: str, count: int) -> list[float]:
        async def body(session: Any) -> list[float]:
            times = []
            for _ in range(count):
                start = time.perf_counter()
                ws = await self._open(session, url)
                times.append(time.perf_counter() - start)
                await ws.close()
            return times

        result: list[float] = self._run(body)
        return result

    def echo(self, url: str, count: int, size: int) -> float:
        async def body(session: Any) -> float:
            ws = await self._open(session, url)
            payload = b"\x01" * size
            try:
                start = time.perf_counter()
                for _ in range(count):
                    await ws.send_bytes(payload)
                    await ws.receive_bytes()
                return time.perf_counter() - start
            finally:
                await ws.close()

        result: float = self._run(body)
        return result

    def receive(self, url: str, count: int) -> float:
        async def body(session: Any) -> float:
            ws = await self._open(session, url)
            try:
                start = time.perf_counter()
                await ws.send_bytes(b"go")
                for _ in range(count):
                    await ws.receive_bytes()
                return time.perf_counter() - start
            finally:
                await ws.close()

        result: float = self._run(body)
        return result

    def send_many(self, url: str, count: int, size: int) -> float:
        async def body(session: Any) -> float:
            ws = await self._open(session, url)
            payload = b"\x02" * size
            try:
                start = time.perf_counter()
                for _ in range(count):
                    await ws.send_bytes(payload)
                if await ws.receive_bytes() != b"done":
                    raise RuntimeError("the sink did not confirm")
                return time.perf_counter() - start
            finally:
                await ws.close()

        result: float = self._run(body)
        return result

    def measure_held(
        self,
        url: str,
        warmup: int,
        count: int,
        concurrent: bool,
        rss: Callable[[], int],
    ) -> dict[str, float]:
        """Open *count* connections in one loop and measure them held open."""

        async def body(session: Any) -> dict[str, float]:
            for ws in [await self._open(session, url) for _ in range(warmup)]:
                await ws.close()
            import gc

            gc.collect()
            before = rss()
            start = time.perf_counter()
            if concurrent:
                held = await asyncio.gather(
                    *(self._open(session, url) for _ in range(count))
                )
            else:
                held = [await self._open(session, url) for _ in range(count)]
            elapsed = time.perf_counter() - start
            gc.collect()
            after = rss()
            for ws in held:
                await ws.close()
            return {"seconds": elapsed, "rss_before": before, "rss_after": after}

        result: dict[str, float] = self._run(body)
        return result


def make_client(name: str, settings: ClientSettings) -> Any:
    """The client called *name*; ImportError if its library is missing."""
    factories: dict[str, Callable[[ClientSettings], Any]] = {
        "pinws": PinwsClient,
        "websocket-client": WebsocketClientClient,
        "websocket-client-tuned": TunedWebsocketClientClient,
        "floor": FloorClient,
        "websockets": WebsocketsClient,
        "aiohttp": AiohttpClient,
    }
    return factories[name](settings)


def library_versions() -> dict[str, Optional[str]]:
    """Versions of every library the suite measures or depends on."""
    from importlib import metadata

    versions: dict[str, Optional[str]] = {}
    for dist in (
        "pinws",
        "websocket-client",
        "websockets",
        "aiohttp",
        "pyOpenSSL",
        "cryptography",
        "trustme",
        "certifi",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    if versions["pinws"] is None:
        try:
            import pinws

            versions["pinws"] = pinws.__version__ + " (source tree)"
        except (ImportError, AttributeError):
            pass
    return versions
