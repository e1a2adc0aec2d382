"""``pinws demo``: pinning, shown end to end, offline, in a couple of seconds.

The story: a private CA hierarchy and a wss:// echo server; a pinned client
(intermediate + backup pin) talks to it. Then an attacker intercepts TLS
with a certificate from a second root that the client *also* trusts (a
corporate proxy's, say). The pinned client refuses it inside the handshake
-- the attacker receives zero bytes -- while an unpinned websocket-client,
with the same trust store, hands it its Authorization header.

``pinws demo --serve`` keeps the pinned server running for trying the other
commands against it.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import signal
import tempfile
import threading
import time
from types import FrameType
from typing import Any, Optional

from .console import Console
from .errors import CLIError, ExitCode
from .options import add_common_options, add_json_option, non_negative_int
from .render import render
from .results import DemoServer

__all__ = ["add_parser", "run"]

# Bounds on waits for things that happen at once on loopback.
_WAIT = 10.0
SECRET = "Authorization: Bearer demo-secret-token-8c1f"

DESCRIPTION = """\
Show certificate pinning at work, offline: generate a CA, an intermediate
and a server certificate, run a local wss:// echo server and talk to it
through a pinned client; then play a TLS-intercepting attacker whose root
the client trusts, and show the pinned client refusing it before sending a
byte, while an unpinned client leaks its Authorization header.

With --serve, keep the pinned server running instead and print its URL, CA
file and pins, for trying 'pinws pins', 'check' and 'connect'."""

EPILOG = """\
examples:
  pinws demo
  pinws demo --serve
  pinws demo --serve --port 8765 --json

exit status: 0 the demonstration ran as described (or --serve was stopped
with Ctrl-C or SIGTERM); 2 pinning did not protect as it should; 3 the demo
could not run."""


def add_parser(subparsers: Any, formatter: Any) -> argparse.ArgumentParser:
    """Add ``demo`` to the command line."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="the offline demonstration (start here); --serve for a test server",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
        add_help=False,
    )
    options = parser.add_argument_group("options")
    options.add_argument(
        "--serve",
        action="store_true",
        help="run the pinned echo server until Ctrl-C or SIGTERM",
    )
    options.add_argument(
        "--port",
        metavar="N",
        type=non_negative_int,
        default=0,
        help="with --serve: listen on this port (default: any free port)",
    )
    add_json_option(options, "with --serve: print the server's details as JSON")
    add_common_options(options)
    parser.set_defaults(run=run, quiet_library=True)
    return parser


def require_demo_extra() -> None:
    """Check that what ``pinws demo`` runs on is installed.

    Raises:
        CLIError: it is not; the message says what to install.
    """
    missing = []
    for module in ("trustme", "websockets"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise CLIError(
            f"pinws demo needs {' and '.join(missing)}, which pinws's demo "
            "extra installs: pip install 'pinws[demo]' (or, in a clone of "
            "pinws, pip install '.[demo]')"
        )


def run(args: argparse.Namespace, console: Console) -> int:
    """Run ``pinws demo``."""
    require_demo_extra()
    if not args.serve and (args.port or args.json):
        raise CLIError("--port and --json go with --serve")
    directory = tempfile.mkdtemp(prefix="pinws-demo-")
    try:
        if args.serve:
            return _serve(args, console, directory)
        return _story(console, directory, bool(getattr(args, "debug", False)))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


class _Story:
    """Prints the numbered steps of the demonstration."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.style = console.style

    def step(self, number: int, title: str) -> None:
        self.console.print("")
        self.console.print(self.style.bold(f"{number}. {title}"))

    def line(self, text: str) -> None:
        self.console.print(f"   {text}")

    def quote(self, text: str) -> None:
        for line in text.splitlines():
            self.console.print(f"   | {line}")


def _story(console: Console, directory: str, debug: bool) -> int:
    import websocket

    from .._client.app import PinnedWebSocketApp
    from .._errors import PinMismatchError
    from .demo_pki import make_demo_pki
    from .demo_servers import EchoServer, InterceptingServer

    style = console.style
    story = _Story(console)
    console.print(style.bold("pinws demo: certificate pinning, offline, in four steps"))

    pki = make_demo_pki(directory)
    story.step(1, "A private PKI: root CA -> intermediate CA -> server certificate")
    story.line(f"intermediate CA pin  {style.pin(pki.intermediate_pin)}")
    story.line(f"backup key pin       {style.pin(pki.backup_pin)}")
    story.line("(the backup key is not in use yet: it is kept offline, so the")
    story.line(" server can move to it if the current key is ever lost)")

    server = EchoServer(pki.server_context(), debug=debug)
    attacker = InterceptingServer(pki.attacker_context())
    try:
        story.step(2, f"A pinned client talks to the real server, {server.url}")
        replies = _pinned_exchange(
            PinnedWebSocketApp, server.url, pki, ["hello, pinned world"]
        )
        if replies.error is not None:
            raise CLIError(
                f"the pinned client could not talk to the demo server: {replies.error}"
            )
        story.line(
            f"connected: pin {style.pin(replies.matched_pin or '?')} matched the "
            "intermediate CA"
        )
        for sent, received in zip(replies.sent, replies.received):
            story.line(f"> {sent}")
            story.line(f"< {received}")

        story.step(3, "An attacker intercepts TLS, with a certificate from a second")
        story.line("root that the client's trust store ALSO holds (as a corporate")
        story.line(f"proxy's root would be), at {attacker.url}")
        refused = _pinned_exchange(
            PinnedWebSocketApp, attacker.url, pki, ["this must never be sent"]
        )
        pinned_bytes = attacker.wait_for_session(1, _WAIT)
        if not isinstance(refused.error, PinMismatchError):
            console.note(f"the pinned client was not refused: {refused.error!r}")
            return ExitCode.CRITICAL
        story.line(f"pinned client: {style.good('REFUSED')} inside the TLS handshake:")
        story.quote(str(refused.error))
        if pinned_bytes is None or pinned_bytes:
            console.note("the attacker received data from the pinned client!")
            return ExitCode.CRITICAL
        story.line(
            "bytes the attacker received from the pinned client: "
            f"{style.good(str(len(pinned_bytes)))} (no Upgrade request, no header)"
        )

        story.step(4, "The same attacker, and an UNPINNED websocket-client")
        story.line("(same trust store, same Authorization header)")
        try:
            unpinned = websocket.create_connection(
                attacker.url,
                sslopt={"ca_certs": pki.trust_bundle},
                header=[SECRET],
                timeout=_WAIT,
            )
            unpinned.close()
        except (websocket.WebSocketException, OSError):
            pass  # the attacker answers nothing: the request is what it wanted
        leaked = attacker.wait_for_session(2, _WAIT) or b""
        leaked_lines = leaked.decode("latin-1").split("\r\n")
        auth = [
            line for line in leaked_lines if line.lower().startswith("authorization:")
        ]
        if not auth:
            console.note("the unpinned client did not reach the attacker")
            return ExitCode.UNKNOWN
        story.line(
            f"bytes the attacker received: {style.bad(str(len(leaked)))}, "
            "a whole Upgrade request, including:"
        )
        story.quote(leaked_lines[0])
        story.quote(style.bad(auth[0]))
    finally:
        attacker.close()
        server.close()

    console.print("")
    console.print(
        "Pinning refused the interceptor before a single byte of the request left"
    )
    console.print("the client; without it, the token went to the attacker.")
    console.print("Next: 'pinws demo --serve' runs this server for 'pinws connect',")
    console.print("and 'pinws pins wss://your.server/' prints your own server's pins.")
    return ExitCode.OK


class _Exchange:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.received: list[str] = []
        self.error: Optional[BaseException] = None
        self.matched_pin: Optional[str] = None


def _pinned_exchange(
    app_class: Any, url: str, pki: Any, messages: list[str]
) -> _Exchange:
    result = _Exchange()
    done = threading.Event()

    def on_open(app: Any) -> None:
        pin = app.sock.matched_pin
        result.matched_pin = str(pin) if pin is not None else None
        for message in messages:
            app.send(message)
            result.sent.append(message)

    def on_message(app: Any, message: Any) -> None:
        result.received.append(message)
        if len(result.received) == len(messages):
            done.set()
            app.close()

    def on_error(app: Any, error: BaseException) -> None:
        if result.error is None:
            result.error = error
        done.set()

    app = app_class(
        url,
        pins=[pki.intermediate_pin, pki.backup_pin],
        ca_certs=pki.trust_bundle,
        header=[SECRET],
        on_open=on_open,
        on_message=on_message,
        on_error=on_error,
    )
    app.start(reconnect=0)
    if not done.wait(_WAIT):
        result.error = result.error or TimeoutError(f"no answer from {url}")
    app.close()
    app.join(_WAIT)
    return result


class _Stop(Exception):
    """SIGTERM, turned into an exception that unwinds the main thread."""


def _serve(args: argparse.Namespace, console: Console, directory: str) -> int:
    from .demo_pki import make_demo_pki
    from .demo_servers import EchoServer

    pki = make_demo_pki(directory)
    try:
        server = EchoServer(pki.server_context(), port=args.port, debug=args.debug)
    except OSError as exc:
        raise CLIError(f"cannot listen on port {args.port}: {exc.strerror}") from exc

    def on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        served = DemoServer(
            server.url,
            pki.ca_file,
            (
                ("leaf", pki.leaf_pin),
                ("intermediate", pki.intermediate_pin),
                ("root", pki.root_pin),
                ("backup", pki.backup_pin),
            ),
        )
        render(console, served, json_output=args.json)
        while True:
            # Idle until a signal: sleep() is interrupted by SIGINT and
            # SIGTERM everywhere, where Event.wait() is not on Windows.
            time.sleep(3600)
    except (KeyboardInterrupt, _Stop):
        console.note("pinws demo: stopping the server")
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
    return ExitCode.OK
