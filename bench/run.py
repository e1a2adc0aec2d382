"""Run the benchmark suite: ``python -m bench [--smoke] [--out DIR]``.

Starts the server process, generates the certificates, measures every
client metric by metric with rounds interleaved (in each round every client
runs once, in an order rotated from round to round, so drift in the
machine's speed hits all clients alike), then writes ``results.json``,
``results.md`` and ``chart.png`` to the output directory and prints the
table.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import json
import logging
import os
import platform
import secrets
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

from . import report
from .clients import (
    BASELINE,
    CERTIFI_BASELINE,
    CLIENTS,
    TIMEOUT,
    ClientSettings,
    library_versions,
    make_client,
)
from .pki import Pki, make_pki
from .worker import run_json

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "rounds": 15,
        "connects": 15,
        "echo": 2000,
        "big_messages": 32,
        "stream": 20000,
        "idle": 100,
        "idle_rounds": 5,
        "pin_counts": [1, 10, 100, 1000, 10000],
        "pin_connects": 15,
        "chain_connects": 10,
        "concurrent": 200,
        "concurrent_rounds": 3,
        "lookups": 200000,
        "ct_connects": 15,
        "scale": 1000,
        "scale_rounds": 2,
        "scale_window": 10.0,
        "scale_in_flight": 20,
        "budget": 540.0,
    },
    "smoke": {
        "rounds": 1,
        "connects": 2,
        "echo": 20,
        "big_messages": 2,
        "stream": 200,
        # Enough that the fair baseline's ~26 KiB each never rounds to zero
        # pages of resident memory (its ratio divides by it).
        "idle": 20,
        "idle_rounds": 1,
        "pin_counts": [1, 100],
        "pin_connects": 2,
        "chain_connects": 1,
        "concurrent": 20,
        "concurrent_rounds": 1,
        "lookups": 1000,
        "ct_connects": 2,
        "scale": 20,
        "scale_rounds": 1,
        "scale_window": 1.0,
        "scale_in_flight": 5,
        "budget": 120.0,
    },
}


class Budget:
    """The suite's time limit: rounds stop being started once it is spent."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.exhausted = False

    def left(self) -> bool:
        if time.monotonic() >= self.deadline:
            self.exhausted = True
        return not self.exhausted


@contextlib.contextmanager
def server_process(pki: Pki, workdir: Path) -> Iterator[dict[Any, int]]:
    """Run bench.server in its own process; yield {chain length or "ct": port}."""
    config = workdir / "server.json"
    chains = {
        str(length): {"cert_chain": files.cert_chain, "key": files.key}
        for length, files in pki.chains.items()
    }
    chains["ct"] = {"cert_chain": pki.ct.cert_chain, "key": pki.ct.key}
    # The main chain again, with session tickets: the resumed-connect metric.
    chains["resume"] = {**chains["3"], "tickets": True}
    config.write_text(json.dumps({"chains": chains}))
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.server", str(config)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server did not start")
        ports: dict[Any, int] = {
            int(k) if k.isdigit() else k: v
            for k, v in json.loads(line)["ports"].items()
        }
        yield ports
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    from OpenSSL import SSL

    return {
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "openssl_stdlib": ssl.OPENSSL_VERSION,
        "openssl_pyopenssl": SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode(),
    }


def random_pins(count: int) -> list[str]:
    return [
        "sha256/" + base64.b64encode(secrets.token_bytes(32)).decode()
        for _ in range(count)
    ]


class Suite:
    def __init__(
        self,
        profile: dict[str, Any],
        pki: Pki,
        ports: dict[Any, int],
        clients: list[str],
    ) -> None:
        self.p = profile
        self.pki = pki
        self.ports = ports
        self.budget = Budget(profile["budget"])
        self.errors: list[dict[str, str]] = []
        self.metrics: dict[str, dict[str, Any]] = {}
        self.settings = ClientSettings(
            bundle=pki.bundle,
            pins=[pki.main.issuer_pin, pki.backup_pin],
            leaf_sha256=pki.main.leaf_sha256,
            roots=pki.roots,
        )
        self.clients: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}
        self.failed_opens: dict[str, int] = {}
        for name in clients:
            try:
                self.clients[name] = make_client(name, self.settings)
            except ImportError as exc:
                self.skipped[name] = f"not installed: {exc}"

    def url(self, path: str, chain: Any = 3) -> str:
        return f"wss://localhost:{self.ports[chain]}{path}"

    def metric(
        self, key: str, title: str, unit: str, better: str, group: str
    ) -> dict[str, Any]:
        entry = self.metrics.setdefault(
            key,
            {
                "title": title,
                "unit": unit,
                "better": better,
                "group": group,
                "results": {},
            },
        )
        return entry

    def record(self, key: str, client: str, value: float) -> None:
        results = self.metrics[key]["results"]
        results.setdefault(client, {"samples": []})["samples"].append(value)

    def attempt(self, key: str, client: str, measure: Callable[[], float]) -> None:
        try:
            self.record(key, client, measure())
        except Exception as exc:
            self.errors.append({"metric": key, "client": client, "error": repr(exc)})

    def note_failures(self, name: str, count: int) -> None:
        self.failed_opens[name] = self.failed_opens.get(name, 0) + count

    def collect_failures(self, clients: Any) -> None:
        for name, client in clients:
            self.note_failures(name, client.failed_opens)
            client.failed_opens = 0

    def interleaved_connects(
        self,
        key: str,
        clients: dict[Any, Any],
        urls: dict[Any, str],
        count: int,
        index: int,
    ) -> None:
        """One round of connect latency, the clients taking turns per connection."""
        times: dict[Any, list[float]] = {k: [] for k in clients}
        order = list(clients)
        for turn in range(count):
            for k in self.rotated(order, index + turn):
                try:
                    times[k] += clients[k].connect_times(urls[k], 1)
                except Exception as exc:
                    self.errors.append(
                        {"metric": key, "client": str(k), "error": repr(exc)}
                    )
        for k, values in times.items():
            if values:
                name, metric = k if isinstance(k, tuple) else (k, key)
                self.record(metric, name, 1000 * statistics.median(values))

    def rounds(self, count: int) -> Iterator[int]:
        for index in range(count):
            if index and not self.budget.left():
                return
            yield index

    def rotated(self, names: list[Any], index: int) -> list[Any]:
        shift = index % len(names)
        return names[shift:] + names[:shift]

    # -- the metrics -----------------------------------------------------------

    def warm_up(self) -> None:
        for name, client in self.clients.items():
            try:
                client.connect_times(self.url("/hold"), 1)
                client.echo(self.url("/echo"), 5, 64)
            except Exception as exc:
                self.errors.append(
                    {"metric": "warm-up", "client": name, "error": repr(exc)}
                )

    def run_client_metrics(self) -> None:
        p = self.p
        names = list(self.clients)
        self.metric("connect", "Connect-to-open latency", "ms", "lower", "main")
        self.metric(
            "echo", "64-byte echo round trips", "round trips/s", "higher", "main"
        )
        self.metric("recv_1mib", "1 MiB receive throughput", "MiB/s", "higher", "main")
        self.metric("send_1mib", "1 MiB send throughput", "MiB/s", "higher", "main")
        self.metric(
            "stream_64", "64-byte message stream", "messages/s", "higher", "main"
        )
        for index in self.rounds(p["rounds"]):
            self.interleaved_connects(
                "connect",
                self.clients,
                {name: self.url("/hold") for name in names},
                p["connects"],
                index,
            )
        plans: list[tuple[str, Callable[[Any], float]]] = [
            ("echo", lambda c: p["echo"] / c.echo(self.url("/echo"), p["echo"], 64)),
            (
                "recv_1mib",
                lambda c: (
                    p["big_messages"]
                    / c.receive(
                        self.url(f"/stream?count={p['big_messages']}&size={MIB}"),
                        p["big_messages"],
                    )
                ),
            ),
            (
                "send_1mib",
                lambda c: (
                    p["big_messages"]
                    / c.send_many(
                        self.url(f"/sink?count={p['big_messages']}"),
                        p["big_messages"],
                        MIB,
                    )
                ),
            ),
            (
                "stream_64",
                lambda c: (
                    p["stream"]
                    / c.receive(
                        self.url(f"/stream?count={p['stream']}&size=64"), p["stream"]
                    )
                ),
            ),
        ]
        for key, measure in plans:
            for index in self.rounds(p["rounds"]):
                for name in self.rotated(names, index):
                    client = self.clients[name]
                    self.attempt(key, name, lambda m=measure, c=client: m(c))

    def run_ct(self) -> None:
        """pinws's handshake with ct= against the same handshake without it."""
        import pinws

        p = self.p
        self.metric(
            "ct_off", "Handshake, leaf with 2 SCTs, pins only", "ms", "lower", "ct"
        )
        self.metric(
            "ct_on", "Handshake, leaf with 2 SCTs, pins and ct=", "ms", "lower", "ct"
        )
        self.metric(
            "ct_cold",
            "Handshake, leaf with 2 SCTs, pins and a new ct= each time",
            "ms",
            "lower",
            "ct",
        )
        settings = ClientSettings(
            bundle=self.pki.bundle,
            pins=self.pki.ct.pins,
            leaf_sha256=b"",
            roots=self.pki.roots,
        )
        without, with_ct = (
            make_client("pinws", settings),
            make_client("pinws", settings),
        )
        logs = pinws.CTLogList.from_file(self.pki.ct.log_list)
        with_ct.ct = pinws.CTPolicy(logs)
        # A first connection: no signature remembered from an earlier one.
        cold = make_client("pinws", settings)
        cold.ct = lambda: pinws.CTPolicy(logs)
        clients = {
            ("pinws", "ct_off"): without,
            ("pinws", "ct_on"): with_ct,
            ("pinws", "ct_cold"): cold,
        }
        urls = dict.fromkeys(clients, self.url("/hold", chain="ct"))
        for index in self.rounds(p["rounds"]):
            self.interleaved_connects("ct", clients, urls, p["ct_connects"], index)
        self.collect_failures(("pinws", c) for c in clients.values())

    def run_resumed_connect(self) -> None:
        """pinws resuming a TLS session vs the fair baseline's full handshake.

        One metric, two clients: pinws (``resume_sessions=True``) on the
        listener that sends session tickets, every connection after the
        first resuming; the fair baseline as in ``connect`` (no client
        but pinws resumes). Its ratio is the target's.
        """
        p = self.p
        key = "connect_resumed"
        self.metric(
            key,
            "Connect-to-open latency, resumed session (baseline: full handshake)",
            "ms",
            "lower",
            "resume",
        )
        resuming = make_client("pinws", self.settings)
        resuming.resume_sessions = True
        url = self.url("/hold", chain="resume")
        clients = {("pinws", key): resuming, (BASELINE, key): self.clients[BASELINE]}
        urls = {("pinws", key): url, (BASELINE, key): self.url("/hold")}
        try:
            # A first, full handshake keeps the session the rest resume.
            resuming.connect_times(url, 1)
            for index in self.rounds(p["rounds"]):
                self.interleaved_connects(key, clients, urls, p["connects"], index)
            # Make sure it measured what it says.
            _, conn = resuming.open_retrying(url)
            reused = conn.sock.session_reused
            resuming.close(conn)
            if not reused:
                raise RuntimeError("pinws did not resume the session")
        except Exception as exc:
            self.errors.append({"metric": key, "client": "pinws", "error": repr(exc)})
        self.collect_failures([("pinws", resuming)])

    def run_chain_lengths(self) -> None:
        p = self.p
        for length in sorted(k for k in self.ports if isinstance(k, int)):
            self.metric(
                f"chain_{length}",
                f"Handshake, chain of {length} certificates",
                "ms",
                "lower",
                "chain",
            )
        pins_by_length = {
            length: [files.issuer_pin, self.pki.backup_pin]
            for length, files in self.pki.chains.items()
        }
        clients = {}
        for name in self.clients:
            for length, files in self.pki.chains.items():
                settings = ClientSettings(
                    bundle=self.pki.bundle,
                    pins=pins_by_length[length],
                    leaf_sha256=files.leaf_sha256,
                    roots=self.pki.roots,
                )
                clients[(name, length)] = make_client(name, settings)
        keyed = {(name, f"chain_{length}"): c for (name, length), c in clients.items()}
        urls = {
            (name, f"chain_{length}"): self.url("/hold", chain=length)
            for name, length in clients
        }
        for index in self.rounds(p["rounds"]):
            self.interleaved_connects("chain", keyed, urls, p["chain_connects"], index)
        self.collect_failures(((n, c) for (n, _), c in clients.items()))

    def run_pin_scaling(self) -> None:
        import pinws

        p = self.p
        main = self.pki.main
        pin_sets = {}
        for count in p["pin_counts"]:
            self.metric(
                f"pins_{count}", f"Handshake, {count} pins", "ms", "lower", "pins"
            )
            self.metric(
                f"lookup_{count}", f"Pin lookup, {count} pins", "ns", "lower", "lookup"
            )
            pins = [main.issuer_pin, *random_pins(count - 1)]
            pin_sets[count] = pinws.PinSet(pins)
        clients = {}
        for count, pin_set in pin_sets.items():
            clients[("pinws", f"pins_{count}")] = client = make_client(
                "pinws", self.settings
            )
            client.pins = pin_set
        digests = [
            pinws.Pin.parse(main.issuer_pin).digest,
            secrets.token_bytes(32),
            secrets.token_bytes(32),
        ]
        counts = list(pin_sets)
        url = self.url("/hold")
        urls = dict.fromkeys(clients, url)
        for index in self.rounds(p["rounds"]):
            self.interleaved_connects("pins", clients, urls, p["pin_connects"], index)
            for count in self.rotated(counts, index):

                def lookup(matches: Any = pin_sets[count].matches) -> float:
                    loops = p["lookups"]
                    seconds = timeit.timeit(
                        lambda: [matches(d) for d in digests], number=loops
                    )
                    return seconds / (loops * len(digests)) * 1e9

                self.attempt(f"lookup_{count}", "pinws", lookup)
        self.collect_failures(((n, c) for (n, _), c in clients.items()))

    def run_held(self, key: str, count: int, rounds: int, concurrent: bool) -> None:
        names = list(self.clients)
        for index in self.rounds(rounds):
            for name in self.rotated(names, index):
                job = {
                    "client": name,
                    "url": self.url("/hold"),
                    "count": count,
                    "concurrent": concurrent,
                    "bundle": self.pki.bundle,
                    "roots": self.pki.roots,
                    "pins": self.settings.pins,
                    "leaf_sha256": self.settings.leaf_sha256.hex(),
                }

                def measure(job: dict[str, Any] = job, name: str = name) -> float:
                    result = run_json("bench.worker", [json.dumps(job)], TIMEOUT * 4)
                    self.note_failures(name, result["failed_opens"])
                    if concurrent:
                        self.record(
                            "concurrent_memory", name, result["per_connection"] / 1024
                        )
                        return float(result["seconds"])
                    return float(result["per_connection"]) / 1024

                self.attempt(key, name, measure)

    def run_memory(self) -> None:
        p = self.p
        self.metric(
            "memory_idle",
            f"Memory per idle open connection ({p['idle']} held)",
            "KiB",
            "lower",
            "main",
        )
        self.run_held("memory_idle", p["idle"], p["idle_rounds"], concurrent=False)

    def run_concurrent(self) -> None:
        p = self.p
        self.metric(
            "concurrent_connect",
            f"{p['concurrent']} concurrent connections: time to open all",
            "s",
            "lower",
            "concurrent",
        )
        self.metric(
            "concurrent_memory",
            f"{p['concurrent']} concurrent connections: memory per connection",
            "KiB",
            "lower",
            "concurrent",
        )
        self.run_held(
            "concurrent_connect",
            p["concurrent"],
            p["concurrent_rounds"],
            concurrent=True,
        )

    def run_scale(self) -> None:
        """Many idle app connections on threads in one process (bench.scale)."""
        p = self.p
        count = p["scale"]
        self.metric(
            "scale_connect",
            f"{count} idle app connections: time to open all",
            "s",
            "lower",
            "scale",
        )
        self.metric(
            "scale_memory",
            f"{count} idle app connections: memory per connection",
            "KiB",
            "lower",
            "scale",
        )
        self.metric(
            "scale_idle_cpu",
            f"{count} idle app connections: CPU while idle",
            "ms CPU/s",
            "lower",
            "scale",
        )
        names = [n for n in SCALE_CLIENTS if n in self.clients]
        for index in self.rounds(p["scale_rounds"]):
            for name in self.rotated(names, index):
                job = {
                    "client": name,
                    "url": self.url("/hold"),
                    "count": count,
                    "window": p["scale_window"],
                    "in_flight": p["scale_in_flight"],
                    "bundle": self.pki.bundle,
                    "roots": self.pki.roots,
                    "pins": self.settings.pins,
                }

                def measure(job: dict[str, Any] = job, name: str = name) -> float:
                    result = run_json(
                        "bench.scale", [json.dumps(job)], TIMEOUT * 6 + job["window"]
                    )
                    if result["dropped"] or result["errors"]:
                        raise RuntimeError(
                            f"{result['dropped']} connections dropped while idle; "
                            f"errors: {result['errors'][:3]}"
                        )
                    self.record("scale_memory", name, result["per_connection"] / 1024)
                    self.record(
                        "scale_idle_cpu",
                        name,
                        1000 * result["idle_cpu"] / result["window"],
                    )
                    return float(result["seconds"])

                self.attempt("scale_connect", name, measure)


# The clients with a WebSocketApp to run on threads (bench.scale).
SCALE_CLIENTS = ("pinws", BASELINE)


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a seconds-long run that only checks the suite works",
    )
    parser.add_argument("--rounds", type=int, help="rounds per metric (default: 15)")
    parser.add_argument(
        "--out", default=str(ROOT / "bench" / "results"), help="output directory"
    )
    parser.add_argument(
        "--chart", help="also write the chart here (e.g. docs/_static/benchmark.png)"
    )
    parser.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help=f"comma-separated subset of {', '.join(CLIENTS)}",
    )
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    parser.add_argument(
        "--only",
        default="clients,resume,chain,pins,ct,memory,concurrent,scale",
        help="comma-separated groups to run: clients, resume, chain, pins, ct, "
        "memory, concurrent, scale",
    )
    parser.add_argument(
        "--scale",
        type=int,
        help="idle app connections the scale group opens (default: 1000)",
    )
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    # A one-pin set warns about its missing backup; that is not news here.
    logging.getLogger("pinws").setLevel(logging.ERROR)
    profile = dict(PROFILES["smoke" if args.smoke else "full"])
    if args.rounds:
        profile["rounds"] = args.rounds
    if args.scale:
        profile["scale"] = args.scale
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = sorted(set(clients) - set(CLIENTS))
    if unknown or BASELINE not in clients:
        print(
            f"--clients: unknown {unknown} or missing the baseline {BASELINE}",
            file=sys.stderr,
        )
        return 2
    groups = {g.strip() for g in args.only.split(",")}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    started_at = datetime.datetime.now(datetime.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="pinws-bench-") as tmp:
        pki = make_pki(Path(tmp))
        with server_process(pki, Path(tmp)) as ports:
            suite = Suite(profile, pki, ports, clients)
            suite.warm_up()
            if "clients" in groups:
                suite.run_client_metrics()
            if "resume" in groups:
                suite.run_resumed_connect()
            if "memory" in groups:
                suite.run_memory()
            if "pins" in groups:
                suite.run_pin_scaling()
            if "chain" in groups:
                suite.run_chain_lengths()
            if "ct" in groups:
                suite.run_ct()
            if "concurrent" in groups:
                suite.run_concurrent()
            if "scale" in groups:
                suite.run_scale()
            suite.collect_failures(suite.clients.items())
    results = {
        "suite": "pinws-bench",
        "format": 1,
        "profile": "smoke" if args.smoke else "full",
        "started": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.monotonic() - started, 1),
        "budget_exhausted": suite.budget.exhausted,
        "machine": machine(),
        "libraries": library_versions(),
        "config": profile,
        "baseline": BASELINE,
        "certifi_baseline": CERTIFI_BASELINE,
        "clients": {
            name: {
                "available": name in suite.clients,
                "reason": suite.skipped.get(name),
                "failed_opens": suite.failed_opens.get(name, 0),
            }
            for name in clients
        },
        "metrics": suite.metrics,
        "errors": suite.errors,
    }
    report.summarise(results)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    table = report.markdown(results)
    (out / "results.md").write_text(table)
    print(table)
    if not args.no_chart:
        charts = [out / "chart.png"] + ([Path(args.chart)] if args.chart else [])
        drawn = report.chart(results, charts)
        if not drawn:
            print(
                "(no chart: matplotlib is not installed; pip install .[bench])",
                file=sys.stderr,
            )
    return 1 if any(e["client"] in ("pinws", BASELINE) for e in suite.errors) else 0
