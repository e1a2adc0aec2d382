"""The process-wide cache of TLS sessions that pinned handshakes may resume.

A resumed handshake carries no certificate, so OpenSSL never calls the verify
callback, and the pin check that lives there does not run. pinws resumes
anyway, as OkHttp and Chrome do, because of what it keeps and when it looks:

- a session is stored only from a handshake whose verdict accepted the
  server, together with the chain that handshake verified;
- it is offered only for the same host name, port and trust configuration
  (the shared context's key: trust store files, ciphers, curves), and only
  after that stored chain has been judged again against the pins, host name
  and Certificate Transparency policy that apply *now*;
- once the server resumed it, the chain is judged once more, inside
  ``TLSClient.wrap``, before a byte of the WebSocket Upgrade is written;
- an entry lives at most :data:`SESSION_LIFETIME` seconds after the full
  handshake that verified its chain (resuming never extends it), and never
  past the ``notAfter`` of a certificate of that chain.

Why a resumed session may stand for its chain: it is keyed by a secret that
only the two ends of the full handshake know, and that handshake authenticated
the server with the private key of the verified (pinned) chain. A peer that
resumes it is that server, or holds its session-ticket keys.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Optional

from cryptography import x509
from OpenSSL import SSL

from .._errors import ChainCertificate
from .._log import get_logger

__all__ = [
    "SESSIONS",
    "SESSION_CACHE_SIZE",
    "SESSION_LIFETIME",
    "CachedSession",
    "SessionCache",
    "SessionKey",
    "SessionSlot",
    "chain_expiry",
    "clear_session_cache",
]

logger = get_logger("tls")

#: Seconds a session may be resumed after the full handshake that verified
#: its chain (OkHttp's and Chrome's caches keep theirs a few hours; an hour
#: bounds how long a server that changed its certificate but kept its
#: ticket keys goes on being trusted with the old chain).
SESSION_LIFETIME = 3600.0
#: Sessions kept, process-wide; the least recently used goes first.
SESSION_CACHE_SIZE = 256
#: Seconds no session is kept for a server that did not resume the one it
#: was offered (it sends no tickets, or forgot them): offering a session
#: that cannot resume costs a handshake about 40 microseconds for nothing.
DECLINED_BACKOFF = 60.0

#: (host name or IP address as verified, port, shared context key).
SessionKey = tuple[str, Optional[int], Hashable]


@dataclasses.dataclass(frozen=True, eq=False)
class CachedSession:
    """One resumable session and what its full handshake established.

    Attributes:
        session: the OpenSSL session, to offer with ``set_session``.
        chain: the chain the full handshake verified, leaf first (with the
            certificates, so the host name and CT can be checked again).
        expires: when it stops being offered, in :func:`time.time` seconds.
    """

    session: SSL.Session
    chain: tuple[ChainCertificate, ...]
    expires: float

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The chain's certificates, leaf first."""
        return tuple(entry.certificate for entry in self.chain)


def chain_expiry(chain: Sequence[ChainCertificate]) -> Optional[float]:
    """The earliest ``notAfter`` of *chain*, in :func:`time.time` seconds."""
    ends = [entry.certificate.not_valid_after_utc.timestamp() for entry in chain]
    return min(ends) if ends else None


class SessionCache:
    """Resumable sessions by (host, port, trust configuration); thread-safe.

    Args:
        size: how many entries are kept (least recently used go first).
        lifetime: seconds an entry lives after its chain was verified.
        clock: the wall clock (:func:`time.time`), which certificate
            validity is compared with.
    """

    def __init__(
        self,
        size: int = SESSION_CACHE_SIZE,
        *,
        lifetime: float = SESSION_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.size = size
        self.lifetime = lifetime
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[SessionKey, CachedSession] = OrderedDict()
        # Servers that did not resume what they were offered, and until when
        # nothing is kept for them.
        self._declined: OrderedDict[SessionKey, float] = OrderedDict()

    def get(self, key: SessionKey) -> Optional[CachedSession]:
        """The unexpired entry for *key* (now the most recently used), if any."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry.expires <= now:
                del self._entries[key]
                expired = True
            else:
                self._entries.move_to_end(key)
                expired = False
        if expired:
            logger.debug("TLS session for %s:%s expired; dropped", key[0], key[1])
            return None
        return entry

    def put(
        self,
        key: SessionKey,
        session: SSL.Session,
        chain: Sequence[ChainCertificate],
        *,
        expires: Optional[float] = None,
    ) -> Optional[CachedSession]:
        """Store *session* for *key*, with the *chain* its handshake verified.

        Args:
            key: the host, port and trust configuration it may be offered to.
            session: from ``Connection.get_session()`` of an accepted
                connection.
            chain: the verified chain of the full handshake behind it.
            expires: keep this expiry (a resumed connection's session must
                not outlive the full handshake it came from); by default,
                :attr:`lifetime` from now, or the chain's earliest
                ``notAfter`` if that comes first.

        Returns:
            the entry, or ``None`` when it would already have expired.
        """
        now = self.clock()
        with self._lock:
            until = self._declined.get(key)
            if until is not None and until > now:
                return None
        if expires is None:
            expires = now + self.lifetime
        not_after = chain_expiry(chain)
        if not_after is not None:
            expires = min(expires, not_after)
        if not chain or expires <= now:
            return None
        entry = CachedSession(session, tuple(chain), expires)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return entry

    def discard(self, key: SessionKey, entry: Optional[CachedSession] = None) -> bool:
        """Drop *key*'s entry -- only if it is still *entry*, when given.

        Returns:
            whether an entry was dropped.
        """
        with self._lock:
            current = self._entries.get(key)
            if current is None or (entry is not None and current is not entry):
                # Another connection stored a newer session meanwhile.
                return False
            del self._entries[key]
            return True

    def declined(self, key: SessionKey) -> None:
        """Note that the server for *key* did not resume the session offered.

        Its entry is dropped, and for :data:`DECLINED_BACKOFF` seconds no
        new one is kept: a server that sends no tickets would otherwise be
        offered a session it cannot resume on every connection.
        """
        until = self.clock() + DECLINED_BACKOFF
        with self._lock:
            self._entries.pop(key, None)
            self._declined[key] = until
            self._declined.move_to_end(key)
            while len(self._declined) > self.size:
                self._declined.popitem(last=False)

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._declined.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries


#: The one cache every pinned client shares.
SESSIONS = SessionCache()


@dataclasses.dataclass(frozen=True)
class SessionSlot:
    """Where an accepted connection's session goes once it is resumable.

    TLS 1.3 servers send their session tickets after the handshake, so the
    session is taken later (see ``PinnedSocket.keep_session``), not when
    ``TLSClient.wrap`` returns.

    Attributes:
        cache: the cache to store it in.
        key: the host, port and trust configuration it was verified for.
        chain: the chain verified for it.
        expires: the expiry to keep (a resumed session's), or ``None``.
    """

    cache: SessionCache
    key: SessionKey
    chain: tuple[ChainCertificate, ...]
    expires: Optional[float] = None

    def keep(self, session: SSL.Session) -> None:
        """Store *session* under this slot's key."""
        if self.cache.put(self.key, session, self.chain, expires=self.expires):
            logger.debug("TLS session for %s:%s kept", self.key[0], self.key[1])


def clear_session_cache() -> None:
    """Forget every TLS session pinws keeps for resumption.

    pinws resumes a TLS session only for the same host, port and trust
    store, and judges the chain that the session's full handshake verified
    against the pins in force before and after resuming it. Call this to
    make the next connection to every server a full handshake anyway: after
    you changed the trust store's contents in place, say, or once a server's
    key is known to be compromised.

    .. versionadded:: 0.2
    """
    SESSIONS.clear()
    logger.debug("TLS session cache cleared")
