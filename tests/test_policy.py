"""PinPolicy and host patterns as plain values: matching, precedence, errors."""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pinws
from helpers.pki import unrelated_pin
from pinws import InvalidPinError, PinPolicy, PinSet, UnpinnedHostError
from pinws._pins.policy import HostPattern, as_policy


def pin_set() -> PinSet:
    return PinSet([unrelated_pin(), unrelated_pin()])


# -- one pattern -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("example.com", "example.com", True),
        ("example.com", "www.example.com", False),
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "example.com", False),  # not the apex
        ("*.example.com", "a.b.example.com", False),  # not two labels down
        ("*.example.com", "wwwexample.com", False),
        ("**.example.com", "example.com", True),  # the apex too
        ("**.example.com", "www.example.com", True),
        ("**.example.com", "a.b.c.example.com", True),
        ("**.example.com", "badexample.com", False),
        ("**.example.com", "example.com.evil.net", False),
        # Case and a trailing dot, on either side.
        ("Example.COM", "example.com", True),
        ("example.com", "EXAMPLE.com.", True),
        ("*.EXAMPLE.com.", "WWW.example.com", True),
        ("**.example.com", "Example.Com.", True),
        # IDNA: U-labels and A-labels are the same name.
        ("bücher.example", "xn--bcher-kva.example", True),
        ("xn--bcher-kva.example", "BÜCHER.example", True),
        ("*.bücher.example", "café.xn--bcher-kva.example", True),
        ("**.bücher.example", "xn--bcher-kva.example.", True),
        ("*.bücher.example", "a.café.bücher.example", False),
        # IP addresses: exact, in any spelling of the same address.
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", "127.0.0.2", False),
        ("::1", "[::1]", True),
        ("[::1]", "0:0:0:0:0:0:0:1", True),
        ("2001:db8::1", "2001:DB8:0::1", True),
        ("::ffff:127.0.0.1", "127.0.0.1", False),
    ],
)
def test_pattern_matching(pattern: str, host: str, expected: bool) -> None:
    policy = PinPolicy({pattern: pin_set()}, allow_unpinned=True)
    assert (policy.match(host) is not None) is expected


@pytest.mark.parametrize("pattern", ["*.example.com", "**.example.com", "**.com"])
@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "::1"])
def test_no_wildcard_pattern_matches_an_ip_address(pattern: str, host: str) -> None:
    assert not HostPattern(pattern).matches(host)


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("*", "wildcard may only be the whole leftmost label"),
        ("**.", "the host name is empty"),
        ("*.*.example.com", "wildcard may only be the whole leftmost label"),
        ("www.*.example.com", "wildcard may only be the whole leftmost label"),
        ("w*.example.com", "wildcard may only be the whole leftmost label"),
        ("***.example.com", "wildcard may only be the whole leftmost label"),
        ("*.127.0.0.1", "IP addresses take no wildcard"),
        ("**.::1", "IP addresses take no wildcard"),
        ("*.0.0.1", "all-numeric label"),
        ("a..example.com", "empty label"),
        ("exa mple.com", "may hold only letters"),
        ("-bad.example.com", "may not start or end with '-'"),
        ("a" * 64 + ".example.com", "at most 63"),
        (".".join(["abcdefghi"] * 26), "at most 253"),
        ("☃\u0000.example", "not a valid internationalised name"),
    ],
)
def test_malformed_patterns_are_rejected_by_name(pattern: str, fragment: str) -> None:
    with pytest.raises(InvalidPinError) as info:
        PinPolicy({pattern: pin_set()})
    assert str(info.value).startswith(f"bad host pattern {pattern!r}: ")
    assert fragment in str(info.value)


def test_pattern_must_be_a_string() -> None:
    with pytest.raises(InvalidPinError, match="must be a string, not int"):
        PinPolicy({42: pin_set()})  # type: ignore[dict-item]


def test_the_same_pattern_twice_is_an_error() -> None:
    with pytest.raises(InvalidPinError, match=re.escape("as 'api.example.com'; give")):
        PinPolicy({"api.example.com": pin_set(), "API.Example.com.": pin_set()})
    with pytest.raises(InvalidPinError, match="same as"):
        PinPolicy({"bücher.example": pin_set(), "xn--bcher-kva.example": pin_set()})
    # Different kinds over the same name are different patterns.
    PinPolicy(
        {
            "example.com": pin_set(),
            "*.example.com": pin_set(),
            "**.example.com": pin_set(),
        }
    )


# -- precedence --------------------------------------------------------------


def test_most_specific_pattern_wins() -> None:
    exact, one, deep, deeper, broad = (pin_set() for _ in range(5))
    policy = PinPolicy(
        {
            "**.example.com": broad,
            "*.example.com": one,
            "**.api.example.com": deeper,
            "api.example.com": exact,
            "**.eu.api.example.com": deep,
        }
    )
    # Exact name first, whatever the order the rules were given in.
    assert policy.pin_set_for("api.example.com") is exact
    # Then the pattern with the most labels.
    assert policy.pin_set_for("x.eu.api.example.com") is deep
    assert policy.pin_set_for("eu.api.example.com") is deep
    assert policy.pin_set_for("v1.api.example.com") is deeper
    # "*." before "**." at equal length.
    assert policy.pin_set_for("www.example.com") is one
    # "**." alone covers the apex and deeper names.
    assert policy.pin_set_for("example.com") is broad
    assert policy.pin_set_for("a.b.example.com") is broad
    assert policy.rules[0][0] == "api.example.com"


def test_match_names_the_pattern_for_reports() -> None:
    shared = pin_set()
    policy = PinPolicy({"**.Example.com": shared, "api.example.net": pin_set()})
    found = policy.match("a.b.example.com")
    assert found == pinws.PolicyMatch(
        shared,
        pattern="**.Example.com",
        noted_hostname="example.com",
        include_subdomains=True,
    )
    exact = policy.match("API.example.net.")
    assert exact is not None
    assert (exact.noted_hostname, exact.include_subdomains) == (
        "api.example.net",
        False,
    )
    one = PinPolicy({"*.bücher.example": shared}).match("www.xn--bcher-kva.example")
    assert one is not None
    assert one.noted_hostname == "xn--bcher-kva.example"
    assert one.include_subdomains


# -- fail closed -------------------------------------------------------------


def test_policy_fails_closed_for_uncovered_hosts() -> None:
    policy = PinPolicy({"api.example.com": pin_set()})
    with pytest.raises(UnpinnedHostError) as info:
        policy.match("other.example.com")
    assert info.value.hostname == "other.example.com"
    assert "allow_unpinned=True" in str(info.value)
    assert isinstance(info.value, pinws.PinningError)
    with pytest.raises(UnpinnedHostError):
        policy.pin_set_for("not a host name")


def test_allow_unpinned_returns_no_pins_for_uncovered_hosts() -> None:
    policy = PinPolicy({"api.example.com": pin_set()}, allow_unpinned=True)
    assert policy.match("other.example.com") is None
    assert policy.pin_set_for("other.example.com") is None
    assert PinPolicy({}, allow_unpinned=True).match("anything") is None


def test_an_empty_fail_closed_policy_is_an_error() -> None:
    with pytest.raises(InvalidPinError, match="would refuse every connection"):
        PinPolicy({})


def test_rules_must_be_a_mapping() -> None:
    with pytest.raises(InvalidPinError, match="mapping of host pattern"):
        PinPolicy([("example.com", pin_set())])  # type: ignore[arg-type]


def test_bad_pins_in_a_rule_name_the_pattern() -> None:
    with pytest.raises(
        InvalidPinError, match=re.escape("for host pattern 'api.example.com'")
    ):
        PinPolicy({"api.example.com": ["sha1/AAAA"]})


# -- pins= as a list, a PinSet or a policy -----------------------------------


def test_a_list_or_a_pin_set_applies_to_every_host() -> None:
    pins = [unrelated_pin(), unrelated_pin()]
    for argument in (pins, PinSet(pins)):
        policy = as_policy(argument)
        assert policy.applies_to_every_host
        found = policy.match("anything.example")
        assert found is not None
        assert found.pin_set == PinSet(pins)
        assert found.pattern is None
        assert found.noted_hostname is None
        assert policy.match("127.0.0.1") == found
    policy = PinPolicy({"example.com": pins})
    assert as_policy(policy) is policy


@pytest.mark.parametrize(
    ("argument", "fragment"),
    [
        (None, "pins= is required"),
        ({"example.com": ["x"]}, "wrap host -> pins mappings in pinws.PinPolicy"),
        (42, "takes a list of pins"),
        ([], "the pin list is empty"),
    ],
)
def test_bad_pins_argument(argument: object, fragment: str) -> None:
    with pytest.raises(InvalidPinError, match=fragment):
        as_policy(argument)  # type: ignore[arg-type]


def test_policies_compare_by_value() -> None:
    shared = pin_set()
    pins = [str(pin) for pin in shared.pins]
    a = PinPolicy({"api.example.com": shared, "**.example.net": shared})
    b = PinPolicy({"**.EXAMPLE.net.": PinSet(pins), "api.example.com": PinSet(pins)})
    assert a == b
    assert hash(a) == hash(b)
    assert a != PinPolicy({"api.example.com": shared})
    assert a != PinPolicy(
        {"api.example.com": shared, "**.example.net": shared}, allow_unpinned=True
    )
    assert PinPolicy.for_all_hosts(shared) != a
    assert "api.example.com" in repr(a)


def test_groups_keep_shared_pin_sets_together() -> None:
    shared, other = pin_set(), pin_set()
    policy = PinPolicy(
        {"a.example": shared, "b.example": other, "**.c.example": shared}
    )
    assert policy.groups() == (
        (("a.example", "**.c.example"), shared),
        (("b.example",), other),
    )
    assert policy.pin_sets() == (shared, other)


def test_building_a_policy_logs_nothing_for_backed_up_sets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.clear()
    PinPolicy({"api.example.com": [unrelated_pin(), unrelated_pin()]})
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


# -- properties --------------------------------------------------------------

labels = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
names = st.lists(labels, min_size=1, max_size=4).map(".".join)


@given(base=names, prefix=st.lists(labels, max_size=4))
def test_wildcard_depth_rules(base: str, prefix: list[str]) -> None:
    host = ".".join([*prefix, base])
    assert HostPattern("*." + base).matches(host) is (len(prefix) == 1)
    assert HostPattern("**." + base).matches(host) is True
    assert HostPattern(base).matches(host) is (not prefix)


@given(
    base=names,
    prefix=st.lists(labels, max_size=3),
    upper=st.booleans(),
    dot=st.booleans(),
)
def test_case_and_trailing_dot_never_matter(
    base: str, prefix: list[str], upper: bool, dot: bool
) -> None:
    host = ".".join([*prefix, base])
    spelled = (host.upper() if upper else host) + ("." if dot else "")
    for pattern in (base, "*." + base, "**." + base):
        policy = PinPolicy({pattern: pin_set()}, allow_unpinned=True)
        assert (policy.match(spelled) is None) == (policy.match(host) is None)


@given(host=st.text(max_size=40))
def test_any_text_as_a_host_is_refused_or_matched_never_crashes(host: str) -> None:
    policy = PinPolicy({"**.example.com": pin_set()})
    try:
        found = policy.match(host)
    except UnpinnedHostError:
        return
    assert found is not None
    assert found.pattern == "**.example.com"


@given(text=st.text(max_size=30))
def test_any_text_as_a_pattern_is_accepted_or_invalid(text: str) -> None:
    try:
        pattern = HostPattern(text)
    except InvalidPinError as exc:
        message = str(exc)
        assert message.startswith(f"bad host pattern {text!r}: ")
        return
    assert pattern.base == pattern.base.lower()
    assert not pattern.base.endswith(".")
