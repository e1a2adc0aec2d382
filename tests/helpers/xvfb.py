"""A private X server (Xvfb) for the tests that need a display."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from helpers.timing import WAIT


def read_display_number(pipe: int, server: subprocess.Popen[bytes]) -> str:
    """Xvfb -displayfd writes the display number it chose, then a newline."""
    number = b""
    while not number.endswith(b"\n"):
        ready, _, _ = select.select([pipe], [], [], WAIT)
        if not ready:
            server.kill()
            pytest.fail(f"Xvfb did not report a display number within {WAIT} s")
        chunk = os.read(pipe, 16)
        if not chunk:
            pytest.fail(f"Xvfb exited ({server.wait(WAIT)}) without choosing a display")
        number += chunk
    return number.decode().strip()


@contextlib.contextmanager
def xvfb_display(screen: str = "640x480x24") -> Iterator[str]:
    """Run Xvfb on a free display number and yield its name (``":N"``).

    Skips the test when Xvfb is not installed (``apt-get install xvfb``).
    """
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): these tests need X")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [
            xvfb,
            "-displayfd",
            str(write_end),
            "-nolisten",
            "tcp",
            "-screen",
            "0",
            screen,
        ],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        yield ":" + read_display_number(read_end, server)
    finally:
        os.close(read_end)
        server.terminate()
        try:
            server.wait(WAIT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(WAIT)
