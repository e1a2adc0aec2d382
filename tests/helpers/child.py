"""Running a helper module in a child Python, so that a crash fails a test.

A segfault or an abort in the client (OpenSSL misused from two threads,
say) would take pytest down with it; in a child it becomes a failed test
that shows the child's output, faulthandler's traceback included.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class ChildResult:
    """How a child ended, and the JSON report it printed last (if any)."""

    code: Optional[int]
    stdout: str
    stderr: str
    report: Optional[dict[str, Any]]

    def checked_report(self) -> dict[str, Any]:
        """The report of a child that ran to its end; fails the test otherwise."""
        assert self.code == 0, str(self)
        assert self.report is not None, str(self)
        return self.report

    def __str__(self) -> str:
        code = "killed at its time limit" if self.code is None else self.code
        return (
            f"child exit {code}\n--- stdout (tail)\n{self.stdout[-4000:]}"
            f"\n--- stderr (tail)\n{self.stderr[-8000:]}"
        )


def run_child(module: str, config: dict[str, Any], timeout: float) -> ChildResult:
    """Run ``python -m module '<config as JSON>'``; wait at most *timeout* s."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "tests"), env.get("PYTHONPATH", "")]
    )
    command = [sys.executable, "-X", "faulthandler", "-m", module, json.dumps(config)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired as exc:
        return ChildResult(None, _text(exc.stdout), _text(exc.stderr), None)
    report = None
    lines = done.stdout.strip().splitlines()
    if lines:
        try:
            report = json.loads(lines[-1])
        except ValueError:
            report = None
    return ChildResult(done.returncode, done.stdout, done.stderr, report)


def _text(data: Any) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""
