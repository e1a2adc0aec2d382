"""A real HTTPS report collector on loopback: the ``report_uri`` end.

A stdlib ``http.server`` behind ``ssl`` with a trustme certificate, so the
client's certificate verification is real. It records each POST's JSON body,
and can be told to hold every request until a gate opens (a slow collector)
or to answer with a redirect.
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import trustme

from .timing import WAIT


class ReportCollector:
    """An HTTPS server on 127.0.0.1 that records the reports POSTed to it.

    Args:
        ca: the CA that issues the collector's certificate (the client must
            trust it).
        gate: when given, each request is held (after its body was read,
            before it is recorded and answered) until this event is set.
        redirect_to: answer every POST with ``307`` to this URL instead.
    """

    def __init__(
        self,
        ca: trustme.CA,
        *,
        gate: Optional[threading.Event] = None,
        redirect_to: Optional[str] = None,
    ) -> None:
        self.reports: list[dict[str, Any]] = []
        self.content_types: list[str] = []
        self.arrived = threading.Event()
        self.answered = threading.Event()
        self.handshake_failures = 0
        self.gate = gate
        self._changed = threading.Condition()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        collector = self

        class Handler(BaseHTTPRequestHandler):
            timeout = WAIT

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                collector.arrived.set()
                if collector.gate is not None:
                    collector.gate.wait(3 * WAIT)
                # ``answered`` is set before the response leaves: once the
                # client has read it, the test may look, with no race.
                if redirect_to is not None:
                    collector.answered.set()
                    self.send_response(307)
                    self.send_header("Location", redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with collector._changed:
                    collector.reports.append(json.loads(body))
                    collector.content_types.append(self.headers.get("Content-Type", ""))
                    collector._changed.notify_all()
                collector.answered.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[Any, Any]:
                raw, address = self.socket.accept()
                # The handshake runs on the handler's thread, at its first
                # read, so a failing client cannot stall the accept loop.
                tls = context.wrap_socket(
                    raw, server_side=True, do_handshake_on_connect=False
                )
                return tls, address

            def handle_error(self, request: Any, client_address: Any) -> None:
                with collector._changed:
                    collector.handshake_failures += 1
                    collector._changed.notify_all()

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/pin-report") -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = WAIT) -> bool:
        """Wait until *count* reports have been recorded."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.reports) >= count, timeout)

    def wait_for_failures(self, count: int, timeout: float = WAIT) -> bool:
        """Wait until *count* connections have failed (a TLS error, say)."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self.handshake_failures >= count, timeout
            )

    def close(self) -> None:
        if self.gate is not None:
            self.gate.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(WAIT)


def join_report_threads(timeout: float = WAIT) -> None:
    """Wait for every pin-report sending thread to finish."""
    for thread in threading.enumerate():
        if thread.name == "pinws-report":
            thread.join(timeout)
            assert not thread.is_alive(), "a report thread did not finish"
