"""The traffic of the storm and soak tests, known to both ends.

Client messages are text ``"<sender>:<seq>:<padding>"``; server pushes are
binary, ``<index:8><acked:8><filler>``. Both are generated from their
numbers, so each end can check every message it gets byte for byte, and a
digest per sender (in order) proves nothing was lost, altered or reordered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
from typing import Optional

from .keyupdate import key_update, new_session_ticket
from .tlsloop import Behaviour, Session

__all__ = [
    "PUSH_SIZE",
    "Ledger",
    "SoakBehaviour",
    "StormBehaviour",
    "StormPlan",
    "expected_push_digest",
    "message",
    "parse_message",
    "parse_push",
    "push",
    "push_digest_part",
    "scaled",
    "soak_push_size",
]

#: Server pushes in the storm: 64 KiB each, as in issue 8.
PUSH_SIZE = 64 * 1024
_HEADER = 16


def scaled(name: str, default: float) -> float:
    """A size taken from the environment variable *name*, else *default*."""
    value = os.environ.get(name)
    return float(value) if value else default


def message(sender: int, seq: int, large: int = 16384) -> str:
    """Client message *seq* of *sender*: mostly under 1 KiB, every 50th
    one *large* to *large* + 24 000 bytes (by default more than one TLS
    record, so OpenSSL can be left holding a write it has half sent)."""
    size = (seq * 37 + sender * 11) % 1000
    if seq % 50 == 49:
        size = large + (seq * 97 + sender) % 24000
    return f"{sender}:{seq}:" + "x" * size


def parse_message(text: str) -> tuple[int, int]:
    sender, seq, _ = text.split(":", 2)
    return int(sender), int(seq)


def push(index: int, acked: int = 0, size: int = PUSH_SIZE) -> bytes:
    """Server push *index*, carrying the number of client messages *acked*."""
    seed = hashlib.sha256(index.to_bytes(8, "big")).digest()
    filler = (seed * (size // 32 + 1))[: max(0, size - _HEADER)]
    return index.to_bytes(8, "big") + acked.to_bytes(8, "big") + filler


def parse_push(data: bytes) -> Optional[tuple[int, int]]:
    """``(index, acked)`` if *data* is exactly the push it claims to be."""
    if len(data) < _HEADER:
        return None
    index = int.from_bytes(data[:8], "big")
    acked = int.from_bytes(data[8:16], "big")
    if data != push(index, acked, len(data)):
        return None
    return index, acked


def push_digest_part(data: bytes) -> bytes:
    """What a push digest covers: all of it but the timing-dependent ack."""
    return data[:8] + data[_HEADER:]


def expected_push_digest(count: int, size: int = PUSH_SIZE) -> str:
    """The digest of pushes 0 .. count-1, in order."""
    digest = hashlib.sha256()
    for index in range(count):
        digest.update(push_digest_part(push(index, 0, size)))
    return digest.hexdigest()


class Ledger:
    """Per-sender counts and digests of messages, in arrival order.

    ``disorder`` lists the first few messages that did not carry the next
    sequence number of their sender (lost, duplicated or reordered).
    """

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self._digests: dict[int, hashlib._Hash] = {}
        self.disorder: list[str] = []
        self.total = 0

    def add(self, sender: int, seq: int, payload: bytes) -> None:
        expected = self.counts.get(sender, 0)
        if seq != expected and len(self.disorder) < 10:
            self.disorder.append(f"sender {sender}: got {seq}, expected {expected}")
        self.counts[sender] = expected + 1
        self._digests.setdefault(sender, hashlib.sha256()).update(payload)
        self.total += 1

    def digest(self, sender: int) -> str:
        return self._digests.get(sender, hashlib.sha256()).hexdigest()

    @staticmethod
    def expected_digest(sender: int, count: int, large: int = 16384) -> str:
        """The digest of *sender*'s messages 0 .. count-1, in order."""
        digest = hashlib.sha256()
        for seq in range(count):
            digest.update(message(sender, seq, large).encode())
        return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class StormPlan:
    """How much traffic a storm carries."""

    senders: int
    per_sender: int
    pushes: int
    #: The size of every 50th client message (see :func:`message`).
    large: int = 16384
    push_size: int = PUSH_SIZE

    @property
    def total(self) -> int:
        return self.senders * self.per_sender

    def pushes_due(self, received: int) -> int:
        """Pushes the server may have sent after *received* client messages.

        Spread over the storm: the first at once, the last before the
        client's last message arrives.
        """
        return min(self.pushes, 1 + received * self.pushes // max(1, self.total))


# What the server does before each record it writes.
BEFORE_RECORD = ("requested", "not_requested", "tickets", "close_notify", "plain")


class StormBehaviour(Behaviour):
    """Records client messages, pushes 64 KiB messages, and before each
    record it writes does what *mode* says:

    ``requested`` / ``not_requested``
        a TLS 1.3 KeyUpdate, asking the client to update too (or not);
    ``tickets``
        a new session ticket;
    ``close_notify``
        nothing, but a close_notify once a quarter of the messages arrived;
    ``plain``
        nothing.
    """

    def __init__(self, plan: StormPlan, mode: str) -> None:
        assert mode in BEFORE_RECORD, mode
        self.plan = plan
        self.mode = mode
        self.ledger = Ledger()
        self.pushed = 0
        self.records = 0
        self.done = threading.Event()

    def before_record(self, session: Session) -> None:
        self.records += 1
        if self.mode == "requested":
            key_update(session.tls, requested=True)
        elif self.mode == "not_requested":
            key_update(session.tls, requested=False)
        elif self.mode == "tickets":
            new_session_ticket(session.tls)

    def on_message(self, session: Session, frame: object) -> None:
        payload: bytes = frame.data  # type: ignore[attr-defined]
        sender, seq = parse_message(payload.decode())
        self.ledger.add(sender, seq, payload)
        if (
            self.mode == "close_notify"
            and not session.close_notify_sent
            and self.ledger.total >= self.plan.total // 4
        ):
            session.send_close_notify()

    def produce(self, session: Session) -> None:
        if self.pushed < self.plan.pushes_due(self.ledger.total):
            session.send_binary(
                push(self.pushed, self.ledger.total, self.plan.push_size)
            )
            self.pushed += 1

    def on_closed(self, session: Session) -> None:
        self.done.set()


def soak_push_size(index: int) -> int:
    """Soak pushes: mostly small, every 64th one 64 KiB."""
    return PUSH_SIZE if index % 64 == 63 else _HEADER + (index * 131) % 2048


class SoakBehaviour(Behaviour):
    """Records client messages and answers each with one push that carries
    the number of messages received so far (the client's flow control);
    counts pings."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        self.pushed = 0
        self.pings = 0

    def on_message(self, session: Session, frame: object) -> None:
        payload: bytes = frame.data  # type: ignore[attr-defined]
        sender, seq = parse_message(payload.decode())
        self.ledger.add(sender, seq, payload)

    def on_ping(self, session: Session, frame: object) -> None:
        self.pings += 1

    def produce(self, session: Session) -> None:
        if self.pushed < self.ledger.total:
            index = self.pushed
            session.send_binary(push(index, self.ledger.total, soak_push_size(index)))
            self.pushed += 1
