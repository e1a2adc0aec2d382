"""Running the ``pinws`` command line as a subprocess, as a user would."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

from helpers.timing import WAIT

ROOT = Path(__file__).resolve().parents[2]
#: Help is compared at this terminal width (argparse wraps at COLUMNS - 2).
COLUMNS = "90"


@dataclasses.dataclass
class Result:
    """What a ``pinws`` run produced."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def __str__(self) -> str:
        return (
            f"pinws {' '.join(self.args)} -> exit {self.code}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def cli_env(**extra: str) -> dict[str, str]:
    """The environment every run gets: this source tree, fixed width, no colour."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["COLUMNS"] = COLUMNS
    env["NO_COLOR"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        env.pop(name, None)
    env.update(extra)
    return env


def pinws_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "pinws", *args]


def run_pinws(
    *args: str,
    stdin: Optional[str] = None,
    env: Optional[dict[str, str]] = None,
    timeout: float = 3 * WAIT,
) -> Result:
    """Run ``python -m pinws ARGS`` to completion and return what it did."""
    completed = subprocess.run(
        pinws_command(*args),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env if env is not None else cli_env(),
        cwd=str(ROOT),
        timeout=timeout,
        check=False,
    )
    return Result(tuple(args), completed.returncode, completed.stdout, completed.stderr)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    """The run failed with exactly one line on stderr, naming *fragments*."""
    assert "Traceback" not in result.stderr, str(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, str(result)
    for fragment in fragments:
        assert fragment in lines[0], str(result)
