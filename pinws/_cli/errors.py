"""Exit codes and the errors commands raise to end with one."""

from __future__ import annotations

import enum
from typing import Optional

__all__ = ["CLIError", "ExitCode", "UsageError"]


class ExitCode(enum.IntEnum):
    """The exit status of every ``pinws`` command.

    The numbers are fixed by the contract for ``pinws check`` (0, 1, 2, 3);
    the other commands use the same table so scripts need learn only one.
    """

    OK = 0
    #: A server's verified chain matched none of the pins.
    MISMATCH = 1
    #: ``check`` only: the pins match, but something needs attention soon.
    WARNINGS = 2
    #: ``check``: the monitoring-plugin name of 2 (api.md), for a server that
    #: fails outright: the Certificate Transparency policy, for one.
    CRITICAL = 2
    #: Could not do it: unreachable, TLS failure, bad input or usage.
    FAILED = 3
    #: Interrupted (Ctrl-C), as shells report SIGINT.
    INTERRUPTED = 130


class CLIError(Exception):
    """An error a command reports as one line, ending with *code*.

    Args:
        message: what went wrong and, where there is one, how to fix it.
        code: the exit status.
    """

    def __init__(self, message: str, *, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageError(CLIError):
    """The command line itself is wrong (unknown option, missing argument).

    Args:
        message: argparse's description of the problem.
        prog: the command it concerns, e.g. ``"pinws check"``.
    """

    def __init__(self, message: str, prog: Optional[str] = None) -> None:
        super().__init__(message, code=ExitCode.FAILED)
        self.prog = prog
