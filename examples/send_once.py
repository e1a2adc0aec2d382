"""Send one message over a pinned connection, print the reply: create_connection.

    python examples/send_once.py wss://host/feed hello --pin sha256/... --pin sha256/...

Exit status 0 on a reply, 1 when pinws refused the server (the one-line
summary, then the full message, go to standard error), 2 on another failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Optional

import websocket

import pinws


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Send one message, print the reply.")
    parser.add_argument("url", help="a wss:// URL")
    parser.add_argument("message", help="the text message to send")
    parser.add_argument(
        "--pin", action="append", required=True, help="repeat for a backup"
    )
    parser.add_argument("--ca-certs", help="a PEM file of CAs, for a private CA")
    args = parser.parse_args(argv)
    try:
        ws = pinws.create_connection(
            args.url, pins=args.pin, ca_certs=args.ca_certs, timeout=10
        )
    except pinws.PinningError as error:
        print(f"refused: {error.summary}\n\n{error}", file=sys.stderr)
        return 1
    except (OSError, websocket.WebSocketException) as error:
        print(f"could not connect: {error}", file=sys.stderr)
        return 2
    try:
        ws.send(args.message)
        print(ws.recv())
    finally:
        ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
