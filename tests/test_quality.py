"""The quality gates: lint, format and strict typing, run with the suite.

CI runs the README's test command and nothing else, so the gates live here:
a change that breaks ``ruff check``, ``ruff format --check`` or ``mypy``
(strict on ``pinws/``, see pyproject.toml) fails the suite like any test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.process import under_ci

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(300)


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    module = args[0]
    if shutil.which(module) is None and not _importable(module):
        message = f"{module} is not installed: pip install '.[test]'"
        if under_ci():
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_ruff_finds_nothing() -> None:
    result = run_tool("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_ruff_formatted() -> None:
    result = run_tool("ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = run_tool("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
