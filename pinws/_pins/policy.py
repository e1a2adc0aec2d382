"""PinPolicy: which pin set applies to which host."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Optional, Union

from .._errors import InvalidPinError, UnpinnedHostError
from .._flags import require_bool
from .hostnames import as_ip_address, check_dns_name, normalize_hostname
from .pin import Pin
from .pinset import PinSet, PinsInput

if TYPE_CHECKING:
    import os

__all__ = [
    "HostPattern",
    "PinPolicy",
    "PinsArgument",
    "PolicyFiles",
    "PolicyMatch",
    "as_policy",
    "use_policy_files",
]

PathArgument = Union[str, "os.PathLike[str]"]


class HostPattern:
    """A host pattern in OkHttp's syntax.

    ``example.com`` matches that name; ``*.example.com`` exactly one label
    below it (not the name itself, not two labels down); ``**.example.com``
    the name itself and any depth below. IP addresses match exactly, and
    only exactly: no wildcard pattern ever matches an IP address. Matching
    ignores case and a trailing dot; names are compared as IDNA A-labels.

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
                None,
                f"bad host pattern {text!r}: a host pattern must be a string, "
                f"not {type(text).__name__}",
            )
        self.text = text.strip()
        stripped = self.text
        if stripped.startswith("**."):
            self.kind, rest = self.ANY_DEPTH, stripped[3:]
        elif stripped.startswith("*."):
            self.kind, rest = self.ONE_LABEL, stripped[2:]
        else:
            self.kind, rest = self.EXACT, stripped
        if "*" in rest:
            raise _bad_pattern(
                text,
                "a wildcard may only be the whole leftmost label, as in "
                "'*.example.com' or '**.example.com'",
            )
        try:
            self.base = normalize_hostname(rest)
        except ValueError as exc:
            raise _bad_pattern(text, str(exc)) from None
        if as_ip_address(self.base) is not None:
            if self.kind != self.EXACT:
                raise _bad_pattern(text, "IP addresses take no wildcard")
            return
        try:
            check_dns_name(self.base)
        except ValueError as exc:
            raise _bad_pattern(text, str(exc)) from None

    @property
    def label_count(self) -> int:
        """Labels in the pattern, the wildcard label included."""
        labels = self.base.count(".") + 1
        return labels if self.kind == self.EXACT else labels + 1

    @property
    def include_subdomains(self) -> bool:
        """Whether the pattern covers names below :attr:`base`."""
        return self.kind != self.EXACT

    def matches(self, hostname: str) -> bool:
        """Whether the *normalised* host name *hostname* matches."""
        if self.kind == self.EXACT:
            return hostname == self.base
        if as_ip_address(hostname) is not None:
            return False
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

    @property
    def key(self) -> tuple[str, str]:
        """What makes two patterns the same: their kind and normalised name."""
        return (self.kind, self.base)

    def __repr__(self) -> str:
        return f"HostPattern({self.text!r})"


def _bad_pattern(text: str, reason: str) -> InvalidPinError:
    return InvalidPinError(None, f"bad host pattern {text!r}: {reason}")


@dataclasses.dataclass(frozen=True)
class PolicyMatch:
    """The rule of a :class:`PinPolicy` that applies to one host.

    Returned by :meth:`PinPolicy.match`; failure reports take their
    ``noted-hostname`` and ``include-subdomains`` from it.

    Attributes:
        pin_set: the pin set that applies.
        pattern: the host pattern as written in the policy, or ``None`` when
            the pin set applies to every host (``pins=`` given as a list or a
            :class:`PinSet`).
        noted_hostname: the name the pattern is anchored at
            (``example.com`` for ``**.example.com``), ``None`` for a pin set
            that applies to every host.
        include_subdomains: whether the pattern covers names below
            *noted_hostname* (``*.`` and ``**.`` patterns).

    .. versionadded:: 0.1
    """

    pin_set: PinSet
    pattern: Optional[str] = None
    noted_hostname: Optional[str] = None
    include_subdomains: bool = False


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
        ValueError: *allow_unpinned* is not a :class:`bool` (the string
            ``"false"`` would otherwise connect unlisted hosts unpinned).

    Two policies are equal when they map the same patterns to equal pin sets
    and agree on *allow_unpinned*.
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
        allow_unpinned = require_bool(allow_unpinned, "allow_unpinned")
        entries: list[tuple[HostPattern, PinSet]] = []
        seen: dict[tuple[str, str], str] = {}
        for text, value in rules.items():
            pattern = HostPattern(text)
            if pattern.key in seen:
                raise _bad_pattern(
                    text,
                    f"the same as {seen[pattern.key]!r}; give each pattern once",
                )
            seen[pattern.key] = text
            if isinstance(value, PinSet):
                pin_set = value
            else:
                try:
                    pin_set = PinSet(value)
                except InvalidPinError as exc:
                    raise InvalidPinError(
                        exc.pin, f"{exc.reason} (pins for host pattern {text!r})"
                    ) from None
            entries.append((pattern, pin_set))
        if not entries and not allow_unpinned:
            raise InvalidPinError(
                None,
                "the pin policy has no host patterns and does not allow "
                "unpinned hosts, so it would refuse every connection",
            )
        self._given = tuple(entries)
        self._entries = tuple(
            sorted(entries, key=lambda entry: entry[0].specificity(), reverse=True)
        )
        self._exact = {
            pattern.base: (pattern, pin_set)
            for pattern, pin_set in entries
            if pattern.kind == HostPattern.EXACT
        }
        self.allow_unpinned = allow_unpinned
        self._everywhere: Optional[PinSet] = None

    @classmethod
    def for_all_hosts(cls, pin_set: PinSet) -> PinPolicy:
        """A policy applying one pin set to every host.

        This is what ``pins=`` given as a list or a :class:`PinSet` means.
        """
        if not isinstance(pin_set, PinSet):
            raise InvalidPinError(
                pin_set, f"expected a PinSet, not {type(pin_set).__name__}"
            )
        policy = cls({}, allow_unpinned=True)
        policy.allow_unpinned = False
        policy._everywhere = pin_set
        return policy

    @property
    def applies_to_every_host(self) -> bool:
        """Whether one pin set covers every host (no host patterns)."""
        return self._everywhere is not None

    @property
    def rules(self) -> tuple[tuple[str, PinSet], ...]:
        """The (pattern, pin set) pairs, most specific first."""
        return tuple((pattern.text, pin_set) for pattern, pin_set in self._entries)

    def match(self, host: str) -> Optional[PolicyMatch]:
        """The rule that applies to *host*: its pin set and its pattern.

        Returns:
            the most specific matching rule, or ``None`` if no pattern
            matches and the policy allows unpinned hosts.

        Raises:
            UnpinnedHostError: no pattern matches and unpinned hosts are not
                allowed.
        """
        if self._everywhere is not None:
            return PolicyMatch(self._everywhere)
        try:
            name = normalize_hostname(host)
        except ValueError:
            # Not a name any pattern could match; falls through to the
            # policy's default (refusal unless unpinned hosts are allowed).
            name = None
        found = self._exact.get(name) if name is not None else None
        if found is None and name is not None:
            for pattern, pin_set in self._entries:
                if pattern.matches(name):
                    found = (pattern, pin_set)
                    break
        if found is not None:
            pattern, pin_set = found
            return PolicyMatch(
                pin_set,
                pattern=pattern.text,
                noted_hostname=pattern.base,
                include_subdomains=pattern.include_subdomains,
            )
        if self.allow_unpinned:
            return None
        raise UnpinnedHostError(host)

    def pin_set_for(self, host: str) -> Optional[PinSet]:
        """The pin set that applies to *host*.

        Returns:
            the most specific matching :class:`PinSet`, or ``None`` if no
            pattern matches and the policy allows unpinned hosts.

        Raises:
            UnpinnedHostError: no pattern matches and unpinned hosts are not
                allowed.
        """
        found = self.match(host)
        return found.pin_set if found is not None else None

    def pin_sets(self) -> tuple[PinSet, ...]:
        """Every distinct pin set of the policy, in the order given."""
        if self._everywhere is not None:
            return (self._everywhere,)
        unique: dict[int, PinSet] = {}
        for _, pin_set in self._given:
            unique.setdefault(id(pin_set), pin_set)
        return tuple(unique.values())

    def groups(self) -> tuple[tuple[tuple[str, ...], PinSet], ...]:
        """The patterns sharing each pin set, in the order given.

        Patterns mapped to the same :class:`PinSet` object form one group,
        as one ``[[pin_sets]]`` entry of a configuration file does.
        """
        grouped: dict[int, tuple[list[str], PinSet]] = {}
        for pattern, pin_set in self._given:
            grouped.setdefault(id(pin_set), ([], pin_set))[0].append(pattern.text)
        return tuple((tuple(texts), pin_set) for texts, pin_set in grouped.values())

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike[str]]) -> PinPolicy:
        """Load a policy from a TOML or JSON file (chosen by its suffix).

        See :doc:`/policy` for the schema.

        Raises:
            PinConfigError: the file is malformed; the message (and the
                error's attributes) name the file, the key and the problem.
            OSError: the file cannot be read.
        """
        return _policy_files().load_policy_file(path)

    @classmethod
    def from_android_nsc(
        cls,
        path: Union[str, os.PathLike[str]],
        allow_unpinned: bool = False,
    ) -> PinPolicy:
        """Load the ``<pin-set>`` entries of an Android network security config.

        Each ``<domain>`` of a ``<domain-config>`` with a ``<pin-set>`` (its
        own or its enclosing ``<domain-config>``'s) becomes a rule:
        ``includeSubdomains="true"`` makes it ``**.domain``. Android stops
        enforcing pins *on* the ``expiration`` date, so ``expires`` is the
        day before. Hosts the file does not pin follow *allow_unpinned*.
        See :doc:`/policy`.

        Raises:
            PinConfigError: the file is malformed or uses an unsupported
                digest; the message names the element and the problem.
            OSError: the file cannot be read.
            ValueError: *allow_unpinned* is not a :class:`bool`.
            ImportError: defusedxml is missing (``pip install
                'pinws[android]'``).
        """
        return _policy_files().load_android_nsc(path, allow_unpinned)

    def to_toml(self) -> str:
        """This policy as TOML text that :meth:`from_file` reads back.

        Raises:
            ValueError: the policy applies one pin set to every host, which
                a file of host patterns cannot express.
        """
        return _policy_files().dump_toml(self)

    def to_json(self) -> str:
        """This policy as JSON text that :meth:`from_file` reads back.

        Raises:
            ValueError: as :meth:`to_toml`.
        """
        return _policy_files().dump_json(self)

    def to_android_nsc(self) -> str:
        """This policy as an Android ``network_security_config.xml``.

        :meth:`from_android_nsc` reads it back (``allow_unpinned`` is an
        argument there, not part of the file).

        Raises:
            ValueError: the policy uses what Android cannot express: a
                ``*.`` pattern, a report-only pin set, or one pin set for
                every host.
        """
        return _policy_files().dump_android_nsc(self)

    def _comparable(self) -> tuple[object, ...]:
        rules = frozenset((pattern.key, pin_set) for pattern, pin_set in self._given)
        return (self.allow_unpinned, self._everywhere, rules)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PinPolicy):
            return NotImplemented
        return self._comparable() == other._comparable()

    def __hash__(self) -> int:
        return hash(self._comparable())

    def __repr__(self) -> str:
        if self._everywhere is not None:
            return f"PinPolicy.for_all_hosts({self._everywhere!r})"
        rules = ", ".join(f"{text!r}: {pin_set!r}" for text, pin_set in self.rules)
        return f"PinPolicy({{{rules}}}, allow_unpinned={self.allow_unpinned})"


@dataclasses.dataclass(frozen=True)
class PolicyFiles:
    """The file formats :class:`PinPolicy` reads and writes (``pinws._formats``).

    The pins core reads and writes no file and imports no file format
    (``tests/test_architecture.py`` checks that), so the formats are handed
    to it once, by ``pinws/__init__.py``, through :func:`use_policy_files`.
    """

    load_policy_file: Callable[[PathArgument], PinPolicy]
    load_android_nsc: Callable[[PathArgument, bool], PinPolicy]
    dump_toml: Callable[[PinPolicy], str]
    dump_json: Callable[[PinPolicy], str]
    dump_android_nsc: Callable[[PinPolicy], str]


# Import-time wiring, set once by pinws/__init__.py (not a setting).
_policy_files_given: Optional[PolicyFiles] = None


def use_policy_files(files: PolicyFiles) -> None:
    """Hand :class:`PinPolicy` the file formats its file methods delegate to."""
    global _policy_files_given
    _policy_files_given = files


def _policy_files() -> PolicyFiles:
    if _policy_files_given is None:
        raise RuntimeError(
            "PinPolicy's file formats are not wired: pinws/__init__.py passes "
            "pinws._formats.POLICY_FILES to use_policy_files()"
        )
    return _policy_files_given


PinsArgument = Union[PinPolicy, PinSet, PinsInput]


def as_policy(pins: Optional[PinsArgument]) -> PinPolicy:
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
            "(`pinws pins wss://host/` prints a server's pins), or a "
            "pinws.PinStore as pin_store=",
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
