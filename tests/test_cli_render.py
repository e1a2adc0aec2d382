"""The CLI's one renderer: every result type as text and as JSON, built by hand.

No network and no subprocess: the commands' own tests (test_cli_*.py) run
them end to end; these pin the shape of each output form to its result.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
from typing import Any, cast

import pytest

from pinws import CTLogList, CTVerdict, PinStoreEntry, SCTResult
from pinws._cli.advice import Choice, Suggestion
from pinws._cli.certinfo import CertDetails, KeyDetails
from pinws._cli.console import Console
from pinws._cli.ctinfo import CTReport
from pinws._cli.errors import ExitCode
from pinws._cli.keyfiles import FileItem
from pinws._cli.render import as_json, render, text
from pinws._cli.results import (
    CheckFailure,
    CheckResult,
    Closed,
    Connected,
    DemoServer,
    Finding,
    Message,
    PinSetStatus,
    PinsResult,
    RememberedHost,
    Result,
    ServerChain,
    StoreEntryAdded,
    StoreForgotten,
    StoreListing,
)
from pinws._cli.target import Target

UTC = datetime.timezone.utc
PIN_A = "sha256/" + "A" * 43 + "="
PIN_B = "sha256/" + "B" * 43 + "="
PIN_C = "sha256/" + "C" * 43 + "="
TARGET = Target("example.test", 8443, "wss://example.test:8443/feed")


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")


def console(colour: bool = False) -> Console:
    if colour:
        return Console(_TTY(), _TTY())
    return Console(io.StringIO(), io.StringIO())


def lines(result: Result, colour: bool = False) -> list[str]:
    return list(text(result, console(colour)).out)


def cert(depth: int, role: str, pin: str, days_left: int = 400) -> CertDetails:
    return CertDetails(
        depth=depth,
        role=role,
        subject=f"CN=depth {depth}",
        issuer=f"CN=depth {depth + 1}",
        not_before=datetime.datetime(2025, 1, 1, tzinfo=UTC),
        not_after=datetime.datetime(2027, 6, 30, 12, tzinfo=UTC),
        days_left=days_left,
        key=KeyDetails("EC", 256, "EC P-256", pin),
        names=("example.test",) if depth == 0 else (),
        is_ca=depth > 0,
        certificate=cast(Any, None),  # never rendered
    )


CHAIN = (
    cert(0, "leaf", PIN_A),
    cert(1, "intermediate CA", PIN_B),
    cert(2, "root CA (trust anchor)", PIN_C),
)


# -- pins ------------------------------------------------------------------------


def test_pins_of_a_verified_server_with_a_backup_from_a_file() -> None:
    backup = FileItem(
        "backup.pem", 1, "private key", KeyDetails("EC", 384, "EC P-384", PIN_C)
    )
    suggestion = Suggestion(
        (Choice(PIN_B, "the intermediate", depth=1),),
        (Choice(PIN_C, "backup: the private key in backup.pem", source="backup.pem"),),
        ("Stricter: pin the leaf.",),
    )
    server = ServerChain(TARGET, "proxy.test:3128", "TLSv1.3", True, None, CHAIN[:2])
    result = PinsResult(server, (backup,), suggestion)
    assert lines(result) == [
        "wss://example.test:8443/feed  (example.test:8443, TLSv1.3, through "
        "proxy.test:3128)",
        "Verified chain, leaf first (what a pinned client matches its pins against):",
        "",
        "  depth 0  leaf",
        "    subject  CN=depth 0",
        "    issuer   CN=depth 1",
        "    valid    2025-01-01 to 2027-06-30 (400 days left)",
        "    key      EC P-256",
        "    names    example.test",
        f"    pin      {PIN_A}",
        "",
        "  depth 1  intermediate CA",
        "    subject  CN=depth 1",
        "    issuer   CN=depth 2",
        "    valid    2025-01-01 to 2027-06-30 (400 days left)",
        "    key      EC P-256",
        f"    pin      {PIN_B}",
        "",
        "backup.pem: private key 1",
        "    key      EC P-384",
        f"    pin      {PIN_C}",
        "",
        "Suggested pin set:",
        f"  {PIN_B}",
        "      the intermediate",
        f"  {PIN_C}",
        "      backup: the private key in backup.pem",
        "  * Stricter: pin the leaf.",
        f'In Python: pins=["{PIN_B}", "{PIN_C}"]',
    ]  # fmt: skip
    document = as_json(result)
    assert document["server"]["proxy"] == "proxy.test:3128"
    assert document["server"]["verified"] is True
    assert "ct" not in document["server"]  # no --ct-log-list, no key
    assert document["server"]["chain"][1] == {
        "depth": 1,
        "role": "intermediate CA",
        "subject": "CN=depth 1",
        "issuer": "CN=depth 2",
        "not_before": "2025-01-01T00:00:00Z",
        "not_after": "2027-06-30T12:00:00Z",
        "days_left": 400,
        "key_type": "EC",
        "key_size": 256,
        "key": "EC P-256",
        "names": [],
        "is_ca": True,
        "pin": PIN_B,
    }
    assert document["files"] == [
        {
            "source": "backup.pem",
            "index": 1,
            "kind": "private key",
            "key_type": "EC",
            "key_size": 384,
            "key": "EC P-384",
            "pin": PIN_C,
        }
    ]
    assert document["suggested_pins"] == [
        {"pin": PIN_B, "why": "the intermediate", "depth": 1}
    ]
    assert document["backup_pins"][0]["source"] == "backup.pem"
    assert document["advice"] == ["Stricter: pin the leaf."]


def test_pins_of_an_unverified_server_are_marked_everywhere() -> None:
    server = ServerChain(
        TARGET,
        None,
        "TLSv1.2",
        False,
        "self-signed certificate",
        (cert(0, "leaf (self-signed)", PIN_A, days_left=-3),),
        ct_requested=True,
    )
    shown = lines(PinsResult(server, (), None))
    assert shown[:3] == [
        "UNVERIFIED: wss://example.test:8443/feed  (example.test:8443, TLSv1.2)",
        "UNVERIFIED: the chain did NOT verify: self-signed certificate",
        "UNVERIFIED: anyone between you and the server could have sent these "
        "certificates. Certificates as SENT by the server:",
    ]
    assert "  depth 0  leaf (self-signed)  [UNVERIFIED]" in shown
    assert "    valid    2025-01-01 to 2027-06-30 (EXPIRED 3 days ago)" in shown
    assert shown[-1] == "Certificate Transparency: not judged, the chain did not verify"
    document = as_json(PinsResult(server, (), None))
    assert document["server"]["verified"] is False
    assert document["server"]["verification_error"] == "self-signed certificate"
    assert document["server"]["ct"] is None
    assert "suggested_pins" not in document


def test_pins_of_files_only() -> None:
    key = KeyDetails("RSA", 2048, "RSA 2048", PIN_A)
    csr = FileItem(
        "next.csr", 2, "certificate request", key, subject="CN=next", signature_ok=False
    )
    result = PinsResult(None, (csr,), None)
    assert lines(result) == [
        "next.csr: certificate request 2",
        "    subject  CN=next",
        "    warning  the CSR's signature does not verify",
        "    key      RSA 2048",
        f"    pin      {PIN_A}",
    ]
    assert as_json(result) == {
        "server": None,
        "files": [
            {
                "source": "next.csr",
                "index": 2,
                "kind": "certificate request",
                "key_type": "RSA",
                "key_size": 2048,
                "key": "RSA 2048",
                "pin": PIN_A,
                "subject": "CN=next",
                "signature_ok": False,
            }
        ],
    }


def ct_report(passed: bool) -> CTReport:
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    logs = CTLogList((), timestamp=moment, source="log_list.json")
    sct = SCTResult("bG9n", "Test Log", "Operator", moment, "valid")
    bad = SCTResult("b3RoZXI=", None, None, moment, "unknown_log", "not in the list")
    verdict = CTVerdict(
        (sct, sct) if passed else (sct, bad),
        2,
        2 if passed else 1,
        ("Operator", "Other") if passed else ("Operator",),
    )
    return CTReport(verdict, logs, moment + datetime.timedelta(days=80))


def test_certificate_transparency_in_pins() -> None:
    server = ServerChain(
        TARGET, None, "TLSv1.3", True, None, CHAIN[:1], ct_report(False), True
    )
    shown = lines(PinsResult(server, (), None))
    block = shown[shown.index("") + 9 :]
    assert block == [
        "Certificate Transparency (log list log_list.json, 0 logs, "
        "2026-01-02T03:04:05Z):",
        "  warning: the log list is 80 days old; get a fresh one",
        "  valid              Test Log (Operator), 2026-01-02T03:04:05Z",
        "  UNKNOWN LOG        unknown log b3RoZXI= (unknown operator), "
        "2026-01-02T03:04:05Z: not in the list",
        f"  verdict: FAIL: {server.ct.verdict.reason if server.ct else ''}",
    ]  # fmt: skip
    ct = as_json(PinsResult(server, (), None))["server"]["ct"]
    assert ct["log_list"] == "log_list.json"
    assert ct["log_list_stale"] is True
    assert ct["passed"] is False
    assert ct["valid_logs"] == 1
    assert [sct["status"] for sct in ct["scts"]] == ["valid", "unknown_log"]


# -- check -----------------------------------------------------------------------


def check_result(**changes: Any) -> CheckResult:
    values: dict[str, Any] = {
        "target": TARGET,
        "proxy": None,
        "tls_version": "TLSv1.3",
        "pins_from": "pins.toml",
        "pattern": "*.test",
        "pins": (PIN_B, PIN_C),
        "pin_set": PinSetStatus(datetime.date(2027, 1, 1), False, False),
        "matched": CHAIN[1:2],
        "warn_days": 30,
        "findings": (
            Finding("ok", "pin_match", "pin matches"),
            Finding("info", "pin_set_report_only", "report-only"),
            Finding("warning", "certificate_expiring", "expires soon"),
        ),
        "chain": CHAIN,
        "ct": None,
        "status": "warning",
        "exit_code": ExitCode.WARNING,
        "reason": "certificate_expiring",
    }
    values.update(changes)
    return CheckResult(**values)


def test_check_text() -> None:
    mismatch = Finding(
        "critical", "pin_mismatch", "no match", ("verified chain:", f"  {PIN_A}")
    )
    result = check_result(
        proxy="proxy.test:3128",
        ct=ct_report(True),
        findings=(Finding("ok", "backup_pin", "1 backup pin"), mismatch),
        status="critical",
        exit_code=ExitCode.CRITICAL,
        reason="pin_mismatch",
    )
    assert lines(result) == [
        "wss://example.test:8443/feed  (example.test:8443, TLSv1.3, through "
        "proxy.test:3128)",
        '  pins: pins.toml, pattern "*.test"',
        "  CT log list: log_list.json",
        "  ok        1 backup pin",
        "  CRITICAL  no match",
        "            verified chain:",
        f"              {PIN_A}",
        "result: CRITICAL, pin_mismatch (exit 2)",
    ]  # fmt: skip
    plain = check_result(pins_from=None, pattern=None, findings=(), status="ok",
                         exit_code=ExitCode.OK, reason="ok")  # fmt: skip
    assert lines(plain) == [
        "wss://example.test:8443/feed  (example.test:8443, TLSv1.3)",
        "result: OK (exit 0)",
    ]


def test_check_text_in_colour() -> None:
    shown = lines(check_result(), colour=True)
    assert (
        shown[0]
        == "\x1b[1mwss://example.test:8443/feed\x1b[0m  (example.test:8443, TLSv1.3)"
    )
    assert shown[2] == "  \x1b[32mok      \x1b[0m  pin matches"
    assert shown[3] == "  \x1b[2minfo    \x1b[0m  report-only"
    assert shown[4] == "  \x1b[33mwarning \x1b[0m  expires soon"
    assert shown[5] == "result: \x1b[33mWARNING, certificate_expiring\x1b[0m (exit 1)"


def test_check_json() -> None:
    document = as_json(check_result())
    assert list(document) == [
        "url", "host", "port", "status", "exit_code", "reason", "tls_version",
        "pins_from", "pattern", "pins", "pin_set", "matched", "warn_days",
        "findings", "chain_verified", "chain", "ct",
    ]  # fmt: skip
    assert document["status"] == "warning"
    assert document["exit_code"] == 1
    assert document["pins"] == [PIN_B, PIN_C]
    assert document["pin_set"] == {
        "expires": "2027-01-01",
        "expired": False,
        "report_only": False,
    }
    assert document["matched"] == [{"pin": PIN_B, "depth": 1, "subject": "CN=depth 1"}]
    assert document["findings"][2] == {
        "level": "warning",
        "reason": "certificate_expiring",
        "message": "expires soon",
    }
    assert [entry["pin"] for entry in document["chain"]] == [PIN_A, PIN_B, PIN_C]
    assert document["ct"] is None
    assert as_json(check_result(pin_set=None, ct=ct_report(True)))["pin_set"] is None
    assert as_json(check_result(ct=ct_report(True)))["ct"]["passed"] is True


def test_check_failures() -> None:
    unreachable = CheckFailure(
        TARGET.url, "unknown", ExitCode.UNKNOWN, "unreachable", "cannot connect"
    )
    assert lines(unreachable) == ["result: UNKNOWN, unreachable (exit 3)"]
    assert as_json(unreachable) == {
        "url": TARGET.url,
        "status": "unknown",
        "exit_code": 3,
        "reason": "unreachable",
        "error": "cannot connect",
    }
    untrusted = CheckFailure(
        TARGET.url, "critical", ExitCode.CRITICAL, "certificate_untrusted",
        "untrusted", CHAIN[:1],
    )  # fmt: skip
    assert lines(untrusted) == ["result: CRITICAL, certificate_untrusted (exit 2)"]
    document = as_json(untrusted)
    assert document["chain_verified"] is False
    assert [entry["pin"] for entry in document["chain"]] == [PIN_A]


# -- store -----------------------------------------------------------------------

FIRST_SEEN = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def remembered(expired: bool = False) -> RememberedHost:
    entry = PinStoreEntry(
        "printer.local", (PIN_A, PIN_B), "manual", FIRST_SEEN,
        expires=datetime.datetime(2026, 5, 1, tzinfo=UTC), include_subdomains=True,
        report_only=True, report_uri="https://report.test/",
    )  # fmt: skip
    return RememberedHost(entry, expired)


def test_store_listing() -> None:
    listing = StoreListing("pins.json", (remembered(expired=True),))
    assert lines(listing) == [
        "printer.local  manual, first seen 2026-03-04 05:06:07 UTC, expires "
        "2026-05-01 00:00:00 UTC (expired), and subdomains, report-only, reports "
        "to https://report.test/",
        f"  {PIN_A}",
        f"  {PIN_B}",
    ]
    [entry] = as_json(listing)["entries"]
    assert entry["host"] == "printer.local"
    assert entry["pins"] == [PIN_A, PIN_B]
    assert entry["source"] == "manual"
    assert as_json(listing)["store"] == "pins.json"
    empty = StoreListing("pins.json", ())
    assert text(empty, console()).out == ()
    assert text(empty, console()).notes == ("pinws store: pins.json remembers no host",)
    assert as_json(empty) == {"store": "pins.json", "entries": []}


def test_store_add_and_forget() -> None:
    added = StoreEntryAdded(remembered())
    assert lines(added)[0].startswith("printer.local  manual, first seen")
    assert "(expired)" not in lines(added)[0]
    assert as_json(added)["host"] == "printer.local"
    gone = StoreForgotten("pins.json", "printer.local", True)
    assert text(gone, console()).notes == (
        "pinws store: forgot printer.local in pins.json",
    )
    kept = StoreForgotten("pins.json", "x.local", False)
    assert text(kept, console()).notes == (
        "pinws store: pins.json has no entry for x.local",
    )
    assert as_json(kept) == {"host": "x.local", "forgotten": False}


# -- demo --serve ----------------------------------------------------------------


def test_demo_server() -> None:
    server = DemoServer(
        "wss://localhost:1234/", "/tmp/ca.pem",
        (("leaf", PIN_A), ("intermediate", PIN_B), ("root", PIN_C), ("backup", PIN_A)),
    )  # fmt: skip
    shown = lines(server)
    assert shown[:4] == [
        "pinws demo server (echo), pinned, on loopback",
        "  URL      wss://localhost:1234/",
        "  CA file  /tmp/ca.pem",
        f"  pins     {PIN_A}  leaf",
    ]
    assert (
        f"  pinws check wss://localhost:1234/ --ca-certs /tmp/ca.pem --pin {PIN_B} "
        f"--pin {PIN_A}"
    ) in shown
    out = console()
    render(out, server, json_output=True)
    written = cast(io.StringIO, out.out).getvalue()
    assert written.count("\n") == 1  # one line, for scripts to read
    assert json.loads(written) == {
        "url": "wss://localhost:1234/",
        "ca_file": "/tmp/ca.pem",
        "pins": {"leaf": PIN_A, "intermediate": PIN_B, "root": PIN_C, "backup": PIN_A},
    }


# -- connect ---------------------------------------------------------------------


def test_connected_notes() -> None:
    pinned = Connected(
        "wss://example.test/", "TLSv1.3", "graphql-ws", PIN_B, 1, "CN=depth 1",
        "pins from pins.json (tofu, first seen 2026-03-04 05:06:07 UTC)",
    )  # fmt: skip
    assert text(pinned, console()).notes == (
        "pinws connect: connected to wss://example.test/ (TLSv1.3, subprotocol "
        f"graphql-ws); pin {PIN_B} matched at depth 1 (CN=depth 1); pins from "
        "pins.json (tofu, first seen 2026-03-04 05:06:07 UTC)",
    )
    first_use = Connected("wss://d.test/", "TLSv1.2", store_note="first use: trusted")
    assert text(first_use, console()).notes == (
        "pinws connect: connected to wss://d.test/ (TLSv1.2); first use: trusted",
    )
    unpinned = Connected("wss://d.test/", "TLSv1.2")
    assert text(unpinned, console()).notes[0].endswith("(TLSv1.2); not pinned")


def test_messages() -> None:
    when = datetime.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    local = when.astimezone().strftime("%H:%M:%S.%f")[:-3]
    received = Message("<", "hello", when)
    assert lines(received) == [f"{local} < hello"]
    assert as_json(received) == {
        "time": "2026-03-04T05:06:07.890123+00:00",
        "direction": "received",
        "type": "text",
        "data": "hello",
    }
    binary = Message(">", bytes(range(256)) + b"!", when)
    assert lines(binary) == [
        f"{local} > [binary, 257 bytes] {bytes(range(256)).hex()}..."
    ]
    record = as_json(binary)
    assert record["direction"] == "sent"
    assert record["type"] == "binary"
    assert base64.b64decode(record["data_base64"]) == binary.data
    out = console()
    render(out, received, json_output=True)
    assert cast(io.StringIO, out.out).getvalue() == (
        '{"time":"2026-03-04T05:06:07.890123+00:00","direction":"received",'
        '"type":"text","data":"hello"}\n'
    )


def test_closed_notes() -> None:
    assert text(Closed(), console()).notes == ("pinws connect: connection closed",)
    assert text(Closed(1000, "bye"), console()).notes == (
        "pinws connect: connection closed (1000 bye)",
    )
    assert text(Closed(1001), console()).notes == (
        "pinws connect: connection closed (1001)",
    )
    with pytest.raises(TypeError):
        as_json(Closed())


def test_render_writes_results_to_stdout_and_notes_to_stderr() -> None:
    out = console()
    render(out, Closed(1000), json_output=True)  # a note, even with --json
    render(out, StoreForgotten("s.json", "h", True))
    render(out, check_result(), json_output=True)
    stdout = cast(io.StringIO, out.out).getvalue()
    stderr = cast(io.StringIO, out.err).getvalue()
    assert stderr == (
        "pinws connect: connection closed (1000)\npinws store: forgot h in s.json\n"
    )
    assert json.loads(stdout)["reason"] == "certificate_expiring"
    assert stdout.startswith('{\n  "url"')  # indented, one document
