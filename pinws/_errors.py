"""The exceptions pinws raises.

The tree::

    websocket.WebSocketException
    └── PinningError                    every refusal pinws makes
        ├── PinMismatchError            the chain verified, no pin matched
        ├── CertificateVerificationError the chain did not verify at all
        │   └── HostnameMismatchError   ...or not for this host name
        ├── TLSHandshakeError           TLS failed for another reason
        ├── InsecureRedirectError       a redirect pointed at plaintext
        └── UnpinnedHostError           the pin policy does not cover the host
    ValueError
    └── InvalidPinError                 a malformed pin or pin configuration
        └── PinConfigError              a malformed pin configuration file
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Optional

from websocket import WebSocketException

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "CertificateVerificationError",
    "ChainCertificate",
    "HostnameMismatchError",
    "InsecureRedirectError",
    "InvalidPinError",
    "PinConfigError",
    "PinMismatchError",
    "PinningError",
    "TLSHandshakeError",
    "UnpinnedHostError",
]


class InvalidPinError(ValueError):
    """A pin, or a pin configuration, is malformed.

    Raised when the pins are *given* (when a :class:`PinnedWebSocketApp`, a
    :class:`PinSet` or a policy is constructed), never later at connect time.

    Attributes:
        pin: the offending input (``None`` when the problem is the set as a
            whole, for example an empty list).
        reason: what is wrong with it, in words.
    """

    def __init__(self, pin: object, reason: str) -> None:
        self.pin = pin
        self.reason = reason
        message = reason if pin is None else f"invalid pin {pin!r}: {reason}"
        super().__init__(message)


class PinConfigError(InvalidPinError):
    """A pin configuration file is malformed.

    Raised by :meth:`PinPolicy.from_file` and
    :meth:`PinPolicy.from_android_nsc`; the message reads
    ``"<file>: <key>: <problem>"``.

    Attributes:
        source: the file (or ``"<string>"`` for text).
        key: where in the file: a dotted key path such as
            ``pin_sets[2].expires``, or an element path such as
            ``domain-config[1]/pin-set/pin[2]``; empty for the whole file.
        problem: what is wrong there, and how to fix it.
    """

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        super().__init__(None, f"{where}: {problem}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.source, self.key, self.problem))


class PinningError(WebSocketException):
    """Base class of every connection pinws refuses.

    A subclass of :class:`websocket.WebSocketException`, so code written for
    websocket-client that catches that keeps working.
    """


@dataclasses.dataclass(frozen=True)
class ChainCertificate:
    """One certificate of a verified chain, as reported in errors.

    Attributes:
        depth: 0 for the server's own (leaf) certificate, counting up to the
            trust anchor.
        subject: the subject distinguished name, RFC 4514 form.
        pin: the certificate's canonical pin, ``sha256/<base64>``.
        certificate: the certificate itself.
    """

    depth: int
    subject: str
    pin: str
    certificate: x509.Certificate = dataclasses.field(repr=False, compare=False)


class PinMismatchError(PinningError):
    """The server's chain verified, but no certificate in it matches a pin.

    The message lists the host, every certificate of the verified chain (leaf
    first, up to the trust anchor) with its pin, and the configured pins, so a
    configuration can be fixed from the message alone.

    Attributes:
        hostname: the host name (or IP address) that was connected to.
        port: the TCP port, or ``None`` when unknown.
        chain: the verified chain, a tuple of :class:`ChainCertificate`, leaf
            first.
        pins: the configured pins, canonical strings.
    """

    def __init__(
        self,
        hostname: str,
        chain: Sequence[ChainCertificate],
        pins: Sequence[str],
        port: Optional[int] = None,
    ) -> None:
        self.hostname = hostname
        self.port = port
        self.chain = tuple(chain)
        self.pins = tuple(pins)
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = self.hostname if self.port is None else f"{self.hostname}:{self.port}"
        lines = [
            f"Certificate pinning failure for {where}: no certificate of the "
            "verified chain matches a configured pin.",
            "  Verified chain (leaf first):",
        ]
        for cert in self.chain:
            anchor = " (trust anchor)" if cert.depth == len(self.chain) - 1 else ""
            lines.append(f"    depth {cert.depth}: {cert.pin}: {cert.subject}{anchor}")
        lines.append("  Configured pins:")
        lines.extend(f"    {pin}" for pin in self.pins)
        return "\n".join(lines)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.hostname, self.chain, self.pins, self.port))


class CertificateVerificationError(PinningError):
    """The server's certificate chain did not verify, so no pin was checked.

    Raised for an untrusted issuer, an expired or not-yet-valid certificate, a
    broken chain, and (see the subclass) a host name mismatch.

    Attributes:
        hostname: the host name (or IP address) that was connected to.
        reason: what OpenSSL (or the host name check) objected to.
        depth: the chain depth of the certificate at fault, ``None`` if
            unknown.
        subject: that certificate's subject, ``None`` if unknown.
        verify_code: OpenSSL's ``X509_V_ERR_*`` code (10: expired, 20:
            issuer not trusted, ...), ``None`` when OpenSSL did not object
            (a host name mismatch, say). For programs that must tell the
            causes apart without reading the message.
    """

    def __init__(
        self,
        hostname: str,
        reason: str,
        depth: Optional[int] = None,
        subject: Optional[str] = None,
        verify_code: Optional[int] = None,
    ) -> None:
        self.hostname = hostname
        self.reason = reason
        self.depth = depth
        self.subject = subject
        self.verify_code = verify_code
        detail = ""
        if depth is not None:
            detail = f" (certificate at depth {depth}"
            detail += f": {subject})" if subject else ")"
        super().__init__(
            f"TLS certificate verification failed for {hostname}: {reason}{detail}"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (
            type(self),
            (self.hostname, self.reason, self.depth, self.subject, self.verify_code),
        )


class HostnameMismatchError(CertificateVerificationError):
    """The server's certificate is not valid for the host name connected to.

    Host names are checked on every connection, pinned or not (except with
    ``pin_only=True``): a matching pin never excuses a certificate issued for
    another name.
    """


class TLSHandshakeError(PinningError):
    """The TLS handshake failed for a reason other than certificate checks.

    For example: no common protocol version or cipher, or the peer closed the
    connection mid-handshake.
    """


class InsecureRedirectError(PinningError):
    """A server redirected the pinned client to a URL it will not follow.

    pinws follows redirects only to ``wss://`` URLs; a redirect to ``ws://``
    (or anything else) is refused before any connection to it is made.

    Attributes:
        location: the URL the server redirected to.
    """

    def __init__(self, location: str, reason: str) -> None:
        self.location = location
        self.reason = reason
        super().__init__(f"refusing redirect to {location!r}: {reason}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.location, self.reason))


class UnpinnedHostError(PinningError):
    """The client's pin policy covers no pattern matching this host.

    A :class:`PinPolicy` fails closed: it refuses hosts it has no pins for,
    unless it was built with ``allow_unpinned=True``.

    Attributes:
        hostname: the host that is not covered.
    """

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        super().__init__(
            f"no pins are configured for host {hostname!r} and the pin policy "
            "does not allow unpinned hosts; add a pattern for it to the policy "
            "(or build the policy with allow_unpinned=True)"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.hostname,))
