"""The findings of ``pinws check``: one line each, from a verified chain.

Pure: the chain's details, the pin set, the CT verdict and the day in, a
list of :class:`~.results.Finding` and the overall status out. The pin
decision itself is the library's (:func:`pinws._pins.verdict.judge`), so the
command and a client never differ.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from .._pins.pin import Pin
from .._pins.pinset import PinSet
from .._pins.verdict import judge
from .certinfo import CertDetails
from .ctinfo import CTReport
from .errors import ExitCode
from .render import sct_lines
from .results import Finding

__all__ = [
    "ct_finding",
    "expiry_findings",
    "pin_findings",
    "unpinned_finding",
    "verdict_status",
]


def _days(count: int) -> str:
    return f"{count} day{'s' if count != 1 else ''}"


def _cert_label(details: CertDetails) -> str:
    return f"depth {details.depth} ({details.role}, {details.subject})"


def pin_findings(
    pin_set: PinSet,
    chain: Sequence[CertDetails],
    warn_days: int,
    today: datetime.date,
) -> tuple[list[Finding], list[CertDetails]]:
    """The pin findings: a match (or the mismatch), backups, the set's expiry.

    Returns:
        the findings, and the certificates of *chain* that match a pin.
    """
    # The library's own decision, so the command and the client never differ.
    verdict = judge(
        [Pin.parse(d.pin).digest for d in chain],
        pin_set,
        today=today,
        warn_days=warn_days,
    )
    findings: list[Finding] = []
    matched = [chain[depth] for depth, _ in verdict.matched]
    for details in matched:
        findings.append(
            Finding(
                "ok",
                "pin_match",
                f"pin {details.pin} matches {_cert_label(details)}",
            )
        )
    if not matched:
        extra = {
            "report_only_mismatch": " (the pin set is report-only: clients would "
            "connect and report)",
            "expired_pin_set_mismatch": " (the pin set has expired: clients would "
            "connect unpinned)",
        }.get(verdict.reason, "")
        findings.append(
            Finding(
                "critical",
                "pin_mismatch",
                f"no certificate of the verified chain matches a pin{extra}",
                (
                    "verified chain (leaf first):",
                    *(f"  depth {d.depth}  {d.pin}  {d.subject}" for d in chain),
                    "configured pins:",
                    *(f"  {pin}" for pin in pin_set.pins),
                ),
            )
        )

    if "single_pin" in verdict.warnings:
        findings.append(
            Finding(
                "warning",
                "no_backup_pin",
                "the pin set has a single pin and no backup: if that key is lost "
                "or rotated, clients are locked out; add the pin of a backup key "
                "(pinws pins --key FILE)",
            )
        )
    elif "no_off_chain_backup" in verdict.warnings:
        findings.append(
            Finding(
                "warning",
                "no_off_chain_backup",
                "every pin is a key of the chain served now, so there is no backup "
                "key: add the pin of a key not in use yet (pinws pins --key FILE)",
            )
        )
    else:
        count = verdict.backup_count
        findings.append(
            Finding(
                "ok",
                "backup_pin",
                f"{count} backup pin{'s' if count != 1 else ''} "
                "(not in the chain served now)",
            )
        )

    left = verdict.expires_in
    if left is not None:
        if "pin_set_expired" in verdict.warnings:
            findings.append(
                Finding(
                    "warning",
                    "pin_set_expired",
                    f"the pin set expired on {pin_set.expires}: clients no longer "
                    "enforce it; ship an updated pin set",
                )
            )
        elif "pin_set_expiring" in verdict.warnings:
            findings.append(
                Finding(
                    "warning",
                    "pin_set_expiring",
                    f"the pin set expires in {_days(left)} ({pin_set.expires}), "
                    f"within --warn-days {warn_days}",
                )
            )
        else:
            findings.append(
                Finding(
                    "ok",
                    "pin_set_expiry",
                    f"the pin set expires on {pin_set.expires} (in {_days(left)})",
                )
            )
    if pin_set.report_only:
        findings.append(
            Finding(
                "info",
                "pin_set_report_only",
                "the pin set is report-only (not enforced)",
            )
        )
    return findings, matched


def unpinned_finding(pins_from: str, host: str) -> Finding:
    """The warning for a host the pins given leave unpinned."""
    return Finding(
        "warning",
        "host_not_pinned",
        f"{pins_from} has no pins for {host!r} and allows unpinned hosts: "
        "clients connect to it without pinning",
    )


def expiry_findings(
    chain: Sequence[CertDetails], matched: Sequence[CertDetails], warn_days: int
) -> list[Finding]:
    """A finding per certificate expiring within *warn_days*, and the pinned one's."""
    findings = []
    for details in chain:
        pinned = " (the certificate that matches a pin)" if details in matched else ""
        when = f"{details.not_after:%Y-%m-%d}"
        if details.days_left <= warn_days:
            findings.append(
                Finding(
                    "warning",
                    "certificate_expiring",
                    f"{_cert_label(details)}{pinned} expires in "
                    f"{_days(details.days_left)} ({when}), within --warn-days "
                    f"{warn_days}",
                )
            )
        elif pinned or details.depth == 0:
            findings.append(
                Finding(
                    "ok",
                    "certificate_expiry",
                    f"{_cert_label(details)}{pinned} expires in "
                    f"{_days(details.days_left)} ({when})",
                )
            )
    return findings


def ct_finding(report: CTReport) -> Finding:
    """The Certificate Transparency verdict, with a line per SCT."""
    verdict = report.verdict
    details = tuple(sct_lines(report))
    if report.stale:
        details += (
            f"the log list is {report.logs.age(report.now).days} days old; "
            "get a fresh one",
        )
    if verdict.passed:
        return Finding(
            "ok", "ct_policy", f"Certificate Transparency: {verdict.reason}", details
        )
    return Finding(
        "critical",
        "ct_policy",
        f"Certificate Transparency policy fails: {verdict.reason}",
        details,
    )


def verdict_status(findings: list[Finding]) -> tuple[str, ExitCode, str]:
    """The verdict: status, exit code and the reason of the worst finding."""
    for level, code in (("critical", ExitCode.CRITICAL), ("warning", ExitCode.WARNING)):
        for finding in findings:
            if finding.level == level:
                return level, code, finding.reason
    return "ok", ExitCode.OK, "ok"
