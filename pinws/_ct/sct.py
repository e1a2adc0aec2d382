"""Signed certificate timestamps embedded in a certificate (RFC 6962 §3.3).

Pure functions, no I/O: decode the leaf's SCT list, rebuild the data a log
signed for a precertificate (RFC 6962 §3.2), and check a signature with the
log's key.
"""

from __future__ import annotations

import dataclasses
import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.certificate_transparency import (
    LogEntryType,
    SignatureAlgorithm,
    Version,
)

from .loglist import LogKey

__all__ = [
    "EmbeddedSCT",
    "EmbeddedSCTs",
    "decode_embedded_scts",
    "signature_verifies",
    "signed_data",
]

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# RFC 6962 §3.2: Version v1, SignatureType certificate_timestamp,
# LogEntryType precert_entry.
_V1 = b"\x00"
_CERTIFICATE_TIMESTAMP = b"\x00"
_PRECERT_ENTRY = b"\x00\x01"


@dataclasses.dataclass(frozen=True)
class EmbeddedSCT:
    """One SCT of a certificate's embedded list.

    Attributes:
        log_id: the (binary) ID of the log that issued it.
        timestamp_ms: milliseconds since the epoch, as the log signed it.
        extensions: the SCT's ``CtExtensions`` bytes (empty in practice).
        algorithm: ``"ecdsa"``, ``"rsa"`` or another algorithm's name.
        hash_name: the hash of the signature, e.g. ``"sha256"``.
        signature: the signature bytes.
    """

    log_id: bytes
    timestamp_ms: int
    extensions: bytes
    algorithm: str
    hash_name: str
    signature: bytes

    @property
    def timestamp(self) -> datetime.datetime:
        """The timestamp as an aware UTC datetime."""
        return _EPOCH + datetime.timedelta(milliseconds=self.timestamp_ms)


@dataclasses.dataclass(frozen=True)
class EmbeddedSCTs:
    """A certificate's embedded SCTs, and the TBS they were signed over.

    Attributes:
        scts: the SCTs, in the order of the list.
        tbs_precertificate: the certificate's TBSCertificate without the
            SCT list extension (empty when there are no SCTs).
    """

    scts: tuple[EmbeddedSCT, ...]
    tbs_precertificate: bytes


def decode_embedded_scts(leaf: x509.Certificate) -> EmbeddedSCTs:
    """The SCTs embedded in *leaf* (extension 1.3.6.1.4.1.11129.2.4.2).

    A certificate without the extension has none.

    Raises:
        ValueError: the extension is malformed (bad TLS encoding, an SCT
            version other than v1, an unknown algorithm). Nothing else
            escapes, whatever the certificate holds.
    """
    try:
        extension = leaf.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        )
    except x509.ExtensionNotFound:
        return EmbeddedSCTs((), b"")
    except Exception as exc:  # ValueError, DuplicateExtension, ...
        raise ValueError(f"malformed certificate extensions: {exc}") from None
    scts = []
    try:
        for sct in extension.value:
            precert = sct.entry_type == LogEntryType.PRE_CERTIFICATE
            if sct.version != Version.v1 or not precert:
                raise ValueError("an embedded SCT that is not a v1 precertificate SCT")
            scts.append(
                EmbeddedSCT(
                    log_id=sct.log_id,
                    timestamp_ms=_milliseconds(sct.timestamp),
                    extensions=sct.extension_bytes,
                    algorithm=_algorithm_name(sct.signature_algorithm),
                    hash_name=sct.signature_hash_algorithm.name,
                    signature=sct.signature,
                )
            )
        tbs = leaf.tbs_precertificate_bytes
    except ValueError as exc:
        raise ValueError(f"malformed SCT list: {exc}") from None
    except Exception as exc:  # cryptography's parser is not ours to trust blindly
        raise ValueError(f"malformed SCT list: {type(exc).__name__}: {exc}") from None
    return EmbeddedSCTs(tuple(scts), tbs)


def _milliseconds(moment: datetime.datetime) -> int:
    # cryptography gives a naive UTC datetime; integer arithmetic keeps the
    # exact millisecond the log signed.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return (moment - _EPOCH) // datetime.timedelta(milliseconds=1)


def _algorithm_name(algorithm: SignatureAlgorithm) -> str:
    if algorithm == SignatureAlgorithm.ECDSA:
        return "ecdsa"
    if algorithm == SignatureAlgorithm.RSA:
        return "rsa"
    return algorithm.name.lower()


def signed_data(
    sct: EmbeddedSCT, tbs_precertificate: bytes, issuer_key_hash: bytes
) -> bytes:
    """The bytes the log signed for *sct* (RFC 6962 §3.2, precert_entry).

    Args:
        sct: the SCT.
        tbs_precertificate: the leaf's TBSCertificate without the SCT list.
        issuer_key_hash: SHA-256 of the issuer's DER SubjectPublicKeyInfo,
            the issuer taken from the *verified* chain.
    """
    return b"".join(
        (
            _V1,
            _CERTIFICATE_TIMESTAMP,
            sct.timestamp_ms.to_bytes(8, "big"),
            _PRECERT_ENTRY,
            issuer_key_hash,
            len(tbs_precertificate).to_bytes(3, "big"),
            tbs_precertificate,
            len(sct.extensions).to_bytes(2, "big"),
            sct.extensions,
        )
    )


def signature_verifies(sct: EmbeddedSCT, key: LogKey, data: bytes) -> bool:
    """Whether *sct*'s signature over *data* verifies with the log's *key*.

    Only what RFC 6962 logs use is accepted: ECDSA (P-256) or RSA PKCS#1
    v1.5, with SHA-256, and the algorithm must match the key.
    """
    if sct.hash_name != "sha256":
        return False
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if sct.algorithm != "ecdsa":
                return False
            key.verify(sct.signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            if sct.algorithm != "rsa":
                return False
            key.verify(sct.signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
