"""Every result of every command, as text (with colours) and as JSON.

The one place output is shaped: a command computes a result
(:mod:`.results`) and calls :func:`render`. :func:`text` and
:func:`as_json` are the two forms, pure functions of the result (and, for
text, of the console's colours and width), tested without a network.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
from typing import Any

from .._store.store import entry_as_dict
from .advice import Choice, Suggestion
from .certinfo import CertDetails
from .console import Console
from .ctinfo import CTReport
from .keyfiles import FileItem
from .results import (
    CheckFailure,
    CheckResult,
    Closed,
    Connected,
    DemoServer,
    Finding,
    Message,
    PinsResult,
    RememberedHost,
    Result,
    ServerChain,
    StoreEntryAdded,
    StoreForgotten,
    StoreListing,
)
from .style import Style

__all__ = ["Text", "as_json", "render", "text"]

_BINARY_PREVIEW = 256
_SCT_MARKS = {
    "valid": "valid",
    "unknown_log": "UNKNOWN LOG",
    "invalid_signature": "BAD SIGNATURE",
    "log_not_acceptable": "LOG NOT ACCEPTABLE",
    "future_timestamp": "FUTURE TIMESTAMP",
}


@dataclasses.dataclass(frozen=True)
class Text:
    """A result as text: lines for standard output, and notes for stderr."""

    out: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def render(console: Console, result: Result, *, json_output: bool = False) -> None:
    """Write *result* to *console*: as JSON if *json_output*, else as text.

    ``pinws connect``'s connection notes are text on stderr either way
    (its ``--json`` is for the messages); ``demo --serve`` and messages
    are one line of JSON, the other results one indented document.
    """
    if json_output and not isinstance(result, (Connected, Closed)):
        document = as_json(result)
        if isinstance(result, Message):
            console.json_line(document)
        elif isinstance(result, DemoServer):
            console.print(json.dumps(document))
        else:
            console.json(document)
        return
    shown = text(result, console)
    if shown.out:
        console.lines(list(shown.out))
    for note in shown.notes:
        console.note(note)


# -- text ------------------------------------------------------------------------


def text(result: Result, console: Console) -> Text:
    """*result* as text, styled with *console*'s colours, wrapped to its width."""
    style = console.style
    if isinstance(result, PinsResult):
        return Text(tuple(_pins_text(result, console)))
    if isinstance(result, CheckResult):
        return Text(tuple(_check_text(result, style)))
    if isinstance(result, CheckFailure):
        return Text(
            (
                f"result: {result.status.upper()}, {result.reason} "
                f"(exit {int(result.exit_code)})",
            )
        )
    if isinstance(result, StoreListing):
        if not result.entries:
            return Text(notes=(f"pinws store: {result.path} remembers no host",))
        lines: list[str] = []
        for host in result.entries:
            lines += remembered_host_lines(host, style)
        return Text(tuple(lines))
    if isinstance(result, StoreEntryAdded):
        return Text(tuple(remembered_host_lines(result.host, style)))
    if isinstance(result, StoreForgotten):
        if result.forgotten:
            note = f"pinws store: forgot {result.host} in {result.path}"
        else:
            note = f"pinws store: {result.path} has no entry for {result.host}"
        return Text(notes=(note,))
    if isinstance(result, DemoServer):
        return Text(tuple(_demo_server_text(result, style)))
    if isinstance(result, Connected):
        return Text(notes=(_connected_text(result),))
    if isinstance(result, Message):
        return Text((_message_text(result),))
    return Text(notes=(_closed_text(result),))


def validity_text(details: CertDetails, style: Style) -> str:
    """``2025-01-01 to 2026-01-01 (365 days left)``, or the expired form."""
    span = f"{details.not_before:%Y-%m-%d} to {details.not_after:%Y-%m-%d}"
    days = details.days_left
    if days < 0:
        return f"{span} ({style.bad(f'EXPIRED {-days} days ago')})"
    if details.not_before > datetime.datetime.now(datetime.timezone.utc):
        return f"{span} ({style.bad('NOT YET VALID')})"
    left = f"{days} day{'s' if days != 1 else ''} left"
    return f"{span} ({style.warn(left) if days < 30 else left})"


def certificate_lines(
    details: CertDetails, style: Style, indent: str = "  "
) -> list[str]:
    """Human-readable lines describing one certificate."""
    where = f"depth {details.depth}  " if details.depth is not None else ""
    lines = [f"{indent}{style.bold(where + details.role)}"]
    inner = indent + "  "
    lines.append(f"{inner}subject  {details.subject}")
    lines.append(f"{inner}issuer   {details.issuer}")
    lines.append(f"{inner}valid    {validity_text(details, style)}")
    lines.append(f"{inner}key      {details.key.label}")
    if details.names:
        lines.append(f"{inner}names    {', '.join(details.names)}")
    lines.append(f"{inner}pin      {style.pin(details.pin)}")
    return lines


def sct_lines(report: CTReport) -> list[str]:
    """One line per SCT: status, log, operator, time (plain text)."""
    lines = []
    for sct in report.verdict.scts:
        log = sct.log_description or f"unknown log {sct.log_id}"
        operator = sct.operator or "unknown operator"
        line = f"{_SCT_MARKS[sct.status]:<18} {log} ({operator}), {_iso(sct.timestamp)}"
        if sct.detail:
            line += f": {sct.detail}"
        lines.append(line)
    if not report.verdict.scts and report.verdict.problem is None:
        lines.append("the certificate has no embedded SCTs")
    return lines


def ct_lines(report: CTReport, style: Style) -> list[str]:
    """The Certificate Transparency block ``pinws pins`` prints."""
    logs = report.logs
    lines = [
        style.bold(
            f"Certificate Transparency (log list {logs.source}, "
            f"{len(logs)} logs, {_iso(logs.timestamp)}):"
        )
    ]
    if report.stale:
        lines.append(
            "  "
            + style.warn("warning")
            + f": the log list is {logs.age(report.now).days} days old; "
            "get a fresh one"
        )
    lines += [f"  {line}" for line in sct_lines(report)]
    verdict = style.good("PASS") if report.verdict.passed else style.bad("FAIL")
    lines.append(f"  verdict: {verdict}: {report.verdict.reason}")
    return lines


def _pins_text(result: PinsResult, console: Console) -> list[str]:
    lines: list[str] = []
    server = result.server
    if server is not None:
        lines += _server_lines(server, console.style)
        if server.ct is not None:
            lines += ["", *ct_lines(server.ct, console.style)]
        elif server.ct_requested:
            lines += [
                "",
                "Certificate Transparency: not judged, the chain did not verify",
            ]
    if result.files:
        if lines:
            lines.append("")
        lines += _files_lines(result.files, console.style)
    if result.suggestion is not None:
        lines.append("")
        lines += _suggestion_lines(result.suggestion, console)
    return lines


def _server_lines(server: ServerChain, style: Style) -> list[str]:
    target = server.target
    via = f", through {server.proxy}" if server.proxy else ""
    lines = []
    if server.verified:
        lines.append(
            f"{style.bold(target.url)}  ({target.authority}, {server.tls_version}{via})"
        )
        lines.append(
            "Verified chain, leaf first (what a pinned client matches its pins "
            "against):"
        )
    else:
        banner = style.bad("UNVERIFIED")
        lines.append(
            f"{banner}: {target.url}  ({target.authority}, {server.tls_version}{via})"
        )
        lines.append(f"{banner}: the chain did NOT verify: {server.verification_error}")
        lines.append(
            f"{banner}: anyone between you and the server could have "
            "sent these certificates. Certificates as SENT by the server:"
        )
    for details in server.chain:
        lines.append("")
        entry = certificate_lines(details, style)
        if not server.verified:
            entry[0] += "  " + style.bad("[UNVERIFIED]")
        lines += entry
    return lines


def _files_lines(files: tuple[FileItem, ...], style: Style) -> list[str]:
    lines = []
    for number, item in enumerate(files):
        if number:
            lines.append("")
        lines.append(style.bold(f"{item.source}: {item.kind} {item.index}"))
        if item.certificate is not None:
            lines += certificate_lines(item.certificate, style)[1:]
            continue
        if item.subject is not None:
            lines.append(f"    subject  {item.subject}")
        if item.signature_ok is False:
            lines.append(
                f"    {style.warn('warning')}  the CSR's signature does not verify"
            )
        lines.append(f"    key      {item.key.label}")
        lines.append(f"    pin      {style.pin(item.pin)}")
    return lines


def _suggestion_lines(suggestion: Suggestion, console: Console) -> list[str]:
    style = console.style
    lines = [style.bold("Suggested pin set:")]
    for choice in suggestion.primary + suggestion.backups:
        lines.append(f"  {style.pin(choice.pin)}")
        lines += console.wrap(choice.why, "      ")
    if not suggestion.backups:
        lines.append(f"  {style.warn('+ a backup pin')} (see below)")
    for sentence in suggestion.advice:
        lines += console.wrap(sentence, "    ", first="  * ")
    placeholder = [] if suggestion.backups else ['"sha256/<your backup pin>"']
    listed = ", ".join([f'"{pin}"' for pin in suggestion.pins] + placeholder)
    lines.append(f"In Python: pins=[{listed}]")
    return lines


def _check_text(result: CheckResult, style: Style) -> list[str]:
    marks = {
        "ok": style.good("ok      "),
        "info": style.dim("info    "),
        "warning": style.warn("warning "),
        "critical": style.bad("CRITICAL"),
    }
    target = result.target
    where = f"{target.authority}, {result.tls_version}"
    if result.proxy is not None:
        where += f", through {result.proxy}"
    lines = [f"{style.bold(target.url)}  ({where})"]
    if result.pins_from is not None:
        pattern = f', pattern "{result.pattern}"' if result.pattern else ""
        lines.append(f"  pins: {result.pins_from}{pattern}")
    if result.ct is not None:
        lines.append(f"  CT log list: {result.ct.logs.source}")
    for finding in result.findings:
        lines.append(f"  {marks[finding.level]}  {finding.message}")
        lines += [f"            {line}" for line in finding.details]
    reason = result.reason
    verdict = {
        "ok": style.good("OK"),
        "warning": style.warn(f"WARNING, {reason}"),
        "critical": style.bad(f"CRITICAL, {reason}"),
    }[result.status]
    lines.append(f"result: {verdict} (exit {int(result.exit_code)})")
    return lines


def remembered_host_lines(host: RememberedHost, style: Style) -> list[str]:
    """One store entry: its host, where its pins came from, and the pins."""
    entry = host.entry
    details = [entry.source, f"first seen {_when(entry.first_seen)}"]
    if entry.expires is not None:
        expired = " (expired)" if host.expired else ""
        details.append(f"expires {_when(entry.expires)}{expired}")
    if entry.include_subdomains:
        details.append("and subdomains")
    if entry.report_only:
        details.append("report-only")
    if entry.report_uri:
        details.append(f"reports to {entry.report_uri}")
    lines = [f"{style.bold(entry.host)}  {', '.join(details)}"]
    lines += [f"  {style.pin(pin)}" for pin in entry.pins]
    return lines


def _when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _demo_server_text(server: DemoServer, style: Style) -> list[str]:
    url, ca_file = server.url, server.ca_file
    pin_args = f"--pin {server.pin('intermediate')} --pin {server.pin('backup')}"
    return [
        style.bold("pinws demo server (echo), pinned, on loopback"),
        f"  URL      {url}",
        f"  CA file  {ca_file}",
        f"  pins     {style.pin(server.pin('leaf'))}  leaf",
        f"           {style.pin(server.pin('intermediate'))}  intermediate CA",
        f"           {style.pin(server.pin('root'))}  root CA",
        f"           {style.pin(server.pin('backup'))}  backup key (not in use)",
        "",
        "Try, in another terminal:",
        f"  pinws pins {url} --ca-certs {ca_file}",
        f"  pinws check {url} --ca-certs {ca_file} {pin_args}",
        f"  pinws connect {url} --ca-certs {ca_file} {pin_args}",
        "",
        "Trust on first use, as SSH does (a device with no pins to give):",
        f"  pinws connect {url} --pin-only --store known_pins.json "
        "--trust-on-first-use",
        "Then restart this server -- it makes a new key each time -- and run",
        "the same command again: the changed key is refused.",
        "",
        "Ctrl-C stops the server.",
    ]


def _connected_text(result: Connected) -> str:
    details = [result.tls_version]
    if result.subprotocol:
        details.append(f"subprotocol {result.subprotocol}")
    matched = result.matched_pin
    where = ""
    if result.matched_depth is not None:
        where = f" at depth {result.matched_depth} ({result.matched_subject})"
    pinned = f"pin {matched} matched{where}" if matched else "not pinned"
    if result.store_note:
        pinned = f"{pinned}; {result.store_note}" if matched else result.store_note
    return f"pinws connect: connected to {result.url} ({', '.join(details)}); {pinned}"


def _message_text(message: Message) -> str:
    data = message.data
    if isinstance(data, bytes):
        preview = data[:_BINARY_PREVIEW].hex()
        more = "..." if len(data) > _BINARY_PREVIEW else ""
        shown = f"[binary, {len(data)} bytes] {preview}{more}"
    else:
        shown = data
    # Local time, to the millisecond: what the person at the console reads.
    stamp = message.when.astimezone().strftime("%H:%M:%S.%f")[:-3]
    return f"{stamp} {message.direction} {shown}"


def _closed_text(result: Closed) -> str:
    if result.status is None:
        return "pinws connect: connection closed"
    reason = f" {result.reason}" if result.reason else ""
    return f"pinws connect: connection closed ({result.status}{reason})"


# -- JSON ------------------------------------------------------------------------


def as_json(result: Result) -> Any:
    """*result* as a JSON-ready value (the ``--json`` output)."""
    if isinstance(result, PinsResult):
        return _pins_json(result)
    if isinstance(result, CheckResult):
        return _check_json(result)
    if isinstance(result, CheckFailure):
        document: dict[str, Any] = {
            "url": result.url,
            "status": result.status,
            "exit_code": int(result.exit_code),
            "reason": result.reason,
            "error": result.error,
        }
        if result.unverified_chain is not None:
            document["chain_verified"] = False
            document["chain"] = [certificate_json(d) for d in result.unverified_chain]
        return document
    if isinstance(result, StoreListing):
        return {
            "store": result.path,
            "entries": [_remembered_json(host) for host in result.entries],
        }
    if isinstance(result, StoreEntryAdded):
        return _remembered_json(result.host)
    if isinstance(result, StoreForgotten):
        return {"host": result.host, "forgotten": result.forgotten}
    if isinstance(result, DemoServer):
        return {"url": result.url, "ca_file": result.ca_file, "pins": dict(result.pins)}
    if isinstance(result, Message):
        return _message_json(result)
    raise TypeError(f"{type(result).__name__} has no JSON form")


def certificate_json(details: CertDetails) -> dict[str, Any]:
    """A certificate, JSON-ready (dates as RFC 3339 UTC strings)."""
    return {
        "depth": details.depth,
        "role": details.role,
        "subject": details.subject,
        "issuer": details.issuer,
        "not_before": _rfc3339(details.not_before),
        "not_after": _rfc3339(details.not_after),
        "days_left": details.days_left,
        "key_type": details.key.type,
        "key_size": details.key.size,
        "key": details.key.label,
        "names": list(details.names),
        "is_ca": details.is_ca,
        "pin": details.pin,
    }


def file_item_json(item: FileItem) -> dict[str, Any]:
    """A pinnable object from a file, JSON-ready."""
    result: dict[str, Any] = {
        "source": item.source,
        "index": item.index,
        "kind": item.kind,
        "key_type": item.key.type,
        "key_size": item.key.size,
        "key": item.key.label,
        "pin": item.pin,
    }
    if item.subject is not None:
        result["subject"] = item.subject
    if item.certificate is not None:
        details = certificate_json(item.certificate)
        for name in ("issuer", "not_before", "not_after", "days_left", "names"):
            result[name] = details[name]
    if item.signature_ok is not None:
        result["signature_ok"] = item.signature_ok
    return result


def ct_json(report: CTReport) -> dict[str, Any]:
    """A Certificate Transparency verdict, JSON-ready."""
    verdict = report.verdict
    return {
        "log_list": report.logs.source,
        "log_list_timestamp": _iso(report.logs.timestamp),
        "log_list_stale": report.stale,
        "passed": verdict.passed,
        "reason": verdict.reason,
        "required": verdict.required,
        "valid_logs": verdict.valid_logs,
        "operators": list(verdict.operators),
        "scts": [sct.as_dict() for sct in verdict.scts],
    }


def _choice_json(choice: Choice) -> dict[str, Any]:
    result: dict[str, Any] = {"pin": choice.pin, "why": choice.why}
    if choice.depth is not None:
        result["depth"] = choice.depth
    if choice.source is not None:
        result["source"] = choice.source
    return result


def _pins_json(result: PinsResult) -> dict[str, Any]:
    server = result.server
    server_json: Any = None
    if server is not None:
        target = server.target
        server_json = {
            "url": target.url,
            "host": target.host,
            "port": target.port,
            "proxy": server.proxy,
            "tls_version": server.tls_version,
            "verified": server.verified,
            "verification_error": server.verification_error,
            "chain": [certificate_json(details) for details in server.chain],
        }
        if server.ct_requested:
            server_json["ct"] = ct_json(server.ct) if server.ct is not None else None
    document: dict[str, Any] = {
        "server": server_json,
        "files": [file_item_json(item) for item in result.files],
    }
    suggestion = result.suggestion
    if suggestion is not None:
        document["suggested_pins"] = [_choice_json(c) for c in suggestion.primary]
        document["backup_pins"] = [_choice_json(c) for c in suggestion.backups]
        document["advice"] = list(suggestion.advice)
    return document


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "level": finding.level,
        "reason": finding.reason,
        "message": finding.message,
    }


def _check_json(result: CheckResult) -> dict[str, Any]:
    target = result.target
    pin_set = result.pin_set
    return {
        "url": target.url,
        "host": target.host,
        "port": target.port,
        "status": result.status,
        "exit_code": int(result.exit_code),
        "reason": result.reason,
        "tls_version": result.tls_version,
        "pins_from": result.pins_from,
        "pattern": result.pattern,
        "pins": list(result.pins),
        "pin_set": None
        if pin_set is None
        else {
            "expires": pin_set.expires.isoformat() if pin_set.expires else None,
            "expired": pin_set.expired,
            "report_only": pin_set.report_only,
        },
        "matched": [
            {"pin": d.pin, "depth": d.depth, "subject": d.subject}
            for d in result.matched
        ],
        "warn_days": result.warn_days,
        "findings": [_finding_json(finding) for finding in result.findings],
        "chain_verified": True,
        "chain": [certificate_json(details) for details in result.chain],
        "ct": ct_json(result.ct) if result.ct is not None else None,
    }


def _remembered_json(host: RememberedHost) -> dict[str, Any]:
    return {"host": host.entry.host, **entry_as_dict(host.entry)}


def _message_json(message: Message) -> dict[str, Any]:
    record: dict[str, Any] = {
        "time": message.when.isoformat(),
        "direction": "received" if message.direction == "<" else "sent",
    }
    if isinstance(message.data, bytes):
        record["type"] = "binary"
        record["data_base64"] = base64.b64encode(message.data).decode("ascii")
    else:
        record["type"] = "text"
        record["data"] = message.data
    return record


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
