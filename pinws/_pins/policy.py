"""PinPolicy: which pin set applies to which host."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Optional, Union

from .._errors import InvalidPinError, UnpinnedHostError
from .hostnames import as_ip_address, normalize_hostname
from .pin import Pin
from .pinset import PinSet, PinsInput

if TYPE_CHECKING:
    import os

__all__ = ["HostPattern", "PinPolicy", "PinsArgument", "as_policy"]


class HostPattern:
    """A host pattern in OkHttp's syntax.

    ``example.com`` matches that name; ``*.example.com`` exactly one label
    below it (not the name itself, not two labels down); ``**.example.com``
    the name itself and any depth below. IP addresses match exactly.
    Matching ignores case and a trailing dot; names are compared as IDNA
    A-labels.

    Raises:
        InvalidPinError: the pattern is malformed.
    """

    __slots__ = ("base", "kind", "text")

    EXACT = "exact"
    ONE_LABEL = "*"
    ANY_DEPTH = "**"

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise InvalidPinError(
                text, f"a host pattern must be a string, not {type(text).__name__}"
            )
        self.text = text
        stripped = text.strip()
        if stripped.startswith("**."):
            self.kind, rest = self.ANY_DEPTH, stripped[3:]
        elif stripped.startswith("*."):
            self.kind, rest = self.ONE_LABEL, stripped[2:]
        else:
            self.kind, rest = self.EXACT, stripped
        if "*" in rest:
            raise InvalidPinError(
                text,
                "bad host pattern: a wildcard may only be the whole leftmost "
                "label, as in '*.example.com' or '**.example.com'",
            )
        try:
            self.base = normalize_hostname(rest)
        except ValueError as exc:
            raise InvalidPinError(text, f"bad host pattern: {exc}") from None
        if self.kind != self.EXACT and as_ip_address(self.base) is not None:
            raise InvalidPinError(
                text, "bad host pattern: IP addresses take no wildcard"
            )

    @property
    def label_count(self) -> int:
        """Labels in the pattern, the wildcard label included."""
        labels = self.base.count(".") + 1
        return labels if self.kind == self.EXACT else labels + 1

    def matches(self, hostname: str) -> bool:
        """Whether the *normalised* host name *hostname* matches."""
        if self.kind == self.EXACT:
            return hostname == self.base
        if self.kind == self.ANY_DEPTH:
            return hostname == self.base or hostname.endswith("." + self.base)
        if not hostname.endswith("." + self.base):
            return False
        label = hostname[: -len(self.base) - 1]
        return bool(label) and "." not in label

    def specificity(self) -> tuple[int, int, int]:
        """Sort key: exact names first, then more labels, then ``*.`` before ``**.``."""
        exact = 1 if self.kind == self.EXACT else 0
        single = 1 if self.kind != self.ANY_DEPTH else 0
        return (exact, self.label_count, single)

    def __repr__(self) -> str:
        return f"HostPattern({self.text!r})"


class PinPolicy:
    """Pins per host: a mapping of host patterns to pin sets.

    Args:
        rules: host pattern -> :class:`PinSet` (or a list of pins, which
            becomes a :class:`PinSet`). Patterns follow OkHttp (see
            :class:`HostPattern`). When several match a host, the most
            specific wins: an exact name, then the pattern with the most
            labels, ``*.`` before ``**.`` at equal length.
        allow_unpinned: connect to hosts no pattern covers, unpinned (CA path
            and host name are still verified). Off by default: a policy fails
            closed.

    Raises:
        InvalidPinError: a pattern or pin set is malformed, or two patterns
            are the same.
    """

    def __init__(
        self,
        rules: Mapping[str, Union[PinSet, PinsInput]],
        *,
        allow_unpinned: bool = False,
    ) -> None:
        if not isinstance(rules, Mapping):
            raise InvalidPinError(
                rules, "a PinPolicy takes a mapping of host pattern -> pins"
            )
        entries: list[tuple[HostPattern, PinSet]] = []
        seen: dict[tuple[str, str], str] = {}
        for text, value in rules.items():
            pattern = HostPattern(text)
            key = (pattern.kind, pattern.base)
            if key in seen:
                raise InvalidPinError(
                    text, f"host pattern is the same as {seen[key]!r}"
                )
            seen[key] = text
            pin_set = value if isinstance(value, PinSet) else PinSet(value)
            entries.append((pattern, pin_set))
        if not entries and not allow_unpinned:
            raise InvalidPinError(
                None,
                "the pin policy has no host patterns and does not allow "
                "unpinned hosts, so it would refuse every connection",
            )
        entries.sort(key=lambda entry: entry[0].specificity(), reverse=True)
        self._entries = tuple(entries)
        self.allow_unpinned = bool(allow_unpinned)
        self._exact = {
            pattern.base: pin_set
            for pattern, pin_set in entries
            if pattern.kind == HostPattern.EXACT
        }

    @classmethod
    def for_all_hosts(cls, pin_set: PinSet) -> PinPolicy:
        """A policy applying one pin set to every host."""
        policy = cls.__new__(cls)
        policy._entries = ()
        policy._exact = {}
        policy.allow_unpinned = False
        policy._everywhere = pin_set
        return policy

    _everywhere: Optional[PinSet] = None

    @property
    def rules(self) -> tuple[tuple[str, PinSet], ...]:
        """The (pattern, pin set) pairs, most specific first."""
        return tuple((pattern.text, pin_set) for pattern, pin_set in self._entries)

    def pin_set_for(self, host: str) -> Optional[PinSet]:
        """The pin set that applies to *host*.

        Returns:
            the most specific matching :class:`PinSet`, or ``None`` if no
            pattern matches and the policy allows unpinned hosts.

        Raises:
            UnpinnedHostError: no pattern matches and unpinned hosts are not
                allowed.
        """
        if self._everywhere is not None:
            return self._everywhere
        try:
            name = normalize_hostname(host)
        except ValueError:
            name = host
        found = self._exact.get(name)
        if found is not None:
            return found
        for pattern, pin_set in self._entries:
            if pattern.matches(name):
                return pin_set
        if self.allow_unpinned:
            return None
        raise UnpinnedHostError(host)

    def pin_sets(self) -> tuple[PinSet, ...]:
        """Every pin set of the policy."""
        if self._everywhere is not None:
            return (self._everywhere,)
        return tuple(pin_set for _, pin_set in self._entries)

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike[str]]) -> PinPolicy:
        """Load a policy from a TOML or JSON file (chosen by its suffix).

        See :doc:`/policy` for the schema.

        Raises:
            InvalidPinError: the file is malformed; the message names the key
                and the problem.
            OSError: the file cannot be read.
        """
        from .config import load_policy_file

        return load_policy_file(path)

    @classmethod
    def from_android_nsc(
        cls,
        path: Union[str, os.PathLike[str]],
        allow_unpinned: bool = False,
    ) -> PinPolicy:
        """Load the ``<pin-set>`` entries of an Android network security config.

        Each ``<domain-config>`` with a ``<pin-set>`` becomes a rule
        (``includeSubdomains="true"`` makes it ``**.domain``; the pin set's
        ``expiration`` becomes ``expires``). Hosts it does not cover follow
        *allow_unpinned*.

        Raises:
            InvalidPinError: the file is malformed or uses an unsupported
                digest.
            OSError: the file cannot be read.
        """
        from .config import load_android_nsc

        return load_android_nsc(path, allow_unpinned=allow_unpinned)

    def __repr__(self) -> str:
        if self._everywhere is not None:
            return f"PinPolicy.for_all_hosts({self._everywhere!r})"
        rules = ", ".join(f"{text!r}: {pin_set!r}" for text, pin_set in self.rules)
        return f"PinPolicy({{{rules}}}, allow_unpinned={self.allow_unpinned})"


PinsArgument = Union[PinPolicy, PinSet, PinsInput]


def as_policy(pins: PinsArgument) -> PinPolicy:
    """Turn the ``pins=`` argument of any entry point into a policy.

    Raises:
        InvalidPinError: *pins* is malformed or empty.
    """
    if isinstance(pins, PinPolicy):
        return pins
    if isinstance(pins, PinSet):
        return PinPolicy.for_all_hosts(pins)
    if pins is None:
        raise InvalidPinError(
            None,
            "pins= is required: give a list of pins, a PinSet or a PinPolicy "
            "(`pinws pins wss://host/` prints a server's pins)",
        )
    if isinstance(pins, Mapping):
        raise InvalidPinError(
            None,
            "pins= got a mapping; wrap host -> pins mappings in pinws.PinPolicy",
        )
    if not isinstance(pins, (str, Pin, Iterable)):
        raise InvalidPinError(
            pins, "pins= takes a list of pins, a PinSet or a PinPolicy"
        )
    return PinPolicy.for_all_hosts(PinSet(pins))
