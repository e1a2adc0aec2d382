"""Real Certificate Transparency material, generated: logs, precertificates, SCTs.

A :class:`TestLog` holds a real log key (ECDSA P-256 or RSA 2048) and signs
RFC 6962 v1 SCTs over a precertificate entry exactly as a log does. A
:class:`CTAuthority` is a root and an intermediate CA that issue leaves the
RFC 6962 way: first a precertificate carrying the critical poison extension,
whose TBS (poison removed) the logs sign, then the final certificate with
the SCT list extension in the poison's place. :func:`log_list` writes a v3
JSON log list naming the logs.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import ipaddress
import json
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from . import keys

SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
POISON_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.3")
UTC = datetime.timezone.utc
LogPrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]


def now() -> datetime.datetime:
    return datetime.datetime.now(UTC)


def rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spki_der(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def milliseconds(moment: datetime.datetime) -> int:
    return (moment - datetime.datetime(1970, 1, 1, tzinfo=UTC)) // datetime.timedelta(
        milliseconds=1
    )


# -- DER: just enough to take the poison extension out of a TBSCertificate ---


def _read_tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of content, end of element) of the element at *offset*."""
    tag = data[offset]
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    return tag, start, start + length


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _children(data: bytes, start: int, end: int) -> list[bytes]:
    items = []
    while start < end:
        _, _, stop = _read_tlv(data, start)
        items.append(data[start:stop])
        start = stop
    return items


def tbs_without_poison(precert: x509.Certificate) -> bytes:
    """The precertificate's TBSCertificate without the poison extension.

    What a log signs for a precertificate (RFC 6962 section 3.2), computed
    from the precertificate's own bytes as a log would.
    """
    tbs = precert.tbs_certificate_bytes
    tag, start, end = _read_tlv(tbs, 0)
    assert tag == 0x30
    fields = _children(tbs, start, end)
    rebuilt = []
    poison = _tlv(0x06, bytes.fromhex("2B06010401D679020403"))  # the OID, DER
    found = False
    for field in fields:
        if field[0] != 0xA3:  # not the [3] extensions
            rebuilt.append(field)
            continue
        _, inner, inner_end = _read_tlv(field, 0)
        _, seq_start, seq_end = _read_tlv(field, inner)
        extensions = []
        for extension in _children(field, seq_start, seq_end):
            _, ext_start, _ = _read_tlv(extension, 0)
            if extension[ext_start:].startswith(poison):
                found = True
                continue
            extensions.append(extension)
        assert inner_end == len(field)
        rebuilt.append(_tlv(0xA3, _tlv(0x30, b"".join(extensions))))
    assert found, "not a precertificate: no poison extension"
    return _tlv(0x30, b"".join(rebuilt))


# -- logs and SCTs -------------------------------------------------------------


@dataclasses.dataclass
class TestLog:
    """A CT log: a real key, a name and an operator, and its list entry."""

    __test__ = False  # not a pytest test class

    description: str
    operator: str
    private_key: LogPrivateKey = dataclasses.field(repr=False)
    state: str = "usable"
    state_since: Optional[datetime.datetime] = None
    temporal_interval: Optional[tuple[datetime.datetime, datetime.datetime]] = None

    @property
    def key_der(self) -> bytes:
        return spki_der(self.private_key.public_key())

    @property
    def log_id(self) -> bytes:
        return hashlib.sha256(self.key_der).digest()

    def with_state(
        self,
        state: str,
        since: Optional[datetime.datetime] = None,
        temporal_interval: Optional[tuple[datetime.datetime, datetime.datetime]] = None,
    ) -> TestLog:
        return dataclasses.replace(
            self, state=state, state_since=since, temporal_interval=temporal_interval
        )

    def entry(self) -> dict[str, Any]:
        """This log as a v3 log list entry."""
        since = self.state_since or now() - datetime.timedelta(days=365)
        entry: dict[str, Any] = {
            "description": self.description,
            "log_id": base64.b64encode(self.log_id).decode(),
            "key": base64.b64encode(self.key_der).decode(),
            "url": f"https://{self.description.lower().replace(' ', '-')}.test/",
            "mmd": 86400,
            "state": {self.state: {"timestamp": rfc3339(since)}},
        }
        if self.temporal_interval is not None:
            start, end = self.temporal_interval
            entry["temporal_interval"] = {
                "start_inclusive": rfc3339(start),
                "end_exclusive": rfc3339(end),
            }
        return entry

    def sign_sct(
        self,
        tbs: bytes,
        issuer_key_hash: bytes,
        timestamp: datetime.datetime,
        extensions: bytes = b"",
    ) -> bytes:
        """A TLS-encoded v1 SCT for the precertificate entry (RFC 6962 3.2)."""
        ms = milliseconds(timestamp)
        signed = b"".join(
            (
                b"\x00",  # v1
                b"\x00",  # certificate_timestamp
                ms.to_bytes(8, "big"),
                b"\x00\x01",  # precert_entry
                issuer_key_hash,
                len(tbs).to_bytes(3, "big"),
                tbs,
                len(extensions).to_bytes(2, "big"),
                extensions,
            )
        )
        key = self.private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            signature = key.sign(signed, ec.ECDSA(hashes.SHA256()))
            algorithm = b"\x04\x03"  # sha256, ecdsa
        else:
            signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
            algorithm = b"\x04\x01"  # sha256, rsa
        return b"".join(
            (
                b"\x00",
                self.log_id,
                ms.to_bytes(8, "big"),
                len(extensions).to_bytes(2, "big"),
                extensions,
                algorithm,
                len(signature).to_bytes(2, "big"),
                signature,
            )
        )


def make_log(description: str, operator: str, kind: str = "ec") -> TestLog:
    key: LogPrivateKey
    if kind == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return TestLog(description, operator, key)


def sct_list(scts: Sequence[bytes]) -> bytes:
    """The TLS-encoded SignedCertificateTimestampList (RFC 6962 3.3)."""
    body = b"".join(len(s).to_bytes(2, "big") + s for s in scts)
    return len(body).to_bytes(2, "big") + body


def sct_list_extension(tls_list: bytes) -> x509.UnrecognizedExtension:
    """The extension whose value is an OCTET STRING holding *tls_list*."""
    return x509.UnrecognizedExtension(SCT_LIST_OID, _tlv(0x04, tls_list))


def log_list(
    logs: Sequence[TestLog],
    *,
    timestamp: Optional[datetime.datetime] = None,
) -> dict[str, Any]:
    """A v3 log list document naming *logs*, grouped by operator."""
    operators: dict[str, list[dict[str, Any]]] = {}
    for log in logs:
        operators.setdefault(log.operator, []).append(log.entry())
    return {
        "version": "test",
        "log_list_timestamp": rfc3339(timestamp or now()),
        "operators": [
            {"name": name, "email": [f"ct@{name.lower()}.test"], "logs": entries}
            for name, entries in operators.items()
        ],
    }


def write_log_list(path: Path, logs: Sequence[TestLog], **options: Any) -> Path:
    path.write_text(json.dumps(log_list(logs, **options), indent=2), encoding="utf-8")
    return path


# -- a CA that issues leaves with embedded SCTs ---------------------------------


@dataclasses.dataclass
class Issued:
    """A leaf the CTAuthority issued, with what went into it."""

    leaf: x509.Certificate
    precert: Optional[x509.Certificate]
    key: ec.EllipticCurvePrivateKey = dataclasses.field(repr=False)
    intermediate: x509.Certificate

    def write_chain(self, directory: Path, name: str = "leaf") -> tuple[str, str]:
        """(cert file with leaf + intermediate, key file), PEM."""
        pems = [c.public_bytes(serialization.Encoding.PEM) for c in self.certs]
        return keys.write_chain_files(directory, name, b"".join(pems), self.key)

    @property
    def certs(self) -> tuple[x509.Certificate, x509.Certificate]:
        return self.leaf, self.intermediate


def server_context(issued: Issued, directory: Path) -> ssl.SSLContext:
    """A TLS server context serving *issued* (leaf and intermediate)."""
    return keys.server_context(*issued.write_chain(directory))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class CTAuthority:
    """A root CA and an intermediate that issue CT-logged leaves."""

    def __init__(self) -> None:
        start = now() - datetime.timedelta(days=30)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._ca(_name("pinws CT test root"), self.root_key, None, start)
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = self._ca(
            _name("pinws CT test intermediate"), self.intermediate_key, self.root, start
        )
        self._serial = 1000

    def _ca(
        self,
        name: x509.Name,
        key: ec.EllipticCurvePrivateKey,
        parent: Optional[x509.Certificate],
        start: datetime.datetime,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(parent.subject if parent else name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            )
        )
        signer = self.root_key if parent is not None else key
        return builder.sign(signer, hashes.SHA256())

    @property
    def issuer_key_hash(self) -> bytes:
        return hashlib.sha256(spki_der(self.intermediate_key.public_key())).digest()

    def write_root(self, directory: Path) -> str:
        path = directory / "ct-root.pem"
        path.write_bytes(self.root.public_bytes(serialization.Encoding.PEM))
        return str(path)

    def _leaf_builder(
        self,
        key: ec.EllipticCurvePrivateKey,
        names: Sequence[str],
        not_before: datetime.datetime,
        not_after: datetime.datetime,
        serial: int,
    ) -> x509.CertificateBuilder:
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        return (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(sans), False)
            .add_extension(
                x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False
            )
        )

    def precertificate(
        self,
        names: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
        *,
        lifetime: datetime.timedelta = datetime.timedelta(days=90),
        key: Optional[ec.EllipticCurvePrivateKey] = None,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, x509.CertificateBuilder]:
        """A precertificate (critical poison), its key, and the builder sans poison."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        self._serial += 1
        not_before = now() - datetime.timedelta(days=1)
        builder = self._leaf_builder(
            key, names, not_before, not_before + lifetime, self._serial
        )
        precert = builder.add_extension(x509.PrecertPoison(), critical=True).sign(
            self.intermediate_key, hashes.SHA256()
        )
        return precert, key, builder

    def issue(
        self,
        logs: Sequence[TestLog],
        *,
        names: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
        lifetime: datetime.timedelta = datetime.timedelta(days=90),
        timestamps: Optional[Sequence[datetime.datetime]] = None,
        extra_scts: Sequence[bytes] = (),
        tamper: Optional[int] = None,
        signed_tbs: Optional[bytes] = None,
        embed: bool = True,
    ) -> Issued:
        """Issue a leaf with an SCT from each of *logs* embedded.

        Args:
            timestamps: per log, the SCT's time (default: an hour ago).
            extra_scts: TLS-encoded SCTs appended to the list as they are.
            tamper: flip a bit of this SCT's signature.
            signed_tbs: have the logs sign this TBS instead of the leaf's.
            embed: False issues a leaf with no SCT list at all.
        """
        precert, key, builder = self.precertificate(names, lifetime=lifetime)
        if not embed:
            leaf = builder.sign(self.intermediate_key, hashes.SHA256())
            return Issued(leaf, None, key, self.intermediate)
        tbs = signed_tbs if signed_tbs is not None else tbs_without_poison(precert)
        when = timestamps or [now() - datetime.timedelta(hours=1)] * len(logs)
        scts = [
            log.sign_sct(tbs, self.issuer_key_hash, moment)
            for log, moment in zip(logs, when)
        ]
        if tamper is not None:
            raw = bytearray(scts[tamper])
            raw[-1] ^= 0x01
            scts[tamper] = bytes(raw)
        scts += list(extra_scts)
        leaf = builder.add_extension(
            sct_list_extension(sct_list(scts)), critical=False
        ).sign(self.intermediate_key, hashes.SHA256())
        return Issued(leaf, precert, key, self.intermediate)


# -- the cases every layer (policy, handshake, CLI) is tested with ---------------


@dataclasses.dataclass
class CTWorld:
    """One CA and a few logs: two of operator Alpha, one each of Beta and
    Gamma (Beta's key is RSA, the others' ECDSA P-256), and a stranger that
    no log list names."""

    authority: CTAuthority
    alpha: TestLog
    alpha2: TestLog
    beta: TestLog
    gamma: TestLog
    stranger: TestLog

    @classmethod
    def create(cls) -> CTWorld:
        return cls(
            CTAuthority(),
            make_log("Alpha 2026", "Alpha"),
            make_log("Alpha Two", "Alpha"),
            make_log("Beta 2026", "Beta", "rsa"),
            make_log("Gamma 2026", "Gamma"),
            make_log("Stranger", "Nobody"),
        )

    @property
    def listed(self) -> list[TestLog]:
        return [self.alpha, self.alpha2, self.beta, self.gamma]


@dataclasses.dataclass
class Scenario:
    """A leaf, the log list it is judged against, and the expected verdict."""

    issued: Issued
    logs: list[TestLog]
    statuses: list[str]
    passes: bool
    required: int = 2


def _with(world: CTWorld, replaced: TestLog) -> list[TestLog]:
    return [replaced if log.log_id == replaced.log_id else log for log in world.listed]


def _hours(count: float) -> datetime.datetime:
    return now() + datetime.timedelta(hours=count)


LONG = datetime.timedelta(days=400)


def _passing(world: CTWorld) -> dict[str, Scenario]:
    w, a = world, world.authority
    return {
        "valid_two_operators": Scenario(
            a.issue([w.alpha, w.beta]), w.listed, ["valid", "valid"], True
        ),
        "retired_after_the_sct": Scenario(
            a.issue([w.alpha, w.beta], timestamps=[_hours(-1), _hours(-2)]),
            _with(w, w.beta.with_state("retired", _hours(-1))),
            ["valid", "valid"],
            True,
        ),
        "readonly_and_qualified_logs": Scenario(
            a.issue([w.alpha, w.beta]),
            [
                w.alpha.with_state("readonly", _hours(-24 * 30)),
                w.beta.with_state("qualified", _hours(-24 * 30)),
            ],
            ["valid", "valid"],
            True,
        ),
        "inside_the_temporal_interval": Scenario(
            a.issue([w.alpha, w.beta]),
            _with(
                w,
                w.beta.with_state(
                    "usable",
                    temporal_interval=(_hours(-24 * 30), _hours(24 * 180)),
                ),
            ),
            ["valid", "valid"],
            True,
        ),
        "long_lived_with_three": Scenario(
            a.issue([w.alpha, w.beta, w.gamma], lifetime=LONG),
            w.listed,
            ["valid", "valid", "valid"],
            True,
            required=3,
        ),
    }


def _failing(world: CTWorld) -> dict[str, Scenario]:
    w, a = world, world.authority
    other_precert, _, _ = a.precertificate(("other.example",))
    return {
        "tampered_signature": Scenario(
            a.issue([w.alpha, w.beta], tamper=0),
            w.listed,
            ["invalid_signature", "valid"],
            False,
        ),
        "unknown_log": Scenario(
            a.issue([w.alpha, w.stranger]), w.listed, ["valid", "unknown_log"], False
        ),
        "pending_log": Scenario(
            a.issue([w.alpha, w.beta]),
            _with(w, w.beta.with_state("pending", _hours(-24 * 30))),
            ["valid", "log_not_acceptable"],
            False,
        ),
        "rejected_log": Scenario(
            a.issue([w.alpha, w.beta]),
            _with(w, w.beta.with_state("rejected", _hours(-24 * 30))),
            ["valid", "log_not_acceptable"],
            False,
        ),
        "log_retired_before_the_sct": Scenario(
            a.issue([w.alpha, w.beta]),
            _with(w, w.beta.with_state("retired", _hours(-2))),
            ["valid", "log_not_acceptable"],
            False,
        ),
        "future_timestamp": Scenario(
            a.issue([w.alpha, w.beta], timestamps=[_hours(-1), _hours(24)]),
            w.listed,
            ["valid", "future_timestamp"],
            False,
        ),
        "outside_the_temporal_interval": Scenario(
            a.issue([w.alpha, w.beta]),
            _with(
                w,
                w.beta.with_state(
                    "usable",
                    temporal_interval=(_hours(24 * 365), _hours(24 * 545)),
                ),
            ),
            ["valid", "log_not_acceptable"],
            False,
        ),
        "too_few_for_the_lifetime": Scenario(
            a.issue([w.alpha, w.beta], lifetime=LONG),
            w.listed,
            ["valid", "valid"],
            False,
            required=3,
        ),
        "an_sct_counts_once": Scenario(
            a.issue([w.alpha, w.beta, w.beta], lifetime=LONG),
            w.listed,
            ["valid", "valid", "valid"],
            False,
            required=3,
        ),
        "one_operator_only": Scenario(
            a.issue([w.alpha, w.alpha2]), w.listed, ["valid", "valid"], False
        ),
        "no_scts": Scenario(a.issue([], embed=False), w.listed, [], False),
        "scts_over_a_different_tbs": Scenario(
            a.issue([w.alpha, w.beta], signed_tbs=tbs_without_poison(other_precert)),
            w.listed,
            ["invalid_signature", "invalid_signature"],
            False,
        ),
    }


PASSING = (
    "valid_two_operators",
    "retired_after_the_sct",
    "readonly_and_qualified_logs",
    "inside_the_temporal_interval",
    "long_lived_with_three",
)
FAILING = (
    "tampered_signature",
    "unknown_log",
    "pending_log",
    "rejected_log",
    "log_retired_before_the_sct",
    "future_timestamp",
    "outside_the_temporal_interval",
    "too_few_for_the_lifetime",
    "an_sct_counts_once",
    "one_operator_only",
    "no_scts",
    "scts_over_a_different_tbs",
)


def scenarios(world: CTWorld) -> dict[str, Scenario]:
    """Every case, by name (see PASSING and FAILING)."""
    built = {**_passing(world), **_failing(world)}
    assert set(built) == set(PASSING) | set(FAILING)
    return built
