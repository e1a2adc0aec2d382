"""What the CLI says about a certificate or a key, in words and in JSON."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .._errors import ChainCertificate
from .._pins.pin import Pin

__all__ = [
    "CertDetails",
    "KeyDetails",
    "chain_roles",
    "describe_certificate",
    "describe_key",
    "describe_sent_chain",
    "describe_verified_chain",
]

# NIST names are what people search for; OpenSSL's are what x509 reports.
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclasses.dataclass(frozen=True)
class KeyDetails:
    """A public key: its algorithm, size and pin.

    Attributes:
        type: ``"RSA"``, ``"EC"``, ``"Ed25519"``, ``"Ed448"``, ``"DSA"``.
        size: bits (``None`` where the algorithm has one fixed size).
        label: both in words, e.g. ``"EC P-256"`` or ``"RSA 2048"``.
        pin: the canonical pin of the key.
    """

    type: str
    size: Optional[int]
    label: str
    pin: str


def describe_key(key: PublicKeyTypes) -> KeyDetails:
    """The :class:`KeyDetails` of a public key."""
    pin = str(Pin.from_public_key(key))
    if isinstance(key, rsa.RSAPublicKey):
        return KeyDetails("RSA", key.key_size, f"RSA {key.key_size}", pin)
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = _CURVE_NAMES.get(key.curve.name, key.curve.name)
        return KeyDetails("EC", key.curve.key_size, f"EC {curve}", pin)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return KeyDetails("Ed25519", 256, "Ed25519", pin)
    if isinstance(key, ed448.Ed448PublicKey):
        return KeyDetails("Ed448", 456, "Ed448", pin)
    if isinstance(key, dsa.DSAPublicKey):
        return KeyDetails("DSA", key.key_size, f"DSA {key.key_size}", pin)
    name = type(key).__name__.replace("PublicKey", "").lstrip("_")
    return KeyDetails(name, None, name, pin)


@dataclasses.dataclass(frozen=True)
class CertDetails:
    """One certificate as the CLI reports it.

    Attributes:
        depth: position in the chain, leaf (0) first; ``None`` outside a chain.
        role: ``"leaf"``, ``"intermediate CA"``, ``"root CA (trust anchor)"``...
        subject: subject DN, RFC 4514.
        issuer: issuer DN, RFC 4514.
        not_before: start of validity (UTC).
        not_after: end of validity (UTC).
        days_left: whole days from now until *not_after* (negative: expired).
        key: the public key.
        names: DNS names and IP addresses of the subjectAltName.
        is_ca: whether basicConstraints says CA:TRUE.
        certificate: the certificate itself.
    """

    depth: Optional[int]
    role: str
    subject: str
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    days_left: int
    key: KeyDetails
    names: tuple[str, ...]
    is_ca: bool
    certificate: x509.Certificate = dataclasses.field(repr=False, compare=False)

    @property
    def pin(self) -> str:
        """The certificate's canonical pin."""
        return self.key.pin


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def days_until(
    moment: datetime.datetime, now: Optional[datetime.datetime] = None
) -> int:
    """Whole days from *now* until *moment*, rounded down (negative if past)."""
    delta = moment - (now or _utc_now())
    return delta.days


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    names = [str(name) for name in san.value.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in san.value.get_values_for_type(x509.IPAddress)]
    return tuple(names)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return bool(constraints.value.ca)


def chain_roles(length: int, *, verified: bool) -> list[str]:
    """Role names for a chain of *length* certificates, leaf first.

    A verified chain ends at the trust anchor (from the trust store); a
    chain as sent by a server ends wherever the server stopped.
    """
    roles = []
    for depth in range(length):
        if depth == 0:
            roles.append("leaf" if length > 1 or not verified else "leaf (self-signed)")
        elif depth == length - 1 and verified:
            roles.append("root CA (trust anchor)")
        else:
            roles.append("intermediate CA" if verified else "CA certificate")
    return roles


def describe_certificate(
    cert: x509.Certificate,
    *,
    depth: Optional[int] = None,
    role: str = "certificate",
    now: Optional[datetime.datetime] = None,
) -> CertDetails:
    """The :class:`CertDetails` of *cert*."""
    not_after = cert.not_valid_after_utc
    return CertDetails(
        depth=depth,
        role=role,
        subject=cert.subject.rfc4514_string() or "(empty subject)",
        issuer=cert.issuer.rfc4514_string() or "(empty issuer)",
        not_before=cert.not_valid_before_utc,
        not_after=not_after,
        days_left=days_until(not_after, now),
        key=describe_key(cert.public_key()),
        names=_names(cert),
        is_ca=_is_ca(cert),
        certificate=cert,
    )


def describe_verified_chain(
    chain: Sequence[ChainCertificate],
) -> tuple[CertDetails, ...]:
    """The details of a verified chain (leaf first, up to the trust anchor)."""
    roles = chain_roles(len(chain), verified=True)
    return tuple(
        describe_certificate(entry.certificate, depth=entry.depth, role=role)
        for entry, role in zip(chain, roles)
    )


def describe_sent_chain(chain: Sequence[x509.Certificate]) -> tuple[CertDetails, ...]:
    """The details of the certificates a server sent, unverified, in its order."""
    roles = chain_roles(len(chain), verified=False)
    return tuple(
        describe_certificate(cert, depth=depth, role=roles[depth])
        for depth, cert in enumerate(chain)
    )
