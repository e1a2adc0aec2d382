"""judge(): the pin decision as a table of cases, no sockets, no OpenSSL."""

from __future__ import annotations

import datetime
import hashlib
from typing import Optional

import pytest

from pinws._pins.pin import Pin
from pinws._pins.pinset import PinSet
from pinws._pins.verdict import REASONS, WARNINGS, Verdict, judge

TODAY = datetime.date(2027, 1, 10)


def key(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


LEAF, MIDDLE, ROOT, BACKUP, OTHER, DEBUG = (
    key(n) for n in ("leaf", "middle", "root", "backup", "other", "debug")
)
CHAIN = (LEAF, MIDDLE, ROOT)


def pins(*digests: bytes, **options: object) -> PinSet:
    return PinSet([str(Pin(d)) for d in digests], **options)  # type: ignore[arg-type]


def expiring(days: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=days)


# (case, chain, pin set, options, accepted, reason, matched depths, warnings)
CASES: list[
    tuple[
        str,
        tuple[bytes, ...],
        Optional[PinSet],
        dict[str, object],
        bool,
        str,
        tuple[int, ...],
        tuple[str, ...],
    ]
] = [
    ("leaf pin", CHAIN, pins(LEAF, BACKUP), {}, True, "pin_match", (0,), ()),
    ("intermediate pin", CHAIN, pins(MIDDLE, BACKUP), {}, True, "pin_match", (1,), ()),
    ("root pin", CHAIN, pins(ROOT, BACKUP), {}, True, "pin_match", (2,), ()),
    (
        "two match, nearest leaf counts",
        CHAIN,
        pins(ROOT, LEAF),
        {},
        True,
        "pin_match",
        (0, 2),
        ("no_off_chain_backup",),
    ),
    ("no match", CHAIN, pins(OTHER, BACKUP), {}, False, "pin_mismatch", (), ()),
    ("single pin", CHAIN, pins(LEAF), {}, True, "pin_match", (0,), ("single_pin",)),
    (
        "report-only mismatch",
        CHAIN,
        pins(OTHER, BACKUP, report_only=True),
        {},
        True,
        "report_only_mismatch",
        (),
        (),
    ),
    (
        "expired set, mismatch",
        CHAIN,
        pins(OTHER, BACKUP, expires=expiring(-1)),
        {},
        True,
        "expired_pin_set_mismatch",
        (),
        ("pin_set_expired",),
    ),
    (
        "last day of a set still enforced",
        CHAIN,
        pins(OTHER, BACKUP, expires=expiring(0)),
        {},
        False,
        "pin_mismatch",
        (),
        (),
    ),
    (
        "expiring within warn_days",
        CHAIN,
        pins(LEAF, BACKUP, expires=expiring(5)),
        {"warn_days": 30},
        True,
        "pin_match",
        (0,),
        ("pin_set_expiring",),
    ),
    (
        "expiring after warn_days",
        CHAIN,
        pins(LEAF, BACKUP, expires=expiring(40)),
        {"warn_days": 30},
        True,
        "pin_match",
        (0,),
        (),
    ),
    ("unpinned host allowed", CHAIN, None, {}, True, "unpinned", (), ()),
    (
        "first use",
        (LEAF,),
        None,
        {"trust_on_first_use": True},
        True,
        "first_use",
        (),
        (),
    ),
    (
        "debug CA ends the chain",
        (LEAF, MIDDLE, DEBUG),
        pins(OTHER, BACKUP),
        {"debug_ca_digest": DEBUG},
        True,
        "debug_ca",
        (),
        (),
    ),
    (
        "debug CA elsewhere in the chain does not count",
        (LEAF, DEBUG, ROOT),
        pins(OTHER, BACKUP),
        {"debug_ca_digest": DEBUG},
        False,
        "pin_mismatch",
        (),
        (),
    ),
    (
        "pin_only: report-only cannot let a wrong key through",
        (LEAF,),
        pins(OTHER, BACKUP, report_only=True),
        {"pin_only": True},
        False,
        "pin_mismatch",
        (),
        (),
    ),
    (
        "pin_only: nor can an expired set",
        (LEAF,),
        pins(OTHER, BACKUP, expires=expiring(-3)),
        {"pin_only": True},
        False,
        "pin_mismatch",
        (),
        ("pin_set_expired",),
    ),
]


@pytest.mark.parametrize(
    ("chain", "pin_set", "options", "accepted", "reason", "depths", "warnings"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_judge(
    chain: tuple[bytes, ...],
    pin_set: Optional[PinSet],
    options: dict[str, object],
    accepted: bool,
    reason: str,
    depths: tuple[int, ...],
    warnings: tuple[str, ...],
) -> None:
    verdict = judge(chain, pin_set, today=TODAY, **options)  # type: ignore[arg-type]
    assert verdict.accepted is accepted
    assert verdict.reason == reason
    assert tuple(depth for depth, _ in verdict.matched) == depths
    assert verdict.warnings == warnings
    assert verdict.reason in REASONS
    assert set(verdict.warnings) <= set(WARNINGS)
    # A report is due exactly when a pinned chain did not match.
    assert verdict.report_due is (
        pin_set is not None and not depths and reason != "debug_ca"
    )


def test_the_match_nearest_the_leaf_is_the_matched_pin() -> None:
    verdict = judge(CHAIN, pins(ROOT, MIDDLE), today=TODAY)
    assert verdict.matched_pin == Pin(MIDDLE)


def test_backups_are_the_pins_off_the_chain() -> None:
    verdict = judge(CHAIN, pins(LEAF, BACKUP, OTHER), today=TODAY)
    assert verdict.backups == (Pin(BACKUP), Pin(OTHER))


def test_expires_in_counts_days() -> None:
    verdict = judge(CHAIN, pins(LEAF, BACKUP, expires=expiring(12)), today=TODAY)
    assert verdict.expires_in == 12


def test_an_empty_chain_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="chain"):
        judge((), pins(LEAF, BACKUP), today=TODAY)


def test_a_verdict_is_a_value() -> None:
    first = judge(CHAIN, pins(LEAF, BACKUP), today=TODAY)
    assert first == judge(CHAIN, pins(LEAF, BACKUP), today=TODAY)
    assert isinstance(first, Verdict)
    with pytest.raises(AttributeError):
        first.accepted = False  # type: ignore[misc]


def test_a_large_pin_set_is_judged_without_walking_it() -> None:
    # A handshake must not cost more with 10 000 pins than with two: only
    # the number of backups is worked out, not their list.
    walked = []

    class Walked(tuple):  # type: ignore[type-arg]
        def __iter__(self):  # type: ignore[no-untyped-def]
            walked.append(1)
            return super().__iter__()

    class Counting(PinSet):
        @property
        def pins(self) -> tuple[Pin, ...]:
            return Walked(super().pins)

    many = Counting(
        [str(Pin(key(f"backup {i}"))) for i in range(10_000)] + [str(Pin(LEAF))]
    )
    verdict = judge(CHAIN, many, today=TODAY)
    assert verdict.accepted
    assert verdict.backup_count == 10_000
    assert not walked  # its length only
    assert len(verdict.backups) == 10_000  # listed when asked for
    assert walked
