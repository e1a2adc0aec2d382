"""Android's network security config: its ``<pin-set>`` entries, read and written.

Read with defusedxml (no DTDs, no entities), imported when a file is read so
that ``import pinws`` needs no extra; see :func:`parse_android_nsc`.
"""

from __future__ import annotations

import datetime
import difflib
import os
from collections.abc import Iterator, Sequence
from typing import Any, Optional, Union
from xml.sax.saxutils import escape, quoteattr

from .._errors import InvalidPinError, PinConfigError, UnpinnedHostError
from .._flags import require_bool
from .._log import get_logger
from .._pins.pin import Pin
from .._pins.pinset import PinSet
from .._pins.policy import HostPattern, PinPolicy, PolicyMatch
from .common import DATE_RE, STRING_SOURCE, PathArgument, read_bytes

__all__ = ["dump_android_nsc", "load_android_nsc", "parse_android_nsc"]

logger = get_logger("policy")

_NSC_ROOT = "network-security-config"
_PIN_SET_ATTRIBUTES = ("expiration",)
_PIN_ATTRIBUTES = ("digest",)
_DOMAIN_ATTRIBUTES = ("includeSubdomains",)
# A SHA-256 digest in base64 without its one "=" of padding.
_UNPADDED_LENGTH = 43


def load_android_nsc(path: PathArgument, allow_unpinned: bool = False) -> PinPolicy:
    """Load the pins of an Android ``network_security_config.xml``.

    Raises:
        PinConfigError: the file is malformed; see :func:`parse_android_nsc`.
        OSError: the file cannot be read.
    """
    source = os.fspath(path)
    data = read_bytes(source)
    return parse_android_nsc(data, source, allow_unpinned=allow_unpinned)


def parse_android_nsc(
    data: Union[str, bytes],
    source: str = STRING_SOURCE,
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
        if not DATE_RE.match(text):
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
