"""Many idle app connections in one process: ``python -m bench.scale JSON``.

A fresh process opens *count* connections, each a WebSocketApp running on
its own thread -- ``pinws.PinnedWebSocketApp.start()`` for pinws,
``websocket.WebSocketApp.run_forever`` on a thread for websocket-client
(with one reused ``SSLContext``, the fair baseline) -- and prints one JSON
object:

* ``seconds``: the time to open them all (from the first start to the last
  ``on_open``), at most ``in_flight`` handshakes at a time;
* ``per_connection``: resident memory growth per connection, bytes;
* ``idle_cpu``: CPU time (user + system) the whole process used while the
  connections sat idle for ``window`` seconds, in seconds;
* ``threads``: the threads alive while idle.

Run by ``python -m bench --only scale`` (which starts the server); it is not
meant to be run alone.
"""

from __future__ import annotations

import gc
import json
import resource
import ssl
import sys
import threading
import time
from typing import Any, Callable

from .worker import raise_fd_limit, rss

TIMEOUT = 60.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Opener:
    """Counts opens, closes and errors of many apps; bounds handshakes in flight."""

    def __init__(self, in_flight: int) -> None:
        self.slots = threading.Semaphore(in_flight)
        self.lock = threading.Condition()
        self.opened = 0
        self.closed = 0
        self.errors: list[str] = []

    def on_open(self, _app: Any) -> None:
        with self.lock:
            self.opened += 1
            self.lock.notify_all()
        self.slots.release()

    def on_error(self, _app: Any, error: Any) -> None:
        with self.lock:
            self.errors.append(repr(error))
            self.lock.notify_all()
        self.slots.release()  # a failed open frees its slot too

    def on_close(self, _app: Any, *_args: Any) -> None:
        with self.lock:
            self.closed += 1

    def wait_opened(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.opened < count and not self.errors:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)
            if self.opened < count:
                raise RuntimeError(
                    f"{self.opened} of {count} connections opened; "
                    f"errors: {self.errors[:3]}"
                )


def app_factory(job: dict[str, Any]) -> Callable[[Opener], tuple[Any, Any]]:
    """A function that starts one app for *job*'s client; returns (app, thread)."""
    url = job["url"]
    if job["client"] == "pinws":
        import pinws

        pins = pinws.PinSet(job["pins"])

        def start_pinws(opener: Opener) -> tuple[Any, Any]:
            app = pinws.PinnedWebSocketApp(
                url,
                pins=pins,
                ca_certs=job["bundle"],
                on_open=opener.on_open,
                on_error=opener.on_error,
                on_close=opener.on_close,
            )
            return app, app.start()

        return start_pinws
    if job["client"] == "websocket-client-tuned":
        import websocket

        context = ssl.create_default_context(cafile=job["roots"])

        def start_websocket_client(opener: Opener) -> tuple[Any, Any]:
            app = websocket.WebSocketApp(
                url,
                on_open=opener.on_open,
                on_error=opener.on_error,
                on_close=opener.on_close,
            )
            thread = threading.Thread(
                target=app.run_forever,
                kwargs={"sslopt": {"context": context}},
                daemon=True,
            )
            thread.start()
            return app, thread

        return start_websocket_client
    raise ValueError(f"no app client called {job['client']!r}")


def open_apps(
    start: Callable[[Opener], tuple[Any, Any]], count: int, in_flight: int
) -> tuple[float, Opener, list[tuple[Any, Any]]]:
    opener = Opener(in_flight)
    apps = []
    began = time.perf_counter()
    for _ in range(count):
        if not opener.slots.acquire(timeout=TIMEOUT):
            raise RuntimeError(f"no handshake finished in {TIMEOUT} s")
        if opener.errors:
            break
        apps.append(start(opener))
    opener.wait_opened(count, TIMEOUT)
    return time.perf_counter() - began, opener, apps


def close_apps(apps: list[tuple[Any, Any]]) -> None:
    for app, _ in apps:
        app.close()
    deadline = time.monotonic() + TIMEOUT
    for _, thread in apps:
        thread.join(max(0.0, deadline - time.monotonic()))


def measure(job: dict[str, Any]) -> dict[str, Any]:
    count = job["count"]
    raise_fd_limit(count * 2 + 256)
    start = app_factory(job)
    # Warm up: imports, the context cache, the first thread.
    _, _, warm = open_apps(start, 3, 3)
    close_apps(warm)
    gc.collect()
    before = rss()
    seconds, opener, apps = open_apps(start, count, job["in_flight"])
    gc.collect()
    after = rss()
    threads = threading.active_count()
    cpu = cpu_seconds()
    # The measurement window itself: the connections sit idle for a fixed time.
    time.sleep(job["window"])
    idle_cpu = cpu_seconds() - cpu
    dropped = opener.closed
    close_apps(apps)
    return {
        "seconds": seconds,
        "rss_before": before,
        "rss_after": after,
        "per_connection": (after - before) / count,
        "idle_cpu": idle_cpu,
        "window": job["window"],
        "threads": threads,
        "dropped": dropped,
        "errors": opener.errors,
    }


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
