"""Pin parsing and hashing: plain functions, no sockets."""

from __future__ import annotations

import base64
import hashlib

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import pinws
from pinws import InvalidPinError, Pin

DIGEST = hashlib.sha256(b"some key").digest()
B64 = base64.b64encode(DIGEST).decode()
CANONICAL = f"sha256/{B64}"


@pytest.mark.parametrize(
    "text",
    [
        CANONICAL,
        f"sha256//{B64}",
        f'pin-sha256="{B64}"',
        f'  pin-sha256 = "{B64}"  ',
        DIGEST.hex(),
        DIGEST.hex().upper(),
        ":".join(f"{b:02x}" for b in DIGEST),
        ":".join(f"{b:02X}" for b in DIGEST),
        f"  {CANONICAL}\n",
        f"SHA256/{B64}",
    ],
)
def test_every_accepted_form_normalises_to_the_canonical_pin(text: str) -> None:
    pin = Pin.parse(text)
    assert str(pin) == CANONICAL
    assert pin.digest == DIGEST
    assert pin == Pin(DIGEST)


def _digest_starting_with_slash() -> bytes:
    for i in range(10_000):
        digest = hashlib.sha256(str(i).encode()).digest()
        if base64.b64encode(digest).startswith(b"/"):
            return digest
    raise AssertionError("no digest found")


def test_a_digest_whose_base64_starts_with_a_slash() -> None:
    digest = _digest_starting_with_slash()
    b64 = base64.b64encode(digest).decode()
    canonical = f"sha256/{b64}"
    assert canonical.startswith("sha256//")
    # The canonical spelling and curl's (one more slash) are the same pin.
    assert Pin.parse(canonical).digest == digest
    assert Pin.parse(f"sha256//{b64}").digest == digest
    assert str(Pin.parse(f"sha256//{b64}")) == canonical


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sha1/" + base64.b64encode(b"x" * 20).decode(), "SHA1 pins are not supported"),
        ("sha384/" + base64.b64encode(b"x" * 48).decode(), "SHA384"),
        ("sha256/" + base64.b64encode(b"x" * 20).decode(), "28 characters"),
        ("sha256/" + "!" * 43 + "=", "not valid base64"),
        ("sha256/", "0 characters"),
        (DIGEST.hex()[:-2], "62 hex digits"),
        ("", "empty"),
        ("   ", "empty"),
        ("hello world", "not a recognised pin format"),
        ('pin-sha256="abc"', "3 characters"),
    ],
)
def test_malformed_pins_name_the_pin_and_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(InvalidPinError) as info:
        Pin.parse(text)
    assert fragment in str(info.value)
    assert info.value.pin == text
    assert isinstance(info.value, ValueError)


def test_non_string_pin() -> None:
    with pytest.raises(InvalidPinError, match="must be a string"):
        Pin.parse(42)  # type: ignore[arg-type]


def test_empty_pin_list_is_an_error() -> None:
    with pytest.raises(InvalidPinError, match="empty"):
        pinws.PinSet([])


def test_curl_semicolon_list_and_duplicates() -> None:
    other = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    pin_set = pinws.PinSet([f"sha256//{B64};sha256//{other}", CANONICAL])
    assert [str(p) for p in pin_set.pins] == [CANONICAL, f"sha256/{other}"]


@pytest.mark.parametrize("pins", [None, 42, {"a": "b"}])
def test_pins_argument_of_the_wrong_type(pins: object) -> None:
    with pytest.raises(InvalidPinError):
        pinws.create_connection("wss://localhost/", pins=pins)  # type: ignore[arg-type]


def test_malformed_pin_fails_at_construction_not_at_connect() -> None:
    # Port 9 on loopback: nothing listens; construction must fail first.
    with pytest.raises(InvalidPinError, match="sha1"):
        pinws.PinnedWebSocketApp("wss://127.0.0.1:9/", pins=["sha1/AAAA"])
    with pytest.raises(InvalidPinError):
        pinws.create_connection("wss://127.0.0.1:9/", pins=["nope"])


def test_spki_pin_of_every_certificate_form() -> None:
    ca = trustme.CA()
    pem = ca.cert_pem.bytes()
    cert = x509.load_pem_x509_certificate(pem)
    der = cert.public_bytes(serialization.Encoding.DER)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()
    assert pinws.spki_pin(pem) == expected
    assert pinws.spki_pin(pem.decode()) == expected
    assert pinws.spki_pin(der) == expected
    assert pinws.spki_pin(cert) == expected


def test_one_spki_digest_for_certificates_keys_and_the_handshake() -> None:
    from pinws._pins.pin import spki_digest
    from pinws._tls import verify

    cert = x509.load_pem_x509_certificate(trustme.CA().cert_pem.bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = hashlib.sha256(spki).digest()
    assert spki_digest(cert) == expected
    assert spki_digest(cert.public_key()) == expected
    assert Pin.from_public_key(cert.public_key()).digest == expected
    # The handshake verifier's name is the same function, not a copy.
    assert verify.spki_digest is spki_digest


def test_spki_pin_of_garbage() -> None:
    with pytest.raises(ValueError, match="PEM or DER"):
        pinws.spki_pin(b"\x00garbage")
    with pytest.raises(ValueError, match="no CERTIFICATE"):
        pinws.spki_pin("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_pins_are_values() -> None:
    a, b = Pin(DIGEST), Pin.parse(CANONICAL)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != Pin(hashlib.sha256(b"x").digest())
    assert repr(a) == f"Pin({CANONICAL!r})"
    assert a.hex == DIGEST.hex()
    import pickle

    assert pickle.loads(pickle.dumps(a)) == a


def test_a_bare_base64_digest_is_refused_with_the_prefix_to_add() -> None:
    # What `openssl dgst -sha256 -binary | base64` prints.
    with pytest.raises(InvalidPinError) as info:
        Pin.parse(f"  {B64}\n")
    assert "add sha256/" in str(info.value)
    assert f"'sha256/{B64}'" in str(info.value)
    assert Pin.parse(f"sha256/{B64}") == Pin(DIGEST)


def test_44_characters_that_are_not_a_digest_get_the_generic_message() -> None:
    with pytest.raises(InvalidPinError) as info:
        Pin.parse("!" * 43 + "=")
    assert "sha256/" in str(info.value)
    assert "add sha256/" not in str(info.value)
