"""Host names as pinws compares them: lower-case A-labels, no trailing dot."""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Optional, Union

import idna

__all__ = ["as_ip_address", "check_dns_name", "normalize_hostname"]

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

# Letters, digits and hyphens (RFC 1123), plus the underscore that real
# host names carry often enough (SRV-style and some internal names).
_LABEL_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")
_MAX_LABEL = 63
_MAX_NAME = 253


# Both are asked several times per connection, for the same few hosts; a
# DNS name costs ipaddress a raised and caught ValueError each time.
@functools.lru_cache(maxsize=256)
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


@functools.lru_cache(maxsize=256)
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
        encoded = idna.encode(name, uts46=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise ValueError(
            f"{host!r} is not a valid internationalised name: {exc}"
        ) from None
    # UTS #46 maps ideographic full stops to ".", which can leave a
    # trailing dot that the strip above could not see yet.
    return encoded.rstrip(".")


def check_dns_name(name: str) -> None:
    """Check that a *normalised* name is a syntactically valid DNS name.

    Raises:
        ValueError: naming the offending label and what is wrong with it.
    """
    if len(name) > _MAX_NAME:
        raise ValueError(
            f"{name!r} is {len(name)} characters long; a DNS name has at most "
            f"{_MAX_NAME}"
        )
    labels = name.split(".")
    for label in labels:
        if not label:
            raise ValueError(f"{name!r} has an empty label ('..')")
        if len(label) > _MAX_LABEL:
            raise ValueError(
                f"the label {label!r} of {name!r} is {len(label)} characters "
                f"long; a DNS label has at most {_MAX_LABEL}"
            )
        if not _LABEL_RE.match(label):
            raise ValueError(
                f"the label {label!r} of {name!r} may hold only letters, digits, "
                "'-' and '_', and may not start or end with '-'"
            )
    if labels[-1].isdigit():
        # No top-level domain is all digits (RFC 3696 section 2), so this is
        # an IP address written in a form ipaddress rejects, or a typo.
        raise ValueError(
            f"{name!r} ends in the all-numeric label {labels[-1]!r}, which no "
            "DNS name does; write IP addresses in full (e.g. 127.0.0.1)"
        )
