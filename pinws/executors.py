"""Executors that run a :class:`~pinws.PinnedWebSocketApp`'s callbacks on your thread.

An app started with :meth:`~pinws.PinnedWebSocketApp.start` reads on a
worker thread. Given ``callback_executor=executor``, it hands each callback
(``on_open``, ``on_message``, ``on_error``, ``on_close``, ``on_pin_failure``,
...) to ``executor`` as a zero-argument callable instead of running it there;
the executor runs it later on the thread that owns it, in the order the
callbacks were handed over.

- :class:`QueueExecutor`: any thread that polls (a script, an event loop)
  calls :meth:`QueueExecutor.run_pending`.
- :class:`TkExecutor`: the Tk mainloop runs them on the Tk thread.
- :class:`QtExecutor`: the Qt event loop runs them on the thread the
  executor was created on (PySide6, PyQt6, PySide2 or PyQt5).

None of them blocks the worker: handing a callable over puts it in a
queue (and, for Qt, posts an event, which Qt allows from any thread); Tk is
never called from the worker thread. Any
``f(callable)`` that does the same will do as an executor; asyncio's
``loop.call_soon_threadsafe`` is one.

Neither Tk nor Qt is imported until the executor for it is created.

.. versionadded:: 0.1
"""

from __future__ import annotations

import functools
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional

from ._log import get_logger

if TYPE_CHECKING:
    import tkinter

__all__ = ["QtExecutor", "QueueExecutor", "TkExecutor"]

logger = get_logger("executors")

Job = Callable[[], object]


def _check_job(fn: object) -> None:
    if not callable(fn):
        raise TypeError(
            f"an executor runs zero-argument callables, not {type(fn).__name__}"
        )


def _drain(jobs: queue.SimpleQueue[Job], first: Optional[Job] = None) -> Iterator[Job]:
    """The callables queued now, taken one at a time (*first* before them)."""
    # Only what is queued now: callables queued while these run (a busy
    # feed, or a job queuing another) wait for the next drain, so one drain
    # always ends and the owner's event loop gets its turn. One at a time: a
    # job that raises leaves the rest queued, in order.
    if first is not None:
        yield first
    for _ in range(jobs.qsize()):
        try:
            yield jobs.get_nowait()
        except queue.Empty:
            return


class QueueExecutor:
    """A thread-safe queue of callbacks that the thread owning it drains.

    Hand it to the app as ``callback_executor``; call :meth:`run_pending`
    from the thread that should run the callbacks -- in a loop, or from an
    event loop's idle or timer hook::

        executor = QueueExecutor()
        app = pinws.PinnedWebSocketApp(url, pins=pins, on_message=show,
                                       callback_executor=executor)
        app.start()
        while not app.join(timeout=0):
            executor.run_pending(timeout=0.1)
        executor.run_pending()        # on_close, queued as the worker ended

    Calling the executor (from any thread) only queues the callable.

    .. versionadded:: 0.1
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()

    def __call__(self, fn: Job) -> None:
        """Queue *fn* to be run by :meth:`run_pending`. Safe from any thread.

        Raises:
            TypeError: *fn* is not callable.
        """
        _check_job(fn)
        self._jobs.put(fn)

    def pending(self) -> int:
        """How many callables are queued (approximate while others queue more)."""
        return self._jobs.qsize()

    def run_pending(self, timeout: Optional[float] = None) -> int:
        """Run the queued callables, in order, on the calling thread.

        Runs those queued when it is called, not those queued while they run
        (they wait for the next call), so it always returns.

        Args:
            timeout: ``None`` or ``0``: do not wait; a number of seconds:
                when nothing is queued, wait up to that long for the first
                callable.

        Returns:
            How many callables ran.

        Raises:
            ValueError: *timeout* is negative.
            Exception: whatever a callable raised; the callables after it
                stay queued for the next call. (The app's callbacks never
                raise here: like websocket-client, the app logs a failing
                callback and reports it to ``on_error``.)
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be None or >= 0 seconds, not {timeout!r}")
        first: Optional[Job] = None
        if timeout and self._jobs.empty():
            try:
                first = self._jobs.get(timeout=timeout)
            except queue.Empty:
                return 0
        ran = 0
        for fn in _drain(self._jobs, first):
            fn()
            ran += 1
        return ran


class TkExecutor:
    """Runs callbacks on the Tk thread, from the Tk mainloop.

    Create it on the Tk thread, after the root window. Other threads never
    call Tk: a handed-over callable goes into a thread-safe queue, which the
    mainloop drains every *interval_ms* milliseconds (``root.after``
    polling), because Tk calls from other threads are not safe in every Tcl
    build. It stops when *root* is destroyed, or on :meth:`close`; callables
    handed over after that are dropped (logged at debug level).

    A callback that raises is reported through
    ``root.report_callback_exception``, as Tk reports its own callbacks'
    errors, and the next callbacks still run.

    Args:
        root: the :class:`tkinter.Tk` root (or any widget whose lifetime
            the executor should follow).
        interval_ms: how often the mainloop looks for callbacks, in
            milliseconds: the most a callback waits before it runs.

    Raises:
        ValueError: *interval_ms* is not a positive integer.
        TypeError: *root* is not a Tk widget.

    .. versionadded:: 0.1
    """

    def __init__(self, root: tkinter.Misc, interval_ms: int = 10) -> None:
        if isinstance(interval_ms, bool) or not isinstance(interval_ms, int):
            raise ValueError(
                "interval_ms must be a whole number of milliseconds, "
                f"not {interval_ms!r}"
            )
        if interval_ms <= 0:
            raise ValueError(f"interval_ms must be positive, not {interval_ms}")
        import tkinter

        if not isinstance(root, tkinter.Misc):
            raise TypeError(
                f"TkExecutor needs a tkinter root or widget, not {type(root).__name__}"
            )
        self._root = root
        self._interval_ms = interval_ms
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._binding: Optional[str] = root.bind("<Destroy>", self._on_destroy, add="+")
        self._after_id: Optional[str] = root.after(interval_ms, self._poll)

    def __call__(self, fn: Job) -> None:
        """Queue *fn* for the Tk mainloop. Safe from any thread; never calls Tk.

        Raises:
            TypeError: *fn* is not callable.
        """
        _check_job(fn)
        if self._closed.is_set():
            logger.debug(
                "TkExecutor is closed (its root was destroyed); dropped %r", fn
            )
            return
        self._jobs.put(fn)

    @property
    def closed(self) -> bool:
        """Whether the executor has stopped (root destroyed, or :meth:`close`)."""
        return self._closed.is_set()

    def close(self) -> None:
        """Stop polling and drop what is still queued. Call on the Tk thread."""
        if self._closed.is_set():
            return
        self._closed.set()
        after_id, self._after_id = self._after_id, None
        binding, self._binding = self._binding, None
        import tkinter

        try:
            if after_id is not None:
                self._root.after_cancel(after_id)
            if binding is not None:
                self._unbind(binding)
        except tkinter.TclError:
            pass  # the interpreter is already gone; nothing left to cancel
        dropped = sum(1 for _ in _drain(self._jobs))
        if dropped:
            logger.debug("TkExecutor closed with %d callbacks queued", dropped)

    def _unbind(self, funcid: str) -> None:
        # unbind("<Destroy>", funcid) would also drop the application's own
        # <Destroy> bindings on Python < 3.13 (CPython gh-75666): keep every
        # line of the binding script but the executor's.
        script = self._root.bind("<Destroy>")
        kept = "\n".join(line for line in script.split("\n") if funcid not in line)
        self._root.bind("<Destroy>", kept)
        self._root.deletecommand(funcid)

    def _on_destroy(self, event: tkinter.Event[Any]) -> None:
        if event.widget is self._root:
            self.close()

    def _poll(self) -> None:
        self._after_id = None
        try:
            for fn in _drain(self._jobs):
                if self._closed.is_set():
                    return  # a callback destroyed the root
                try:
                    fn()
                except Exception as exc:
                    # Tk's own hook for errors in its callbacks, on the root.
                    tk_root = self._root.nametowidget(".")
                    tk_root.report_callback_exception(type(exc), exc, exc.__traceback__)
        finally:
            if not self._closed.is_set():
                self._after_id = self._root.after(self._interval_ms, self._poll)


_QT_BINDINGS = ("PySide6", "PyQt6", "PySide2", "PyQt5")


def _qt_core(parent: object) -> ModuleType:
    """The QtCore module of the binding the application uses."""
    if parent is not None:
        # The parent's class may be the application's own (a main window):
        # the binding is that of the first Qt class it derives from.
        for cls in type(parent).__mro__:
            package = cls.__module__.partition(".")[0]
            core = sys.modules.get(f"{package}.QtCore")
            if package in _QT_BINDINGS and core is not None:
                if isinstance(parent, core.QObject):
                    return core
                break
        raise TypeError(
            f"QtExecutor's parent must be a QObject, not {type(parent).__name__}"
        )
    # The binding whose application exists; failing that, one already
    # imported: a process can hold only one Qt, and importing a second
    # binding next to the first would load a second copy of it.
    loaded = [
        sys.modules[f"{name}.QtCore"]
        for name in _QT_BINDINGS
        if f"{name}.QtCore" in sys.modules
    ]
    for core in loaded:
        if core.QCoreApplication.instance() is not None:
            return core
    if loaded:
        return loaded[0]
    import importlib

    for name in _QT_BINDINGS:
        try:
            return importlib.import_module(f"{name}.QtCore")
        except ImportError:
            continue
    raise ImportError(
        "QtExecutor needs a Qt binding for Python: PySide6, PyQt6, PySide2 or "
        "PyQt5 (pip install PySide6-Essentials)"
    )


@functools.cache
def _relay_class(core: Any) -> tuple[Any, Any]:
    """A QObject class that runs one queued callable per event it receives.

    Returns the class and the event type to post to it. Cached: one class
    per binding, created the first time it is needed.
    """
    event_type = getattr(core.QEvent, "Type", core.QEvent).User

    class CallbackRelay(core.QObject):  # type: ignore[misc]
        """Runs the next queued callable for each event posted to it."""

        def __init__(self, parent: Any, jobs: queue.SimpleQueue[Job]) -> None:
            super().__init__(parent)
            self._jobs = jobs

        def customEvent(self, event: Any) -> None:
            if event.type() != event_type:
                return
            try:
                fn = self._jobs.get_nowait()
            except queue.Empty:
                return
            try:
                fn()
            except Exception as exc:
                # What PySide does with an exception from a slot (PyQt would
                # abort the application); an excepthook the application
                # installed gets it.
                sys.excepthook(type(exc), exc, exc.__traceback__)

    return CallbackRelay, event_type


class QtExecutor:
    """Runs callbacks on a Qt thread, from its event loop.

    Create it on the GUI thread (or on any thread that runs a Qt event
    loop), after the ``QApplication``/``QCoreApplication``. It is a QObject
    living on that thread: each callable handed over is queued, and an event
    is posted to the QObject (``QCoreApplication.postEvent``, thread-safe:
    what a queued signal connection does underneath), so the event loop of
    that thread runs the callables, in order -- never inside the code that
    handed them over, even on that same thread. Works with PySide6, PyQt6,
    PySide2 and PyQt5 (the one the application uses, or the parent's),
    imported only when the executor is created.

    After the QObject is deleted (with its *parent*, say), callables
    handed over are dropped, logged at debug level.

    A callback that raises is passed to :func:`sys.excepthook`, as PySide
    does for a slot, and the next callbacks still run.

    Args:
        parent: a QObject to parent the executor's QObject to, so it is
            deleted with it; it also picks the Qt binding.

    Raises:
        ImportError: no Qt binding is installed.
        RuntimeError: no ``QCoreApplication`` exists yet (create the
            application first: without it nothing would run the callbacks).
        TypeError: *parent* is not a QObject.

    .. versionadded:: 0.1
    """

    # Why events and not a signal carrying the callable: PySide6 6.12.0's
    # SignalInstance.emit() drops a reference to True on every call. On
    # Python < 3.12, where True is not immortal, a few thousand callbacks
    # abort the process ("bool_dealloc: deallocating True or False");
    # QCoreApplication.postEvent has no such bug and works in every binding.

    def __init__(self, parent: Optional[Any] = None) -> None:
        core = _qt_core(parent)
        application = core.QCoreApplication
        if application.instance() is None:
            raise RuntimeError(
                "QtExecutor needs a running Qt application: create the "
                "QApplication (or QCoreApplication) before the executor"
            )
        relay_class, event_type = _relay_class(core)
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._alive = True
        self._post = application.postEvent
        self._make_event = functools.partial(core.QEvent, event_type)
        relay = relay_class(parent, self._jobs)
        relay.destroyed.connect(self._on_destroyed)
        self._relay = relay

    @property
    def qobject(self) -> Any:
        """The QObject that runs the callbacks (to reparent it, or move it)."""
        return self._relay

    @property
    def closed(self) -> bool:
        """Whether the executor's QObject has been deleted."""
        return not self._alive

    def __call__(self, fn: Job) -> None:
        """Queue *fn* for the Qt event loop. Safe from any thread.

        Raises:
            TypeError: *fn* is not callable.
        """
        _check_job(fn)
        # The lock keeps callables and their events in the same order when
        # several threads hand over at once, and keeps a post from racing the
        # QObject's destruction on its thread: Qt's destroyed signal waits
        # for it, and after it nothing is posted to the dead object.
        with self._lock:
            if self._alive:
                self._jobs.put(fn)
                try:
                    self._post(self._relay, self._make_event())
                except RuntimeError:
                    # Deleted by a route that bypassed ``destroyed``.
                    self._alive = False
                else:
                    return
        logger.debug("QtExecutor's QObject was deleted; dropped %r", fn)

    def _on_destroyed(self, *_: object) -> None:
        with self._lock:
            self._alive = False
