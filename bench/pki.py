"""Certificates for one benchmark run, generated at start with trustme.

Three server chains share one root: 2 certificates (root -> leaf),
3 (root -> intermediate -> leaf, the main one) and 4 (root -> two
intermediates -> leaf). Two trust stores: certifi's bundle plus that root
(the size of trust store a real application loads) and the run's own roots
alone (the small trust store of the tuned baseline, ``websocket-client-tuned``).

A fourth chain, for the ``ct`` metrics, has a leaf with two embedded SCTs
from two generated CT logs (ECDSA P-256, two operators), issued the RFC 6962
way by tests/helpers/ct.py, and a log list naming the logs; its root is in
the trust store too.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import certifi
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

__all__ = ["Pki", "make_pki", "spki_pin"]

HOSTS = ("localhost", "127.0.0.1")


def spki_pin(pem: bytes) -> str:
    """``sha256/<base64>`` of a PEM certificate's SubjectPublicKeyInfo."""
    import base64

    cert = x509.load_pem_x509_certificate(pem)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


@dataclasses.dataclass
class ChainFiles:
    """One server chain on disk, and the pins a client needs for it."""

    length: int
    cert_chain: str  # leaf first, then intermediates (what the server sends)
    key: str
    issuer_pin: str  # the certificate just above the leaf (depth 1)
    leaf_sha256: bytes  # SHA-256 of the leaf's DER (aiohttp's Fingerprint)


@dataclasses.dataclass
class CTFiles:
    """The chain with embedded SCTs, and the log list that judges it."""

    cert_chain: str
    key: str
    log_list: str
    pins: list[str]  # its intermediate's pin and a backup


@dataclasses.dataclass
class Pki:
    """Everything a run needs: the chains and the trust stores."""

    bundle: str  # certifi's bundle plus the run's roots
    roots: str  # the run's roots only
    chains: dict[int, ChainFiles]
    backup_pin: str
    ct: CTFiles

    @property
    def main(self) -> ChainFiles:
        return self.chains[3]


def _write_chain(
    directory: Path, length: int, root: trustme.CA, intermediates: list[trustme.CA]
) -> ChainFiles:
    issuer = intermediates[-1] if intermediates else root
    leaf = issuer.issue_cert(*HOSTS)
    cert_chain = directory / f"chain{length}.pem"
    key = directory / f"chain{length}.key"
    cert_chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    leaf_der = x509.load_pem_x509_certificate(
        leaf.cert_chain_pems[0].bytes()
    ).public_bytes(serialization.Encoding.DER)
    return ChainFiles(
        length=length,
        cert_chain=str(cert_chain),
        key=str(key),
        issuer_pin=spki_pin(issuer.cert_pem.bytes()),
        leaf_sha256=hashlib.sha256(leaf_der).digest(),
    )


def make_pki(directory: Path) -> Pki:
    """Generate a root, chains of 2, 3 and 4 certificates and the trust store."""
    root = trustme.CA()
    first = root.create_child_ca()
    second = first.create_child_ca()
    chains = {
        2: _write_chain(directory, 2, root, []),
        3: _write_chain(directory, 3, root, [first]),
        4: _write_chain(directory, 4, root, [first, second]),
    }
    ct, ct_root = _write_ct_chain(directory)
    roots = directory / "roots.pem"
    roots.write_bytes(root.cert_pem.bytes() + Path(ct_root).read_bytes())
    bundle = directory / "trust-store.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + roots.read_bytes())
    backup = spki_pin(trustme.CA().cert_pem.bytes())
    ct.pins.append(backup)
    return Pki(
        bundle=str(bundle),
        roots=str(roots),
        chains=chains,
        backup_pin=backup,
        ct=ct,
    )


def _write_ct_chain(directory: Path) -> tuple[CTFiles, str]:
    """The CT chain's files and its root's PEM file."""
    # The tests' CT material generator: one implementation of RFC 6962's
    # precertificate signing for the tests and the benchmark.
    from tests.helpers.ct import CTAuthority, make_log, write_log_list

    authority = CTAuthority()
    logs = [make_log("Bench A", "Operator A"), make_log("Bench B", "Operator B")]
    issued = authority.issue(logs, names=HOSTS)
    cert_chain, key = issued.write_chain(directory, "ct")
    log_list = write_log_list(directory / "ct-log-list.json", logs)
    intermediate = authority.intermediate.public_bytes(serialization.Encoding.PEM)
    files = CTFiles(cert_chain, key, str(log_list), [spki_pin(intermediate)])
    return files, authority.write_root(directory)
