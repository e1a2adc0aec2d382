"""Fuzz the SCT list decoder: whatever a certificate holds, only ValueError escapes.

The decoder's documented failure is ValueError; the verdict built on it
never raises at all (a list it cannot read fails the policy).
"""

from __future__ import annotations

import datetime
import json

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pinws
from helpers.ct import SCT_LIST_OID, log_list, sct_list, sct_list_extension
from pinws._ct.policy import evaluate
from pinws._ct.sct import decode_embedded_scts

_KEY = ed25519.Ed25519PrivateKey.generate()
_NAME = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "fuzz")])
_START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
_LOGS = pinws.CTLogList.from_json(json.dumps(log_list([])))


def certificate(extension: x509.UnrecognizedExtension) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_NAME)
        .issuer_name(_NAME)
        .public_key(_KEY.public_key())
        .serial_number(1)
        .not_valid_before(_START)
        .not_valid_after(_START + datetime.timedelta(days=90))
        .add_extension(extension, critical=False)
        .sign(_KEY, None)
    )


def check(cert: x509.Certificate) -> None:
    try:
        embedded = decode_embedded_scts(cert)
    except ValueError:
        pass
    else:
        for sct in embedded.scts:
            assert len(sct.log_id) == 32
            assert sct.timestamp.tzinfo is not None
    verdict = evaluate(cert, cert, _LOGS, _START)
    assert not verdict.passed


def _u16(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


@st.composite
def sct_like(draw: st.DrawFn) -> bytes:
    """A TLS SCT with every field drawn, lengths usually right."""
    fields = [
        draw(st.sampled_from([b"\x00", b"\x01", b"\xff"])),
        draw(st.binary(min_size=32, max_size=32)),
        draw(st.binary(min_size=8, max_size=8)),
        _u16(draw(st.binary(max_size=8))),
        bytes(
            [draw(st.sampled_from([4, 2, 0, 9])), draw(st.sampled_from([3, 1, 0, 7]))]
        ),
        _u16(draw(st.binary(max_size=80))),
    ]
    raw = b"".join(fields)
    cut = draw(st.integers(min_value=0, max_value=len(raw)))
    return raw if draw(st.booleans()) else raw[:cut]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_tls_lists(tls_list: bytes) -> None:
    check(certificate(sct_list_extension(tls_list)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sct_like(), max_size=4))
def test_structured_sct_lists(scts: list[bytes]) -> None:
    check(certificate(sct_list_extension(sct_list(scts))))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_extension_values(value: bytes) -> None:
    # Not even an OCTET STRING: the DER around the TLS list is broken too.
    check(certificate(x509.UnrecognizedExtension(SCT_LIST_OID, value)))


def test_a_well_formed_list_of_unknown_logs_decodes() -> None:
    # The structured strategy's baseline: a correct SCT decodes.
    sct = b"".join(
        (
            b"\x00",
            b"\x11" * 32,
            (1_700_000_000_000).to_bytes(8, "big"),
            _u16(b""),
            b"\x04\x03",
            _u16(b"\x30\x00"),
        )
    )
    embedded = decode_embedded_scts(certificate(sct_list_extension(sct_list([sct]))))
    [decoded] = embedded.scts
    assert decoded.log_id == b"\x11" * 32
    assert decoded.timestamp_ms == 1_700_000_000_000
    assert (decoded.algorithm, decoded.hash_name) == ("ecdsa", "sha256")
