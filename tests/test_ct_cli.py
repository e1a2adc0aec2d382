"""``pinws pins/check --ct-log-list``: every SCT, its status, and the verdict."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.cli import assert_one_line_error, run_pinws
from helpers.ct import (
    FAILING,
    PASSING,
    CTWorld,
    Scenario,
    log_list,
    now,
    server_context,
)
from helpers.servers import EavesdropServer


@pytest.fixture
def serve(
    tmp_path: Path, ct_world: CTWorld, ct_scenarios: dict[str, Scenario]
) -> Iterator[object]:
    """serve(name) -> (url, log list file, root file), the server running."""
    servers: list[EavesdropServer] = []
    root = ct_world.authority.write_root(tmp_path)

    def start(name: str, **list_options: object) -> tuple[str, str, str]:
        scenario = ct_scenarios[name]
        directory = tmp_path / name
        directory.mkdir(exist_ok=True)
        server = EavesdropServer(server_context(scenario.issued, directory))
        servers.append(server)
        logs = directory / "log_list.json"
        logs.write_text(json.dumps(log_list(scenario.logs, **list_options)))  # type: ignore[arg-type]
        return server.url(), str(logs), root

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("name", PASSING + FAILING)
def test_pins_shows_every_sct_and_the_verdict_as_json(
    serve: object, ct_scenarios: dict[str, Scenario], name: str
) -> None:
    url, logs, root = serve(name)  # type: ignore[operator]
    result = run_pinws("pins", url, "--ca-certs", root, "--ct-log-list", logs, "--json")
    assert result.code == 0, str(result)
    ct = result.json()["server"]["ct"]
    scenario = ct_scenarios[name]
    assert [s["status"] for s in ct["scts"]] == scenario.statuses
    assert ct["passed"] is (name in PASSING)
    assert ct["required"] == scenario.required
    assert ct["log_list"] == logs
    for sct in ct["scts"]:
        assert set(sct) >= {"log_id", "log_description", "operator", "timestamp"}
        datetime.datetime.strptime(sct["timestamp"][:19], "%Y-%m-%dT%H:%M:%S")


def test_pins_text_names_log_operator_time_and_status(
    serve: object, ct_world: CTWorld
) -> None:
    url, logs, root = serve("unknown_log")  # type: ignore[operator]
    result = run_pinws("pins", url, "--ca-certs", root, "--ct-log-list", logs)
    assert result.code == 0, str(result)
    out = result.stdout
    assert "Certificate Transparency (log list" in out
    assert "valid              Alpha 2026 (Alpha), " in out
    assert "UNKNOWN LOG" in out
    assert "verdict: FAIL: the certificate needs 2 valid SCTs" in out
    year = str(now().year)
    assert out.count(f", {year}-") >= 2

    url, logs, root = serve("valid_two_operators")  # type: ignore[operator]
    result = run_pinws("pins", url, "--ca-certs", root, "--ct-log-list", logs)
    assert "verdict: PASS: the certificate needs 2 valid SCTs" in result.stdout
    assert "Beta 2026 (Beta)" in result.stdout


@pytest.mark.parametrize("name", FAILING)
def test_check_is_critical_when_the_policy_fails(serve: object, name: str) -> None:
    url, logs, root = serve(name)  # type: ignore[operator]
    result = run_pinws(
        "check", url, "--ca-certs", root, "--ct-log-list", logs, "--json"
    )
    assert result.code == 2, str(result)
    document = result.json()
    assert document["status"] == "critical"
    assert document["reason"] == "ct_policy"
    assert document["ct"]["passed"] is False
    assert any(f["level"] == "critical" for f in document["findings"])


def test_check_passes_with_ct_alone_and_with_pins(
    serve: object, ct_world: CTWorld
) -> None:
    import pinws

    url, logs, root = serve("valid_two_operators")  # type: ignore[operator]
    alone = run_pinws("check", url, "--ca-certs", root, "--ct-log-list", logs)
    assert alone.code == 0, str(alone)
    assert "ok        Certificate Transparency: the certificate needs 2" in alone.stdout
    assert "result: OK" in alone.stdout
    pins = [
        pinws.spki_pin(ct_world.authority.intermediate),
        pinws.spki_pin(ct_world.authority.precertificate()[0]),
    ]
    both = run_pinws(
        "check", url, "--ca-certs", root, "--ct-log-list", logs,
        "--pin", pins[0], "--pin", pins[1], "--json",
    )  # fmt: skip
    assert both.code == 0, str(both)
    assert both.json()["ct"]["passed"] is True


def test_check_text_shows_each_sct_of_a_failure(serve: object) -> None:
    url, logs, root = serve("log_retired_before_the_sct")  # type: ignore[operator]
    result = run_pinws("check", url, "--ca-certs", root, "--ct-log-list", logs)
    assert result.code == 2, str(result)
    assert "CRITICAL  Certificate Transparency policy fails" in result.stdout
    assert "LOG NOT ACCEPTABLE" in result.stdout
    assert "the log was retired" in result.stdout
    assert "result: CRITICAL, ct_policy (exit 2)" in result.stdout


def test_a_stale_list_is_flagged(serve: object) -> None:
    old = now() - datetime.timedelta(days=90)
    url, logs, root = serve("valid_two_operators", timestamp=old)  # type: ignore[operator]
    result = run_pinws("pins", url, "--ca-certs", root, "--ct-log-list", logs)
    assert "the log list is 90 days old" in result.stdout
    checked = run_pinws(
        "check", url, "--ca-certs", root, "--ct-log-list", logs, "--json"
    )
    assert checked.json()["ct"]["log_list_stale"] is True


def test_bad_log_lists_and_usage(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"operators": []}')
    result = run_pinws("check", "wss://localhost:1/", "--ct-log-list", str(broken))
    assert result.code == 3
    assert_one_line_error(result, "broken.json", "log_list_timestamp", "missing")
    missing = run_pinws("pins", "wss://localhost:1/", "--ct-log-list", "absent.json")
    assert missing.code == 3
    assert_one_line_error(missing, "--ct-log-list absent.json: no such file")
    nothing = run_pinws("check", "wss://localhost:1/")
    assert nothing.code == 3
    assert_one_line_error(nothing, "--pin or --config", "--ct-log-list")
    no_url = run_pinws("pins", "--cert", str(broken), "--ct-log-list", str(broken))
    assert no_url.code == 3
    assert_one_line_error(no_url, "--ct-log-list needs a server URL")
