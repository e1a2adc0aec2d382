"""The pinws schema of a pin policy, shared by its TOML and JSON forms.

The TOML schema (JSON has the same structure, with ``expires`` a
``"YYYY-MM-DD"`` string)::

    version = 1                 # optional; the schema version, only 1 exists
    allow_unpinned = false      # optional; hosts no entry covers are refused

    [[pin_sets]]                # one entry per pin set, at least one
    hosts = ["api.example.com", "**.example.net"]   # host patterns, >= 1
    pins = ["sha256/...", "sha256/..."]             # pins, >= 1
    expires = 2027-06-30        # optional; last day (UTC) pins are enforced
    report_only = false         # optional
    require_backup = false      # optional

Every key is checked: an unknown key, a wrong type or a bad value raises
:class:`PinConfigError` naming the file, the key path (``pin_sets[1].pins[0]``,
counting from 0) and the problem.

This module checks decoded data against the schema and turns a policy back
into schema data; ``pinws_toml.py`` and ``pinws_json.py`` hold the syntax.
"""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from .._errors import InvalidPinError, PinConfigError
from .._pins.pin import Pin
from .._pins.pinset import PinSet
from .._pins.policy import HostPattern, PinPolicy
from .common import DATE_RE, STRING_SOURCE

__all__ = ["SCHEMA_VERSION", "policy_entries", "policy_from_mapping"]

SCHEMA_VERSION = 1
_TOP_KEYS = ("version", "allow_unpinned", "pin_sets")
_ENTRY_KEYS = ("hosts", "pins", "expires", "report_only", "require_backup")


# -- reading -------------------------------------------------------------------


def policy_from_mapping(data: object, source: str = STRING_SOURCE) -> PinPolicy:
    """Build a policy from decoded TOML/JSON data in the pinws schema.

    Raises:
        PinConfigError: the data does not follow the schema.
    """
    top = _table(data, source, "", "the file must hold a table of keys")
    for name in top:
        if name in _ENTRY_KEYS:
            raise PinConfigError(
                source,
                str(name),
                "belongs inside a pin set: put hosts, pins and their options "
                "in a [[pin_sets]] entry",
            )
    _check_keys(top, _TOP_KEYS, source, "")
    version = top.get("version", SCHEMA_VERSION)
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        raise PinConfigError(
            source,
            "version",
            f"unsupported schema version {version!r}; this pinws reads "
            f"version = {SCHEMA_VERSION}",
        )
    allow_unpinned = _boolean(top, "allow_unpinned", source, "allow_unpinned")
    entries = top.get("pin_sets", [])
    if not isinstance(entries, list):
        raise PinConfigError(
            source,
            "pin_sets",
            f"must be an array of tables ([[pin_sets]] in TOML, a list of "
            f"objects in JSON), not {_type_name(entries)}",
        )
    if not entries and not allow_unpinned:
        raise PinConfigError(
            source,
            "pin_sets",
            "no pin sets: add at least one [[pin_sets]] entry with hosts and "
            "pins (or set allow_unpinned = true to pin nothing)",
        )
    rules: dict[str, PinSet] = {}
    where: dict[tuple[str, str], str] = {}
    for index, entry in enumerate(entries):
        key = f"pin_sets[{index}]"
        hosts, pin_set = _pin_set_entry(entry, source, key)
        for position, (text, pattern) in enumerate(hosts):
            host_key = f"{key}.hosts[{position}]"
            if pattern.key in where:
                raise PinConfigError(
                    source,
                    host_key,
                    f"host pattern {text!r} is already given at "
                    f"{where[pattern.key]}; a host pattern may appear once",
                )
            where[pattern.key] = host_key
            rules[text] = pin_set
    return PinPolicy(rules, allow_unpinned=allow_unpinned)


def _pin_set_entry(
    entry: object, source: str, key: str
) -> tuple[list[tuple[str, HostPattern]], PinSet]:
    table = _table(entry, source, key, "each pin_sets entry must be a table")
    _check_keys(table, _ENTRY_KEYS, source, key)
    for required in ("hosts", "pins"):
        if required not in table:
            raise PinConfigError(
                source,
                f"{key}.{required}",
                f"missing; every pin set needs {required} = [...]",
            )
    host_texts = _string_list(table["hosts"], source, f"{key}.hosts", "host patterns")
    hosts: list[tuple[str, HostPattern]] = []
    for position, text in enumerate(host_texts):
        try:
            hosts.append((text, HostPattern(text)))
        except InvalidPinError as exc:
            raise PinConfigError(
                source, f"{key}.hosts[{position}]", exc.reason
            ) from None
    pin_texts = _string_list(table["pins"], source, f"{key}.pins", "pins")
    pins = []
    for position, text in enumerate(pin_texts):
        try:
            pins.append(Pin.parse(text))
        except InvalidPinError as exc:
            raise PinConfigError(
                source, f"{key}.pins[{position}]", f"{text!r}: {exc.reason}"
            ) from None
    expires = _date(table, source, key)
    report_only = _boolean(table, "report_only", source, f"{key}.report_only")
    require_backup = _boolean(table, "require_backup", source, f"{key}.require_backup")
    try:
        pin_set = PinSet(
            pins,
            expires=expires,
            report_only=report_only,
            require_backup=require_backup,
        )
    except InvalidPinError as exc:
        raise PinConfigError(source, f"{key}.pins", exc.reason) from None
    return hosts, pin_set


def _table(value: object, source: str, key: str, problem: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PinConfigError(source, key, f"{problem}, not {_type_name(value)}")
    return value


def _check_keys(
    table: Mapping[str, Any], allowed: Sequence[str], source: str, prefix: str
) -> None:
    for name in table:
        if name in allowed:
            continue
        path = f"{prefix}.{name}" if prefix else str(name)
        hint = difflib.get_close_matches(str(name), allowed, n=1)
        suggestion = f"did you mean {hint[0]!r}? " if hint else ""
        raise PinConfigError(
            source,
            path,
            f"unknown key; {suggestion}the keys allowed here are " + ", ".join(allowed),
        )


def _boolean(table: Mapping[str, Any], name: str, source: str, key: str) -> bool:
    value = table.get(name, False)
    if not isinstance(value, bool):
        raise PinConfigError(
            source, key, f"must be true or false, not {_type_name(value)} {value!r}"
        )
    return value


def _string_list(value: object, source: str, key: str, what: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list):
        raise PinConfigError(
            source,
            key,
            f'must be a list of {what} (e.g. ["...", "..."]), not {_type_name(value)}',
        )
    if not value:
        raise PinConfigError(source, key, f"is empty; give at least one of the {what}")
    for position, item in enumerate(value):
        if not isinstance(item, str):
            raise PinConfigError(
                source,
                f"{key}[{position}]",
                f"must be a string, not {_type_name(item)} {item!r}",
            )
    return value


def _date(table: Mapping[str, Any], source: str, key: str) -> Optional[datetime.date]:
    if "expires" not in table:
        return None
    value = table["expires"]
    path = f"{key}.expires"
    if isinstance(value, datetime.datetime):
        raise PinConfigError(
            source,
            path,
            f"{value.isoformat()} is a date and time; give a plain date "
            "(YYYY-MM-DD): pins are enforced through that whole day, UTC",
        )
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        if DATE_RE.match(value):
            try:
                return datetime.date.fromisoformat(value)
            except ValueError as exc:
                raise PinConfigError(source, path, f"{value!r}: {exc}") from None
        raise PinConfigError(
            source, path, f"{value!r} is not a date; write it as YYYY-MM-DD"
        )
    raise PinConfigError(
        source,
        path,
        f"must be a date (YYYY-MM-DD), not {_type_name(value)} {value!r}",
    )


def _type_name(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
        type(None): "null",
    }
    for kind, name in names.items():
        if type(value) is kind:
            return name
    if isinstance(value, datetime.datetime):
        return "a date-time"
    if isinstance(value, datetime.date):
        return "a date"
    if isinstance(value, datetime.time):
        return "a time"
    return type(value).__name__


# -- writing -------------------------------------------------------------------


def policy_entries(policy: PinPolicy) -> list[dict[str, Any]]:
    """*policy*'s ``pin_sets`` entries, ``expires`` still a date.

    Raises:
        ValueError: the policy has no host patterns (one pin set for all).
    """
    if policy.applies_to_every_host:
        raise ValueError(
            "this policy applies one pin set to every host (pins= given as a "
            "list or a PinSet); a policy file maps host patterns to pins -- "
            "build a PinPolicy with host patterns to save it"
        )
    entries = []
    for hosts, pin_set in policy.groups():
        entry: dict[str, Any] = {
            "hosts": list(hosts),
            "pins": [str(pin) for pin in pin_set.pins],
        }
        if pin_set.expires is not None:
            entry["expires"] = pin_set.expires
        if pin_set.report_only:
            entry["report_only"] = True
        if pin_set.require_backup:
            entry["require_backup"] = True
        entries.append(entry)
    return entries
