"""Fresh certificate chains for each test, built with trustme."""

from __future__ import annotations

import dataclasses
import datetime
import ssl
from pathlib import Path
from typing import Optional

import trustme

import pinws


@dataclasses.dataclass
class Chain:
    """A root CA, an intermediate and a leaf for the test hosts."""

    root: trustme.CA
    intermediate: trustme.CA
    leaf: trustme.LeafCert
    ca_file: str

    @property
    def leaf_pin(self) -> str:
        return pinws.spki_pin(self.leaf.cert_chain_pems[0].bytes())

    @property
    def intermediate_pin(self) -> str:
        return pinws.spki_pin(self.intermediate.cert_pem.bytes())

    @property
    def root_pin(self) -> str:
        return pinws.spki_pin(self.root.cert_pem.bytes())

    @property
    def pins(self) -> list[str]:
        return [self.leaf_pin, self.intermediate_pin, self.root_pin]

    def server_context(
        self,
        *,
        minimum: Optional[ssl.TLSVersion] = None,
        maximum: Optional[ssl.TLSVersion] = None,
        leaf: Optional[trustme.LeafCert] = None,
    ) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (leaf or self.leaf).configure_cert(context)
        if minimum is not None:
            context.minimum_version = minimum
        if maximum is not None:
            context.maximum_version = maximum
        return context


def unrelated_pin() -> str:
    """The pin of a key that no test server uses (a valid backup pin)."""
    return pinws.spki_pin(trustme.CA().cert_pem.bytes())


def make_chain(
    directory: Path,
    *identities: str,
    not_before: Optional[datetime.datetime] = None,
    not_after: Optional[datetime.datetime] = None,
    key_type: trustme.KeyType = trustme.KeyType.ECDSA,
    root: Optional[trustme.CA] = None,
    name: str = "chain",
) -> Chain:
    """A root -> intermediate -> leaf chain for *identities* (default: loopback)."""
    identities = identities or ("localhost", "127.0.0.1", "::1")
    root = root or trustme.CA(key_type=key_type)
    intermediate = root.create_child_ca(key_type=key_type)
    leaf = intermediate.issue_cert(
        *identities, not_before=not_before, not_after=not_after, key_type=key_type
    )
    ca_file = directory / f"{name}-root.pem"
    root.cert_pem.write_to_path(str(ca_file))
    return Chain(root, intermediate, leaf, str(ca_file))


def trust_bundle(directory: Path, *chains: Chain) -> str:
    """A CA file trusting every root of *chains* (say, yours and a proxy's)."""
    bundle = directory / "bundle.pem"
    bundle.write_bytes(b"".join(Path(c.ca_file).read_bytes() for c in chains))
    return str(bundle)
