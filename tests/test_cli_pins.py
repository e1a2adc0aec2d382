"""``pinws pins``: a live server's chain and pins, and pins from files."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

import pinws
from helpers.cli import assert_one_line_error, run_pinws
from helpers.pki import Chain, make_chain
from helpers.servers import ConnectProxy, WebSocketServer, running

BACKUP_HOWTO = "pinws pins --key backup-key.pem"


def pin_of(key: object) -> str:
    return str(pinws.Pin.from_public_key(key))  # type: ignore[arg-type]


def test_pins_prints_the_verified_chain_and_suggests_a_set(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    result = run_pinws("pins", echo_server.url(), "--ca-certs", chain.ca_file)
    assert result.code == 0, str(result)
    out = result.stdout
    # Each certificate, leaf first, with its role and pin, in chain order.
    positions = [out.index(pin) for pin in chain.pins]
    assert positions == sorted(positions)
    assert "depth 0  leaf" in out
    assert "depth 1  intermediate CA" in out
    assert "depth 2  root CA (trust anchor)" in out
    assert "key      EC P-256" in out
    assert "names    localhost, 127.0.0.1, ::1" in out
    assert re.search(
        r"valid    \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d \(\d+ days left\)", out
    )
    suggested = out[out.index("Suggested pin set:") :]
    assert suggested.split()[3] == chain.intermediate_pin
    assert BACKUP_HOWTO in suggested
    # A TLS handshake only: the server never saw a WebSocket request.
    assert echo_server.requests == []


def test_pins_json_with_a_backup_key(
    tmp_path: Path, chain: Chain, echo_server: WebSocketServer
) -> None:
    backup = ec.generate_private_key(ec.SECP384R1())
    key_file = tmp_path / "backup-key.pem"
    key_file.write_bytes(
        backup.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    result = run_pinws(
        "pins",
        echo_server.url(),
        "--ca-certs",
        chain.ca_file,
        "--key",
        str(key_file),
        "--json",
    )
    assert result.code == 0, str(result)
    document = result.json()
    server = document["server"]
    assert server["verified"] is True
    assert server["verification_error"] is None
    assert server["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert [c["pin"] for c in server["chain"]] == chain.pins
    assert [c["depth"] for c in server["chain"]] == [0, 1, 2]
    assert [c["role"] for c in server["chain"]] == [
        "leaf",
        "intermediate CA",
        "root CA (trust anchor)",
    ]
    leaf = server["chain"][0]
    assert leaf["key_type"] == "EC"
    assert leaf["key_size"] == 256
    assert leaf["is_ca"] is False
    assert server["chain"][1]["is_ca"] is True
    not_after = datetime.datetime.strptime(leaf["not_after"], "%Y-%m-%dT%H:%M:%SZ")
    expected_days = (
        not_after.replace(tzinfo=datetime.timezone.utc)
        - datetime.datetime.now(datetime.timezone.utc)
    ).days
    assert leaf["days_left"] in (expected_days, expected_days + 1)
    assert document["files"] == [
        {
            "source": str(key_file),
            "index": 1,
            "kind": "private key",
            "key_type": "EC",
            "key_size": 384,
            "key": "EC P-384",
            "pin": pin_of(backup.public_key()),
        }
    ]
    assert [c["pin"] for c in document["suggested_pins"]] == [chain.intermediate_pin]
    assert [c["pin"] for c in document["backup_pins"]] == [pin_of(backup.public_key())]
    assert not any(BACKUP_HOWTO in sentence for sentence in document["advice"])


def test_pins_takes_host_and_port_and_an_ip_address(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    result = run_pinws(
        "pins", f"127.0.0.1:{echo_server.port}", "--ca-certs", chain.ca_file, "--json"
    )
    assert result.code == 0, str(result)
    server = result.json()["server"]
    assert server["host"] == "127.0.0.1"
    assert server["url"] == f"wss://127.0.0.1:{echo_server.port}/"
    assert [c["pin"] for c in server["chain"]] == chain.pins


def test_pins_through_a_connect_proxy(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    with running(ConnectProxy()) as proxy:
        result = run_pinws(
            "pins",
            echo_server.url(),
            "--ca-certs",
            chain.ca_file,
            "--proxy",
            f"http://127.0.0.1:{proxy.port}",
            "--json",
        )
    assert result.code == 0, str(result)
    server = result.json()["server"]
    assert server["proxy"] == f"127.0.0.1:{proxy.port}"
    assert [c["pin"] for c in server["chain"]] == chain.pins
    assert proxy.tunnels == [f"localhost:{echo_server.port}"]
    # The first bytes through the tunnel are a TLS handshake record.
    assert proxy.first_client_bytes[0][:1] == b"\x16"


def test_pins_reports_a_proxy_that_refuses(chain: Chain) -> None:
    with running(ConnectProxy()) as proxy:
        # Port 1 on loopback: nothing listens, so the proxy answers 502.
        result = run_pinws(
            "pins", "wss://localhost:1/", "--proxy", f"http://127.0.0.1:{proxy.port}"
        )
    assert result.code == 3, str(result)
    assert_one_line_error(result, f"127.0.0.1:{proxy.port}", "502")


def test_an_unverifiable_chain_fails_with_a_way_forward(
    echo_server: WebSocketServer,
) -> None:
    # Without --ca-certs the private CA is not trusted (certifi's roots are).
    result = run_pinws("pins", echo_server.url())
    assert result.code == 3, str(result)
    assert result.stdout == ""
    assert_one_line_error(
        result, "verification failed", "--ca-certs", "--show-unverified"
    )


def test_show_unverified_prints_the_sent_chain_clearly_marked(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    result = run_pinws("pins", echo_server.url(), "--show-unverified")
    assert result.code == 0, str(result)
    out = result.stdout
    assert out.startswith("UNVERIFIED: ")
    assert "did NOT verify" in out
    assert out.count("[UNVERIFIED]") == 2  # the server sends leaf + intermediate
    assert chain.leaf_pin in out
    assert chain.intermediate_pin in out
    assert chain.root_pin not in out  # never sent, and nothing was verified
    suggested = out[out.index("Suggested pin set:") :]
    assert suggested.split()[3] == chain.leaf_pin
    # Command-line advice first, and the Python spelling said to be Python's.
    flat = " ".join(suggested.split())  # the advice is wrapped to the terminal
    assert "pinws connect --pin-only; pin_only=True in Python" in flat

    document = run_pinws(
        "pins", echo_server.url(), "--show-unverified", "--json"
    ).json()
    server = document["server"]
    assert server["verified"] is False
    assert "issuer is not in the trust store" in server["verification_error"]
    assert [c["pin"] for c in server["chain"]] == [
        chain.leaf_pin,
        chain.intermediate_pin,
    ]
    assert [c["role"] for c in server["chain"]] == ["leaf", "CA certificate"]


def test_show_unverified_shows_an_expired_certificate_as_expired(
    tmp_path: Path,
) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    expired = make_chain(
        tmp_path,
        not_before=now - datetime.timedelta(days=90),
        not_after=now - datetime.timedelta(days=3),
    )
    with running(WebSocketServer(expired.server_context())) as server:
        refused = run_pinws("pins", server.url(), "--ca-certs", expired.ca_file)
        shown = run_pinws(
            "pins", server.url(), "--ca-certs", expired.ca_file, "--show-unverified"
        )
    assert refused.code == 3, str(refused)
    assert_one_line_error(
        refused, "the certificate has expired", "add --show-unverified"
    )
    # --ca-certs is given and is not the problem: no advice to add it.
    assert "add --ca-certs" not in refused.stderr
    assert shown.code == 0, str(shown)
    assert re.search(r"EXPIRED [34] days ago", shown.stdout), str(shown)


def test_a_verified_chain_is_not_marked_unverified(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    result = run_pinws(
        "pins", echo_server.url(), "--ca-certs", chain.ca_file, "--show-unverified"
    )
    assert result.code == 0, str(result)
    assert "UNVERIFIED" not in result.stdout
    assert "Verified chain" in result.stdout


def test_pins_of_certificate_files_pem_bundle_der_and_stdin(
    tmp_path: Path, chain: Chain
) -> None:
    bundle = tmp_path / "chain.pem"
    bundle.write_bytes(
        b"".join(blob.bytes() for blob in chain.leaf.cert_chain_pems)
    )  # leaf, then intermediate
    root_der = tmp_path / "root.der"
    root_der.write_bytes(
        x509.load_pem_x509_certificate(chain.root.cert_pem.bytes()).public_bytes(
            serialization.Encoding.DER
        )
    )
    result = run_pinws("pins", "--cert", str(bundle), "--cert", str(root_der), "--json")
    assert result.code == 0, str(result)
    files = result.json()["files"]
    assert [f["pin"] for f in files] == chain.pins
    assert [(f["source"], f["index"]) for f in files] == [
        (str(bundle), 1),
        (str(bundle), 2),
        (str(root_der), 1),
    ]
    assert {f["kind"] for f in files} == {"certificate"}
    assert result.json()["server"] is None
    assert "suggested_pins" not in result.json()

    human = run_pinws("pins", "--cert", str(bundle))
    assert human.code == 0, str(human)
    assert f"{bundle}: certificate 1" in human.stdout
    assert f"{bundle}: certificate 2" in human.stdout
    assert re.findall(r"pin      (\S+)", human.stdout) == chain.pins[:2]

    piped = run_pinws("pins", "--cert", "-", stdin=chain.root.cert_pem.bytes().decode())
    assert piped.code == 0, str(piped)
    assert re.findall(r"pin      (\S+)", piped.stdout) == [chain.root_pin]


def test_pins_of_keys_and_csrs_are_the_pins_of_their_future_certificates(
    tmp_path: Path,
) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "rsa.pem").write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "ec-public.der").write_bytes(
        ec_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "next.test")]))
        .sign(ec_key, hashes.SHA256())
    )
    (tmp_path / "next.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    # The certificate a CA later issues for the CSR has the pin printed now.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    issued = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "some CA")]))
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )

    result = run_pinws(
        "pins",
        "--key",
        str(tmp_path / "rsa.pem"),
        "--key",
        str(tmp_path / "ec-public.der"),
        "--csr",
        str(tmp_path / "next.csr"),
        "--json",
    )
    assert result.code == 0, str(result)
    files = result.json()["files"]
    assert [(f["kind"], f["key"]) for f in files] == [
        ("private key", "RSA 2048"),
        ("public key", "EC P-256"),
        ("certificate request", "EC P-256"),
    ]
    assert files[0]["pin"] == pin_of(rsa_key.public_key())
    assert files[1]["pin"] == files[2]["pin"] == pin_of(ec_key.public_key())
    assert files[2]["pin"] == pinws.spki_pin(issued)
    assert files[2]["subject"] == "CN=next.test"
    assert files[2]["signature_ok"] is True


def test_an_encrypted_private_key_is_refused_with_the_way_out(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "locked.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    result = run_pinws("pins", "--key", str(path))
    assert result.code == 3, str(result)
    assert_one_line_error(result, "encrypted", "-pubout")


@pytest.mark.parametrize(
    ("option", "content", "fragments"),
    [
        ("--cert", b"\x00\x01garbage", ("not a certificate",)),
        ("--cert", b"", ("the file is empty",)),
        (
            "--key",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            ("holds CERTIFICATE", "--cert"),
        ),
        (
            "--cert",
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
            b"-----END CERTIFICATE-----\n",
            ("certificate 1 is malformed",),
        ),
        ("--csr", b"just some text", ("not a certificate request",)),
    ],
    ids=["binary-garbage", "empty", "cert-given-as-key", "bad-pem-body", "text-as-csr"],
)
def test_malformed_files_fail_with_one_clear_line(
    tmp_path: Path, option: str, content: bytes, fragments: tuple[str, ...]
) -> None:
    path = tmp_path / "input.pem"
    path.write_bytes(content)
    result = run_pinws("pins", option, str(path))
    assert result.code == 3, str(result)
    assert result.stdout == ""
    assert_one_line_error(result, str(path), *fragments)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    result = run_pinws("pins", "--cert", str(missing))
    assert result.code == 3, str(result)
    assert_one_line_error(result, f"{missing}: no such file")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((), "give a server URL, or --cert/--key/--csr files"),
        (
            ("--proxy", "http://127.0.0.1:3128", "--cert", "x.pem"),
            "--proxy needs a server URL",
        ),
        (("ws://localhost:1/",), "plaintext"),
        (
            ("wss://localhost:1/", "--proxy", "socks5://127.0.0.1:1"),
            "HTTP CONNECT proxy",
        ),
        (("wss://localhost:1/", "--timeout", "0"), "greater than 0"),
        (("wss://localhost:1/", "--bogus"), "unrecognized arguments: --bogus"),
    ],
    ids=[
        "nothing",
        "proxy-without-url",
        "plaintext-url",
        "socks-proxy",
        "zero-timeout",
        "unknown-option",
    ],
)
def test_usage_errors_exit_3(args: tuple[str, ...], fragment: str) -> None:
    result = run_pinws("pins", *args)
    assert result.code == 3, str(result)
    assert_one_line_error(result, fragment)


@pytest.mark.parametrize("kind", ["cert", "csr"])
def test_a_file_that_loads_but_has_an_unknown_key_type_is_one_error(
    tmp_path: Path, kind: str
) -> None:
    # Found by fuzzing: cryptography parses lazily, so such a file loads and
    # only reading its key fails; that was an "unexpected" error.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odd key")])
    if kind == "csr":
        der = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(name)
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.DER)
        )
    else:
        now = datetime.datetime.now(datetime.timezone.utc)
        der = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
            .public_bytes(serialization.Encoding.DER)
        )
    ec_public_key = bytes.fromhex("06072a8648ce3d0201")  # OID 1.2.840.10045.2.1
    assert der.count(ec_public_key) == 1
    path = tmp_path / f"odd.{kind}"
    path.write_bytes(der.replace(ec_public_key, bytes.fromhex("06072a8648ce3d0209")))
    result = run_pinws("pins", f"--{kind}", str(path))
    assert result.code == 3, str(result)
    assert_one_line_error(result, str(path), "is malformed")
    assert "unexpected" not in result.stderr
