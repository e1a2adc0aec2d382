"""The Certificate Transparency log list: the logs, their operators and states.

Reads the JSON log list in the v3 schema that browsers publish
(https://www.gstatic.com/ct/log_list/v3/log_list.json, schema alongside
it) and validates it on load, so a broken or tampered file is refused when
it is *given*, never at connect time.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Optional, Union

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = ["LOG_STATES", "STALE_AFTER", "CTLog", "CTLogList", "LogKey"]

logger = logging.getLogger("pinws.ct")

#: Every log state of the v3 schema.
LOG_STATES = ("pending", "qualified", "usable", "readonly", "retired", "rejected")

#: A list older than this draws a warning (browsers stop enforcing CT
#: with a list this old; pinws keeps enforcing, loudly).
STALE_AFTER = datetime.timedelta(days=70)

LogKey = Union[ec.EllipticCurvePublicKey, rsa.RSAPublicKey]

# RFC 3339 date-time, as the schema's "format": "date-time" requires.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)


@dataclasses.dataclass(frozen=True)
class CTLog:
    """One log of a :class:`CTLogList`.

    Attributes:
        description: the log's name, e.g. ``"Google 'Argon2026h1' log"``.
        operator: the name of the organisation that runs it.
        log_id: the log ID, SHA-256 of the log's DER public key.
        key: the log's public key (ECDSA P-256 or RSA).
        state: ``"pending"``, ``"qualified"``, ``"usable"``, ``"readonly"``,
            ``"retired"`` or ``"rejected"``.
        state_since: when the log entered *state* (aware UTC).
        temporal_interval: ``(start_inclusive, end_exclusive)``: the log
            accepts only certificates expiring in it; ``None`` if unsharded.

    .. versionadded:: 0.1
    """

    description: str
    operator: str
    log_id: bytes
    key: LogKey = dataclasses.field(repr=False, compare=False)
    state: str
    state_since: datetime.datetime
    temporal_interval: Optional[tuple[datetime.datetime, datetime.datetime]] = None

    @property
    def log_id_b64(self) -> str:
        """The log ID in base64, as log lists and CT tools print it."""
        return base64.b64encode(self.log_id).decode("ascii")


class CTLogList:
    """A validated Certificate Transparency log list (v3 schema).

    Build one with :meth:`from_file` (or :meth:`from_json`); it is
    immutable and safe to share between threads and clients.

    Attributes:
        timestamp: the list's ``log_list_timestamp`` (aware UTC).
        version: the list's ``version`` string, ``""`` when absent.
        source: the file it was read from (``"<string>"`` for text).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        logs: tuple[CTLog, ...],
        *,
        timestamp: datetime.datetime,
        version: str = "",
        source: str = "<string>",
    ) -> None:
        self.timestamp = timestamp
        self.version = version
        self.source = source
        self._logs = logs
        self._by_id = {log.log_id: log for log in logs}
        self._stale_warned = False
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike[str]]) -> CTLogList:
        """Load and validate a log list file.

        Warns (logger ``pinws.ct``) when the list is older than 70 days.

        Raises:
            ValueError: the file is not a valid v3 log list; the message
                names the file, the log and the field at fault.
            OSError: the file cannot be read.
        """
        source = os.fspath(path)
        with open(source, "rb") as handle:
            data = handle.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{source}: not UTF-8 text: {exc}") from None
        return cls.from_json(text, source=source)

    @classmethod
    def from_json(cls, text: str, *, source: str = "<string>") -> CTLogList:
        """Load and validate a log list from JSON text.

        Raises:
            ValueError: as :meth:`from_file`.
        """
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: not valid JSON: {exc}") from None
        loaded = _parse_list(document, source)
        loaded.warn_if_stale()
        return loaded

    @property
    def logs(self) -> tuple[CTLog, ...]:
        """Every log of the list, in file order."""
        return self._logs

    def get(self, log_id: bytes) -> Optional[CTLog]:
        """The log with this (binary) log ID, ``None`` if the list has none."""
        return self._by_id.get(log_id)

    def __iter__(self) -> Iterator[CTLog]:
        return iter(self._logs)

    def __len__(self) -> int:
        return len(self._logs)

    def age(self, now: Optional[datetime.datetime] = None) -> datetime.timedelta:
        """How old the list is at *now* (default: the current time)."""
        return (now or _utcnow()) - self.timestamp

    def is_stale(self, now: Optional[datetime.datetime] = None) -> bool:
        """Whether the list is older than 70 days at *now*."""
        return self.age(now) > STALE_AFTER

    def warn_if_stale(self, now: Optional[datetime.datetime] = None) -> bool:
        """Log a warning, once per list, if it is stale; return whether it is."""
        if not self.is_stale(now):
            return False
        with self._lock:
            if self._stale_warned:
                return True
            self._stale_warned = True
        logger.warning(
            "the CT log list %s is %d days old (log_list_timestamp %s): logs "
            "added or retired since are unknown to it; it is still enforced. "
            "Ship a fresh copy (see pinws's Certificate Transparency docs)",
            self.source,
            self.age(now).days,
            _format_time(self.timestamp),
        )
        return True

    def __repr__(self) -> str:
        return (
            f"<CTLogList {self.source!r}: {len(self._logs)} logs, "
            f"{_format_time(self.timestamp)}>"
        )


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _format_time(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Where:
    """Names the place in the file that a problem is at."""

    def __init__(self, source: str, log: str = "", field: str = "") -> None:
        self.source = source
        self.log = log
        self.field = field

    def at(self, field: str) -> _Where:
        """The place of *field* below this one."""
        path = f"{self.field}.{field}" if self.field else field
        return _Where(self.source, self.log, path)

    def error(self, problem: str) -> ValueError:
        parts = [self.source]
        if self.log:
            parts.append(self.log)
        if self.field:
            parts.append(self.field)
        return ValueError(f"{': '.join(parts)}: {problem}")


def _require(mapping: Mapping[str, Any], key: str, kind: type, where: _Where) -> Any:
    if key not in mapping:
        raise where.at(key).error("missing")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise where.at(key).error(
            f"must be a {kind.__name__}, not {type(value).__name__}"
        )
    return value


def _object(value: Any, where: _Where) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise where.error(f"must be an object, not {type(value).__name__}")
    return value


def parse_time(text: Any, where: _Where) -> datetime.datetime:
    """An RFC 3339 date-time string as an aware UTC datetime.

    Raises:
        ValueError: naming *where*.
    """
    if not isinstance(text, str):
        raise where.error(f"must be an RFC 3339 date-time string, not {text!r}")
    match = _RFC3339.match(text)
    if match is None:
        raise where.error(f"{text!r} is not an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = (match.group(7) or "0")[:6].ljust(6, "0")
    try:
        moment = datetime.datetime(
            year, month, day, hour, minute, min(second, 59), int(fraction)
        )
    except ValueError as exc:
        raise where.error(f"{text!r} is not a valid date-time: {exc}") from None
    if match.group(9):
        offset = datetime.timedelta(
            hours=int(match.group(10)), minutes=int(match.group(11))
        )
        moment -= offset if match.group(9) == "+" else -offset
    return moment.replace(tzinfo=datetime.timezone.utc)


def _parse_list(document: Any, source: str) -> CTLogList:
    top = _Where(source)
    document = _object(document, top)
    timestamp = parse_time(
        _require(document, "log_list_timestamp", str, top),
        top.at("log_list_timestamp"),
    )
    version = document.get("version", "")
    if not isinstance(version, str):
        raise top.at("version").error("must be a string")
    operators = _require(document, "operators", list, top)
    logs: list[CTLog] = []
    seen: dict[bytes, str] = {}
    for number, entry in enumerate(operators):
        where = _Where(source, f"operators[{number}]")
        operator = _object(entry, where)
        name = _require(operator, "name", str, where)
        if not name.strip():
            raise where.at("name").error("must not be empty")
        where = _Where(source, f"operator {name!r}")
        entries = list(_require(operator, "logs", list, where))
        # Static-CT-API ("tiled") logs issue the same SCTs (RFC 6962 v1).
        tiled = operator.get("tiled_logs", [])
        if not isinstance(tiled, list):
            raise where.at("tiled_logs").error("must be a list")
        for kind, items in (("logs", entries), ("tiled_logs", tiled)):
            for index, item in enumerate(items):
                log = _parse_log(item, name, _Where(source, f"{name}: {kind}[{index}]"))
                if log.log_id in seen:
                    raise _Where(source, f"log {log.description!r}").error(
                        f"the same log ID as {seen[log.log_id]!r}"
                    )
                seen[log.log_id] = log.description
                logs.append(log)
    return CTLogList(tuple(logs), timestamp=timestamp, version=version, source=source)


def _parse_log(item: Any, operator: str, where: _Where) -> CTLog:
    entry = _object(item, where)
    description = _require(entry, "description", str, where)
    where = _Where(where.source, f"log {description!r} ({where.log})")
    key_der = _base64(_require(entry, "key", str, where), where.at("key"))
    log_id = _base64(_require(entry, "log_id", str, where), where.at("log_id"))
    key = _load_key(key_der, where.at("key"))
    if hashlib.sha256(key_der).digest() != log_id:
        raise where.at("log_id").error(
            "is not the SHA-256 of the log's key (a corrupted or tampered list)"
        )
    state, since = _parse_state(_require(entry, "state", Mapping, where), where)
    interval = None
    if "temporal_interval" in entry:
        span = _object(entry["temporal_interval"], where.at("temporal_interval"))
        start = parse_time(
            _require(span, "start_inclusive", str, where.at("temporal_interval")),
            where.at("temporal_interval.start_inclusive"),
        )
        end = parse_time(
            _require(span, "end_exclusive", str, where.at("temporal_interval")),
            where.at("temporal_interval.end_exclusive"),
        )
        if not start < end:
            raise where.at("temporal_interval").error("ends before it starts")
        interval = (start, end)
    return CTLog(description, operator, log_id, key, state, since, interval)


def _base64(text: str, where: _Where) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise where.error("is not valid base64") from None


def _load_key(der: bytes, where: _Where) -> LogKey:
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError) as exc:
        raise where.error(f"is not a DER public key: {exc}") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise where.error(
                f"is an ECDSA key on {key.curve.name}; RFC 6962 logs use P-256"
            )
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise where.error(f"is a {key.key_size}-bit RSA key; at least 2048")
        return key
    raise where.error(
        f"is a {type(key).__name__}; CT logs sign with ECDSA P-256 or RSA"
    )


def _parse_state(
    state: Mapping[str, Any], where: _Where
) -> tuple[str, datetime.datetime]:
    names = list(state)
    if len(names) != 1:
        raise where.at("state").error(
            f"must hold exactly one of {', '.join(LOG_STATES)}; it holds "
            f"{', '.join(names) or 'none'}"
        )
    name = names[0]
    if name not in LOG_STATES:
        raise where.at("state").error(
            f"unknown state {name!r} (known: {', '.join(LOG_STATES)})"
        )
    detail = _object(state[name], where.at(f"state.{name}"))
    since = parse_time(
        _require(detail, "timestamp", str, where.at(f"state.{name}")),
        where.at(f"state.{name}.timestamp"),
    )
    return name, since
