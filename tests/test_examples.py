"""Every program in examples/ runs, against loopback servers, as documented.

The chat windows are driven as a user would (connect, send, receive, a pin
failure's dialog) -- Tk under a private Xvfb, Qt on its offscreen platform --
and each window is captured. The captures must have the size of the ones
the docs show (docs/images/example-*.png), not the same pixels: fonts differ
between machines. To regenerate the docs' images, run::

    PINWS_UPDATE_SCREENSHOTS=1 python -m pytest tests/test_examples.py
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pinws
from helpers.pki import Chain, unrelated_pin
from helpers.servers import WebSocketServer
from helpers.timing import PROMPT, WAIT

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
IMAGES = ROOT / "docs" / "images"
UPDATE = bool(os.environ.get("PINWS_UPDATE_SCREENSHOTS"))
# A dialog's size follows its text and the fonts installed; windows are fixed.
DIALOG_TOLERANCE = 0.35


@pytest.fixture(autouse=True)
def examples_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # As `python examples/x.py` does: the example's directory first, and
    # pinws from this source tree for the subprocesses they start.
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv(
        "PYTHONPATH",
        os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )


def run_example(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT * 4,
        check=False,
    )


def wait_for(pump: Callable[[], object], condition: Callable[[], bool]) -> None:
    """Run an event loop's *pump* until *condition* holds (or fail after WAIT)."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the window did not get there in time"
        pump()
        time.sleep(0.005)  # a poll interval, not a wait for anything


def check_screenshot(image: Any, name: str, *, tolerance: float = 0.0) -> None:
    """Compare a capture's size with the docs' image, or replace that image.

    *image* is a Pillow image (Tk, grabbed from the X server) or a QPixmap.
    """
    from PIL import Image

    path = IMAGES / name
    size = (
        image.size
        if isinstance(image, Image.Image)
        else (image.width(), image.height())
    )
    if UPDATE:
        assert image.save(str(path)) is not False, path
        return
    assert path.is_file(), f"{path} is missing: run with PINWS_UPDATE_SCREENSHOTS=1"
    with Image.open(path) as committed:
        expected = committed.size
    for got, want in zip(size, expected):
        assert abs(got - want) <= want * tolerance, (name, size, expected)


# -- the command-line examples -----------------------------------------------


def test_send_once_prints_the_reply(chain: Chain, echo_server: WebSocketServer) -> None:
    pins = ["--pin", chain.intermediate_pin, "--pin", unrelated_pin()]
    result = run_example(
        "examples/send_once.py",
        echo_server.url(),
        "hello",
        *pins,
        "--ca-certs",
        chain.ca_file,
    )
    assert (result.returncode, result.stdout) == (0, "hello\n"), result.stderr


def test_send_once_explains_a_refusal(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    pins = ["--pin", unrelated_pin(), "--pin", unrelated_pin()]
    result = run_example(
        "examples/send_once.py",
        echo_server.url(),
        "secret",
        *pins,
        "--ca-certs",
        chain.ca_file,
    )
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert first == (
        f"refused: Pin mismatch for localhost:{echo_server.port}: the server's "
        "certificate chain matches none of the 2 configured pins"
    )
    assert chain.leaf_pin in result.stderr  # the full message follows
    assert echo_server.requests == []


def test_monitor_reports_the_worst_host(
    tmp_path: Path, chain: Chain, echo_server: WebSocketServer
) -> None:
    url, trust = echo_server.url(), f"--ca-certs {chain.ca_file}"
    good = f"{url} {trust} --pin {chain.intermediate_pin} --pin {unrelated_pin()}"
    wrong = (
        f"{echo_server.url()} {trust} --pin {unrelated_pin()} --pin {unrelated_pin()}"
    )
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(f"# a comment, then a blank line\n\n{good}\n{wrong}\n")
    result = run_example("examples/monitor_pins.py", str(hosts))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "CRITICAL: 2 hosts checked (1 CRITICAL, 1 OK)"
    assert lines[1] == f"OK: {echo_server.url()}: pins match"
    assert lines[2].startswith(f"CRITICAL: {echo_server.url()}: no certificate")

    hosts.write_text(f"{good}\n")
    result = run_example("examples/monitor_pins.py", str(hosts))
    assert (result.returncode, result.stdout.splitlines()[0]) == (
        0,
        "OK: 1 hosts checked (1 OK)",
    )


def test_monitor_says_unknown_for_a_host_it_cannot_reach(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(f"127.0.0.1:1 --pin {unrelated_pin()} --pin {unrelated_pin()}\n")
    result = run_example("examples/monitor_pins.py", str(hosts))
    assert result.returncode == 3
    assert result.stdout.splitlines()[1].startswith("UNKNOWN: wss://127.0.0.1:1/: ")


def test_the_chat_examples_talk_to_pinws_demo_serve() -> None:
    import chat_common

    args = chat_common.parse_args("test", [])
    with chat_common.target(args) as server:
        ws = pinws.create_connection(
            server.url, pins=server.pins, ca_certs=server.ca_certs, timeout=WAIT
        )
        try:
            ws.send("over the demo server")
            assert ws.recv() == "over the demo server"
        finally:
            ws.close()


def test_a_url_needs_pins() -> None:
    import chat_common

    with pytest.raises(SystemExit):
        chat_common.parse_args("test", ["wss://example.com/"])


# -- Tk ------------------------------------------------------------------------


@pytest.fixture
def tk_root(display: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    tkinter = pytest.importorskip("tkinter")
    monkeypatch.setenv("DISPLAY", display)
    root = tkinter.Tk()
    try:
        yield root
    finally:
        try:
            root.destroy()
        except tkinter.TclError:
            pass  # the window's quit() destroyed it
        del root
        gc.collect()  # free the app's cycles on the Tk thread (see test_gui_tk)


def grab_tk(widget: Any, display: str) -> Any:
    from PIL import ImageGrab

    widget.update()
    x, y = widget.winfo_rootx(), widget.winfo_rooty()
    box = (x, y, x + widget.winfo_width(), y + widget.winfo_height())
    return ImageGrab.grab(bbox=box, xdisplay=display)


@pytest.mark.gui
def test_tk_chat_connects_sends_and_receives(
    tk_root: Any, display: str, chain: Chain, echo_server: WebSocketServer
) -> None:
    import chat_tk

    server = chat_tk.Target(
        echo_server.url(), [chain.intermediate_pin, unrelated_pin()], chain.ca_file
    )
    window = chat_tk.ChatWindow(tk_root, server)
    window.start()
    wait_for(tk_root.update, lambda: window.status["text"].startswith("connected"))
    for text in ("Hello from the Tk thread", "pinned before the first byte"):
        window.entry.insert(0, text)
        window.send()
    wait_for(tk_root.update, lambda: window.messages.size() == 2)
    assert window.messages.get(0, "end") == (
        "Hello from the Tk thread",
        "pinned before the first byte",
    )
    assert window.entry.get() == ""
    check_screenshot(grab_tk(tk_root, display), "example-chat-tk.png")
    window.quit()
    assert window.app.join(PROMPT)


@pytest.mark.gui
def test_tk_chat_shows_a_pin_failure_in_a_dialog(
    tk_root: Any, display: str, chain: Chain, echo_server: WebSocketServer
) -> None:
    import chat_tk

    server = chat_tk.Target(
        echo_server.url(), [unrelated_pin(), unrelated_pin()], chain.ca_file
    )
    window = chat_tk.ChatWindow(tk_root, server)
    window.start()
    wait_for(tk_root.update, lambda: window.dialog is not None)
    assert window.app.join(WAIT), "a refused app must stop, not retry"
    summary = window.status["text"]
    assert summary.startswith("refused: Pin mismatch for localhost:")
    labels = [w for w in window.dialog.winfo_children() if w.winfo_class() == "Label"]
    assert "refused: " + labels[0]["text"] == summary
    details = [w for w in window.dialog.winfo_children() if w.winfo_class() == "Text"]
    assert chain.leaf_pin in details[0].get("1.0", "end")
    check_screenshot(grab_tk(window.dialog, display), "example-chat-tk-refused.png")
    assert echo_server.requests == []
    window.quit()


# -- Qt ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def qapp() -> Iterator[Any]:
    widgets = pytest.importorskip(
        "PySide6.QtWidgets", reason="PySide6 is not installed"
    )
    saved = os.environ.get("QT_QPA_PLATFORM")
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    try:
        yield widgets.QApplication.instance() or widgets.QApplication([])
    finally:
        if saved is None:
            del os.environ["QT_QPA_PLATFORM"]
        else:
            os.environ["QT_QPA_PLATFORM"] = saved


@pytest.mark.gui
def test_qt_chat_connects_sends_and_receives(
    qapp: Any, chain: Chain, echo_server: WebSocketServer
) -> None:
    import chat_qt

    server = chat_qt.Target(
        echo_server.url(), [chain.intermediate_pin, unrelated_pin()], chain.ca_file
    )
    window = chat_qt.ChatWindow(server)
    window.show()
    window.start()
    try:
        wait_for(
            qapp.processEvents, lambda: window.status.text().startswith("connected")
        )
        for text in ("Hello from the GUI thread", "pinned before the first byte"):
            window.entry.setText(text)
            window.entry.returnPressed.emit()
        wait_for(qapp.processEvents, lambda: window.messages.count() == 2)
        assert [window.messages.item(i).text() for i in range(2)] == [
            "Hello from the GUI thread",
            "pinned before the first byte",
        ]
        check_screenshot(window.grab(), "example-chat-qt.png")
    finally:
        window.close()
    assert window.app.join(PROMPT)
    window.deleteLater()


@pytest.mark.gui
def test_qt_chat_shows_a_pin_failure_in_a_dialog(
    qapp: Any, chain: Chain, echo_server: WebSocketServer
) -> None:
    import chat_qt

    server = chat_qt.Target(
        echo_server.url(), [unrelated_pin(), unrelated_pin()], chain.ca_file
    )
    window = chat_qt.ChatWindow(server)
    window.show()
    window.start()
    try:
        wait_for(qapp.processEvents, lambda: window.dialog is not None)
        assert window.app.join(WAIT), "a refused app must stop, not retry"
        dialog = window.dialog
        wait_for(qapp.processEvents, dialog.isVisible)
        assert window.status.text() == "refused: " + dialog.text()
        assert dialog.text().startswith("Pin mismatch for localhost:")
        assert chain.leaf_pin in dialog.detailedText()
        check_screenshot(
            dialog.grab(), "example-chat-qt-refused.png", tolerance=DIALOG_TOLERANCE
        )
        assert echo_server.requests == []
    finally:
        window.close()
    window.deleteLater()
