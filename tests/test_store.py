"""PinStore, the file: its API, its schema, and its safety across processes.

Concurrency and crashes are real: four spawned processes write at once, and
a writer is SIGKILLed between its fsync and its rename.
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import pinws
from helpers.pki import unrelated_pin
from helpers.timing import WAIT
from pinws._store.lookup import FIRST_USE, STATIC, STORE, UNPINNED, decide

UTC = datetime.timezone.utc
PIN_A = unrelated_pin()
PIN_B = unrelated_pin()


def test_a_new_store_is_empty_and_creates_nothing_until_a_change(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sub" / "pins.json"
    store = pinws.PinStore(path)
    assert store.entries() == []
    assert store.get("example.com") is None
    assert not path.exists()
    assert store.forget("example.com") is False
    assert not path.parent.exists()


def test_add_get_entries_forget(tmp_path: Path) -> None:
    store = pinws.PinStore(tmp_path / "pins.json")
    before = datetime.datetime.now(UTC).replace(microsecond=0)
    entry = store.add("Printer.Local.", [PIN_A, PIN_B.replace("sha256/", "sha256//")])
    assert entry.host == "printer.local"
    assert entry.pins == (PIN_A, PIN_B)
    assert entry.source == "manual"
    assert entry.first_seen.tzinfo is not None
    assert entry.first_seen >= before
    assert entry.expires is None
    assert not entry.include_subdomains
    assert not entry.report_only
    assert store.get("PRINTER.local") == entry
    # Another instance (another process, as far as the file goes) sees it.
    assert pinws.PinStore(tmp_path / "pins.json").entries() == [entry]
    store.add("a.example", PIN_A)
    assert [e.host for e in store.entries()] == ["a.example", "printer.local"]
    assert store.forget("printer.local.") is True
    assert store.get("printer.local") is None
    assert [e.host for e in store.entries()] == ["a.example"]


def test_expiry_as_a_date_covers_that_whole_day(tmp_path: Path) -> None:
    store = pinws.PinStore(tmp_path / "pins.json")
    entry = store.add("a.example", PIN_A, expires=datetime.date(2030, 1, 31))
    assert entry.expires == datetime.datetime(2030, 2, 1, tzinfo=UTC)
    assert not entry.is_expired(datetime.datetime(2030, 1, 31, 23, 59, tzinfo=UTC))
    assert entry.is_expired(datetime.datetime(2030, 2, 1, tzinfo=UTC))
    aware = datetime.datetime(
        2030, 1, 1, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert store.add("b.example", PIN_A, expires=aware).expires == datetime.datetime(
        2030, 1, 1, 10, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="aware"):
        store.add("c.example", PIN_A, expires=datetime.datetime(2030, 1, 1))


@pytest.mark.parametrize("flag", ["false", 0, 1, None])
def test_trust_on_first_use_takes_a_real_bool(tmp_path: Path, flag: Any) -> None:
    with pytest.raises(ValueError, match="trust_on_first_use"):
        pinws.PinStore(tmp_path / "pins.json", trust_on_first_use=flag)


def test_bad_input_to_add(tmp_path: Path) -> None:
    store = pinws.PinStore(tmp_path / "pins.json")
    with pytest.raises(pinws.InvalidPinError):
        store.add("a.example", ["sha1/AAECAwQFBgcICQoLDA0ODxAREhM="])
    with pytest.raises(pinws.InvalidPinError):
        store.add("a.example", [])
    with pytest.raises(ValueError, match="host"):
        store.add("", PIN_A)
    with pytest.raises(ValueError, match="include_subdomains"):
        store.add("a.example", PIN_A, include_subdomains="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="IP"):
        store.add("192.0.2.1", PIN_A, include_subdomains=True)
    assert store.entries() == []


def test_the_file_is_the_documented_schema(tmp_path: Path) -> None:
    path = tmp_path / "pins.json"
    store = pinws.PinStore(path)
    store.add("a.example", [PIN_A, PIN_B], expires=datetime.date(2030, 1, 1))
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == "pinws-pin-store"
    assert document["version"] == 1
    assert document["hosts"]["a.example"] == {
        "pins": [PIN_A, PIN_B],
        "source": "manual",
        "first_seen": store.get("a.example").first_seen.strftime(  # type: ignore[union-attr]
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "expires": "2030-01-02T00:00:00Z",
        "include_subdomains": False,
        "report_only": False,
        "report_uri": None,
    }


def test_an_empty_file_is_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "pins.json"
    path.write_bytes(b"")
    store = pinws.PinStore(path)
    assert store.entries() == []
    store.add("a.example", PIN_A)
    assert store.get("a.example") is not None


def _valid_document() -> dict[str, Any]:
    return {
        "format": "pinws-pin-store",
        "version": 1,
        "hosts": {
            "a.example": {
                "pins": [PIN_A],
                "source": "tofu",
                "first_seen": "2026-01-01T00:00:00Z",
            }
        },
    }


def _with(**changes: Any) -> bytes:
    document = _valid_document()
    entry = document["hosts"]["a.example"]
    for key, value in changes.items():
        if key.startswith("top_"):
            document[key[4:]] = value
        elif value is _DROP:
            del entry[key]
        else:
            entry[key] = value
    return json.dumps(document).encode()


_DROP = object()

NOT_STORES = {
    "not json": b"this is not JSON {",
    "binary": bytes(range(256)),
    "json list": b"[1, 2, 3]",
    "another format": b'{"format": "something-else", "version": 1, "hosts": {}}',
    "newer version": _with(top_version=2),
    "version as text": _with(top_version="1"),
    "unknown top key": _with(top_extra=True),
    "hosts not an object": _with(top_hosts=[]),
    "bad pin": _with(pins=["sha256/too-short"]),
    "pins not a list": _with(pins=PIN_A),
    "unknown source": _with(source="dns"),
    "bad time": _with(first_seen="yesterday"),
    "missing first_seen": _with(first_seen=_DROP),
    "unknown entry key": _with(colour="blue"),
    "flag not a bool": _with(report_only="false"),
    "host not normalised": json.dumps(
        {
            "format": "pinws-pin-store",
            "version": 1,
            "hosts": {
                "A.Example": {
                    "pins": [PIN_A],
                    "source": "tofu",
                    "first_seen": "2026-01-01T00:00:00Z",
                }
            },
        }
    ).encode(),
}


@pytest.mark.parametrize("content", NOT_STORES.values(), ids=NOT_STORES.keys())
def test_a_file_that_is_not_a_store_is_reported_and_left_byte_for_byte(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "pins.json"
    path.write_bytes(content)
    stat_before = os.stat(path)
    with pytest.raises(ValueError, match="not a pinws pin store") as info:
        pinws.PinStore(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == content
    assert os.stat(path).st_mtime_ns == stat_before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pins.json"]


def test_a_store_that_becomes_corrupt_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "pins.json"
    store = pinws.PinStore(path)
    store.add("a.example", PIN_A)
    path.write_bytes(b"{ half a file")
    with pytest.raises(ValueError, match=str(path)):
        store.add("b.example", PIN_B)
    with pytest.raises(ValueError, match=str(path)):
        store.forget("a.example")
    with pytest.raises(ValueError, match=str(path)):
        store.entries()
    assert path.read_bytes() == b"{ half a file"


# -- precedence (a pure function) ----------------------------------------------------


def _entry(host: str, **options: Any) -> pinws.PinStoreEntry:
    return pinws.PinStoreEntry(
        host, (PIN_A,), "tofu", datetime.datetime(2026, 1, 1, tzinfo=UTC), **options
    )


def test_precedence_static_pins_then_store_then_first_use_then_policy() -> None:
    static = pinws.PinPolicy({"static.example": [PIN_A, PIN_B]})
    entry = _entry("stored.example")
    # pins= covers the host: the store entry is not even consulted.
    assert (
        decide("static.example", static, entry, trust_on_first_use=True).kind == STATIC
    )
    assert (
        decide("stored.example", static, entry, trust_on_first_use=True).kind == STORE
    )
    assert (
        decide("new.example", static, None, trust_on_first_use=True).kind == FIRST_USE
    )
    with pytest.raises(pinws.UnpinnedHostError):
        decide("new.example", static, None, trust_on_first_use=False)
    allowing = pinws.PinPolicy({}, allow_unpinned=True)
    assert decide("new.example", allowing, None, trust_on_first_use=False).kind == (
        UNPINNED
    )
    # First use beats allow_unpinned: the user asked to remember keys.
    assert decide("new.example", allowing, None, trust_on_first_use=True).kind == (
        FIRST_USE
    )
    # A list of pins covers every host: the store never applies.
    everywhere = pinws.PinPolicy.for_all_hosts(pinws.PinSet([PIN_A, PIN_B]))
    assert decide(
        "stored.example", everywhere, entry, trust_on_first_use=True
    ).kind == (STATIC)


def test_store_entries_apply_to_subdomains_only_when_told_and_until_they_expire(
    tmp_path: Path,
) -> None:
    store = pinws.PinStore(tmp_path / "pins.json")
    store.add("example.com", PIN_A, include_subdomains=True)
    store.add("other.com", PIN_A)
    store.add("old.com", PIN_A, expires=datetime.date(2020, 1, 1))
    assert store._applicable_entry("a.b.example.com").host == "example.com"  # type: ignore[union-attr]
    assert store._applicable_entry("example.com").host == "example.com"  # type: ignore[union-attr]
    assert store._applicable_entry("a.other.com") is None
    assert store._applicable_entry("old.com") is None
    store.add("a.example.com", PIN_B)
    assert store._applicable_entry("a.example.com").pins == (PIN_B,)  # type: ignore[union-attr]


# -- across threads and processes ------------------------------------------------------

WRITERS = 4
ENTRIES_EACH = 20


def _add_many(path: str, writer: int, start: Any) -> None:
    store = pinws.PinStore(path)
    start.wait(WAIT)
    for number in range(ENTRIES_EACH):
        store.add(f"host{number}.writer{writer}.example", PIN_A)


def test_four_processes_adding_at_once_lose_no_entry(tmp_path: Path) -> None:
    path = str(tmp_path / "pins.json")
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_add_many, args=(path, writer, start))
        for writer in range(WRITERS)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(6 * WAIT)
        assert worker.exitcode == 0
    hosts = {entry.host for entry in pinws.PinStore(path).entries()}
    assert len(hosts) == WRITERS * ENTRIES_EACH
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pins.json", "pins.json.lock"]


def test_threads_sharing_one_store_or_several_lose_no_entry(tmp_path: Path) -> None:
    path = tmp_path / "pins.json"
    shared = pinws.PinStore(path)
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def work(writer: int) -> None:
        store = shared if writer % 2 else pinws.PinStore(path)
        try:
            start.wait(WAIT)
            for number in range(ENTRIES_EACH):
                store.add(f"host{number}.thread{writer}.example", PIN_A)
        except BaseException as exc:  # pragma: no cover - the failure report
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(6 * WAIT)
    assert errors == []
    assert len(shared.entries()) == WRITERS * ENTRIES_EACH


def _write_and_hang(path: str, ready: Any) -> None:
    store = pinws.PinStore(path)

    def hang(temporary: str) -> None:
        # The new content is written and fsynced; the rename has not happened.
        ready.set()
        threading.Event().wait()

    store._before_replace = hang
    store.add("new.example", PIN_B)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_writer_killed_between_write_and_rename_leaves_the_old_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "pins.json"
    pinws.PinStore(path).add("old.example", PIN_A)
    old = path.read_bytes()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    writer = context.Process(target=_write_and_hang, args=(str(path), ready))
    writer.start()
    try:
        assert ready.wait(6 * WAIT), "the writer never reached the rename"
        # The temporary file holds the complete new store at this point.
        leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert len(leftovers) == 1
        assert b"new.example" in leftovers[0].read_bytes()
    finally:
        os.kill(writer.pid, signal.SIGKILL)  # type: ignore[arg-type]
        writer.join(WAIT)
    assert writer.exitcode == -signal.SIGKILL
    assert path.read_bytes() == old
    store = pinws.PinStore(path)
    assert [e.host for e in store.entries()] == ["old.example"]
    # The dead writer's lock went with it: the next change goes through.
    store.add("next.example", PIN_B)
    assert [e.host for e in store.entries()] == ["next.example", "old.example"]
