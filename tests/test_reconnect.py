"""Reconnects: every refused attempt is reported, whichever dispatcher runs the
app, and refused attempts back off instead of storming the server."""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pinws
from helpers.pki import Chain, trust_bundle, unrelated_pin
from helpers.servers import WebSocketServer
from helpers.timing import WAIT
from pinws._client.backoff import RECONNECT_BACKOFF_CAP, ReconnectBackoff


def highest(low: float, high: float) -> float:
    return high


def lowest(low: float, high: float) -> float:
    return low


def test_backoff_keeps_the_configured_delay_until_an_attempt_is_refused() -> None:
    backoff = ReconnectBackoff(highest)
    assert backoff.delay(2.0) == 2.0


def test_backoff_doubles_per_refusal_up_to_the_cap_and_resets() -> None:
    backoff = ReconnectBackoff(highest)
    delays = []
    for _ in range(12):
        backoff.refused()
        delays.append(backoff.delay(1.0))
    assert delays[:5] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert max(delays) == RECONNECT_BACKOFF_CAP
    backoff.connected()
    assert backoff.delay(1.0) == 1.0


def test_backoff_jitter_stays_in_the_upper_half_and_never_below_the_delay() -> None:
    backoff = ReconnectBackoff(lowest)
    backoff.refused()
    assert backoff.delay(1.0) == 1.0  # half of 2 s is the configured delay
    for _ in range(3):
        backoff.refused()
    assert backoff.delay(1.0) == 8.0  # half of 16 s


def test_a_delay_longer_than_the_cap_is_kept() -> None:
    backoff = ReconnectBackoff(highest)
    backoff.refused()
    assert backoff.delay(1000.0) == 1000.0


class LoopDispatcher:
    """What ``rel`` offers websocket-client: read, timeout, signal, abort.

    Runs its callbacks on the test thread, recording every delay asked for,
    without waiting for any of them.
    """

    def __init__(self) -> None:
        self.calls: queue.Queue[Callable[[], Any]] = queue.Queue()
        self.delays: list[float] = []

    def read(self, sock: Any, callback: Callable[[], Any]) -> None:
        self.calls.put(callback)

    def timeout(self, seconds: float, callback: Callable[..., Any], *args: Any) -> None:
        self.delays.append(seconds)
        self.calls.put(lambda: callback(*args))

    def signal(self, number: int, handler: Callable[..., Any]) -> None:
        pass

    def abort(self) -> None:
        pass

    def run(self, steps: int) -> None:
        for _ in range(steps):
            self.calls.get(timeout=WAIT)()


@pytest.fixture
def mismatched_app(
    chain: Chain, echo_server: WebSocketServer
) -> tuple[pinws.PinnedWebSocketApp, list[object]]:
    errors: list[object] = []
    app = pinws.PinnedWebSocketApp(
        echo_server.url(),
        pins=[unrelated_pin(), unrelated_pin()],
        ca_certs=chain.ca_file,
        on_error=lambda app, error: errors.append(error),
    )
    return app, errors


def test_every_refused_reconnect_reaches_on_error_with_a_users_dispatcher(
    mismatched_app: tuple[pinws.PinnedWebSocketApp, list[object]],
) -> None:
    app, errors = mismatched_app
    loop = LoopDispatcher()
    app.run_forever(dispatcher=loop, reconnect=1)
    loop.run(5)
    assert len(errors) == 6  # the first attempt and five reconnects
    assert all(isinstance(error, pinws.PinMismatchError) for error in errors)


def test_refused_reconnects_back_off_with_a_users_dispatcher(
    mismatched_app: tuple[pinws.PinnedWebSocketApp, list[object]],
) -> None:
    app, _ = mismatched_app
    loop = LoopDispatcher()
    app._backoff = ReconnectBackoff(highest)
    app.run_forever(dispatcher=loop, reconnect=1)
    loop.run(4)
    assert loop.delays == [2.0, 4.0, 8.0, 16.0, 32.0]


def test_failures_that_are_not_refusals_keep_the_configured_delay(
    chain: Chain,
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens: connection refused, not a pin refusal
    errors: list[object] = []
    app = pinws.PinnedWebSocketApp(
        f"wss://127.0.0.1:{port}/",
        pins=[unrelated_pin(), unrelated_pin()],
        ca_certs=chain.ca_file,
        on_error=lambda app, error: errors.append(error),
    )
    loop = LoopDispatcher()
    app.run_forever(dispatcher=loop, reconnect=1)
    loop.run(3)
    assert loop.delays == [1, 1, 1, 1]
    assert len(errors) == 4
    assert all(isinstance(error, ConnectionRefusedError) for error in errors)


def test_a_repeated_refusal_is_logged_once(
    mismatched_app: tuple[pinws.PinnedWebSocketApp, list[object]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, errors = mismatched_app
    loop = LoopDispatcher()
    app.run_forever(dispatcher=loop, reconnect=1)
    loop.run(6)
    warnings = [
        r
        for r in caplog.records
        if r.name == "pinws.client"
        and r.levelno >= logging.WARNING
        and "reconnect" in r.getMessage()
    ]
    assert len(errors) == 7
    assert len(warnings) == 1
    assert "PinMismatchError" in warnings[0].getMessage()


def test_the_backoff_resets_after_a_successful_connection(
    tmp_path: Path, chain: Chain, rogue_chain: Chain, echo_server: WebSocketServer
) -> None:
    opened = threading.Event()
    app = pinws.PinnedWebSocketApp(
        echo_server.url(),
        pins=chain.pins,
        ca_certs=trust_bundle(tmp_path, chain, rogue_chain),
        on_open=lambda app: opened.set(),
    )
    app._backoff = ReconnectBackoff(highest)
    echo_server.serve_certificate(rogue_chain.leaf)  # refused: a rogue CA's key
    loop = LoopDispatcher()
    app.run_forever(dispatcher=loop, reconnect=1)
    loop.run(1)
    assert app._backoff.refused_in_a_row == 2
    echo_server.serve_certificate(chain.leaf)
    loop.run(1)
    assert opened.is_set()
    assert app._backoff.refused_in_a_row == 0
    assert loop.delays == [2.0, 4.0]
    app.close()
