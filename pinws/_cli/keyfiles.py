"""Pins from files: certificates, public or private keys, and CSRs.

PEM (any number of blocks) or DER (one object). A backup key has no
certificate yet; its pin comes from the key itself or from a CSR for it.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
from collections.abc import Callable
from typing import Optional, TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .certinfo import CertDetails, KeyDetails, describe_certificate, describe_key
from .errors import CLIError

T = TypeVar("T")

__all__ = ["FileItem", "load_items"]

_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL
)
_CERT_TYPES = {"CERTIFICATE", "X509 CERTIFICATE"}
_CSR_TYPES = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}
_PRIVATE_TYPES = {
    "PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "DSA PRIVATE KEY",
    "ENCRYPTED PRIVATE KEY",
}
_PUBLIC_TYPES = {"PUBLIC KEY", "RSA PUBLIC KEY"}
_OPTION_FOR = {
    **dict.fromkeys(_CERT_TYPES, "--cert"),
    **dict.fromkeys(_CSR_TYPES, "--csr"),
    **dict.fromkeys(_PRIVATE_TYPES | _PUBLIC_TYPES, "--key"),
}


@dataclasses.dataclass(frozen=True)
class FileItem:
    """One pinnable object found in a file.

    Attributes:
        source: the file name (``-`` for standard input).
        index: its position among the file's objects of that kind, from 1.
        kind: ``"certificate"``, ``"private key"``, ``"public key"`` or
            ``"certificate request"``.
        key: the public key's details (and pin).
        subject: the subject of a certificate or CSR.
        certificate: the certificate's details, for certificates.
        signature_ok: for CSRs, whether its self-signature verifies.
    """

    source: str
    index: int
    kind: str
    key: KeyDetails
    subject: Optional[str] = None
    certificate: Optional[CertDetails] = None
    signature_ok: Optional[bool] = None

    @property
    def pin(self) -> str:
        """The pin of the object's public key."""
        return self.key.pin


def _read(path: str) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CLIError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    return [
        (match.group(1).decode("ascii"), match.group(0))
        for match in _PEM_BLOCK.finditer(data)
    ]


def _wrong_kind(path: str, option: str, found: list[str]) -> CLIError:
    wanted = {"--cert": "a certificate", "--key": "a key", "--csr": "a CSR"}[option]
    if not found:
        return CLIError(f"{path}: holds no PEM block ({option} wants {wanted})")
    kinds = ", ".join(dict.fromkeys(found))
    hints = sorted({_OPTION_FOR[kind] for kind in found if kind in _OPTION_FOR})
    hint = f"; give it with {' or '.join(hints)}" if hints else ""
    return CLIError(f"{path}: holds {kinds}, not {wanted}{hint}")


def _load_all(
    path: str,
    data: bytes,
    option: str,
    pem_types: set[str],
    noun: str,
    loaders: tuple[Callable[[bytes], T], Callable[[bytes], T]],
    elsewhere: str,
) -> list[T]:
    """Every *noun* in a PEM file (all blocks of *pem_types*) or a DER one."""
    load_pem, load_der = loaders
    if b"-----BEGIN" not in data:
        try:
            return [load_der(data)]
        except ValueError:
            raise CLIError(
                f"{path}: not a {noun} (neither PEM nor DER); {elsewhere}"
            ) from None
    blocks = _pem_blocks(data)
    pems = [pem for kind, pem in blocks if kind in pem_types]
    if not pems:
        raise _wrong_kind(path, option, [kind for kind, _ in blocks])
    loaded = []
    for number, pem in enumerate(pems, 1):
        try:
            loaded.append(load_pem(pem))
        except ValueError as exc:
            raise CLIError(f"{path}: {noun} {number} is malformed: {exc}") from None
    return loaded


def _certificates(path: str, data: bytes) -> list[FileItem]:
    certs = _load_all(
        path,
        data,
        "--cert",
        _CERT_TYPES,
        "certificate",
        (x509.load_pem_x509_certificate, x509.load_der_x509_certificate),
        "for keys use --key, for certificate requests --csr",
    )
    items = []
    for number, cert in enumerate(certs, 1):
        details = _parsed(
            path, "certificate", number, functools.partial(describe_certificate, cert)
        )
        items.append(
            FileItem(
                path,
                number,
                "certificate",
                details.key,
                subject=details.subject,
                certificate=details,
            )
        )
    return items


def _load_pem_key(path: str, kind: str, pem: bytes) -> tuple[str, PublicKeyTypes]:
    if kind in _PUBLIC_TYPES:
        return "public key", serialization.load_pem_public_key(pem)
    try:
        private = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        # cryptography signals "needs a password" with TypeError.
        raise CLIError(
            f"{path}: the private key is encrypted; give its public key instead "
            f"(openssl pkey -in {path} -pubout -out public.pem)"
        ) from None
    return "private key", private.public_key()


def _keys(path: str, data: bytes) -> list[FileItem]:
    found: list[tuple[str, PublicKeyTypes]] = []
    if b"-----BEGIN" in data:
        blocks = _pem_blocks(data)
        keyed = [(k, pem) for k, pem in blocks if k in _PRIVATE_TYPES | _PUBLIC_TYPES]
        if not keyed:
            raise _wrong_kind(path, "--key", [kind for kind, _ in blocks])
        for number, (kind, pem) in enumerate(keyed, 1):
            try:
                found.append(_load_pem_key(path, kind, pem))
            except (ValueError, UnsupportedAlgorithm) as exc:
                raise CLIError(f"{path}: key {number} is malformed: {exc}") from None
    else:
        try:
            found.append(("public key", serialization.load_der_public_key(data)))
        except (ValueError, UnsupportedAlgorithm):
            try:
                private = serialization.load_der_private_key(data, password=None)
            except TypeError:
                raise CLIError(
                    f"{path}: the private key is encrypted; give its public key instead"
                ) from None
            except (ValueError, UnsupportedAlgorithm):
                raise CLIError(
                    f"{path}: not a key (neither PEM nor DER); for certificates "
                    "use --cert, for certificate requests --csr"
                ) from None
            found.append(("private key", private.public_key()))
    return [
        FileItem(path, number, kind, describe_key(key))
        for number, (kind, key) in enumerate(found, 1)
    ]


def _csrs(path: str, data: bytes) -> list[FileItem]:
    requests = _load_all(
        path,
        data,
        "--csr",
        _CSR_TYPES,
        "certificate request",
        (x509.load_pem_x509_csr, x509.load_der_x509_csr),
        "for certificates use --cert, for keys --key",
    )
    return [
        _parsed(
            path,
            "certificate request",
            number,
            functools.partial(_csr_item, path, number, csr),
        )
        for number, csr in enumerate(requests, 1)
    ]


def _csr_item(path: str, number: int, csr: x509.CertificateSigningRequest) -> FileItem:
    return FileItem(
        path,
        number,
        "certificate request",
        describe_key(csr.public_key()),
        subject=csr.subject.rfc4514_string() or "(empty subject)",
        signature_ok=csr.is_signature_valid,
    )


# What cryptography raises for a malformed part of a certificate or CSR: it
# parses them lazily, so loading succeeds and reading a field fails.
_MALFORMED = (
    ValueError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


def _parsed(path: str, noun: str, number: int, read: Callable[[], T]) -> T:
    """Run *read* on a loaded object; a malformed field is a CLIError.

    Found by fuzzing: a certificate with a garbled subject or an unknown
    key type loaded, then escaped as an "unexpected" error.
    """
    try:
        return read()
    except _MALFORMED as exc:
        raise CLIError(f"{path}: {noun} {number} is malformed: {exc}") from None


_LOADERS = {"cert": _certificates, "key": _keys, "csr": _csrs}


def load_items(kind: str, path: str) -> list[FileItem]:
    """Every pinnable object of *kind* (``cert``, ``key``, ``csr``) in *path*.

    Raises:
        CLIError: the file is missing, unreadable, malformed, or holds
            another kind of object (the message says which option fits).
    """
    data = _read(path)
    if not data.strip():
        raise CLIError(f"{path}: the file is empty")
    return _LOADERS[kind](path, data)
