"""``Public-Key-Pins`` headers (RFC 7469 section 2): parsing and validation.

Pure functions: no socket, no file. :func:`parse` reads one header value
to the grammar of RFC 7469 section 2.1; :func:`validate` applies the rules
a header must meet to be remembered (section 2.5: at least one pin in the
verified chain, one backup pin off it); :func:`read_response` does both for
the headers of one response and logs, on the ``pinws.store`` logger, why a
header is ignored.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import re
from collections.abc import Collection, Mapping
from typing import Callable, Optional
from urllib.parse import urlsplit

from .._errors import InvalidPinError
from .._pins.pin import Pin

__all__ = [
    "ENFORCE_HEADER",
    "MAX_AGE_CAP",
    "REPORT_ONLY_HEADER",
    "InvalidHeaderError",
    "PinningHeader",
    "expiry",
    "parse",
    "read_response",
    "validate",
]

logger = logging.getLogger("pinws.store")

ENFORCE_HEADER = "Public-Key-Pins"
REPORT_ONLY_HEADER = "Public-Key-Pins-Report-Only"
#: The longest a remembered header applies, whatever its max-age says:
#: RFC 7469 section 4.1 suggests capping at 60 days.
MAX_AGE_CAP = datetime.timedelta(days=60)

# RFC 7230 section 3.2.6: token characters; quoted-string text and pairs.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTED = re.compile(r'"((?:[\t !#-\[\]-~]|\\[\t !-~])*)"')
_OWS = re.compile(r"[ \t]*")
_DIGITS = re.compile(r"[0-9]+")
# More digits than this is "forever" (and int() of a huge string is slow).
_MAX_DIGITS = 18
_FOREVER = 1_000_000_000_000_000_000


class InvalidHeaderError(ValueError):
    """A ``Public-Key-Pins`` header that must be ignored, and why."""


@dataclasses.dataclass(frozen=True)
class PinningHeader:
    """One parsed ``Public-Key-Pins`` (or ``-Report-Only``) header.

    Attributes:
        pins: the ``pin-sha256`` pins, in order, without duplicates.
        max_age: seconds, as sent (see :func:`expiry` for the cap).
        include_subdomains: the ``includeSubDomains`` directive was present.
        report_uri: the ``report-uri``, if any (an ``https://`` URL).
        report_only: it came as ``Public-Key-Pins-Report-Only``.
    """

    pins: tuple[Pin, ...]
    max_age: int
    include_subdomains: bool = False
    report_uri: Optional[str] = None
    report_only: bool = False


def _directives(value: str) -> list[tuple[str, Optional[str]]]:
    """Split a header value into (lower-case name, value or None) pairs.

    Grammar (RFC 7469 section 2.1)::

        Public-Key-Pins = directive *( OWS ";" [ OWS directive ] )
        directive       = directive-name [ "=" directive-value ]
        directive-value = token / quoted-string
    """
    found: list[tuple[str, Optional[str]]] = []
    position = _OWS.match(value, 0).end()  # type: ignore[union-attr]
    expect_directive = True
    while position < len(value):
        if expect_directive:
            name = _TOKEN.match(value, position)
            if name is None:
                raise InvalidHeaderError(
                    f"expected a directive name at character {position + 1}"
                )
            position = name.end()
            directive_value: Optional[str] = None
            if value.startswith("=", position):
                position += 1
                quoted = _QUOTED.match(value, position)
                if quoted is not None:
                    directive_value = re.sub(r"\\(.)", r"\1", quoted.group(1))
                    position = quoted.end()
                else:
                    token = _TOKEN.match(value, position)
                    if token is None:
                        raise InvalidHeaderError(
                            f"the directive {name.group(0)!r} has a malformed value"
                        )
                    directive_value = token.group(0)
                    position = token.end()
            found.append((name.group(0).lower(), directive_value))
            expect_directive = False
        position = _OWS.match(value, position).end()  # type: ignore[union-attr]
        if position >= len(value):
            break
        if value[position] != ";":
            raise InvalidHeaderError(
                f"expected ';' at character {position + 1}, found {value[position]!r}"
            )
        position = _OWS.match(value, position + 1).end()  # type: ignore[union-attr]
        # An empty directive (";;" or a trailing ";") is allowed.
        expect_directive = position < len(value) and value[position] != ";"
    if not found:
        raise InvalidHeaderError("the header is empty")
    return found


def parse(value: str, *, report_only: bool = False) -> PinningHeader:
    """Parse one ``Public-Key-Pins`` header value.

    Directive names are case-insensitive; unknown directives (``pin-sha1``
    among them) are ignored, as RFC 7469 section 2.1 requires; every other
    directive may appear once.

    Args:
        value: the header's value.
        report_only: whether it came as ``Public-Key-Pins-Report-Only``.

    Raises:
        InvalidHeaderError: the header is malformed, has no ``max-age`` or no
            ``pin-sha256``, repeats a directive, or has a bad value.
    """
    if not isinstance(value, str):
        raise InvalidHeaderError(f"the header value is {type(value).__name__}")
    pins: list[Pin] = []
    seen: dict[str, Optional[str]] = {}
    for name, directive_value in _directives(value):
        if name == "pin-sha256":
            if directive_value is None:
                raise InvalidHeaderError("pin-sha256 has no value")
            try:
                pin = Pin.parse(f'pin-sha256="{directive_value}"')
            except InvalidPinError as exc:
                raise InvalidHeaderError(f"bad pin-sha256: {exc.reason}") from None
            if pin not in pins:
                pins.append(pin)
            continue
        if name not in ("max-age", "includesubdomains", "report-uri"):
            continue  # RFC 7469 section 2.1: ignore what is not recognised
        if name in seen:
            raise InvalidHeaderError(f"the directive {name!r} appears more than once")
        seen[name] = directive_value
    if "max-age" not in seen:
        raise InvalidHeaderError("max-age is required")
    max_age = _max_age(seen["max-age"])
    if "includesubdomains" in seen and seen["includesubdomains"] is not None:
        raise InvalidHeaderError("includeSubDomains takes no value")
    report_uri = None
    if "report-uri" in seen:
        report_uri = _report_uri(seen["report-uri"])
    if not pins:
        raise InvalidHeaderError("no pin-sha256 directive")
    return PinningHeader(
        pins=tuple(pins),
        max_age=max_age,
        include_subdomains="includesubdomains" in seen,
        report_uri=report_uri,
        report_only=report_only,
    )


def _max_age(value: Optional[str]) -> int:
    if value is None or _DIGITS.fullmatch(value) is None:
        raise InvalidHeaderError(f"max-age must be a number of seconds, not {value!r}")
    if len(value.lstrip("0")) > _MAX_DIGITS:
        return _FOREVER
    return int(value)


def _report_uri(value: Optional[str]) -> str:
    if value is None:
        raise InvalidHeaderError("report-uri has no value")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or parts.scheme.lower() != "https" or not host:
        raise InvalidHeaderError(
            f"report-uri {value!r} is not an https:// URL (reports carry "
            "certificate chains; pinws sends them over verified TLS only)"
        )
    return value


def validate(header: PinningHeader, chain_digests: Collection[bytes]) -> None:
    """Check the rules a header must meet to be remembered (RFC 7469 section 2.5).

    A ``max-age=0`` header (a removal) needs none of them.

    Args:
        header: the parsed header.
        chain_digests: SPKI SHA-256 digests of the verified chain.

    Raises:
        InvalidHeaderError: fewer than two pins, no pin of the verified
            chain, or no backup pin (one that is not in the chain).
    """
    if header.max_age == 0:
        return
    if len(header.pins) < 2:
        raise InvalidHeaderError(
            "at least two pins are required: one of the chain and a backup"
        )
    in_chain = [pin for pin in header.pins if pin.digest in chain_digests]
    if not in_chain:
        raise InvalidHeaderError("no pin matches a key of the verified chain")
    if len(in_chain) == len(header.pins):
        raise InvalidHeaderError(
            "no backup pin: every pin is a key of the chain served now"
        )


def expiry(header: PinningHeader, now: datetime.datetime) -> datetime.datetime:
    """When a header received at *now* stops applying: max-age, capped at 60 days."""
    seconds = min(header.max_age, int(MAX_AGE_CAP.total_seconds()))
    return now + datetime.timedelta(seconds=seconds)


def read_response(
    headers: Mapping[str, str],
    chain_digests: Collection[bytes],
    *,
    host: str,
    warn: Optional[Callable[[str], None]] = None,
) -> Optional[PinningHeader]:
    """The header of a response to remember, or ``None``; log what is ignored.

    ``Public-Key-Pins`` wins over ``Public-Key-Pins-Report-Only`` when both
    are present (RFC 7469 section 2.1.3: the enforced policy is noted).
    Header names are matched case-insensitively.

    Args:
        headers: the response's headers.
        chain_digests: SPKI SHA-256 digests of the verified chain.
        host: the host, for log messages.
        warn: logs why a header is ignored (default: a warning on the
            ``pinws.store`` logger).
    """
    by_name = {name.lower(): value for name, value in headers.items()}
    for name, report_only in ((ENFORCE_HEADER, False), (REPORT_ONLY_HEADER, True)):
        value = by_name.get(name.lower())
        if value is None:
            continue
        try:
            header = parse(value, report_only=report_only)
            validate(header, chain_digests)
        except InvalidHeaderError as exc:
            message = f"ignoring the {name} header from {host}: {exc}"
            (warn or logger.warning)(message)
            return None
        return header
    return None
