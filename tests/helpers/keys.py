"""Server keys chosen in advance: certificates for a key you already hold.

trustme makes a fresh key for every certificate it issues; a key rotation
needs the opposite -- a backup key generated (and pinned) long before a
certificate is issued for it. These helpers issue such a certificate from a
trustme CA, with the cryptography x509 API.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import pinws


def new_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 key, as `openssl genpkey ... ec_paramgen_curve:P-256` makes."""
    return ec.generate_private_key(ec.SECP256R1())


def pin_of(key: ec.EllipticCurvePrivateKey) -> str:
    """The pin of *key*, as `pinws pins --key` prints it."""
    return str(pinws.Pin.from_public_key(key.public_key()))


def _general_name(identity: str) -> x509.GeneralName:
    if identity.startswith("DNS:"):
        # Forced into a dNSName entry, even an IP literal (a malformed SAN
        # some real servers have).
        return x509.DNSName(identity[4:])
    try:
        return x509.IPAddress(ipaddress.ip_address(identity))
    except ValueError:
        return x509.DNSName(identity)


def issue_for_key(
    issuer: trustme.CA,
    key: ec.EllipticCurvePrivateKey,
    *identities: str,
    directory: Path,
    name: str,
) -> tuple[str, str]:
    """Issue a server certificate for *key*; return (chain file, key file).

    The chain file holds the leaf and *issuer*'s certificate, as a server
    sends them.
    """
    issuer_cert = x509.load_pem_x509_certificate(issuer.cert_pem.bytes())
    issuer_key = serialization.load_pem_private_key(
        issuer.private_key_pem.bytes(), password=None
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([_general_name(i) for i in identities]),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_cert.public_key()
            ),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )
    return write_chain_files(
        directory,
        name,
        cert.public_bytes(serialization.Encoding.PEM) + issuer.cert_pem.bytes(),
        key,
    )


def write_chain_files(
    directory: Path, name: str, chain_pem: bytes, key: ec.EllipticCurvePrivateKey
) -> tuple[str, str]:
    """Write *chain_pem* and *key* (PKCS#8 PEM); return (chain file, key file)."""
    chain_file = directory / f"{name}-chain.pem"
    key_file = directory / f"{name}-key.pem"
    chain_file.write_bytes(chain_pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(chain_file), str(key_file)


def server_context(chain_file: str, key_file: str) -> ssl.SSLContext:
    """A server-side context presenting that certificate and key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain_file, key_file)
    return context
