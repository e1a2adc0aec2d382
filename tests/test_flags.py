"""Flags take a real bool: "false" must never be truthy (review finding 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import websocket

import pinws
from helpers.pki import Chain, trust_bundle, unrelated_pin
from helpers.servers import EavesdropServer, running
from helpers.timing import WAIT

NOT_BOOLS = ["false", "False", "true", "0", "", 0, 1, None, 0.0, [], "no"]


@pytest.mark.parametrize("value", NOT_BOOLS, ids=repr)
@pytest.mark.parametrize("flag", ["report_only", "require_backup"])
def test_pin_set_flags_refuse_anything_but_a_bool(flag: str, value: Any) -> None:
    with pytest.raises(ValueError, match=rf"^{flag} must be True or False") as info:
        pinws.PinSet([unrelated_pin(), unrelated_pin()], **{flag: value})
    if isinstance(value, str):
        assert "convert it first" in str(info.value)


@pytest.mark.parametrize("value", NOT_BOOLS, ids=repr)
def test_policy_allow_unpinned_refuses_anything_but_a_bool(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^allow_unpinned must be True or False"):
        pinws.PinPolicy(
            {"example.com": [unrelated_pin(), unrelated_pin()]}, allow_unpinned=value
        )


def test_android_allow_unpinned_refuses_a_string(tmp_path: Path) -> None:
    path = tmp_path / "nsc.xml"
    path.write_text("<network-security-config/>")
    with pytest.raises(ValueError, match=r"^allow_unpinned must be True or False"):
        pinws.PinPolicy.from_android_nsc(path, allow_unpinned="false")  # type: ignore[arg-type]


ENTRY_POINTS = {
    "create_connection": lambda value: pinws.create_connection(
        "wss://localhost:1/", pins=PINS, pin_only=value, timeout=WAIT
    ),
    "PinnedWebSocket": lambda value: pinws.PinnedWebSocket(pins=PINS, pin_only=value),
    "PinnedWebSocketApp": lambda value: pinws.PinnedWebSocketApp(
        "wss://localhost:1/", pins=PINS, pin_only=value
    ),
}
PINS = [unrelated_pin(), unrelated_pin()]


@pytest.mark.parametrize("value", NOT_BOOLS, ids=repr)
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_pin_only_refuses_anything_but_a_bool(entry: str, value: Any) -> None:
    # Nothing listens on port 1: a refusal must come before any connect.
    with pytest.raises(ValueError, match=r"^pin_only must be True or False"):
        ENTRY_POINTS[entry](value)


@pytest.mark.parametrize("flag", [True, False])
def test_real_bools_are_still_accepted(flag: bool) -> None:
    pin_set = pinws.PinSet(
        [unrelated_pin(), unrelated_pin()], report_only=flag, require_backup=flag
    )
    assert pin_set.report_only is flag
    assert pin_set.require_backup is flag
    policy = pinws.PinPolicy({"example.com": pin_set}, allow_unpinned=flag)
    assert policy.allow_unpinned is flag


def _send_upgrade_to(attacker: EavesdropServer, pins: Any, ca_certs: str) -> None:
    # The attacker closes once it has the request: the client sees the end.
    with pytest.raises((websocket.WebSocketException, OSError)):
        pinws.create_connection(
            attacker.url(),
            pins=pins,
            ca_certs=ca_certs,
            timeout=WAIT,
            header={"Authorization": "Bearer secret-token"},
        )


def test_report_only_false_as_text_cannot_open_the_door(
    tmp_path: Path, chain: Chain, rogue_chain: Chain
) -> None:
    # The review's attack: an interceptor whose root the machine trusts.
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    genuine = [chain.intermediate_pin, chain.leaf_pin]
    with running(EavesdropServer(rogue_chain.server_context())) as attacker:
        # The twin: a report-only set really does let the upgrade through,
        # so a truthy "false" would have leaked the token.
        _send_upgrade_to(attacker, pinws.PinSet(genuine, report_only=True), bundle)
        assert attacker.sessions_done.wait(WAIT)
        assert b"Authorization: Bearer secret-token" in attacker.received
        attacker.received.clear()
        accepted = attacker.accepted
        with pytest.raises(ValueError, match="report_only"):
            pinws.create_connection(
                attacker.url(),
                pins=pinws.PinSet(genuine, report_only="false"),  # type: ignore[arg-type]
                ca_certs=bundle,
                timeout=WAIT,
                header={"Authorization": "Bearer secret-token"},
            )
        assert attacker.accepted == accepted
        assert bytes(attacker.received) == b""


def test_allow_unpinned_false_as_text_cannot_open_the_door(
    tmp_path: Path, chain: Chain, rogue_chain: Chain
) -> None:
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    rules = {"api.example.com": [chain.intermediate_pin, chain.leaf_pin]}
    with running(EavesdropServer(rogue_chain.server_context())) as attacker:
        _send_upgrade_to(attacker, pinws.PinPolicy(rules, allow_unpinned=True), bundle)
        assert attacker.sessions_done.wait(WAIT)
        assert b"Authorization: Bearer secret-token" in attacker.received
        attacker.received.clear()
        with pytest.raises(ValueError, match="allow_unpinned"):
            pinws.PinPolicy(rules, allow_unpinned="false")  # type: ignore[arg-type]
