"""Pin policies in files: TOML, JSON and Android's network security config.

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
counting from 0) and the problem. Android files are read for their
``<domain-config>`` pin sets only; see :func:`parse_android_nsc`.
"""

from __future__ import annotations

import datetime
import difflib
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Optional, Union
from xml.sax.saxutils import escape, quoteattr

from .._errors import InvalidPinError, PinConfigError, UnpinnedHostError
from .._flags import require_bool
from .._log import get_logger
from .pin import Pin
from .pinset import PinSet
from .policy import HostPattern, PinPolicy, PolicyMatch

__all__ = [
    "dump_android_nsc",
    "dump_json",
    "dump_toml",
    "load_android_nsc",
    "load_policy_file",
    "parse_android_nsc",
    "parse_policy_json",
    "parse_policy_toml",
]

logger = get_logger("policy")

SCHEMA_VERSION = 1
_TOP_KEYS = ("version", "allow_unpinned", "pin_sets")
_ENTRY_KEYS = ("hosts", "pins", "expires", "report_only", "require_backup")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STRING = "<string>"

PathArgument = Union[str, "os.PathLike[str]"]


# -- reading TOML and JSON ---------------------------------------------------


def load_policy_file(path: PathArgument) -> PinPolicy:
    """Load a policy from a ``.toml`` or ``.json`` file.

    Raises:
        PinConfigError: the file is malformed, or its suffix is neither.
        OSError: the file cannot be read.
    """
    source = os.fspath(path)
    suffix = os.path.splitext(source)[1].lower()
    if suffix == ".xml":
        raise PinConfigError(
            source,
            "",
            "this looks like an Android network security config; load it "
            "with PinPolicy.from_android_nsc()",
        )
    if suffix not in (".toml", ".json"):
        raise PinConfigError(
            source,
            "",
            f"unknown file type {suffix or '(no suffix)'!r}; a pin policy file "
            "is .toml or .json",
        )
    with open(source, "rb") as handle:
        data = handle.read()
    text = _decode(source, data)
    if suffix == ".toml":
        return parse_policy_toml(text, source)
    return parse_policy_json(text, source)


def _decode(source: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PinConfigError(
            source, "", f"not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from None


def parse_policy_toml(text: str, source: str = _STRING) -> PinPolicy:
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


def parse_policy_json(text: str, source: str = _STRING) -> PinPolicy:
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


def policy_from_mapping(data: object, source: str = _STRING) -> PinPolicy:
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
        if _DATE_RE.match(value):
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


# -- writing TOML and JSON ---------------------------------------------------


def _entries(policy: PinPolicy) -> list[dict[str, Any]]:
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


def dump_json(policy: PinPolicy) -> str:
    """*policy* as JSON text in the pinws schema.

    Raises:
        ValueError: the policy has no host patterns (one pin set for all).
    """
    entries = _entries(policy)
    for entry in entries:
        if "expires" in entry:
            entry["expires"] = entry["expires"].isoformat()
    document = {
        "version": SCHEMA_VERSION,
        "allow_unpinned": policy.allow_unpinned,
        "pin_sets": entries,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def dump_toml(policy: PinPolicy) -> str:
    """*policy* as TOML text in the pinws schema.

    Raises:
        ValueError: the policy has no host patterns (one pin set for all).
    """
    entries = _entries(policy)
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


# -- Android network security config -----------------------------------------

_NSC_ROOT = "network-security-config"
_PIN_SET_ATTRIBUTES = ("expiration",)
_PIN_ATTRIBUTES = ("digest",)
_DOMAIN_ATTRIBUTES = ("includeSubdomains",)
# A SHA-256 digest in base64 without its one "=" of padding.
_UNPADDED_LENGTH = 43


def load_android_nsc(path: PathArgument, *, allow_unpinned: bool = False) -> PinPolicy:
    """Load the pins of an Android ``network_security_config.xml``.

    Raises:
        PinConfigError: the file is malformed; see :func:`parse_android_nsc`.
        OSError: the file cannot be read.
    """
    source = os.fspath(path)
    with open(source, "rb") as handle:
        data = handle.read()
    return parse_android_nsc(data, source, allow_unpinned=allow_unpinned)


def parse_android_nsc(
    data: Union[str, bytes],
    source: str = _STRING,
    *,
    allow_unpinned: bool = False,
) -> PinPolicy:
    """Build a policy from the ``<pin-set>`` entries of an Android NSC file.

    The mapping follows Android's own parser: each ``<domain>`` of a
    ``<domain-config>`` becomes a rule (``**.name`` with
    ``includeSubdomains="true"``), pinned by that ``<domain-config>``'s
    ``<pin-set>`` or, if it has none, by the nearest enclosing one's; a
    domain no ``<pin-set>`` applies to is left to *allow_unpinned*, as are
    hosts the file does not name. Android stops enforcing pins at the start
    of the ``expiration`` day, so ``expires`` is the day before. Trust
    anchors, ``overridePins`` and ``<debug-overrides>`` are not pin policy
    and are ignored (with a warning for ``overridePins``: use ``debug_ca=``).

    Raises:
        PinConfigError: the XML is malformed or unsafe (a DTD or entities),
            or its pin configuration is invalid; the key is the element path.
    """
    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import ParseError, fromstring
    except ImportError:
        raise ImportError(
            "reading an Android network security config needs defusedxml "
            "(XML parsing that refuses DTDs and entities): "
            "pip install 'pinws[android]'"
        ) from None

    allow_unpinned = require_bool(allow_unpinned, "allow_unpinned")
    try:
        root = fromstring(data, forbid_dtd=True)
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise PinConfigError(
            source, "", f"not well-formed XML (line {line}, column {column})"
        ) from None
    except DefusedXmlException as exc:
        raise PinConfigError(
            source,
            "",
            f"refusing XML with a DTD or entity declarations ({exc}); a "
            "network security config needs neither",
        ) from None
    except LookupError as exc:
        # expat looks up the encoding the XML declaration names (found by
        # fuzzing: encoding="ttf-8" escaped as a LookupError).
        raise PinConfigError(
            source, "", f"the XML declaration names an unknown encoding ({exc})"
        ) from None
    if root.tag != _NSC_ROOT:
        raise PinConfigError(
            source,
            str(root.tag),
            f"the root element must be <{_NSC_ROOT}>, not <{root.tag}>",
        )
    reader = _NSCReader(source)
    for child, tag, path in _children(root, ""):
        if tag == "domain-config":
            reader.domain_config(child, path, None)
        elif tag == "base-config":
            if child.find("pin-set") is not None:
                raise PinConfigError(
                    source,
                    f"{path}/pin-set",
                    "Android does not allow a <pin-set> in <base-config>; put "
                    "it in a <domain-config>",
                )
            reader.check_override_pins(child, path)
        elif tag == "debug-overrides":
            logger.debug("%s: <debug-overrides> ignored (debug builds only)", source)
    if not reader.rules and not allow_unpinned:
        raise PinConfigError(
            source,
            "",
            "no <domain-config> has a <pin-set>, so this file pins no host; "
            "add one, or load it with allow_unpinned=True",
        )
    policy = PinPolicy(reader.rules, allow_unpinned=allow_unpinned)
    for name, path in reader.unpinned:
        found = _match_or_none(policy, name)
        if found is not None:
            logger.warning(
                "%s: %s (%s) has no <pin-set>, so Android does not pin it, "
                "but pinws pins it with the broader pattern %r",
                source,
                name,
                path,
                found.pattern,
            )
    return policy


def _match_or_none(policy: PinPolicy, name: str) -> Optional[PolicyMatch]:
    try:
        return policy.match(name)
    except UnpinnedHostError:
        return None


def _tag(element: Any) -> str:
    tag = element.tag
    return tag if isinstance(tag, str) else str(tag)


def _children(element: Any, path: str) -> Iterator[tuple[Any, str, str]]:
    """Each child with its tag and its XPath-like path (``a/b[2]``) for errors."""
    counts: dict[str, int] = {}
    for child in element:
        tag = _tag(child)
        counts[tag] = counts.get(tag, 0) + 1
        prefix = f"{path}/" if path else ""
        yield child, tag, f"{prefix}{tag}[{counts[tag]}]"


def _own_attributes(element: Any) -> dict[str, str]:
    # Namespaced attributes (tools:ignore and the like) belong to Android's
    # build tools, not to the config.
    return {k: v for k, v in element.attrib.items() if not k.startswith("{")}


class _NSCReader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.rules: dict[str, PinSet] = {}
        self.unpinned: list[tuple[str, str]] = []
        self._seen: dict[str, str] = {}

    def _error(self, path: str, problem: str) -> PinConfigError:
        return PinConfigError(self.source, path, problem)

    def _check_attributes(
        self, element: Any, path: str, allowed: Sequence[str]
    ) -> None:
        for name in _own_attributes(element):
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                suggestion = f"; did you mean {hint[0]!r}" if hint else ""
                raise self._error(
                    path,
                    f"unknown attribute {name!r}{suggestion} (allowed: "
                    + (", ".join(allowed) or "none")
                    + ")",
                )

    def domain_config(
        self, element: Any, path: str, inherited: Optional[PinSet]
    ) -> None:
        domains: list[tuple[str, bool, str]] = []
        pin_set: Optional[PinSet] = None
        nested: list[tuple[Any, str]] = []
        for child, tag, child_path in _children(element, path):
            if tag == "domain":
                domains.append(self._domain(child, child_path))
            elif tag == "pin-set":
                if pin_set is not None:
                    raise self._error(
                        child_path,
                        "a <domain-config> may hold one <pin-set>; put every "
                        "pin, backups included, in the same one",
                    )
                pin_set = self._pin_set(child, f"{path}/pin-set")
            elif tag == "domain-config":
                nested.append((child, child_path))
            elif tag == "trust-anchors":
                self.check_override_pins(child, child_path)
        if not domains:
            raise self._error(path, "a <domain-config> needs at least one <domain>")
        effective = pin_set if pin_set is not None else inherited
        for name, include_subdomains, domain_path in domains:
            if effective is None:
                self.unpinned.append((name, domain_path))
                continue
            pattern = f"**.{name}" if include_subdomains else name
            self.rules[pattern] = effective
        for child, child_path in nested:
            self.domain_config(child, child_path, effective)

    def _domain(self, element: Any, path: str) -> tuple[str, bool, str]:
        self._check_attributes(element, path, _DOMAIN_ATTRIBUTES)
        if len(element):
            raise self._error(path, "a <domain> holds only a host name")
        name = (element.text or "").strip().lower()
        if not name:
            raise self._error(path, "the <domain> is empty; give a host name")
        flag = _own_attributes(element).get("includeSubdomains", "false")
        if flag.strip().lower() not in ("true", "false"):
            raise self._error(
                path,
                f'includeSubdomains={flag!r}: must be "true" or "false"',
            )
        include_subdomains = flag.strip().lower() == "true"
        if "*" in name:
            raise self._error(
                path,
                f"{name!r}: a <domain> takes no wildcard; write the name and "
                'includeSubdomains="true"',
            )
        try:
            key = HostPattern(name).base
        except InvalidPinError as exc:
            raise self._error(path, exc.reason) from None
        if key in self._seen:
            # As Android: with or without includeSubdomains, a name that
            # appears twice is ambiguous.
            raise self._error(path, f"{name!r} is already given at {self._seen[key]}")
        self._seen[key] = path
        return name, include_subdomains, path

    def _pin_set(self, element: Any, path: str) -> PinSet:
        self._check_attributes(element, path, _PIN_SET_ATTRIBUTES)
        expires = None
        expiration = _own_attributes(element).get("expiration")
        if expiration is not None:
            expires = self._expiration(expiration.strip(), path)
        pins: list[Pin] = []
        for position, child in enumerate(element, 1):
            tag = _tag(child)
            if tag != "pin":
                raise self._error(
                    f"{path}/{tag}[{position}]",
                    f"unexpected <{tag}> in <pin-set>; it holds <pin> elements only",
                )
            pins.append(self._pin(child, f"{path}/pin[{position}]"))
        if not pins:
            raise self._error(
                path,
                "the <pin-set> has no <pin>; add the pins (and a backup) or "
                "remove the empty <pin-set>",
            )
        try:
            return PinSet(pins, expires=expires)
        except InvalidPinError as exc:
            raise self._error(path, exc.reason) from None

    def _expiration(self, text: str, path: str) -> datetime.date:
        if not _DATE_RE.match(text):
            raise self._error(
                f"{path}@expiration", f"{text!r} is not a date in yyyy-MM-dd form"
            )
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError as exc:
            raise self._error(f"{path}@expiration", f"{text!r}: {exc}") from None
        if day == datetime.date.min:
            raise self._error(f"{path}@expiration", f"{text!r} is too early")
        return day - datetime.timedelta(days=1)

    def _pin(self, element: Any, path: str) -> Pin:
        self._check_attributes(element, path, _PIN_ATTRIBUTES)
        digest = _own_attributes(element).get("digest")
        if digest is None:
            raise self._error(path, 'a <pin> needs digest="SHA-256"')
        if digest != "SHA-256":
            raise self._error(
                f"{path}@digest",
                f"digest={digest!r} is not supported; Android and pinws pin "
                'SHA-256 digests only (digest="SHA-256")',
            )
        if len(element):
            raise self._error(path, "a <pin> holds only the base64 digest")
        text = "".join((element.text or "").split())
        if len(text) == _UNPADDED_LENGTH:
            # Android's Base64 decoder needs no padding, and real apps ship
            # pins without their "=" (ProtonVPN's, httptoolkit's demo);
            # Android enforces them, so pinws must read them the same.
            text += "="
        try:
            return Pin.parse("sha256/" + text)
        except InvalidPinError as exc:
            raise self._error(path, f"{text!r}: {exc.reason}") from None

    def check_override_pins(self, element: Any, path: str) -> None:
        for position, certificates in enumerate(element.iter("certificates"), 1):
            flag = _own_attributes(certificates).get("overridePins", "")
            if flag.strip().lower() == "true":
                logger.warning(
                    '%s: %s/certificates[%d] has overridePins="true"; pinws '
                    "ignores it and enforces pins for every CA (for a "
                    "development proxy, pass debug_ca= explicitly)",
                    self.source,
                    path,
                    position,
                )


def dump_android_nsc(policy: PinPolicy) -> str:
    """*policy* as an Android ``network_security_config.xml``.

    ``require_backup`` is a check made when pins are loaded, not part of
    the pin set, and is not written.

    Raises:
        ValueError: the policy uses what Android cannot express: a ``*.``
            pattern, a report-only pin set, or one pin set for every host.
    """
    if policy.applies_to_every_host:
        raise ValueError(
            "this policy applies one pin set to every host; Android pins "
            "named domains only"
        )
    lines = ['<?xml version="1.0" encoding="utf-8"?>', f"<{_NSC_ROOT}>"]
    for hosts, pin_set in policy.groups():
        if pin_set.report_only:
            raise ValueError(
                f"the pin set for {', '.join(hosts)} is report-only, which "
                "Android's network security config cannot express"
            )
        lines.append("    <domain-config>")
        for text in hosts:
            pattern = HostPattern(text)
            if pattern.kind == HostPattern.ONE_LABEL:
                raise ValueError(
                    f"host pattern {text!r} matches exactly one label below "
                    f"{pattern.base}; Android's includeSubdomains covers "
                    f"every depth: use '**.{pattern.base}' instead"
                )
            attribute = (
                ' includeSubdomains="true"' if pattern.include_subdomains else ""
            )
            lines.append(f"        <domain{attribute}>{escape(pattern.base)}</domain>")
        expiration = ""
        if pin_set.expires is not None:
            expiration = f" expiration={quoteattr(_nsc_expiration(pin_set.expires))}"
        lines.append(f"        <pin-set{expiration}>")
        lines.extend(
            f'            <pin digest="SHA-256">{pin.base64}</pin>'
            for pin in pin_set.pins
        )
        lines.append("        </pin-set>")
        lines.append("    </domain-config>")
    lines.append(f"</{_NSC_ROOT}>")
    return "\n".join(lines) + "\n"


def _nsc_expiration(expires: datetime.date) -> str:
    if expires == datetime.date.max:
        raise ValueError("an expiry of 9999-12-31 cannot be written for Android")
    return (expires + datetime.timedelta(days=1)).isoformat()
