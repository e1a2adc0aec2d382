"""``pinws store``: list, add and forget the pins a :class:`PinStore` remembers."""

from __future__ import annotations

import argparse
import datetime
from typing import Any, Callable

from .._store.store import PinStore, PinStoreEntry
from .console import Console
from .errors import CLIError, ExitCode, UsageError
from .options import add_common_options, add_json_option
from .render import render
from .results import (
    RememberedHost,
    Result,
    StoreEntryAdded,
    StoreForgotten,
    StoreListing,
)

__all__ = ["add_parser", "add_store_option", "open_store", "run"]

DESCRIPTION = """\
Show and change a pin store: the JSON file in which an application using
pinws.PinStore remembers pins per host -- keys trusted on first use,
Public-Key-Pins headers, pins added by hand. Changes are locked and atomic,
so this is safe while the application runs."""

EPILOG = """\
examples:
  pinws store list --store ~/.config/myapp/known_pins.json
  pinws store add printer.local sha256/AAAA... --store pins.json
  pinws store forget printer.local --store pins.json

exit status: 0 done; 3 the file is not a pin store, or bad input or usage."""

LIST_DESCRIPTION = """\
List every host the store remembers, with its pins, where they came from
(tofu: trusted on first use; hpkp: a Public-Key-Pins header; manual: added
by hand), when they were first seen and when they expire."""

ADD_DESCRIPTION = """\
Remember pins for a host (source "manual"), replacing its entry. Pins added
by hand are never replaced by a Public-Key-Pins header."""

FORGET_DESCRIPTION = """\
Forget a host's entry. A host trusted on first use is learnt again, as its
key is then, on its next connection: do this after a device's key changed
legitimately (a reset, a new certificate)."""


def add_store_option(group: Any, *, required: bool) -> None:
    """``--store PATH``."""
    group.add_argument(
        "--store",
        metavar="PATH",
        required=required,
        help="the pin store, a JSON file (created on the first change)",
    )


def open_store(path: str, *, trust_on_first_use: bool = False) -> PinStore:
    """The store at *path*.

    Raises:
        CLIError: the file is not a pin store, or cannot be read.
    """
    try:
        return PinStore(path, trust_on_first_use=trust_on_first_use)
    except (OSError, ValueError) as exc:
        raise CLIError(str(exc)) from exc


def add_parser(subparsers: Any, formatter: Any) -> argparse.ArgumentParser:
    """Add ``store`` and its commands to the command line."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "store",
        help="list, add and forget the pins a pin store remembers",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
        add_help=False,
    )
    options = parser.add_argument_group("options")
    add_common_options(options)
    commands = parser.add_subparsers(
        title="commands",
        metavar="COMMAND",
        dest="store_command",
        parser_class=type(parser),
    )
    for name, help_text, description in (
        ("list", "list the hosts and their pins", LIST_DESCRIPTION),
        ("add", "remember pins for a host", ADD_DESCRIPTION),
        ("forget", "forget a host's pins", FORGET_DESCRIPTION),
    ):
        command = commands.add_parser(
            name,
            help=help_text,
            description=description,
            formatter_class=formatter,
            add_help=False,
        )
        if name != "list":
            command.add_argument(
                "host", metavar="HOST", help="a host name or IP address"
            )
        if name == "add":
            command.add_argument(
                "pins", metavar="PIN", nargs="+", help="sha256/<base64> or another form"
            )
        command_options = command.add_argument_group("options")
        add_store_option(command_options, required=True)
        if name == "add":
            command_options.add_argument(
                "--expires",
                metavar="YYYY-MM-DD",
                type=_date,
                help="the last day (UTC) the pins apply (default: no expiry)",
            )
            command_options.add_argument(
                "--include-subdomains",
                action="store_true",
                help="apply to every name below HOST too",
            )
        add_json_option(command_options, "print the result as JSON")
        add_common_options(command_options)
    parser.set_defaults(run=run, quiet_library=False, store_command=None)
    return parser


def _date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (YYYY-MM-DD)"
        ) from None


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``pinws store ...``: parse, compute, render."""
    if args.store_command is None:
        raise UsageError("choose a command: list, add or forget", "pinws store")
    store = open_store(args.store)
    try:
        result = _COMMANDS[args.store_command](store, args)
    except (OSError, ValueError) as exc:  # InvalidPinError included
        raise CLIError(str(exc)) from exc
    render(console, result, json_output=args.json)
    return ExitCode.OK


def _remembered(entry: PinStoreEntry) -> RememberedHost:
    return RememberedHost(entry, entry.is_expired())


def _list(store: PinStore, args: argparse.Namespace) -> Result:
    return StoreListing(store.path, tuple(map(_remembered, store.entries())))


def _add(store: PinStore, args: argparse.Namespace) -> Result:
    entry = store.add(
        args.host,
        args.pins,
        expires=args.expires,
        include_subdomains=args.include_subdomains,
    )
    return StoreEntryAdded(_remembered(entry))


def _forget(store: PinStore, args: argparse.Namespace) -> Result:
    return StoreForgotten(store.path, args.host, store.forget(args.host))


_COMMANDS: dict[str, Callable[[PinStore, argparse.Namespace], Result]] = {
    "list": _list,
    "add": _add,
    "forget": _forget,
}
