"""judge(): the pin decision, as a pure function of plain values.

Everything pinws decides about a verified chain's pins -- does a pin match,
is the mismatch enforced, is the pin set expired or expiring, does it have
a backup key off the chain -- is decided here, and only here, from values:
the chain's SPKI digests, the pin set, the mode and the date. No sockets, no
OpenSSL, no logging. The TLS layer's verifier collects the chain, checks the
host name, calls :func:`judge` and acts on the :class:`Verdict` (logs its
warnings, raises the mismatch, sends the report); ``pinws check`` renders the
same verdict for a person or a monitoring system.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Optional

from .pin import Pin
from .pinset import PinSet

__all__ = ["Verdict", "judge"]

#: The reasons a :class:`Verdict` gives, as machine-readable words.
REASONS = (
    "pin_match",  # a pin matched a key of the verified chain
    "pin_mismatch",  # none did, and the pin set is enforced: refused
    "report_only_mismatch",  # none did; the set is report-only: let through
    "expired_pin_set_mismatch",  # none did; the set has expired: let through
    "unpinned",  # no pins apply to the host, and it may connect unpinned
    "first_use",  # no pins yet: the key is trusted on first use
    "debug_ca",  # the chain ends at the development CA: pins not checked
)

#: The warnings a :class:`Verdict` may carry.
WARNINGS = (
    "single_pin",  # one pin, no backup at all
    "no_off_chain_backup",  # every pin is a key of the chain served now
    "pin_set_expired",  # the set is past its expiry: no longer enforced
    "pin_set_expiring",  # the set expires within the warning period
)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What :func:`judge` decided about one verified chain.

    Attributes:
        accepted: whether the connection may go on.
        reason: one of :data:`REASONS`.
        matched: ``(depth, pin)`` of every certificate whose key matched,
            leaf first; the first is the match that counts.
        enforced: whether a mismatch refuses the connection (the pin set is
            neither report-only nor expired).
        report_due: whether a failure report (RFC 7469) is to be sent: on
            every mismatch, enforced or not.
        warnings: the :data:`WARNINGS` that apply, in that order.
        backup_count: how many pins are not keys of the chain served now.
        expires_in: days until the pin set expires (negative once expired),
            or ``None`` without an expiry date.
    """

    accepted: bool
    reason: str
    matched: tuple[tuple[int, Pin], ...] = ()
    enforced: bool = True
    report_due: bool = False
    warnings: tuple[str, ...] = ()
    backup_count: int = 0
    expires_in: Optional[int] = None
    # Listing the backups walks the whole pin set, which may hold thousands
    # of pins; every handshake needs only their number. What the list is
    # made from is kept instead (both shared, not copied).
    _pins: tuple[Pin, ...] = dataclasses.field(default=(), compare=False, repr=False)
    _chain: Sequence[bytes] = dataclasses.field(default=(), compare=False, repr=False)

    @property
    def backups(self) -> tuple[Pin, ...]:
        """The pins that are not keys of the chain served now."""
        chain = self._chain
        return tuple(pin for pin in self._pins if pin.digest not in chain)

    @property
    def matched_pin(self) -> Optional[Pin]:
        """The pin that matched (the one nearest the leaf), or ``None``."""
        return self.matched[0][1] if self.matched else None


def judge(
    chain: Sequence[bytes],
    pin_set: Optional[PinSet],
    *,
    today: datetime.date,
    pin_only: bool = False,
    debug_ca_digest: Optional[bytes] = None,
    trust_on_first_use: bool = False,
    warn_days: Optional[int] = None,
) -> Verdict:
    """Decide whether the pins accept a verified chain.

    Args:
        chain: the SPKI SHA-256 digests of the chain OpenSSL verified, leaf
            first, up to the trust anchor (in pin-only mode: the leaf's
            alone). The host name must have been checked already.
        pin_set: the pins that apply to the host, or ``None`` when none do
            (and the host may connect without).
        today: the date expiry is judged by (UTC).
        pin_only: the leaf's key is the whole trust decision (no CA path,
            no host name): a mismatch is refused even when the pin set is
            report-only or expired, since nothing else vouches for the key.
        debug_ca_digest: the development CA's key digest: a chain ending
            there is accepted without pins.
        trust_on_first_use: with no *pin_set*, the key is being trusted on
            first use.
        warn_days: warn of a pin set that expires within this many days.

    Returns:
        the :class:`Verdict`.

    Raises:
        ValueError: *chain* is empty.
    """
    if not chain:
        raise ValueError("judge() needs the verified chain's digests")
    if debug_ca_digest is not None and chain[-1] == debug_ca_digest:
        return Verdict(True, "debug_ca")
    if pin_set is None:
        return Verdict(True, "first_use" if trust_on_first_use else "unpinned")

    matched = tuple(
        (depth, Pin(digest))
        for depth, digest in enumerate(chain)
        if pin_set.matches(digest)
    )
    expires_in = (pin_set.expires - today).days if pin_set.expires is not None else None
    expired = expires_in is not None and expires_in < 0
    enforced = pin_only or (not pin_set.report_only and not expired)
    on_chain = frozenset(chain)
    pinned_on_chain = sum(1 for digest in on_chain if pin_set.matches(digest))
    backup_count = len(pin_set.pins) - pinned_on_chain

    warnings = []
    if len(pin_set.pins) < 2:
        warnings.append("single_pin")
    elif not backup_count:
        warnings.append("no_off_chain_backup")
    if expired:
        warnings.append("pin_set_expired")
    elif expires_in is not None and warn_days is not None and expires_in <= warn_days:
        warnings.append("pin_set_expiring")

    if matched:
        reason = "pin_match"
    elif enforced:
        reason = "pin_mismatch"
    elif pin_set.report_only:
        reason = "report_only_mismatch"
    else:
        reason = "expired_pin_set_mismatch"
    return Verdict(
        accepted=bool(matched) or not enforced,
        reason=reason,
        matched=matched,
        enforced=enforced,
        report_due=not matched,
        warnings=tuple(warnings),
        backup_count=backup_count,
        expires_in=expires_in,
        _pins=pin_set.pins,
        _chain=chain,
    )
