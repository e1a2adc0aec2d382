"""What the Tk and Qt chat examples share: the command line and a server.

Given no URL, the chat examples start ``pinws demo --serve`` (a pinned echo
server on this machine, with a private CA) and connect to it; given one,
they connect to it with the pins you give.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Target:
    """Where to connect, and what to trust there."""

    url: str
    pins: list[str]
    ca_certs: Optional[str] = None


def parse_args(
    description: str, argv: Optional[Sequence[str]] = None
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "url", nargs="?", help="a wss:// URL (default: start `pinws demo --serve`)"
    )
    parser.add_argument(
        "--pin",
        action="append",
        default=[],
        help="a pin, sha256/<base64>; repeat it for the backup "
        "(with no URL: replaces the demo server's pins, to see a refusal)",
    )
    parser.add_argument("--ca-certs", help="a PEM file of CAs for a private CA")
    args = parser.parse_args(argv)
    if args.url and not args.pin:
        parser.error("give the server's pins with --pin (`pinws pins URL` prints them)")
    return args


@contextlib.contextmanager
def target(args: argparse.Namespace) -> Iterator[Target]:
    """The server named on the command line, or a demo server for as long as needed."""
    if args.url:
        yield Target(args.url, args.pin, args.ca_certs)
        return
    with demo_server() as demo:
        yield Target(demo.url, args.pin or demo.pins, demo.ca_certs)


@contextlib.contextmanager
def demo_server() -> Iterator[Target]:
    """Run ``pinws demo --serve`` and yield its URL, pins and CA file."""
    command = [sys.executable, "-m", "pinws", "demo", "--serve", "--json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            details = json.loads(server.stdout.readline())
            pins = details["pins"]
            yield Target(
                details["url"],
                [pins["intermediate"], pins["backup"]],
                details["ca_file"],
            )
        finally:
            server.terminate()  # Popen's exit waits for it and closes the pipe
