"""``--ct-log-list``: judge a server's embedded SCTs, for ``pins`` and ``check``.

The CLI judges the chain its own verified handshake returned, with the same
pure verdict a client computes inside the handshake.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from .._ct.loglist import CTLogList
from .._ct.policy import CTVerdict, evaluate
from .._errors import ChainCertificate
from .errors import CLIError
from .style import Style

__all__ = ["CTReport", "add_ct_option", "judge_chain", "load_log_list"]

_MARKS = {
    "valid": "valid",
    "unknown_log": "UNKNOWN LOG",
    "invalid_signature": "BAD SIGNATURE",
    "log_not_acceptable": "LOG NOT ACCEPTABLE",
    "future_timestamp": "FUTURE TIMESTAMP",
}


def add_ct_option(group: Any, what: str) -> None:
    """``--ct-log-list FILE``."""
    group.add_argument("--ct-log-list", metavar="FILE", help=what)


def load_log_list(path: str) -> CTLogList:
    """Load ``--ct-log-list``.

    Raises:
        CLIError: unreadable or invalid.
    """
    try:
        return CTLogList.from_file(path)
    except FileNotFoundError:
        raise CLIError(f"--ct-log-list {path}: no such file") from None
    except OSError as exc:
        raise CLIError(
            f"--ct-log-list {path}: cannot read: {exc.strerror or exc}"
        ) from exc
    except ValueError as exc:
        raise CLIError(f"--ct-log-list: {exc}") from exc


@dataclasses.dataclass(frozen=True)
class CTReport:
    """A chain's CT verdict, and the list it was judged by."""

    verdict: CTVerdict
    logs: CTLogList
    now: datetime.datetime

    @property
    def stale(self) -> bool:
        """Whether the log list is older than 70 days."""
        return self.logs.is_stale(self.now)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        verdict = self.verdict
        return {
            "log_list": self.logs.source,
            "log_list_timestamp": _iso(self.logs.timestamp),
            "log_list_stale": self.stale,
            "passed": verdict.passed,
            "reason": verdict.reason,
            "required": verdict.required,
            "valid_logs": verdict.valid_logs,
            "operators": list(verdict.operators),
            "scts": [sct.as_dict() for sct in verdict.scts],
        }

    def sct_lines(self) -> list[str]:
        """One line per SCT: status, log, operator, time (plain text)."""
        lines = []
        for sct in self.verdict.scts:
            log = sct.log_description or f"unknown log {sct.log_id}"
            operator = sct.operator or "unknown operator"
            line = f"{_MARKS[sct.status]:<18} {log} ({operator}), {_iso(sct.timestamp)}"
            if sct.detail:
                line += f": {sct.detail}"
            lines.append(line)
        if not self.verdict.scts and self.verdict.problem is None:
            lines.append("the certificate has no embedded SCTs")
        return lines

    def render(self, style: Style) -> list[str]:
        """The text block ``pinws pins`` prints."""
        lines = [
            style.bold(
                f"Certificate Transparency (log list {self.logs.source}, "
                f"{len(self.logs)} logs, {_iso(self.logs.timestamp)}):"
            )
        ]
        if self.stale:
            lines.append(
                "  "
                + style.warn("warning")
                + f": the log list is {self.logs.age(self.now).days} days old; "
                "get a fresh one"
            )
        lines += [f"  {line}" for line in self.sct_lines()]
        verdict = style.good("PASS") if self.verdict.passed else style.bad("FAIL")
        lines.append(f"  verdict: {verdict}: {self.verdict.reason}")
        return lines


def judge_chain(chain: tuple[ChainCertificate, ...], logs: CTLogList) -> CTReport:
    """The CT verdict on a *verified* chain (leaf first)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = chain[0].certificate
    issuer = chain[1].certificate if len(chain) > 1 else leaf
    return CTReport(evaluate(leaf, issuer, logs, now), logs, now)


def _iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
