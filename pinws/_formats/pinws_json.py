"""The pinws schema in JSON: read strictly, and written."""

from __future__ import annotations

import json
from typing import Any

from .._errors import PinConfigError
from .._pins.policy import PinPolicy
from .common import STRING_SOURCE
from .schema import SCHEMA_VERSION, policy_entries, policy_from_mapping

__all__ = ["dump_json", "parse_policy_json"]


def parse_policy_json(text: str, source: str = STRING_SOURCE) -> PinPolicy:
    """Build a policy from JSON text in the pinws schema.

    Raises:
        PinConfigError: the text is not JSON or does not follow the schema.
    """
    try:
        data = json.loads(
            text,
            object_pairs_hook=_reject_duplicate_keys,
            parse_constant=_reject_constant,
        )
    except json.JSONDecodeError as exc:
        raise PinConfigError(
            source,
            "",
            f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
        ) from None
    except _DuplicateKey as exc:
        raise PinConfigError(
            source, "", f"not valid JSON for pinws: the key {exc.key!r} appears twice"
        ) from None
    except _NotANumber as exc:
        raise PinConfigError(
            source, "", f"not valid JSON: {exc.name} is not a JSON number"
        ) from None
    except RecursionError:
        raise PinConfigError(source, "", "not valid JSON: nested too deeply") from None
    return policy_from_mapping(data, source)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


class _NotANumber(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _reject_constant(name: str) -> Any:
    # Python's json reads Infinity and NaN; JSON has neither. (Raised as its
    # own error: a JSONDecodeError here reported a made-up line and column.)
    raise _NotANumber(name)


def dump_json(policy: PinPolicy) -> str:
    """*policy* as JSON text in the pinws schema.

    Raises:
        ValueError: the policy has no host patterns (one pin set for all).
    """
    entries = policy_entries(policy)
    for entry in entries:
        if "expires" in entry:
            entry["expires"] = entry["expires"].isoformat()
    document = {
        "version": SCHEMA_VERSION,
        "allow_unpinned": policy.allow_unpinned,
        "pin_sets": entries,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
