"""Pin failure reports, and their RFC 7469 section 3 JSON form."""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any, Optional

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from .pin import Pin

__all__ = ["PinFailureReport"]


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class PinFailureReport:
    """What happened when a server's chain matched none of the pins.

    Handed to ``on_pin_failure`` for every mismatch, enforced or not, and
    POSTed to ``report_uri`` as :meth:`to_json`.

    Attributes:
        hostname: the host connected to.
        port: its TCP port.
        date_time: when the mismatch was seen (UTC).
        served_chain: the certificates the server sent, in its order.
        verified_chain: the chain OpenSSL verified, leaf first, up to the
            trust anchor.
        known_pins: the configured pins, canonical strings.
        enforced: whether the connection was refused.
        report_only: whether the pin set is report-only.
        expired: whether the pin set has expired (so was not enforced).
        expires: the pin set's expiry date, if any.
        noted_hostname: the name the matching host pattern is anchored at
            (``example.com`` for ``**.example.com``); ``None`` for a pin set
            that applies to every host, reported as the host name itself.
        include_subdomains: whether that pattern covers subdomains (``*.``
            and ``**.`` patterns).
        host_pattern: the matching host pattern as written in the policy,
            ``None`` for a pin set that applies to every host.
    """

    hostname: str
    port: Optional[int]
    date_time: datetime.datetime
    served_chain: tuple[x509.Certificate, ...]
    verified_chain: tuple[x509.Certificate, ...]
    known_pins: tuple[str, ...]
    enforced: bool
    report_only: bool = False
    expired: bool = False
    expires: Optional[datetime.date] = None
    noted_hostname: Optional[str] = None
    include_subdomains: bool = False
    host_pattern: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        """The RFC 7469 section 3 report as a dictionary.

        Besides the RFC's members it carries ``"enforced"``, ``"report-only"``,
        ``"expired"`` and (for a policy rule) ``"host-pattern"``, which
        report collectors ignore if unknown. ``"effective-expiration-date"``
        is the end (UTC) of the pin set's last enforced day, present only
        when the set has an expiry.
        """
        report: dict[str, Any] = {
            "date-time": _rfc3339(self.date_time),
            "hostname": self.hostname,
            "port": self.port if self.port is not None else 443,
            "include-subdomains": self.include_subdomains,
            "noted-hostname": self.noted_hostname or self.hostname,
            "served-certificate-chain": [_pem(c) for c in self.served_chain],
            "validated-certificate-chain": [_pem(c) for c in self.verified_chain],
            "known-pins": [
                f'pin-sha256="{Pin.parse(pin).base64}"' for pin in self.known_pins
            ],
            "enforced": self.enforced,
            "report-only": self.report_only,
            "expired": self.expired,
        }
        if self.host_pattern is not None:
            report["host-pattern"] = self.host_pattern
        if self.expires is not None:
            end_of_day = datetime.datetime.combine(
                self.expires, datetime.time(23, 59, 59), datetime.timezone.utc
            )
            report["effective-expiration-date"] = _rfc3339(end_of_day)
        return report

    def to_json(self) -> str:
        """The report as RFC 7469 section 3 JSON text."""
        return json.dumps(self.as_dict(), sort_keys=True)
