"""Where an idle connection's memory goes: ``python -m bench.memory_breakdown``.

Starts the benchmark's server and PKI (as ``python -m bench`` does), then
runs each phase below in a fresh process, rounds interleaved (each round
runs every phase once, in an order rotated from round to round), and prints
the medians with min-max ranges:

* ``socket``: *N* connections from ``create_connection`` held open: resident
  memory (RSS) growth per connection;
* ``socket traced``: the same under :mod:`tracemalloc`: the Python objects
  per connection, in total and grouped by the file that allocated them.
  RSS minus that is what tracemalloc does not see: OpenSSL's allocations
  (its ``SSL`` object and buffers), cryptography's and the allocators'
  overhead;
* ``socket threaded``: the same connections, each opened by its own thread,
  which then blocks on an event: the connection plus the stack its
  handshake touched (a stack's pages stay resident once touched);
* ``app`` / ``app traced``: *N* WebSocketApps, each on its own thread
  (``PinnedWebSocketApp.start()``; websocket-client's ``run_forever`` on a
  thread);
* ``app one-arena``: ``app`` with glibc's ``MALLOC_ARENA_MAX=1``: what the
  per-thread malloc arenas cost;
* ``thread``: *N* idle threads blocked on an event: the stack and the
  interpreter's per-thread state, with ``threading.stack_size()`` and the
  stack limit they get.

pinws and the fair baseline (websocket-client with one reused
``SSLContext``) both run, for comparison. Options: ``--connections N``
(default 200), ``--rounds R`` (default 5), ``--clients pinws`` (pinws
only: websocket-client's app threads take 10 s to notice a close, which
the warm-up waits for), ``--json FILE``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import resource
import statistics
import tempfile
import threading
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Optional

from .clients import BASELINE, TIMEOUT, ClientSettings, make_client
from .pki import make_pki
from .scale import app_factory, close_apps, open_apps
from .worker import WARMUP, raise_fd_limit, rss, run_json

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ("pinws", BASELINE)
KINDS = (
    "socket",
    "socket threaded",
    "socket traced",
    "app",
    "app traced",
    "app one-arena",
)
# glibc gives threads their own malloc arenas (up to 8 per core); an
# environment variable, read at process start, caps them at one.
ONE_ARENA = {"MALLOC_ARENA_MAX": "1"}
TOP_FILES = 10


def _short(filename: str) -> str:
    """A file name without the site-packages or repository prefix."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    stdlib = re.sub(r".*/lib/python3\.\d+/", "", filename)
    if stdlib != filename:
        return stdlib
    try:
        return str(Path(filename).relative_to(ROOT))
    except ValueError:
        return filename


Opener = Callable[[int], tuple[Callable[[list[Any]], None], list[Any]]]


def _connector(job: dict[str, Any]) -> Opener:
    """A function opening *n* connections of *job*'s kind: (closer, conns).

    The client (its SSLContext, its PinSet) is made here, once, before any
    measurement starts.
    """
    if job["kind"].startswith("app"):
        start = app_factory(job)

        def open_apps_held(count: int) -> tuple[Any, list[Any]]:
            _, _, apps = open_apps(start, count, job["in_flight"])
            return close_apps, apps

        return open_apps_held
    settings = ClientSettings(
        bundle=job["bundle"], pins=job["pins"], leaf_sha256=b"", roots=job["roots"]
    )
    client = make_client(job["client"], settings)

    def open_sockets(count: int) -> tuple[Any, list[Any]]:
        _, conns = client.open_many(job["url"], count, concurrent=False)
        return client.close_many, conns

    return open_sockets


def _idle_threads(
    count: int, connect: Optional[Opener] = None
) -> tuple[Any, list[Any]]:
    """*count* threads blocked on an event; with *connect*, each opens a connection."""
    release = threading.Event()
    opened = threading.Semaphore(0)
    conns: list[Any] = []
    closer: list[Any] = []

    def hold() -> None:
        if connect is not None:
            close, held = connect(1)
            conns.extend(held)
            closer[:] = [close]
        opened.release()
        release.wait()

    threads = [threading.Thread(target=hold, daemon=True) for _ in range(count)]
    for thread in threads:
        # One at a time, as the other phases open them.
        thread.start()
        if not opened.acquire(timeout=TIMEOUT):
            raise RuntimeError("a thread did not open its connection")

    def close(held: list[Any]) -> None:
        release.set()
        for thread in held:
            thread.join(TIMEOUT)
        if closer:
            closer[0](conns)

    return close, threads


def stacks_rss() -> int:
    """Resident bytes of the threads' stacks, from /proc/self/smaps (0 elsewhere).

    A thread's stack is an anonymous mapping of ``threading.stack_size()``
    bytes, or of the stack limit when that is 0 (glibc's default), so the
    mappings of exactly that size are counted.
    """
    size = threading.stack_size() or resource.getrlimit(resource.RLIMIT_STACK)[0]
    total = 0
    current = False
    try:
        with open("/proc/self/smaps", encoding="ascii") as handle:
            for line in handle:
                if line[0] in "0123456789abcdef" and "-" in line.split()[0]:
                    fields = line.split()
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    current = end - start == size and len(fields) < 6
                elif current and line.startswith("Rss:"):
                    total += int(line.split()[1]) * 1024
    except OSError:
        return 0
    return total


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """One phase in this (fresh) process: growth per connection, maybe traced."""
    count = job["count"]
    raise_fd_limit(count * 2 + 256)
    traced = job["kind"].endswith("traced")
    if traced:
        # Before the warm-up: what it allocates once is in the first snapshot.
        tracemalloc.start(1)
    kind = job["kind"]
    connect = None if kind == "thread" else _connector(job)

    def opener(count: int) -> tuple[Any, list[Any]]:
        if connect is None or kind == "socket threaded":
            return _idle_threads(count, connect)
        return connect(count)

    close, warm = opener(WARMUP)
    close(warm)
    gc.collect()
    before, stacks_before = rss(), stacks_rss()
    first = tracemalloc.take_snapshot() if traced else None
    held = opener(count)  # (closer, connections), alive until the return
    gc.collect()
    after, stacks_after = rss(), stacks_rss()
    result: dict[str, Any] = {
        "rss": (after - before) / count,
        "stack": (stacks_after - stacks_before) / count,
        "held": len(held[1]),
    }
    if first is not None:
        second = tracemalloc.take_snapshot()
        files: dict[str, float] = {}
        for stat in second.compare_to(first, "filename"):
            name = _short(stat.traceback[0].filename)
            files[name] = files.get(name, 0.0) + stat.size_diff / count
        result["python"] = sum(files.values())
        result["files"] = files
        tracemalloc.stop()
    if job["kind"] == "thread":
        result["stack_size"] = threading.stack_size()
        result["stack_limit"] = resource.getrlimit(resource.RLIMIT_STACK)[0]
    # No closing: the process ends here, and websocket-client's app threads
    # would take up to 10 s (its select timeout) to notice a close.
    return result


def _run_phase(job: dict[str, Any]) -> dict[str, Any]:
    env = dict(os.environ)
    if job["kind"].endswith("one-arena"):
        env.update(ONE_ARENA)
    return run_json(
        "bench.memory_breakdown", ["--phase", json.dumps(job)], TIMEOUT * 6, env
    )


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    kib = [v / 1024 for v in values]
    return f"{statistics.median(kib):.1f} ({min(kib):.1f}-{max(kib):.1f})"


def table(
    samples: dict[str, list[dict[str, Any]]], count: int, clients: list[str]
) -> str:
    """The breakdown as Markdown: KiB per connection, median (min-max)."""

    def values(phase: str, field: str) -> list[float]:
        return [s[field] for s in samples.get(phase, []) if field in s]

    def untraced(client: str, kind: str) -> list[float]:
        # Paired by round: the RSS of the untraced phase minus the Python
        # objects of the traced one.
        rss_values = values(f"{client} {kind}", "rss")
        python = values(f"{client} {kind} traced", "python")
        return [r - p for r, p in zip(rss_values, python)]

    def minus(client: str, larger: str, smaller: str) -> list[float]:
        big = values(f"{client} {larger}", "rss")
        small = values(f"{client} {smaller}", "rss")
        return [b - s for b, s in zip(big, small)]

    lines = [
        f"KiB per connection, {count} held; median (min-max) over "
        f"{len(samples.get('thread', []))} interleaved rounds.",
        "",
        "| | " + " | ".join(clients) + " |",
        "|---|" + "---|" * len(clients),
    ]
    rows = [
        (
            "connection (`create_connection`), RSS",
            lambda c: values(f"{c} socket", "rss"),
        ),
        (
            "  of which Python objects (tracemalloc)",
            lambda c: values(f"{c} socket traced", "python"),
        ),
        (
            "  of which not traced (OpenSSL, allocators), RSS - Python",
            lambda c: untraced(c, "socket"),
        ),
        (
            "connection opened by its own thread, then idle, RSS",
            lambda c: values(f"{c} socket threaded", "rss"),
        ),
        (
            "  of which the thread (RSS - connection)",
            lambda c: minus(c, "socket threaded", "socket"),
        ),
        (
            "  of which its stack (resident pages, smaps)",
            lambda c: values(f"{c} socket threaded", "stack"),
        ),
        ("an idle thread that did nothing, RSS", lambda c: values("thread", "rss")),
        (
            "  of which its stack (resident pages, smaps)",
            lambda c: values("thread", "stack"),
        ),
        ("app on its own thread, RSS", lambda c: values(f"{c} app", "rss")),
        (
            "  of which Python objects (tracemalloc)",
            lambda c: values(f"{c} app traced", "python"),
        ),
        (
            "  of which its thread's stack (resident pages, smaps)",
            lambda c: values(f"{c} app", "stack"),
        ),
        (
            "  app - connection on its own thread",
            lambda c: minus(c, "app", "socket threaded"),
        ),
        (
            "app on its own thread, MALLOC_ARENA_MAX=1, RSS",
            lambda c: values(f"{c} app one-arena", "rss"),
        ),
    ]
    for title, getter in rows:
        cells = " | ".join(_cell(getter(c)) for c in clients)
        lines.append(f"| {title} | {cells} |")
    thread = samples.get("thread", [{}])[0]
    lines += [
        "",
        f"Threads: `threading.stack_size()` = {thread.get('stack_size')} "
        f"(0: the platform default), stack limit (RLIMIT_STACK) = "
        f"{thread.get('stack_limit')} bytes; a thread's stack is reserved, "
        "not resident: RSS counts only the pages it touched.",
    ]
    for client in clients:
        for kind in ("socket traced", "app traced"):
            phase = f"{client} {kind}"
            per_file: dict[str, list[float]] = {}
            for sample in samples.get(phase, []):
                for name, size in sample["files"].items():
                    per_file.setdefault(name, []).append(size)
            ranked = sorted(per_file.items(), key=lambda kv: -statistics.median(kv[1]))
            lines += [
                "",
                f"Python objects per connection by file, {phase.replace(' traced', '')}"
                f" (top {TOP_FILES}), KiB:",
                "",
                "| file | KiB |",
                "|---|---|",
            ]
            lines += [f"| {name} | {_cell(v)} |" for name, v in ranked[:TOP_FILES]]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory_breakdown", description=__doc__
    )
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--clients", default=",".join(CLIENTS), help="comma-separated subset"
    )
    parser.add_argument("--json", help="also write every sample here")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        print(json.dumps(measure(json.loads(args.phase))))
        return 0
    import logging

    from .run import server_process

    logging.getLogger("pinws").setLevel(logging.ERROR)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    if not clients or set(clients) - set(CLIENTS):
        parser.error(f"--clients: a subset of {', '.join(CLIENTS)}")
    phases = ["thread"] + [f"{c} {k}" for c in clients for k in KINDS]
    samples: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="pinws-bench-") as tmp:
        pki = make_pki(Path(tmp))
        with server_process(pki, Path(tmp)) as ports:
            for index in range(args.rounds):
                shift = index % len(phases)
                for phase in phases[shift:] + phases[:shift]:
                    client, _, kind = phase.partition(" ")
                    job = {
                        "client": client,
                        "kind": kind if client != "thread" else "thread",
                        "count": args.connections,
                        "url": f"wss://localhost:{ports[3]}/hold",
                        "in_flight": 10,
                        "bundle": pki.bundle,
                        "roots": pki.roots,
                        "pins": [pki.main.issuer_pin, pki.backup_pin],
                    }
                    samples.setdefault(phase, []).append(_run_phase(job))
    if args.json:
        Path(args.json).write_text(json.dumps(samples, indent=2) + "\n")
    print(table(samples, args.connections, clients), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
