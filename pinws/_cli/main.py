"""``pinws``: the command line's parser, dispatch and error handling."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn, Optional

from . import cmd_check, cmd_connect, cmd_demo, cmd_pins, cmd_store
from .console import Console
from .errors import CLIError, ExitCode, UsageError
from .options import add_common_options
from .render import render

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
pinws: certificate pinning for WebSocket clients. Get the pins of a server,
check that a server matches them before you ship, and talk to it through a
pinned connection."""

EPILOG = """\
examples:
  pinws demo                            the offline demonstration; start here
  pinws pins wss://example.com/         a server's chain and pins
  pinws check wss://example.com/ --pin sha256/... --pin sha256/...
  pinws connect wss://example.com/ws --pin sha256/... --pin sha256/...
  pinws connect wss://printer.local/ --pin-only --store pins.json --trust-on-first-use
  pinws store list --store pins.json    the pins a pin store remembers
  pinws COMMAND --help                  the options of a command

exit status (the monitoring plugin convention): 0 OK; 1 WARNING (check:
warnings only); 2 CRITICAL (pin mismatch, expired or untrusted certificate,
wrong host name); 3 UNKNOWN (could not: unreachable, TLS failure, bad input or
usage); 130 interrupted.
NO_COLOR=1 turns colours off."""

_COMMANDS = (cmd_demo, cmd_pins, cmd_check, cmd_connect, cmd_store)


class _Parser(argparse.ArgumentParser):
    """Reports usage errors as :class:`UsageError`, not by exiting with 2.

    pinws's exit status 2 means CRITICAL; a usage error is 3 (UNKNOWN).
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions and examples as written; a fixed width if asked."""

    def __init__(self, prog: str, width: Optional[int] = None) -> None:
        super().__init__(prog, max_help_position=28, width=width)


def build_parser(width: Optional[int] = None) -> argparse.ArgumentParser:
    """The ``pinws`` argument parser.

    Args:
        width: wrap help at this many columns (``None``: the terminal's).
    """

    def formatter(prog: str) -> argparse.HelpFormatter:
        return _Formatter(prog, width)

    parser = _Parser(
        prog="pinws",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
        add_help=False,
    )
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", dest="command", parser_class=_Parser
    )
    for command in _COMMANDS:
        command.add_parser(subparsers, formatter)
    options = parser.add_argument_group("options")
    add_common_options(options, top_level=True)
    return parser


class _LogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"pinws: {record.levelname.lower()}: {record.getMessage()}"


def _configure_logging(debug: bool, quiet: bool) -> tuple[logging.Handler, int]:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _LogFormatter()
        if not debug
        else logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s")
    )
    logger = logging.getLogger("pinws")
    previous = logger.level
    # Commands that report pin-set problems themselves keep the library's
    # warnings about the same things out of their output.
    logger.setLevel(
        logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING
    )
    logger.addHandler(handler)
    return handler, previous


def _print_error(console: Console, prog: str, message: str) -> None:
    style = console.err_style
    first, _, rest = message.partition("\n")
    console.note(
        f"{prog}: {style.bad('error')}: {first}" + (f"\n{rest}" if rest else "")
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``pinws`` command line; return its exit status.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        the exit status (see :class:`~pinws._cli.errors.ExitCode`).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            # Messages and certificate names may not fit the locale's encoding;
            # escaping beats dying on a UnicodeEncodeError.
            reconfigure(errors="backslashreplace")
    console = Console()
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0) if not isinstance(exc.code, str) else ExitCode.UNKNOWN
    except UsageError as exc:
        prog = exc.prog or "pinws"
        if prog == "pinws check" and "--json" in arguments:
            # A monitoring system reads the JSON, even for a bad command line.
            render(console, cmd_check.usage_failure(exc.message), json_output=True)
        _print_error(console, prog, f"{exc.message} (see '{prog} --help')")
        return exc.code
    if args.command is None:
        _print_error(
            console,
            "pinws",
            "choose a command: demo, pins, check, connect or store (see "
            "'pinws --help')",
        )
        return ExitCode.UNKNOWN
    debug = bool(getattr(args, "debug", False))
    prog = f"pinws {args.command}"
    handler, level = _configure_logging(
        debug, bool(getattr(args, "quiet_library", False))
    )
    try:
        return int(args.run(args, console))
    except UsageError as exc:
        _print_error(console, exc.prog or prog, f"{exc.message} (see '{prog} --help')")
        return exc.code
    except CLIError as exc:
        if debug:
            traceback.print_exc()
        _print_error(console, prog, exc.message)
        return exc.code
    except KeyboardInterrupt:
        console.note(f"{prog}: interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (| head); say nothing more, to nobody.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.OK
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _print_error(
            console,
            prog,
            f"unexpected {type(exc).__name__}: {exc} (run with --debug for the "
            "traceback, and please report it)",
        )
        return ExitCode.UNKNOWN
    finally:
        logger = logging.getLogger("pinws")
        logger.removeHandler(handler)
        logger.setLevel(level)
