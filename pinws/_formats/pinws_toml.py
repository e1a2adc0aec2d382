"""The pinws schema in TOML: read (with tomllib) and written."""

from __future__ import annotations

import sys

from .._errors import PinConfigError
from .._pins.policy import PinPolicy
from .common import STRING_SOURCE
from .schema import SCHEMA_VERSION, policy_entries, policy_from_mapping

__all__ = ["dump_toml", "parse_policy_toml"]


def parse_policy_toml(text: str, source: str = STRING_SOURCE) -> PinPolicy:
    """Build a policy from TOML text in the pinws schema.

    Raises:
        PinConfigError: the text is not TOML or does not follow the schema.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python < 3.11 only
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PinConfigError(source, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise PinConfigError(source, "", "not valid TOML: nested too deeply") from None
    return policy_from_mapping(data, source)


def dump_toml(policy: PinPolicy) -> str:
    """*policy* as TOML text in the pinws schema.

    Raises:
        ValueError: the policy has no host patterns (one pin set for all).
    """
    entries = policy_entries(policy)
    lines = [
        "# pinws pin policy: load it with pinws.PinPolicy.from_file()",
        f"version = {SCHEMA_VERSION}",
        f"allow_unpinned = {_toml_bool(policy.allow_unpinned)}",
    ]
    for entry in entries:
        lines += ["", "[[pin_sets]]"]
        lines.append("hosts = [" + ", ".join(map(_toml_string, entry["hosts"])) + "]")
        lines.append("pins = [")
        lines.extend(f"    {_toml_string(pin)}," for pin in entry["pins"])
        lines.append("]")
        if "expires" in entry:
            lines.append(f"expires = {entry['expires'].isoformat()}")
        for flag in ("report_only", "require_backup"):
            if flag in entry:
                lines.append(f"{flag} = true")
    return "\n".join(lines) + "\n"


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _toml_string(text: str) -> str:
    out = []
    for char in text:
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
