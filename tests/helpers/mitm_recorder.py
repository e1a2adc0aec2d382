"""A mitmdump addon (loaded with ``--scripts``) that records what it intercepts.

It runs inside mitmproxy's own Python, not the test's: it imports nothing
from pinws or the tests. Each hook call appends one JSON line to the file
given by ``--set pinws_record=PATH``, written and flushed before mitmproxy
goes on, so a test reading the file sees every event that happened.
"""

from __future__ import annotations

import json
from typing import Any

from mitmproxy import ctx  # type: ignore[import-not-found]


class Recorder:
    def load(self, loader: Any) -> None:
        loader.add_option("pinws_record", str, "", "JSON-lines file of events")

    def _write(self, event: str, **fields: Any) -> None:
        with open(ctx.options.pinws_record, "a", encoding="utf-8") as record:
            record.write(json.dumps({"event": event, **fields}) + "\n")

    def http_connect(self, flow: Any) -> None:
        self._write("http_connect", authority=flow.request.authority)

    def requestheaders(self, flow: Any) -> None:
        self._write(
            "requestheaders",
            method=flow.request.method,
            path=flow.request.path,
            headers=[list(item) for item in flow.request.headers.items(multi=True)],
        )

    def tls_established_client(self, data: Any) -> None:
        self._write("tls_established_client", sni=data.conn.sni)

    def tls_failed_client(self, data: Any) -> None:
        self._write("tls_failed_client", sni=data.conn.sni, error=data.conn.error)

    def websocket_message(self, flow: Any) -> None:
        message = flow.websocket.messages[-1]
        self._write(
            "websocket_message",
            from_client=message.from_client,
            text=message.text if message.is_text else None,
        )


addons = [Recorder()]
