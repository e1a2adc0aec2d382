"""Sending pin failure reports to a ``report_uri`` (RFC 7469 section 3).

Reports are POSTed from a short-lived background thread, so the connection
that failed is never delayed by the collector, with their own timeout and
ordinary certificate verification. Identical reports are sent at most once
per 24 hours per process, as TrustKit does, so a client retrying against a
misconfigured server cannot flood the collector.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import threading
import time
import urllib.error
import urllib.request
from email.message import Message as HTTPMessage
from typing import IO, Callable, ClassVar, Optional, Union
from urllib.parse import urlsplit

import certifi

from .._log import get_logger
from .._pins.report import PinFailureReport

__all__ = ["DEDUPLICATION_SECONDS", "MAX_IN_FLIGHT", "ReportSender"]

logger = get_logger("reports")

DEDUPLICATION_SECONDS = 24 * 60 * 60
#: Reports one sender may have on their way at once; more are dropped.
MAX_IN_FLIGHT = 4


class ReportSender:
    """POSTs :class:`PinFailureReport` JSON to one URI, in the background.

    Args:
        uri: an ``https://`` URL.
        ca_certs: the trust store to verify the collector with (a PEM file or
            a directory); ``None`` for certifi's bundle.
        timeout: seconds the POST may take.
        clock: monotonic seconds, for the de-duplication period.

    Raises:
        ValueError: *uri* is not an ``https://`` URL, *ca_certs* does not
            exist, or *timeout* is not a positive number.

    The POST never follows a redirect, and uses the proxy that the
    ``https_proxy`` environment variable names, if any.
    """

    # Per process, as RFC 7469 and TrustKit de-duplicate: one table shared by
    # every sender, guarded by its lock.
    _recently_sent: ClassVar[dict[str, float]] = {}
    _recently_sent_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        uri: str,
        *,
        ca_certs: Optional[Union[str, os.PathLike[str]]] = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(uri, str):
            raise ValueError(f"report_uri must be a string, not {type(uri).__name__}")
        parts = urlsplit(uri)
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise ValueError(
                f"report_uri={uri!r} must be an https:// URL: reports carry "
                "certificate chains and are only sent over verified TLS"
            )
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ValueError(f"timeout must be a number of seconds, not {timeout!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        self.uri = uri
        self.timeout = float(timeout)
        self._clock = clock
        location = os.fspath(ca_certs) if ca_certs is not None else certifi.where()
        if not os.path.exists(location):
            raise ValueError(f"ca_certs={location!r}: no such file or directory")
        if os.path.isdir(location):
            self._ssl_context = ssl.create_default_context(capath=location)
        else:
            self._ssl_context = ssl.create_default_context(cafile=location)
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self._ssl_context), _NoRedirects()
        )
        self._in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)

    def _deduplication_key(self, report: PinFailureReport) -> str:
        body = report.as_dict()
        body.pop("date-time", None)
        canonical = json.dumps([self.uri, body], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def submit(self, report: PinFailureReport) -> Optional[threading.Thread]:
        """Queue *report* for sending; return the sending thread.

        Returns ``None`` (and sends nothing) when an identical report went to
        this URI in the last 24 hours, or when :data:`MAX_IN_FLIGHT` reports
        are already on their way (a collector that hangs must not pile up
        threads). Never blocks and never raises for network problems: those
        are logged.
        """
        key = self._deduplication_key(report)
        now = self._clock()
        with self._recently_sent_lock:
            sent_at = self._recently_sent.get(key)
            if sent_at is not None and now - sent_at < DEDUPLICATION_SECONDS:
                logger.debug("pin failure report already sent in the last 24h")
                return None
            for old_key, moment in list(self._recently_sent.items()):
                if now - moment >= DEDUPLICATION_SECONDS:
                    del self._recently_sent[old_key]
            if not self._in_flight.acquire(blocking=False):
                logger.warning(
                    "dropping a pin failure report for %s: %d reports to %s "
                    "are still being sent",
                    report.hostname,
                    MAX_IN_FLIGHT,
                    self.uri,
                )
                return None
            self._recently_sent[key] = now
        thread = threading.Thread(
            target=self._post,
            args=(report.to_json().encode("utf-8"),),
            name="pinws-report",
            daemon=True,
        )
        try:
            thread.start()
        except RuntimeError:
            self._in_flight.release()
            logger.warning("could not start a thread to send a pin failure report")
            return None
        return thread

    def __call__(self, report: PinFailureReport) -> None:
        """Send *report*, as :meth:`submit` (a ``report_sink`` callable)."""
        self.submit(report)

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.uri,
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read()
            logger.debug("pin failure report sent to %s", self.uri)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            logger.warning("could not send pin failure report to %s: %s", self.uri, exc)
        finally:
            self._in_flight.release()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: a report goes to the configured URI or nowhere."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> Optional[urllib.request.Request]:
        return None
