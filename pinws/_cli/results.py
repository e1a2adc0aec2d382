"""What each command computed: plain, frozen values for :mod:`.render` to show.

A command parses its arguments, computes one of these, and hands it to
:func:`.render.render`, which writes it as text or as JSON. Nothing here
prints, and nothing here talks to the network.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Optional, Union

from .._store.store import PinStoreEntry
from .advice import Suggestion
from .certinfo import CertDetails
from .ctinfo import CTReport
from .errors import ExitCode
from .keyfiles import FileItem
from .target import Target

__all__ = [
    "CheckFailure",
    "CheckResult",
    "Closed",
    "Connected",
    "DemoServer",
    "Finding",
    "Message",
    "PinSetStatus",
    "PinsResult",
    "RememberedHost",
    "Result",
    "ServerChain",
    "StoreEntryAdded",
    "StoreForgotten",
    "StoreListing",
]


# -- pinws pins ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ServerChain:
    """A live server's chain, as ``pinws pins`` saw it.

    Attributes:
        target: the server.
        proxy: the proxy's ``host:port``, if one was used.
        tls_version: e.g. ``"TLSv1.3"``.
        verified: whether the chain verified (else: as sent, UNVERIFIED).
        verification_error: why it did not.
        chain: the certificates, leaf first.
        ct: the Certificate Transparency verdict, if one was asked for and
            the chain verified.
        ct_requested: whether ``--ct-log-list`` was given.
    """

    target: Target
    proxy: Optional[str]
    tls_version: str
    verified: bool
    verification_error: Optional[str]
    chain: tuple[CertDetails, ...]
    ct: Optional[CTReport] = None
    ct_requested: bool = False


@dataclasses.dataclass(frozen=True)
class PinsResult:
    """``pinws pins``: a server's chain, files' pins, and a suggested set.

    Attributes:
        server: the server, if a URL was given.
        files: the pinnable objects found in ``--cert``/``--key``/``--csr``.
        suggestion: the suggested pin set, for a server.
    """

    server: Optional[ServerChain]
    files: tuple[FileItem, ...]
    suggestion: Optional[Suggestion]


# -- pinws check ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Finding:
    """One line of the verdict.

    Attributes:
        level: ``"ok"``, ``"info"``, ``"warning"`` or ``"critical"``.
        reason: a machine-readable word for it (``pin_match``,
            ``no_backup_pin``, ``certificate_expiring``, ...).
        message: what was found.
        details: extra lines (the chain and pins, for a mismatch).
    """

    level: str
    reason: str
    message: str
    details: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class PinSetStatus:
    """The pin set a check applied.

    Attributes:
        expires: its last day, if any.
        expired: whether that day has passed.
        report_only: whether it is report-only.
    """

    expires: Optional[datetime.date]
    expired: bool
    report_only: bool


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """``pinws check`` on a server whose chain verified.

    Attributes:
        target: the server.
        proxy: the proxy's ``host:port``, if one was used.
        tls_version: e.g. ``"TLSv1.3"``.
        pins_from: where the pins came from (``None``: CT only).
        pattern: the host pattern that chose the pin set.
        pins: the pins checked.
        pin_set: the pin set's state, if one applied.
        matched: the certificates that match a pin.
        warn_days: ``--warn-days``.
        findings: the verdict, line by line.
        chain: the verified chain, leaf first.
        ct: the Certificate Transparency verdict, if asked for.
        status: ``"ok"``, ``"warning"`` or ``"critical"``.
        exit_code: the exit status.
        reason: the reason of the worst finding (``"ok"`` if none).
    """

    target: Target
    proxy: Optional[str]
    tls_version: str
    pins_from: Optional[str]
    pattern: Optional[str]
    pins: tuple[str, ...]
    pin_set: Optional[PinSetStatus]
    matched: tuple[CertDetails, ...]
    warn_days: int
    findings: tuple[Finding, ...]
    chain: tuple[CertDetails, ...]
    ct: Optional[CTReport]
    status: str
    exit_code: ExitCode
    reason: str


@dataclasses.dataclass(frozen=True)
class CheckFailure:
    """``pinws check`` could not pass: CRITICAL or UNKNOWN, with a reason.

    Attributes:
        url: the server's URL (as given, if it did not parse; ``None`` for a
            command line that did not parse).
        status: ``"critical"`` or ``"unknown"``.
        exit_code: the exit status.
        reason: a machine-readable word (``"unreachable"``, ``"usage"``...).
        error: the message.
        unverified_chain: the chain the server sent, when it did not verify.
    """

    url: Optional[str]
    status: str
    exit_code: ExitCode
    reason: str
    error: str
    unverified_chain: Optional[tuple[CertDetails, ...]] = None


# -- pinws store ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RememberedHost:
    """One store entry, and whether it has expired (judged when listed)."""

    entry: PinStoreEntry
    expired: bool


@dataclasses.dataclass(frozen=True)
class StoreListing:
    """``pinws store list``: the store's file and its entries."""

    path: str
    entries: tuple[RememberedHost, ...]


@dataclasses.dataclass(frozen=True)
class StoreEntryAdded:
    """``pinws store add``: the entry as stored."""

    host: RememberedHost


@dataclasses.dataclass(frozen=True)
class StoreForgotten:
    """``pinws store forget``: whether *host* had an entry in *path*."""

    path: str
    host: str
    forgotten: bool


# -- pinws demo --serve --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DemoServer:
    """The running demo server: its URL, CA file and pins.

    Attributes:
        url: the ``wss://`` URL.
        ca_file: the CA certificate to trust.
        pins: ``(role, pin)``: leaf, intermediate, root and backup.
    """

    url: str
    ca_file: str
    pins: tuple[tuple[str, str], ...]

    def pin(self, role: str) -> str:
        """The pin of *role*."""
        return dict(self.pins)[role]


# -- pinws connect -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Connected:
    """The pinned connection is open.

    Attributes:
        url: the URL connected to.
        tls_version: e.g. ``"TLSv1.3"``.
        subprotocol: the subprotocol the server chose, if any.
        matched_pin: the pin that matched (``None``: not pinned).
        matched_depth: the depth of the certificate that matched.
        matched_subject: its subject.
        store_note: what the pin store did (first use, remembered), or ``""``.
    """

    url: str
    tls_version: str
    subprotocol: Optional[str] = None
    matched_pin: Optional[str] = None
    matched_depth: Optional[int] = None
    matched_subject: Optional[str] = None
    store_note: str = ""


@dataclasses.dataclass(frozen=True)
class Message:
    """A message sent (``">"``) or received (``"<"``), and when (UTC)."""

    direction: str
    data: Union[str, bytes]
    when: datetime.datetime


@dataclasses.dataclass(frozen=True)
class Closed:
    """The connection closed, with the close frame's status and reason."""

    status: Optional[int] = None
    reason: str = ""


Result = Union[
    PinsResult,
    CheckResult,
    CheckFailure,
    StoreListing,
    StoreEntryAdded,
    StoreForgotten,
    DemoServer,
    Connected,
    Message,
    Closed,
]
