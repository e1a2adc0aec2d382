"""CTLogList: the v3 log list, validated on load, and the stale-list warning."""

from __future__ import annotations

import base64
import copy
import datetime
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pinws
from helpers.ct import TestLog, log_list, make_log, now, write_log_list


@pytest.fixture(scope="module")
def logs() -> list[TestLog]:
    return [
        make_log("Alpha 2026", "Alpha", "ec"),
        make_log("Beta 2026", "Beta", "rsa"),
    ]


def test_a_valid_list_loads(tmp_path: Path, logs: list[TestLog]) -> None:
    interval = (now(), now() + datetime.timedelta(days=180))
    sharded = make_log("Alpha 2027h1", "Alpha").with_state(
        "qualified", now(), temporal_interval=interval
    )
    path = write_log_list(tmp_path / "list.json", [*logs, sharded])
    loaded = pinws.CTLogList.from_file(path)
    assert len(loaded) == 3
    assert loaded.source == str(path)
    alpha = loaded.get(logs[0].log_id)
    assert alpha is not None
    assert (alpha.description, alpha.operator, alpha.state) == (
        "Alpha 2026",
        "Alpha",
        "usable",
    )
    assert alpha.log_id_b64 == base64.b64encode(logs[0].log_id).decode()
    assert alpha.temporal_interval is None
    shard = loaded.get(sharded.log_id)
    assert shard is not None
    assert shard.temporal_interval == tuple(m.replace(microsecond=0) for m in interval)
    assert loaded.get(b"\x00" * 32) is None
    assert [log.description for log in loaded] == [
        "Alpha 2026",
        "Alpha 2027h1",
        "Beta 2026",
    ]


def test_tiled_logs_are_logs_too(logs: list[TestLog]) -> None:
    document = log_list(logs[:1])
    document["operators"][0]["tiled_logs"] = [logs[1].entry()]
    loaded = pinws.CTLogList.from_json(json.dumps(document))
    assert loaded.get(logs[1].log_id) is not None
    assert loaded.get(logs[1].log_id).operator == "Alpha"  # type: ignore[union-attr]


def test_rfc3339_forms_are_read() -> None:
    document = log_list([])
    for text, expected in (
        ("2026-03-01T12:00:00Z", datetime.datetime(2026, 3, 1, 12)),
        (
            "2026-03-01T12:00:00.123456789Z",
            datetime.datetime(2026, 3, 1, 12, 0, 0, 123456),
        ),
        ("2026-03-01T14:30:00+02:30", datetime.datetime(2026, 3, 1, 12)),
        ("2026-03-01T10:00:00-02:00", datetime.datetime(2026, 3, 1, 12)),
    ):
        document["log_list_timestamp"] = text
        loaded = pinws.CTLogList.from_json(json.dumps(document))
        assert loaded.timestamp == expected.replace(tzinfo=datetime.timezone.utc)


Mutation = Callable[[dict[str, Any]], None]


def _log(document: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = document["operators"][0]["logs"][0]
    return entry


def _set(key: str, value: Any) -> Mutation:
    return lambda d: _log(d).__setitem__(key, value)


def _drop(key: str) -> Mutation:
    return lambda d: _log(d).pop(key)


MALFORMED: list[tuple[str, Mutation, list[str]]] = [
    ("no log_id", _drop("log_id"), ["'Alpha 2026'", "log_id", "missing"]),
    ("no key", _drop("key"), ["'Alpha 2026'", "key", "missing"]),
    ("no state", _drop("state"), ["'Alpha 2026'", "state", "missing"]),
    ("no description", _drop("description"), ["logs[0]", "description", "missing"]),
    (
        "log id of another key",
        _set("log_id", base64.b64encode(b"\x01" * 32).decode()),
        ["'Alpha 2026'", "log_id", "not the SHA-256"],
    ),
    ("bad base64 key", _set("key", "not base64!"), ["'Alpha 2026'", "key", "base64"]),
    (
        "not a key",
        _set("key", base64.b64encode(b"\x30\x03\x02\x01\x01").decode()),
        ["'Alpha 2026'", "key", "not a DER public key"],
    ),
    (
        "unknown state",
        _set("state", {"frozen": {"timestamp": "2020-01-01T00:00:00Z"}}),
        ["'Alpha 2026'", "state", "unknown state 'frozen'"],
    ),
    (
        "two states",
        _set(
            "state",
            {
                "usable": {"timestamp": "2020-01-01T00:00:00Z"},
                "retired": {"timestamp": "2021-01-01T00:00:00Z"},
            },
        ),
        ["'Alpha 2026'", "state", "exactly one"],
    ),
    (
        "state without timestamp",
        _set("state", {"usable": {}}),
        ["'Alpha 2026'", "state.usable", "timestamp", "missing"],
    ),
    (
        "bad state timestamp",
        _set("state", {"usable": {"timestamp": "yesterday"}}),
        ["'Alpha 2026'", "state.usable.timestamp", "RFC 3339"],
    ),
    (
        "reversed temporal interval",
        _set(
            "temporal_interval",
            {
                "start_inclusive": "2027-01-01T00:00:00Z",
                "end_exclusive": "2026-01-01T00:00:00Z",
            },
        ),
        ["'Alpha 2026'", "temporal_interval", "ends before it starts"],
    ),
    (
        "temporal interval without end",
        _set("temporal_interval", {"start_inclusive": "2027-01-01T00:00:00Z"}),
        ["'Alpha 2026'", "temporal_interval", "end_exclusive", "missing"],
    ),
    (
        "no list timestamp",
        lambda d: d.pop("log_list_timestamp"),
        ["log_list_timestamp", "missing"],
    ),
    ("operators not a list", lambda d: d.__setitem__("operators", {}), ["operators"]),
    (
        "operator without name",
        lambda d: d["operators"][0].pop("name"),
        ["operators[0]", "name", "missing"],
    ),
    (
        "operator without logs",
        lambda d: d["operators"][0].pop("logs"),
        ["operator 'Alpha'", "logs", "missing"],
    ),
    (
        "the same log twice",
        lambda d: d["operators"][0]["logs"].append(copy.deepcopy(_log(d))),
        ["'Alpha 2026'", "the same log ID"],
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(m, e, id=name) for name, m, e in MALFORMED],
)
def test_malformed_lists_fail_with_the_file_log_and_field(
    tmp_path: Path, logs: list[TestLog], mutate: Mutation, expected: list[str]
) -> None:
    document = log_list(logs)
    mutate(document)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json") as raised:
        pinws.CTLogList.from_file(path)
    for part in expected:
        assert part in str(raised.value)


def test_weak_and_foreign_keys_are_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    for key, why in (
        (ec.generate_private_key(ec.SECP384R1()), "secp384r1"),
        (rsa.generate_private_key(public_exponent=65537, key_size=1024), "1024-bit"),
        (ed25519.Ed25519PrivateKey.generate(), "Ed25519"),
    ):
        log = TestLog("Odd", "Odd", key)  # type: ignore[arg-type]
        path = write_log_list(tmp_path / "odd.json", [log])
        with pytest.raises(ValueError, match=why):
            pinws.CTLogList.from_file(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "must be an object"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_files_that_are_not_log_lists(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "junk.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=expected):
        pinws.CTLogList.from_file(path)


def test_a_missing_file_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):  # noqa: PT011 - any OSError is right
        pinws.CTLogList.from_file(tmp_path / "absent.json")


def test_a_stale_list_warns_once_and_is_still_loaded(
    tmp_path: Path, logs: list[TestLog], caplog: pytest.LogCaptureFixture
) -> None:
    old = now() - datetime.timedelta(days=71)
    path = write_log_list(tmp_path / "old.json", logs, timestamp=old)
    loaded = pinws.CTLogList.from_file(path)
    stale = [r for r in caplog.records if r.name == "pinws.ct"]
    assert len(stale) == 1
    assert stale[0].levelno == logging.WARNING
    assert "71 days old" in stale[0].getMessage()
    assert str(path) in stale[0].getMessage()
    assert loaded.is_stale()
    assert len(loaded) == 2
    # Once per list: later checks (every connection) stay quiet.
    assert loaded.warn_if_stale()
    assert len([r for r in caplog.records if r.name == "pinws.ct"]) == 1


def test_a_fresh_list_does_not_warn(
    tmp_path: Path, logs: list[TestLog], caplog: pytest.LogCaptureFixture
) -> None:
    recent = now() - datetime.timedelta(days=69)
    loaded = pinws.CTLogList.from_file(
        write_log_list(tmp_path / "recent.json", logs, timestamp=recent)
    )
    assert not loaded.is_stale()
    assert not [r for r in caplog.records if r.name == "pinws.ct"]
    # ...until it ages past 70 days.
    assert loaded.is_stale(now() + datetime.timedelta(days=2))
