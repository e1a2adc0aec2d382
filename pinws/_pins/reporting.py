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
import logging
import os
import ssl
import threading
import time
import urllib.error
import urllib.request
from typing import ClassVar, Optional, Union
from urllib.parse import urlsplit

import certifi

from .report import PinFailureReport

__all__ = ["ReportSender"]

logger = logging.getLogger("pinws")

DEDUPLICATION_SECONDS = 24 * 60 * 60


class ReportSender:
    """POSTs :class:`PinFailureReport` JSON to one URI, in the background.

    Args:
        uri: an ``https://`` URL.
        ca_certs: the trust store to verify the collector with (a PEM file or
            a directory); ``None`` for certifi's bundle.
        timeout: seconds the POST may take.

    Raises:
        ValueError: *uri* is not an ``https://`` URL, or *ca_certs* does not
            exist.
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
    ) -> None:
        if not isinstance(uri, str):
            raise ValueError(f"report_uri must be a string, not {type(uri).__name__}")
        parts = urlsplit(uri)
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise ValueError(
                f"report_uri={uri!r} must be an https:// URL: reports carry "
                "certificate chains and are only sent over verified TLS"
            )
        self.uri = uri
        self.timeout = timeout
        location = os.fspath(ca_certs) if ca_certs is not None else certifi.where()
        if not os.path.exists(location):
            raise ValueError(f"ca_certs={location!r}: no such file or directory")
        if os.path.isdir(location):
            self._ssl_context = ssl.create_default_context(capath=location)
        else:
            self._ssl_context = ssl.create_default_context(cafile=location)

    def _deduplication_key(self, report: PinFailureReport) -> str:
        body = report.as_dict()
        body.pop("date-time", None)
        canonical = json.dumps([self.uri, body], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def submit(self, report: PinFailureReport) -> Optional[threading.Thread]:
        """Queue *report* for sending; return the sending thread.

        Returns ``None`` (and sends nothing) when an identical report went to
        this URI in the last 24 hours. Never blocks and never raises for
        network problems: those are logged.
        """
        key = self._deduplication_key(report)
        now = time.monotonic()
        with self._recently_sent_lock:
            sent_at = self._recently_sent.get(key)
            if sent_at is not None and now - sent_at < DEDUPLICATION_SECONDS:
                logger.debug("pin failure report already sent in the last 24h")
                return None
            self._recently_sent[key] = now
            for old_key, moment in list(self._recently_sent.items()):
                if now - moment >= DEDUPLICATION_SECONDS:
                    del self._recently_sent[old_key]
        thread = threading.Thread(
            target=self._post,
            args=(report.to_json().encode("utf-8"),),
            name="pinws-report",
            daemon=True,
        )
        thread.start()
        return thread

    def __call__(self, report: PinFailureReport) -> None:
        self.submit(report)

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.uri,
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - https only, checked above
                request, timeout=self.timeout, context=self._ssl_context
            ) as response:
                response.read()
            logger.debug("pin failure report sent to %s", self.uri)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            logger.warning("could not send pin failure report to %s: %s", self.uri, exc)
