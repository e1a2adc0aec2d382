"""What pinws derives from a verified chain, worked out once per chain.

Every connection to a server verifies the same certificates, and what the
handshake needs of them -- each key's SPKI digest, each subject as text, the
canonical pins, whether the leaf is valid for the host name -- depends on
the certificates' bytes alone. Working it out costs more than the rest of
the verify callback (service-identity's host name check most of all), so it
is kept for the chains seen last, in a small process-wide cache.

Sharing is also what keeps an idle connection small: the certificates a
connection reports (``verified_chain``) are the ones cached, not a parsed
copy per connection.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any, Callable

from cryptography import x509

from .._errors import ChainCertificate
from .._pins.pin import Pin, spki_digest

__all__ = ["CHAINS", "ChainCache", "DescribedChain"]

#: A chain as the handshake reports it, and its keys' SPKI digests.
DescribedChain = tuple[tuple[ChainCertificate, ...], tuple[bytes, ...]]


class ChainCache:
    """Chains described, and host names checked, for the chains seen last.

    Keys are the certificates themselves (equal when their DER is), so a
    result is only ever reused for the same bytes. Thread-safe; bounded to
    *size* chains and *size* host name checks, least recently used dropped
    first.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._chains: OrderedDict[tuple[x509.Certificate, ...], DescribedChain] = (
            OrderedDict()
        )
        self._names: OrderedDict[tuple[x509.Certificate, str], None] = OrderedDict()

    def describe(self, certs: Sequence[x509.Certificate]) -> DescribedChain:
        """The :class:`ChainCertificate` entries of *certs* (leaf first), and
        their SPKI digests."""
        key = tuple(certs)
        with self._lock:
            known = self._chains.get(key)
            if known is not None:
                self._chains.move_to_end(key)
                return known
        digests = tuple(spki_digest(cert) for cert in key)
        entries = tuple(
            ChainCertificate(
                depth, cert.subject.rfc4514_string(), str(Pin(digest)), cert
            )
            for depth, (cert, digest) in enumerate(zip(key, digests))
        )
        described = (entries, digests)
        self._remember(self._chains, key, described)
        return described

    def check_name(
        self,
        leaf: x509.Certificate,
        hostname: str,
        check: Callable[[x509.Certificate, str], None],
    ) -> None:
        """Run ``check(leaf, hostname)`` unless it passed for these before.

        Only a pass is remembered: a failure raises again, with its message,
        every time.
        """
        key = (leaf, hostname)
        with self._lock:
            if key in self._names:
                self._names.move_to_end(key)
                return
        check(leaf, hostname)
        self._remember(self._names, key, None)

    def _remember(
        self, table: OrderedDict[Any, Any], key: Hashable, value: object
    ) -> None:
        with self._lock:
            table[key] = value
            table.move_to_end(key)
            while len(table) > self._size:
                table.popitem(last=False)

    def clear(self) -> None:
        """Forget every chain and host name check."""
        with self._lock:
            self._chains.clear()
            self._names.clear()


#: The process-wide cache the handshake verifier uses.
CHAINS = ChainCache(64)
