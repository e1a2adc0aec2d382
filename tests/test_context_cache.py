"""The shared TLS contexts: reused only while nothing they loaded has changed.

create_connection builds a TLSClient per call; its TLS context (with the
parsed trust store) comes from a small cache. These tests hold the cache to
what makes sharing safe: a changed trust store is loaded afresh, client keys
are never kept, the cache is bounded, and an error in one connection's
verify callback cannot surface in another connection of the same context.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from OpenSSL import SSL, crypto

import pinws
from helpers.pki import Chain, make_chain
from helpers.servers import WebSocketServer
from pinws._pins.policy import as_policy
from pinws._tls import contexts as context_module
from pinws._tls.config import TLSConfig
from pinws._tls.context import TLSClient
from pinws._tls.contexts import ContextCache as _ContextCache
from pinws._tls.options import SSLOptions
from pinws._tls.verify import HandshakeVerifier
from pinws._tls.verify import verify_callback as _verify_callback


def _client(chain: Chain, ca_file: str, **kwargs: object) -> TLSClient:
    return TLSClient(
        TLSConfig.create(as_policy(chain.pins), ca_certs=ca_file, **kwargs)
    )


def test_clients_with_the_same_trust_store_share_one_context(chain: Chain) -> None:
    first = _client(chain, chain.ca_file)
    second = _client(chain, chain.ca_file)
    assert first._context is second._context
    pin_only = TLSClient(TLSConfig.create(as_policy(chain.pins), pin_only=True))
    assert pin_only._context is not first._context


def test_an_edited_trust_store_is_loaded_afresh(
    chain: Chain, rogue_chain: Chain, echo_server: WebSocketServer, tmp_path: Path
) -> None:
    trust = tmp_path / "trust.pem"
    trust.write_bytes(Path(chain.ca_file).read_bytes())
    ws = pinws.create_connection(
        echo_server.url(), pins=chain.pins, ca_certs=str(trust), timeout=10
    )
    ws.close()
    # Same path, same inode: now it trusts only the rogue root.
    before = os.stat(trust)
    trust.write_bytes(Path(rogue_chain.ca_file).read_bytes())
    os.utime(trust, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(pinws.CertificateVerificationError):
        pinws.create_connection(
            echo_server.url(), pins=chain.pins, ca_certs=str(trust), timeout=10
        )


def test_client_certificates_are_never_cached(chain: Chain, tmp_path: Path) -> None:
    certfile = tmp_path / "client.pem"
    client_cert = chain.intermediate.issue_cert("client.example")
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    options = SSLOptions(certfile=str(certfile))
    first = _client(chain, chain.ca_file, options=options)
    second = _client(chain, chain.ca_file, options=options)
    assert first._context is not second._context


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache = _ContextCache(2)
    built: list[str] = []

    def build(name: str) -> SSL.Context:
        built.append(name)
        return SSL.Context(SSL.TLS_CLIENT_METHOD)

    a = cache.get("a", lambda: build("a"))
    cache.get("b", lambda: build("b"))
    assert cache.get("a", lambda: build("a")) is a
    cache.get("c", lambda: build("c"))  # evicts b, the least recently used
    assert cache.get("a", lambda: build("a")) is a
    cache.get("b", lambda: build("b"))
    assert built == ["a", "b", "c", "b"]
    assert len(cache._entries) == 2
    assert len(context_module.CONTEXTS._entries) <= context_module.CONTEXTS._size


def test_contexts_release_idle_buffers(chain: Chain) -> None:
    context = _client(chain, chain.ca_file)._context
    assert context.set_mode(0) & SSL.MODE_RELEASE_BUFFERS


class _FakeConnection:
    def __init__(self, verifier: HandshakeVerifier) -> None:
        self._verifier = verifier

    def get_app_data(self) -> HandshakeVerifier:
        return self._verifier


def test_verify_callback_errors_stay_on_their_own_connection(tmp_path: Path) -> None:
    # pyOpenSSL parks callback exceptions on the (shared) context, where any
    # connection's next call would raise them: the callback must keep them.
    other = make_chain(tmp_path, name="other")
    verifier = HandshakeVerifier(
        hostname="localhost",
        port=443,
        pin_set=pinws.PinSet([other.root_pin, other.intermediate_pin]),
    )
    chain = make_chain(tmp_path)
    leaf = crypto.load_certificate(
        crypto.FILETYPE_PEM, chain.leaf.cert_chain_pems[0].bytes()
    )
    root = crypto.load_certificate(crypto.FILETYPE_PEM, chain.root.cert_pem.bytes())
    fake = _FakeConnection(verifier)
    assert _verify_callback(fake, root, 0, 1, 1) is True
    # The leaf completes the chain, no pin matches: refused, not raised.
    assert _verify_callback(fake, leaf, 0, 0, 1) is False
    assert isinstance(verifier.error, pinws.PinMismatchError)
    assert not verifier.accepted

    broken = HandshakeVerifier(hostname="localhost", port=443, pin_set=None)
    broken._decide_at_leaf = None
    assert _verify_callback(_FakeConnection(broken), leaf, 0, 0, 1) is False
    assert isinstance(broken.unexpected, TypeError)
    assert not broken.accepted
