"""Which pins apply to a host -- ``pins=``, the store, first use -- and the
store's part in each connection: learning a key on first use, and
remembering ``Public-Key-Pins`` headers.

:func:`decide` is the precedence, a pure function. :class:`RememberedPins`
is what a TLS client holds: it asks the store, builds the pin set and the
error a mismatch raises, and writes what a connection taught it.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Callable, Optional, Union

from .._errors import (
    ChainCertificate,
    PinMismatchError,
    StoredPinMismatchError,
    UnpinnedHostError,
)
from .._pins.hostnames import as_ip_address, normalize_hostname
from .._pins.pin import Pin
from .._pins.pinset import PinSet
from .._pins.policy import PinPolicy, PolicyMatch
from .._pins.report import PinFailureReport
from . import hpkp
from .store import HPKP, TOFU, PinStore, PinStoreEntry, utc_now

__all__ = [
    "FIRST_USE",
    "STATIC",
    "STORE",
    "UNPINNED",
    "HostPins",
    "RememberedPins",
    "decide",
]

logger = logging.getLogger("pinws.store")

STATIC = "static"
STORE = "store"
FIRST_USE = "first-use"
UNPINNED = "unpinned"

# A header repeating what the store holds rewrites the file only when its
# expiry moved by more than this (not on every connection).
_EXPIRY_SLACK = datetime.timedelta(hours=1)

MismatchFactory = Callable[..., PinMismatchError]
ReportSink = Callable[[PinFailureReport], None]


@dataclasses.dataclass(frozen=True)
class HostPins:
    """Where one host's pins come from.

    Attributes:
        kind: ``"static"`` (``pins=``), ``"store"`` (a store entry),
            ``"first-use"`` (none yet: connect, then remember the key) or
            ``"unpinned"`` (the policy allows the host without pins).
        match: the rule that applies (a store entry's, made into one), or
            ``None`` for first use and unpinned hosts.
        entry: the store entry, for ``"store"``.
    """

    kind: str
    match: Optional[PolicyMatch] = None
    entry: Optional[PinStoreEntry] = None

    @property
    def pin_set(self) -> Optional[PinSet]:
        """The pins to check, ``None`` when there are none (yet)."""
        return self.match.pin_set if self.match is not None else None


def entry_match(entry: PinStoreEntry) -> PolicyMatch:
    """A store entry as the policy rule the handshake and reports use."""
    return PolicyMatch(
        PinSet._remembered(entry.pins, report_only=entry.report_only),
        noted_hostname=entry.host,
        include_subdomains=entry.include_subdomains,
    )


def decide(
    host: str,
    policy: PinPolicy,
    entry: Optional[PinStoreEntry],
    *,
    trust_on_first_use: bool,
    store_path: Optional[str] = None,
) -> HostPins:
    """The precedence: ``pins=``, then the store, then first use, then the policy.

    Args:
        host: the host connected to.
        policy: the ``pins=`` policy.
        entry: the unexpired store entry that applies to *host*, if any.
        trust_on_first_use: whether the store trusts unknown hosts once.
        store_path: the store's file, for the error message.

    Raises:
        UnpinnedHostError: no pins anywhere, no first use, and the policy
            does not allow unpinned hosts.
    """
    try:
        static = policy.match(host)
        allowed = True
    except UnpinnedHostError:
        static, allowed = None, False
    if static is not None:
        # pins= always wins: the store never adds to, weakens or replaces it.
        return HostPins(STATIC, static)
    if entry is not None:
        return HostPins(STORE, entry_match(entry), entry)
    if trust_on_first_use:
        return HostPins(FIRST_USE)
    if allowed:
        return HostPins(UNPINNED)
    raise UnpinnedHostError(host, store_path)


class RememberedPins:
    """A TLS client's view of its pin store (or of none).

    Args:
        store: the pin store, or ``None``.
        policy: the ``pins=`` policy, which always wins.
        pin_only: the client checks only the leaf key (no chain verified).
        debug_ca_digest: the SPKI digest of the client's ``debug_ca``.
        ca_certs: the trust store ``report-uri`` reports are sent with.
    """

    def __init__(
        self,
        store: Optional[PinStore],
        policy: PinPolicy,
        *,
        pin_only: bool = False,
        debug_ca_digest: Optional[bytes] = None,
        ca_certs: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> None:
        if store is not None and not isinstance(store, PinStore):
            raise ValueError(
                f"pin_store must be a pinws.PinStore, not {type(store).__name__}"
            )
        self.store = store
        self.policy = policy
        self.pin_only = pin_only
        self.debug_ca_digest = debug_ca_digest
        self.ca_certs = ca_certs
        self._senders: dict[str, ReportSink] = {}
        self._senders_lock = threading.Lock()

    # -- before and during the handshake ------------------------------------------

    def for_host(self, host: str) -> HostPins:
        """The pins that apply to *host* now.

        Raises:
            UnpinnedHostError: see :func:`decide`.
        """
        store = self.store
        entry = None
        # A name no store could hold is left to the policy; a store file
        # that has become unreadable raises (fail closed).
        if store is not None and _is_host_name(host):
            entry = store._applicable_entry(host)
        return decide(
            host,
            self.policy,
            entry,
            trust_on_first_use=store is not None and store.trust_on_first_use,
            store_path=store.path if store is not None else None,
        )

    def mismatch_error(self, pins: HostPins) -> MismatchFactory:
        """What a mismatch against *pins* raises."""
        entry, store = pins.entry, self.store
        if entry is None or store is None or entry.report_only:
            # A report-only entry's mismatch is a log line, not a refusal.
            return PinMismatchError

        def stored_mismatch(
            hostname: str,
            chain: Sequence[ChainCertificate],
            pin_list: Sequence[str],
            port: Optional[int] = None,
        ) -> PinMismatchError:
            return StoredPinMismatchError(
                hostname,
                chain,
                pin_list,
                port,
                entry.source,
                entry.first_seen,
                entry.host,
                store.path,
            )

        return stored_mismatch

    def report_sink(self, pins: HostPins) -> Optional[ReportSink]:
        """Where reports for a store entry with a ``report-uri`` go."""
        entry = pins.entry
        if entry is None or entry.report_uri is None:
            return None
        uri = entry.report_uri
        with self._senders_lock:
            sender = self._senders.get(uri)
            if sender is None:
                from .._reports.sender import ReportSender

                try:
                    sender = ReportSender(uri, ca_certs=self.ca_certs)
                except ValueError as exc:
                    logger.warning("cannot send reports to %s: %s", uri, exc)
                    return None
                self._senders[uri] = sender
        return sender

    # -- after the handshake ---------------------------------------------------------

    def learn(
        self,
        host: str,
        port: Optional[int],
        pins: HostPins,
        chain: Sequence[ChainCertificate],
    ) -> None:
        """On first use, remember the leaf key of the accepted *chain*.

        Called once the handshake's verdict accepted the server, before
        anything is sent. When another thread or process remembered a key
        for the host meanwhile, the connection must present that one.

        Raises:
            StoredPinMismatchError: another key was remembered meanwhile.
            OSError, ValueError: the store could not be written.
        """
        store = self.store
        if pins.kind != FIRST_USE or store is None or not chain:
            return
        if self._ends_at_debug_ca(chain):
            # A debugging proxy's key is no key to remember for the host.
            logger.info(
                "not trusting %s on first use: its chain ends at debug_ca", host
            )
            return
        leaf = chain[0].pin
        entry = store._learn_first_use(host, leaf)
        if leaf not in entry.pins:
            learnt = HostPins(STORE, entry_match(entry), entry)
            raise self.mismatch_error(learnt)(host, chain, entry.pins, port)

    def remember_headers(
        self,
        host: str,
        headers: Mapping[str, str],
        chain: Sequence[ChainCertificate],
    ) -> None:
        """Remember the ``Public-Key-Pins`` header of a 101 response, if it may be.

        Only for a connection whose chain verified (never ``pin_only`` or a
        ``debug_ca`` chain), to a host name (RFC 7469 section 2.3.1: never
        an IP address) that ``pins=`` does not cover. An invalid header
        changes nothing; why it was ignored is logged.
        """
        store = self.store
        names = {name.lower() for name in headers}
        if store is None or not names & {
            hpkp.ENFORCE_HEADER.lower(),
            hpkp.REPORT_ONLY_HEADER.lower(),
        }:
            return
        reason = self._why_not_remembered(host, chain)
        if reason is not None:
            logger.info(
                "ignoring the Public-Key-Pins headers from %s: %s", host, reason
            )
            return
        name = normalize_hostname(host)
        digests = {Pin.parse(cert.pin).digest for cert in chain}
        header = hpkp.read_response(headers, digests, host=name, warn=self._warn)
        if header is None:
            return
        if header.max_age == 0:

            def removable(entry: PinStoreEntry) -> bool:
                # A -Report-Only removal never lifts enforced pins.
                return entry.source == HPKP and (
                    entry.report_only or not header.report_only
                )

            if store._remove_if(name, removable):
                logger.info("pin store %s: %s removed its pins", store.path, name)
            return
        now = utc_now()
        entry = PinStoreEntry(
            host=name,
            pins=tuple(str(pin) for pin in header.pins),
            source=HPKP,
            first_seen=now,
            expires=hpkp.expiry(header, now),
            include_subdomains=header.include_subdomains,
            report_only=header.report_only,
            report_uri=header.report_uri,
        )
        current = store.get(name)
        if current is not None and _same_declaration(current, entry):
            return
        if (
            current is not None
            and current.source == HPKP
            and current.pins == entry.pins
        ):
            entry = dataclasses.replace(entry, first_seen=current.first_seen)
        if store._put(entry, replaces=(TOFU, HPKP)):
            logger.info(
                "pin store %s: remembered %s's %s header: %s until %s",
                store.path,
                name,
                hpkp.REPORT_ONLY_HEADER if header.report_only else hpkp.ENFORCE_HEADER,
                list(entry.pins),
                entry.expires,
            )
        else:
            logger.info(
                "ignoring the Public-Key-Pins header from %s: pins added by "
                "hand to %s take precedence",
                name,
                store.path,
            )

    def _ends_at_debug_ca(self, chain: Sequence[ChainCertificate]) -> bool:
        return (
            self.debug_ca_digest is not None
            and bool(chain)
            and Pin.parse(chain[-1].pin).digest == self.debug_ca_digest
        )

    def _warn(self, message: str) -> None:
        store = self.store
        if store is None or store._throttle.due(message):
            logger.warning("%s", message)
        else:
            logger.debug("%s", message)

    def _why_not_remembered(
        self, host: str, chain: Sequence[ChainCertificate]
    ) -> Optional[str]:
        if self.pin_only:
            return "pin_only=True verifies no chain"
        if not chain:
            return "no verified chain"
        if self._ends_at_debug_ca(chain):
            return "the chain ends at the debug_ca"
        if as_ip_address(host) is not None:
            return "an IP address is never pinned by header (RFC 7469 section 2.3.1)"
        try:
            covered = self.policy.match(host) is not None
        except UnpinnedHostError:
            covered = False
        if covered:
            return "pins= covers the host, and pins= always win"
        return None


def _same_declaration(current: PinStoreEntry, new: PinStoreEntry) -> bool:
    if current.expires is None or new.expires is None:
        return False
    return (
        dataclasses.replace(current, first_seen=new.first_seen, expires=new.expires)
        == new
        and abs(new.expires - current.expires) < _EXPIRY_SLACK
    )


def _is_host_name(host: str) -> bool:
    try:
        normalize_hostname(host)
    except ValueError:
        return False
    return True
