"""Fuzzing ``pinws pins --cert/--key/--csr`` with random and damaged files.

Whatever the bytes, the command prints pins (exit 0) or one error line
(exit 3) -- never "unexpected ..." (an exception the command did not
expect) and never a traceback. Run in-process through ``main()``: the same
code as the console script, without a subprocess per example.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from helpers.fuzz import damaged, fuzz
from pinws._cli.main import main


def _samples() -> dict[str, list[bytes]]:
    ca = trustme.CA()
    cert_pem = ca.cert_pem.bytes()
    cert = x509.load_pem_x509_certificate(cert_pem)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")]))
        .sign(ec_key, hashes.SHA256())
    )
    pkcs8 = serialization.PrivateFormat.PKCS8
    traditional = serialization.PrivateFormat.TraditionalOpenSSL
    none = serialization.NoEncryption()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
    return {
        "cert": [cert_pem, cert.public_bytes(der), cert_pem + cert_pem],
        "key": [
            ec_key.private_bytes(pem, pkcs8, none),
            rsa_key.private_bytes(pem, traditional, none),
            ec_key.public_key().public_bytes(pem, spki),
            ec_key.private_bytes(der, pkcs8, none),
            ec_key.private_bytes(
                pem, pkcs8, serialization.BestAvailableEncryption(b"secret")
            ),
        ],
        "csr": [csr.public_bytes(pem), csr.public_bytes(der)],
    }


SAMPLES = _samples()


EVERYTHING = [data for samples in SAMPLES.values() for data in samples]


def pem_shaped() -> st.SearchStrategy[bytes]:
    label = st.sampled_from(
        [
            "CERTIFICATE",
            "PRIVATE KEY",
            "EC PRIVATE KEY",
            "PUBLIC KEY",
            "CERTIFICATE REQUEST",
            "RSA PUBLIC KEY",
            "ENCRYPTED PRIVATE KEY",
            "X",
        ]
    )
    body = st.binary(max_size=200).map(lambda b: __import__("base64").encodebytes(b))
    return st.builds(
        lambda name, data: (
            b"-----BEGIN %s-----\n%s-----END %s-----\n"
            % (name.encode(), data, name.encode())
        ),
        label,
        body,
    )


def run_pins(capsys: pytest.CaptureFixture[str], option: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "input"
        path.write_bytes(data)
        capsys.readouterr()
        code = main(["pins", option, str(path), "--json"])
        out, err = capsys.readouterr()
    assert code in (0, 3), (code, out, err)
    assert not re.search(r"error: unexpected \w+:", err), err
    assert "Traceback" not in err, err
    if code == 3:
        assert len(err.strip().splitlines()) == 1, err
        assert str(path) in err, err
    else:
        assert out.startswith("{"), out


inputs = {
    kind: st.binary(max_size=400) | damaged(SAMPLES[kind], EVERYTHING) | pem_shaped()
    for kind in ("cert", "key", "csr")
}


@fuzz
@given(inputs["cert"])
def test_pins_cert_on_any_bytes(
    capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    run_pins(capsys, "--cert", data)


@fuzz
@given(inputs["key"])
def test_pins_key_on_any_bytes(capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    run_pins(capsys, "--key", data)


@fuzz
@given(inputs["csr"])
def test_pins_csr_on_any_bytes(capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    run_pins(capsys, "--csr", data)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_the_undamaged_samples_print_pins(
    capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    # The damage starts from files the command reads (an encrypted key aside).
    for data in SAMPLES[kind]:
        if b"ENCRYPTED" in data:
            continue
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "input"
            path.write_bytes(data)
            assert main(["pins", f"--{kind}", str(path), "--json"]) == 0
