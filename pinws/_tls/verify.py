"""The decision made inside each TLS handshake: chain, host name, pins, CT.

OpenSSL calls the verify callback once per certificate of the chain it built
from the server's certificate up to a trust anchor of the trust store, root
first and leaf (depth 0) last. :class:`HandshakeVerifier` collects those
certificates -- the *verified* chain, never extra certificates the server
merely sent -- and decides at depth 0. A refusal aborts the handshake, so not
one byte of the WebSocket upgrade request is ever written to that peer.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Optional

from cryptography import x509
from OpenSSL import SSL, crypto
from service_identity import CertificateError, VerificationError
from service_identity.cryptography import (
    verify_certificate_hostname,
    verify_certificate_ip_address,
)

from .._errors import (
    CertificateVerificationError,
    ChainCertificate,
    HostnameMismatchError,
    PinMismatchError,
    PinningError,
)
from .._log import get_logger, log_repeated
from .._pins import pinset as pinset_module
from .._pins.hostnames import as_ip_address
from .._pins.pin import Pin, spki_digest
from .._pins.pinset import PinSet
from .._pins.policy import PolicyMatch
from .._pins.report import PinFailureReport
from .._pins.verdict import Verdict, judge
from .chains import CHAINS

if TYPE_CHECKING:
    from .._ct.ctpolicy import CTPolicy
    from .._ct.policy import CTVerdict

__all__ = [
    "HandshakeVerifier",
    "describe_verify_error",
    "spki_digest",
    "verify_callback",
]

logger = get_logger("tls")

# X509_V_ERR_* codes are part of OpenSSL's stable ABI; these are the ones a
# user meets in practice.
_VERIFY_ERRORS = {
    2: "the issuer certificate could not be found",
    7: "a certificate signature is invalid",
    9: "the certificate is not yet valid (check the clocks)",
    10: "the certificate has expired",
    18: "the server's certificate is self-signed and not trusted",
    19: "the chain ends in a self-signed certificate that is not trusted",
    20: "the issuer is not in the trust store",
    21: "the leaf certificate's issuer is not in the trust store",
    22: "the certificate chain is too long",
    23: "the certificate has been revoked",
    24: "a CA certificate in the chain is not a valid CA",
    26: "a certificate in the chain is not valid for TLS server use",
    28: "the trust store does not trust this root for server authentication",
}
# What a Python caller can do about it (the CLI words its own advice).
_LIBRARY_ADVICE = {
    18: "pin it with pin_only=True, or pass its CA with ca_certs=",
    19: "pass that CA with ca_certs=",
    20: "pass the private CA with ca_certs=, or have the server send its "
    "intermediate certificates",
    21: "pass the private CA with ca_certs=",
}


def describe_verify_error(code: int, *, advice: bool = True) -> str:
    """Words for an OpenSSL X509_V_ERR code; with *advice*, the Python fix."""
    what = _VERIFY_ERRORS.get(code, f"certificate verification error {code}")
    fix = _LIBRARY_ADVICE.get(code) if advice else None
    return f"{what} ({fix})" if fix else what


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


class HandshakeVerifier:
    """The per-connection state of one handshake's verification.

    Args:
        hostname: the name (or IP address) the certificate must be valid for.
        port: the port connected to, for messages and reports.
        pin_set: the pins that apply, ``None`` for an unpinned host that the
            policy allows.
        pin_only: accept any chain whose *leaf* key is pinned: no CA path, no
            host name, no validity dates.
        debug_ca_digest: SPKI digest of a development CA whose chains are
            accepted without pins (with a warning).
        served_chain: returns the certificates the server sent (for reports).
        today: the date pin expiry is judged by (defaults to UTC today).
        match: the policy rule *pin_set* came from, for the reports'
            noted host name and include-subdomains.
        ct: the Certificate Transparency policy to apply to the leaf.
        trust_on_first_use: with no *pin_set*, accept the leaf's key in
            pin-only mode too (the caller remembers it afterwards).
        mismatch: builds the error a mismatch raises (a
            :class:`PinMismatchError`; the pin store's says more).
    """

    def __init__(
        self,
        *,
        hostname: str,
        port: Optional[int],
        pin_set: Optional[PinSet],
        pin_only: bool = False,
        debug_ca_digest: Optional[bytes] = None,
        served_chain: Callable[[], Sequence[x509.Certificate]] = tuple,
        today: Optional[datetime.date] = None,
        match: Optional[PolicyMatch] = None,
        ct: Optional[CTPolicy] = None,
        trust_on_first_use: bool = False,
        mismatch: Callable[..., PinMismatchError] = PinMismatchError,
    ) -> None:
        self.hostname = hostname
        self.ct = ct
        self.ct_verdict: Optional[CTVerdict] = None
        self.trust_on_first_use = trust_on_first_use
        self._mismatch = mismatch
        self.match = match
        self.port = port
        self.pin_set = pin_set
        self.pin_only = pin_only
        self.debug_ca_digest = debug_ca_digest
        self._served_chain = served_chain
        self._today = today
        self._chain: dict[int, x509.Certificate] = {}
        self.error: Optional[PinningError] = None
        self.report: Optional[PinFailureReport] = None
        self.accepted = False
        self.matched_pin: Optional[Pin] = None
        self.verified_chain: tuple[ChainCertificate, ...] = ()
        self.unexpected: Optional[Exception] = None
        self.verdict: Optional[Verdict] = None
        # How often OpenSSL called back (verify_callback counts): never,
        # on a resumed handshake.
        self.certificates_seen = 0

    def fail(self, exc: Exception) -> None:
        """Record an exception raised while judging a certificate.

        The handshake is refused; :attr:`error` (a :class:`PinningError`) or
        :attr:`unexpected` (anything else) says why.
        """
        self.accepted = False
        if isinstance(exc, PinningError):
            if self.error is None:
                self.error = exc
        elif self.unexpected is None:
            self.unexpected = exc

    # The signature OpenSSL's callback has, minus the Connection.
    def on_certificate(
        self, cert: x509.Certificate, error_code: int, depth: int, ok: int
    ) -> bool:
        """Judge one certificate; return whether the handshake may go on.

        Never returns true for a certificate OpenSSL rejected (a true return
        would override its verdict), except in pin-only mode, where the
        leaf's key is the whole of the trust decision.

        Raises:
            PinningError: the certificate is refused (pin mismatch, host name
                mismatch); the verify callback records it with :meth:`fail`
                and fails the handshake.
        """
        if self.pin_only:
            return self._on_certificate_pin_only(cert, depth)
        if not ok:
            self.fail(
                CertificateVerificationError(
                    self.hostname,
                    describe_verify_error(error_code),
                    depth,
                    _subject(cert),
                    verify_code=error_code,
                )
            )
            return False
        self._chain[depth] = cert
        if depth != 0:
            return True
        return self._decide_at_leaf()

    def would_accept(self, certs: Sequence[x509.Certificate]) -> bool:
        """Whether a handshake verifying *certs* would be accepted now.

        For a resumable session's stored chain (leaf first), before it is
        offered: the pins (:func:`judge`, today) and an enforced Certificate
        Transparency policy. Not the host name: sessions are kept per host
        name, so the chain was verified for this very name, and the check
        is a function of the two alone (:meth:`judge_resumed` makes it
        anyway). Nothing is logged, reported or remembered.
        """
        if not certs:
            return False
        verdict = judge(
            CHAINS.describe(certs)[1],
            self.pin_set,
            today=self._today or pinset_module.utc_today(),
            debug_ca_digest=self.debug_ca_digest,
            trust_on_first_use=self.trust_on_first_use,
        )
        if not verdict.accepted:
            return False
        if self.ct is not None and self.ct.enforced:
            issuer = certs[1] if len(certs) > 1 else certs[0]
            return self.ct.evaluate(certs[0], issuer).passed
        return True

    def judge_resumed(self, certs: Sequence[x509.Certificate]) -> None:
        """Decide on a resumed handshake, from its session's stored chain.

        A resumed handshake carries no certificate, so OpenSSL never calls
        back; this makes the decision the callback makes at depth 0 of a
        full handshake -- host name, pins, CT -- on the chain the session's
        own full handshake verified (leaf first), with the same results:
        :attr:`verified_chain`, :attr:`verdict`, :attr:`matched_pin`,
        :attr:`report`, :attr:`accepted`.

        Raises:
            PinningError: refused, as the full handshake would have been.
        """
        if self.pin_only or not certs:
            # Never resumed (nothing is stored for them): refuse to guess.
            raise CertificateVerificationError(
                self.hostname, "no verified chain to judge the resumed session by"
            )
        self._chain = dict(enumerate(certs))
        self._decide_at_leaf()

    def _on_certificate_pin_only(self, cert: x509.Certificate, depth: int) -> bool:
        if depth != 0:
            # Only the leaf's key counts in this mode; what signed it does not.
            return True
        digest = spki_digest(cert)
        entry = ChainCertificate(0, _subject(cert), str(Pin(digest)), cert)
        self.verified_chain = (entry,)
        if self.pin_set is None and not self.trust_on_first_use:
            raise CertificateVerificationError(
                self.hostname, "pin_only=True needs pins for this host"
            )
        verdict = self._judge((digest,), pin_only=True)
        # First use: the caller stores this key once the handshake is done.
        self._act_on(verdict, (cert,), (digest,))
        self.accepted = True
        return True

    def _decide_at_leaf(self) -> bool:
        depths = sorted(self._chain)
        if depths != list(range(len(depths))):
            # A gap means the callback sequence is not the one OpenSSL's
            # chain verification produces; refuse rather than guess.
            raise CertificateVerificationError(
                self.hostname, "the verified chain is incomplete"
            )
        self.verified_chain, digests = CHAINS.describe([self._chain[d] for d in depths])
        self._chain.clear()
        certs = tuple(entry.certificate for entry in self.verified_chain)
        CHAINS.check_name(certs[0], self.hostname, self._check_hostname)

        verdict = self._judge(digests)
        if verdict.reason == "debug_ca":
            # On every such connection, as documented; one short line.
            logger.warning(
                "debug_ca: %s accepted without pin checks%s (development CA %s)",
                self.hostname,
                " or Certificate Transparency" if self.ct is not None else "",
                _subject(certs[-1]),
            )
            self.accepted = True
            return True

        self._act_on(verdict, certs, digests)
        if self.ct is not None:
            self._check_ct(certs)
        self.accepted = True
        return True

    def _judge(self, digests: Sequence[bytes], *, pin_only: bool = False) -> Verdict:
        verdict = judge(
            digests,
            self.pin_set,
            today=self._today or pinset_module.utc_today(),
            pin_only=pin_only,
            debug_ca_digest=None if pin_only else self.debug_ca_digest,
            trust_on_first_use=self.trust_on_first_use,
        )
        self.verdict = verdict
        return verdict

    def _act_on(
        self,
        verdict: Verdict,
        certs: Sequence[x509.Certificate],
        digests: Sequence[bytes],
    ) -> None:
        """Do what *verdict* says: log, report, refuse."""
        pin_set = self.pin_set
        if pin_set is None:
            return  # unpinned, or first use
        if verdict.matched:
            self.matched_pin = verdict.matched_pin
            if not verdict.backup_count:
                pin_set.warn_if_no_offchain_backup(digests)
            return
        expired = "pin_set_expired" in verdict.warnings
        if expired:
            pin_set.warn_if_expired(self._today)
        self.report = self._report(certs, enforced=verdict.enforced, expired=expired)
        mismatch = self._mismatch(
            self.hostname,
            self.verified_chain,
            [str(p) for p in pin_set.pins],
            self.port,
        )
        if not verdict.accepted:
            raise mismatch
        why = "expired" if expired else "report-only"
        log_repeated(
            logger,
            logging.WARNING,
            ("mismatch let through", why, self.hostname, self.port, tuple(digests)),
            "pin mismatch for %s:%s let through (%s pin set): the verified "
            "chain's leaf is %s; on_pin_failure gets the full report",
            self.hostname,
            self.port,
            why,
            self.verified_chain[0].pin,
        )

    def _check_ct(self, certs: Sequence[x509.Certificate]) -> None:
        assert self.ct is not None
        # The issuer key hash must come from the chain OpenSSL verified, never
        # from a certificate the server merely sent (RFC 6962 section 3.2).
        issuer = certs[1] if len(certs) > 1 else certs[0]
        self.ct_verdict = self.ct.check(self.hostname, self.port, certs[0], issuer)

    def _check_hostname(self, leaf: x509.Certificate, hostname: str) -> None:
        address = as_ip_address(hostname)
        try:
            if address is not None:
                verify_certificate_ip_address(leaf, address.compressed)
            else:
                verify_certificate_hostname(leaf, hostname)
        except (VerificationError, CertificateError) as exc:
            literals = _ip_literals_as_dns_names(leaf)
            if literals:
                # service-identity refuses the whole certificate, however
                # many valid names it lists (stock websocket-client accepts
                # it). Refusing is safe; the message must say why.
                raise HostnameMismatchError(
                    hostname,
                    f"the certificate lists the IP address {literals[0]!r} as a "
                    "DNS name (a dNSName subjectAltName entry, which RFC 6125 "
                    "forbids), so no name in it is trusted; reissue it with "
                    f"IP:{literals[0]} as an IP address entry",
                    0,
                    _subject(leaf),
                ) from exc
            names = _names_in(leaf)
            raise HostnameMismatchError(
                hostname,
                f"the certificate is not valid for {hostname!r}"
                + (f"; it names {', '.join(names)}" if names else ""),
                0,
                _subject(leaf),
            ) from exc

    def _report(
        self,
        verified: Sequence[x509.Certificate],
        *,
        enforced: bool,
        expired: bool,
    ) -> PinFailureReport:
        try:
            served = tuple(self._served_chain())
        except Exception:  # the report must never break the verdict
            served = ()
        pin_set = self.pin_set
        assert pin_set is not None
        match = self.match
        return PinFailureReport(
            hostname=self.hostname,
            port=self.port,
            date_time=datetime.datetime.now(datetime.timezone.utc),
            served_chain=served,
            verified_chain=tuple(verified),
            known_pins=tuple(str(p) for p in pin_set.pins),
            enforced=enforced,
            report_only=pin_set.report_only,
            expired=expired,
            expires=pin_set.expires,
            noted_hostname=match.noted_hostname if match else None,
            include_subdomains=match.include_subdomains if match else False,
            host_pattern=match.pattern if match else None,
        )


def _san(cert: x509.Certificate) -> Optional[x509.SubjectAlternativeName]:
    try:
        return cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except x509.ExtensionNotFound:
        return None


def _ip_literals_as_dns_names(cert: x509.Certificate) -> list[str]:
    san = _san(cert)
    if san is None:
        return []
    return [
        name
        for name in san.get_values_for_type(x509.DNSName)
        if as_ip_address(name) is not None
    ]


def _names_in(cert: x509.Certificate) -> list[str]:
    san = _san(cert)
    if san is None:
        return []
    names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    names += [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    return names


def verify_callback(
    connection: SSL.Connection, cert: crypto.X509, error_code: int, depth: int, ok: int
) -> bool:
    """OpenSSL's verify callback: hands each certificate to the connection's
    :class:`HandshakeVerifier` (its app data)."""
    verifier = connection.get_app_data()
    if not isinstance(verifier, HandshakeVerifier):
        return False
    verifier.certificates_seen += 1
    try:
        return verifier.on_certificate(cert.to_cryptography(), error_code, depth, ok)
    except Exception as exc:
        # Kept on this connection's verifier, never left to pyOpenSSL: it
        # parks callback exceptions on the *context*, and raises them from
        # the next call of whichever connection of that context comes first
        # -- another thread's, once contexts are shared. TLSClient.wrap
        # raises it. False fails the handshake either way.
        verifier.fail(exc)
        return False
