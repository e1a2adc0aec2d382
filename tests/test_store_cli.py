"""``pinws store`` and ``pinws connect --store``, run as a user runs them --
including trust on first use against ``pinws demo --serve``, restarted with a
new key."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import ROOT, assert_one_line_error, cli_env, pinws_command, run_pinws
from helpers.pki import unrelated_pin
from helpers.timing import SCALE, WAIT

PIN_A = unrelated_pin()
PIN_B = unrelated_pin()


def test_add_list_forget(tmp_path: Path) -> None:
    store = str(tmp_path / "pins.json")
    added = run_pinws(
        "store", "add", "Printer.Local", PIN_A, PIN_B, "--store", store,
        "--expires", "2030-06-30", "--include-subdomains",
    )  # fmt: skip
    assert added.code == 0, str(added)
    assert "printer.local" in added.stdout
    listed = run_pinws("store", "list", "--store", store)
    assert listed.code == 0, str(listed)
    assert "printer.local  manual, first seen " in listed.stdout
    assert "expires 2030-07-01 00:00:00 UTC" in listed.stdout
    assert "and subdomains" in listed.stdout
    assert f"  {PIN_A}\n  {PIN_B}\n" in listed.stdout
    as_json = run_pinws("store", "list", "--store", store, "--json").json()
    assert as_json["store"] == store
    [entry] = as_json["entries"]
    assert entry["host"] == "printer.local"
    assert entry["pins"] == [PIN_A, PIN_B]
    assert entry["source"] == "manual"
    assert entry["include_subdomains"] is True
    forgotten = run_pinws(
        "store", "forget", "printer.local", "--store", store, "--json"
    )
    assert forgotten.json() == {"host": "printer.local", "forgotten": True}
    again = run_pinws("store", "forget", "printer.local", "--store", store)
    assert again.code == 0
    assert "has no entry for printer.local" in again.stderr
    assert (
        run_pinws("store", "list", "--store", store, "--json").json()["entries"] == []
    )


def test_a_file_that_is_not_a_store_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"these": "are my notes"}', encoding="utf-8")
    for args in (("list",), ("add", "a.example", PIN_A), ("forget", "a.example")):
        result = run_pinws("store", *args, "--store", str(path))
        assert result.code == 3
        assert_one_line_error(result, str(path), "not a pinws pin store")
    assert path.read_text(encoding="utf-8") == '{"these": "are my notes"}'


def test_usage_errors(tmp_path: Path) -> None:
    store = str(tmp_path / "pins.json")
    assert_one_line_error(run_pinws("store"), "choose a command: list, add or forget")
    bad_pin = run_pinws("store", "add", "a.example", "sha256/nope", "--store", store)
    assert bad_pin.code == 3
    assert_one_line_error(bad_pin, "invalid pin 'sha256/nope'")
    tofu = run_pinws("connect", "wss://localhost:1/", "--trust-on-first-use")
    assert_one_line_error(tofu, "--trust-on-first-use needs --store PATH")
    nothing = run_pinws("connect", "wss://localhost:1/")
    assert_one_line_error(nothing, "--pin (repeatable), --config FILE or --store PATH")
    assert not Path(store).exists()


@contextlib.contextmanager
def demo_server() -> Iterator[str]:
    """``pinws demo --serve --json``: a fresh key on every start; its URL."""
    process = subprocess.Popen(
        pinws_command("demo", "--serve", "--json"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=cli_env(),
        cwd=str(ROOT),
        text=True,
    )
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())["url"]
    finally:
        process.terminate()
        process.wait(WAIT)
        assert process.stdout is not None
        process.stdout.close()


def tofu_connect(url: str, store: str) -> tuple[int, str, str]:
    result = run_pinws(
        "connect", url, "--pin-only", "--store", store, "--trust-on-first-use",
        "--linger", str(0.3 * SCALE), stdin="hello\n",
    )  # fmt: skip
    return result.code, result.stdout, result.stderr


@pytest.mark.slow
def test_connect_trusts_the_demo_server_on_first_use_and_refuses_its_new_key(
    tmp_path: Path,
) -> None:
    store = str(tmp_path / "known_pins.json")
    with demo_server() as url:
        code, out, err = tofu_connect(url, store)
        assert code == 0, err
        assert "< hello" in out
        assert "first use: trusted localhost's key sha256/" in err
        assert f"remembered it in {store}" in err
        code, out, err = tofu_connect(url, store)
        assert code == 0, err
        assert f"pins from {store} (tofu, first seen " in err
    [first] = run_pinws("store", "list", "--store", store, "--json").json()["entries"]
    # Restarted, the server has a new key: refused, and told how to undo it.
    with demo_server() as url:
        code, out, err = tofu_connect(url, store)
        assert code == 2, err  # CRITICAL: the key changed
        assert out == ""
        assert "HAS CHANGED since it was first seen" in err
        assert first["pins"][0] in err
        assert f"pinws store forget localhost --store {store}" in err
        assert 'store.forget("localhost")' in err
        forget = run_pinws("store", "forget", "localhost", "--store", store)
        assert forget.code == 0
        code, out, err = tofu_connect(url, store)
        assert code == 0, err
        assert "first use: trusted" in err
    [second] = run_pinws("store", "list", "--store", store, "--json").json()["entries"]
    assert second["pins"] != first["pins"]
