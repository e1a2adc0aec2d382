"""Trust on first use, against real loopback servers: self-signed devices
(pin_only) and CA-issued chains, and the precedence of pins= over the store."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

import pinws
from helpers.attacker import refused_before_a_byte
from helpers.devices import Device
from helpers.pki import Chain, make_chain, trust_bundle, unrelated_pin
from helpers.servers import EavesdropServer, WebSocketServer, roundtrip, running
from helpers.timing import WAIT
from pinws._store.lookup import RememberedPins


@pytest.fixture
def tofu_store(tmp_path: Path) -> pinws.PinStore:
    return pinws.PinStore(tmp_path / "known_pins.json", trust_on_first_use=True)


@pytest.fixture
def device(tmp_path: Path) -> Device:
    return Device(tmp_path)


@pytest.fixture
def device_server(device: Device) -> Iterator[WebSocketServer]:
    with running(WebSocketServer(device.context())) as server:
        yield server


@pytest.fixture
def device_options(tofu_store: pinws.PinStore) -> dict[str, Any]:
    """How an app connects to a device it knows no pins for."""
    return {"pins": None, "pin_store": tofu_store, "pin_only": True}


def test_a_device_is_trusted_on_first_use_then_held_to_its_key(
    tofu_store: pinws.PinStore,
    device: Device,
    device_server: WebSocketServer,
    device_options: dict[str, Any],
) -> None:
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    assert roundtrip(device_server.url(), **device_options) == "ping"
    entry = tofu_store.get("localhost")
    assert entry is not None
    assert entry.pins == (device.pin,)
    assert entry.source == "tofu"
    assert entry.first_seen >= before
    assert entry.expires is None
    # The same key, again.
    assert roundtrip(device_server.url(), **device_options) == "ping"
    assert len(device_server.requests) == 2
    assert tofu_store.entries() == [entry]


def test_a_changed_key_is_refused_with_zero_bytes_and_an_ssh_style_message(
    tmp_path: Path,
    tofu_store: pinws.PinStore,
    device: Device,
    device_server: WebSocketServer,
    device_options: dict[str, Any],
) -> None:
    options = device_options
    roundtrip(device_server.url(), **options)
    remembered = tofu_store.get("localhost")
    assert remembered is not None
    impostor = Device(tmp_path, "impostor")
    # Refused inside the handshake, as a static pin is.
    error, port = refused_before_a_byte(
        impostor.context(), pinws.StoredPinMismatchError, **options
    )
    assert isinstance(error, pinws.PinMismatchError)
    assert error.hostname == "localhost"
    assert error.port == port
    assert error.pins == (device.pin,)
    assert [c.pin for c in error.chain] == [impostor.pin]
    assert error.source == "tofu"
    assert error.first_seen == remembered.first_seen
    message = str(error)
    assert f"THE KEY OF localhost:{port} HAS CHANGED" in message
    assert device.pin in message
    assert impostor.pin in message
    assert remembered.first_seen.strftime("%Y-%m-%d %H:%M:%S UTC") in message
    assert "Nothing was sent" in message
    assert f"pinws store forget localhost --store {tofu_store.path}" in message
    assert 'store.forget("localhost")' in message
    # The refusal changed nothing in the store.
    assert tofu_store.entries() == [remembered]


def test_forget_then_the_new_key_is_learnt(
    tmp_path: Path,
    tofu_store: pinws.PinStore,
    device_server: WebSocketServer,
    device_options: dict[str, Any],
) -> None:
    url = device_server.url()
    roundtrip(url, **device_options)
    replaced = Device(tmp_path, "replaced")
    replaced.load_into(device_server.context)
    with pytest.raises(pinws.StoredPinMismatchError):
        pinws.create_connection(url, timeout=WAIT, **device_options)
    assert len(device_server.requests) == 1
    assert tofu_store.forget("localhost")
    assert roundtrip(url, **device_options) == "ping"
    entry = tofu_store.get("localhost")
    assert entry is not None
    assert entry.pins == (replaced.pin,)


def test_first_use_with_full_verification_stores_the_leaf_key(
    tmp_path: Path, chain: Chain, rogue_chain: Chain, tofu_store: pinws.PinStore
) -> None:
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    options = {"pins": None, "pin_store": tofu_store, "ca_certs": bundle}
    with running(WebSocketServer(chain.server_context())) as server:
        assert roundtrip(server.url(), **options) == "ping"
    entry = tofu_store.get("localhost")
    assert entry is not None
    assert entry.pins == (chain.leaf_pin,)
    # An interceptor whose root the client trusts is refused: its key changed.
    error, _ = refused_before_a_byte(
        rogue_chain.server_context(), pinws.StoredPinMismatchError, **options
    )
    assert [c.pin for c in error.chain] == rogue_chain.pins


def test_an_untrusted_chain_on_first_use_is_refused_and_nothing_is_stored(
    tmp_path: Path, chain: Chain, tofu_store: pinws.PinStore
) -> None:
    with running(WebSocketServer(chain.server_context())) as server:
        # certifi's bundle does not hold the test root.
        with pytest.raises(pinws.CertificateVerificationError):
            pinws.create_connection(
                server.url(), pins=None, pin_store=tofu_store, timeout=WAIT
            )
        assert server.requests == []
    other_name = make_chain(tmp_path, "other.example", name="other")
    with running(WebSocketServer(other_name.server_context())) as server:
        with pytest.raises(pinws.HostnameMismatchError):
            pinws.create_connection(
                server.url(),
                pins=None,
                pin_store=tofu_store,
                ca_certs=other_name.ca_file,
                timeout=WAIT,
            )
        assert server.requests == []
    assert tofu_store.entries() == []
    assert not Path(tofu_store.path).exists()


@pytest.mark.parametrize("pin_only", [False, True])
def test_without_first_use_a_host_with_no_pins_anywhere_is_refused_before_connecting(
    tmp_path: Path, chain: Chain, pin_only: bool
) -> None:
    store = pinws.PinStore(tmp_path / "pins.json")
    with running(EavesdropServer(chain.server_context())) as server:
        with pytest.raises(pinws.UnpinnedHostError):
            pinws.create_connection(
                server.url(),
                pins=None,
                pin_store=store,
                pin_only=pin_only,
                ca_certs=chain.ca_file,
                timeout=WAIT,
            )
        assert server.accepted == 0
    assert store.entries() == []


def test_allow_unpinned_without_first_use_connects_and_remembers_nothing(
    tmp_path: Path, chain: Chain, echo_server: WebSocketServer
) -> None:
    store = pinws.PinStore(tmp_path / "pins.json")
    policy = pinws.PinPolicy({}, allow_unpinned=True)
    assert (
        roundtrip(
            echo_server.url(), pins=policy, pin_store=store, ca_certs=chain.ca_file
        )
        == "ping"
    )
    assert store.entries() == []


def test_a_store_entry_for_the_host_is_enforced_like_a_static_pin(
    tmp_path: Path, chain: Chain, echo_server: WebSocketServer
) -> None:
    store = pinws.PinStore(tmp_path / "pins.json")
    store.add("localhost", [chain.intermediate_pin, unrelated_pin()])
    options = {"pins": None, "pin_store": store, "ca_certs": chain.ca_file}
    assert roundtrip(echo_server.url(), **options) == "ping"
    store.add("localhost", [unrelated_pin(), unrelated_pin()])
    with pytest.raises(pinws.StoredPinMismatchError) as info:
        pinws.create_connection(echo_server.url(), timeout=WAIT, **options)
    assert info.value.source == "manual"
    assert "added to the pin store on" in str(info.value)
    assert len(echo_server.requests) == 1


def test_static_pins_beat_the_store_in_both_directions(
    tmp_path: Path, chain: Chain, echo_server: WebSocketServer
) -> None:
    store = pinws.PinStore(tmp_path / "pins.json", trust_on_first_use=True)
    right = [chain.intermediate_pin, unrelated_pin()]
    wrong = [unrelated_pin(), unrelated_pin()]
    url = echo_server.url()
    # The store cannot refuse what pins= accepts...
    store.add("localhost", wrong)
    assert roundtrip(url, pins=right, pin_store=store, ca_certs=chain.ca_file) == "ping"
    # ...nor accept what pins= refuses.
    store.add("localhost", right)
    with pytest.raises(pinws.PinMismatchError) as info:
        pinws.create_connection(
            url, pins=wrong, pin_store=store, ca_certs=chain.ca_file, timeout=WAIT
        )
    assert not isinstance(info.value, pinws.StoredPinMismatchError)
    # A policy covering the host wins the same way; one that does not leaves
    # the host to the store.
    covering = pinws.PinPolicy({"localhost": wrong})
    with pytest.raises(pinws.PinMismatchError) as info:
        pinws.create_connection(
            url, pins=covering, pin_store=store, ca_certs=chain.ca_file, timeout=WAIT
        )
    assert not isinstance(info.value, pinws.StoredPinMismatchError)
    elsewhere = pinws.PinPolicy({"other.example": wrong})
    assert (
        roundtrip(url, pins=elsewhere, pin_store=store, ca_certs=chain.ca_file)
        == "ping"
    )
    # And first use never learns a host that pins= covers.
    assert store.forget("localhost")
    roundtrip(url, pins=right, pin_store=store, ca_certs=chain.ca_file)
    assert store.entries() == []


def test_the_app_reports_a_changed_key_to_on_error(
    tofu_store: pinws.PinStore,
    device_server: WebSocketServer,
    device_options: dict[str, Any],
) -> None:
    tofu_store.add("localhost", [unrelated_pin()])
    errors: list[BaseException] = []
    failed = threading.Event()

    def on_error(app: Any, error: BaseException) -> None:
        errors.append(error)
        failed.set()

    app = pinws.PinnedWebSocketApp(
        device_server.url(), on_error=on_error, **device_options
    )
    app.start(reconnect=0)
    assert failed.wait(WAIT)
    app.close()
    assert app.join(WAIT)
    assert device_server.requests == []
    assert isinstance(errors[0], pinws.StoredPinMismatchError)


def test_the_app_learns_on_first_use(
    tofu_store: pinws.PinStore,
    device: Device,
    device_server: WebSocketServer,
    device_options: dict[str, Any],
) -> None:
    opened = threading.Event()
    app = pinws.PinnedWebSocketApp(
        device_server.url(), on_open=lambda app: opened.set(), **device_options
    )
    app.start(reconnect=0)
    assert opened.wait(WAIT)
    app.close()
    assert app.join(WAIT)
    entry = tofu_store.get("localhost")
    assert entry is not None
    assert entry.pins == (device.pin,)


def test_a_key_another_process_learnt_first_wins(
    tmp_path: Path, chain: Chain, tofu_store: pinws.PinStore
) -> None:
    remembered = RememberedPins(tofu_store, pinws.PinPolicy({}, allow_unpinned=True))
    rule = remembered.for_host("localhost")
    assert rule.kind == "first-use"
    # Between this connection's lookup and its handshake's end, another
    # process met the host first and stored another key.
    pinws.PinStore(tofu_store.path, trust_on_first_use=True)._learn_first_use(
        "localhost", unrelated_pin()
    )
    leaf = x509.load_pem_x509_certificate(chain.leaf.cert_chain_pems[0].bytes())
    presented = (pinws.ChainCertificate(0, "CN=leaf", chain.leaf_pin, leaf),)
    with pytest.raises(pinws.StoredPinMismatchError):
        remembered.learn("localhost", 443, rule, presented)
    entry = tofu_store.get("localhost")
    assert entry is not None
    assert chain.leaf_pin not in entry.pins


def test_pin_store_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(pinws.InvalidPinError, match="pin_store"):
        pinws.PinnedWebSocketApp("wss://example.com/", pins=None)
    with pytest.raises(ValueError, match="PinStore"):
        pinws.PinnedWebSocketApp(
            "wss://example.com/",
            pins=None,
            pin_store=str(tmp_path / "pins.json"),  # type: ignore[arg-type]
        )


def test_the_changed_key_error_survives_pickling(
    tmp_path: Path, tofu_store: pinws.PinStore
) -> None:
    import pickle

    error = pinws.StoredPinMismatchError(
        "printer.local",
        (),
        ["sha256/" + "A" * 43 + "="],
        8443,
        "tofu",
        datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        "printer.local",
        "/home/me/pins.json",
    )
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert copy.first_seen == error.first_seen
    assert "2026-01-02 03:04:05 UTC" in str(error)


def test_a_debugging_proxys_key_is_never_learnt_on_first_use(
    tmp_path: Path, chain: Chain, rogue_chain: Chain, tofu_store: pinws.PinStore
) -> None:
    with running(WebSocketServer(rogue_chain.server_context())) as proxied:
        assert (
            roundtrip(
                proxied.url(),
                pins=None,
                pin_store=tofu_store,
                ca_certs=chain.ca_file,
                debug_ca=rogue_chain.ca_file,
            )
            == "ping"
        )
    assert tofu_store.entries() == []


def test_a_store_file_that_became_corrupt_fails_the_connection_closed(
    tmp_path: Path, chain: Chain, tofu_store: pinws.PinStore
) -> None:
    tofu_store.add("localhost", [chain.intermediate_pin])
    path = Path(tofu_store.path)
    path.write_bytes(b"\x00garbage")
    with running(EavesdropServer(chain.server_context())) as server:
        with pytest.raises(ValueError, match="not a pinws pin store"):
            pinws.create_connection(
                server.url(),
                pins=None,
                pin_store=tofu_store,
                ca_certs=chain.ca_file,
                timeout=WAIT,
            )
        assert server.accepted == 0
    assert path.read_bytes() == b"\x00garbage"
