"""Certificate Transparency inside the handshake, against real loopback servers.

Every failing case refuses with CTPolicyError before a byte of the upgrade
request leaves (enforce), or connects with a warning (report-only).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import pinws
from helpers.ct import FAILING, PASSING, CTWorld, Scenario, log_list, server_context
from helpers.pki import unrelated_pin
from helpers.servers import EavesdropServer, WebSocketServer, roundtrip, running
from helpers.timing import WAIT


def ct_policy(scenario: Scenario, mode: str = "enforce") -> pinws.CTPolicy:
    logs = pinws.CTLogList.from_json(json.dumps(log_list(scenario.logs)))
    return pinws.CTPolicy(logs, mode=mode)


def connect(scenario: Scenario, tmp_path: Path, world: CTWorld, mode: str) -> str:
    """A round trip, with ct= only, to a server serving the scenario's leaf."""
    with running(WebSocketServer(server_context(scenario.issued, tmp_path))) as server:
        return roundtrip(
            server.url(),
            pins=None,
            ct=ct_policy(scenario, mode),
            ca_certs=world.authority.write_root(tmp_path),
        )


def ct_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "pinws.ct" and r.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("name", FAILING)
def test_enforce_refuses_before_any_request_byte(
    tmp_path: Path,
    ct_world: CTWorld,
    ct_scenarios: dict[str, Scenario],
    name: str,
) -> None:
    scenario = ct_scenarios[name]
    context = server_context(scenario.issued, tmp_path)
    with running(EavesdropServer(context)) as server:
        with pytest.raises(pinws.CTPolicyError) as raised:
            pinws.create_connection(
                server.url(),
                pins=None,
                ct=ct_policy(scenario),
                ca_certs=ct_world.authority.write_root(tmp_path),
                timeout=WAIT,
                header={"Authorization": "Bearer secret-token"},
            )
        assert server.sessions_done.wait(WAIT)
        assert bytes(server.received) == b""
    error = raised.value
    assert error.hostname == "localhost"
    assert error.port == server.port
    assert error.required == scenario.required
    assert [s.status for s in error.scts] == scenario.statuses


@pytest.mark.parametrize("name", FAILING)
def test_report_only_connects_and_warns(
    tmp_path: Path,
    ct_world: CTWorld,
    ct_scenarios: dict[str, Scenario],
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    reply = connect(ct_scenarios[name], tmp_path, ct_world, "report-only")
    assert reply == "ping"
    [warning] = ct_warnings(caplog)
    assert "report-only" in warning
    assert "Certificate Transparency failure for localhost" in warning


@pytest.mark.parametrize("name", PASSING)
def test_enforce_connects_when_the_policy_holds(
    tmp_path: Path,
    ct_world: CTWorld,
    ct_scenarios: dict[str, Scenario],
    caplog: pytest.LogCaptureFixture,
    name: str,
) -> None:
    assert connect(ct_scenarios[name], tmp_path, ct_world, "enforce") == "ping"
    assert ct_warnings(caplog) == []


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_ip_addresses(
    tmp_path: Path, ct_world: CTWorld, ct_scenarios: dict[str, Scenario], host: str
) -> None:
    good = ct_scenarios["valid_two_operators"]
    bad = ct_scenarios["one_operator_only"]
    root = ct_world.authority.write_root(tmp_path)
    with running(
        WebSocketServer(server_context(good.issued, tmp_path), host=host)
    ) as server:
        assert roundtrip(server.url(host), pins=None, ct=ct_policy(good), ca_certs=root)
    with running(EavesdropServer(server_context(bad.issued, tmp_path), host=host)) as s:
        with pytest.raises(pinws.CTPolicyError) as raised:
            pinws.create_connection(
                f"wss://[{host}]:{s.port}/" if ":" in host else s.url(host),
                pins=None,
                ct=ct_policy(bad),
                ca_certs=root,
                timeout=WAIT,
            )
        assert s.sessions_done.wait(WAIT)
        assert bytes(s.received) == b""
    assert raised.value.hostname == host


def test_pins_and_ct_together(
    tmp_path: Path, ct_world: CTWorld, ct_scenarios: dict[str, Scenario]
) -> None:
    good = ct_scenarios["valid_two_operators"]
    bad = ct_scenarios["tampered_signature"]
    root = ct_world.authority.write_root(tmp_path)
    intermediate_pin = pinws.spki_pin(ct_world.authority.intermediate)
    backup = pinws.spki_pin(ct_world.authority.root)
    pins = [intermediate_pin, backup]
    with running(WebSocketServer(server_context(good.issued, tmp_path))) as server:
        assert roundtrip(server.url(), pins=pins, ct=ct_policy(good), ca_certs=root)
    with running(EavesdropServer(server_context(bad.issued, tmp_path))) as server:
        # A matching pin does not excuse a CT failure...
        with pytest.raises(pinws.CTPolicyError):
            pinws.create_connection(
                server.url(), pins=pins, ct=ct_policy(bad), ca_certs=root, timeout=WAIT
            )
        # ...and passing CT does not excuse a pin mismatch.
        others = [pinws.spki_pin(ct_world.authority.precertificate()[0]) for _ in "ab"]
        with pytest.raises(pinws.PinMismatchError):
            pinws.create_connection(
                server.url(),
                pins=others,
                ct=ct_policy(good),
                ca_certs=root,
                timeout=WAIT,
            )
        assert bytes(server.received) == b""


def test_the_app_reports_ct_failures_to_on_error(
    tmp_path: Path, ct_world: CTWorld, ct_scenarios: dict[str, Scenario]
) -> None:
    scenario = ct_scenarios["no_scts"]
    errors: list[object] = []
    opened: list[object] = []
    with running(EavesdropServer(server_context(scenario.issued, tmp_path))) as server:
        app = pinws.PinnedWebSocketApp(
            server.url(),
            pins=None,
            ct=ct_policy(scenario),
            ca_certs=ct_world.authority.write_root(tmp_path),
            on_error=lambda app, error: errors.append(error),
            on_open=lambda app: opened.append(app),
        )
        assert app.run_forever() is True
        assert server.sessions_done.wait(WAIT)
        assert bytes(server.received) == b""
    [error] = errors
    assert isinstance(error, pinws.CTPolicyError)
    assert error.scts == ()
    assert "no embedded SCTs" in str(error)
    assert opened == []


def test_ct_arguments_are_checked_when_given(
    tmp_path: Path, ct_scenarios: dict[str, Scenario]
) -> None:
    policy = ct_policy(ct_scenarios["valid_two_operators"])
    pin = pinws.spki_pin(ct_scenarios["valid_two_operators"].issued.leaf)
    with pytest.raises(ValueError, match="pin_only"):
        pinws.PinnedWebSocketApp(
            "wss://localhost/", pins=[pin], pin_only=True, ct=policy
        )
    with pytest.raises(ValueError, match="pin_only"):
        pinws.create_connection(
            "wss://localhost:1/", pins=[pin], pin_only=True, ct=policy
        )
    with pytest.raises(ValueError, match="CTPolicy"):
        pinws.PinnedWebSocketApp(
            "wss://localhost/",
            pins=None,
            ct="log_list.json",  # type: ignore[arg-type]
        )
    # Without ct=, pins=None is still refused.
    with pytest.raises(pinws.InvalidPinError):
        pinws.PinnedWebSocketApp("wss://localhost/", pins=None)


def test_a_stale_list_is_enforced_and_warned_once(
    tmp_path: Path,
    ct_world: CTWorld,
    ct_scenarios: dict[str, Scenario],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import datetime

    from helpers.ct import now

    scenario = ct_scenarios["valid_two_operators"]
    old = now() - datetime.timedelta(days=100)
    logs = pinws.CTLogList.from_json(json.dumps(log_list(scenario.logs, timestamp=old)))
    policy = pinws.CTPolicy(logs)
    root = ct_world.authority.write_root(tmp_path)
    with running(WebSocketServer(server_context(scenario.issued, tmp_path))) as server:
        for _ in range(3):
            assert roundtrip(server.url(), pins=None, ct=policy, ca_certs=root)
    [warning] = ct_warnings(caplog)
    assert "100 days old" in warning


def test_a_repeated_report_only_failure_is_logged_once(
    tmp_path: Path,
    ct_world: CTWorld,
    ct_scenarios: dict[str, Scenario],
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = ct_scenarios["one_operator_only"]
    policy = ct_policy(failing, "report-only")
    root = ct_world.authority.write_root(tmp_path)
    with running(WebSocketServer(server_context(failing.issued, tmp_path))) as server:
        for _ in range(3):
            assert roundtrip(server.url(), pins=None, ct=policy, ca_certs=root)
    assert len(ct_warnings(caplog)) == 1
    # Another failure (of another server, here) is news, and is logged.
    other = ct_scenarios["no_scts"]
    with running(WebSocketServer(server_context(other.issued, tmp_path))) as server:
        assert roundtrip(server.url(), pins=None, ct=policy, ca_certs=root)
    assert len(ct_warnings(caplog)) == 2


def test_a_debug_ca_chain_skips_ct_with_a_warning(
    tmp_path: Path,
    ct_world: CTWorld,
    ct_scenarios: dict[str, Scenario],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # debug_ca= (an intercepting proxy's CA, in development) accepts its
    # chains without pins, and without CT: such proxies log nothing.
    scenario = ct_scenarios["no_scts"]
    root = ct_world.authority.write_root(tmp_path)
    with running(WebSocketServer(server_context(scenario.issued, tmp_path))) as server:
        reply = roundtrip(
            server.url(),
            pins=[unrelated_pin(), unrelated_pin()],
            ct=ct_policy(scenario),
            ca_certs=root,
            debug_ca=root,
        )
    assert reply == "ping"
    [warning] = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("debug_ca: ")
        and "accepted without" in r.getMessage()
    ]
    assert "without pin checks or Certificate Transparency" in warning
