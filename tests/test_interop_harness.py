"""The interop tests' harness: missing programs are loud under CI, servers
start only once they accept, and stop with everything they forked."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from helpers.process import ServerProcess, require
from helpers.timing import WAIT

pytestmark = pytest.mark.interop

MISSING = "pinws-no-such-program"
MESSAGE = f"{MISSING} not installed: .ci/run must apt-get install pinws-pkg"

# A server that listens on the port given as argv[1]; with argv[2], it first
# forks a child that sleeps (a worker), and writes the child's pid there.
SERVER = """
import os, socket, sys, time
if len(sys.argv) > 2:
    child = os.fork()
    if child == 0:
        time.sleep(600)
        os._exit(0)
    open(sys.argv[2], "w").write(str(child))
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("listening", flush=True)
while True:
    listener.accept()[0].close()
"""


@pytest.mark.parametrize("value", ["true", "1"])
def test_a_missing_program_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=MESSAGE):
        require(MISSING, "pinws-pkg")


@pytest.mark.parametrize("value", [None, "", "false"])
def test_a_missing_program_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match=MESSAGE):
        require(MISSING, "pinws-pkg")


def test_a_program_that_exits_is_reported_with_its_output(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="bad config on line 3"):
        ServerProcess(
            "broken",
            lambda port: [sys.executable, "-c", "print('bad config on line 3')"],
            log=tmp_path / "broken.log",
            cwd=tmp_path,
        )


def test_stop_ends_the_program_and_what_it_forked(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    server = ServerProcess(
        "forking",
        lambda port: [sys.executable, "-c", SERVER, str(port), str(pid_file)],
        log=tmp_path / "forking.log",
        cwd=tmp_path,
    )
    child = int(pid_file.read_text())
    os.kill(child, 0)  # alive
    server.stop()
    assert "listening" in server.output()
    # The child was reparented, not ours to wait for: it must become a
    # zombie or vanish soon after the SIGKILL, never keep sleeping.
    deadline = time.monotonic() + WAIT
    while not _ended(child):
        assert time.monotonic() < deadline, f"pid {child} outlived stop()"
        time.sleep(0.01)


def _ended(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")
