"""What every ``pinws`` command shares: version, help, errors, colour, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pinws
from helpers.cli import ROOT, assert_one_line_error, cli_env, pinws_command, run_pinws
from helpers.pki import Chain
from helpers.timing import WAIT
from pinws._cli.main import main

COMMANDS = ("demo", "pins", "check", "connect", "store")


@pytest.mark.parametrize("where", [(), ("pins",)], ids=["top", "command"])
def test_version(where: tuple[str, ...]) -> None:
    result = run_pinws(*where, "--version")
    assert result.code == 0, str(result)
    assert result.stdout.startswith(f"pinws {pinws.__version__} (websocket-client ")
    assert "pyOpenSSL" in result.stdout
    assert "Python" in result.stdout
    assert result.stderr == ""


def test_no_command_or_an_unknown_one_is_a_usage_error() -> None:
    assert_one_line_error(
        run_pinws(), "choose a command: demo, pins, check, connect or store"
    )
    unknown = run_pinws("pin")
    assert unknown.code == 3
    assert_one_line_error(unknown, "invalid choice: 'pin'")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command: str) -> None:
    result = run_pinws(command, "--help")
    assert result.code == 0, str(result)
    assert result.stdout.startswith(f"usage: pinws {command} ")
    examples = result.stdout[result.stdout.index("\nexamples:\n") :]
    assert f"\n  pinws {command}" in examples
    assert "exit status" in examples


def test_debug_shows_the_traceback_and_the_default_does_not(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    plain = run_pinws("pins", "--cert", missing)
    debug = run_pinws("--debug", "pins", "--cert", missing)
    also_after = run_pinws("pins", "--cert", missing, "--debug")
    assert plain.code == debug.code == also_after.code == 3
    assert_one_line_error(plain, "no such file")
    for result in (debug, also_after):
        assert "Traceback (most recent call last)" in result.stderr, str(result)
        assert result.stderr.rstrip().endswith(f"{missing}: no such file")


def test_main_can_be_called_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("pinws ")
    assert main(["check", "wss://localhost:1/"]) == 3
    assert "give the pins (--pin or --config)" in capsys.readouterr().err


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> bytes:
    """Run pinws with its stdout on a pseudo-terminal; return what it printed."""
    import pty

    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            pinws_command(*args),
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=str(ROOT),
        )
        os.close(follower)
        follower = -1
        output = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is gone
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(WAIT) == 0
        return output
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_colour_on_a_terminal_unless_no_color_is_set(chain: Chain) -> None:
    args = ["pins", "--cert", chain.ca_file]
    coloured_env = cli_env(TERM="xterm")
    del coloured_env["NO_COLOR"]
    coloured = run_on_a_terminal(args, coloured_env)
    plain = run_on_a_terminal(args, cli_env(TERM="xterm", NO_COLOR="1"))
    assert b"\x1b[" in coloured
    assert b"\x1b[" not in plain
    assert chain.root_pin.encode() in plain
    # Not a terminal (a pipe): no colour even without NO_COLOR.
    piped = subprocess.run(
        pinws_command(*args),
        capture_output=True,
        env=coloured_env,
        cwd=str(ROOT),
        timeout=WAIT,
        check=True,
    )
    assert b"\x1b[" not in piped.stdout
