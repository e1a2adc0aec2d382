"""pinws.executors.QueueExecutor, and callback_executor on a real app.

The Tk and Qt executors have their own files (test_gui_tk.py, test_gui_qt.py):
they need a display server or a Qt binding.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

import pinws
import pinws.executors
from helpers.callbacks import (
    ECHO_SEQUENCE,
    Recorder,
    assert_mismatch_reported_on_this_thread,
    echo_conversation,
    make_app,
)
from helpers.pki import Chain, unrelated_pin
from helpers.servers import WebSocketServer
from helpers.timing import PROMPT, WAIT
from pinws.executors import QueueExecutor


def drain_until(executor: QueueExecutor, done: Callable[[], bool]) -> None:
    """Run the executor's callables on this thread until *done*, at most WAIT."""
    deadline = time.monotonic() + WAIT
    while not done():
        left = deadline - time.monotonic()
        assert left > 0, "the callbacks did not arrive in time"
        executor.run_pending(timeout=min(left, 0.5))


# -- QueueExecutor on its own ------------------------------------------------


def test_run_pending_runs_queued_callables_in_order_on_the_calling_thread() -> None:
    executor = QueueExecutor()
    ran: list[tuple[int, int]] = []
    producer = threading.Thread(
        target=lambda: [
            executor(lambda i=i: ran.append((i, threading.get_ident())))
            for i in range(50)
        ]
    )
    producer.start()
    producer.join(WAIT)
    assert ran == [], "calling the executor must only queue"
    assert executor.pending() == 50
    assert executor.run_pending() == 50
    assert [i for i, _ in ran] == list(range(50))
    assert {thread for _, thread in ran} == {threading.get_ident()}
    assert executor.pending() == 0


def test_run_pending_without_timeout_returns_at_once_when_empty() -> None:
    executor = QueueExecutor()
    started = time.monotonic()
    assert executor.run_pending() == 0
    assert executor.run_pending(timeout=0) == 0
    assert time.monotonic() - started < PROMPT


def test_run_pending_waits_up_to_timeout_for_the_first_callable() -> None:
    executor = QueueExecutor()
    started = time.monotonic()
    assert executor.run_pending(timeout=0.05) == 0
    assert time.monotonic() - started >= 0.05

    ran = threading.Event()
    queue_it = threading.Event()

    def producer() -> None:
        queue_it.wait(WAIT)
        executor(ran.set)

    thread = threading.Thread(target=producer)
    thread.start()
    queue_it.set()
    assert executor.run_pending(timeout=WAIT) == 1
    assert ran.is_set()
    thread.join(WAIT)


def test_callables_queued_while_draining_wait_for_the_next_drain() -> None:
    executor = QueueExecutor()
    ran: list[str] = []

    def requeue() -> None:
        ran.append("first")
        executor(lambda: ran.append("second"))

    executor(requeue)
    assert executor.run_pending() == 1
    assert ran == ["first"]
    assert executor.run_pending() == 1
    assert ran == ["first", "second"]


def test_an_exception_propagates_and_the_rest_stay_queued_in_order() -> None:
    executor = QueueExecutor()
    ran: list[int] = []

    def boom() -> None:
        raise KeyError("boom")

    executor(lambda: ran.append(1))
    executor(boom)
    executor(lambda: ran.append(2))
    executor(lambda: ran.append(3))
    with pytest.raises(KeyError, match="boom"):
        executor.run_pending()
    assert ran == [1]
    assert executor.run_pending() == 2
    assert ran == [1, 2, 3]


def test_after_an_exception_the_rest_run_before_callables_queued_meanwhile() -> None:
    executor = QueueExecutor()
    ran: list[str] = []

    def boom() -> None:
        # Stands for the worker handing over another callback while this runs.
        executor(lambda: ran.append("later"))
        raise KeyError("boom")

    executor(boom)
    executor(lambda: ran.append("queued before"))
    with pytest.raises(KeyError):
        executor.run_pending()
    assert executor.run_pending() == 2
    assert ran == ["queued before", "later"]


def test_bad_input_is_refused_early() -> None:
    executor = QueueExecutor()
    with pytest.raises(TypeError, match="zero-argument callables, not str"):
        executor("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be None or >= 0"):
        executor.run_pending(timeout=-1)


def test_importing_the_executors_imports_no_gui_toolkit() -> None:
    code = (
        "import sys, pinws, pinws.executors\n"
        "gui = {'tkinter', 'PySide6', 'PyQt6', 'PySide2', 'PyQt5'} & set(sys.modules)\n"
        "print(sorted(gui))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_executors_are_a_submodule_not_top_level_names() -> None:
    assert pinws.executors.__all__ == ["QtExecutor", "QueueExecutor", "TkExecutor"]
    assert not set(pinws.executors.__all__) & set(pinws.__all__)


# -- callback_executor on a real app ------------------------------------------


def test_every_callback_runs_on_the_owner_thread_in_order(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    close_took: list[float] = []

    def timed_close(app: pinws.PinnedWebSocketApp, text: str) -> None:
        if text == "two":
            started = time.monotonic()
            app.close()
            close_took.append(time.monotonic() - started)

    recorder = Recorder(
        {
            "on_open": lambda app: [app.send("one"), app.send("two")],
            "on_message": timed_close,
        }
    )
    executor = QueueExecutor()
    app = make_app(echo_server, chain, recorder, executor)
    worker = app.start()
    drain_until(executor, recorder.closed.is_set)

    assert recorder.names == ECHO_SEQUENCE
    assert recorder.args_of("on_message") == [("one",), ("two",)]
    assert recorder.threads == {threading.get_ident()}
    assert worker.ident not in recorder.threads
    # close() on the owner thread asks the worker and returns at once.
    assert close_took[0] < PROMPT
    assert app.join(PROMPT)


def test_a_pin_mismatch_reaches_the_owner_thread(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    recorder = Recorder()
    executor = QueueExecutor()
    wrong = [unrelated_pin(), unrelated_pin()]
    app = make_app(echo_server, chain, recorder, executor, pins=wrong)
    app.start()
    drain_until(executor, recorder.closed.is_set)

    assert_mismatch_reported_on_this_thread(recorder, echo_server)
    (report,) = recorder.args_of("on_pin_failure")[0]
    assert report.hostname == "localhost"
    assert app.join(PROMPT)


def test_without_an_executor_callbacks_run_on_the_worker(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    recorder = echo_conversation()
    app = make_app(echo_server, chain, recorder, None)
    worker = app.start()
    assert recorder.closed.wait(WAIT)
    assert recorder.names == ECHO_SEQUENCE
    assert recorder.threads == {worker.ident}
    assert app.join(WAIT)


def test_close_and_join_from_the_owner_thread_leave_on_close_queued(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    recorder = Recorder()
    executor = QueueExecutor()
    app = make_app(echo_server, chain, recorder, executor)
    app.start()
    drain_until(executor, lambda: "on_open" in recorder.names)

    started = time.monotonic()
    app.close()
    assert time.monotonic() - started < PROMPT
    assert app.join(PROMPT), "the worker did not end promptly after close()"
    # The worker has ended; its last callback waits for the owner thread.
    assert recorder.names == ["on_open"]
    executor.run_pending()
    assert recorder.names == ["on_open", "on_close"]
    assert recorder.threads == {threading.get_ident()}


def test_send_works_from_the_owner_thread_outside_callbacks(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    recorder = Recorder()
    executor = QueueExecutor()
    app = make_app(echo_server, chain, recorder, executor)
    app.start()
    drain_until(executor, lambda: "on_open" in recorder.names)
    app.send("from the owner")
    drain_until(executor, lambda: "on_message" in recorder.names)
    assert recorder.args_of("on_message") == [("from the owner",)]
    app.close()
    assert app.join(PROMPT)


def test_an_executor_that_refuses_a_callable_does_not_end_the_connection(
    chain: Chain, echo_server: WebSocketServer, caplog: pytest.LogCaptureFixture
) -> None:
    refused = threading.Event()

    def refuses_the_first(fn: Callable[[], object]) -> None:
        if not refused.is_set():
            refused.set()
            raise RuntimeError("event loop is closed")
        fn()

    echoed = threading.Event()
    recorder = Recorder({"on_message": lambda app, text: echoed.set()})
    app = make_app(echo_server, chain, recorder, refuses_the_first)
    app.start()
    assert refused.wait(WAIT), "on_open was never handed to the executor"
    app.send("still connected")
    assert echoed.wait(WAIT)
    app.close()
    assert app.join(PROMPT)
    # on_open was dropped; the connection, and the callbacks after it, went on.
    assert recorder.names == ["on_message", "on_close"]
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("pinws")]
    assert any("callback_executor failed" in m for m in messages)
    assert not any("worker thread failed" in m for m in messages)


def test_a_callback_executor_must_be_callable(chain: Chain) -> None:
    with pytest.raises(ValueError, match="callback_executor must be callable"):
        pinws.PinnedWebSocketApp(
            "wss://localhost/",
            pins=chain.pins,
            ca_certs=chain.ca_file,
            callback_executor="tk",
        )


def test_a_failing_callback_is_reported_to_on_error_on_the_owner_thread(
    chain: Chain, echo_server: WebSocketServer, caplog: pytest.LogCaptureFixture
) -> None:
    def fail(app: pinws.PinnedWebSocketApp) -> None:
        raise ValueError("bug in on_open")

    recorder = Recorder({"on_open": fail, "on_error": lambda app, exc: app.close()})
    executor = QueueExecutor()
    app = make_app(echo_server, chain, recorder, executor)
    with caplog.at_level(logging.ERROR, logger="websocket"):
        app.start()
        drain_until(executor, recorder.closed.is_set)
    assert recorder.names == ["on_open", "on_error", "on_close"]
    (error,) = recorder.args_of("on_error")[0]
    assert isinstance(error, ValueError)
    assert recorder.threads == {threading.get_ident()}
    assert app.join(PROMPT)
