"""``pinws pins``: the pins of a live server, and of certificate, key and CSR files."""

from __future__ import annotations

import argparse
from typing import Any, Optional

from .advice import Suggestion, suggest
from .certinfo import CertDetails, chain_roles, describe_certificate, render_certificate
from .console import Console
from .ctinfo import CTReport, add_ct_option, judge_chain, load_log_list
from .errors import CLIError, ExitCode, UsageError
from .keyfiles import FileItem, load_items
from .options import (
    add_common_options,
    add_json_option,
    add_network_options,
    ca_certs_option,
)
from .probe import ProbeError, fetch_unverified_chain, fetch_verified_chain
from .proxy import parse_proxy
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
    """Run ``pinws pins``."""
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
    files = _load_files(args)
    logs = load_log_list(args.ct_log_list) if args.ct_log_list else None

    server: Optional[dict[str, Any]] = None
    ct: Optional[CTReport] = None
    suggestion: Optional[Suggestion] = None
    chain: list[CertDetails] = []
    verified = True
    error: Optional[str] = None
    tls_version = ""
    if target is not None:
        try:
            handshake = fetch_verified_chain(
                target,
                ca_certs=ca_certs_option(args),
                proxy=proxy,
                timeout=args.timeout,
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
            verified = False
            error = exc.message
            unverified = fetch_unverified_chain(
                target, proxy=proxy, timeout=args.timeout
            )
            roles = chain_roles(len(unverified.chain), verified=False)
            chain = [
                describe_certificate(cert, depth=depth, role=roles[depth])
                for depth, cert in enumerate(unverified.chain)
            ]
            tls_version = unverified.tls_version
        else:
            roles = chain_roles(len(handshake.chain), verified=True)
            chain = [
                describe_certificate(entry.certificate, depth=entry.depth, role=role)
                for entry, role in zip(handshake.chain, roles)
            ]
            tls_version = handshake.tls_version
            if logs is not None:
                ct = judge_chain(handshake.chain, logs)
        suggestion = suggest(chain, files, verified=verified)
        server = {
            "url": target.url,
            "host": target.host,
            "port": target.port,
            "proxy": proxy.authority if proxy else None,
            "tls_version": tls_version,
            "verified": verified,
            "verification_error": error,
            "chain": [details.as_dict() for details in chain],
        }
        if logs is not None:
            server["ct"] = ct.as_dict() if ct is not None else None

    if args.json:
        document: dict[str, Any] = {
            "server": server,
            "files": [item.as_dict() for item in files],
        }
        if suggestion is not None:
            document["suggested_pins"] = [c.as_dict() for c in suggestion.primary]
            document["backup_pins"] = [c.as_dict() for c in suggestion.backups]
            document["advice"] = list(suggestion.advice)
        console.json(document)
        return ExitCode.OK

    lines: list[str] = []
    if target is not None:
        lines += _render_server(
            console, target, chain, verified, error, tls_version, args.proxy
        )
        if ct is not None:
            lines += ["", *ct.render(console.style)]
        elif logs is not None:
            lines += [
                "",
                "Certificate Transparency: not judged, the chain did not verify",
            ]
    if files:
        if lines:
            lines.append("")
        lines += _render_files(console, files)
    if suggestion is not None:
        lines.append("")
        lines += _render_suggestion(console, suggestion)
    console.lines(lines)
    return ExitCode.OK


def _render_server(
    console: Console,
    target: Target,
    chain: list[CertDetails],
    verified: bool,
    error: Optional[str],
    tls_version: str,
    proxy: Optional[str],
) -> list[str]:
    style = console.style
    via = f", through {parse_proxy(proxy).authority}" if proxy else ""
    lines = []
    if verified:
        lines.append(
            f"{style.bold(target.url)}  ({target.authority}, {tls_version}{via})"
        )
        lines.append(
            "Verified chain, leaf first (what a pinned client matches its pins "
            "against):"
        )
    else:
        banner = "UNVERIFIED"
        lines.append(
            f"{style.bad(banner)}: {target.url}  ({target.authority}, "
            f"{tls_version}{via})"
        )
        lines.append(f"{style.bad(banner)}: the chain did NOT verify: {error}")
        lines.append(
            f"{style.bad(banner)}: anyone between you and the server could have "
            "sent these certificates. Certificates as SENT by the server:"
        )
    for details in chain:
        lines.append("")
        entry = render_certificate(details, style)
        if not verified:
            entry[0] += "  " + style.bad("[UNVERIFIED]")
        lines += entry
    return lines


def _render_files(console: Console, files: list[FileItem]) -> list[str]:
    style = console.style
    lines = []
    for number, item in enumerate(files):
        if number:
            lines.append("")
        lines.append(style.bold(f"{item.source}: {item.kind} {item.index}"))
        if item.certificate is not None:
            lines += render_certificate(item.certificate, style)[1:]
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


def _render_suggestion(console: Console, suggestion: Suggestion) -> list[str]:
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
