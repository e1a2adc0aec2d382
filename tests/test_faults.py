"""Issue 8's fault matrix: every way a server can fail or stall, against
``create_connection`` (with a timeout: it ends in time, in a documented
exception) and against the app (with no timeout: ``close()`` + ``join(1)``
ends the worker at every stage; a failing server ends it by itself).

Set ``PINWS_FAULT_TABLE=<file>`` to have each case append one JSON line
(case, API, seconds, outcome): the table of the issue's closing note.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable, Optional

import pytest
import websocket

import pinws
from helpers.faults import (
    FAULTS,
    HALF_FRAME,
    PROXY_REQUEST,
    Fault,
    FaultServer,
    FullBacklog,
    SilentProxy,
    stall_mid_frame,
    syn_sent_to,
)
from helpers.pki import Chain, unrelated_pin
from helpers.servers import running
from helpers.timing import SCALE, WAIT
from pinws._client.hooks import CLOSE_GRACE

#: The timeout create_connection is given.
TIMEOUT = 1.0 * SCALE
#: "Within timeout + a few seconds".
SLACK = 3.0 * SCALE
#: The contract: close() + join(1) is True.
JOIN = 1.0
#: After a protocol error the app sends its close frame (1002/1007) and
#: waits this long for the answer of a server that has already broken the
#: protocol (websocket-client alone would wait 3 s).
CLOSE_WAIT = CLOSE_GRACE

STALLS = [name for name, fault in FAULTS.items() if fault.stage is not None]
FAILURES = [name for name, fault in FAULTS.items() if fault.stage is None]


def record(case: str, api: str, seconds: float, outcome: object) -> None:
    path = os.environ.get("PINWS_FAULT_TABLE")
    if not path:
        return
    if isinstance(outcome, BaseException):
        kind = type(outcome)
        text = f"{kind.__module__}.{kind.__qualname__}: {str(outcome)[:120]}"
    else:
        text = str(outcome)
    row = {"case": case, "api": api, "seconds": round(seconds, 3), "outcome": text}
    with open(path, "a") as table:
        table.write(json.dumps(row) + "\n")


def describe(exc: Optional[BaseException]) -> str:
    return "no exception" if exc is None else f"{type(exc).__mro__}: {exc!r}"


@pytest.fixture(autouse=True)
def _no_default_timeout() -> None:
    # The app's connections use websocket-client's default timeout.
    assert websocket.getdefaulttimeout() is None


def timed(call: Callable[[], Any]) -> tuple[float, Optional[BaseException], Any]:
    started = time.monotonic()
    try:
        result = call()
    except BaseException as exc:  # judged by the caller
        return time.monotonic() - started, exc, None
    return time.monotonic() - started, None, result


# -- create_connection ---------------------------------------------------------


def connect(
    chain: Chain, url: str, timeout: Optional[float] = TIMEOUT, **options: Any
) -> pinws.PinnedWebSocket:
    return pinws.create_connection(
        url,
        pins=[chain.intermediate_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=timeout,
        **options,
    )


def check_documented(
    case: str,
    seconds: float,
    exc: Optional[BaseException],
    expected: tuple[type[BaseException], ...],
) -> None:
    record(case, "create_connection", seconds, exc or "connected")
    assert isinstance(exc, expected), describe(exc)
    assert seconds < TIMEOUT + SLACK, f"{case}: took {seconds:.1f} s"


@pytest.mark.parametrize("case", list(FAULTS))
def test_create_connection_ends_in_time_in_a_documented_exception(
    chain: Chain, case: str
) -> None:
    fault: Fault = FAULTS[case]
    with running(FaultServer(fault.script, chain.server_context())) as server:
        seconds, exc, ws = timed(lambda: connect(chain, server.url()))
        if fault.stage is not None and not fault.may_connect:
            # The client waited where the server stalled, not before.
            assert server.stage(fault.stage).is_set(), describe(exc)
        if ws is not None:
            try:
                if fault.after_upgrade:
                    seconds, exc, _ = timed(ws.recv)
                elif fault.may_connect:
                    record(case, "create_connection", seconds, "connected")
                    assert seconds < TIMEOUT + SLACK
                    return
            finally:
                ws.shutdown()
        check_documented(case, seconds, exc, fault.expected)


def test_create_connection_to_a_closed_port_is_refused(chain: Chain) -> None:
    with running(FaultServer(lambda c: None)) as server:
        port = server.port
    seconds, exc, _ = timed(lambda: connect(chain, f"wss://localhost:{port}/"))
    check_documented("refused", seconds, exc, (ConnectionRefusedError,))


@pytest.fixture
def full_backlog() -> Iterator[FullBacklog]:
    with running(FullBacklog()) as backlog:
        yield backlog


def test_create_connection_times_out_in_a_hanging_tcp_connect(
    chain: Chain, full_backlog: FullBacklog
) -> None:
    seconds, exc, _ = timed(lambda: connect(chain, full_backlog.url()))
    check_documented(
        "TCP connect hangs", seconds, exc, (websocket.WebSocketTimeoutException,)
    )


@pytest.fixture
def silent_proxy() -> Iterator[SilentProxy]:
    with running(SilentProxy()) as proxy:
        yield proxy


def test_create_connection_times_out_behind_a_silent_proxy(
    chain: Chain, silent_proxy: SilentProxy
) -> None:
    seconds, exc, _ = timed(
        lambda: connect(
            chain,
            "wss://localhost:9/",
            http_proxy_host="127.0.0.1",
            http_proxy_port=silent_proxy.port,
            proxy_type="http",
        )
    )
    assert silent_proxy.server.stage(PROXY_REQUEST).is_set()
    # websocket-client reports a proxy that does not answer in time as a
    # proxy failure, which it documents; a timeout says the same.
    check_documented(
        "proxy never answers CONNECT",
        seconds,
        exc,
        (websocket.WebSocketTimeoutException, websocket.WebSocketProxyException),
    )


def test_shutdown_from_another_thread_ends_a_blocked_recv(chain: Chain) -> None:
    with running(FaultServer(stall_mid_frame, chain.server_context())) as server:
        ws = connect(chain, server.url(), timeout=None)
        outcome: list[BaseException] = []
        reading = threading.Event()

        def reader() -> None:
            reading.set()
            try:
                ws.recv()
            except BaseException as exc:  # judged below
                outcome.append(exc)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        assert reading.wait(WAIT)
        assert server.stage(HALF_FRAME).wait(WAIT)
        started = time.monotonic()
        ws.shutdown()
        thread.join(JOIN)
        seconds = time.monotonic() - started
        record("ws.shutdown() during recv()", "create_connection", seconds, outcome)
        assert not thread.is_alive(), "recv() still blocked after ws.shutdown()"
    assert len(outcome) == 1
    assert isinstance(outcome[0], websocket.WebSocketConnectionClosedException), (
        describe(outcome[0])
    )


# -- the app -------------------------------------------------------------------


class AppRun:
    """A PinnedWebSocketApp started with no timeout, and what it reported."""

    def __init__(self, chain: Chain, url: str, **run_options: Any) -> None:
        self.errors: list[BaseException] = []
        self.opened = threading.Event()
        self.app = pinws.PinnedWebSocketApp(
            url,
            pins=[chain.intermediate_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            on_open=lambda app: self.opened.set(),
            on_error=lambda app, error: self.errors.append(error),
        )
        self.app.start(**run_options)

    def close_and_join(self, case: str) -> bool:
        """close() from this thread, then join(1); records the time."""
        started = time.monotonic()
        self.app.close()
        joined = self.app.join(JOIN)
        record(case, "app close+join", time.monotonic() - started, joined)
        return joined

    def cleanup(self) -> None:
        self.app.close()
        self.app.join(WAIT)


@pytest.fixture
def app_runs() -> Iterator[list[AppRun]]:
    runs: list[AppRun] = []
    yield runs
    for run in runs:
        run.cleanup()


@pytest.mark.parametrize("case", STALLS)
def test_app_close_ends_the_worker_at_every_stage(
    chain: Chain, app_runs: list[AppRun], case: str
) -> None:
    fault = FAULTS[case]
    assert fault.stage is not None
    with running(FaultServer(fault.script, chain.server_context())) as server:
        run = AppRun(chain, server.url())
        app_runs.append(run)
        assert server.stage(fault.stage).wait(WAIT)
        assert run.close_and_join(case), f"worker still running after close() at {case}"


@pytest.mark.parametrize("case", FAILURES)
def test_app_reports_each_failure_and_stops(
    chain: Chain, app_runs: list[AppRun], case: str
) -> None:
    fault = FAULTS[case]
    with running(FaultServer(fault.script, chain.server_context())) as server:
        run = AppRun(chain, server.url())
        app_runs.append(run)
        started = time.monotonic()
        ended = run.app.join(CLOSE_WAIT + SLACK)
        seconds = time.monotonic() - started
        record(case, "app (ends by itself)", seconds, run.errors or "no error")
        assert ended, f"{case}: the worker did not end by itself"
    assert run.errors, "on_error was not called"
    assert isinstance(run.errors[0], fault.expected), describe(run.errors[0])


def test_app_to_a_closed_port_reports_refused(
    chain: Chain, app_runs: list[AppRun]
) -> None:
    with running(FaultServer(lambda c: None)) as server:
        port = server.port
    run = AppRun(chain, f"wss://localhost:{port}/")
    app_runs.append(run)
    assert run.app.join(SLACK)
    assert run.errors
    assert isinstance(run.errors[0], ConnectionRefusedError), describe(run.errors[0])


def test_app_close_ends_a_hanging_tcp_connect(
    chain: Chain, app_runs: list[AppRun], full_backlog: FullBacklog
) -> None:
    fillers = syn_sent_to(full_backlog.port)
    run = AppRun(chain, full_backlog.url())
    app_runs.append(run)
    deadline = time.monotonic() + WAIT
    pause = threading.Event()
    # The kernel offers no event for "a SYN went unanswered": poll its table.
    while syn_sent_to(full_backlog.port) <= fillers and time.monotonic() < deadline:
        pause.wait(0.01)
    assert syn_sent_to(full_backlog.port) > fillers, "the app's connect never started"
    assert run.close_and_join("TCP connect hangs")


def test_app_close_ends_a_wait_on_a_silent_proxy(
    chain: Chain, app_runs: list[AppRun], silent_proxy: SilentProxy
) -> None:
    run = AppRun(
        chain,
        "wss://localhost:9/",
        http_proxy_host="127.0.0.1",
        http_proxy_port=silent_proxy.port,
        proxy_type="http",
    )
    app_runs.append(run)
    assert silent_proxy.server.stage(PROXY_REQUEST).wait(WAIT)
    assert run.close_and_join("proxy never answers CONNECT")
