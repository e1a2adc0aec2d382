"""The pin value object: what a pin is, how it is written and how it is parsed.

A pin is the SHA-256 digest of a certificate's DER-encoded
SubjectPublicKeyInfo -- the definition of RFC 7469 (HPKP), OkHttp, TrustKit
and curl's ``--pinnedpubkey``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .._errors import InvalidPinError

__all__ = [
    "CertificateInput",
    "Pin",
    "load_certificates",
    "parse_pins",
    "spki_digest",
    "spki_pin",
]

DIGEST_SIZE = 32
_BASE64_LENGTH = 44  # base64 of 32 bytes, with its one "=" of padding
_PREFIX = "sha256/"
_HPKP_RE = re.compile(r'^pin-sha256\s*=\s*"([^"]*)"$', re.IGNORECASE)
_HEX_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_HEX_COLON_RE = re.compile(r"^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){31}$")
_OTHER_ALGORITHM_RE = re.compile(r"^(sha1|sha384|sha512|sha224|md5)/", re.IGNORECASE)

CertificateInput = Union[str, bytes, x509.Certificate]


class Pin:
    """One SPKI SHA-256 pin, an immutable value.

    Construct it from text with :meth:`Pin.parse` (which accepts every spelling
    pinws understands) or from a certificate or public key with
    :meth:`from_certificate` / :meth:`from_public_key`. ``str(pin)`` is the
    canonical form ``sha256/<base64>``.

    Pins compare equal when their digests are equal, in constant time.
    """

    __slots__ = ("_digest",)

    def __init__(self, digest: bytes) -> None:
        """Wrap a raw 32-byte SHA-256 digest.

        Raises:
            InvalidPinError: *digest* is not 32 bytes.
        """
        if not isinstance(digest, bytes) or len(digest) != DIGEST_SIZE:
            raise InvalidPinError(
                digest, f"a SHA-256 digest is {DIGEST_SIZE} bytes long"
            )
        self._digest = digest

    @classmethod
    def parse(cls, text: Union[str, Pin]) -> Pin:
        """Parse a pin written in any accepted form.

        Accepted: ``sha256/<base64>`` (OkHttp, TrustKit), ``sha256//<base64>``
        (curl), ``pin-sha256="<base64>"`` (HPKP) and 64 hex digits, either
        case, with or without ``:`` separators. Surrounding white space is
        ignored. A bare base64 digest (what ``openssl dgst -sha256 -binary |
        base64`` prints) is refused with a message saying to add ``sha256/``.

        Raises:
            InvalidPinError: naming the input and what is wrong with it.
        """
        if isinstance(text, Pin):
            return text
        if not isinstance(text, str):
            raise InvalidPinError(
                text, f"a pin must be a string, not {type(text).__name__}"
            )
        stripped = text.strip()
        if not stripped:
            raise InvalidPinError(text, "the pin is empty")

        hpkp = _HPKP_RE.match(stripped)
        if hpkp:
            return cls(_decode_base64(text, hpkp.group(1)))
        if stripped.lower().startswith(_PREFIX):
            body = stripped[len(_PREFIX) :]
            # curl writes "sha256//<b64>"; a canonical pin whose base64 starts
            # with "/" reads "sha256//..." too. The digest's base64 is always
            # 44 characters, so the length tells the two apart.
            if len(body) == _BASE64_LENGTH + 1 and body.startswith("/"):
                body = body[1:]
            return cls(_decode_base64(text, body))
        if _HEX_RE.match(stripped) or _HEX_COLON_RE.match(stripped):
            return cls(bytes.fromhex(stripped.replace(":", "")))

        algorithm = _OTHER_ALGORITHM_RE.match(stripped)
        if algorithm:
            raise InvalidPinError(
                text,
                f"{algorithm.group(1).upper()} pins are not supported; pinws "
                "pins the SHA-256 digest of the SubjectPublicKeyInfo, written "
                "sha256/<base64> (get it with `pinws pins`)",
            )
        if _is_bare_digest(stripped):
            # What `openssl dgst -sha256 -binary | base64` prints: the right
            # digest, missing the algorithm that says how to read it.
            raise InvalidPinError(
                text,
                "a bare base64 digest; add sha256/ in front of it: "
                f"'sha256/{stripped}'",
            )
        hex_digits = stripped.replace(":", "")
        if all(c in "0123456789abcdefABCDEF" for c in hex_digits):
            raise InvalidPinError(
                text,
                f"has {len(hex_digits)} hex digits; a SHA-256 pin in hex has 64",
            )
        raise InvalidPinError(
            text,
            "not a recognised pin format; expected sha256/<base64>, "
            'sha256//<base64>, pin-sha256="<base64>" or 64 hex digits',
        )

    @classmethod
    def from_public_key(cls, key: PublicKeyTypes) -> Pin:
        """The pin of a public key (its SubjectPublicKeyInfo's SHA-256)."""
        return cls(spki_digest(key))

    @classmethod
    def from_spki_der(cls, spki_der: bytes) -> Pin:
        """The pin of a DER-encoded SubjectPublicKeyInfo."""
        return cls(hashlib.sha256(spki_der).digest())

    @classmethod
    def from_certificate(cls, cert: CertificateInput) -> Pin:
        """The pin of a certificate's public key.

        Args:
            cert: PEM (``str`` or ``bytes``; the first certificate of a
                bundle), DER ``bytes`` or a :class:`cryptography.x509.Certificate`.

        Raises:
            ValueError: the input holds no certificate.
        """
        if isinstance(cert, x509.Certificate):
            return cls(spki_digest(cert))
        return cls(spki_digest(load_certificates(cert)[0]))

    @property
    def digest(self) -> bytes:
        """The raw 32-byte SHA-256 digest."""
        return self._digest

    @property
    def hex(self) -> str:
        """The digest as 64 lowercase hex digits."""
        return self._digest.hex()

    @property
    def base64(self) -> str:
        """The digest in base64, as inside ``sha256/<base64>``."""
        return base64.b64encode(self._digest).decode("ascii")

    def __str__(self) -> str:
        return _PREFIX + self.base64

    def __repr__(self) -> str:
        return f"Pin({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pin):
            return NotImplemented
        return hmac.compare_digest(self._digest, other._digest)

    def __hash__(self) -> int:
        return hash(self._digest)

    def __reduce__(self) -> tuple[type[Pin], tuple[bytes]]:
        return (Pin, (self._digest,))


def spki_digest(subject: Union[x509.Certificate, PublicKeyTypes]) -> bytes:
    """SHA-256 of the DER SubjectPublicKeyInfo of a certificate or public key.

    The digest a pin is, and the one place pinws computes it: the handshake
    verifier, :class:`Pin` and the CLI all come here.
    """
    key = subject.public_key() if isinstance(subject, x509.Certificate) else subject
    spki = key.public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return hashlib.sha256(spki).digest()


def _decode_base64(original: str, body: str) -> bytes:
    if len(body) != _BASE64_LENGTH:
        raise InvalidPinError(
            original,
            f"the base64 digest has {len(body)} characters; a SHA-256 digest "
            f"in base64 has {_BASE64_LENGTH} (ending in '=')",
        )
    try:
        digest = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidPinError(original, "the digest is not valid base64") from None
    if len(digest) != DIGEST_SIZE:  # pragma: no cover - 44 chars always give 32
        raise InvalidPinError(
            original, f"decodes to {len(digest)} bytes; SHA-256 has {DIGEST_SIZE}"
        )
    return digest


def _is_bare_digest(text: str) -> bool:
    """Whether *text* is the base64 of a SHA-256 digest with no prefix."""
    if len(text) != _BASE64_LENGTH:
        return False
    try:
        return len(base64.b64decode(text, validate=True)) == DIGEST_SIZE
    except (binascii.Error, ValueError):
        return False


def parse_pins(pins: Union[str, Pin, Iterable[Union[str, Pin]]]) -> tuple[Pin, ...]:
    """Parse a collection of pins, keeping order and dropping duplicates.

    A single string may hold several pins separated by ``;`` (curl's
    ``--pinnedpubkey`` syntax).

    Raises:
        InvalidPinError: a pin is malformed, or there are none.
    """
    if isinstance(pins, (str, Pin)):
        pins = [pins]
    try:
        items = list(pins)
    except TypeError:
        raise InvalidPinError(
            pins, "pins must be a list of pin strings, a PinSet or a PinPolicy"
        ) from None
    parsed: dict[Pin, None] = {}
    for item in items:
        if isinstance(item, str) and ";" in item:
            for part in item.split(";"):
                if part.strip():
                    parsed.setdefault(Pin.parse(part), None)
        else:
            parsed.setdefault(Pin.parse(item), None)
    if not parsed:
        raise InvalidPinError(
            None,
            "the pin list is empty; give at least one pin (and a backup), "
            "e.g. pins=['sha256/...'] -- `pinws pins` prints a server's pins",
        )
    return tuple(parsed)


_PEM_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s.+?\s-----END CERTIFICATE-----", re.DOTALL
)


def load_certificates(data: Union[str, bytes]) -> list[x509.Certificate]:
    """Load every certificate from PEM text or a DER blob.

    Raises:
        ValueError: *data* holds no certificate.
    """
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    if b"-----BEGIN" in raw:
        blocks = _PEM_RE.findall(raw)
        if not blocks:
            raise ValueError("the PEM data holds no CERTIFICATE block")
        return [x509.load_pem_x509_certificate(block) for block in blocks]
    if isinstance(data, str):
        raise ValueError("expected PEM text (-----BEGIN CERTIFICATE-----)")
    try:
        return [x509.load_der_x509_certificate(raw)]
    except ValueError as exc:
        raise ValueError(f"not a PEM or DER certificate: {exc}") from exc


def spki_pin(cert: CertificateInput) -> str:
    """Return the canonical pin, ``sha256/<base64>``, of a certificate.

    Args:
        cert: the certificate as PEM (``str`` or ``bytes``; the first
            certificate of a bundle), DER ``bytes``, or a
            :class:`cryptography.x509.Certificate`.

    Raises:
        ValueError: *cert* holds no certificate.
    """
    return str(Pin.from_certificate(cert))
