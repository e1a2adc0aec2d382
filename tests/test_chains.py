"""The process-wide cache of what a verified chain yields.

Reusing a result is only sound for the same certificate bytes and, for the
host name check, the same name; a failed check is never remembered.
"""

from __future__ import annotations

import pytest
from cryptography import x509

import pinws
from helpers.pki import Chain
from pinws._tls.chains import ChainCache


def certificates(chain: Chain) -> list[x509.Certificate]:
    pems = [*chain.leaf.cert_chain_pems, chain.root.cert_pem]
    return [x509.load_pem_x509_certificate(pem.bytes()) for pem in pems]


def test_a_chain_is_described_once_and_shared(chain: Chain) -> None:
    cache = ChainCache(4)
    first, digests = cache.describe(certificates(chain))
    again, _ = cache.describe(certificates(chain))  # parsed anew: equal bytes
    assert again is first
    assert [entry.pin for entry in first] == chain.pins
    assert [entry.depth for entry in first] == [0, 1, 2]
    assert first[0].subject == certificates(chain)[0].subject.rfc4514_string()
    assert len(digests) == 3


def test_another_chain_is_not_mistaken_for_a_known_one(
    chain: Chain, rogue_chain: Chain
) -> None:
    cache = ChainCache(4)
    cache.describe(certificates(chain))
    other, _ = cache.describe(certificates(rogue_chain))
    assert [entry.pin for entry in other] == rogue_chain.pins


def test_a_host_name_check_is_remembered_only_when_it_passed(chain: Chain) -> None:
    cache = ChainCache(4)
    leaf = certificates(chain)[0]
    calls: list[str] = []

    def check(cert: x509.Certificate, hostname: str) -> None:
        calls.append(hostname)
        if hostname != "localhost":
            raise pinws.HostnameMismatchError(hostname, "not valid", 0, "leaf")

    cache.check_name(leaf, "localhost", check)
    cache.check_name(leaf, "localhost", check)
    assert calls == ["localhost"]
    for _ in range(2):
        with pytest.raises(pinws.HostnameMismatchError):
            cache.check_name(leaf, "evil.example", check)
    assert calls == ["localhost", "evil.example", "evil.example"]


def test_the_cache_is_bounded(chain: Chain, rogue_chain: Chain) -> None:
    cache = ChainCache(1)
    first, _ = cache.describe(certificates(chain))
    cache.describe(certificates(rogue_chain))
    again, _ = cache.describe(certificates(chain))
    assert again is not first  # dropped, described anew
    assert again == first
