"""Host names as pinws compares them: lower-case A-labels, no trailing dot."""

from __future__ import annotations

import ipaddress
from typing import Optional, Union

import idna

__all__ = ["as_ip_address", "normalize_hostname"]

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def as_ip_address(host: str) -> Optional[IPAddress]:
    """The IP address *host* spells, or ``None`` if it is a DNS name.

    Accepts IPv6 literals with or without brackets and with a zone index.
    """
    candidate = host.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    candidate = candidate.split("%", 1)[0]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def normalize_hostname(host: str) -> str:
    """Return *host* in the form used for every comparison.

    DNS names become lower-case A-labels (IDNA 2008 with UTS #46 mapping)
    without a trailing dot; IP addresses their compressed text form.

    Raises:
        ValueError: *host* is empty or not a valid host name.
    """
    if not host or not host.strip():
        raise ValueError("the host name is empty")
    address = as_ip_address(host)
    if address is not None:
        return address.compressed
    name = host.strip().rstrip(".")
    if not name:
        raise ValueError(f"{host!r} is not a host name")
    if name.isascii():
        return name.lower()
    try:
        return idna.encode(name, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise ValueError(f"{host!r} is not a valid internationalised name: {exc}")
