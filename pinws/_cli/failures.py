"""What a refused handshake means on the command line.

The library's messages advise Python callers (``ca_certs=``,
``pin_only=True``); here the same failures get a machine-readable reason
(``pinws check --json``) and advice in command-line terms, which takes
into account what the user already gave (``--ca-certs``).
"""

from __future__ import annotations

from typing import Optional

from .._errors import (
    CertificateVerificationError,
    HostnameMismatchError,
    PinMismatchError,
    PinningError,
)
from .._tls.verify import describe_verify_error

__all__ = ["CRITICAL_REASONS", "describe_refusal"]

#: Reasons that mean the server fails the check (exit 2), rather than that
#: it could not be checked (exit 3).
CRITICAL_REASONS = frozenset(
    {
        "pin_mismatch",
        "hostname_mismatch",
        "certificate_expired",
        "certificate_not_yet_valid",
        "certificate_revoked",
        "certificate_untrusted",
        "certificate_invalid",
    }
)

# OpenSSL X509_V_ERR codes, by what they mean for the user.
_DATES = {9: "certificate_not_yet_valid", 10: "certificate_expired"}
_UNTRUSTED = frozenset({2, 18, 19, 20, 21, 28})
_SELF_SIGNED = 18
_REVOKED = 23


def describe_refusal(exc: PinningError, *, ca_certs: Optional[str]) -> tuple[str, str]:
    """The reason word and the command-line message for a refused handshake.

    Args:
        exc: what the pinned handshake raised.
        ca_certs: the ``--ca-certs`` given, if any (it changes the advice).
    """
    if isinstance(exc, HostnameMismatchError):
        return "hostname_mismatch", str(exc)
    if isinstance(exc, CertificateVerificationError):
        return _certificate_failure(exc, ca_certs)
    if isinstance(exc, PinMismatchError):
        return "pin_mismatch", str(exc)
    return "tls_error", str(exc)


def _certificate_failure(
    exc: CertificateVerificationError, ca_certs: Optional[str]
) -> tuple[str, str]:
    code = exc.verify_code
    if code is None:
        return "certificate_invalid", str(exc)
    if code in _DATES:
        reason = _DATES[code]
    elif code == _REVOKED:
        reason = "certificate_revoked"
    elif code in _UNTRUSTED:
        reason = "certificate_untrusted"
    else:
        reason = "certificate_invalid"
    what = describe_verify_error(code, advice=False)
    message = str(
        CertificateVerificationError(exc.hostname, what, exc.depth, exc.subject)
    )
    advice = ""
    if reason == "certificate_untrusted":
        if ca_certs is not None:
            advice = f"is the server's CA in --ca-certs {ca_certs}?"
        else:
            advice = "for a private CA add --ca-certs FILE"
        if code == _SELF_SIGNED:
            advice += "; for a self-signed device, pin its own key (--pin-only)"
    return reason, message + (f" -- {advice}" if advice else "")
