"""TkExecutor: an app's callbacks run by a real Tk mainloop, under Xvfb."""

from __future__ import annotations

import gc
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

tkinter = pytest.importorskip("tkinter", reason="this Python was built without Tk")
TkExecutor = pytest.importorskip("pinws.executors").TkExecutor

pytestmark = pytest.mark.gui


@pytest.fixture
def root(display: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("DISPLAY", display)
    window = tkinter.Tk()
    try:
        yield window
    finally:
        try:
            window.destroy()
        except tkinter.TclError:
            pass  # the test destroyed it already
        del window
        # An app sits in reference cycles, and its callbacks hold the root:
        # free them here, on the Tk thread. Left to the garbage collector,
        # they could be freed on another test's worker thread, and Tcl aborts
        # the process when an interpreter is deleted off its own thread.
        gc.collect()


def run_mainloop(root: Any) -> None:
    """root.mainloop(), ended by a callback's root.quit() -- or failed after WAIT."""
    timed_out: list[bool] = []

    def give_up() -> None:
        timed_out.append(True)
        root.quit()

    watchdog = root.after(int(WAIT * 1000), give_up)
    root.mainloop()
    if not timed_out:
        root.after_cancel(watchdog)
    assert not timed_out, "the callbacks did not arrive in time"


def test_a_tk_window_shows_the_messages_from_the_tk_thread(
    root: Any, chain: Chain, echo_server: WebSocketServer
) -> None:
    messages = tkinter.Listbox(root)
    messages.pack()

    def show(app: pinws.PinnedWebSocketApp, text: str) -> None:
        # Touching a widget from on_message is what the executor is for.
        messages.insert("end", text)
        if text == "two":
            app.close()

    shown = Recorder(
        {
            "on_open": send_one_and_two,
            "on_message": show,
            "on_close": lambda app, *_: root.quit(),
        }
    )
    app = make_app(
        echo_server, chain, shown, TkExecutor(root), [chain.leaf_pin, unrelated_pin()]
    )
    worker = app.start()
    run_mainloop(root)

    assert shown.names == ECHO_SEQUENCE
    assert messages.get(0, "end") == ("one", "two")
    assert shown.threads == {threading.get_ident()}
    assert worker.ident not in shown.threads
    assert app.join(PROMPT)


def test_a_pin_mismatch_reaches_the_tk_thread(
    root: Any, chain: Chain, echo_server: WebSocketServer
) -> None:
    recorder = Recorder({"on_close": lambda app, *_: root.quit()})
    wrong = [unrelated_pin(), unrelated_pin()]
    app = make_app(echo_server, chain, recorder, TkExecutor(root, interval_ms=5), wrong)
    app.start()
    run_mainloop(root)

    assert_mismatch_reported_on_this_thread(recorder, echo_server)
    assert app.join(PROMPT)


def test_a_failing_callable_goes_to_report_callback_exception_and_the_next_runs(
    root: Any,
) -> None:
    executor = TkExecutor(root)
    reported: list[BaseException] = []
    root.report_callback_exception = lambda kind, exc, tb: reported.append(exc)

    def boom() -> None:
        raise KeyError("boom")

    worker = threading.Thread(target=lambda: [executor(boom), executor(root.quit)])
    worker.start()
    worker.join(WAIT)
    run_mainloop(root)
    assert [type(exc) for exc in reported] == [KeyError]


def test_destroying_the_root_stops_the_executor_and_keeps_other_bindings(
    root: Any,
) -> None:
    destroyed: list[str] = []
    root.bind("<Destroy>", lambda event: destroyed.append(str(event.widget)), add="+")
    executor = TkExecutor(root)
    assert root.tk.call("after", "info"), "the executor should be polling"

    root.destroy()
    assert executor.closed
    assert "." in destroyed, "the application's own <Destroy> binding must still run"
    # No poll is left pending to fire into a destroyed root.
    assert root.tk.call("after", "info") == ""
    ran: list[bool] = []
    executor(lambda: ran.append(True))  # dropped, does not raise
    assert ran == []


def test_close_stops_polling_but_leaves_the_applications_bindings(root: Any) -> None:
    destroyed: list[str] = []
    root.bind("<Destroy>", lambda event: destroyed.append(str(event.widget)), add="+")
    executor = TkExecutor(root)
    executor(lambda: pytest.fail("closed executors must drop what is queued"))
    executor.close()
    assert executor.closed
    assert root.tk.call("after", "info") == ""
    root.update()
    root.destroy()
    assert "." in destroyed


def test_bad_arguments_are_refused(root: Any) -> None:
    for bad in (0, -5, 2.5, "10", True):
        with pytest.raises(ValueError, match="interval_ms"):
            TkExecutor(root, interval_ms=bad)
    with pytest.raises(TypeError, match="tkinter root or widget"):
        TkExecutor(object())
    with pytest.raises(TypeError, match="zero-argument callables"):
        TkExecutor(root)(42)
