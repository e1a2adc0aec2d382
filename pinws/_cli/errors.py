"""Exit codes and the errors commands raise to end with one."""

from __future__ import annotations

import enum
from typing import Optional

__all__ = ["CLIError", "ExitCode", "UsageError"]


class ExitCode(enum.IntEnum):
    """The exit status of every ``pinws`` command.

    The monitoring plugin convention (Nagios, Icinga, Zabbix), fixed by the
    contract for ``pinws check``; the other commands use the same table so
    scripts need learn only one.
    """

    OK = 0
    #: ``check`` only: the server passes, but something needs attention soon.
    WARNING = 1
    #: The server fails: pin mismatch, expired or untrusted certificate,
    #: host name mismatch.
    CRITICAL = 2
    #: Could not check: unreachable, TLS failure, bad input or usage.
    UNKNOWN = 3
    #: Interrupted (Ctrl-C), as shells report SIGINT.
    INTERRUPTED = 130


class CLIError(Exception):
    """An error a command reports as one line, ending with *code*.

    Args:
        message: what went wrong and, where there is one, how to fix it.
        code: the exit status.
        reason: a machine-readable word for it (``--json`` output), e.g.
            ``"unreachable"``, ``"certificate_expired"``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: ExitCode = ExitCode.UNKNOWN,
        reason: str = "bad_input",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason


class UsageError(CLIError):
    """The command line itself is wrong (unknown option, missing argument).

    Args:
        message: argparse's description of the problem.
        prog: the command it concerns, e.g. ``"pinws check"``.
    """

    def __init__(self, message: str, prog: Optional[str] = None) -> None:
        super().__init__(message, code=ExitCode.UNKNOWN, reason="usage")
        self.prog = prog
