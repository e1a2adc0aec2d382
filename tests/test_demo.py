"""``pinws demo`` tells its story and exits 0; ``--serve`` runs a pinned server."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

import pinws
from helpers.cli import ROOT, cli_env, pinws_command, run_pinws
from helpers.timing import WAIT

PIN = r"sha256/[A-Za-z0-9+/]{43}="


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end)]


def test_demo_exits_0_and_shows_pinning_refusing_the_interceptor() -> None:
    started = time.monotonic()
    result = run_pinws("demo")
    elapsed = time.monotonic() - started
    assert result.code == 0, str(result)
    out = result.stdout
    assert elapsed < WAIT, f"the demo took {elapsed:.1f} s"

    pki = section(out, "1. ", "2. ")
    intermediate_pin = re.search(rf"intermediate CA pin +({PIN})", pki)
    backup_pin = re.search(rf"backup key pin +({PIN})", pki)
    assert intermediate_pin, out
    assert backup_pin, out

    talk = section(out, "2. ", "3. ")
    assert f"connected: pin {intermediate_pin.group(1)} matched" in talk
    assert "> hello, pinned world" in talk
    assert "< hello, pinned world" in talk

    attack = section(out, "3. ", "4. ")
    assert "REFUSED inside the TLS handshake" in attack
    # The PinMismatchError message itself: the attacker's chain, our pins.
    quoted = "\n".join(
        line[5:] for line in attack.splitlines() if line.startswith("   | ")
    )
    assert quoted.startswith("Certificate pinning failure for localhost:")
    configured = quoted[quoted.index("Configured pins:") :]
    assert re.findall(PIN, configured) == [
        intermediate_pin.group(1),
        backup_pin.group(1),
    ]
    attacker_chain = re.findall(PIN, quoted[: quoted.index("Configured pins:")])
    assert len(attacker_chain) == 2
    assert not set(attacker_chain) & {intermediate_pin.group(1), backup_pin.group(1)}
    assert "bytes the attacker received from the pinned client: 0" in attack
    assert "Authorization" not in attack.replace("no Upgrade request", "")

    leak = out[out.index("4. ") :]
    received = re.search(r"bytes the attacker received: (\d+)", leak)
    assert received
    assert int(received.group(1)) > 0
    assert "   | GET / HTTP/1.1" in leak
    assert re.search(r"^   \| Authorization: Bearer \S+$", leak, re.MULTILINE)


def test_demo_options_need_serve() -> None:
    result = run_pinws("demo", "--port", "8765")
    assert result.code == 3, str(result)
    assert "--port and --json go with --serve" in result.stderr


def read_until(process: subprocess.Popen[bytes], done: Any, timeout: float) -> str:
    """Read the process's stdout until done(text) holds, within *timeout*."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not done(data.decode("utf-8", "replace")):
            left = deadline - time.monotonic()
            assert left > 0, f"no more output: {data!r}"
            assert selector.select(left), f"no more output: {data!r}"
            chunk = os.read(fd, 65536)  # unbuffered: select() must see the rest
            assert chunk, f"stdout closed: {data!r}"
            data += chunk
    return data.decode("utf-8")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    ("stop", "as_json"),
    [(signal.SIGTERM, True), (signal.SIGINT, False)],
    ids=["sigterm-json", "ctrl-c-text"],
)
def test_serve_runs_a_pinned_server_until_stopped(
    stop: signal.Signals, as_json: bool
) -> None:
    args = ["demo", "--serve"] + (["--json"] if as_json else [])
    process = subprocess.Popen(
        pinws_command(*args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
        cwd=str(ROOT),
    )
    try:
        if as_json:
            details = json.loads(read_until(process, lambda t: t.endswith("\n"), WAIT))
            url, ca_file, pins = details["url"], details["ca_file"], details["pins"]
        else:
            text = read_until(process, lambda t: "Ctrl-C stops the server." in t, WAIT)
            url = re.search(r"URL +(wss://\S+)", text).group(1)  # type: ignore[union-attr]
            ca_file = re.search(r"CA file +(\S+)", text).group(1)  # type: ignore[union-attr]
            found = {
                role: pin
                for pin, role in re.findall(
                    rf"({PIN})  (leaf|intermediate|root|backup)", text
                )
            }
            pins = found
            assert f"pinws connect {url} --ca-certs {ca_file} --pin" in text
        assert set(pins) == {"leaf", "intermediate", "root", "backup"}
        # The printed pins and CA file are what a pinned client needs.
        ws = pinws.create_connection(
            url,
            pins=[pins["intermediate"], pins["backup"]],
            ca_certs=ca_file,
            timeout=WAIT,
        )
        try:
            ws.send("are you there?")
            assert ws.recv() == "are you there?"
            assert str(ws.matched_pin) == pins["intermediate"]
            assert [c.pin for c in ws.verified_chain] == [
                pins["leaf"],
                pins["intermediate"],
                pins["root"],
            ]
        finally:
            ws.close()
        process.send_signal(stop)
        assert process.wait(WAIT) == 0
        assert process.stderr is not None
        assert b"stopping the server" in process.stderr.read()
        assert not os.path.exists(os.path.dirname(ca_file)), "temp files left behind"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
