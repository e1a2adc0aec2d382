"""Third-party servers run as subprocesses on loopback, for the interop tests.

Each server gets a config written under the test's ``tmp_path`` and a free
ephemeral port, and counts as started once its port accepts a connection
(polled up to a deadline, never a fixed sleep). A missing program fails the
test under CI (where ``.ci/run`` should have installed it) and skips it
elsewhere, with the same message.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Optional

import pytest

from .timing import WAIT

#: Debian puts daemons in sbin, which is not on a normal user's PATH.
_SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"]
)

#: How a program says its port was taken between our probe and its bind.
_PORT_TAKEN = ("Address already in use", "address already in use", "EADDRINUSE")


def under_ci() -> bool:
    """True when the CI environment variable is set (``.ci/run`` sets CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(program: str, package: str) -> str:
    """The path of *program*; fail under CI, skip elsewhere, when it is missing.

    Args:
        program: the executable's name (``nginx``, ``danted``…).
        package: the Debian package that provides it, named in the message.
    """
    path = shutil.which(program, path=_SEARCH_PATH)
    if path is not None:
        return path
    message = f"{program} not installed: .ci/run must apt-get install {package}"
    if under_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the server binds it next)."""
    with socket.create_server((host, 0)) as probe:
        port: int = probe.getsockname()[1]
        return port


class ServerProcess:
    """A server program on ``host:port``, started from a config it writes.

    Args:
        name: for messages.
        command: ``command(port)`` writes the config for *port* and returns the
            argument vector to run.
        log: where the program's stdout and stderr go (read on failure).
        host: the loopback address the program listens on.
        cwd: the program's working directory.

    Raises:
        RuntimeError: the program exited or did not accept within the deadline
            (its log is in the message).
    """

    def __init__(
        self,
        name: str,
        command: Callable[[int], Sequence[str]],
        *,
        log: Path,
        cwd: Path,
        host: str = "127.0.0.1",
        env: Optional[dict[str, str]] = None,
    ) -> None:
        self.name = name
        self.host = host
        self.log = log
        self._log_file: Optional[IO[bytes]] = None
        self._process: Optional[subprocess.Popen[bytes]] = None
        # A port taken by someone else between free_port() and the program's
        # own bind makes it exit at once: try again with another port.
        for attempt in range(3):
            self.port = free_port(host)
            argv = list(command(self.port))
            self._log_file = log.open("ab")
            self._process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                # Its own process group, so stop() reaches the workers it forks.
                start_new_session=True,
            )
            if self._wait_until_accepting():
                return
            self.stop()
            output = self.output()
            if attempt < 2 and any(text in output for text in _PORT_TAKEN):
                continue
            raise RuntimeError(f"{name} did not start ({argv}):\n{output}")

    def _wait_until_accepting(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + 2 * WAIT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=WAIT):
                    return True
            except OSError:
                pass
            # Paces the polling and returns early if the program dies.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=0.05)
        return False

    def output(self) -> str:
        """What the program has printed so far."""
        if self._log_file is not None:
            self._log_file.flush()
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """Terminate the program and everything it forked; wait for it."""
        process, self._process = self._process, None
        if process is not None:
            # The program first (a master stops its own workers in order),
            # then whatever of its process group outlived it.
            process.terminate()
            try:
                process.wait(WAIT)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(WAIT)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def close(self) -> None:
        self.stop()


def wait_for_text(
    path: Path, text: str, *, count: int = 1, timeout: float = WAIT
) -> bool:
    """Wait until the file at *path* contains *text* *count* times (log lines)."""
    deadline = time.monotonic() + timeout
    while True:
        if path.exists() and path.read_text(errors="replace").count(text) >= count:
            return True
        if time.monotonic() >= deadline:
            return False
        # A log file gives no event to wait on; re-read it a few times a second.
        time.sleep(0.05)
