"""The demo's certificates: a real CA hierarchy, an attacker's, a backup key."""

from __future__ import annotations

import dataclasses
import os
import ssl
from typing import Any

import trustme
from cryptography.hazmat.primitives.asymmetric import ec

from .._pins.pin import Pin, spki_pin

__all__ = ["DemoPKI", "make_demo_pki"]

HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclasses.dataclass(frozen=True)
class DemoPKI:
    """Everything the demo signs and pins with, as PEM files in one directory.

    Attributes:
        directory: where the PEM files are.
        ca_file: the real root CA's certificate.
        trust_bundle: the client's trust store: the real root *and* the
            attacker's root (as a corporate proxy's root would be installed).
        leaf_pin, intermediate_pin, root_pin: pins of the real chain.
        backup_pin: the pin of a key that is not in use (a backup).
        attacker_pin: the pin of the attacker's leaf.
    """

    directory: str
    ca_file: str
    trust_bundle: str
    leaf_pin: str
    intermediate_pin: str
    root_pin: str
    backup_pin: str
    attacker_pin: str
    _leaf: Any = dataclasses.field(repr=False)
    _attacker_leaf: Any = dataclasses.field(repr=False)

    def server_context(self) -> ssl.SSLContext:
        """TLS server context serving the real leaf and its intermediate."""
        return self._context(self._leaf)

    def attacker_context(self) -> ssl.SSLContext:
        """TLS server context serving the attacker's leaf."""
        return self._context(self._attacker_leaf)

    @staticmethod
    def _context(leaf: Any) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        leaf.configure_cert(context)
        return context


def make_demo_pki(directory: str) -> DemoPKI:
    """Generate the demo's CA -> intermediate -> leaf chain and the rest.

    Writes ``ca.pem`` (the real root), ``trust-bundle.pem`` (both roots),
    ``server-chain.pem`` and ``backup-key-public.pem`` into *directory*.
    """
    root = trustme.CA(organization_name="pinws demo root CA")
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert(*HOSTS)
    attacker_root = trustme.CA(organization_name="Interception proxy root CA")
    attacker_leaf = attacker_root.issue_cert(*HOSTS)

    ca_file = os.path.join(directory, "ca.pem")
    root.cert_pem.write_to_path(ca_file)
    bundle = os.path.join(directory, "trust-bundle.pem")
    with open(bundle, "wb") as handle:
        handle.write(root.cert_pem.bytes() + attacker_root.cert_pem.bytes())
    with open(os.path.join(directory, "server-chain.pem"), "wb") as handle:
        handle.write(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))

    # A backup key is generated now, kept offline, and pinned before any
    # certificate for it exists; only its public half is needed for the pin.
    backup = ec.generate_private_key(ec.SECP256R1()).public_key()
    from cryptography.hazmat.primitives import serialization

    with open(os.path.join(directory, "backup-key-public.pem"), "wb") as handle:
        handle.write(
            backup.public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
        )
    return DemoPKI(
        directory=directory,
        ca_file=ca_file,
        trust_bundle=bundle,
        leaf_pin=spki_pin(leaf.cert_chain_pems[0].bytes()),
        intermediate_pin=spki_pin(intermediate.cert_pem.bytes()),
        root_pin=spki_pin(root.cert_pem.bytes()),
        backup_pin=str(Pin.from_public_key(backup)),
        attacker_pin=spki_pin(attacker_leaf.cert_chain_pems[0].bytes()),
        _leaf=leaf,
        _attacker_leaf=attacker_leaf,
    )
