"""Public-Key-Pins headers on the 101 response, end to end: a `websockets`
server adds them with process_response; the client remembers them in its
pin store, or ignores them, as RFC 7469 and the contract say."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pinws
from helpers.attacker import refused_before_a_byte
from helpers.collector import ReportCollector, join_report_threads
from helpers.devices import Device
from helpers.pki import Chain, trust_bundle, unrelated_pin
from helpers.servers import WebSocketServer, running
from helpers.timing import WAIT

ALLOW = pinws.PinPolicy({}, allow_unpinned=True)
BACKUP = unrelated_pin()


def value_of(pin: str) -> str:
    return f'pin-sha256="{pinws.Pin.parse(pin).base64}"'


class HeaderServer(WebSocketServer):
    """An echo server whose 101 responses carry ``self.extra`` headers."""

    def __init__(self, context: Any, host: str = "127.0.0.1") -> None:
        self.extra: dict[str, str] = {}

        def process_response(connection: Any, request: Any, response: Any) -> None:
            for name, value in self.extra.items():
                response.headers[name] = value

        super().__init__(context, host=host, process_response=process_response)


@pytest.fixture
def server(chain: Chain) -> Iterator[HeaderServer]:
    with running(HeaderServer(chain.server_context())) as running_server:
        yield running_server


@pytest.fixture
def store(tmp_path: Path) -> pinws.PinStore:
    return pinws.PinStore(tmp_path / "pins.json")


def connect(url: str, **kwargs: Any) -> None:
    ws = pinws.create_connection(url, timeout=WAIT, **kwargs)
    try:
        ws.send("ping")
        assert ws.recv() == "ping"
    finally:
        ws.close()


def good_header(chain: Chain, max_age: int = 600) -> str:
    return f"{value_of(chain.intermediate_pin)}; {value_of(BACKUP)}; max-age={max_age}"


def test_a_valid_header_is_remembered_and_then_enforced(
    tmp_path: Path,
    chain: Chain,
    rogue_chain: Chain,
    server: HeaderServer,
    store: pinws.PinStore,
) -> None:
    server.extra["Public-Key-Pins"] = good_header(chain)
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    connect(server.url(), pins=ALLOW, pin_store=store, ca_certs=bundle)
    entry = store.get("localhost")
    assert entry is not None
    assert entry.source == "hpkp"
    assert entry.pins == (chain.intermediate_pin, BACKUP)
    assert entry.expires is not None
    assert before + datetime.timedelta(seconds=600) <= entry.expires
    assert entry.expires <= entry.first_seen + datetime.timedelta(seconds=600)
    assert not entry.include_subdomains
    assert not entry.report_only
    # The same declaration again changes nothing in the file.
    written = Path(store.path).read_bytes()
    connect(server.url(), pins=ALLOW, pin_store=store, ca_certs=bundle)
    assert Path(store.path).read_bytes() == written
    # An interceptor with a root the client trusts is now refused, in the
    # handshake, before a byte.
    error, _ = refused_before_a_byte(
        rogue_chain.server_context(),
        pinws.StoredPinMismatchError,
        pins=ALLOW,
        pin_store=store,
        ca_certs=bundle,
    )
    assert "declared in a Public-Key-Pins header" in str(error)


def test_max_age_is_capped_at_sixty_days(
    chain: Chain, server: HeaderServer, store: pinws.PinStore
) -> None:
    server.extra["Public-Key-Pins"] = good_header(chain, max_age=10 * 365 * 86400)
    connect(server.url(), pins=ALLOW, pin_store=store, ca_certs=chain.ca_file)
    entry = store.get("localhost")
    assert entry is not None
    assert entry.expires is not None
    assert entry.expires - entry.first_seen == datetime.timedelta(days=60)


def test_include_subdomains_and_report_uri_are_remembered(
    chain: Chain, server: HeaderServer, store: pinws.PinStore
) -> None:
    server.extra["Public-Key-Pins"] = (
        f'{good_header(chain)}; includeSubDomains; report-uri="https://r.example/hpkp"'
    )
    connect(server.url(), pins=ALLOW, pin_store=store, ca_certs=chain.ca_file)
    entry = store.get("localhost")
    assert entry is not None
    assert entry.include_subdomains
    assert entry.report_uri == "https://r.example/hpkp"


def test_max_age_zero_removes_the_header_entry_and_nothing_else(
    chain: Chain, server: HeaderServer, store: pinws.PinStore
) -> None:
    options = {"pins": ALLOW, "pin_store": store, "ca_certs": chain.ca_file}
    server.extra["Public-Key-Pins"] = good_header(chain)
    connect(server.url(), **options)
    assert store.get("localhost") is not None
    server.extra["Public-Key-Pins"] = good_header(chain, max_age=0)
    connect(server.url(), **options)
    assert store.get("localhost") is None
    # Pins added by hand are neither removed nor replaced by a header.
    manual = store.add("localhost", [chain.root_pin, BACKUP])
    connect(server.url(), **options)
    server.extra["Public-Key-Pins"] = good_header(chain)
    connect(server.url(), **options)
    assert store.get("localhost") == manual


def test_a_report_only_header_is_remembered_as_report_only_and_reports(
    tmp_path: Path, chain: Chain, rogue_chain: Chain, server: HeaderServer
) -> None:
    store = pinws.PinStore(tmp_path / "pins.json")
    with running(ReportCollector(chain.root)) as collector:
        server.extra["Public-Key-Pins-Report-Only"] = (
            f'{good_header(chain)}; report-uri="{collector.url()}"'
        )
        bundle = trust_bundle(tmp_path, chain, rogue_chain)
        reports: list[pinws.PinFailureReport] = []
        options = {
            "pins": ALLOW,
            "pin_store": store,
            "ca_certs": bundle,
            "on_pin_failure": reports.append,
        }
        connect(server.url(), **options)
        entry = store.get("localhost")
        assert entry is not None
        assert entry.report_only
        assert entry.source == "hpkp"
        # A chain that does not match: reported, not refused.
        with running(WebSocketServer(rogue_chain.server_context())) as other:
            connect(other.url(), **options)
        assert len(reports) == 1
        assert not reports[0].enforced
        assert reports[0].report_only
        assert collector.wait_for(1)
        join_report_threads()
        assert collector.reports[0]["hostname"] == "localhost"
        assert collector.reports[0]["noted-hostname"] == "localhost"
        # A -Report-Only removal lifts it.
        server.extra["Public-Key-Pins-Report-Only"] = good_header(chain, max_age=0)
        connect(server.url(), **options)
        assert store.get("localhost") is None


def test_the_enforced_header_wins_over_report_only(
    chain: Chain, server: HeaderServer, store: pinws.PinStore
) -> None:
    server.extra["Public-Key-Pins"] = good_header(chain)
    server.extra["Public-Key-Pins-Report-Only"] = (
        f"{value_of(chain.root_pin)}; {value_of(unrelated_pin())}; max-age=60"
    )
    connect(server.url(), pins=ALLOW, pin_store=store, ca_certs=chain.ca_file)
    entry = store.get("localhost")
    assert entry is not None
    assert not entry.report_only
    assert entry.pins[0] == pinws.Pin.parse(chain.intermediate_pin).__str__()


def invalid_headers(chain: Chain) -> dict[str, str]:
    intermediate, leaf = value_of(chain.intermediate_pin), value_of(chain.leaf_pin)
    return {
        "no max-age": f"{intermediate}; {value_of(BACKUP)}",
        "one pin": f"{intermediate}; max-age=600",
        "no backup": f"{intermediate}; {leaf}; max-age=600",
        "no pin of the chain": f"{value_of(BACKUP)}; {value_of(unrelated_pin())}; "
        "max-age=600",
        "max-age twice": f"{good_header(chain)}; max-age=5",
        "bad pin": f'pin-sha256="AAAA"; {value_of(BACKUP)}; max-age=600',
        "bad max-age": f"{intermediate}; {value_of(BACKUP)}; max-age=ten",
        "http report-uri": f'{good_header(chain)}; report-uri="http://r.example/"',
        "garbage": "you are pinned now",
    }


INVALID_NAMES = [
    "no max-age",
    "one pin",
    "no backup",
    "no pin of the chain",
    "max-age twice",
    "bad pin",
    "bad max-age",
    "http report-uri",
    "garbage",
]


@pytest.mark.parametrize("name", INVALID_NAMES)
@pytest.mark.parametrize("header", ["Public-Key-Pins", "Public-Key-Pins-Report-Only"])
def test_an_invalid_header_changes_nothing_and_is_logged(
    chain: Chain,
    server: HeaderServer,
    store: pinws.PinStore,
    caplog: pytest.LogCaptureFixture,
    name: str,
    header: str,
) -> None:
    options = {"pins": ALLOW, "pin_store": store, "ca_certs": chain.ca_file}
    server.extra[header] = good_header(chain)
    connect(server.url(), **options)
    before = Path(store.path).read_bytes()
    server.extra[header] = invalid_headers(chain)[name]
    caplog.clear()
    connect(server.url(), **options)
    assert Path(store.path).read_bytes() == before
    assert any(
        record.name == "pinws.store" and record.levelno == logging.WARNING
        for record in caplog.records
    ), caplog.text


def test_pin_only_connections_never_remember_headers(tmp_path: Path) -> None:
    # pin_only verifies a key, not a chain: a header there proves nothing.
    store = pinws.PinStore(tmp_path / "pins.json", trust_on_first_use=True)
    device = Device(tmp_path)
    with running(HeaderServer(device.context())) as device_server:
        device_server.extra["Public-Key-Pins"] = (
            f"{value_of(device.pin)}; {value_of(BACKUP)}; max-age=600"
        )
        for _ in range(2):
            connect(device_server.url(), pins=None, pin_only=True, pin_store=store)
    entry = store.get("localhost")
    assert entry is not None
    assert entry.source == "tofu"
    assert entry.pins == (device.pin,)


def test_headers_are_ignored_without_a_verified_chain_or_where_pins_cover(
    tmp_path: Path, chain: Chain, rogue_chain: Chain, store: pinws.PinStore
) -> None:
    # debug_ca: an inspecting proxy's chain, accepted without pins.
    with running(HeaderServer(rogue_chain.server_context())) as proxied:
        proxied.extra["Public-Key-Pins"] = good_header(rogue_chain)
        connect(
            proxied.url(),
            pins=ALLOW,
            pin_store=store,
            ca_certs=chain.ca_file,
            debug_ca=rogue_chain.ca_file,
        )
    with running(HeaderServer(chain.server_context())) as server:
        server.extra["Public-Key-Pins"] = good_header(chain)
        # pins= covers the host: pins= always win.
        connect(
            server.url(),
            pins=[chain.root_pin, BACKUP],
            pin_store=store,
            ca_certs=chain.ca_file,
        )
        connect(
            server.url(),
            pins=pinws.PinPolicy({"localhost": [chain.root_pin, BACKUP]}),
            pin_store=store,
            ca_certs=chain.ca_file,
        )
        # An IP address is never pinned by header (RFC 7469 section 2.3.1).
        connect(
            server.url("127.0.0.1"), pins=ALLOW, pin_store=store, ca_certs=chain.ca_file
        )
    assert store.entries() == []
    assert not Path(store.path).exists()


def test_first_use_then_a_header_on_the_same_connection(
    tmp_path: Path, chain: Chain, server: HeaderServer
) -> None:
    store = pinws.PinStore(tmp_path / "pins.json", trust_on_first_use=True)
    server.extra["Public-Key-Pins"] = good_header(chain)
    connect(server.url(), pins=None, pin_store=store, ca_certs=chain.ca_file)
    entry = store.get("localhost")
    assert entry is not None
    # The declaration (with its backup) replaces the key seen on first use.
    assert entry.source == "hpkp"
    assert entry.pins == (chain.intermediate_pin, BACKUP)


def test_the_same_invalid_header_is_warned_about_once_per_store(
    chain: Chain,
    server: HeaderServer,
    store: pinws.PinStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.extra["Public-Key-Pins"] = f"{value_of(chain.intermediate_pin)}; max-age=9"
    for _ in range(3):
        connect(server.url(), pins=ALLOW, pin_store=store, ca_certs=chain.ca_file)
    ignored = [r for r in caplog.records if "ignoring the Public-Key" in r.message]
    assert [r.levelno for r in ignored] == [
        logging.WARNING,
        logging.DEBUG,
        logging.DEBUG,
    ]


def test_the_app_remembers_headers_too(
    chain: Chain, server: HeaderServer, store: pinws.PinStore
) -> None:
    # The seam: PinnedWebSocket.connect, which run_forever calls on every
    # (re)connection, hands the 101's headers to the store.
    import threading

    server.extra["Public-Key-Pins"] = good_header(chain)
    opened = threading.Event()
    app = pinws.PinnedWebSocketApp(
        server.url(),
        pins=ALLOW,
        pin_store=store,
        ca_certs=chain.ca_file,
        on_open=lambda app: opened.set(),
    )
    app.start(reconnect=0)
    try:
        assert opened.wait(WAIT)
    finally:
        app.close()
        assert app.join(WAIT)
    entry = store.get("localhost")
    assert entry is not None
    assert entry.source == "hpkp"


def test_a_report_only_entry_that_does_not_match_is_logged_without_drama(
    tmp_path: Path,
    chain: Chain,
    rogue_chain: Chain,
    store: pinws.PinStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    store._put(
        pinws.PinStoreEntry(
            "localhost",
            (chain.intermediate_pin, BACKUP),
            "hpkp",
            datetime.datetime.now(datetime.timezone.utc),
            report_only=True,
        ),
        replaces=(),
    )
    with running(WebSocketServer(rogue_chain.server_context())) as other:
        connect(other.url(), pins=ALLOW, pin_store=store, ca_certs=bundle)
    assert "let through (report-only pin set)" in caplog.text
    assert "Nothing was sent" not in caplog.text


def by_name(host: str, server: Any, **kwargs: Any) -> None:
    """Connect to *server* as *host* (a name that does not resolve)."""
    import socket

    sock = socket.create_connection((server.host, server.port), timeout=WAIT)
    try:
        ws = pinws.create_connection(
            f"wss://{host}:{server.port}/", timeout=WAIT, socket=sock, **kwargs
        )
    except BaseException:
        sock.close()
        raise
    ws.close()


@pytest.mark.parametrize("include_subdomains", [True, False])
def test_include_subdomains_is_enforced_below_the_host(
    tmp_path: Path,
    chain: Chain,
    rogue_chain: Chain,
    store: pinws.PinStore,
    include_subdomains: bool,
) -> None:
    names = ("example.test", "api.example.test")
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    options = {"pins": ALLOW, "pin_store": store, "ca_certs": bundle}
    leaf = chain.intermediate.issue_cert(*names)
    with running(HeaderServer(chain.server_context(leaf=leaf))) as server:
        server.extra["Public-Key-Pins"] = good_header(chain) + (
            "; includeSubDomains" if include_subdomains else ""
        )
        by_name("example.test", server, **options)
    rogue_leaf = rogue_chain.intermediate.issue_cert(*names)
    with running(WebSocketServer(rogue_chain.server_context(leaf=rogue_leaf))) as other:
        if not include_subdomains:
            by_name("api.example.test", other, **options)
            return
        with pytest.raises(pinws.StoredPinMismatchError) as info:
            by_name("api.example.test", other, **options)
        assert other.requests == []
    assert info.value.hostname == "api.example.test"
    assert info.value.stored_host == "example.test"
    assert "pinws store forget example.test --store" in str(info.value)
