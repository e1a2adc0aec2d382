"""PinStore: remembered pins per host, in a JSON file shared safely.

The file (schema version 1)::

    {
      "format": "pinws-pin-store",
      "version": 1,
      "hosts": {
        "printer.local": {
          "pins": ["sha256/..."],
          "source": "tofu",                  # "tofu", "hpkp" or "manual"
          "first_seen": "2026-12-01T08:30:00Z",
          "expires": null,                   # or a UTC time like first_seen
          "include_subdomains": false,
          "report_only": false,
          "report_uri": null                 # or an https:// URL (HPKP)
        }
      }
    }

Host names are keys in the form every pin lookup uses (lower case, IDNA
A-labels, no trailing dot; IP addresses compressed). Every change is made
under an exclusive advisory lock on ``<file>.lock``, on a fresh read of the
file, and written to a temporary file in the same directory that is
flushed, fsynced and renamed over the store (then the directory is
fsynced): two writers never lose each other's entries, and a crash leaves
the old file or the new one, never half of one. A file that exists but is
not a store is reported with a ``ValueError`` naming it and never written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Optional, TypeVar, Union

from .._errors import InvalidPinError
from .._pins.hostnames import as_ip_address, normalize_hostname
from .._pins.pin import Pin, parse_pins
from .lock import exclusive_lock
from .throttle import Throttle

__all__ = [
    "FORMAT",
    "HPKP",
    "MANUAL",
    "SOURCES",
    "TOFU",
    "VERSION",
    "PinStore",
    "PinStoreEntry",
    "entry_as_dict",
    "utc_now",
]

logger = logging.getLogger("pinws.store")

FORMAT = "pinws-pin-store"
VERSION = 1
TOFU = "tofu"
HPKP = "hpkp"
MANUAL = "manual"
SOURCES = (TOFU, HPKP, MANUAL)

_ENTRY_KEYS = frozenset(
    {
        "pins",
        "source",
        "first_seen",
        "expires",
        "include_subdomains",
        "report_only",
        "report_uri",
    }
)
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

T = TypeVar("T")
Hosts = dict[str, "PinStoreEntry"]


def utc_now() -> datetime.datetime:
    """Now, in UTC, to the second (what the file records)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


@dataclasses.dataclass(frozen=True)
class PinStoreEntry:
    """The pins a :class:`PinStore` remembers for one host.

    Attributes:
        host: the host name (lower case, no trailing dot) or IP address.
        pins: canonical pin strings, ``sha256/<base64>``.
        source: how they were learnt: ``"tofu"`` (the key seen on first
            use), ``"hpkp"`` (a ``Public-Key-Pins`` header) or ``"manual"``
            (:meth:`PinStore.add`, ``pinws store add``).
        first_seen: when the entry was made (an aware UTC datetime).
        expires: when it stops applying (aware UTC), ``None`` for never.
        include_subdomains: whether it also applies to names below *host*.
        report_only: whether a mismatch is only reported, not refused.
        report_uri: where failure reports go (from an HPKP header), if
            anywhere.

    .. versionadded:: 0.2
    """

    host: str
    pins: tuple[str, ...]
    source: str
    first_seen: datetime.datetime
    expires: Optional[datetime.datetime] = None
    include_subdomains: bool = False
    report_only: bool = False
    report_uri: Optional[str] = None

    def is_expired(self, now: Optional[datetime.datetime] = None) -> bool:
        """Whether the entry has expired at *now* (default: the current time)."""
        return self.expires is not None and (now or utc_now()) >= self.expires

    def covers(self, host: str) -> bool:
        """Whether the entry applies to the *normalised* name *host*."""
        if host == self.host:
            return True
        return (
            self.include_subdomains
            and as_ip_address(host) is None
            and host.endswith("." + self.host)
        )


class PinStore:
    """Pins remembered per host in a JSON file: trust on first use, HPKP.

    Give one to :class:`PinnedWebSocketApp` or :func:`create_connection` as
    ``pin_store=``. Pins given as ``pins=`` always win; the store applies to
    the hosts they do not cover.

    Args:
        path: the JSON file (``~`` is expanded). It need not exist yet; it
            is created, with its directory, on the first change.
        trust_on_first_use: connect once to a host that has no pins anywhere
            and remember its key (SSH's model); without it such a host is
            refused with :class:`UnpinnedHostError` (unless the ``pins=``
            policy allows unpinned hosts).

    Raises:
        ValueError: *path* exists but is not a pin store (not JSON, another
            format, a newer version, a malformed entry); the message names
            the file, which is left untouched. Also raised for a
            *trust_on_first_use* that is not a ``bool``.
        OSError: the file exists but cannot be read.

    Safe to share between threads and processes: every change is made under
    an exclusive file lock, on a fresh read of the file, and written
    atomically (temporary file, fsync, rename), so concurrent writers lose
    no entry and a crash never leaves half a file.

    .. versionadded:: 0.2
    """

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        *,
        trust_on_first_use: bool = False,
    ) -> None:
        if not isinstance(trust_on_first_use, bool):
            raise ValueError(
                f"trust_on_first_use must be True or False, not {trust_on_first_use!r}"
            )
        self.path = os.path.abspath(os.path.expanduser(os.fspath(path)))
        self.trust_on_first_use = trust_on_first_use
        self._lock = threading.Lock()
        self._cache: tuple[Optional[tuple[int, ...]], Hosts] = (None, {})
        # A seam for the crash test: runs between the fsync and the rename.
        self._before_replace: Callable[[str], None] = _nothing
        # Repeated warnings (a server's invalid header on every connection)
        # are logged once an hour per store, however many clients share it.
        self._throttle = Throttle()
        self._read()  # a file that is not a store is reported now

    def __repr__(self) -> str:
        return (
            f"PinStore({self.path!r}, trust_on_first_use={self.trust_on_first_use!r})"
        )

    # -- reading -----------------------------------------------------------------

    def get(self, host: str) -> Optional[PinStoreEntry]:
        """The entry stored for exactly *host*, expired or not; ``None`` if none.

        Raises:
            ValueError: *host* is not a host name, or the file has become
                something other than a store.
        """
        return self._read().get(_host_key(host))

    def entries(self) -> list[PinStoreEntry]:
        """Every entry, sorted by host name.

        Raises:
            ValueError: the file has become something other than a store.
        """
        hosts = self._read()
        return [hosts[name] for name in sorted(hosts)]

    def _applicable_entry(
        self, host: str, now: Optional[datetime.datetime] = None
    ) -> Optional[PinStoreEntry]:
        """The unexpired entry that applies to *host*, or ``None``.

        The host's own entry first; else the nearest parent entry that
        includes subdomains. IP addresses have only their own entry.
        """
        return _applicable(self._read(), _host_key(host), now or utc_now())

    def _read(self) -> Hosts:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return {}
        identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        with self._lock:
            cached_identity, hosts = self._cache
        if cached_identity == identity:
            return hosts
        hosts = _load(self.path)
        with self._lock:
            self._cache = (identity, hosts)
        return hosts

    # -- changing ------------------------------------------------------------------

    def add(
        self,
        host: str,
        pins: Union[str, Pin, Iterable[Union[str, Pin]]],
        *,
        expires: Optional[Union[datetime.datetime, datetime.date]] = None,
        include_subdomains: bool = False,
    ) -> PinStoreEntry:
        """Remember *pins* for *host* (source ``"manual"``), replacing its entry.

        Args:
            host: a host name or IP address (any port).
            pins: one pin or several, in any form :meth:`Pin.parse` accepts.
            expires: an aware datetime, or a date (the entry then applies
                through that day, UTC); ``None`` for no expiry.
            include_subdomains: apply to names below *host* too.

        Returns:
            the new entry.

        Raises:
            InvalidPinError: a pin is malformed, or none is given.
            ValueError: *host*, *expires* or *include_subdomains* is bad.
        """
        if not isinstance(include_subdomains, bool):
            raise ValueError(
                f"include_subdomains must be True or False, not {include_subdomains!r}"
            )
        name = _host_key(host)
        if include_subdomains and as_ip_address(name) is not None:
            raise ValueError(f"include_subdomains makes no sense for the IP {name}")
        entry = PinStoreEntry(
            host=name,
            pins=tuple(str(pin) for pin in parse_pins(pins)),
            source=MANUAL,
            first_seen=utc_now(),
            expires=_as_expiry(expires),
            include_subdomains=include_subdomains,
        )
        self._update(lambda hosts: hosts.__setitem__(name, entry))
        logger.info("pin store %s: added %s for %s", self.path, entry.pins, name)
        return entry

    def forget(self, host: str) -> bool:
        """Forget *host*'s entry; return whether there was one.

        A host remembered on first use is learnt again, on its next
        connection, as its key is then.

        Raises:
            ValueError: *host* is not a host name, or the file is not a store.
        """
        name = _host_key(host)
        if not os.path.exists(self.path):
            return False  # nothing to forget, and no file or lock to create
        removed = self._update(lambda hosts: hosts.pop(name, None) is not None)
        if removed:
            logger.info("pin store %s: forgot %s", self.path, name)
        return removed

    def _learn_first_use(self, host: str, pin: str) -> PinStoreEntry:
        """Remember *pin* as *host*'s key, unless an entry appeared meanwhile.

        Returns:
            the entry that applies to *host* now: the new one, or the one
            another thread or process stored first (which the caller must
            check the connection against).
        """
        name = _host_key(host)

        def learn(hosts: Hosts) -> PinStoreEntry:
            now = utc_now()
            existing = _applicable(hosts, name, now)
            if existing is not None:
                return existing
            entry = PinStoreEntry(name, (pin,), TOFU, now)
            hosts[name] = entry
            return entry

        entry = self._update(learn)
        if entry.source == TOFU and entry.pins == (pin,):
            logger.info(
                "pin store %s: trusting %s on first use: %s", self.path, name, pin
            )
        return entry

    def _put(self, entry: PinStoreEntry, *, replaces: Iterable[str]) -> bool:
        """Store *entry* unless the host has an entry of a source not in *replaces*.

        Returns:
            whether it was stored.
        """
        allowed = frozenset(replaces)

        def put(hosts: Hosts) -> bool:
            current = hosts.get(entry.host)
            if current is not None and current.source not in allowed:
                return False
            hosts[entry.host] = entry
            return True

        return self._update(put)

    def _remove_if(self, host: str, predicate: Callable[[PinStoreEntry], bool]) -> bool:
        """Remove *host*'s entry if *predicate* holds for it; return whether it did."""
        name = _host_key(host)
        if not os.path.exists(self.path):
            return False

        def remove(hosts: Hosts) -> bool:
            current = hosts.get(name)
            if current is None or not predicate(current):
                return False
            del hosts[name]
            return True

        return self._update(remove)

    def _update(self, change: Callable[[Hosts], T]) -> T:
        """Apply *change* to a fresh read of the file under the lock; save it.

        The file is written only when *change* altered the entries.
        """
        directory = os.path.dirname(self.path)
        os.makedirs(directory, exist_ok=True)
        with self._lock, exclusive_lock(self.path + ".lock"):
            hosts = _load(self.path)
            before = dict(hosts)
            result = change(hosts)
            if hosts != before:
                self._write(hosts)
            self._cache = (None, {})
        return result

    def _write(self, hosts: Mapping[str, PinStoreEntry]) -> None:
        data = _dump(hosts)
        directory = os.path.dirname(self.path)
        fd, temporary = tempfile.mkstemp(
            prefix=".pinws-store-", suffix=".tmp", dir=directory
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileNotFoundError):
                # Keep the permissions someone gave the file.
                os.chmod(temporary, stat.S_IMODE(os.stat(self.path).st_mode))
            self._before_replace(temporary)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _fsync_directory(directory)


def _nothing(path: str) -> None:
    return None


def _fsync_directory(directory: str) -> None:
    # The rename is durable once the directory is; Windows cannot open one.
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _host_key(host: str) -> str:
    if not isinstance(host, str):
        raise ValueError(f"a host name must be a string, not {type(host).__name__}")
    try:
        return normalize_hostname(host)
    except ValueError as exc:
        raise ValueError(f"bad host name {host!r}: {exc}") from None


def _applicable(
    hosts: Mapping[str, PinStoreEntry], name: str, now: datetime.datetime
) -> Optional[PinStoreEntry]:
    own = hosts.get(name)
    if own is not None and not own.is_expired(now):
        return own
    if as_ip_address(name) is not None:
        return None
    labels = name.split(".")
    for start in range(1, len(labels)):
        parent = hosts.get(".".join(labels[start:]))
        if (
            parent is not None
            and parent.include_subdomains
            and not parent.is_expired(now)
        ):
            return parent
    return None


def _as_expiry(
    value: Optional[Union[datetime.datetime, datetime.date]],
) -> Optional[datetime.datetime]:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                "expires must be an aware datetime (with a time zone), or a date"
            )
        return value.astimezone(datetime.timezone.utc).replace(microsecond=0)
    if isinstance(value, datetime.date):
        # Through that day, as PinSet's expires: until the next midnight UTC.
        return datetime.datetime.combine(
            value + datetime.timedelta(days=1), datetime.time(), datetime.timezone.utc
        )
    raise ValueError(f"expires must be a datetime, a date or None, not {value!r}")


# -- the file format ----------------------------------------------------------------


class _NotAStore(Exception):
    """What is wrong with a file that is not a pin store."""


def _load(path: str) -> Hosts:
    """Read the store at *path*; ``{}`` if it does not exist or is empty.

    Raises:
        ValueError: the file is not a pin store (the message names it).
        OSError: it cannot be read.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return {}
    if not data.strip():
        # An empty file (`touch`, mkstemp) holds nothing to lose.
        return {}
    try:
        return _parse(data)
    except _NotAStore as exc:
        raise ValueError(
            f"{path}: not a pinws pin store ({exc}); it was left unchanged -- "
            "give another path, or move the file away"
        ) from None


def _parse(data: bytes) -> Hosts:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _NotAStore(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _NotAStore(f'no "format": "{FORMAT}" member')
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise _NotAStore('"version" is not a number')
    if version != VERSION:
        raise _NotAStore(
            f"version {version}; this pinws reads version {VERSION}"
            + (" (the file was written by a newer pinws)" if version > VERSION else "")
        )
    unknown = set(document) - {"format", "version", "hosts"}
    if unknown:
        raise _NotAStore(f"unknown members {sorted(unknown)}")
    raw_hosts = document.get("hosts")
    if not isinstance(raw_hosts, dict):
        raise _NotAStore('"hosts" is not an object')
    return {name: _parse_entry(name, raw) for name, raw in raw_hosts.items()}


def _parse_entry(name: str, raw: Any) -> PinStoreEntry:
    where = f"hosts.{name}"
    if not isinstance(raw, dict):
        raise _NotAStore(f"{where} is not an object")
    unknown = set(raw) - _ENTRY_KEYS
    missing = {"pins", "source", "first_seen"} - set(raw)
    if unknown or missing:
        raise _NotAStore(
            f"{where}: "
            + "; ".join(
                part
                for part in (
                    f"unknown keys {sorted(unknown)}" if unknown else "",
                    f"missing keys {sorted(missing)}" if missing else "",
                )
                if part
            )
        )
    try:
        key = normalize_hostname(name)
    except ValueError as exc:
        raise _NotAStore(f"{where}: {exc}") from None
    if key != name:
        raise _NotAStore(f"{where}: host names are stored as {key!r}")
    pins = raw["pins"]
    if not isinstance(pins, list) or not all(isinstance(p, str) for p in pins):
        raise _NotAStore(f"{where}.pins is not a list of strings")
    try:
        canonical = tuple(str(pin) for pin in parse_pins(pins))
    except InvalidPinError as exc:
        raise _NotAStore(f"{where}.pins: {exc}") from None
    source = raw["source"]
    if source not in SOURCES:
        raise _NotAStore(f"{where}.source is {source!r}, not one of {SOURCES}")
    first_seen = _parse_time(raw["first_seen"], f"{where}.first_seen")
    expires_raw = raw.get("expires")
    expires = (
        None if expires_raw is None else _parse_time(expires_raw, f"{where}.expires")
    )
    flags = {}
    for flag in ("include_subdomains", "report_only"):
        value = raw.get(flag, False)
        if not isinstance(value, bool):
            raise _NotAStore(f"{where}.{flag} is not true or false")
        flags[flag] = value
    report_uri = raw.get("report_uri")
    if report_uri is not None and not isinstance(report_uri, str):
        raise _NotAStore(f"{where}.report_uri is not a string")
    return PinStoreEntry(
        host=name,
        pins=canonical,
        source=source,
        first_seen=first_seen,
        expires=expires,
        report_uri=report_uri,
        **flags,
    )


def _parse_time(value: Any, where: str) -> datetime.datetime:
    if not isinstance(value, str):
        raise _NotAStore(f"{where} is not a string")
    try:
        moment = datetime.datetime.strptime(value, _TIME_FORMAT)
    except ValueError:
        raise _NotAStore(f"{where} is {value!r}, not YYYY-MM-DDTHH:MM:SSZ") from None
    return moment.replace(tzinfo=datetime.timezone.utc)


def _format_time(moment: Optional[datetime.datetime]) -> Optional[str]:
    if moment is None:
        return None
    return moment.astimezone(datetime.timezone.utc).strftime(_TIME_FORMAT)


def entry_as_dict(entry: PinStoreEntry) -> dict[str, Any]:
    """*entry* as the file (and ``pinws store list --json``) writes it."""
    return {
        "pins": list(entry.pins),
        "source": entry.source,
        "first_seen": _format_time(entry.first_seen),
        "expires": _format_time(entry.expires),
        "include_subdomains": entry.include_subdomains,
        "report_only": entry.report_only,
        "report_uri": entry.report_uri,
    }


def _dump(hosts: Mapping[str, PinStoreEntry]) -> bytes:
    document = {
        "format": FORMAT,
        "version": VERSION,
        "hosts": {name: entry_as_dict(hosts[name]) for name in sorted(hosts)},
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")
