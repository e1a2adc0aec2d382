"""``pinws pins``: the pins of a live server, and of certificate, key and CSR files."""

from __future__ import annotations

import argparse
from typing import Any, Optional

from .._ct.loglist import CTLogList
from .advice import suggest
from .certinfo import describe_sent_chain, describe_verified_chain
from .console import Console
from .ctinfo import add_ct_option, judge_chain, load_log_list
from .errors import CLIError, ExitCode, UsageError
from .keyfiles import FileItem, load_items
from .options import (
    add_common_options,
    add_json_option,
    add_network_options,
    ca_certs_option,
)
from .probe import ProbeError, fetch_unverified_chain, fetch_verified_chain
from .proxy import Proxy, parse_proxy
from .render import render
from .results import PinsResult, ServerChain
from .target import Target, parse_target

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Print pins: of a live server's certificate chain (a TLS handshake only; no
WebSocket request is sent), and of certificates, keys and CSRs in files
(PEM or DER; '-' reads standard input). For a server, it also suggests a
pin set: an intermediate or the leaf, plus a backup key."""

EPILOG = """\
examples:
  pinws pins wss://example.com/feed
  pinws pins example.com:8443 --ca-certs private-ca.pem
  pinws pins wss://example.com/ --proxy http://proxy.internal:3128
  pinws pins wss://192.168.1.20/ --show-unverified    (a self-signed device)
  pinws pins --cert server.pem --cert intermediate.der
  pinws pins --key backup-key.pem                     (a backup pin)
  pinws pins --csr next-year.csr
  pinws pins wss://example.com/ --key backup-key.pem --json
  pinws pins wss://example.com/ --ct-log-list log_list.json

exit status: 0 pins printed; 3 could not (unreachable, chain did not verify,
bad file or usage)."""


def add_parser(subparsers: Any, formatter: Any) -> argparse.ArgumentParser:
    """Add ``pins`` to the command line."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pins",
        help="print the pins of a server or of certificate/key/CSR files",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
        add_help=False,
    )
    parser.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="wss://host[:port]/path or host:port of a server",
    )
    files = parser.add_argument_group("files")
    for name, what in (
        ("cert", "certificates"),
        ("key", "a public or private key (a backup key, say)"),
        ("csr", "a certificate signing request"),
    ):
        files.add_argument(
            f"--{name}",
            metavar="FILE",
            action="append",
            default=[],
            help=f"print the pin of {what} in FILE (repeatable)",
        )
    server = parser.add_argument_group("server options")
    add_network_options(server)
    server.add_argument(
        "--show-unverified",
        action="store_true",
        help="if the chain does not verify, print it anyway, marked UNVERIFIED "
        "(for self-signed devices; compare its pins out of band)",
    )
    add_ct_option(
        server,
        "also judge the certificate's embedded SCTs against this Certificate "
        "Transparency log list (v3 JSON): print each SCT and the verdict",
    )
    options = parser.add_argument_group("options")
    add_json_option(options, "print JSON instead of text")
    add_common_options(options)
    parser.set_defaults(run=run, quiet_library=True)
    return parser


def _load_files(args: argparse.Namespace) -> list[FileItem]:
    items: list[FileItem] = []
    for kind in ("cert", "key", "csr"):
        for path in getattr(args, kind):
            items.extend(load_items(kind, path))
    return items


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``pinws pins``: parse, compute, render."""
    if args.url is None:
        if not (args.cert or args.key or args.csr):
            raise UsageError(
                "give a server URL, or --cert/--key/--csr files", "pinws pins"
            )
        for flag, given in (
            ("--ca-certs", args.ca_certs),
            ("--proxy", args.proxy),
            ("--show-unverified", args.show_unverified),
            ("--ct-log-list", args.ct_log_list),
        ):
            if given:
                raise UsageError(f"{flag} needs a server URL", "pinws pins")
    target = parse_target(args.url) if args.url is not None else None
    proxy = parse_proxy(args.proxy) if args.proxy else None
    files = tuple(_load_files(args))
    logs = load_log_list(args.ct_log_list) if args.ct_log_list else None
    server = None
    suggestion = None
    if target is not None:
        server = _server_chain(args, target, proxy, logs)
        suggestion = suggest(server.chain, files, verified=server.verified)
    render(console, PinsResult(server, files, suggestion), json_output=args.json)
    return ExitCode.OK


def _server_chain(
    args: argparse.Namespace,
    target: Target,
    proxy: Optional[Proxy],
    logs: Optional[CTLogList],
) -> ServerChain:
    """The server's verified chain; or, with --show-unverified, the one it sent."""
    via = proxy.authority if proxy else None
    try:
        handshake = fetch_verified_chain(
            target, ca_certs=ca_certs_option(args), proxy=proxy, timeout=args.timeout
        )
    except ProbeError as exc:
        if not (args.show_unverified and exc.verification_failed):
            if exc.verification_failed:
                joiner = "; " if " -- " in exc.message else " -- "
                raise CLIError(
                    f"{exc.message}{joiner}to print the chain anyway add "
                    "--show-unverified"
                ) from exc
            raise
        unverified = fetch_unverified_chain(target, proxy=proxy, timeout=args.timeout)
        return ServerChain(
            target,
            via,
            unverified.tls_version,
            verified=False,
            verification_error=exc.message,
            chain=describe_sent_chain(unverified.chain),
            ct_requested=logs is not None,
        )
    return ServerChain(
        target,
        via,
        handshake.tls_version,
        verified=True,
        verification_error=None,
        chain=describe_verified_chain(handshake.chain),
        ct=judge_chain(handshake.chain, logs) if logs is not None else None,
        ct_requested=logs is not None,
    )
