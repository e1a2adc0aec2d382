"""The CT verdict as a pure function: generated logs and SCTs, a real certificate."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import pickle
from pathlib import Path

import pytest
from cryptography import x509

import pinws
from helpers.ct import (
    FAILING,
    PASSING,
    CTWorld,
    Scenario,
    log_list,
    now,
    tbs_without_poison,
)
from pinws._ct.policy import SCT_STATUSES, evaluate, issuer_key_hash, required_scts
from pinws._ct.sct import decode_embedded_scts, signature_verifies, signed_data

DATA = Path(__file__).parent / "data"


def judge(scenario: Scenario) -> pinws.CTVerdict:
    logs = pinws.CTLogList.from_json(json.dumps(log_list(scenario.logs)))
    return evaluate(scenario.issued.leaf, scenario.issued.intermediate, logs, now())


@pytest.mark.parametrize("name", PASSING)
def test_passing_cases(ct_scenarios: dict[str, Scenario], name: str) -> None:
    scenario = ct_scenarios[name]
    verdict = judge(scenario)
    assert [s.status for s in verdict.scts] == scenario.statuses
    assert verdict.required == scenario.required
    assert verdict.passed, verdict.reason
    assert len(verdict.operators) >= 2


@pytest.mark.parametrize("name", FAILING)
def test_failing_cases(ct_scenarios: dict[str, Scenario], name: str) -> None:
    scenario = ct_scenarios[name]
    verdict = judge(scenario)
    assert [s.status for s in verdict.scts] == scenario.statuses
    assert verdict.required == scenario.required
    assert not verdict.passed
    for sct in verdict.scts:
        assert sct.status in SCT_STATUSES
        assert sct.timestamp.tzinfo is not None
        assert (sct.detail == "") == (sct.status == "valid")


def test_the_leaf_tbs_is_the_precertificate_tbs(ct_world: CTWorld) -> None:
    # The TBS the logs signed (computed from the precertificate's bytes, as
    # a log does) is what cryptography rebuilds from the final certificate.
    issued = ct_world.authority.issue([ct_world.alpha, ct_world.beta])
    assert issued.precert is not None
    assert issued.leaf.tbs_precertificate_bytes == tbs_without_poison(issued.precert)
    assert issued.leaf.tbs_certificate_bytes != issued.leaf.tbs_precertificate_bytes


def test_the_issuer_key_hash_comes_from_the_issuer(
    ct_scenarios: dict[str, Scenario], ct_world: CTWorld
) -> None:
    # The same leaf judged with another "issuer" (the root) fails: the
    # signatures cover the real issuer's key hash.
    scenario = ct_scenarios["valid_two_operators"]
    logs = pinws.CTLogList.from_json(json.dumps(log_list(scenario.logs)))
    verdict = evaluate(scenario.issued.leaf, ct_world.authority.root, logs, now())
    assert [s.status for s in verdict.scts] == ["invalid_signature"] * 2


def test_details_name_what_is_wrong(ct_scenarios: dict[str, Scenario]) -> None:
    details = {
        name: [s.detail for s in judge(ct_scenarios[name]).scts]
        for name in (
            "log_retired_before_the_sct",
            "pending_log",
            "outside_the_temporal_interval",
            "future_timestamp",
        )
    }
    assert "retired" in details["log_retired_before_the_sct"][1]
    assert "pending" in details["pending_log"][1]
    assert "temporal interval" in details["outside_the_temporal_interval"][1]
    assert "after now" in details["future_timestamp"][1]


def test_entries_carry_log_operator_and_time(
    ct_scenarios: dict[str, Scenario], ct_world: CTWorld
) -> None:
    verdict = judge(ct_scenarios["unknown_log"])
    known, unknown = verdict.scts
    assert known.log_id == base64.b64encode(ct_world.alpha.log_id).decode()
    assert (known.log_description, known.operator) == ("Alpha 2026", "Alpha")
    assert unknown.log_id == base64.b64encode(ct_world.stranger.log_id).decode()
    assert (unknown.log_description, unknown.operator) == (None, None)
    assert abs(known.timestamp - now()) < datetime.timedelta(hours=2)
    assert known.as_dict()["timestamp"].endswith("Z")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("days", "required"), [(1, 2), (90, 2), (180, 2), (181, 3), (398, 3)]
)
def test_required_scts_by_lifetime(ct_world: CTWorld, days: int, required: int) -> None:
    precert, _, _ = ct_world.authority.precertificate(
        lifetime=datetime.timedelta(days=days)
    )
    assert required_scts(precert) == required


def test_ctpolicy_error_lists_every_sct(ct_scenarios: dict[str, Scenario]) -> None:
    verdict = judge(ct_scenarios["tampered_signature"])
    error = pinws.CTPolicyError("example.com", verdict.required, verdict.scts, 443)
    text = str(error)
    assert "example.com:443" in text
    assert "needs 2 valid SCTs" in text
    assert "invalid_signature: Alpha 2026 (Alpha)" in text
    assert "valid: Beta 2026 (Beta)" in text
    assert error.required == 2
    assert error.scts == verdict.scts
    assert isinstance(error, pinws.PinningError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.hostname, copy.required, copy.scts, str(copy)) == (
        "example.com",
        2,
        verdict.scts,
        text,
    )


def test_ctpolicy_arguments() -> None:
    logs = pinws.CTLogList.from_json(json.dumps(log_list([])))
    assert pinws.CTPolicy(logs).mode == "enforce"
    assert not pinws.CTPolicy(logs, mode="report-only").enforced
    with pytest.raises(ValueError, match="'enforce' or 'report-only'"):
        pinws.CTPolicy(logs, mode="report_only")
    with pytest.raises(ValueError, match="CTLogList"):
        pinws.CTPolicy("log_list.json")  # type: ignore[arg-type]


# -- a real certificate ---------------------------------------------------------
#
# tests/data/cryptography-scts.pem is cryptography.io's 2018 Let's Encrypt
# certificate, from pyca/cryptography's test vectors
# (vectors/cryptography_vectors/x509/cryptography-scts.pem); its issuer,
# "Let's Encrypt Authority X3", is tests/data/lets-encrypt-x3.pem. The two
# logs' keys are the public keys of Google's 'Icarus' and Sectigo's
# 'Mammoth' logs, as published in the browsers' log lists.

ICARUS_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETtK8v7MICve56qTHHDhhBOuV4IlUaESxZryC"
    "fk9QbG9co/CqPvTsgPDbCpp6oFtyAHwlDhnvr7JijXRD9Cb2FA=="
)
MAMMOTH_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7+R9dC4VFbbpuyOL+yy14ceAmEf7QGlo/Emt"
    "YU6DRzwat43f/3swtLr/L8ugFOOt1YU/RFmMjGCL17ixv66MZw=="
)


def _real_log(description: str, key: str) -> dict[str, object]:
    return {
        "description": description,
        "log_id": base64.b64encode(
            hashlib.sha256(base64.b64decode(key)).digest()
        ).decode(),
        "key": key,
        "mmd": 86400,
        "state": {"usable": {"timestamp": "2018-02-27T00:00:00Z"}},
    }


@pytest.fixture
def real_world() -> tuple[x509.Certificate, x509.Certificate, pinws.CTLogList]:
    leaf = x509.load_pem_x509_certificate((DATA / "cryptography-scts.pem").read_bytes())
    issuer = x509.load_pem_x509_certificate((DATA / "lets-encrypt-x3.pem").read_bytes())
    logs = pinws.CTLogList.from_json(
        json.dumps(
            {
                "log_list_timestamp": "2018-10-01T00:00:00Z",
                "operators": [
                    {
                        "name": "Google",
                        "logs": [_real_log("Google 'Icarus' log", ICARUS_KEY)],
                    },
                    {
                        "name": "Sectigo",
                        "logs": [_real_log("Sectigo 'Mammoth' CT log", MAMMOTH_KEY)],
                    },
                ],
            }
        )
    )
    return leaf, issuer, logs


def test_a_real_certificate_decodes(
    real_world: tuple[x509.Certificate, x509.Certificate, pinws.CTLogList],
) -> None:
    leaf, _, _ = real_world
    embedded = decode_embedded_scts(leaf)
    assert [base64.b64encode(s.log_id).decode() for s in embedded.scts] == [
        "KTxRllTIOWW6qlD8WAfUt2+/WHopctykwwz05UVH9Hg=",
        "b1N2rDHwMRnYmQCkURX/dxUcEdkCwQApBo2yCJo32RM=",
    ]
    assert [s.timestamp_ms for s in embedded.scts] == [1537995393769, 1537995393904]
    assert {(s.algorithm, s.hash_name) for s in embedded.scts} == {("ecdsa", "sha256")}
    assert embedded.tbs_precertificate == leaf.tbs_precertificate_bytes


def test_a_real_certificate_passes_with_the_real_logs(
    real_world: tuple[x509.Certificate, x509.Certificate, pinws.CTLogList],
) -> None:
    leaf, issuer, logs = real_world
    verdict = evaluate(leaf, issuer, logs, _utc(2018, 10, 1))
    assert [s.status for s in verdict.scts] == ["valid", "valid"]
    assert [s.log_description for s in verdict.scts] == [
        "Google 'Icarus' log",
        "Sectigo 'Mammoth' CT log",
    ]
    assert verdict.passed
    assert verdict.operators == ("Google", "Sectigo")


def test_a_real_certificate_fails_when_altered(
    real_world: tuple[x509.Certificate, x509.Certificate, pinws.CTLogList],
) -> None:
    leaf, issuer, logs = real_world
    # Before the logs signed: the SCTs are from the future.
    early = evaluate(leaf, issuer, logs, _utc(2018, 9, 26))
    assert [s.status for s in early.scts] == ["future_timestamp"] * 2
    # One bit of the signed data changed: no signature verifies.
    embedded = decode_embedded_scts(leaf)
    sct = embedded.scts[0]
    log = logs.get(sct.log_id)
    assert log is not None
    good = signed_data(sct, embedded.tbs_precertificate, issuer_key_hash(issuer))
    assert signature_verifies(sct, log.key, good)
    bad = bytearray(good)
    bad[100] ^= 0x01
    assert not signature_verifies(sct, log.key, bytes(bad))


def _utc(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=datetime.timezone.utc)  # type: ignore[misc]


def test_ctpolicy_remembers_signatures_not_verdicts(
    ct_scenarios: dict[str, Scenario], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinws._ct import ctpolicy

    calls: list[bytes] = []
    real = ctpolicy.signature_verifies

    def counting(sct: object, key: object, data: bytes) -> bool:
        calls.append(data)
        return real(sct, key, data)  # type: ignore[arg-type]

    monkeypatch.setattr(ctpolicy, "signature_verifies", counting)
    good = ct_scenarios["valid_two_operators"]
    logs = pinws.CTLogList.from_json(json.dumps(log_list(good.logs)))
    policy = pinws.CTPolicy(logs)
    issuer = good.issued.intermediate
    assert policy.evaluate(good.issued.leaf, issuer).passed
    assert len(calls) == 2
    assert policy.evaluate(good.issued.leaf, issuer).passed
    assert len(calls) == 2  # remembered
    # Other bytes are checked afresh: a tampered SCT, SCTs over another TBS,
    # the same SCTs with another issuer.
    for name in ("tampered_signature", "scts_over_a_different_tbs"):
        verdict = policy.evaluate(ct_scenarios[name].issued.leaf, issuer)
        assert [s.status for s in verdict.scts] == ct_scenarios[name].statuses
    wrong_issuer = policy.evaluate(good.issued.leaf, good.issued.leaf)
    assert [s.status for s in wrong_issuer.scts] == ["invalid_signature"] * 2
    # Time is judged every time: the same SCTs, seen from before they existed.
    past = now() - datetime.timedelta(days=1)
    early = policy.evaluate(good.issued.leaf, issuer, now=past)
    assert [s.status for s in early.scts] == ["future_timestamp"] * 2
