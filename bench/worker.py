"""A fresh process that opens connections and holds them: memory and concurrency.

``python -m bench.worker JSON`` prints one JSON object: how long opening
took and the process's resident memory before and after. A fresh process
per measurement, so memory freed by earlier measurements cannot hide what
a connection costs.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

from .clients import ClientSettings, make_client

WARMUP = 3


def rss() -> int:
    """Resident set size in bytes (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def run_json(
    module: str,
    args: list[str],
    timeout: float,
    env: Optional[dict[str, str]] = None,
) -> dict[str, Any]:
    """Run ``python -m <module> <args>`` from the repository root; its JSON output.

    Raises:
        RuntimeError: the process failed (the last line of its stderr).
    """
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1:])
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def raise_fd_limit(needed: int) -> None:
    """Raise the soft limit on open files towards *needed* (up to the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def measure(job: dict[str, Any]) -> dict[str, Any]:
    settings = ClientSettings(
        bundle=job["bundle"],
        pins=job["pins"],
        leaf_sha256=bytes.fromhex(job["leaf_sha256"]),
        roots=job["roots"],
    )
    client = make_client(job["client"], settings)
    url, count, concurrent = job["url"], job["count"], job["concurrent"]
    if job["client"] == "aiohttp":
        result = client.measure_held(url, WARMUP, count, concurrent, rss)
    else:
        _, warm = client.open_many(url, WARMUP, concurrent=False)
        client.close_many(warm)
        gc.collect()
        before = rss()
        seconds, held = client.open_many(url, count, concurrent=concurrent)
        gc.collect()
        after = rss()
        client.close_many(held)
        result = {"seconds": seconds, "rss_before": before, "rss_after": after}
    result["per_connection"] = (result["rss_after"] - result["rss_before"]) / count
    result["failed_opens"] = client.failed_opens
    return result


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
