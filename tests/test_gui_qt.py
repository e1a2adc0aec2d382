"""QtExecutor: an app's callbacks run by a real Qt event loop (PySide6, offscreen)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import pinws
from helpers.callbacks import (
    ECHO_SEQUENCE,
    Recorder,
    assert_mismatch_reported_on_this_thread,
    make_app,
    send_one_and_two,
)
from helpers.pki import Chain, unrelated_pin
from helpers.servers import WebSocketServer
from helpers.timing import PROMPT, WAIT

QtCore = pytest.importorskip(
    "PySide6.QtCore", reason="PySide6 is not installed (pip install PySide6-Essentials)"
)
QtWidgets = pytest.importorskip("PySide6.QtWidgets")
shiboken6 = pytest.importorskip("shiboken6")

from pinws.executors import QtExecutor  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def qapp() -> Iterator[Any]:
    """One QApplication for the module, on the offscreen platform (no display)."""
    saved = os.environ.get("QT_QPA_PLATFORM")
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    try:
        app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
        yield app
    finally:
        if saved is None:
            del os.environ["QT_QPA_PLATFORM"]
        else:
            os.environ["QT_QPA_PLATFORM"] = saved


@pytest.fixture(autouse=True)
def _free_qt_objects_on_the_gui_thread() -> Iterator[None]:
    yield
    # Apps sit in reference cycles and hold their executor's QObject: free
    # them here, on the GUI thread, not in a later worker's garbage collection.
    gc.collect()


def run_event_loop(qapp: Any) -> None:
    """qapp.exec(), ended by a callback's qapp.quit() -- or failed after WAIT."""
    timed_out: list[bool] = []

    def give_up() -> None:
        timed_out.append(True)
        qapp.quit()

    watchdog = QtCore.QTimer()
    watchdog.setSingleShot(True)
    watchdog.timeout.connect(give_up)
    watchdog.start(int(WAIT * 1000))
    qapp.exec()
    watchdog.stop()
    assert not timed_out, "the callbacks did not arrive in time"


def test_a_qt_widget_shows_the_messages_from_the_gui_thread(
    qapp: Any, chain: Chain, echo_server: WebSocketServer
) -> None:
    messages = QtWidgets.QListWidget()

    def show(app: pinws.PinnedWebSocketApp, text: str) -> None:
        messages.addItem(text)
        if text == "two":
            app.close()

    recorder = Recorder(
        {
            "on_open": send_one_and_two,
            "on_message": show,
            "on_close": lambda app, *_: qapp.quit(),
        }
    )
    app = make_app(echo_server, chain, recorder, QtExecutor(), [chain.root_pin])
    worker = app.start()
    run_event_loop(qapp)

    assert recorder.names == ECHO_SEQUENCE
    assert [messages.item(i).text() for i in range(messages.count())] == ["one", "two"]
    assert recorder.threads == {threading.get_ident()}
    assert worker.ident not in recorder.threads
    assert app.join(PROMPT)


def test_a_pin_mismatch_reaches_the_gui_thread(
    qapp: Any, chain: Chain, echo_server: WebSocketServer
) -> None:
    recorder = Recorder({"on_close": lambda app, *_: qapp.quit()})
    wrong = [unrelated_pin(), unrelated_pin()]
    app = make_app(echo_server, chain, recorder, QtExecutor(), wrong)
    app.start()
    run_event_loop(qapp)

    assert_mismatch_reported_on_this_thread(recorder, echo_server)
    assert app.join(PROMPT)


def test_callables_queued_on_the_gui_thread_itself_run_later_in_order(
    qapp: Any,
) -> None:
    executor = QtExecutor()
    ran: list[int] = []
    for i in range(5):
        executor(lambda i=i: ran.append(i))
    assert ran == [], "a queued connection never runs the callable in place"
    executor(qapp.quit)
    run_event_loop(qapp)
    assert ran == [0, 1, 2, 3, 4]


def test_thousands_of_callables_from_several_threads_keep_each_threads_order(
    qapp: Any,
) -> None:
    executor = QtExecutor()
    ran: list[tuple[int, int]] = []
    producers = 4
    each = 2500
    # PySide6 6.12.0's Signal.emit() drops a reference to True per call, which
    # aborts Python < 3.12 after a few thousand callbacks; the executor must
    # not go through it. (From 3.12 on, True is immortal and this reads 0.)
    true_refs = sys.getrefcount(True)

    def produce(p: int) -> None:
        for i in range(each):
            executor(lambda i=i: ran.append((p, i)))

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    executor(qapp.quit)
    run_event_loop(qapp)

    assert abs(sys.getrefcount(True) - true_refs) < each // 10
    assert len(ran) == producers * each
    for p in range(producers):
        assert [i for q, i in ran if q == p] == list(range(each))


def test_a_failing_callable_goes_to_excepthook_and_the_next_runs(
    qapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[BaseException] = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, exc, tb: reported.append(exc))
    executor = QtExecutor()

    def boom() -> None:
        raise KeyError("boom")

    worker = threading.Thread(target=lambda: [executor(boom), executor(qapp.quit)])
    worker.start()
    worker.join(WAIT)
    run_event_loop(qapp)
    assert [type(exc) for exc in reported] == [KeyError]


def test_deleting_the_parent_stops_the_executor(qapp: Any) -> None:
    parent = QtCore.QObject()
    executor = QtExecutor(parent)
    assert executor.qobject.parent() is parent
    assert not executor.closed
    shiboken6.delete(parent)
    assert executor.closed

    ran: list[bool] = []
    handed = threading.Thread(target=executor, args=(lambda: ran.append(True),))
    handed.start()
    handed.join(WAIT)
    QtCore.QTimer.singleShot(0, qapp.quit)
    run_event_loop(qapp)
    assert ran == []


def test_the_parent_may_be_the_applications_own_widget_class(qapp: Any) -> None:
    class MainWindow(QtWidgets.QWidget):
        pass

    window = MainWindow()
    executor = QtExecutor(window)
    assert executor.qobject.parent() is window
    executor(qapp.quit)
    run_event_loop(qapp)


def test_bad_arguments_are_refused(qapp: Any) -> None:
    with pytest.raises(TypeError, match="must be a QObject, not str"):
        QtExecutor(parent="window")
    with pytest.raises(TypeError, match="must be a QObject, not QFont"):
        QtExecutor(parent=pytest.importorskip("PySide6.QtGui").QFont())
    with pytest.raises(TypeError, match="zero-argument callables"):
        QtExecutor()(42)


def test_without_an_application_the_executor_says_to_create_it_first() -> None:
    code = (
        "from pinws.executors import QtExecutor\n"
        "try:\n"
        "    QtExecutor()\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
        env=env,
    )
    assert "create the QApplication" in result.stdout
