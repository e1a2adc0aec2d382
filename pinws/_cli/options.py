"""Options shared by several commands, defined once so they read the same."""

from __future__ import annotations

import argparse
import os
from typing import Any, Optional

from .. import __version__
from .errors import CLIError

__all__ = [
    "add_common_options",
    "add_json_option",
    "add_network_options",
    "add_pin_source_options",
    "ca_certs_option",
    "non_negative_int",
    "positive_float",
    "version_text",
]

DEFAULT_TIMEOUT = 10.0


def version_text() -> str:
    """``pinws X.Y.Z`` and the versions of what it is built on."""
    import platform

    import OpenSSL
    import websocket
    from OpenSSL import SSL

    openssl = SSL.SSLeay_version(SSL.SSLEAY_VERSION).decode("ascii", "replace")
    return (
        f"pinws {__version__} (websocket-client {websocket.__version__}, "
        f"pyOpenSSL {OpenSSL.__version__}, {openssl}, "
        f"Python {platform.python_version()})"
    )


class _VersionAction(argparse.Action):
    # argparse's own "version" action formats its text at parse time from a
    # string; this one imports the TLS stack only when asked.
    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings,
            dest=argparse.SUPPRESS,
            default=argparse.SUPPRESS,
            nargs=0,
            help=kwargs.get("help"),
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: Optional[str] = None,
    ) -> None:
        import sys

        sys.stdout.write(version_text() + "\n")
        parser.exit(0)


def positive_float(text: str) -> float:
    """argparse type: a number of seconds greater than zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number greater than 0")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: a whole number, zero or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def ca_certs_option(args: argparse.Namespace) -> Optional[str]:
    """The ``--ca-certs`` path, checked to exist and, for a file, to load.

    Checked here so the message speaks of ``--ca-certs``, not of the
    library's ``ca_certs=``.

    Raises:
        CLIError: it does not exist, or is a file of no PEM certificates.
    """
    path: Optional[str] = args.ca_certs
    if path is None:
        return None
    if not os.path.exists(path):
        raise CLIError(f"--ca-certs {path}: no such file or directory")
    if os.path.isfile(path):
        from OpenSSL import SSL

        try:
            SSL.Context(SSL.TLS_CLIENT_METHOD).load_verify_locations(path)
        except SSL.Error:
            raise CLIError(
                f"--ca-certs {path}: holds no PEM certificates; give the CA "
                "certificate(s) in PEM form (-----BEGIN CERTIFICATE-----)"
            ) from None
    return path


def add_common_options(group: Any, *, top_level: bool = False) -> None:
    """``-h``, ``--version`` and ``--debug``, on every command."""
    group.add_argument("-h", "--help", action="help", help="show this help and exit")
    group.add_argument(
        "--version", action=_VersionAction, help="print the version and exit"
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=False if top_level else argparse.SUPPRESS,
        help="log what pinws does and show tracebacks on errors",
    )


def add_json_option(group: Any, what: str) -> None:
    """``--json``: machine-readable output."""
    group.add_argument("--json", action="store_true", help=what)


def add_network_options(group: Any) -> None:
    """``--ca-certs``, ``--proxy`` and ``--timeout``."""
    group.add_argument(
        "--ca-certs",
        metavar="FILE",
        help="trust these CA certificates (a PEM file or a directory) instead "
        "of certifi's bundle; for private CAs",
    )
    group.add_argument(
        "--proxy",
        metavar="URL",
        help="connect through this HTTP CONNECT proxy, http://[user:pass@]host:port",
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=positive_float,
        default=DEFAULT_TIMEOUT,
        help=f"give up connecting after this long (default: {DEFAULT_TIMEOUT:g})",
    )


def add_pin_source_options(group: Any) -> None:
    """``--pin`` (repeatable) and ``--config`` (exactly one of them is required)."""
    group.add_argument(
        "--pin",
        metavar="PIN",
        action="append",
        dest="pins",
        help="a pin, sha256/<base64> or another accepted form; repeat it for "
        "each pin (a backup too)",
    )
    group.add_argument(
        "--config",
        metavar="FILE",
        help="a pin policy file (TOML or JSON, see docs/policy.md) instead of --pin",
    )
