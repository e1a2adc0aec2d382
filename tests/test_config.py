"""Policy files: TOML, JSON and Android's network_security_config.xml.

Every format round-trips, and every malformed file is rejected with the file,
the key and the problem named.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Callable
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pinws
from pinws import PinConfigError, PinPolicy, PinSet
from pinws._formats.android import parse_android_nsc
from pinws._formats.pinws_json import parse_policy_json
from pinws._formats.pinws_toml import parse_policy_toml
from pinws._formats.schema import policy_from_mapping
from pinws._pins.policy import HostPattern


def digest_of(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()


def pin_of(seed: str) -> str:
    return "sha256/" + base64.b64encode(digest_of(seed)).decode()


def b64_of(seed: str) -> str:
    return base64.b64encode(digest_of(seed)).decode()


A, B, C, D = (pin_of(s) for s in "abcd")

TOML = f"""
# The API's current key and a backup kept offline.
version = 1
allow_unpinned = false

[[pin_sets]]
hosts = ["api.example.com", "**.example.net"]
pins = ["{A}", "{B}"]
expires = 2027-06-30

[[pin_sets]]
hosts = ["*.cdn.example.com"]
pins = ["{C}", "{D}"]
report_only = true
require_backup = true
"""

JSON = json.dumps(
    {
        "version": 1,
        "allow_unpinned": False,
        "pin_sets": [
            {
                "hosts": ["api.example.com", "**.example.net"],
                "pins": [A, B],
                "expires": "2027-06-30",
            },
            {
                "hosts": ["*.cdn.example.com"],
                "pins": [C, D],
                "report_only": True,
                "require_backup": True,
            },
        ],
    }
)


def expected_policy() -> PinPolicy:
    api = PinSet([A, B], expires=datetime.date(2027, 6, 30))
    cdn = PinSet([C, D], report_only=True, require_backup=True)
    return PinPolicy(
        {"api.example.com": api, "**.example.net": api, "*.cdn.example.com": cdn}
    )


# -- reading -----------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "text"), [(".toml", TOML), (".json", JSON)])
def test_documented_example_loads(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"pins{suffix}"
    path.write_text(text, encoding="utf-8")
    policy = PinPolicy.from_file(path)
    assert policy == expected_policy()
    assert not policy.allow_unpinned
    # Hosts of one entry share one pin set (one expiry warning for them all).
    assert policy.pin_set_for("api.example.com") is policy.pin_set_for("x.example.net")
    api = policy.pin_set_for("example.net")
    assert api is not None
    assert api.expires == datetime.date(2027, 6, 30)
    cdn = policy.pin_set_for("img.cdn.example.com")
    assert cdn is not None
    assert cdn.report_only
    assert cdn.require_backup
    with pytest.raises(pinws.UnpinnedHostError):
        policy.match("cdn.example.com")
    assert PinPolicy.from_file(str(path)) == policy


def test_allow_unpinned_from_a_file() -> None:
    policy = parse_policy_toml("allow_unpinned = true\n")
    assert policy.allow_unpinned
    assert policy.match("anything.example") is None
    both = parse_policy_json(
        json.dumps(
            {
                "allow_unpinned": True,
                "pin_sets": [{"hosts": ["a.example"], "pins": [A]}],
            }
        )
    )
    assert both.match("b.example") is None
    assert both.match("a.example") is not None


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "pins.json"
    path.write_bytes(b"\xef\xbb\xbf" + JSON.encode())
    assert PinPolicy.from_file(path) == expected_policy()


# -- malformed TOML and JSON -------------------------------------------------

ENTRY = {"hosts": ["api.example.com"], "pins": [A, B]}


def with_entry(**changes: Any) -> dict[str, Any]:
    entry = dict(ENTRY)
    for key, value in changes.items():
        if value is ...:
            del entry[key]
        else:
            entry[key] = value
    return {"pin_sets": [entry]}


MALFORMED: list[tuple[object, str, str]] = [
    ([], "", "must hold a table of keys, not a list"),
    ({"version": 2, **with_entry()}, "version", "unsupported schema version 2"),
    ({"version": True, **with_entry()}, "version", "unsupported schema version True"),
    ({"allow_unpined": True}, "allow_unpined", "did you mean 'allow_unpinned'?"),
    ({"pins": [A]}, "pins", "belongs inside a pin set"),
    ({"pin_set": []}, "pin_set", "unknown key; did you mean 'pin_sets'? the keys"),
    ({}, "pin_sets", "no pin sets: add at least one [[pin_sets]] entry"),
    ({"pin_sets": {"hosts": []}}, "pin_sets", "must be an array of tables"),
    ({"allow_unpinned": "no", **with_entry()}, "allow_unpinned", "true or false"),
    ({"pin_sets": ["api.example.com"]}, "pin_sets[0]", "must be a table, not a string"),
    (with_entry(hosts=...), "pin_sets[0].hosts", "missing; every pin set needs hosts"),
    (with_entry(pins=...), "pin_sets[0].pins", "missing; every pin set needs pins"),
    (with_entry(host=["x"]), "pin_sets[0].host", "did you mean 'hosts'?"),
    (
        with_entry(reportOnly=True),
        "pin_sets[0].reportOnly",
        "did you mean 'report_only'",
    ),
    (with_entry(expiry="2027-01-01"), "pin_sets[0].expiry", "did you mean 'expires'?"),
    (
        with_entry(hosts="api.example.com"),
        "pin_sets[0].hosts",
        "must be a list of host",
    ),
    (with_entry(hosts=[]), "pin_sets[0].hosts", "is empty"),
    (with_entry(hosts=["ok.example", 7]), "pin_sets[0].hosts[1]", "must be a string"),
    (
        with_entry(hosts=["ok.example", "*.*.example"]),
        "pin_sets[0].hosts[1]",
        "bad host pattern '*.*.example': a wildcard may only be",
    ),
    (with_entry(pins=A), "pin_sets[0].pins", "must be a list of pins"),
    (with_entry(pins=[]), "pin_sets[0].pins", "is empty"),
    (
        with_entry(pins=[A, "sha1/" + "A" * 27 + "="]),
        "pin_sets[0].pins[1]",
        "SHA1 pins are not supported",
    ),
    (
        with_entry(pins=[A, "sha256/abc="]),
        "pin_sets[0].pins[1]",
        "'sha256/abc=': the base64 digest has 4 characters",
    ),
    (
        with_entry(pins=[A], require_backup=True),
        "pin_sets[0].pins",
        "single pin and no backup",
    ),
    (with_entry(expires="next year"), "pin_sets[0].expires", "write it as YYYY-MM-DD"),
    (with_entry(expires="2027-02-30"), "pin_sets[0].expires", "day is out of range"),
    (with_entry(expires=20270630), "pin_sets[0].expires", "not a number 20270630"),
    (with_entry(report_only="yes"), "pin_sets[0].report_only", "true or false"),
    (with_entry(require_backup=1), "pin_sets[0].require_backup", "true or false"),
    (
        {"pin_sets": [ENTRY, {"hosts": ["API.example.com."], "pins": [C, D]}]},
        "pin_sets[1].hosts[0]",
        "'API.example.com.' is already given at pin_sets[0].hosts[0]",
    ),
]


@pytest.mark.parametrize(("document", "key", "problem"), MALFORMED)
def test_malformed_json_names_the_key_and_the_problem(
    tmp_path: Path, document: object, key: str, problem: str
) -> None:
    path = tmp_path / "pins.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(PinConfigError) as info:
        PinPolicy.from_file(path)
    error = info.value
    assert error.source == str(path)
    assert error.key == key
    assert problem in error.problem
    where = f"{path}: {key}: " if key else f"{path}: "
    assert str(error).startswith(where)
    assert isinstance(error, pinws.InvalidPinError)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("pin_sets = [", "", "not valid TOML"),
        (
            f'[[pin_sets]]\nhosts = ["a.example"]\npins = ["{A}", "{B}"]\n'
            "expires = 2027-06-30T12:00:00Z\n",
            "pin_sets[0].expires",
            "is a date and time; give a plain date",
        ),
        (
            f'[[pin_sets]]\nhosts = ["a.example"]\npins = ["{A}", "{B}"]\n'
            "expires = 12:00:00\n",
            "pin_sets[0].expires",
            "must be a date (YYYY-MM-DD), not a time",
        ),
        (
            f'[pin_sets]\nhosts = ["a.example"]\npins = ["{A}"]\n',
            "pin_sets",
            "must be an array of tables ([[pin_sets]] in TOML",
        ),
        (
            f'[[pin_sets]]\nhosts = ["a.example"]\npins = ["{A}", "{B}"]\n'
            "[[pin_sets]]\nhosts = ['**.A.example']\npins = ['{C}']\nextra = 1\n",
            "pin_sets[1].extra",
            "unknown key",
        ),
    ],
)
def test_malformed_toml_names_the_key_and_the_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = tmp_path / "pins.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PinConfigError) as info:
        PinPolicy.from_file(path)
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(path) in str(info.value)


def test_toml_dates_may_also_be_strings() -> None:
    text = f'[[pin_sets]]\nhosts = ["a.example"]\npins = ["{A}", "{B}"]\n'
    policy = parse_policy_toml(text + 'expires = "2027-06-30"\n')
    found = policy.pin_set_for("a.example")
    assert found is not None
    assert found.expires == datetime.date(2027, 6, 30)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '{"pin_sets": []',
            "not valid JSON: Expecting ',' delimiter (line 1, column 16)",
        ),
        ('{"version": 1, "version": 1}', "the key 'version' appears twice"),
        ('{"version": NaN}', "not valid JSON: NaN is not a JSON number"),
        ('{"version": -Infinity}', "-Infinity is not a JSON number"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_malformed_json_text(text: str, problem: str) -> None:
    with pytest.raises(PinConfigError) as info:
        parse_policy_json(text, "pins.json")
    assert problem in str(info.value)
    assert str(info.value).startswith("pins.json: ")


def test_file_type_and_encoding_errors(tmp_path: Path) -> None:
    yaml = tmp_path / "pins.yaml"
    yaml.write_text("pins: []")
    with pytest.raises(PinConfigError, match=r"unknown file type '\.yaml'"):
        PinPolicy.from_file(yaml)
    xml = tmp_path / "network_security_config.xml"
    xml.write_text("<network-security-config/>")
    with pytest.raises(PinConfigError, match="from_android_nsc"):
        PinPolicy.from_file(xml)
    latin = tmp_path / "pins.toml"
    latin.write_bytes("# caf\xe9\n".encode("latin-1"))
    with pytest.raises(PinConfigError, match=r"not UTF-8 text \(byte 5\)"):
        PinPolicy.from_file(latin)
    with pytest.raises(FileNotFoundError):
        PinPolicy.from_file(tmp_path / "missing.toml")


# -- Android network security config -----------------------------------------

NSC = f"""<?xml version="1.0" encoding="utf-8"?>
<network-security-config xmlns:tools="http://schemas.android.com/tools">
    <base-config cleartextTrafficPermitted="false">
        <trust-anchors><certificates src="system" /></trust-anchors>
    </base-config>
    <domain-config>
        <domain includeSubdomains="true">Example.com</domain>
        <domain tools:ignore="x">api.example.org</domain>
        <pin-set expiration="2027-07-01">
            <!-- the current key, and a backup kept offline -->
            <pin digest="SHA-256">{b64_of("a")}</pin>
            <pin digest="SHA-256">
                {b64_of("b")}
            </pin>
        </pin-set>
        <domain-config>
            <domain>legacy.example.com</domain>
        </domain-config>
        <domain-config>
            <domain includeSubdomains="true">new.example.com</domain>
            <pin-set>
                <pin digest="SHA-256">{b64_of("c")}</pin>
                <pin digest="SHA-256">{b64_of("d")}</pin>
            </pin-set>
        </domain-config>
    </domain-config>
    <domain-config cleartextTrafficPermitted="true">
        <domain>unpinned.example.net</domain>
    </domain-config>
    <debug-overrides>
        <trust-anchors><certificates src="user" /></trust-anchors>
    </debug-overrides>
</network-security-config>
"""


def test_android_nsc_maps_domain_configs_to_rules(tmp_path: Path) -> None:
    path = tmp_path / "network_security_config.xml"
    path.write_text(NSC, encoding="utf-8")
    policy = PinPolicy.from_android_nsc(path)
    # Android stops enforcing pins on the expiration day: the last enforced
    # day is the one before.
    current = PinSet([A, B], expires=datetime.date(2027, 6, 30))
    assert policy == PinPolicy(
        {
            "**.example.com": current,
            "api.example.org": current,
            "legacy.example.com": current,  # inherits the enclosing pin-set
            "**.new.example.com": PinSet([C, D]),
        }
    )
    assert policy.pin_set_for("x.y.example.com") == current
    assert policy.pin_set_for("v2.new.example.com") == PinSet([C, D])
    # Domains without a pin-set, like hosts the file does not name, follow
    # allow_unpinned.
    with pytest.raises(pinws.UnpinnedHostError):
        policy.match("unpinned.example.net")
    open_policy = PinPolicy.from_android_nsc(path, allow_unpinned=True)
    assert open_policy.match("unpinned.example.net") is None
    assert open_policy.match("elsewhere.example") is None


def test_android_reads_pins_without_base64_padding_as_android_does(
    tmp_path: Path,
) -> None:
    # Real apps (ProtonVPN's config, httptoolkit's demo) ship <pin>s whose
    # base64 lacks its "=": Android enforces them, so pinws must read them.
    unpadded_a, unpadded_b = b64_of("a").rstrip("="), b64_of("b").rstrip("=")
    assert len(unpadded_a) == 43
    path = tmp_path / "network_security_config.xml"
    path.write_text(
        domain_config(
            "<pin-set>"
            f'<pin digest="SHA-256">{unpadded_a}</pin>'
            f'<pin digest="SHA-256">\n  {unpadded_b}\n</pin>'
            "</pin-set>"
        )
    )
    policy = PinPolicy.from_android_nsc(path)
    assert policy.pin_set_for("a.example") == PinSet([A, B])


@pytest.mark.parametrize("length", [42, 41, 45])
def test_android_still_refuses_other_base64_lengths(length: int) -> None:
    text = (b64_of("a").rstrip("=") + "AAAA")[:length]
    with pytest.raises(PinConfigError, match=r"pin\[1\]"):
        parse_android_nsc(
            domain_config(f'<pin-set><pin digest="SHA-256">{text}</pin></pin-set>')
        )


def test_unpadded_base64_is_android_only(tmp_path: Path) -> None:
    unpadded = "sha256/" + b64_of("a").rstrip("=")
    with pytest.raises(pinws.InvalidPinError, match="44"):
        pinws.Pin.parse(unpadded)
    with pytest.raises(pinws.InvalidPinError):
        PinSet([unpadded, B])
    toml = tmp_path / "pins.toml"
    toml.write_text(
        f'[[pin_sets]]\nhosts = ["a.example"]\npins = ["{unpadded}", "{B}"]\n'
    )
    with pytest.raises(PinConfigError, match="pins"):
        PinPolicy.from_file(toml)


def nsc(body: str) -> str:
    return f"<network-security-config>{body}</network-security-config>"


def domain_config(inner: str, domain: str = "<domain>a.example</domain>") -> str:
    return nsc(f"<domain-config>{domain}{inner}</domain-config>")


GOOD_PINS = (
    f'<pin digest="SHA-256">{b64_of("a")}</pin>'
    f'<pin digest="SHA-256">{b64_of("b")}</pin>'
)

MALFORMED_NSC: list[tuple[str, str, str]] = [
    ("<network-security-config>", "", "not well-formed XML (line 1, column 25)"),
    (
        '<?xml version="1.0" encoding="ttf-8"?><network-security-config/>',
        "",
        "names an unknown encoding",
    ),
    ("<config/>", "config", "the root element must be <network-security-config>"),
    (
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><network-security-config/>',
        "",
        "refusing XML with a DTD",
    ),
    (nsc(""), "", "no <domain-config> has a <pin-set>"),
    (
        nsc(f"<base-config><pin-set>{GOOD_PINS}</pin-set></base-config>"),
        "base-config[1]/pin-set",
        "does not allow a <pin-set> in <base-config>",
    ),
    (
        nsc(f"<domain-config><pin-set>{GOOD_PINS}</pin-set></domain-config>"),
        "domain-config[1]",
        "needs at least one <domain>",
    ),
    (
        domain_config(
            f"<pin-set>{GOOD_PINS}</pin-set>",
            '<domain includeSubDomains="true">a.example</domain>',
        ),
        "domain-config[1]/domain[1]",
        "unknown attribute 'includeSubDomains'; did you mean 'includeSubdomains'",
    ),
    (
        domain_config(
            f"<pin-set>{GOOD_PINS}</pin-set>",
            '<domain includeSubdomains="yes">a.example</domain>',
        ),
        "domain-config[1]/domain[1]",
        'includeSubdomains=\'yes\': must be "true" or "false"',
    ),
    (
        domain_config(f"<pin-set>{GOOD_PINS}</pin-set>", "<domain> </domain>"),
        "domain-config[1]/domain[1]",
        "the <domain> is empty",
    ),
    (
        domain_config(
            f"<pin-set>{GOOD_PINS}</pin-set>", "<domain>*.a.example</domain>"
        ),
        "domain-config[1]/domain[1]",
        "takes no wildcard; write the name and includeSubdomains",
    ),
    (
        domain_config(f"<pin-set>{GOOD_PINS}</pin-set>", "<domain>a..example</domain>"),
        "domain-config[1]/domain[1]",
        "bad host pattern 'a..example': 'a..example' has an empty label",
    ),
    (
        domain_config(
            f"<pin-set>{GOOD_PINS}</pin-set>",
            "<domain>a.example</domain>"
            "<domain includeSubdomains='true'>A.example</domain>",
        ),
        "domain-config[1]/domain[2]",
        "'a.example' is already given at domain-config[1]/domain[1]",
    ),
    (
        domain_config(f"<pin-set>{GOOD_PINS}</pin-set><pin-set>{GOOD_PINS}</pin-set>"),
        "domain-config[1]/pin-set[2]",
        "may hold one <pin-set>",
    ),
    (
        domain_config("<pin-set></pin-set>"),
        "domain-config[1]/pin-set",
        "the <pin-set> has no <pin>",
    ),
    (
        domain_config(f'<pin-set expires="2030-01-01">{GOOD_PINS}</pin-set>'),
        "domain-config[1]/pin-set",
        "unknown attribute 'expires'",
    ),
    (
        domain_config(f'<pin-set expiration="01/02/2030">{GOOD_PINS}</pin-set>'),
        "domain-config[1]/pin-set@expiration",
        "'01/02/2030' is not a date in yyyy-MM-dd form",
    ),
    (
        domain_config(f'<pin-set expiration="2030-02-30">{GOOD_PINS}</pin-set>'),
        "domain-config[1]/pin-set@expiration",
        "day is out of range",
    ),
    (
        domain_config(f"<pin-set>{GOOD_PINS}<pins/></pin-set>"),
        "domain-config[1]/pin-set/pins[3]",
        "unexpected <pins> in <pin-set>",
    ),
    (
        domain_config(f"<pin-set><pin>{b64_of('a')}</pin></pin-set>"),
        "domain-config[1]/pin-set/pin[1]",
        'needs digest="SHA-256"',
    ),
    (
        domain_config(f'<pin-set><pin digest="SHA-1">{b64_of("a")}</pin></pin-set>'),
        "domain-config[1]/pin-set/pin[1]@digest",
        "digest='SHA-1' is not supported",
    ),
    (
        domain_config(
            f'<pin-set>{GOOD_PINS}<pin digest="SHA-256">abcd</pin></pin-set>'
        ),
        "domain-config[1]/pin-set/pin[3]",
        "'abcd': the base64 digest has 4 characters",
    ),
    (
        domain_config(
            f'<pin-set>{GOOD_PINS}<pin digest="SHA-256">{"!" * 43}=</pin></pin-set>'
        ),
        "domain-config[1]/pin-set/pin[3]",
        "not valid base64",
    ),
]


@pytest.mark.parametrize(("text", "key", "problem"), MALFORMED_NSC)
def test_malformed_android_nsc_names_the_element_and_the_problem(
    tmp_path: Path, text: str, key: str, problem: str
) -> None:
    path = tmp_path / "network_security_config.xml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PinConfigError) as info:
        PinPolicy.from_android_nsc(path)
    assert info.value.key == key
    assert problem in info.value.problem
    assert str(info.value).startswith(f"{path}: ")


def test_billion_laughs_is_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        "<network-security-config>&lol2;</network-security-config>"
    )
    with pytest.raises(PinConfigError, match="refusing XML with a DTD"):
        parse_android_nsc(bomb)


def test_android_options_pinws_does_not_follow_are_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = domain_config(
        f"<pin-set>{GOOD_PINS}</pin-set><trust-anchors>"
        '<certificates src="@raw/proxy" overridePins="true"/></trust-anchors>',
        "<domain includeSubdomains='true'>a.example</domain>",
    )
    text = text.replace(
        "</network-security-config>",
        "<domain-config><domain>static.a.example</domain></domain-config>"
        "</network-security-config>",
    )
    caplog.clear()
    policy = parse_android_nsc(text, "nsc.xml")
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("overridePins" in m and "debug_ca=" in m for m in messages)
    # Android leaves static.a.example unpinned; pinws pins it by **.a.example
    # and says so.
    assert any("static.a.example" in m and "'**.a.example'" in m for m in messages)
    assert policy.pin_set_for("static.a.example") == PinSet([A, B])


# -- writing and round trips -------------------------------------------------


def test_every_format_round_trips_the_example(tmp_path: Path) -> None:
    policy = expected_policy()
    toml_path = tmp_path / "pins.toml"
    toml_path.write_text(policy.to_toml(), encoding="utf-8")
    json_path = tmp_path / "pins.json"
    json_path.write_text(policy.to_json(), encoding="utf-8")
    assert PinPolicy.from_file(toml_path) == policy
    assert PinPolicy.from_file(json_path) == policy
    # And file -> policy -> file is stable.
    assert PinPolicy.from_file(toml_path).to_toml() == policy.to_toml()
    assert json.loads(policy.to_json())["pin_sets"][0]["expires"] == "2027-06-30"


def test_android_round_trip_and_its_limits(tmp_path: Path) -> None:
    api = PinSet([A, B], expires=datetime.date(2027, 6, 30))
    policy = PinPolicy(
        {"api.example.com": api, "**.example.net": api, "bücher.example": [C, D]}
    )
    text = policy.to_android_nsc()
    assert 'expiration="2027-07-01"' in text
    assert '<domain includeSubdomains="true">example.net</domain>' in text
    assert "<domain>xn--bcher-kva.example</domain>" in text
    path = tmp_path / "network_security_config.xml"
    path.write_text(text, encoding="utf-8")
    assert PinPolicy.from_android_nsc(path) == policy
    assert PinPolicy.from_android_nsc(path).to_android_nsc() == text
    with pytest.raises(ValueError, match=r"use '\*\*\.example\.com' instead"):
        PinPolicy({"*.example.com": [A, B]}).to_android_nsc()
    with pytest.raises(ValueError, match="report-only"):
        PinPolicy({"a.example": PinSet([A, B], report_only=True)}).to_android_nsc()
    everywhere = pinws.PinPolicy.for_all_hosts(PinSet([A, B]))
    for dump in (everywhere.to_toml, everywhere.to_json, everywhere.to_android_nsc):
        with pytest.raises(ValueError, match="every host"):
            dump()


def test_strings_that_need_escaping_round_trip_in_toml() -> None:
    # A pattern is stored as written (stripped); U+3002 is an ideographic
    # full stop that IDNA maps to ".".
    policy = PinPolicy(
        {
            "bücher\u3002example": [A, B],
            "\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.org": [C, D],
        }
    )
    assert parse_policy_toml(policy.to_toml()) == policy
    assert parse_policy_json(policy.to_json()) == policy


# -- properties --------------------------------------------------------------


def attempt(
    parse: Callable[..., PinPolicy], *args: Any, **kwargs: Any
) -> tuple[PinPolicy | None, PinConfigError | None]:
    """Run a parser; return its policy or the PinConfigError it raised.

    Anything else it raises propagates and fails the test.
    """
    try:
        return parse(*args, **kwargs), None
    except PinConfigError as exc:
        return None, exc


label = st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True) | st.sampled_from(
    ["bücher", "café", "xn--bcher-kva", "ÆRØ", "a_b"]
)
dns_name = st.lists(label, min_size=1, max_size=3).map(
    lambda ls: ".".join([*ls, "example"])
)
ip = st.ip_addresses().map(str)
host_text = st.one_of(
    dns_name,
    dns_name.map(lambda n: "*." + n),
    dns_name.map(lambda n: "**." + n),
    ip,
)
pin_text = st.binary(min_size=32, max_size=32).map(
    lambda d: "sha256/" + base64.b64encode(d).decode()
)
day = st.dates(datetime.date(2000, 1, 1), datetime.date(2100, 12, 31))


def _valid_pattern(text: str) -> bool:
    try:
        HostPattern(text)
    except pinws.InvalidPinError:
        return False
    return True


@st.composite
def policies(draw: st.DrawFn, android: bool = False) -> PinPolicy:
    hosts = host_text.filter(_valid_pattern)
    if android:
        hosts = hosts.filter(lambda t: not t.startswith("*."))
    everything = draw(
        st.lists(hosts, min_size=1, max_size=6, unique_by=lambda t: HostPattern(t).base)
    )
    groups = draw(st.integers(min_value=1, max_value=len(everything)))
    rules: dict[str, PinSet] = {}
    for index in range(groups):
        members = everything[index::groups]
        pins = draw(st.lists(pin_text, min_size=1, max_size=3, unique=True))
        pin_set = PinSet(
            pins,
            expires=draw(st.none() | day),
            report_only=False if android else draw(st.booleans()),
            require_backup=False if android else len(pins) > 1 and draw(st.booleans()),
        )
        for member in members:
            rules[member] = pin_set
    return PinPolicy(rules, allow_unpinned=draw(st.booleans()))


# Parsing is fast, but CI machines are not always: no per-example deadline.
quiet = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


@quiet
@given(policies())
def test_any_policy_round_trips_through_toml_and_json(policy: PinPolicy) -> None:
    assert parse_policy_toml(policy.to_toml()) == policy
    assert parse_policy_json(policy.to_json()) == policy
    again = parse_policy_toml(policy.to_toml())
    assert again.groups()
    assert [h for h, _ in again.groups()] == [h for h, _ in policy.groups()]


@quiet
@given(policies(android=True))
def test_any_android_expressible_policy_round_trips(policy: PinPolicy) -> None:
    text = policy.to_android_nsc()
    assert parse_android_nsc(text, allow_unpinned=policy.allow_unpinned) == policy


@given(st.text(max_size=200))
def test_any_text_is_a_policy_or_a_config_error(text: str) -> None:
    for parse in (parse_policy_toml, parse_policy_json, parse_android_nsc):
        result, error = attempt(parse, text)
        if error is not None:
            assert str(error).startswith("<string>: ")
        else:
            assert isinstance(result, PinPolicy)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has neither
    st.text(max_size=10),
    st.sampled_from(["api.example.com", "**.example.com", A, "2027-06-30", "1"]),
    day,
    pin_text,
)
keys = st.sampled_from(
    [
        "version",
        "allow_unpinned",
        "pin_sets",
        "hosts",
        "pins",
        "expires",
        "report_only",
        "require_backup",
        "extra",
    ]
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5)
    ),
    max_leaves=25,
)


@quiet
@given(st.dictionaries(keys, values, max_size=5))
def test_any_document_is_a_policy_or_a_config_error(document: dict[str, Any]) -> None:
    result, error = attempt(policy_from_mapping, document, "fuzz.toml")
    if error is not None:
        assert error.source == "fuzz.toml"
        assert error.problem
        key_path = r"^[a-z_]*(\[\d+\])?(\.[a-z_]+(\[\d+\])?)*$"
        assert re.match(key_path, error.key), error.key
    else:
        assert isinstance(result, PinPolicy)


xml_tags = st.sampled_from(
    [
        "domain-config",
        "domain",
        "pin-set",
        "pin",
        "trust-anchors",
        "certificates",
        "base-config",
        "debug-overrides",
        "other",
    ]
)
xml_attributes = st.dictionaries(
    st.sampled_from(["includeSubdomains", "expiration", "digest", "overridePins", "x"]),
    st.sampled_from(["true", "false", "SHA-256", "2030-01-01", "", "0000-00-00"])
    | st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=5
    ),
    max_size=2,
)
xml_texts = st.none() | st.sampled_from(
    [b64_of("a"), b64_of("b"), "a.example", "Bücher.example", "", "1.2.3.4"]
)


@st.composite
def xml_elements(draw: st.DrawFn, depth: int = 0) -> ElementTree.Element:
    element = ElementTree.Element(draw(xml_tags), draw(xml_attributes))
    element.text = draw(xml_texts)
    if depth < 3:
        for child in draw(st.lists(xml_elements(depth + 1), max_size=3)):
            element.append(child)
    return element


@quiet
@given(st.lists(xml_elements(), max_size=4), st.booleans())
def test_any_nsc_tree_is_a_policy_or_a_config_error(
    children: list[ElementTree.Element], allow_unpinned: bool
) -> None:
    root = ElementTree.Element("network-security-config")
    root.extend(children)
    data = ElementTree.tostring(root)
    result, error = attempt(
        parse_android_nsc, data, "fuzz.xml", allow_unpinned=allow_unpinned
    )
    if error is not None:
        assert error.source == "fuzz.xml"
        assert error.problem
    else:
        assert isinstance(result, PinPolicy)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@quiet
@given(policies(), st.data())
def test_a_valid_document_with_one_thing_broken(policy: PinPolicy, data: Any) -> None:
    document = json.loads(policy.to_json())
    path = data.draw(st.sampled_from(_paths(document)[1:]))
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    touched = str(path[0])
    if action == "replace":
        parent[path[-1]] = data.draw(scalars | st.lists(scalars, max_size=2))
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        extra = data.draw(st.sampled_from(["hosts_", "pin", "Expires", "x"]))
        parent[extra] = 1
        if parent is document:
            touched = extra
    else:
        parent.append(data.draw(scalars))
    try:
        text = json.dumps(document, default=str, allow_nan=False)
    except ValueError:
        # An infinite float is not JSON: a syntax error (the key is the
        # whole document), not the one broken thing this test is about.
        assume(False)
    result, error = attempt(parse_policy_json, text, "mutated.json")
    if error is not None:
        assert error.problem
        # The key names the top-level key under which the document was
        # broken (deeper paths are checked by the table of cases above).
        assert re.split(r"[.\[]", error.key)[0] == touched
    else:
        assert isinstance(result, PinPolicy)
