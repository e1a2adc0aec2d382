"""Fuzzing what users hand pinws: pin strings, pin sets, host patterns and
policy files (TOML, JSON, Android XML), as text and as raw bytes on disk.

Only the documented errors may escape: InvalidPinError (and its
PinConfigError) for malformed input, ValueError for a non-bool flag,
OSError for an unreadable file. See helpers/fuzz.py for PINWS_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import pinws
from helpers.fuzz import attempt, damaged, fuzz
from pinws import InvalidPinError, Pin, PinConfigError, PinPolicy, PinSet
from test_pinset import spellings

digests = st.binary(min_size=32, max_size=32)
b64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
pin_like_chars = st.sampled_from(b64_alphabet + "0123456789abcdefABCDEF:/-_ \"'=\t\n")


@st.composite
def mutated_pins(draw: st.DrawFn) -> str:
    """A valid spelling, then cut, padded, or with characters replaced."""
    text = draw(st.sampled_from(spellings(draw(digests))))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        char = draw(pin_like_chars | st.characters())
        if action == "insert":
            text = text[:at] + char + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + 1 :]
        elif action == "replace":
            text = text[:at] + char + text[at + 1 :]
        else:
            text = text[:at]
    return text


pin_texts = mutated_pins() | st.text(pin_like_chars, max_size=80) | st.text(max_size=80)


@fuzz
@given(pin_texts)
def test_a_pin_string_parses_or_raises_invalid_pin_error(text: str) -> None:
    pin, error = attempt(lambda: Pin.parse(text), InvalidPinError)
    if isinstance(error, InvalidPinError):
        assert error.pin == text
        assert str(error)
        return
    # Whatever parsed must be a pin that round-trips through its canonical form.
    assert pin is not None
    assert len(pin.digest) == 32
    assert Pin.parse(str(pin)) == pin


@fuzz
@given(st.lists(pin_texts | st.none() | st.integers() | st.binary(), max_size=4))
def test_a_pin_list_is_a_pin_set_or_invalid_pin_error(values: list[Any]) -> None:
    pin_set, _ = attempt(lambda: PinSet(values), InvalidPinError)
    if pin_set is not None:
        assert 1 <= len(pin_set.pins) <= len(values)


flags = st.booleans() | st.none() | st.integers(0, 1) | st.sampled_from(["false", ""])


@fuzz
@given(flags, flags)
def test_pin_set_flags_are_bools_or_value_error(report_only: Any, backup: Any) -> None:
    pins = [f"sha256/{base64.b64encode(bytes(32)).decode()}", "a" * 64]
    pin_set, error = attempt(
        lambda: PinSet(pins, report_only=report_only, require_backup=backup),
        ValueError,
    )
    both_bools = isinstance(report_only, bool) and isinstance(backup, bool)
    assert (error is None) == both_bools
    if pin_set is not None:
        assert pin_set.report_only is report_only
        assert pin_set.require_backup is backup


host_chars = st.sampled_from("abcxyz019-.*_ßÆ\u3002\uff0e[]:%") | st.characters()


@fuzz
@given(st.dictionaries(st.text(host_chars, max_size=30), st.just(["a" * 64, "b" * 64])))
def test_host_patterns_make_a_policy_or_invalid_pin_error(
    rules: dict[str, list[str]],
) -> None:
    policy, _ = attempt(lambda: PinPolicy(rules, allow_unpinned=True), InvalidPinError)
    if policy is None:
        return
    for pattern in rules:
        # Every accepted pattern's own name (wildcards dropped) is matched.
        host = pattern.strip().removeprefix("**.").removeprefix("*.")
        policy.match(host)


@fuzz
@given(st.text(host_chars, max_size=40))
def test_any_host_name_is_matched_or_refused_cleanly(host: str) -> None:
    policy = PinPolicy({"**.example.com": ["a" * 64, "b" * 64]})
    match, error = attempt(lambda: policy.match(host), pinws.UnpinnedHostError)
    assert (match is None) != (error is None)


# -- files on disk ---------------------------------------------------------------

VALID_TOML = b"""\
version = 1
allow_unpinned = false

[[pin_sets]]
hosts = ["api.example.com", "**.example.net"]
pins = ["sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "%s"]
expires = 2030-06-30
report_only = false
""" % ("b" * 64).encode()
VALID_JSON = json.dumps(
    {
        "pin_sets": [
            {
                "hosts": ["api.example.com"],
                "pins": ["a" * 64, "b" * 64],
                "expires": "2030-06-30",
            }
        ]
    }
).encode()
VALID_NSC = b"""<?xml version="1.0" encoding="utf-8"?>
<network-security-config>
  <domain-config>
    <domain includeSubdomains="true">example.com</domain>
    <pin-set expiration="2030-06-30">
      <pin digest="SHA-256">7HIpactkIAq2Y49orFOOQKurWxmmSFZhBCoQYcRhJ3Y=</pin>
      <pin digest="SHA-256">fwza0LRMXouZHRC8Ei+4PyuldPDcf3UKgO/04cDM1oE</pin>
    </pin-set>
  </domain-config>
</network-security-config>
"""


def load(suffix: str, data: bytes) -> None:
    """Load *data* as a policy file; fail on anything but a documented error."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"pins{suffix}"
        path.write_bytes(data)
        loader = PinPolicy.from_android_nsc if suffix == ".xml" else PinPolicy.from_file
        policy, error = attempt(lambda: loader(path), PinConfigError)
        if isinstance(error, PinConfigError):
            assert error.source == str(path)
            assert error.problem
        else:
            assert isinstance(policy, PinPolicy)


@fuzz
@given(st.binary(max_size=300) | damaged([VALID_TOML]))
def test_a_toml_file_of_any_bytes_loads_or_raises_pin_config_error(data: bytes) -> None:
    load(".toml", data)


@fuzz
@given(st.binary(max_size=300) | damaged([VALID_JSON]))
def test_a_json_file_of_any_bytes_loads_or_raises_pin_config_error(data: bytes) -> None:
    load(".json", data)


@fuzz
@given(st.binary(max_size=300) | damaged([VALID_NSC]))
def test_an_android_file_of_any_bytes_loads_or_raises_pin_config_error(
    data: bytes,
) -> None:
    load(".xml", data)


def test_the_valid_files_load() -> None:
    # The mutations start from files that really are valid.
    for suffix, data in ((".toml", VALID_TOML), (".json", VALID_JSON)):
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / f"pins{suffix}"
            path.write_bytes(data)
            assert PinPolicy.from_file(path).match("api.example.com") is not None
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "nsc.xml"
        path.write_bytes(VALID_NSC)
        assert PinPolicy.from_android_nsc(path).match("a.example.com") is not None
