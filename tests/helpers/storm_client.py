"""The storm's client, run in a child process so that a crash fails the test.

Usage: ``python -X faulthandler -m helpers.storm_client '<json config>'``
(with the worktree and ``tests/`` on ``PYTHONPATH``). One
:class:`pinws.PinnedWebSocketApp`; ``senders`` threads each send
``per_sender`` messages while the server pushes ``pushes`` messages. Prints
one JSON report as its last line of output and exits 0 when the storm ran
to its end (complete or not: the parent judges the report), 3 when threads
were still stuck at the deadline.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import threading
import time
from typing import Any

import pinws
from helpers.storm import message, parse_push, push_digest_part
from helpers.timing import WAIT


def _name(exc: BaseException) -> list[str]:
    kind = type(exc)
    return [f"{kind.__module__}.{kind.__qualname__}", str(exc)[:300]]


def run(config: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    senders = int(config["senders"])
    per_sender = int(config["per_sender"])
    expected_pushes = int(config["pushes"])
    large = int(config.get("large", 16384))
    deadline = time.monotonic() + float(config["deadline"])
    lock = threading.Lock()
    opened = threading.Event()
    finished = threading.Event()
    state: dict[str, Any] = {
        "opened": False,
        "pushes": 0,
        "bad_pushes": [],
        "errors": [],
        "closed": False,
        "close_status": None,
        "sent": [0] * senders,
        "send_errors": [],
    }
    digest = hashlib.sha256()

    def on_open(app: Any) -> None:
        state["opened"] = True
        opened.set()

    def on_message(app: Any, data: Any) -> None:
        parsed = parse_push(data) if isinstance(data, bytes) else None
        with lock:
            index = state["pushes"]
            if parsed is None or parsed[0] != index:
                if len(state["bad_pushes"]) < 10:
                    state["bad_pushes"].append(
                        f"push {index}: {type(data).__name__} of {len(data)} bytes"
                    )
            else:
                digest.update(push_digest_part(data))
            state["pushes"] = index + 1
            if state["pushes"] >= expected_pushes:
                finished.set()

    def on_error(app: Any, error: BaseException) -> None:
        with lock:
            state["errors"].append(_name(error))

    def on_close(app: Any, status: Any, reason: Any) -> None:
        state["closed"] = True
        state["close_status"] = status
        finished.set()
        opened.set()

    app = pinws.PinnedWebSocketApp(
        config["url"],
        pins=config["pins"],
        ca_certs=config["ca_file"],
        on_open=on_open,
        on_message=on_message,
        on_error=on_error,
        on_close=on_close,
    )
    started = time.monotonic()
    app.start(sockopt=[(socket.SOL_SOCKET, socket.SO_SNDBUF, int(config["sndbuf"]))])
    if not opened.wait(WAIT) or not state["opened"]:
        app.close()
        state["joined"] = app.join(WAIT)
        return state, True
    barrier = threading.Barrier(senders)

    def sender(n: int) -> None:
        barrier.wait(WAIT)
        for seq in range(per_sender):
            try:
                app.send(message(n, seq, large))
            except Exception as exc:
                with lock:
                    state["send_errors"].append([n, seq, *_name(exc)])
                return
            state["sent"][n] = seq + 1

    threads = [
        threading.Thread(target=sender, args=(n,), daemon=True) for n in range(senders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    finished.wait(max(0.0, deadline - time.monotonic()))
    state["send_seconds"] = round(time.monotonic() - started, 3)
    state["stuck_senders"] = stuck
    state["push_digest"] = digest.hexdigest()
    app.close()
    state["joined"] = app.join(WAIT)
    return state, stuck == 0 and state["joined"]


def main() -> None:
    state, ended = run(json.loads(sys.argv[1]))
    sys.stdout.write("\n" + json.dumps(state) + "\n")
    sys.stdout.flush()
    # Stuck daemon threads would block a normal exit.
    os._exit(0 if ended else 3)


if __name__ == "__main__":
    main()
