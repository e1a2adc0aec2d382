"""PinSet options (backups, expiry, report-only) and the pin parser's properties."""

from __future__ import annotations

import base64
import datetime
import logging
import re
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pinws
from helpers.pki import unrelated_pin
from pinws import InvalidPinError, Pin, PinSet
from pinws._pins import pinset as pinset_module
from pinws._pins.pin import parse_pins

DAY = datetime.timedelta(days=1)
EXPIRES = datetime.date(2030, 6, 30)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("pinws") and r.levelno == logging.WARNING
    ]


# -- backups -----------------------------------------------------------------


def test_a_single_pin_warns_about_the_missing_backup(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pin = unrelated_pin()
    PinSet([pin])
    (message,) = warnings_of(caplog)
    assert pin in message
    assert "no backup" in message
    assert "locked out" in message


def test_a_duplicated_pin_is_still_a_single_pin(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pin = unrelated_pin()
    hex_form = Pin.parse(pin).hex
    assert len(PinSet([pin, hex_form]).pins) == 1
    assert len(warnings_of(caplog)) == 1
    with pytest.raises(InvalidPinError, match="no backup"):
        PinSet([pin, hex_form], require_backup=True)


def test_require_backup_makes_a_single_pin_an_error() -> None:
    with pytest.raises(InvalidPinError, match="single pin and no backup"):
        PinSet([unrelated_pin()], require_backup=True)


def test_two_pins_need_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    pin_set = PinSet([unrelated_pin(), unrelated_pin()], require_backup=True)
    assert warnings_of(caplog) == []
    assert pin_set.require_backup


def test_all_pins_in_the_served_chain_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = Pin.parse(unrelated_pin()), Pin.parse(unrelated_pin())
    pin_set = PinSet([first, second])
    # One pin off the chain: that is the backup, no warning.
    pin_set.warn_if_no_offchain_backup([first.digest, b"x" * 32])
    assert warnings_of(caplog) == []
    for _ in range(3):
        pin_set.warn_if_no_offchain_backup([first.digest, second.digest, b"y" * 32])
    (message,) = warnings_of(caplog)
    assert "no backup key off that chain" in message
    assert str(first) in message
    assert str(second) in message


# -- expiry ------------------------------------------------------------------


def test_pins_are_enforced_through_and_including_the_expiry_date() -> None:
    pin_set = PinSet([unrelated_pin(), unrelated_pin()], expires=EXPIRES)
    assert not pin_set.is_expired(EXPIRES - DAY)
    assert pin_set.is_enforced(EXPIRES - DAY)
    assert not pin_set.is_expired(EXPIRES)
    assert pin_set.is_enforced(EXPIRES)
    assert pin_set.is_expired(EXPIRES + DAY)
    assert not pin_set.is_enforced(EXPIRES + DAY)


def test_no_expiry_never_expires() -> None:
    pin_set = PinSet([unrelated_pin(), unrelated_pin()])
    assert not pin_set.is_expired(datetime.date.max)
    assert pin_set.is_enforced(datetime.date.max)


def test_report_only_is_never_enforced() -> None:
    pin_set = PinSet([unrelated_pin(), unrelated_pin()], report_only=True)
    assert not pin_set.is_enforced(EXPIRES)
    assert not pin_set.is_expired(EXPIRES)


def test_expiry_is_judged_by_the_utc_calendar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset")
    differs = False
    try:
        # At any instant, one of these zones is on another day than UTC.
        # (POSIX TZ strings, so no tz database is needed: east is negative.)
        for zone in ("EAST-14", "WEST+12"):
            monkeypatch.setenv("TZ", zone)
            time.tzset()
            utc = datetime.datetime.now(datetime.timezone.utc).date()
            today = pinset_module.utc_today()
            local = datetime.date.today()
            assert pinset_module.utc_today() in (utc, utc + DAY)  # midnight race
            differs = differs or today != local
    finally:
        monkeypatch.undo()
        time.tzset()
    assert differs


def test_the_clock_seam_decides_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    pin_set = PinSet([unrelated_pin(), unrelated_pin()], expires=EXPIRES)
    monkeypatch.setattr(pinset_module, "utc_today", lambda: EXPIRES)
    assert pin_set.is_enforced()
    monkeypatch.setattr(pinset_module, "utc_today", lambda: EXPIRES + DAY)
    assert not pin_set.is_enforced()


def test_expiry_is_warned_once_per_pin_set_even_across_threads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pin_set = PinSet([unrelated_pin(), unrelated_pin()], expires=EXPIRES)
    other = PinSet([unrelated_pin(), unrelated_pin()], expires=EXPIRES)
    assert not pin_set.warn_if_expired(EXPIRES)
    assert warnings_of(caplog) == []
    start = threading.Barrier(8)
    results: list[bool] = []

    def warn() -> None:
        start.wait()
        results.append(pin_set.warn_if_expired(EXPIRES + DAY))

    threads = [threading.Thread(target=warn) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 8
    (message,) = warnings_of(caplog)
    assert "expired on 2030-06-30" in message
    assert "no longer enforced" in message
    other.warn_if_expired(EXPIRES + DAY)
    assert len(warnings_of(caplog)) == 2


@pytest.mark.parametrize(
    ("expires", "fragment"),
    [
        (datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc), "use .date()"),
        ("2030-01-01", "datetime.date(2027, 6, 30)"),
        (20300101, "not int"),
    ],
)
def test_expires_must_be_a_date(expires: object, fragment: str) -> None:
    with pytest.raises(InvalidPinError, match=re.escape(fragment)):
        PinSet([unrelated_pin(), unrelated_pin()], expires=expires)  # type: ignore[arg-type]


# -- values ------------------------------------------------------------------


def test_pin_sets_compare_as_sets() -> None:
    a, b = unrelated_pin(), unrelated_pin()
    assert PinSet([a, b]) == PinSet([b, a])
    assert hash(PinSet([a, b])) == hash(PinSet([b, a]))
    assert PinSet([a, b]) != PinSet([a, b], report_only=True)
    assert PinSet([a, b]) != PinSet([a, b], expires=EXPIRES)
    assert PinSet([a, b]).pins == (Pin.parse(a), Pin.parse(b))
    assert "report_only=True" in repr(PinSet([a, b], report_only=True))
    assert "expires=datetime.date(2030, 6, 30)" in repr(PinSet([a, b], expires=EXPIRES))


def test_matching_is_by_digest() -> None:
    a, b = Pin.parse(unrelated_pin()), Pin.parse(unrelated_pin())
    pin_set = PinSet([a, b])
    assert pin_set.matches(a.digest)
    assert not pin_set.matches(Pin.parse(unrelated_pin()).digest)


# -- the pin parser's properties ----------------------------------------------

digests = st.binary(min_size=32, max_size=32)


def spellings(digest: bytes) -> list[str]:
    b64 = base64.b64encode(digest).decode()
    return [
        f"sha256/{b64}",
        f"sha256//{b64}",
        f"SHA256/{b64}",
        f'pin-sha256="{b64}"',
        f' pin-sha256 = "{b64}"\n',
        digest.hex(),
        digest.hex().upper(),
        ":".join(f"{byte:02x}" for byte in digest),
        ":".join(f"{byte:02X}" for byte in digest),
    ]


@given(digests)
def test_every_spelling_of_a_digest_is_the_same_pin(digest: bytes) -> None:
    canonical = "sha256/" + base64.b64encode(digest).decode()
    for text in spellings(digest):
        pin = Pin.parse(text)
        assert pin.digest == digest
        assert str(pin) == canonical
    assert Pin.parse(canonical) == Pin(digest)


@given(digests.map(lambda d: bytes([d[0] | 0xFC]) + d[1:]))
def test_digests_whose_base64_starts_with_a_slash(digest: bytes) -> None:
    b64 = base64.b64encode(digest).decode()
    assert b64.startswith("/")
    # Canonical "sha256//..." and curl's "sha256///..." are the same pin.
    assert Pin.parse(f"sha256/{b64}").digest == digest
    assert Pin.parse(f"sha256//{b64}").digest == digest
    assert str(Pin.parse(str(Pin(digest)))) == f"sha256/{b64}"


@given(st.lists(digests, min_size=1, max_size=5))
def test_curl_lists_keep_order_and_drop_duplicates(found: list[bytes]) -> None:
    joined = ";".join(f"sha256//{base64.b64encode(d).decode()}" for d in found)
    parsed = parse_pins(joined)
    assert [pin.digest for pin in parsed] == list(dict.fromkeys(found))


@given(st.text(max_size=80))
def test_any_text_is_a_pin_or_an_invalid_pin_error(text: str) -> None:
    error: InvalidPinError | None = None
    try:
        pin = Pin.parse(text)
    except InvalidPinError as exc:
        error = exc
    if error is None:
        assert len(pin.digest) == 32
        return
    assert str(error).startswith(f"invalid pin {text!r}: ")
    assert error.pin == text


@given(digests, st.integers(min_value=0, max_value=43), st.sampled_from("!*-_.~ "))
def test_a_corrupted_base64_pin_is_rejected(digest: bytes, at: int, bad: str) -> None:
    b64 = base64.b64encode(digest).decode()
    corrupted = b64[:at] + bad + b64[at + 1 :]
    with pytest.raises(InvalidPinError, match=r"not valid base64|characters"):
        Pin.parse(f"sha256/{corrupted}")


@given(digests, st.integers(min_value=1, max_value=20))
def test_a_truncated_pin_is_rejected_with_its_length(digest: bytes, cut: int) -> None:
    b64 = base64.b64encode(digest).decode()
    with pytest.raises(InvalidPinError, match=f"has {44 - cut} characters"):
        Pin.parse(f"sha256/{b64[:-cut]}")
    with pytest.raises(InvalidPinError, match=f"has {64 - 2 * cut} hex digits"):
        Pin.parse(digest.hex()[: -2 * cut])


def test_exports() -> None:
    assert pinws.PinSet is PinSet
