"""The pin check itself, against real TLS servers on loopback."""

from __future__ import annotations

import datetime
import ssl
import warnings
from pathlib import Path

import pytest
import trustme

import pinws
from helpers.keys import issue_for_key, new_key, server_context
from helpers.pki import Chain, make_chain, trust_bundle, unrelated_pin
from helpers.servers import EavesdropServer, WebSocketServer, roundtrip, running
from helpers.timing import WAIT


@pytest.mark.parametrize("which", ["leaf", "intermediate", "root"])
def test_each_chain_level_can_be_pinned(
    chain: Chain, echo_server: WebSocketServer, which: str
) -> None:
    pin = getattr(chain, f"{which}_pin")
    ws = pinws.create_connection(
        echo_server.url(),
        pins=[pin, unrelated_pin()],
        ca_certs=chain.ca_file,
        timeout=WAIT,
    )
    try:
        ws.send("hello")
        assert ws.recv() == "hello"
        assert str(ws.matched_pin) == pin
        assert [c.pin for c in ws.verified_chain] == chain.pins
    finally:
        ws.close()


def test_wrong_pin_is_refused_and_the_server_sees_no_upgrade(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    wrong = unrelated_pin()
    with pytest.raises(pinws.PinMismatchError) as info:
        pinws.create_connection(
            echo_server.url(),
            pins=[wrong, unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
        )
    error = info.value
    assert error.hostname == "localhost"
    assert error.port == echo_server.port
    assert [c.pin for c in error.chain] == chain.pins
    assert [c.depth for c in error.chain] == [0, 1, 2]
    assert wrong in error.pins
    message = str(error)
    for pin in chain.pins:
        assert pin in message
    assert wrong in message
    assert "localhost" in message
    assert echo_server.requests == []


def test_rogue_ca_the_client_trusts_gets_zero_application_bytes(
    tmp_path: Path, chain: Chain, rogue_chain: Chain
) -> None:
    # The client trusts both roots, as a machine with a corporate proxy's
    # root installed would; only the pins tell the interceptor apart.
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    with running(EavesdropServer(rogue_chain.server_context())) as attacker:
        with pytest.raises(pinws.PinMismatchError):
            pinws.create_connection(
                attacker.url(),
                pins=[chain.intermediate_pin, chain.leaf_pin],
                ca_certs=bundle,
                timeout=WAIT,
                header={"Authorization": "Bearer secret-token"},
            )
        assert attacker.sessions_done.wait(WAIT)
        assert attacker.handshakes_completed == 0
        assert bytes(attacker.received) == b""


def test_unpinned_client_does_leak_to_the_same_attacker(rogue_chain: Chain) -> None:
    # The twin of the test above: proves the attacker server records leaks.
    import websocket

    with running(EavesdropServer(rogue_chain.server_context())) as attacker:
        with pytest.raises(Exception):  # noqa: B017,PT011 - the attacker never answers
            websocket.create_connection(
                attacker.url(),
                timeout=2,
                sslopt={"ca_certs": rogue_chain.ca_file},
                header={"Authorization": "Bearer secret-token"},
            )
        assert attacker.sessions_done.wait(WAIT)
        assert b"Authorization: Bearer secret-token" in attacker.received


def test_pin_in_unverified_extra_certificate_does_not_count(
    tmp_path: Path, chain: Chain, rogue_chain: Chain
) -> None:
    # The rogue server appends the genuine intermediate to its chain. It is
    # sent, but not part of the chain OpenSSL verified: it must not match.
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    pems = b"".join(blob.bytes() for blob in rogue_chain.leaf.cert_chain_pems)
    pems += chain.intermediate.cert_pem.bytes()
    cert_file = tmp_path / "rogue-with-extra.pem"
    cert_file.write_bytes(pems)
    key_file = tmp_path / "rogue.key"
    key_file.write_bytes(rogue_chain.leaf.private_key_pem.bytes())
    context.load_cert_chain(str(cert_file), str(key_file))
    with running(EavesdropServer(context)) as attacker:
        with pytest.raises(pinws.PinMismatchError) as info:
            pinws.create_connection(
                attacker.url(),
                pins=[chain.intermediate_pin, unrelated_pin()],
                ca_certs=rogue_chain.ca_file,
                timeout=WAIT,
            )
        assert chain.intermediate_pin not in [c.pin for c in info.value.chain]
        assert attacker.sessions_done.wait(WAIT)
        assert bytes(attacker.received) == b""


@pytest.mark.parametrize(
    ("not_before", "not_after", "reason"),
    [
        (-30, -1, "expired"),
        (5, 30, "not yet valid"),
    ],
)
def test_expired_and_not_yet_valid_certificates_fail(
    tmp_path: Path, not_before: int, not_after: int, reason: str
) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    bad = make_chain(
        tmp_path,
        not_before=now + datetime.timedelta(days=not_before),
        not_after=now + datetime.timedelta(days=not_after),
    )
    with running(WebSocketServer(bad.server_context())) as server:
        with pytest.raises(pinws.CertificateVerificationError) as info:
            pinws.create_connection(
                server.url(), pins=bad.pins, ca_certs=bad.ca_file, timeout=WAIT
            )
        assert reason in str(info.value)
        assert info.value.depth == 0
        assert server.requests == []


@pytest.mark.parametrize(
    ("identities", "host"),
    [
        (("other.example",), "localhost"),
        (("localhost",), "127.0.0.1"),
        (("127.0.0.2",), "127.0.0.1"),
        (("localhost", "127.0.0.1"), "::1"),
    ],
)
def test_hostname_and_ip_mismatch_fail_even_when_a_pin_matches(
    tmp_path: Path, identities: tuple[str, ...], host: str
) -> None:
    bad = make_chain(tmp_path, *identities)
    bind = "::1" if host == "::1" else "127.0.0.1"
    with running(WebSocketServer(bad.server_context(), host=bind)) as server:
        with pytest.raises(pinws.HostnameMismatchError) as info:
            pinws.create_connection(
                server.url(host), pins=bad.pins, ca_certs=bad.ca_file, timeout=WAIT
            )
        assert host in str(info.value)
        assert server.requests == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
def test_names_and_addresses_verify(tmp_path: Path, host: str) -> None:
    good = make_chain(tmp_path)
    bind = "::1" if host == "::1" else "127.0.0.1"
    with running(WebSocketServer(good.server_context(), host=bind)) as server:
        assert (
            roundtrip(server.url(host), pins=good.pins, ca_certs=good.ca_file) == "ping"
        )


def test_untrusted_root_fails_even_when_the_leaf_is_pinned(
    chain: Chain, rogue_chain: Chain, echo_server: WebSocketServer
) -> None:
    with pytest.raises(pinws.CertificateVerificationError, match="trust store"):
        pinws.create_connection(
            echo_server.url(),
            pins=chain.pins,
            ca_certs=rogue_chain.ca_file,
            timeout=WAIT,
        )
    assert echo_server.requests == []


@pytest.mark.parametrize(
    ("minimum", "maximum", "expected"),
    [
        (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
        (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3, "TLSv1.3"),
    ],
)
def test_tls_12_and_13(
    chain: Chain, minimum: ssl.TLSVersion, maximum: ssl.TLSVersion, expected: str
) -> None:
    context = chain.server_context(minimum=minimum, maximum=maximum)
    with running(WebSocketServer(context)) as server:
        ws = pinws.create_connection(
            server.url(),
            pins=[chain.intermediate_pin, unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
        )
        try:
            assert ws.sock.version() == expected
            ws.send("x")
            assert ws.recv() == "x"
        finally:
            ws.close()


def test_tls_11_only_server_is_refused(chain: Chain) -> None:
    context = chain.server_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1_1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with (
        running(WebSocketServer(context)) as server,
        pytest.raises(pinws.TLSHandshakeError) as info,
    ):
        pinws.create_connection(
            server.url(), pins=chain.pins, ca_certs=chain.ca_file, timeout=WAIT
        )
    # What a UI shows: one line, naming the host.
    assert "\n" not in info.value.summary
    assert "localhost" in info.value.summary


def test_pin_only_accepts_a_self_signed_leaf_by_its_key(tmp_path: Path) -> None:
    device_ca = trustme.CA()
    leaf = device_ca.issue_cert("localhost", "127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    leaf_pin = pinws.spki_pin(leaf.cert_chain_pems[0].bytes())
    with running(WebSocketServer(context)) as server:
        # No CA given: the chain cannot verify, only the key can.
        assert (
            roundtrip(server.url(), pins=[leaf_pin, unrelated_pin()], pin_only=True)
            == "ping"
        )
        with pytest.raises(pinws.CertificateVerificationError):
            pinws.create_connection(server.url(), pins=[leaf_pin], timeout=WAIT)
        # Only the leaf counts: the issuing CA's pin is not enough.
        ca_pin = pinws.spki_pin(device_ca.cert_pem.bytes())
        with pytest.raises(pinws.PinMismatchError):
            pinws.create_connection(
                server.url(),
                pins=[ca_pin, unrelated_pin()],
                pin_only=True,
                timeout=WAIT,
            )
        assert len(server.requests) == 1


def test_handshake_timeout_against_a_server_that_never_speaks_tls() -> None:
    import socket
    import time

    import websocket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(websocket.WebSocketTimeoutException):
            pinws.create_connection(
                f"wss://localhost:{port}/",
                pins=[unrelated_pin(), unrelated_pin()],
                timeout=0.3,
            )
        assert time.monotonic() - started < WAIT
    finally:
        listener.close()


def test_client_certificate_from_sslopt(tmp_path: Path, chain: Chain) -> None:
    import websocket

    client_cert = chain.intermediate.issue_cert("client@example.test")
    cert_file = tmp_path / "client.pem"
    client_cert.private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    context = chain.server_context()
    context.verify_mode = ssl.CERT_REQUIRED
    chain.root.configure_trust(context)
    with running(WebSocketServer(context)) as server:
        assert (
            roundtrip(
                server.url(),
                pins=[chain.intermediate_pin, unrelated_pin()],
                ca_certs=chain.ca_file,
                sslopt={"certfile": str(cert_file)},
            )
            == "ping"
        )
        with pytest.raises((websocket.WebSocketException, OSError)):
            roundtrip(
                server.url(),
                pins=[chain.intermediate_pin, unrelated_pin()],
                ca_certs=chain.ca_file,
            )


def test_an_ip_literal_listed_as_a_dns_name_is_refused_and_the_message_says_why(
    tmp_path: Path, chain: Chain
) -> None:
    # SAN: DNS:127.0.0.1, DNS:localhost. service-identity rejects the whole
    # certificate for the IP literal in a dNSName; pinws keeps that (safe),
    # and says why instead of "not valid for 'localhost'; it names localhost".
    chain_file, key_file = issue_for_key(
        chain.intermediate,
        new_key(),
        "DNS:127.0.0.1",
        "localhost",
        directory=tmp_path,
        name="ip-as-dns",
    )
    pins = [chain.intermediate_pin, unrelated_pin()]
    with running(WebSocketServer(server_context(chain_file, key_file))) as server:
        with pytest.raises(pinws.HostnameMismatchError) as info:
            pinws.create_connection(
                server.url(), pins=pins, ca_certs=chain.ca_file, timeout=WAIT
            )
        # The twin: stock websocket-client accepts this certificate.
        import websocket

        plain = websocket.create_connection(
            server.url(), sslopt={"ca_certs": chain.ca_file}, timeout=WAIT
        )
        plain.close()
    message = str(info.value)
    assert "lists the IP address '127.0.0.1' as a DNS name" in message
    assert "RFC 6125" in message
    assert "IP:127.0.0.1" in message
    assert len(server.requests) == 1  # only the unpinned twin's
