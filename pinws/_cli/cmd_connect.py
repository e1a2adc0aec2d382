"""``pinws connect``: an interactive console over a pinned WebSocket.

Lines read from standard input are sent as text messages; messages received
are printed with a timestamp. Reading a pipe, it waits after the end of
input for the server's replies -- until the server closes or ``--linger``
seconds pass without a message -- before it closes the connection.
"""

from __future__ import annotations

import argparse
import datetime
import os
import queue
import sys
import threading
import time
from typing import Any, Callable, Optional, Union

import websocket

from .._errors import PinMismatchError, PinningError, StoredPinMismatchError
from .._store.store import PinStore
from .cmd_store import add_store_option, open_store
from .console import Console
from .errors import CLIError, ExitCode, UsageError
from .failures import CRITICAL_REASONS, describe_refusal
from .options import (
    add_common_options,
    add_json_option,
    add_network_options,
    add_pin_source_options,
    ca_certs_option,
    non_negative_float,
)
from .pinsource import load_pin_source
from .proxy import parse_proxy
from .render import render
from .results import Closed, Connected, Message
from .target import parse_target

__all__ = ["add_parser", "run"]

DEFAULT_LINGER = 2.0
# After asking the worker to close, how long the closing handshake may take.
_CLOSE_GRACE = 5.0

DESCRIPTION = """\
Open a pinned WebSocket connection and talk to it, like wscat or
websocket-client's wsdump: each line of standard input is sent as a text
message; messages received are printed to standard output with a timestamp
('<' received, '>' sent). Connection details and errors go to standard error.
In a pipe, after the end of input it waits for replies until the server
closes or --linger seconds pass without a message. Ctrl-C or Ctrl-D quits."""

EPILOG = """\
examples:
  pinws connect wss://example.com/feed --pin sha256/AAAA... --pin sha256/BBBB...
  pinws connect wss://example.com/ws --config pins.toml \\
      --header "Authorization: Bearer $TOKEN" --subprotocol graphql-ws
  echo '{"op": "subscribe"}' | pinws connect wss://example.com/ws --pin ... \\
      --pin ... --linger 5 --json
  pinws connect wss://192.168.1.20/ --pin-only --pin sha256/... --pin sha256/...
  pinws connect wss://printer.local/ --pin-only --store pins.json --trust-on-first-use

exit status: 0 connected and closed; 2 pin mismatch (nothing was sent to that
server), or an expired, untrusted or wrong-name certificate; 3 could not
connect (unreachable, other TLS failure, refused upgrade, bad input or usage);
130 interrupted (Ctrl-C)."""


def add_parser(subparsers: Any, formatter: Any) -> argparse.ArgumentParser:
    """Add ``connect`` to the command line."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "connect",
        help="an interactive console over a pinned WebSocket connection",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
        add_help=False,
    )
    parser.add_argument("url", metavar="URL", help="wss://host[:port]/path")
    pins = parser.add_argument_group("pins (--pin, --config or --store is required)")
    add_pin_source_options(pins.add_mutually_exclusive_group())
    add_store_option(pins, required=False)
    pins.add_argument(
        "--trust-on-first-use",
        action="store_true",
        help="with --store: connect once to a host with no pins anywhere and "
        "remember its key; refuse it later if the key changes (as SSH does)",
    )
    pins.add_argument(
        "--pin-only",
        action="store_true",
        help="for a self-signed server: its own (leaf) key must match a pin; no "
        "CA and no host name are checked",
    )
    server = parser.add_argument_group("connection options")
    add_network_options(server)
    server.add_argument(
        "--header",
        metavar="'NAME: VALUE'",
        action="append",
        default=[],
        help="add an HTTP header to the upgrade request (repeatable)",
    )
    server.add_argument(
        "--subprotocol",
        metavar="NAME",
        action="append",
        default=[],
        help="offer this WebSocket subprotocol (repeatable)",
    )
    server.add_argument(
        "--linger",
        metavar="SECONDS",
        type=non_negative_float,
        default=DEFAULT_LINGER,
        help="in a pipe, after the end of input, wait this long without a "
        f"message before closing (default: {DEFAULT_LINGER:g})",
    )
    options = parser.add_argument_group("options")
    add_json_option(options, "print each message as a line of JSON")
    add_common_options(options)
    parser.set_defaults(run=run, quiet_library=False)
    return parser


def _check_headers(headers: list[str]) -> list[str]:
    checked = []
    for header in headers:
        name, colon, value = header.partition(":")
        if not colon or not name.strip() or name != name.strip():
            raise CLIError(f"--header {header!r}: write it as 'Name: value'")
        if any(c in header for c in "\r\n"):
            raise CLIError(f"--header {header!r}: a header is one line")
        checked.append(f"{name}: {value.strip()}")
    return checked


class _Session:
    """The console's state, shared by the main thread and the app's worker.

    Every event (a line of input, a message, the end of the connection)
    goes through one queue, so the main thread is one plain event loop.
    """

    def __init__(self, console: Console, as_json: bool, echo_sent: bool) -> None:
        self.console = console
        self.as_json = as_json
        self.echo_sent = echo_sent
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.error: Optional[BaseException] = None
        self.opened = False
        self.close_status: Optional[int] = None
        self.close_reason = ""
        self.store_note: Optional[Callable[[Any], str]] = None

    def show(self, direction: str, message: Union[str, bytes]) -> None:
        when = datetime.datetime.now(datetime.timezone.utc)
        render(
            self.console,
            Message(direction, message, when),
            json_output=self.as_json,
        )

    # -- the app's callbacks (worker thread) -----------------------------------

    def on_open(self, app: Any) -> None:
        self.opened = True
        ws = app.sock
        chain = {entry.pin: entry for entry in ws.verified_chain}
        matched = str(ws.matched_pin) if ws.matched_pin is not None else None
        entry = chain.get(matched) if matched is not None else None
        connected = Connected(
            app.url,
            ws.sock.version(),
            subprotocol=ws.getsubprotocol() or None,
            matched_pin=matched,
            matched_depth=entry.depth if entry is not None else None,
            matched_subject=entry.subject if entry is not None else None,
            store_note=self.store_note(ws) if self.store_note is not None else "",
        )
        render(self.console, connected)
        self.events.put(("open", None))

    def on_message(self, app: Any, message: Union[str, bytes]) -> None:
        self.show("<", message)
        self.events.put(("message", None))

    def on_error(self, app: Any, error: Any) -> None:
        if (
            isinstance(error, websocket.ABNF)
            and error.opcode == websocket.ABNF.OPCODE_CLOSE
        ):
            # websocket-client 1.9.0 hands the server's close frame to
            # on_error (and then None to on_close); it is a close, not an error.
            data = error.data or b""
            if isinstance(data, str):
                data = data.encode("utf-8")
            if len(data) >= 2:
                self.close_status = int.from_bytes(data[:2], "big")
                self.close_reason = data[2:].decode("utf-8", "replace")
            return
        if self.error is None:
            self.error = error

    def on_close(self, app: Any, status: Optional[int], reason: Any) -> None:
        if status is None and self.close_status is not None:
            return  # already known from the close frame
        self.close_status = status
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        self.close_reason = reason or ""


def _read_stdin(events: queue.Queue[tuple[str, Any]]) -> None:
    # os.read on the descriptor, not sys.stdin: this daemon thread may still
    # be blocked reading when the interpreter exits, and one blocked inside
    # a buffered reader holds its lock, which aborts interpreter shutdown.
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        events.put(("eof", None))
        return
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            events.put(("line", raw.decode("utf-8", "replace").rstrip("\r")))
    if pending:
        events.put(("line", pending.decode("utf-8", "replace").rstrip("\r")))
    events.put(("eof", None))


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``pinws connect``."""
    from .._client.app import PinnedWebSocketApp

    target = parse_target(args.url)
    proxy = parse_proxy(args.proxy) if args.proxy else None
    store = _pin_store(args)
    policy = None
    if args.pins or args.config:
        source = load_pin_source(args)
        policy = source.policy
        if not args.pin_only and store is None:
            source.pin_set_for(target.host)
    headers = _check_headers(args.header)
    ca_certs = ca_certs_option(args)
    interactive = sys.stdin.isatty()
    session = _Session(console, args.json, echo_sent=not interactive)
    if store is not None:
        session.store_note = _store_note(store, policy, target.host)
    try:
        app = PinnedWebSocketApp(
            target.url,
            pins=policy,
            pin_store=store,
            ca_certs=ca_certs,
            pin_only=args.pin_only,
            header=headers,
            subprotocols=args.subprotocol or None,
            on_open=session.on_open,
            on_message=session.on_message,
            on_error=session.on_error,
            on_close=session.on_close,
        )
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    run_options: dict[str, Any] = {"reconnect": 0}
    if proxy is not None:
        run_options.update(
            http_proxy_host=proxy.host,
            http_proxy_port=proxy.port,
            proxy_type="http",
            http_proxy_timeout=args.timeout,
        )
        if proxy.username is not None:
            run_options["http_proxy_auth"] = (proxy.username, proxy.password or "")
    # websocket-client takes its connect timeout from the process default.
    websocket.setdefaulttimeout(args.timeout)
    worker = app.start(**run_options)
    events = session.events

    def watch() -> None:
        worker.join()
        events.put(("ended", None))

    threading.Thread(target=watch, name="pinws-connect-watch", daemon=True).start()
    threading.Thread(
        target=_read_stdin, args=(events,), name="pinws-stdin", daemon=True
    ).start()
    try:
        _event_loop(app, session, interactive, args.linger)
    except KeyboardInterrupt:
        app.close()
        app.join(_CLOSE_GRACE)
        raise  # main() reports it: exit 130, as the help says
    return _outcome(session, console, ca_certs)


def _pin_store(args: argparse.Namespace) -> Optional[PinStore]:
    if args.store is None:
        if args.trust_on_first_use:
            raise UsageError("--trust-on-first-use needs --store PATH", "pinws connect")
        if not args.pins and not args.config:
            raise UsageError(
                "give the pins: --pin (repeatable), --config FILE or --store PATH",
                "pinws connect",
            )
        return None
    return open_store(args.store, trust_on_first_use=args.trust_on_first_use)


def _store_note(store: PinStore, policy: Any, host: str) -> Callable[[Any], str]:
    """What on_open says about the store: learnt now, or remembered since when."""
    from .._client.config import static_policy
    from .._store.lookup import FIRST_USE, STORE, RememberedPins

    try:
        rule = RememberedPins(store, static_policy(policy, store)).for_host(host)
    except (PinningError, ValueError):
        rule = None  # the connection itself reports it

    def note(ws: Any) -> str:
        if rule is not None and rule.kind == FIRST_USE and ws.verified_chain:
            leaf = ws.verified_chain[0].pin
            return (
                f"first use: trusted {host}'s key {leaf} and remembered it in "
                f"{store.path}"
            )
        if rule is not None and rule.kind == STORE and rule.entry is not None:
            entry = rule.entry
            seen = entry.first_seen.strftime("%Y-%m-%d %H:%M:%S UTC")
            return f"pins from {store.path} ({entry.source}, first seen {seen})"
        return ""

    return note


def _event_loop(app: Any, session: _Session, interactive: bool, linger: float) -> None:
    events = session.events
    pending: list[str] = []
    lingering_since: Optional[float] = None
    end_of_input = False
    # Set when the "open" event is handled, not when on_open ran: lines queued
    # before it must go out first, in order.
    is_open = False
    closing = False
    while True:
        timeout = None
        if closing:
            timeout = _CLOSE_GRACE
        elif lingering_since is not None:
            timeout = max(0.0, lingering_since + linger - time.monotonic())
        try:
            kind, value = events.get(timeout=timeout)
        except queue.Empty:
            if closing:
                return
            closing = True
            app.close()
            continue
        if kind == "ended":
            return
        if kind == "open":
            is_open = True
            for line in pending:
                _send(app, session, line)
            pending.clear()
            if end_of_input:
                # The input ended before the connection was up: the wait
                # for replies starts now that it has all been sent.
                lingering_since = time.monotonic()
        elif kind == "line":
            if is_open:
                _send(app, session, value)
            else:
                pending.append(value)
        elif kind == "eof":
            end_of_input = True
            if interactive:
                closing = True
                app.close()
            elif is_open:
                lingering_since = time.monotonic()
        elif kind == "message" and lingering_since is not None:
            lingering_since = time.monotonic()


def _send(app: Any, session: _Session, line: str) -> None:
    # Shown before it goes: the worker may print the server's echo of it
    # the moment it is sent.
    if session.echo_sent:
        session.show(">", line)
    try:
        app.send(line)
    except websocket.WebSocketException as exc:
        if session.error is None:
            session.error = exc


def _outcome(session: _Session, console: Console, ca_certs: Optional[str]) -> int:
    error = session.error
    if isinstance(error, StoredPinMismatchError):
        raise CLIError(str(error), code=ExitCode.CRITICAL, reason="pin_mismatch")
    if isinstance(error, PinMismatchError):
        raise CLIError(
            f"pin mismatch, nothing was sent to the server: {error}",
            code=ExitCode.CRITICAL,
            reason="pin_mismatch",
        )
    if error is not None and not session.opened:
        if isinstance(error, PinningError):
            reason, message = describe_refusal(error, ca_certs=ca_certs)
            critical = reason in CRITICAL_REASONS
            code = ExitCode.CRITICAL if critical else ExitCode.UNKNOWN
            raise CLIError(message, code=code, reason=reason)
        raise CLIError(f"could not connect: {_describe(error)}")
    if error is not None and not isinstance(
        error, websocket.WebSocketConnectionClosedException
    ):
        raise CLIError(f"the connection failed: {_describe(error)}")
    render(console, Closed(session.close_status, session.close_reason))
    return ExitCode.OK


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, websocket.WebSocketBadStatusException):
        return f"the server refused the WebSocket upgrade: {text}"
    return text
