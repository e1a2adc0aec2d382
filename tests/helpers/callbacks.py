"""Record a PinnedWebSocketApp's callbacks: which ran, with what, on which thread."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any, Optional

import pinws

from .pki import Chain, unrelated_pin
from .servers import WebSocketServer

CALLBACKS = ("on_open", "on_message", "on_error", "on_close", "on_pin_failure")


@dataclasses.dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]
    thread: int


class Recorder:
    """Callbacks for an app that record each call, then run an optional reaction.

    ``reactions`` maps a callback name ("on_message", ...) to a function
    ``reaction(app, *args)`` run after the call is recorded, on the same thread.
    ``closed`` is set once ``on_close`` has run.
    """

    def __init__(
        self, reactions: Optional[dict[str, Callable[..., Any]]] = None
    ) -> None:
        self.calls: list[Call] = []
        self.closed = threading.Event()
        self._reactions = dict(reactions or {})

    def kwargs(self) -> dict[str, Callable[..., Any]]:
        return {name: self._recorder(name) for name in CALLBACKS}

    def _recorder(self, name: str) -> Callable[..., Any]:
        def callback(app: pinws.PinnedWebSocketApp, *args: Any) -> None:
            self.calls.append(Call(name, args, threading.get_ident()))
            reaction = self._reactions.get(name)
            if reaction is not None:
                reaction(app, *args)
            if name == "on_close":
                self.closed.set()

        return callback

    @property
    def names(self) -> list[str]:
        return [call.name for call in self.calls]

    @property
    def threads(self) -> set[int]:
        return {call.thread for call in self.calls}

    def args_of(self, name: str) -> list[tuple[Any, ...]]:
        return [call.args for call in self.calls if call.name == name]


def send_one_and_two(app: pinws.PinnedWebSocketApp) -> None:
    """An on_open reaction: send the two messages of the echo conversation."""
    app.send("one")
    app.send("two")


def echo_conversation(
    on_close: Optional[Callable[..., Any]] = None,
) -> Recorder:
    """on_open sends "one" and "two"; the echo of "two" closes the app.

    The close happens from the callback, on whatever thread runs callbacks.
    """

    def message(app: pinws.PinnedWebSocketApp, text: str) -> None:
        if text == "two":
            app.close()

    reactions: dict[str, Callable[..., Any]] = {
        "on_open": send_one_and_two,
        "on_message": message,
    }
    if on_close is not None:
        reactions["on_close"] = on_close
    return Recorder(reactions)


#: What the echo conversation records, in order, when all goes well.
ECHO_SEQUENCE = ["on_open", "on_message", "on_message", "on_close"]


def make_app(
    server: WebSocketServer,
    chain: Chain,
    recorder: Recorder,
    executor: object,
    pins: Optional[list[str]] = None,
) -> pinws.PinnedWebSocketApp:
    """An app on *server* whose callbacks *recorder* records, run by *executor*."""
    return pinws.PinnedWebSocketApp(
        server.url(),
        pins=pins or [chain.intermediate_pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        callback_executor=executor,
        **recorder.kwargs(),
    )


def assert_mismatch_reported_on_this_thread(
    recorder: Recorder, server: WebSocketServer
) -> None:
    """A pin mismatch ran on_pin_failure, on_error, on_close here, and nothing
    of the upgrade reached the server."""
    assert recorder.names == ["on_pin_failure", "on_error", "on_close"]
    assert recorder.threads == {threading.get_ident()}
    (error,) = recorder.args_of("on_error")[0]
    assert isinstance(error, pinws.PinMismatchError)
    assert server.requests == []
