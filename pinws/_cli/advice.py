"""Which pins to choose from a chain: the advice ``pinws pins`` prints.

A pin set should keep working across routine certificate renewals and
survive the loss of a key, so it is one pin from the live chain (the issuing
intermediate, or the leaf) plus at least one *backup*: a key that is not in
use yet, kept offline, which the server can move to.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Optional

from .certinfo import CertDetails
from .keyfiles import FileItem

__all__ = ["Suggestion", "suggest"]

BACKUP_HOWTO = (
    "A backup pin is the pin of a key that is not in use yet, kept offline, so "
    "the server can move to it if the current key is lost or compromised. "
    "Make one and print its pin before it has a certificate: "
    "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
    "-out backup-key.pem && pinws pins --key backup-key.pem "
    "(or pinws pins --csr FILE for a CSR made with that key)."
)


@dataclasses.dataclass(frozen=True)
class Choice:
    """One suggested pin and why.

    Attributes:
        pin: the pin.
        why: one sentence of reasons.
        depth: its chain depth, for a pin from the chain.
        source: its file, for a backup pin from a file.
    """

    pin: str
    why: str
    depth: Optional[int] = None
    source: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """A sensible pin set for a chain.

    Attributes:
        primary: the pin(s) from the live chain to use.
        backups: backup pins found in the files given (keys not in the chain).
        advice: sentences explaining the choice and what is still missing.
    """

    primary: tuple[Choice, ...]
    backups: tuple[Choice, ...]
    advice: tuple[str, ...]

    @property
    def pins(self) -> list[str]:
        """The suggested set: primary pins, then backups."""
        return [choice.pin for choice in self.primary + self.backups]


def _primary(chain: Sequence[CertDetails], verified: bool) -> tuple[Choice, list[str]]:
    leaf = chain[0]
    if not verified:
        return (
            Choice(
                leaf.pin,
                "the server's own key: with no CA to vouch for it, only the leaf "
                "can be pinned (pinws connect --pin-only; pin_only=True in Python)",
                depth=0,
            ),
            [
                "This chain did not verify, so compare this pin with one you "
                "got out of band (the device's screen or its administrator) "
                "before you trust it."
            ],
        )
    if len(chain) >= 3:
        issuer = chain[1]
        return (
            Choice(
                issuer.pin,
                "the intermediate CA that issued the leaf: keeps matching across "
                "certificate renewals while this CA signs them",
                depth=1,
            ),
            [
                f"Stricter: pin the leaf key itself ({leaf.pin}), if you control "
                "the server's key and keep it across renewals.",
                "Pinning the root (the trust anchor) is looser: it accepts any "
                "certificate that CA issues, for anyone.",
            ],
        )
    return (
        Choice(
            leaf.pin,
            "the leaf key: this chain has no intermediate, and its root would "
            "accept any certificate that CA issues",
            depth=0,
        ),
        [],
    )


def suggest(
    chain: Sequence[CertDetails], files: Sequence[FileItem], *, verified: bool
) -> Suggestion:
    """Suggest a pin set for *chain* (leaf first), with backups from *files*."""
    primary, advice = _primary(chain, verified)
    in_chain = {details.pin for details in chain}
    backups: list[Choice] = []
    seen: set[str] = set()
    for item in files:
        if item.pin in in_chain:
            advice.append(
                f"{item.source}: its {item.kind} is already in the server's chain, "
                "so it cannot serve as a backup."
            )
            continue
        if item.pin in seen:
            continue
        seen.add(item.pin)
        backups.append(
            Choice(
                item.pin,
                f"backup: the {item.kind} in {item.source}, not used by the server",
                source=item.source,
            )
        )
    if not backups:
        advice.append(BACKUP_HOWTO)
    return Suggestion((primary,), tuple(backups), tuple(advice))
