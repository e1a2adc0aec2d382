"""The exceptions pinws raises.

The tree::

    websocket.WebSocketException
    └── PinningError                    every refusal pinws makes
        ├── PinMismatchError            the chain verified, no pin matched
        │   └── StoredPinMismatchError  ...the pins a PinStore remembered
        ├── CertificateVerificationError the chain did not verify at all
        │   └── HostnameMismatchError   ...or not for this host name
        ├── TLSHandshakeError           TLS failed for another reason
        ├── InsecureRedirectError       a redirect pointed at plaintext
        ├── UnpinnedHostError           the pin policy does not cover the host
        └── CTPolicyError               Certificate Transparency policy failed
    ValueError
    └── InvalidPinError                 a malformed pin or pin configuration
        └── PinConfigError              a malformed pin configuration file

Every one of them has a one-line :attr:`~PinningError.summary` for a status
bar or a dialog's title; ``str()`` stays the complete message.
"""

from __future__ import annotations

import dataclasses
import datetime
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Optional

from websocket import WebSocketException

if TYPE_CHECKING:
    from cryptography import x509


def _one_line(text: str) -> str:
    """*text* with every run of white space, line breaks included, one space."""
    return " ".join(text.split())


def _first_line(message: str, fallback: str) -> str:
    lines = [line for line in message.splitlines() if line.strip()]
    return _one_line(lines[0]) if lines else fallback


__all__ = [
    "CTPolicyError",
    "CertificateVerificationError",
    "ChainCertificate",
    "HostnameMismatchError",
    "InsecureRedirectError",
    "InvalidPinError",
    "PinConfigError",
    "PinMismatchError",
    "PinningError",
    "SCTResult",
    "StoredPinMismatchError",
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

    @property
    def summary(self) -> str:
        """The problem in one line, for a status bar or a form's error label.

        The message itself is one line already, but a reason may quote
        multi-line input; ``str()`` is left as it is.

        .. versionadded:: 0.1
        """
        return _first_line(str(self), type(self).__name__)


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

    ``str()`` is the complete message, which may take several lines (a
    :class:`PinMismatchError` lists the whole chain);
    :attr:`PinningError.summary` is one line, for a status bar, a
    notification or a dialog's title.
    """

    @property
    def summary(self) -> str:
        """What was refused and for which host, in one line with no line break.

        For a status bar, a log line or a dialog's title; show ``str()`` (in
        the dialog's details, say) for everything needed to fix it.

        .. versionadded:: 0.1
        """
        return _first_line(str(self), type(self).__name__)


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

    @property
    def summary(self) -> str:
        """The host, and that its chain matches none of the pins, in one line.

        .. versionadded:: 0.1
        """
        where = self.hostname if self.port is None else f"{self.hostname}:{self.port}"
        count = len(self.pins)
        noun = "pin" if count == 1 else "pins"
        return (
            f"Pin mismatch for {where}: the server's certificate chain matches "
            f"none of the {count} configured {noun}"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.hostname, self.chain, self.pins, self.port))


class StoredPinMismatchError(PinMismatchError):
    """The server's key is not the one a :class:`PinStore` remembered.

    Raised, inside the handshake, when a host whose pins come from a pin
    store (learnt on first use, from a ``Public-Key-Pins`` header, or added
    by hand) presents a chain none of them matches. The message reads like
    SSH's warning: the host, the remembered pins and when they were first
    seen, the key presented, and the command and the call that forget the
    entry. It has :class:`PinMismatchError`'s attributes, and these.

    Attributes:
        source: how the pins were learnt: ``"tofu"``, ``"hpkp"`` or
            ``"manual"``.
        first_seen: when the store first saw them (aware UTC datetime).
        stored_host: the store's entry name (a parent domain when the entry
            includes subdomains).
        store_path: the store's file.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        hostname: str,
        chain: Sequence[ChainCertificate],
        pins: Sequence[str],
        port: Optional[int] = None,
        source: str = "tofu",
        first_seen: Optional[datetime.datetime] = None,
        stored_host: Optional[str] = None,
        store_path: str = "",
    ) -> None:
        self.source = source
        self.first_seen = first_seen
        self.stored_host = stored_host or hostname
        self.store_path = store_path
        super().__init__(hostname, chain, pins, port)

    def _describe(self) -> str:
        where = self.hostname if self.port is None else f"{self.hostname}:{self.port}"
        when = (
            self.first_seen.astimezone(datetime.timezone.utc).strftime(
                "%Y-%m-%d %H:%M:%S UTC"
            )
            if self.first_seen is not None
            else "an unknown date"
        )
        learnt = {
            "tofu": f"trusted on first use on {when}",
            "hpkp": f"declared in a Public-Key-Pins header on {when}",
            "manual": f"added to the pin store on {when}",
        }.get(self.source, f"remembered on {when}")
        headline = (
            f"WARNING: THE KEY OF {where} HAS CHANGED since it was first seen."
            if self.source == "tofu"
            else f"WARNING: {where} NO LONGER MATCHES ITS REMEMBERED PINS."
        )
        presented = self.chain[0].pin if self.chain else "(no certificate)"
        lines = [
            headline,
            "  Someone may be intercepting this connection (a man-in-the-middle),",
            "  or the server's key was legitimately replaced. Nothing was sent to it.",
            f"  Remembered ({learnt}):",
        ]
        lines.extend(f"    {pin}" for pin in self.pins)
        lines.append(f"  Key presented now: {presented}")
        if len(self.chain) > 1:
            lines.append("  Verified chain (leaf first):")
            lines.extend(
                f"    depth {cert.depth}: {cert.pin}: {cert.subject}"
                for cert in self.chain
            )
        elif self.chain:
            lines.append(f"    ({self.chain[0].subject})")
        command = f"pinws store forget {shlex.quote(self.stored_host)}"
        if self.store_path:
            command += f" --store {shlex.quote(self.store_path)}"
        lines += [
            "  If you know the key changed, forget the old one and connect again:",
            f"    {command}",
            f'  or, in Python: store.forget("{self.stored_host}")',
        ]
        return "\n".join(lines)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (
            type(self),
            (
                self.hostname,
                self.chain,
                self.pins,
                self.port,
                self.source,
                self.first_seen,
                self.stored_host,
                self.store_path,
            ),
        )


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
        location: the URL the server redirected to (empty when the redirect
            named none).
        reason: why it is not followed.
        hostname: the host that sent the redirect, ``None`` if unknown.
    """

    def __init__(
        self, location: str, reason: str, *, hostname: Optional[str] = None
    ) -> None:
        self.location = location
        self.reason = reason
        self.hostname = hostname
        source = f" from {hostname}" if hostname else ""
        super().__init__(f"refusing redirect{source} to {location!r}: {reason}")

    @property
    def summary(self) -> str:
        """The redirect refused, and the host that sent it, in one line.

        .. versionadded:: 0.1
        """
        target = self.location or "(no Location)"
        source = f" from {self.hostname}" if self.hostname else ""
        return _one_line(f"Refused redirect{source} to {target}: {self.reason}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (
            _rebuild_redirect_error,
            (type(self), self.location, self.reason, self.hostname),
        )


def _rebuild_redirect_error(
    cls: type[InsecureRedirectError],
    location: str,
    reason: str,
    hostname: Optional[str],
) -> InsecureRedirectError:
    return cls(location, reason, hostname=hostname)


class UnpinnedHostError(PinningError):
    """The client's pin policy covers no pattern matching this host.

    A :class:`PinPolicy` fails closed: it refuses hosts it has no pins for,
    unless it was built with ``allow_unpinned=True``.

    Attributes:
        hostname: the host that is not covered.
        store_path: the :class:`PinStore` that has no entry for it either,
            if the client has one.
    """

    def __init__(self, hostname: str, store_path: Optional[str] = None) -> None:
        self.hostname = hostname
        self.store_path = store_path
        if store_path is None:
            message = (
                f"no pins are configured for host {hostname!r} and the pin policy "
                "does not allow unpinned hosts; add a pattern for it to the policy "
                "(or build the policy with allow_unpinned=True)"
            )
        else:
            message = (
                f"no pins are configured for host {hostname!r}, the pin store "
                f"{store_path} has none for it and does not trust on first use, "
                "and the pin policy does not allow unpinned hosts; add its pins "
                f"(pinws store add {shlex.quote(hostname)} PIN... --store "
                f"{shlex.quote(store_path)}) or use "
                "PinStore(..., trust_on_first_use=True)"
            )
        super().__init__(message)

    @property
    def summary(self) -> str:
        """The host the pin policy has no pins for, in one line.

        .. versionadded:: 0.1
        """
        return f"No pins are configured for {self.hostname}; refused"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.hostname, self.store_path))


@dataclasses.dataclass(frozen=True)
class SCTResult:
    """The verdict on one embedded SCT.

    Attributes:
        log_id: the ID of the log that issued it, base64.
        log_description: the log's name, ``None`` if the list lacks it.
        operator: the log's operator, ``None`` if the list lacks the log.
        timestamp: the SCT's timestamp (aware UTC).
        status: ``"valid"``, ``"unknown_log"``, ``"invalid_signature"``,
            ``"log_not_acceptable"`` or ``"future_timestamp"``.
        detail: why, in words (empty for a valid SCT).

    .. versionadded:: 0.1
    """

    log_id: str
    log_description: Optional[str]
    operator: Optional[str]
    timestamp: datetime.datetime
    status: str
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (the timestamp in RFC 3339)."""
        return {
            "log_id": self.log_id,
            "log_description": self.log_description,
            "operator": self.operator,
            "timestamp": self.timestamp.isoformat().replace("+00:00", "Z"),
            "status": self.status,
            "detail": self.detail,
        }


#: Valid SCTs must come from at least this many different log operators.
CT_MIN_OPERATORS = 2


def describe_ct_failure(
    required: int, valid_logs: int, operators: int, problem: Optional[str] = None
) -> str:
    """A Certificate Transparency verdict in one sentence, from its counts."""
    if problem is not None:
        return f"the certificate's SCT list cannot be read ({problem})"
    return (
        f"the certificate needs {required} valid SCTs from at least "
        f"{CT_MIN_OPERATORS} log operators; it has {valid_logs} valid "
        f"SCT{'s' if valid_logs != 1 else ''} from {operators} "
        f"operator{'s' if operators != 1 else ''}"
    )


class CTPolicyError(PinningError):
    """The server's certificate fails the Certificate Transparency policy.

    Raised inside the TLS handshake, so nothing of the WebSocket upgrade
    request was sent. ``str()`` gives the host, the verdict and every
    embedded SCT with its status.

    Attributes:
        hostname: the host name (or IP address) that was connected to.
        port: the TCP port, or ``None`` when unknown.
        required: valid SCTs the certificate needed (2 or 3, by lifetime).
        scts: one :class:`SCTResult` per embedded SCT: ``log_id``,
            ``log_description``, ``operator``, ``timestamp``, ``status``.
        problem: why the SCT list could not be read, or ``None``.
        reason: the verdict in one sentence.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        hostname: str,
        required: int,
        scts: Sequence[SCTResult],
        port: Optional[int] = None,
        problem: Optional[str] = None,
    ) -> None:
        self.hostname = hostname
        self.port = port
        self.required = required
        self.scts = tuple(scts)
        self.problem = problem
        valid = {s.log_id: s.operator for s in self.scts if s.status == "valid"}
        operators = {op for op in valid.values() if op is not None}
        self.reason = describe_ct_failure(required, len(valid), len(operators), problem)
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = self.hostname if self.port is None else f"{self.hostname}:{self.port}"
        lines = [f"Certificate Transparency failure for {where}: {self.reason}."]
        if self.scts:
            lines.append("  Embedded SCTs:")
        elif self.problem is None:
            lines.append("  The certificate has no embedded SCTs.")
        for sct in self.scts:
            log = sct.log_description or f"unknown log {sct.log_id}"
            operator = f" ({sct.operator})" if sct.operator else ""
            when = sct.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
            detail = f": {sct.detail}" if sct.detail else ""
            lines.append(f"    {sct.status}: {log}{operator}, {when}{detail}")
        return "\n".join(lines)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (
            type(self),
            (self.hostname, self.required, self.scts, self.port, self.problem),
        )
