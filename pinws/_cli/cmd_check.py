"""``pinws check``: does the live server satisfy the pins? For CI, cron, monitoring.

Exit status (fixed by the contract, the monitoring plugin convention of
Nagios, Icinga and Zabbix): 0 OK, 1 WARNING, 2 CRITICAL (a pin mismatch, a
certificate that fails, a Certificate Transparency failure), 3 UNKNOWN. With
``--json``, every outcome -- usage errors included -- is one JSON object
with a machine-readable ``reason``.
"""

from __future__ import annotations

import argparse
from typing import Any, Optional

from .._ct.loglist import CTLogList
from .._pins.pinset import PinSet, utc_today
from .._tls.fetch import FetchedChain
from .certinfo import CertDetails, describe_sent_chain, describe_verified_chain
from .console import Console
from .ctinfo import add_ct_option, judge_chain, load_log_list
from .errors import CLIError, ExitCode, UsageError
from .findings import (
    ct_finding,
    expiry_findings,
    pin_findings,
    unpinned_finding,
    verdict_status,
)
from .options import (
    add_common_options,
    add_json_option,
    add_network_options,
    add_pin_source_options,
    ca_certs_option,
    non_negative_int,
)
from .pinsource import PinSource, load_pin_source
from .probe import ProbeError, fetch_unverified_chain, fetch_verified_chain
from .proxy import Proxy, parse_proxy
from .render import render
from .results import CheckFailure, CheckResult, Finding, PinSetStatus
from .target import Target, parse_target

__all__ = ["add_parser", "run"]

DEFAULT_WARN_DAYS = 30

DESCRIPTION = """\
Check a live server against pins before you ship them, and keep checking
from cron or CI: does a certificate of the verified chain match, how many
days until the certificates expire, does the pin set have a backup pin, has
the pin set expired. Only a TLS handshake is made; no WebSocket request."""

EPILOG = """\
examples:
  pinws check wss://example.com/feed --pin sha256/AAAA... --pin sha256/BBBB...
  pinws check example.com:443 --config pins.toml --warn-days 45
  pinws check wss://example.com/ --config pins.json --json | jq .status
  pinws check wss://example.com/ --pin ... --proxy http://proxy:3128
  pinws check wss://example.com/ --ct-log-list log_list.json

exit status (the monitoring plugin convention: Nagios, Icinga, Zabbix):
  0  OK: a pin matches and nothing needs attention
  1  WARNING: a certificate expires within --warn-days, the pin set has no
     backup pin, or the pin set has expired or expires soon
  2  CRITICAL: the server fails: no certificate of the verified chain
     matches a pin, its certificate is expired, not yet valid, untrusted
     or not valid for the host name, or it fails the Certificate
     Transparency policy of --ct-log-list
  3  UNKNOWN: could not check: unreachable, TLS failure, bad input or usage
--json always prints one object with "status" and a machine-readable
"reason" (e.g. pin_mismatch, certificate_expired, unreachable, usage)"""


def add_parser(subparsers: Any, formatter: Any) -> argparse.ArgumentParser:
    """Add ``check`` to the command line."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "check",
        help="check a live server against pins (exit 0/1/2/3, for CI and monitoring)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
        add_help=False,
    )
    parser.add_argument(
        "url", metavar="URL", help="wss://host[:port]/path or host:port"
    )
    pins = parser.add_argument_group(
        "pins (one of these is required, unless --ct-log-list is given)"
    )
    add_pin_source_options(pins.add_mutually_exclusive_group())
    server = parser.add_argument_group("server options")
    add_network_options(server)
    add_ct_option(
        server,
        "also require the Certificate Transparency policy: the certificate's "
        "embedded SCTs, judged against this log list (v3 JSON); a failure is "
        "CRITICAL (exit 2)",
    )
    options = parser.add_argument_group("options")
    options.add_argument(
        "--warn-days",
        metavar="N",
        type=non_negative_int,
        default=DEFAULT_WARN_DAYS,
        help="warn about certificates and pin sets that expire within N days "
        f"(default: {DEFAULT_WARN_DAYS})",
    )
    add_json_option(options, "print the result as JSON")
    add_common_options(options)
    parser.set_defaults(run=run, quiet_library=True)
    return parser


def usage_failure(message: str) -> CheckFailure:
    """The result of a command line that did not parse (``--json`` shows it)."""
    return CheckFailure(None, "unknown", ExitCode.UNKNOWN, "usage", message)


def _failure(
    args: argparse.Namespace,
    target: Optional[Target],
    proxy: Optional[Proxy],
    exc: CLIError,
) -> CheckFailure:
    """Why the check could not pass; with --json, the chain seen, if any."""
    status = "critical" if exc.code == ExitCode.CRITICAL else "unknown"
    seen = None
    if (
        args.json
        and target is not None
        and isinstance(exc, ProbeError)
        and exc.verification_failed
    ):
        # A chain was seen, though it did not verify: show it, marked.
        try:
            sent = fetch_unverified_chain(target, proxy=proxy, timeout=args.timeout)
        except CLIError:
            pass
        else:
            seen = describe_sent_chain(sent.chain)
    url = target.url if target else args.url
    return CheckFailure(url, status, exc.code, exc.reason, exc.message, seen)


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``pinws check``: parse, compute, render."""
    target: Optional[Target] = None
    proxy: Optional[Proxy] = None
    try:
        if not (args.pins or args.config or args.ct_log_list):
            raise UsageError(
                "give the pins (--pin or --config), or --ct-log-list", "pinws check"
            )
        target = parse_target(args.url)
        proxy = parse_proxy(args.proxy) if args.proxy else None
        source: Optional[PinSource] = None
        pin_set, pattern = None, None
        if args.pins or args.config:
            source = load_pin_source(args)
            pin_set, pattern = source.pin_set_for(target.host)
        logs = load_log_list(args.ct_log_list) if args.ct_log_list else None
        handshake = fetch_verified_chain(
            target, ca_certs=ca_certs_option(args), proxy=proxy, timeout=args.timeout
        )
    except CLIError as exc:
        render(console, _failure(args, target, proxy, exc), json_output=args.json)
        raise
    result = _check(args, target, proxy, source, pin_set, pattern, logs, handshake)
    render(console, result, json_output=args.json)
    return result.exit_code


def _check(
    args: argparse.Namespace,
    target: Target,
    proxy: Optional[Proxy],
    source: Optional[PinSource],
    pin_set: Optional[PinSet],
    pattern: Optional[str],
    logs: Optional[CTLogList],
    handshake: FetchedChain,
) -> CheckResult:
    """The verdict on a chain that verified."""
    chain = describe_verified_chain(handshake.chain)
    today = utc_today()
    findings: list[Finding] = []
    matched: list[CertDetails] = []
    if pin_set is not None:
        found, matched = pin_findings(pin_set, chain, args.warn_days, today)
        findings += found
    elif source is not None:  # (without one, Certificate Transparency alone)
        findings.append(unpinned_finding(source.description, target.host))
    ct = judge_chain(handshake.chain, logs) if logs is not None else None
    if ct is not None:
        findings.append(ct_finding(ct))
    findings += expiry_findings(chain, matched, args.warn_days)
    status, code, reason = verdict_status(findings)
    return CheckResult(
        target=target,
        proxy=proxy.authority if proxy is not None else None,
        tls_version=handshake.tls_version,
        pins_from=source.description if source else None,
        pattern=pattern,
        pins=tuple(str(p) for p in pin_set.pins) if pin_set else (),
        pin_set=None
        if pin_set is None
        else PinSetStatus(
            pin_set.expires, pin_set.is_expired(today), pin_set.report_only
        ),
        matched=tuple(matched),
        warn_days=args.warn_days,
        findings=tuple(findings),
        chain=chain,
        ct=ct,
        status=status,
        exit_code=code,
        reason=reason,
    )
