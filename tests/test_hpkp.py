"""The Public-Key-Pins header parser and validator (RFC 7469 section 2), as
pure functions, fuzzed with hypothesis."""

from __future__ import annotations

import base64
import datetime
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinws import Pin
from pinws._store import hpkp
from pinws._store.hpkp import InvalidHeaderError, parse, validate

IN_CHAIN = Pin(bytes(range(32)))
BACKUP = Pin(bytes(range(1, 33)))
OTHER = Pin(bytes(range(2, 34)))
CHAIN = {IN_CHAIN.digest}


def pin_directive(pin: Pin) -> str:
    return f'pin-sha256="{pin.base64}"'


GOOD = f"{pin_directive(IN_CHAIN)}; {pin_directive(BACKUP)}; max-age=5184000"


def test_a_typical_header() -> None:
    header = parse(
        f"{pin_directive(IN_CHAIN)}; {pin_directive(BACKUP)}; max-age=3000; "
        'includeSubDomains; report-uri="https://example.com/hpkp"'
    )
    assert header.pins == (IN_CHAIN, BACKUP)
    assert header.max_age == 3000
    assert header.include_subdomains
    assert header.report_uri == "https://example.com/hpkp"
    assert not header.report_only
    validate(header, CHAIN)


def test_names_are_case_insensitive_and_whitespace_and_empty_directives_allowed() -> (
    None
):
    header = parse(
        f'  PIN-SHA256="{IN_CHAIN.base64}" ;\t{pin_directive(BACKUP)};;'
        ' MAX-AGE="60" ; INCLUDESUBDOMAINS ;'
    )
    assert header.pins == (IN_CHAIN, BACKUP)
    assert header.max_age == 60
    assert header.include_subdomains


def test_unknown_directives_and_algorithms_are_ignored() -> None:
    header = parse(f'{GOOD}; pin-sha1="AAAA"; future-thing=1; flag')
    assert header.pins == (IN_CHAIN, BACKUP)


def test_repeated_pins_count_once() -> None:
    header = parse(f"{pin_directive(IN_CHAIN)}; {pin_directive(IN_CHAIN)}; max-age=1")
    assert header.pins == (IN_CHAIN,)
    with pytest.raises(InvalidHeaderError, match="two pins"):
        validate(header, CHAIN)


INVALID = {
    "empty": "",
    "only spaces": "   ",
    "no max-age": f"{pin_directive(IN_CHAIN)}; {pin_directive(BACKUP)}",
    "no pins": "max-age=600",
    "max-age twice": f"{GOOD}; max-age=10",
    "includeSubDomains twice": f"{GOOD}; includeSubDomains; includesubdomains",
    "report-uri twice": f'{GOOD}; report-uri="https://a.example/"; '
    'report-uri="https://b.example/"',
    "negative max-age": f"{pin_directive(IN_CHAIN)}; {pin_directive(BACKUP)}; "
    "max-age=-1",
    "max-age not a number": f"{pin_directive(IN_CHAIN)}; max-age=soon",
    "max-age without value": f"{pin_directive(IN_CHAIN)}; max-age",
    "max-age with a fraction": f"{pin_directive(IN_CHAIN)}; max-age=1.5",
    "pin without value": "pin-sha256; max-age=10",
    "pin not base64": 'pin-sha256="not base64!"; max-age=10',
    "pin too short": 'pin-sha256="AAAA"; max-age=10',
    "pin of sha1 length": f'pin-sha256="{base64.b64encode(bytes(20)).decode()}"; '
    "max-age=10",
    "unterminated quote": f'pin-sha256="{IN_CHAIN.base64}; max-age=10',
    "missing separator": f"{pin_directive(IN_CHAIN)} max-age=10",
    "comma instead of semicolon": f"{pin_directive(IN_CHAIN)}, max-age=10",
    "includeSubDomains with a value": f"{GOOD}; includeSubDomains=true",
    "report-uri over http": f'{GOOD}; report-uri="http://example.com/r"',
    "report-uri relative": f'{GOOD}; report-uri="/report"',
    "report-uri without value": f"{GOOD}; report-uri",
    "non-ascii": f"{GOOD}; max-âge=1",
    "equals without value": f"{GOOD}; foo=",
}


@pytest.mark.parametrize("value", INVALID.values(), ids=INVALID.keys())
def test_invalid_headers_are_rejected(value: str) -> None:
    with pytest.raises(InvalidHeaderError):
        parse(value)


def test_validation_needs_a_pin_in_the_chain_and_a_backup_off_it() -> None:
    with pytest.raises(InvalidHeaderError, match="verified chain"):
        validate(
            parse(f"{pin_directive(BACKUP)}; {pin_directive(OTHER)}; max-age=9"), CHAIN
        )
    both_in_chain = {IN_CHAIN.digest, BACKUP.digest}
    with pytest.raises(InvalidHeaderError, match="backup"):
        validate(parse(GOOD), both_in_chain)
    validate(parse(GOOD), CHAIN)


def test_max_age_zero_needs_no_chain_match() -> None:
    # A removal: the host is telling the client to forget it.
    validate(parse(f"{pin_directive(OTHER)}; max-age=0"), CHAIN)


def test_expiry_is_capped_at_sixty_days() -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert hpkp.expiry(parse(f"{GOOD[:-7]}600"), now) == now + datetime.timedelta(
        seconds=600
    )
    year = parse(
        f"{pin_directive(IN_CHAIN)}; {pin_directive(BACKUP)}; max-age=31536000"
    )
    assert hpkp.expiry(year, now) == now + datetime.timedelta(days=60)
    huge = parse(
        f"{pin_directive(IN_CHAIN)}; {pin_directive(BACKUP)}; max-age={'9' * 500}"
    )
    assert hpkp.expiry(huge, now) == now + datetime.timedelta(days=60)


def test_read_response_prefers_the_enforced_header_and_logs_what_it_ignores(
    caplog: pytest.LogCaptureFixture,
) -> None:
    report_only = f"{pin_directive(IN_CHAIN)}; {pin_directive(OTHER)}; max-age=5"
    both = {"public-key-pins": GOOD, "Public-Key-Pins-Report-Only": report_only}
    header = hpkp.read_response(both, CHAIN, host="h.example")
    assert header is not None
    assert header.pins == (IN_CHAIN, BACKUP)
    assert not header.report_only
    only_ro = hpkp.read_response(
        {"public-key-pins-report-only": report_only}, CHAIN, host="h.example"
    )
    assert only_ro is not None
    assert only_ro.report_only
    with caplog.at_level(logging.WARNING, logger="pinws.store"):
        assert (
            hpkp.read_response({"public-key-pins": "max-age=1"}, CHAIN, host="h")
            is None
        )
    assert any(
        r.name == "pinws.store" and "ignoring the Public-Key-Pins header" in r.message
        for r in caplog.records
    )
    assert hpkp.read_response({"server": "x"}, CHAIN, host="h") is None


# -- fuzzing ---------------------------------------------------------------------

pins = st.binary(min_size=32, max_size=32).map(Pin)
whitespace = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def headers(draw: st.DrawFn) -> tuple[str, list[Pin], int, bool, bool]:
    """A valid header in random order, case and spacing, and what it says."""
    chosen = draw(st.lists(pins, min_size=1, max_size=4, unique=True))
    max_age = draw(st.integers(min_value=0, max_value=10**12))
    include = draw(st.booleans())
    quoted_age = draw(st.booleans())
    directives = [f'pin-sha256="{pin.base64}"' for pin in chosen]
    directives.append(f'max-age="{max_age}"' if quoted_age else f"max-age={max_age}")
    if include:
        directives.append("includeSubDomains")
    directives = draw(st.permutations(directives))
    directives = [
        d.upper() if draw(st.booleans()) and "pin" not in d else d for d in directives
    ]
    text = ""
    for index, directive in enumerate(directives):
        if index:
            text += draw(whitespace) + ";" + draw(whitespace)
        text += directive
    return text, chosen, max_age, include, quoted_age


@given(headers())
@settings(max_examples=300, deadline=None)
def test_fuzz_valid_headers_parse_to_what_they_say(
    case: tuple[str, list[Pin], int, bool, bool],
) -> None:
    text, chosen, max_age, include, _ = case
    header = parse(text)
    assert set(header.pins) == set(chosen)
    assert len(header.pins) == len(chosen)
    assert header.max_age == max_age
    assert header.include_subdomains == include


@given(st.text(max_size=300))
@settings(max_examples=500, deadline=None)
def test_fuzz_arbitrary_text_is_parsed_or_rejected_never_crashes(text: str) -> None:
    try:
        header = parse(text)
    except InvalidHeaderError:
        return
    assert header.pins
    assert header.max_age >= 0


@given(
    st.lists(
        st.sampled_from(
            [
                GOOD,
                ";",
                "=",
                '"',
                "\\",
                " ",
                "max-age=1",
                "includeSubDomains",
                pin_directive(OTHER),
                'report-uri="https://r.example/"',
                "x",
            ]
        ),
        max_size=12,
    ).map("".join)
)
@settings(max_examples=500, deadline=None)
def test_fuzz_near_misses_either_parse_fully_or_are_rejected(text: str) -> None:
    try:
        header = parse(text)
    except InvalidHeaderError:
        return
    try:
        validate(header, CHAIN)
    except InvalidHeaderError:
        return
    assert IN_CHAIN in header.pins
    assert any(pin.digest not in CHAIN for pin in header.pins)


def test_throttle_lets_a_message_through_once_per_interval() -> None:
    from pinws._store.throttle import INTERVAL, Throttle

    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    assert throttle.due("a")
    assert not throttle.due("a")
    assert throttle.due("b")
    now[0] += INTERVAL - 1
    assert not throttle.due("a")
    now[0] += 1
    assert throttle.due("a")
