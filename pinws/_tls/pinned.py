"""PinnedSocket: the TLS stream of a handshake that passed pinws's checks."""

from __future__ import annotations

import dataclasses
import socket
from typing import TYPE_CHECKING, Optional

from OpenSSL import SSL

from .._errors import ChainCertificate
from .._pins.pin import Pin
from .._transport.socket import TLSStream
from .._transport.wait import Wakeup
from .sessions import SessionSlot

if TYPE_CHECKING:
    from .._ct.policy import CTVerdict
    from .._pins.verdict import Verdict

__all__ = ["HandshakeOutcome", "PinnedSocket"]


@dataclasses.dataclass(frozen=True)
class HandshakeOutcome:
    """What the pinned handshake established, kept by the TLS layer.

    Attributes:
        verified_chain: the chain OpenSSL verified, leaf first (in pin-only
            mode, the leaf alone).
        matched_pin: the pin that matched, or ``None``.
        verdict: the pin decision (see ``pinws._pins.verdict``), or ``None``
            when the handshake did not reach it.
        ct_verdict: the Certificate Transparency verdict, or ``None``.
        resumed: whether the handshake resumed a TLS session. The other
            attributes are then those of the stored chain its session's full
            handshake verified, judged again against the pins in force.
    """

    verified_chain: tuple[ChainCertificate, ...] = ()
    matched_pin: Optional[Pin] = None
    verdict: Optional[Verdict] = None
    ct_verdict: Optional[CTVerdict] = None
    resumed: bool = False


class PinnedSocket(TLSStream):
    """A TLS socket whose handshake passed pinws's checks.

    Created by pinws for every connection; websocket-client sees it as
    ``ws.sock``. It behaves as a blocking socket honouring
    :meth:`settimeout`, and is safe for one receiving thread plus any number
    of sending threads, with :meth:`close` from any thread.

    Args:
        connection, raw, timeout, wakeup: as for the transport's TLS stream:
            a client connection over memory BIOs, the connected TCP socket,
            the timeout of every blocking call, the wake-up that ends them.

    Attributes:
        outcome: what the handshake established (a ``HandshakeOutcome``).
    """

    __slots__ = ("_session_slot", "outcome")

    def __init__(
        self,
        connection: SSL.Connection,
        raw: socket.socket,
        timeout: Optional[float],
        *,
        wakeup: Optional[Wakeup] = None,
    ) -> None:
        super().__init__(connection, raw, timeout, wakeup=wakeup)
        self.outcome = HandshakeOutcome()
        self._session_slot: Optional[SessionSlot] = None

    def offer_session_to(self, slot: Optional[SessionSlot]) -> None:
        """Have :meth:`keep_session` store this connection's session in *slot*.

        Called by the TLS client once the handshake's verdict accepted.
        """
        self._session_slot = slot

    def keep_session(self) -> None:
        """Keep this connection's TLS session, so that a later one may resume it.

        Call it once the server's first application data has been read (the
        WebSocket Upgrade response): a TLS 1.3 server sends its session
        tickets after the handshake, so the session is not resumable when
        the handshake returns. Only a connection the verdict accepted, and
        whose configuration allows resumption, has anywhere to keep it; the
        session is kept once, and calling this again does nothing.
        """
        slot = self._session_slot
        if slot is None:
            return
        self._session_slot = None
        # The lock every call into the Connection takes: a sending thread
        # may already be writing.
        with self._lock:
            if self._closed:
                return
            session = self._conn.get_session()
        if session is not None:
            slot.keep(session)

    @property
    def session_reused(self) -> bool:
        """Whether the handshake resumed a TLS session (as
        :attr:`ssl.SSLSocket.session_reused`)."""
        return self.outcome.resumed

    @property
    def verified_chain(self) -> tuple[ChainCertificate, ...]:
        """The chain verified in the handshake, leaf first, as
        :class:`ChainCertificate` entries."""
        return self.outcome.verified_chain

    @property
    def matched_pin(self) -> Optional[Pin]:
        """The pin that matched, ``None`` for an unpinned host (or a
        report-only / expired pin set that did not match)."""
        return self.outcome.matched_pin
