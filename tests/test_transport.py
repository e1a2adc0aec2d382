"""The socket adapter under load: buffering and concurrent use."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator

import pytest
from websockets.sync.server import ServerConnection

import pinws
from helpers.openssl_probe import OpenSSLProbe
from helpers.pki import Chain, unrelated_pin
from helpers.rawws import RawWebSocketServer, frame
from helpers.servers import WebSocketServer, running
from helpers.timing import PROMPT, WAIT


@pytest.fixture
def raw_server(chain: Chain) -> Iterator[RawWebSocketServer]:
    server = RawWebSocketServer(chain.server_context())
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def raw_client(chain: Chain, raw_server: RawWebSocketServer) -> pinws.PinnedWebSocket:
    """A pinned connection to *raw_server*, upgraded."""
    ws = pinws.create_connection(
        raw_server.url(),
        pins=[chain.leaf_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=WAIT,
    )
    assert raw_server.upgraded.wait(WAIT)
    return ws


def test_frames_arriving_together_are_all_delivered_by_the_app(
    chain: Chain, raw_server: RawWebSocketServer
) -> None:
    # 200 frames in ONE TLS record, then silence: if the dispatcher waited on
    # the socket while frames sat in the adapter's buffer, this would hang.
    count = 200
    received: list[str] = []
    all_received = threading.Event()

    def on_message(app: pinws.PinnedWebSocketApp, message: str) -> None:
        received.append(message)
        if len(received) == count:
            all_received.set()

    app = pinws.PinnedWebSocketApp(
        raw_server.url(),
        pins=[chain.intermediate_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        on_message=on_message,
    )
    app.start()
    try:
        assert raw_server.upgraded.wait(WAIT)
        raw_server.send_in_one_write(
            b"".join(frame(f"m{i}".encode()) for i in range(count))
        )
        assert all_received.wait(WAIT), f"only {len(received)} of {count} delivered"
        assert received == [f"m{i}" for i in range(count)]
    finally:
        app.close()
        assert app.join(WAIT)


def test_frames_arriving_together_are_all_delivered_by_recv(
    raw_server: RawWebSocketServer, raw_client: pinws.PinnedWebSocket
) -> None:
    ws = raw_client
    try:
        raw_server.send_in_one_write(
            b"".join(frame(f"m{i}".encode()) for i in range(100))
        )
        assert [ws.recv() for _ in range(100)] == [f"m{i}" for i in range(100)]
        # Everything drained: the read-ahead buffer is released.
        assert ws.sock.pending() == 0
        assert ws.sock._rbuf is None
    finally:
        ws.close()


def test_pending_counts_the_read_ahead_buffer(
    raw_server: RawWebSocketServer, raw_client: pinws.PinnedWebSocket
) -> None:
    ws = raw_client
    try:
        raw_server.send_in_one_write(frame(b"one") + frame(b"two"))
        assert ws.recv() == "one"
        assert ws.sock.pending() == len(frame(b"two"))
        assert ws.recv() == "two"
        assert ws.sock.pending() == 0
    finally:
        ws.close()


LARGE = 512 * 1024
LARGE_COUNT = 12
SENDERS = 8
PER_SENDER = 150


def _large(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * (LARGE // 32)


def large_and_echo(connection: ServerConnection) -> None:
    """Streams large binary messages while echoing every text message."""
    go = threading.Event()

    def stream() -> None:
        go.wait(WAIT)
        for i in range(LARGE_COUNT):
            connection.send(_large(i))

    streamer = threading.Thread(target=stream, daemon=True)
    streamer.start()
    for message in connection:
        if message == "go":
            go.set()
            continue
        connection.send(message)
    streamer.join(WAIT)


def test_eight_threads_send_while_large_messages_arrive(chain: Chain) -> None:
    echoes: list[str] = []
    larges: list[bytes] = []
    errors: list[object] = []
    done = threading.Event()
    expected_echoes = SENDERS * PER_SENDER

    def on_message(app: pinws.PinnedWebSocketApp, message: object) -> None:
        if isinstance(message, bytes):
            larges.append(message)
        else:
            echoes.append(message)  # type: ignore[arg-type]
        if len(echoes) == expected_echoes and len(larges) == LARGE_COUNT:
            done.set()

    opened = threading.Event()
    with running(
        WebSocketServer(chain.server_context(), handler=large_and_echo, max_size=None)
    ) as server:
        app = pinws.PinnedWebSocketApp(
            server.url(),
            pins=[chain.intermediate_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            on_open=lambda app: opened.set(),
            on_message=on_message,
            on_error=lambda app, error: errors.append(error),
        )
        app.start()
        try:
            assert opened.wait(WAIT)
            app.send("go")
            barrier = threading.Barrier(SENDERS)

            def sender(n: int) -> None:
                barrier.wait(WAIT)
                for i in range(PER_SENDER):
                    app.send(f"t{n}-{i}-" + "x" * (i % 300))

            threads = [
                threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(WAIT * 3)
            assert done.wait(WAIT * 3), (len(echoes), len(larges))
        finally:
            app.close()
            assert app.join(WAIT)
    assert errors == []
    assert sorted(echoes) == sorted(
        f"t{n}-{i}-" + "x" * (i % 300)
        for n in range(SENDERS)
        for i in range(PER_SENDER)
    )
    # Each sender's messages arrive in its own order.
    for n in range(SENDERS):
        mine = [m for m in echoes if m.startswith(f"t{n}-")]
        assert mine == [f"t{n}-{i}-" + "x" * (i % 300) for i in range(PER_SENDER)]
    assert larges == [_large(i) for i in range(LARGE_COUNT)]


def test_recv_timeout_and_closed_socket(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    import websocket

    ws = pinws.create_connection(
        echo_server.url(),
        pins=[chain.root_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=0.2,
    )
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv()
    ws.close()
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        ws.send("after close")


def test_calls_into_the_openssl_connection_never_overlap(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = OpenSSLProbe().install(monkeypatch)
    with running(
        WebSocketServer(chain.server_context(), handler=large_and_echo, max_size=None)
    ) as server:
        ws = pinws.create_connection(
            server.url(),
            pins=[chain.intermediate_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
        )
        received: list[object] = []
        try:
            ws.send("go")

            def receive() -> None:
                while len(received) < LARGE_COUNT + SENDERS * 20:
                    received.append(ws.recv())

            receiver = threading.Thread(target=receive)
            receiver.start()

            def sender(n: int) -> None:
                for i in range(20):
                    ws.send(f"{n}-{i}")

            senders = [
                threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)
            ]
            for thread in senders:
                thread.start()
            for thread in senders:
                thread.join(WAIT)
            receiver.join(WAIT * 3)
            assert not receiver.is_alive()
        finally:
            ws.close()
    assert probe.total_calls > 100
    probe.assert_one_thread_at_a_time()


def silent(connection: ServerConnection) -> None:
    for _ in connection:
        pass


def test_a_blocked_reader_does_not_hold_up_writers(chain: Chain) -> None:
    # The reader waits for data that never comes; if it held the
    # Connection's lock while waiting, every send would stall behind it.
    with running(WebSocketServer(chain.server_context(), handler=silent)) as server:
        ws = pinws.create_connection(
            server.url(),
            pins=[chain.intermediate_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
        )
        reading = threading.Event()
        outcome: list[BaseException] = []

        def reader() -> None:
            reading.set()
            try:
                ws.recv()
            except BaseException as exc:  # the socket closes under it at the end
                outcome.append(exc)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        try:
            assert reading.wait(WAIT)
            started = time.monotonic()
            for i in range(200):
                ws.send(f"message {i}")
            assert time.monotonic() - started < PROMPT
            assert thread.is_alive()  # still waiting: it was blocked all along
        finally:
            ws.sock.close()
            thread.join(WAIT)
