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

__all__ = ["CTReport", "add_ct_option", "judge_chain", "load_log_list"]


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


def judge_chain(chain: tuple[ChainCertificate, ...], logs: CTLogList) -> CTReport:
    """The CT verdict on a *verified* chain (leaf first)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    leaf = chain[0].certificate
    issuer = chain[1].certificate if len(chain) > 1 else leaf
    return CTReport(evaluate(leaf, issuer, logs, now), logs, now)
