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
    """

    verified_chain: tuple[ChainCertificate, ...] = ()
    matched_pin: Optional[Pin] = None
    verdict: Optional[Verdict] = None
    ct_verdict: Optional[CTVerdict] = None


class PinnedSocket(TLSStream):
    """A TLS socket whose handshake passed pinws's checks.

    Created by pinws for every connection; websocket-client sees it as
    ``ws.sock``. It behaves as a blocking socket honouring
    :meth:`settimeout`, and is safe for one receiving thread plus any number
    of sending threads, with :meth:`close` from any thread.

    Args:
        connection: a client :class:`OpenSSL.SSL.Connection` created over
            memory BIOs (``SSL.Connection(context, None)``).
        raw: the connected TCP socket.
        timeout: seconds every blocking call may wait (``None``: no limit).
        wakeup: when set, every wait of this socket ends (with
            :class:`pinws.ConnectionInterrupted`).

    Attributes:
        outcome: what the handshake established (a ``HandshakeOutcome``).
    """

    __slots__ = ("outcome",)

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
