"""TLS session resumption, pinned: a shorter handshake that never skips the pins.

A resumed handshake carries no certificate, so the verify callback -- and with
it the pin check -- does not run. pinws resumes only sessions it stored from
handshakes whose verdict accepted, for the same host, port and trust store,
and judges the chain stored with the session against the pins in force before
offering it and again after the server resumed it, inside ``TLSClient.wrap``:
before a byte of the WebSocket Upgrade is written.

The servers are the standard library's, which issue session tickets (TLS 1.2
and 1.3) and report ``session_reused`` on their side of each connection.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest
from cryptography import x509
from OpenSSL import SSL
from websockets.sync.server import ServerConnection

import pinws
from helpers.ct import PASSING, CTWorld, Scenario, log_list
from helpers.ct import server_context as ct_server_context
from helpers.pki import Chain, make_chain, trust_bundle, unrelated_pin
from helpers.servers import WebSocketServer, stop_accepting
from helpers.timing import WAIT
from pinws._errors import ChainCertificate
from pinws._store.lookup import HostPins
from pinws._tls import context as context_module
from pinws._tls import sessions as sessions_module
from pinws._tls import verify as verify_module
from pinws._tls.config import TLSConfig
from pinws._tls.context import TLSClient
from pinws._tls.contexts import build_context
from pinws._tls.pinned import PinnedSocket
from pinws._tls.sessions import SESSIONS, SessionCache

pytestmark = pytest.mark.timeout(60)

GREETING = b"hi"


@pytest.fixture(autouse=True)
def _empty_session_cache() -> Iterator[None]:
    pinws.clear_session_cache()
    yield
    pinws.clear_session_cache()


class ResumingServer:
    """A raw TLS server with session tickets, recording per connection whether
    it resumed a session and every application byte the client sent.

    It greets each client (so the client reads, and with it TLS 1.3's
    session tickets), then reads until the client closes.
    """

    def __init__(self, context: ssl.SSLContext, port: int = 0) -> None:
        self.context = context
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port = self._listener.getsockname()[1]
        # None: the handshake failed (the client refused a full handshake's
        # chain; a resumed handshake completes before the client judges).
        self.reused: list[Optional[bool]] = []
        self.received: list[bytes] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            raw.settimeout(WAIT)
            reused: Optional[bool] = None
            received = b""
            try:
                with self.context.wrap_socket(raw, server_side=True) as tls:
                    reused = tls.session_reused
                    tls.sendall(GREETING)
                    while True:
                        data = tls.recv(4096)
                        if not data:
                            break
                        received += data
            except (OSError, ssl.SSLError):
                pass
            finally:
                raw.close()
            with self._changed:
                self.reused.append(reused)
                self.received.append(received)
                self._changed.notify_all()

    def wait_for(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.reused) >= count, WAIT)

    def close(self) -> None:
        stop_accepting(self._listener, self._thread)


@pytest.fixture
def server(chain: Chain) -> Iterator[ResumingServer]:
    running = ResumingServer(chain.server_context())
    try:
        yield running
    finally:
        running.close()


def _client(chain: Chain, *pins: str, **options: Any) -> TLSClient:
    pin_set = pinws.PinSet(list(pins) or [chain.leaf_pin, unrelated_pin()])
    options.setdefault("ca_certs", chain.ca_file)
    return TLSClient(
        TLSConfig.create(pinws.PinPolicy.for_all_hosts(pin_set), **options)
    )


def _wrap(client: TLSClient, port: int, host: str = "localhost") -> PinnedSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return client.wrap(raw, host, port)


def _connect(client: TLSClient, port: int, host: str = "localhost") -> PinnedSocket:
    """A pinned connection that reads the greeting, keeps its session, closes."""
    pinned = _wrap(client, port, host)
    try:
        assert pinned.recv(len(GREETING)) == GREETING
        pinned.keep_session()
    finally:
        pinned.close()
    return pinned


# -- 1. resumption happens, with the same outcome -----------------------------


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_a_second_connection_resumes_and_keeps_the_verified_chain(
    chain: Chain, version: ssl.TLSVersion, caplog: pytest.LogCaptureFixture
) -> None:
    server = ResumingServer(chain.server_context(minimum=version, maximum=version))
    client = _client(chain)
    try:
        first = _connect(client, server.port)
        second = _connect(client, server.port)
        third = _connect(client, server.port)
        assert server.wait_for(3)
    finally:
        server.close()
    assert server.reused == [False, True, True]
    assert not first.session_reused
    assert second.session_reused
    assert second.outcome.resumed
    assert third.session_reused
    for pinned in (second, third):
        assert pinned.verified_chain == first.verified_chain
        assert [c.pin for c in pinned.verified_chain] == chain.pins
        assert str(pinned.matched_pin) == chain.leaf_pin
        assert pinned.outcome.verdict == first.outcome.verdict
    assert any(
        r.name == "pinws.tls" and "resumed the TLS session" in r.getMessage()
        for r in caplog.records
    )


class ReuseRecorder:
    """process_request for a WebSocketServer: records, per Upgrade request,
    whether its TLS connection resumed a session."""

    def __init__(self) -> None:
        self.reused: list[bool] = []

    def __call__(self, connection: ServerConnection, request: Any) -> None:
        tls = connection.socket
        assert isinstance(tls, ssl.SSLSocket)
        self.reused.append(tls.session_reused)


@pytest.fixture
def ws_server(chain: Chain) -> Iterator[tuple[WebSocketServer, ReuseRecorder]]:
    recorder = ReuseRecorder()
    running = WebSocketServer(chain.server_context(), process_request=recorder)
    try:
        yield running, recorder
    finally:
        running.close()


def _roundtrip(url: str, **kwargs: Any) -> PinnedSocket:
    """A round trip with create_connection; the connection's PinnedSocket."""
    ws = pinws.create_connection(url, timeout=WAIT, **kwargs)
    try:
        ws.send("ping")
        assert ws.recv() == "ping"
        assert isinstance(ws.sock, PinnedSocket)
        return ws.sock
    finally:
        ws.close()


def test_create_connection_resumes_with_the_same_pinned_outcome(
    chain: Chain, ws_server: tuple[WebSocketServer, ReuseRecorder]
) -> None:
    server, recorder = ws_server
    pins = [chain.leaf_pin, unrelated_pin()]
    sockets = []
    for _ in range(3):
        ws = pinws.create_connection(
            server.url(), pins=pins, ca_certs=chain.ca_file, timeout=WAIT
        )
        try:
            ws.send("ping")
            assert ws.recv() == "ping"
            assert isinstance(ws.sock, PinnedSocket)
            sockets.append(ws.sock)
            assert str(ws.matched_pin) == chain.leaf_pin
            assert [c.pin for c in ws.verified_chain] == chain.pins
        finally:
            ws.close()
    assert recorder.reused == [False, True, True]
    assert [s.session_reused for s in sockets] == [False, True, True]


# -- 2. changed pins refuse the stored session --------------------------------


def test_new_pins_that_do_not_match_refuse_the_stored_session(
    chain: Chain, server: ResumingServer
) -> None:
    _connect(_client(chain), server.port)
    assert len(SESSIONS) == 1
    moved_on = _client(chain, unrelated_pin(), unrelated_pin())
    with pytest.raises(pinws.PinMismatchError):
        _connect(moved_on, server.port)
    assert server.wait_for(2)
    # Not offered: the server ran a full handshake, whose chain the client
    # refused inside it.
    assert server.reused == [False, None]
    assert len(SESSIONS) == 0


def test_pins_changed_after_the_offer_refuse_the_resumed_session_in_wrap(
    chain: Chain, server: ResumingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connect(_client(chain), server.port)
    # The race: the pins change between the check before the offer and the
    # end of the handshake. Here the check before the offer is skipped.
    monkeypatch.setattr(
        verify_module.HandshakeVerifier, "would_accept", lambda self, certs: True
    )
    reports: list[pinws.PinFailureReport] = []
    moved_on = _client(
        chain, unrelated_pin(), unrelated_pin(), on_pin_failure=reports.append
    )
    with pytest.raises(pinws.PinMismatchError) as raised:
        _wrap(moved_on, server.port)
    assert server.wait_for(2)
    assert server.reused == [False, True]  # resumed, then refused in wrap
    assert server.received[1] == b""
    assert len(SESSIONS) == 0
    assert [c.pin for c in raised.value.chain] == chain.pins
    assert len(reports) == 1  # as a full handshake's mismatch reports


def test_pins_swapped_during_the_handshake_are_the_ones_judged(
    chain: Chain, server: ResumingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(chain)
    _connect(client, server.port)
    before = client.remembered.for_host("localhost")
    after = HostPins(
        "static",
        pinws.PinPolicy.for_all_hosts(
            pinws.PinSet([unrelated_pin(), unrelated_pin()])
        ).match("localhost"),
    )
    answers = iter([before, after])
    monkeypatch.setattr(client.remembered, "for_host", lambda host: next(answers))
    with pytest.raises(pinws.PinMismatchError):
        _wrap(client, server.port)
    assert server.wait_for(2)
    assert server.reused == [False, True]
    assert server.received[1] == b""
    assert len(SESSIONS) == 0


# -- 3. a server that changes its key -----------------------------------------


def test_a_server_with_a_new_key_and_ticket_keys_is_refused_in_full(
    chain: Chain, server: ResumingServer
) -> None:
    client = _client(chain)
    _connect(client, server.port)
    # A new context: a new key pair, and new ticket keys (the old session
    # cannot be resumed).
    server.context = chain.server_context(
        leaf=chain.intermediate.issue_cert("localhost")
    )
    with pytest.raises(pinws.PinMismatchError):
        _connect(client, server.port)
    assert server.wait_for(2)
    assert server.reused == [False, None]  # a full handshake, refused in it
    assert len(SESSIONS) == 0


def test_a_server_that_keeps_its_ticket_keys_resumes_only_the_old_chain(
    chain: Chain, server: ResumingServer
) -> None:
    """Sound: the session's keys were authenticated by the old, pinned key.

    Resuming proves the peer holds the session's secret, which only the
    server of the full handshake (or whoever has its ticket keys) can have;
    the outcome is the old chain's, and the new certificate has to pass the
    pins at the next full handshake: after the cache lifetime, a
    ``clear_session_cache()``, or once the server stops resuming.
    """
    client = _client(chain)
    first = _connect(client, server.port)
    # Same context: same ticket keys, another key pair from now on.
    chain.intermediate.issue_cert("localhost").configure_cert(server.context)
    resumed = _connect(client, server.port)
    assert resumed.session_reused
    assert resumed.verified_chain == first.verified_chain
    pinws.clear_session_cache()
    with pytest.raises(pinws.PinMismatchError):
        _connect(client, server.port)
    assert server.wait_for(3)
    assert server.reused == [False, True, None]  # None: refused in full


# -- 4. a session is never offered to another server --------------------------


@pytest.mark.parametrize("other", ["port", "trust store", "host name"])
def test_a_session_is_never_offered_to_another_server(
    tmp_path: Path, chain: Chain, other: str
) -> None:
    # One context for both servers: the same ticket keys, so the second
    # server *would* resume the first one's session, were it offered.
    context = chain.server_context()
    first = ResumingServer(context)
    second = ResumingServer(context) if other == "port" else first
    try:
        _connect(_client(chain), first.port)
        if other == "trust store":
            client = _client(chain, ca_certs=trust_bundle(tmp_path, chain))
        else:
            client = _client(chain)
        host = "127.0.0.1" if other == "host name" else "localhost"
        again = _connect(client, second.port, host)
        assert not again.session_reused
        # The same target does resume it.
        assert _connect(_client(chain), first.port).session_reused
        assert first.wait_for(3 if second is first else 2)
    finally:
        first.close()
        if second is not first:
            second.close()
    if second is first:
        assert first.reused == [False, False, True]
    else:
        assert second.reused == [False]
        assert first.reused == [False, True]


def _approve_without_accepting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the verify callback pass what OpenSSL passed, accepting no leaf."""

    def approve(
        self: verify_module.HandshakeVerifier,
        cert: object,
        code: int,
        depth: int,
        ok: int,
    ) -> bool:
        return bool(ok)

    monkeypatch.setattr(verify_module.HandshakeVerifier, "on_certificate", approve)


def test_a_handshake_the_verify_callback_did_not_accept_is_refused(
    chain: Chain, server: ResumingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a resumed session we did not offer would: the handshake completes,
    # but the callback never accepted a leaf.
    _approve_without_accepting(monkeypatch)
    with pytest.raises(pinws.TLSHandshakeError, match="without certificate"):
        _wrap(_client(chain), server.port)
    assert server.wait_for(1)


def test_an_unaccepted_full_handshake_is_refused_even_with_a_session_offered(
    chain: Chain, server: ResumingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(chain)
    _connect(client, server.port)
    server.context = chain.server_context()  # new ticket keys: a full handshake

    _approve_without_accepting(monkeypatch)
    with pytest.raises(pinws.TLSHandshakeError, match="without certificate"):
        _wrap(client, server.port)
    assert server.wait_for(2)
    assert server.reused == [False, False]
    assert len(SESSIONS) == 0


class _Peer:
    """A finished handshake's connection, as far as the resumption check asks."""

    def __init__(self, peer: Optional[Any]) -> None:
        self._peer = peer

    def get_peer_certificate(self, *, as_cryptography: bool) -> Optional[Any]:
        return self._peer


def test_no_certificate_is_a_resumption_only_with_the_stored_leaf(
    chain: Chain, rogue_chain: Chain
) -> None:
    stored = _cached(chain)
    verifier = verify_module.HandshakeVerifier(
        hostname="localhost", port=443, pin_set=None
    )

    def resumed(peer: Optional[Any]) -> bool:
        connection: Any = _Peer(peer)
        return context_module._resumed(verifier, connection, stored)

    # An anonymous cipher suite: no certificate at all.
    assert not resumed(None)
    # Another server's certificate: not the session offered.
    assert not resumed(_leaf(rogue_chain))
    assert resumed(_leaf(chain))
    verifier.certificates_seen = 1  # OpenSSL called back: a full handshake
    assert not resumed(_leaf(chain))


# -- 5. nothing is sent before the verdict ------------------------------------


def test_nothing_is_sent_when_a_resumed_session_is_refused(
    chain: Chain, server: ResumingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _connect(_client(chain), server.port)
    monkeypatch.setattr(
        verify_module.HandshakeVerifier, "would_accept", lambda self, certs: True
    )
    with pytest.raises(pinws.PinMismatchError):
        pinws.create_connection(
            f"wss://localhost:{server.port}/",
            pins=[unrelated_pin(), unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
            header={"Authorization": "Bearer secret-token"},
        )
    assert server.wait_for(2)
    assert server.reused == [False, True]
    assert server.received[1] == b""  # no Upgrade request, no token


# -- 6. lifetime and bound ----------------------------------------------------


def test_an_entry_past_the_lifetime_is_not_offered(
    chain: Chain, server: ResumingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(chain)
    _connect(client, server.port)
    later = time.time() + sessions_module.SESSION_LIFETIME + 1
    monkeypatch.setattr(SESSIONS, "clock", lambda: later)
    assert not _connect(client, server.port).session_reused
    assert server.wait_for(2)
    assert server.reused == [False, False]


def test_an_entry_never_outlives_its_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        minutes=10
    )
    chain = make_chain(tmp_path, not_after=not_after)
    server = ResumingServer(chain.server_context())
    try:
        client = _client(chain)
        _connect(client, server.port)
        # Within the lifetime cap, past the leaf's notAfter.
        past_leaf = not_after.timestamp() + 1
        monkeypatch.setattr(SESSIONS, "clock", lambda: past_leaf)
        assert not _connect(client, server.port).session_reused
        assert server.wait_for(2)
    finally:
        server.close()
    assert server.reused == [False, False]


def _leaf(chain: Chain) -> x509.Certificate:
    return x509.load_pem_x509_certificate(chain.leaf.cert_chain_pems[0].bytes())


def _chain_entries(chain: Chain) -> tuple[ChainCertificate, ...]:
    return (ChainCertificate(0, "CN=leaf", chain.leaf_pin, _leaf(chain)),)


def _cached(chain: Chain) -> sessions_module.CachedSession:
    entry = SessionCache().put(
        ("localhost", 443, "k"), SSL.Session(), _chain_entries(chain)
    )
    assert entry is not None
    return entry


def test_the_cache_evicts_the_least_recently_used_entry(chain: Chain) -> None:
    cache = SessionCache(2)
    entries = _chain_entries(chain)
    for name in ("a", "b"):
        cache.put((name, 443, "k"), SSL.Session(), entries)
    assert cache.get(("a", 443, "k")) is not None  # "a" is now the most recent
    cache.put(("c", 443, "k"), SSL.Session(), entries)
    assert len(cache) == 2
    assert ("b", 443, "k") not in cache
    assert cache.get(("a", 443, "k")) is not None
    assert cache.get(("c", 443, "k")) is not None


def test_the_process_wide_cache_is_bounded() -> None:
    assert SESSIONS.size == sessions_module.SESSION_CACHE_SIZE == 256
    assert SESSIONS.lifetime == sessions_module.SESSION_LIFETIME == 3600.0


def test_discarding_spares_a_newer_entry(chain: Chain) -> None:
    cache = SessionCache()
    key = ("localhost", 443, "k")
    old = cache.put(key, SSL.Session(), _chain_entries(chain))
    new = cache.put(key, SSL.Session(), _chain_entries(chain))
    assert not cache.discard(key, old)
    assert cache.get(key) is new


# -- 7. never with pin_only, debug_ca or resume_sessions=False ----------------


@pytest.mark.parametrize("mode", ["pin_only", "debug_ca", "resume_sessions=False"])
def test_these_configurations_never_resume(
    chain: Chain, server: ResumingServer, mode: str
) -> None:
    options: dict[str, Any] = {
        "pin_only": {"pin_only": True, "ca_certs": None},
        "debug_ca": {"debug_ca": chain.ca_file},
        "resume_sessions=False": {"resume_sessions": False},
    }[mode]
    client = _client(chain, **options)
    for _ in range(3):
        _connect(client, server.port)
    assert server.wait_for(3)
    assert server.reused == [False, False, False]
    assert len(SESSIONS) == 0


@pytest.mark.parametrize(
    ("options", "resumable"),
    [
        ({}, True),
        ({"pin_only": True, "ca_certs": None}, False),
        ({"debug_ca": "ca"}, False),
    ],
)
def test_only_contexts_that_may_resume_ask_for_tickets(
    chain: Chain, options: dict[str, Any], resumable: bool
) -> None:
    if options.get("debug_ca"):
        options = {"debug_ca": chain.ca_file}
    # A fresh context (a shared one may not be changed once used).
    spec = _client(chain, **options).config.context_spec()
    context = build_context(spec)
    mode = context.get_session_cache_mode()
    no_ticket = bool(context.set_options(0) & SSL.OP_NO_TICKET)
    if resumable:
        # Tickets kept on the connection, none in OpenSSL's own store.
        assert mode == SSL.SESS_CACHE_CLIENT | SSL.SESS_CACHE_NO_INTERNAL
        assert not no_ticket
    else:
        assert mode == SSL.SESS_CACHE_OFF
        assert no_ticket


def test_create_connection_with_resume_sessions_false_never_resumes(
    chain: Chain, ws_server: tuple[WebSocketServer, ReuseRecorder]
) -> None:
    server, recorder = ws_server
    for _ in range(2):
        _roundtrip(
            server.url(),
            pins=chain.pins,
            ca_certs=chain.ca_file,
            resume_sessions=False,
        )
    assert recorder.reused == [False, False]


@pytest.mark.parametrize("value", ["false", 0, None])
def test_resume_sessions_must_be_a_bool(chain: Chain, value: object) -> None:
    pins = chain.pins
    with pytest.raises(ValueError, match="resume_sessions"):
        pinws.create_connection("wss://localhost:1/", pins=pins, resume_sessions=value)
    with pytest.raises(ValueError, match="resume_sessions"):
        pinws.PinnedWebSocketApp("wss://localhost/", pins=pins, resume_sessions=value)
    with pytest.raises(ValueError, match="resume_sessions"):
        TLSConfig.create(
            pinws.PinPolicy.for_all_hosts(pinws.PinSet(pins)), resume_sessions=value
        )


def test_fetch_verified_chain_reads_the_live_chain_never_a_stored_one(
    chain: Chain, server: ResumingServer
) -> None:
    _connect(_client(chain), server.port)
    fetched = pinws.fetch_verified_chain(
        "localhost", server.port, ca_certs=chain.ca_file, timeout=WAIT
    )
    assert [c.pin for c in fetched.chain] == chain.pins
    assert server.wait_for(2)
    assert server.reused == [False, False]


def test_clearing_the_cache_makes_the_next_handshake_a_full_one(
    chain: Chain, server: ResumingServer
) -> None:
    client = _client(chain)
    _connect(client, server.port)
    pinws.clear_session_cache()
    assert len(SESSIONS) == 0
    assert not _connect(client, server.port).session_reused
    assert _connect(client, server.port).session_reused
    assert server.wait_for(3)
    assert server.reused == [False, False, True]


# -- Certificate Transparency is judged again ---------------------------------


def _ct_policy(scenario: Scenario, mode: str) -> pinws.CTPolicy:
    logs = pinws.CTLogList.from_json(json.dumps(log_list(scenario.logs)))
    return pinws.CTPolicy(logs, mode=mode)


def test_an_enforced_ct_policy_is_checked_before_a_session_is_offered(
    tmp_path: Path, ct_world: CTWorld, ct_scenarios: dict[str, Scenario]
) -> None:
    scenario = ct_scenarios["no_scts"]
    recorder = ReuseRecorder()
    root = ct_world.authority.write_root(tmp_path)
    context = ct_server_context(scenario.issued, tmp_path)
    server = WebSocketServer(context, process_request=recorder)
    try:
        _roundtrip(
            server.url(),
            pins=None,
            ct=_ct_policy(scenario, "report-only"),
            ca_certs=root,
        )
        with pytest.raises(pinws.CTPolicyError):
            _roundtrip(
                server.url(),
                pins=None,
                ct=_ct_policy(scenario, "enforce"),
                ca_certs=root,
            )
    finally:
        server.close()
    assert recorder.reused == [False]  # the second never reached the Upgrade
    assert len(SESSIONS) == 0


def test_a_resumed_session_carries_the_ct_verdict(
    tmp_path: Path, ct_world: CTWorld, ct_scenarios: dict[str, Scenario]
) -> None:
    scenario = ct_scenarios[PASSING[0]]
    recorder = ReuseRecorder()
    root = ct_world.authority.write_root(tmp_path)
    server = WebSocketServer(
        ct_server_context(scenario.issued, tmp_path), process_request=recorder
    )
    policy = _ct_policy(scenario, "enforce")
    try:
        first, second = (
            _roundtrip(server.url(), pins=None, ct=policy, ca_certs=root)
            for _ in range(2)
        )
    finally:
        server.close()
    assert recorder.reused == [False, True]
    assert second.session_reused
    assert second.outcome.ct_verdict is not None
    assert second.outcome.ct_verdict.passed
    assert first.outcome.ct_verdict == second.outcome.ct_verdict


# -- 8. the app's reconnects resume too ---------------------------------------


def test_the_apps_reconnect_resumes_the_session(chain: Chain) -> None:
    recorder = ReuseRecorder()

    def close_at_once(connection: ServerConnection) -> None:
        connection.close()

    server = WebSocketServer(
        chain.server_context(), handler=close_at_once, process_request=recorder
    )
    opened = threading.Semaphore(0)
    app = pinws.PinnedWebSocketApp(
        server.url(),
        pins=chain.pins,
        ca_certs=chain.ca_file,
        on_open=lambda app: opened.release(),
    )
    try:
        app.start(reconnect=0.01)
        for _ in range(3):
            assert opened.acquire(timeout=WAIT)
        app.close()
        assert app.join(WAIT)
    finally:
        server.close()
    assert recorder.reused[:3] == [False, True, True]


# -- a server that does not resume ----------------------------------------------


def test_a_server_that_sends_no_tickets_is_not_offered_sessions_for_a_while(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = chain.server_context()
    context.options |= ssl.OP_NO_TICKET
    context.num_tickets = 0
    server = ResumingServer(context)
    now = [1_000_000.0]
    monkeypatch.setattr(SESSIONS, "clock", lambda: now[0])
    offered: list[object] = []
    set_session = SSL.Connection.set_session

    def recording(connection: SSL.Connection, session: SSL.Session) -> None:
        offered.append(session)
        set_session(connection, session)

    monkeypatch.setattr(SSL.Connection, "set_session", recording)
    try:
        client = _client(chain)
        _connect(client, server.port)  # keeps a session that cannot resume
        assert not _connect(client, server.port).session_reused
        assert len(offered) == 1  # offered once, not resumed: declined
        for _ in range(3):
            assert not _connect(client, server.port).session_reused
        assert len(offered) == 1  # nothing kept, nothing offered meanwhile
        now[0] += sessions_module.DECLINED_BACKOFF + 1
        _connect(client, server.port)  # kept again after the back-off
        _connect(client, server.port)
        assert len(offered) == 2
        assert server.wait_for(7)
        assert server.reused == [False] * 7
    finally:
        server.close()


def test_a_server_that_resumes_keeps_being_offered_sessions(
    chain: Chain, server: ResumingServer
) -> None:
    client = _client(chain)
    results = [_connect(client, server.port).session_reused for _ in range(4)]
    assert results == [False, True, True, True]
