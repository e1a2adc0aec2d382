"""A seconds-long smoke run of the benchmark suite (bench/), to keep it working.

Benchmarks are not tests: nothing here looks at a timing. It checks that a
tiny run of ``python -m bench --smoke`` completes and writes well-formed
JSON with every metric for pinws, the fair baseline (websocket-client with
one reused SSLContext), websocket-client with certifi's bundle and the
stdlib-ssl floor (the other competitors are measured when their library is
installed), and that ``python -m bench.memory_breakdown`` and
``python -m bench.floors`` print their tables.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.timing import SCALE

ROOT = Path(__file__).resolve().parent.parent

# The smoke profile's pin counts and chain lengths (bench/run.py PROFILES).
CLIENT_METRICS = [
    "connect",
    "echo",
    "recv_1mib",
    "send_1mib",
    "stream_64",
    "memory_idle",
    "chain_2",
    "chain_3",
    "chain_4",
    "concurrent_connect",
    "concurrent_memory",
]
# The scale group runs app clients only: pinws and the fair baseline.
SCALE_METRICS = ["scale_connect", "scale_memory", "scale_idle_cpu"]
SCALE_CLIENTS = ["pinws", "websocket-client-tuned"]
# pinws resuming sessions, and the fair baseline's full handshake.
RESUME_METRICS = ["connect_resumed"]
PINWS_METRICS = [
    "pins_1",
    "pins_100",
    "lookup_1",
    "lookup_100",
    "ct_off",
    "ct_on",
    "ct_cold",
]
TARGETS = {
    "connect",
    "connect_resumed",
    "echo",
    "recv_1mib",
    "send_1mib",
    "stream_64",
    "memory_idle",
    "pins",
    "ct",
    "ct_cold",
}


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _run_bench(module: str, *args: str) -> str:
    """Run ``python -m <module> <args>`` in the repository; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50 * SCALE,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    _run_bench("bench", "--smoke", "--out", str(out))
    return json.loads((out / "results.json").read_text()), out


@pytest.mark.slow
def test_smoke_run_reports_every_metric(smoke_run: tuple[dict, Path]) -> None:
    results, _ = smoke_run
    assert results["baseline"] == "websocket-client-tuned"
    assert results["certifi_baseline"] == "websocket-client"
    assert results["errors"] == []
    always = ("pinws", "websocket-client-tuned", "websocket-client", "floor")
    for name in (*always, "websockets"):
        assert results["clients"][name]["available"], name
    for name in always:
        assert results["clients"][name]["failed_opens"] == 0, name
    aiohttp_installed = importlib.util.find_spec("aiohttp") is not None
    assert results["clients"]["aiohttp"]["available"] == aiohttp_installed

    available = [n for n, c in results["clients"].items() if c["available"]]
    metrics = results["metrics"]
    assert set(metrics) == (
        set(CLIENT_METRICS)
        | set(PINWS_METRICS)
        | set(SCALE_METRICS)
        | set(RESUME_METRICS)
    )
    for key, metric in metrics.items():
        assert metric["unit"], key
        assert metric["title"], key
        assert metric["better"] in ("lower", "higher"), key
        expected = (
            available
            if key in CLIENT_METRICS
            else SCALE_CLIENTS
            if key in SCALE_METRICS or key in RESUME_METRICS
            else ["pinws"]
        )
        assert sorted(metric["results"]) == sorted(expected), key
        for name, entry in metric["results"].items():
            assert entry["samples"], (key, name)
            assert all(_finite(v) for v in entry["samples"]), (key, name)
            assert entry["min"] <= entry["median"] <= entry["max"], (key, name)
            if key in CLIENT_METRICS:
                assert _finite(entry["ratio"]), (key, name)
                assert _finite(entry["ratio_certifi"]), (key, name)
        if key in CLIENT_METRICS:
            assert metric["results"]["websocket-client-tuned"]["ratio"] == 1.0, key
            assert metric["results"]["websocket-client"]["ratio_certifi"] == 1.0, key


@pytest.mark.slow
def test_smoke_run_reports_targets_machine_and_versions(
    smoke_run: tuple[dict, Path],
) -> None:
    results, out = smoke_run
    assert {t["metric"] for t in results["targets"]} == TARGETS
    for target in results["targets"]:
        assert _finite(target["value"]), target
        assert isinstance(target["met"], bool), target
    for key in ("platform", "python", "cpu", "cores", "openssl_stdlib"):
        assert results["machine"][key], key
    for dist in ("pinws", "websocket-client", "websockets", "pyOpenSSL"):
        assert results["libraries"][dist], dist
    table = (out / "results.md").read_text()
    available = [n for n, c in results["clients"].items() if c["available"]]
    assert "| metric | unit | " + " | ".join(available) + " |" in table
    for target in results["targets"]:
        assert target["what"] in table
    assert "| pinws / websocket-client-tuned (fair) |" in table
    assert "| pinws / websocket-client (certifi) |" in table


@pytest.mark.slow
def test_smoke_run_measures_idle_apps_without_idle_cpu_for_pinws(
    smoke_run: tuple[dict, Path],
) -> None:
    results, _ = smoke_run
    scale = results["metrics"]
    for key in SCALE_METRICS:
        for name in SCALE_CLIENTS:
            assert scale[key]["results"][name]["median"] >= 0, (key, name)
    # Opening took time and held memory; idle apps use (next to) no CPU
    # (measured: well under 0.1 ms per second). CPU time, unlike wall time,
    # hardly grows with the machine's load; 20 apps each polling every 10 ms
    # (tens of microseconds a wake-up) would spend tens of ms per second.
    assert scale["scale_connect"]["results"]["pinws"]["median"] > 0
    assert scale["scale_memory"]["results"]["pinws"]["median"] > 0
    assert scale["scale_idle_cpu"]["results"]["pinws"]["median"] < 10


@pytest.mark.slow
def test_memory_breakdown_prints_its_table() -> None:
    out = _run_bench(
        "bench.memory_breakdown",
        "--connections",
        "3",
        "--rounds",
        "1",
        "--clients",
        "pinws",
    )
    assert "| | pinws |" in out
    for row in (
        "connection (`create_connection`), RSS",
        "of which Python objects (tracemalloc)",
        "of which not traced (OpenSSL, allocators)",
        "an idle thread that did nothing, RSS",
        "app on its own thread, RSS",
        "MALLOC_ARENA_MAX=1",
    ):
        assert row in out, row
    # Python objects by file: pinws's own modules allocate some of them.
    assert "| pinws/" in out


def test_floors_print_both_libraries() -> None:
    out = _run_bench("bench.floors", "--quick")
    for line in (
        "stdlib ssl",
        "pyOpenSSL",
        "stdlib SSLObject.read",
        "pyOpenSSL Connection.recv",
        "pyOpenSSL over memory BIOs",
        "pyOpenSSL Connection, no handshake",
    ):
        assert line in out, line
    kib = [float(part.split()[-2]) for part in out.splitlines() if part.endswith("KiB")]
    assert len(kib) == 5
    assert all(value > 0 for value in kib)


@pytest.mark.slow
def test_smoke_run_draws_the_chart(smoke_run: tuple[dict, Path]) -> None:
    pytest.importorskip("matplotlib")
    _, out = smoke_run
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
