"""The Certificate Transparency verdict for one leaf: a pure function.

:func:`evaluate` takes the leaf, its issuer from the verified chain, a log
list and the time, and returns a status for every embedded SCT and whether
the leaf meets the policy browsers apply to embedded SCTs:

- an SCT is *valid* when its log is in the list, its signature verifies
  over the RFC 6962 precertificate entry, its timestamp is not in the
  future, the leaf's ``notAfter`` lies in the log's temporal interval, and
  the log was acceptable at the SCT's time (``qualified``, ``usable``,
  ``readonly``, or ``retired`` after it; never ``pending`` or
  ``rejected``);
- a leaf valid for at most 180 days needs 2 valid SCTs, a longer one 3,
  each from a different log (an SCT counts once), and the valid SCTs must
  come from at least 2 log operators.

No I/O, no clock, no OpenSSL: everything it needs is an argument.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
from collections.abc import Callable
from typing import Optional

from cryptography import x509

from .._errors import CT_MIN_OPERATORS, SCTResult, describe_ct_failure
from .._pins.pin import Pin
from .loglist import CTLog, CTLogList, LogKey
from .sct import EmbeddedSCT, decode_embedded_scts, signature_verifies, signed_data

#: ``verify(sct, log_key, signed_data) -> bool``: checks one SCT's signature.
SignatureCheck = Callable[[EmbeddedSCT, LogKey, bytes], bool]

__all__ = [
    "INVALID_SIGNATURE",
    "LOG_NOT_ACCEPTABLE",
    "MIN_OPERATORS",
    "SCT_STATUSES",
    "CTVerdict",
    "SCTResult",
    "SignatureCheck",
    "evaluate",
    "required_scts",
]

VALID = "valid"
UNKNOWN_LOG = "unknown_log"
INVALID_SIGNATURE = "invalid_signature"
LOG_NOT_ACCEPTABLE = "log_not_acceptable"
FUTURE_TIMESTAMP = "future_timestamp"
#: Every status an SCT can have.
SCT_STATUSES = (
    VALID,
    UNKNOWN_LOG,
    INVALID_SIGNATURE,
    LOG_NOT_ACCEPTABLE,
    FUTURE_TIMESTAMP,
)

MIN_OPERATORS = CT_MIN_OPERATORS
_SHORT_LIVED = datetime.timedelta(days=180)
_ACCEPTABLE = frozenset(("qualified", "usable", "readonly"))


@dataclasses.dataclass(frozen=True)
class CTVerdict:
    """The Certificate Transparency verdict on one certificate.

    Attributes:
        scts: one :class:`SCTResult` per embedded SCT, in the leaf's order.
        required: valid SCTs the leaf needs (2 or 3, by its lifetime).
        valid_logs: how many different logs issued a valid SCT.
        operators: the operators of those logs, sorted.
        problem: why the SCT list could not be read, or ``None``.

    .. versionadded:: 0.1
    """

    scts: tuple[SCTResult, ...]
    required: int
    valid_logs: int
    operators: tuple[str, ...]
    problem: Optional[str] = None

    @property
    def passed(self) -> bool:
        """Whether the certificate meets the policy."""
        return (
            self.problem is None
            and self.valid_logs >= self.required
            and len(self.operators) >= MIN_OPERATORS
        )

    @property
    def reason(self) -> str:
        """The verdict in one sentence."""
        return describe_ct_failure(
            self.required, self.valid_logs, len(self.operators), self.problem
        )


def required_scts(leaf: x509.Certificate) -> int:
    """Valid SCTs *leaf* needs: 2 for a lifetime of 180 days or less, else 3."""
    lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    return 2 if lifetime <= _SHORT_LIVED else 3


def issuer_key_hash(issuer: x509.Certificate) -> bytes:
    """SHA-256 of *issuer*'s DER SubjectPublicKeyInfo (RFC 6962's issuer_key_hash).

    The very digest a pin is.
    """
    return Pin.from_public_key(issuer.public_key()).digest


def evaluate(
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    logs: CTLogList,
    now: datetime.datetime,
    *,
    verify: SignatureCheck = signature_verifies,
) -> CTVerdict:
    """Judge the SCTs embedded in *leaf* against *logs* at time *now*.

    Args:
        leaf: the server's certificate.
        issuer: the certificate that issued *leaf*, from the verified chain.
        logs: the log list.
        now: the current time (aware).
        verify: checks a signature (a memoising wrapper of
            :func:`~pinws._ct.sct.signature_verifies`, say).

    Returns:
        the verdict; it never raises for anything the certificate holds.
    """
    required = required_scts(leaf)
    try:
        embedded = decode_embedded_scts(leaf)
    except ValueError as exc:
        return CTVerdict((), required, 0, (), problem=str(exc))
    key_hash = issuer_key_hash(issuer) if embedded.scts else b""
    tbs = embedded.tbs_precertificate
    not_after = leaf.not_valid_after_utc
    results = tuple(
        _judge(sct, logs.get(sct.log_id), tbs, key_hash, not_after, now, verify)
        for sct in embedded.scts
    )
    valid = {r.log_id: r.operator for r in results if r.status == VALID}
    operators = tuple(sorted({op for op in valid.values() if op is not None}))
    return CTVerdict(results, required, len(valid), operators)


def _judge(
    sct: EmbeddedSCT,
    log: Optional[CTLog],
    tbs: bytes,
    key_hash: bytes,
    not_after: datetime.datetime,
    now: datetime.datetime,
    verify: SignatureCheck,
) -> SCTResult:
    def result(status: str, detail: str = "") -> SCTResult:
        return SCTResult(
            log_id=base64.b64encode(sct.log_id).decode("ascii"),
            log_description=log.description if log else None,
            operator=log.operator if log else None,
            timestamp=sct.timestamp,
            status=status,
            detail=detail,
        )

    if log is None:
        return result(UNKNOWN_LOG, "the log list has no log with this ID")
    if not verify(sct, log.key, signed_data(sct, tbs, key_hash)):
        return result(
            INVALID_SIGNATURE,
            "the signature does not verify over this certificate and issuer",
        )
    when = sct.timestamp
    if when > now:
        return result(FUTURE_TIMESTAMP, f"the timestamp is after now ({_iso(now)})")
    if log.temporal_interval is not None:
        start, end = log.temporal_interval
        if not start <= not_after < end:
            return result(
                LOG_NOT_ACCEPTABLE,
                f"the certificate expires {_iso(not_after)}, outside the log's "
                f"temporal interval [{_iso(start)}, {_iso(end)})",
            )
    if log.state in _ACCEPTABLE:
        return result(VALID)
    if log.state == "retired" and when < log.state_since:
        return result(VALID)
    if log.state == "retired":
        return result(
            LOG_NOT_ACCEPTABLE,
            f"the log was retired {_iso(log.state_since)}, before this SCT",
        )
    return result(LOG_NOT_ACCEPTABLE, f"the log is {log.state}")


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
