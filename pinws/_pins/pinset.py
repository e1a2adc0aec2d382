"""PinSet: a group of pins with the options that keep pinning from bricking."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from typing import Optional, Union

from .._errors import InvalidPinError
from .._flags import require_bool
from .._log import get_logger, log_repeated
from .pin import Pin, parse_pins

__all__ = ["PinSet", "PinsInput", "utc_today"]

logger = get_logger("policy")

PinsInput = Union[str, Pin, Iterable[Union[str, Pin]]]


def utc_today() -> datetime.date:
    """Today's date in UTC, the calendar pin expiry is judged by.

    Looked up at every expiry check (not bound at import), so tests can
    replace it to judge expiry on a chosen day.
    """
    return datetime.datetime.now(datetime.timezone.utc).date()


class PinSet:
    """A set of pins and how to enforce them.

    Args:
        pins: the pins, in any form :meth:`Pin.parse` accepts. Any certificate
            of the verified chain matching any pin satisfies the set.
        expires: the last day (UTC) the pins are enforced. After it, the
            connection is checked like an unpinned one (CA path and host
            name), a warning is logged (once, then hourly), and failure reports
            say so -- so an app that is never updated is not locked out.
        report_only: report a mismatch (``on_pin_failure``, ``report_uri``)
            but let the connection proceed, to trial a configuration.
        require_backup: make a set of fewer than two pins an error instead of
            a warning.

    Raises:
        InvalidPinError: a pin is malformed, the set is empty, *expires* is
            not a date, or *require_backup* is set and there is no backup pin.
        ValueError: *report_only* or *require_backup* is not a :class:`bool`
            (the string ``"false"`` would otherwise switch enforcement off).

    A set of fewer than two pins logs a warning when it is built; a set
    whose every pin is a key of the chain a server presents (so no backup
    key is kept off that chain) logs one at the first such connection --
    the two ways pinning locks users out when a key must change. Each is
    logged once, then at most once an hour for the same pins, however
    often the set is rebuilt (``pins=[...]`` on every call).

    Two sets are equal when they hold the same pins (in any order) with the
    same options.
    """

    __slots__ = (
        "_digests",
        "_pins",
        "_quiet",
        "expires",
        "report_only",
        "require_backup",
    )

    def __init__(
        self,
        pins: PinsInput,
        *,
        expires: Optional[datetime.date] = None,
        report_only: bool = False,
        require_backup: bool = False,
    ) -> None:
        report_only = require_bool(report_only, "report_only")
        require_backup = require_bool(require_backup, "require_backup")
        self._setup(pins, report_only=report_only)
        if isinstance(expires, datetime.datetime):
            raise InvalidPinError(
                None,
                "expires must be a datetime.date (the last day pins are "
                "enforced), not a datetime; use .date()",
            )
        if expires is not None and not isinstance(expires, datetime.date):
            raise InvalidPinError(
                None,
                "expires must be a datetime.date or None, not "
                f"{type(expires).__name__} {expires!r} (e.g. "
                "expires=datetime.date(2027, 6, 30))",
            )
        self.expires = expires
        self.require_backup = require_backup
        if len(self._pins) < 2:
            message = (
                f"pin set {self._describe_pins()} has a single pin and no "
                "backup: if that key is lost or rotated, every client is "
                "locked out until it is updated; pin a backup key too"
            )
            if self.require_backup:
                raise InvalidPinError(None, message)
            log_repeated(
                logger, logging.WARNING, ("single pin", self._digests), "%s", message
            )

    def _setup(self, pins: PinsInput, *, report_only: bool) -> None:
        self._pins = parse_pins(pins)
        self._digests = frozenset(pin.digest for pin in self._pins)
        self.expires = None
        self.report_only = report_only
        self.require_backup = False
        self._quiet = False

    @classmethod
    def _remembered(cls, pins: PinsInput, *, report_only: bool) -> PinSet:
        """A set for pins a :class:`PinStore` remembered, built per connection.

        Without the backup warnings: a key trusted on first use is one pin
        by design, and a store entry's own expiry is checked by the store.
        """
        pin_set = cls.__new__(cls)
        pin_set._setup(pins, report_only=bool(report_only))
        pin_set._quiet = True
        return pin_set

    @property
    def pins(self) -> tuple[Pin, ...]:
        """The pins, in the order given, without duplicates."""
        return self._pins

    def matches(self, digest: bytes) -> bool:
        """Whether an SPKI SHA-256 *digest* is one of this set's pins.

        A set lookup: the cost does not grow with the number of pins. Pins
        are public values, so the comparison needs no constant-time guard.
        """
        return digest in self._digests

    def is_expired(self, today: Optional[datetime.date] = None) -> bool:
        """Whether the set has expired: *today* (UTC) is after :attr:`expires`."""
        if self.expires is None:
            return False
        return (today or utc_today()) > self.expires

    def is_enforced(self, today: Optional[datetime.date] = None) -> bool:
        """Whether a mismatch refuses the connection (not expired, not report-only)."""
        return not self.report_only and not self.is_expired(today)

    def warn_if_expired(self, today: Optional[datetime.date] = None) -> bool:
        """Return whether the set has expired; if so, log it.

        Logged once, then at most once an hour, for the same pins and date
        -- also when the set is rebuilt for every connection.
        """
        if not self.is_expired(today):
            return False
        log_repeated(
            logger,
            logging.WARNING,
            ("expired", self._digests, self.expires),
            "pin set %s expired on %s: its pins are no longer enforced "
            "(the CA path and host name still are); ship an updated "
            "configuration",
            self._describe_pins(),
            self.expires,
        )
        return True

    def warn_if_no_offchain_backup(self, chain_digests: Iterable[bytes]) -> None:
        """Log when every pin sits in the served chain (once, then hourly).

        A backup pin should be a key that is *not* in use yet, so that it
        survives the loss of the current keys.
        """
        if self._quiet or not self._digests <= frozenset(chain_digests):
            return
        log_repeated(
            logger,
            logging.WARNING,
            ("no off-chain backup", self._digests),
            "every pin of pin set %s is a key of the chain the server "
            "serves now: there is no backup key off that chain, so a key "
            "compromise or a rotation to a new key locks clients out",
            self._describe_pins(),
        )

    def _describe_pins(self) -> str:
        return "[" + ", ".join(str(pin) for pin in self._pins) + "]"

    def __repr__(self) -> str:
        options = ""
        if self.expires is not None:
            options += f", expires={self.expires!r}"
        if self.report_only:
            options += ", report_only=True"
        if self.require_backup:
            options += ", require_backup=True"
        return f"PinSet({[str(pin) for pin in self._pins]!r}{options})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PinSet):
            return NotImplemented
        return (
            self._digests == other._digests
            and self.expires == other.expires
            and self.report_only == other.report_only
            and self.require_backup == other.require_backup
        )

    def __hash__(self) -> int:
        return hash((self._digests, self.expires, self.report_only))
