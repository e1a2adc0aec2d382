"""Pin policies against real TLS servers on loopback.

Host names that do not resolve (``api.example.test``, IDNA names) are reached
through websocket-client's ``socket=`` option: the TCP connection goes to
127.0.0.1, while the URL's host name drives SNI, the certificate's host name
check and the policy lookup, exactly as for a resolved name.
"""

from __future__ import annotations

import datetime
import logging
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import trustme

import pinws
from helpers.pki import Chain, make_chain, unrelated_pin
from helpers.servers import EavesdropServer, WebSocketServer, redirect_to, running
from helpers.timing import WAIT
from pinws import PinFailureReport, PinPolicy, PinSet
from pinws._pins import pinset as pinset_module

NAMES = (
    "example.test",
    "api.example.test",
    "www.example.test",
    "a.b.example.test",
    "bücher.example.test",
    "www.bücher.example.test",
)


@pytest.fixture
def names_server(chain: Chain) -> Any:
    """An echo server whose certificate names every host in NAMES."""
    leaf = chain.intermediate.issue_cert(*NAMES)
    with running(WebSocketServer(chain.server_context(leaf=leaf))) as server:
        yield server


def good_pins(chain: Chain) -> PinSet:
    return PinSet([chain.intermediate_pin, unrelated_pin()])


def bad_pins(**options: Any) -> PinSet:
    return PinSet([unrelated_pin(), unrelated_pin()], **options)


def talk(host: str, server: WebSocketServer, chain: Chain, pins: Any, **kw: Any) -> str:
    """Connect to *server* by the name *host*, echo once, return the reply."""
    url_host = f"[{host}]" if ":" in host else host
    sock = socket.create_connection((server.host, server.port), timeout=WAIT)
    try:
        ws = pinws.create_connection(
            f"wss://{url_host}:{server.port}/",
            pins=pins,
            ca_certs=chain.ca_file,
            timeout=WAIT,
            socket=sock,
            **kw,
        )
    except BaseException:
        sock.close()
        raise
    try:
        ws.send(host)
        reply = ws.recv()
        assert isinstance(reply, str)
        return reply
    finally:
        ws.close()


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("pinws") and r.levelno == logging.WARNING
    ]


# -- pattern matching on real connections ------------------------------------


@pytest.mark.parametrize(
    ("host", "covered"),
    [
        ("api.example.test", True),
        ("API.Example.TEST", True),
        ("api.example.test.", True),
        ("example.test", False),  # "*." never matches the apex
        ("a.b.example.test", False),  # ...nor two labels down
    ],
)
def test_one_label_wildcard_on_real_connections(
    chain: Chain, names_server: WebSocketServer, host: str, covered: bool
) -> None:
    policy = PinPolicy({"*.example.test": good_pins(chain)})
    if covered:
        assert talk(host, names_server, chain, policy) == host
    else:
        with pytest.raises(pinws.UnpinnedHostError) as info:
            talk(host, names_server, chain, policy)
        assert info.value.hostname == host
    # Only hosts that passed the policy got as far as an upgrade request.
    assert len(names_server.requests) == int(covered)


@pytest.mark.parametrize(
    "host", ["example.test", "www.example.test", "a.b.example.test", "Example.Test."]
)
def test_any_depth_wildcard_covers_the_apex_and_below(
    chain: Chain, names_server: WebSocketServer, host: str
) -> None:
    policy = PinPolicy({"**.example.test": good_pins(chain)})
    assert talk(host, names_server, chain, policy) == host
    wrong = PinPolicy({"**.example.test": bad_pins()})
    with pytest.raises(pinws.PinMismatchError):
        talk(host, names_server, chain, wrong)


@pytest.mark.parametrize(
    ("host", "pattern"),
    [
        ("bücher.example.test", "xn--bcher-kva.example.test"),
        ("xn--bcher-kva.example.test", "BÜCHER.example.test"),
        ("www.xn--bcher-kva.example.test", "*.bücher.example.test"),
        ("WWW.Bücher.Example.Test.", "**.xn--bcher-kva.example.test"),
    ],
)
def test_idna_names_match_in_either_form(
    chain: Chain, names_server: WebSocketServer, host: str, pattern: str
) -> None:
    assert talk(host, names_server, chain, PinPolicy({pattern: good_pins(chain)}))
    with pytest.raises(pinws.PinMismatchError) as info:
        talk(host, names_server, chain, PinPolicy({pattern: bad_pins()}))
    assert info.value.hostname.startswith(("xn--", "www.xn--"))


def test_most_specific_rule_applies_on_real_connections(
    chain: Chain, names_server: WebSocketServer
) -> None:
    policy = PinPolicy(
        {
            "**.example.test": bad_pins(),
            "*.example.test": bad_pins(),
            "api.example.test": good_pins(chain),
        }
    )
    assert talk("api.example.test", names_server, chain, policy)
    for host in ("www.example.test", "example.test", "a.b.example.test"):
        with pytest.raises(pinws.PinMismatchError):
            talk(host, names_server, chain, policy)


@pytest.mark.parametrize(
    ("bind", "spelled", "pattern"),
    [
        ("127.0.0.1", "127.0.0.1", "127.0.0.1"),
        ("::1", "::1", "::1"),
        ("::1", "0:0:0:0:0:0:0:1", "[::1]"),
    ],
)
def test_ip_addresses_match_exactly(
    chain: Chain, bind: str, spelled: str, pattern: str
) -> None:
    with running(WebSocketServer(chain.server_context(), host=bind)) as server:
        assert talk(spelled, server, chain, PinPolicy({pattern: good_pins(chain)}))
        with pytest.raises(pinws.PinMismatchError):
            talk(spelled, server, chain, PinPolicy({pattern: bad_pins()}))
        # No DNS pattern covers an address, however it is written.
        with pytest.raises(pinws.UnpinnedHostError):
            talk(spelled, server, chain, PinPolicy({"**.localhost": good_pins(chain)}))


# -- fail closed across redirects --------------------------------------------


def test_redirect_to_a_host_the_policy_does_not_cover_is_refused_before_connecting(
    chain: Chain,
) -> None:
    with running(EavesdropServer(chain.server_context())) as elsewhere:
        target = f"wss://127.0.0.1:{elsewhere.port}/"
        with running(
            WebSocketServer(chain.server_context(), process_request=redirect_to(target))
        ) as server:
            policy = PinPolicy({"localhost": good_pins(chain)})
            with pytest.raises(pinws.UnpinnedHostError) as info:
                pinws.create_connection(
                    server.url(), pins=policy, ca_certs=chain.ca_file, timeout=WAIT
                )
            assert info.value.hostname == "127.0.0.1"
            assert len(server.requests) == 1
        # Not even a TCP connection was made to the uncovered host.
        assert elsewhere.accepted == 0


@pytest.mark.parametrize("how", ["covered", "allow_unpinned"])
def test_redirect_is_followed_when_the_policy_covers_or_allows_it(
    chain: Chain, how: str
) -> None:
    with running(WebSocketServer(chain.server_context())) as target:
        location = f"wss://127.0.0.1:{target.port}/landed"
        with running(
            WebSocketServer(
                chain.server_context(), process_request=redirect_to(location)
            )
        ) as server:
            if how == "covered":
                policy = PinPolicy(
                    {"localhost": good_pins(chain), "127.0.0.1": good_pins(chain)}
                )
            else:
                policy = PinPolicy({"localhost": good_pins(chain)}, allow_unpinned=True)
            ws = pinws.create_connection(
                server.url(), pins=policy, ca_certs=chain.ca_file, timeout=WAIT
            )
            try:
                ws.send("hop")
                assert ws.recv() == "hop"
                expected = None if how == "allow_unpinned" else chain.intermediate_pin
                assert (str(ws.matched_pin) if ws.matched_pin else None) == expected
            finally:
                ws.close()
            assert target.requests[0].path == "/landed"


def test_an_unpinned_host_is_still_verified(chain: Chain, rogue_chain: Chain) -> None:
    policy = PinPolicy({"pinned.example": good_pins(chain)}, allow_unpinned=True)
    with (
        running(WebSocketServer(rogue_chain.server_context())) as server,
        pytest.raises(pinws.CertificateVerificationError),
    ):
        pinws.create_connection(
            server.url(), pins=policy, ca_certs=chain.ca_file, timeout=WAIT
        )


# -- expiry ------------------------------------------------------------------

EXPIRES = datetime.date(2030, 6, 30)


def set_today(monkeypatch: pytest.MonkeyPatch, day: datetime.date) -> None:
    monkeypatch.setattr(pinset_module, "utc_today", lambda: day)


def test_pins_are_enforced_on_the_expiry_date_and_not_the_day_after(
    chain: Chain,
    echo_server: WebSocketServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pin_set = bad_pins(expires=EXPIRES)
    reports: list[PinFailureReport] = []
    kwargs: dict[str, Any] = {
        "pins": pin_set,
        "ca_certs": chain.ca_file,
        "timeout": WAIT,
        "on_pin_failure": reports.append,
    }
    for day in (EXPIRES - datetime.timedelta(days=1), EXPIRES):
        set_today(monkeypatch, day)
        with pytest.raises(pinws.PinMismatchError):
            pinws.create_connection(echo_server.url(), **kwargs)
    assert [r.enforced for r in reports] == [True, True]
    assert [r.expired for r in reports] == [False, False]
    assert echo_server.requests == []
    assert not any("expired" in m for m in warnings_of(caplog))

    set_today(monkeypatch, EXPIRES + datetime.timedelta(days=1))
    for _ in range(2):
        ws = pinws.create_connection(echo_server.url(), **kwargs)
        ws.send("after expiry")
        assert ws.recv() == "after expiry"
        ws.close()
    assert [(r.enforced, r.expired) for r in reports[2:]] == [(False, True)] * 2
    assert reports[2].as_dict()["effective-expiration-date"] == "2030-06-30T23:59:59Z"
    expired = [m for m in warnings_of(caplog) if "expired on 2030-06-30" in m]
    assert len(expired) == 1


def test_expired_pins_still_verify_the_ca_and_the_host_name(
    tmp_path: Path,
    chain: Chain,
    rogue_chain: Chain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_today(monkeypatch, EXPIRES + datetime.timedelta(days=365))
    pin_set = bad_pins(expires=EXPIRES)
    with (
        running(WebSocketServer(rogue_chain.server_context())) as server,
        pytest.raises(pinws.CertificateVerificationError),
    ):
        pinws.create_connection(
            server.url(), pins=pin_set, ca_certs=chain.ca_file, timeout=WAIT
        )
    only_localhost = make_chain(tmp_path, "localhost", name="named")
    with (
        running(WebSocketServer(only_localhost.server_context())) as server,
        pytest.raises(pinws.HostnameMismatchError),
    ):
        pinws.create_connection(
            server.url("127.0.0.1"),
            pins=pin_set,
            ca_certs=only_localhost.ca_file,
            timeout=WAIT,
        )


# -- report-only -------------------------------------------------------------


def test_report_only_proceeds_and_reports_on_the_app(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    reports: list[tuple[Any, PinFailureReport]] = []
    errors: list[Exception] = []
    echoed = threading.Event()

    app = pinws.PinnedWebSocketApp(
        echo_server.url(),
        pins=PinPolicy({"localhost": bad_pins(report_only=True)}),
        ca_certs=chain.ca_file,
        on_open=lambda app: app.send("trial"),
        on_message=lambda app, message: echoed.set(),
        on_error=lambda app, error: errors.append(error),
        on_pin_failure=lambda app, report: reports.append((app, report)),
    )
    app.start()
    try:
        assert echoed.wait(WAIT)
    finally:
        app.close()
        app.join(WAIT)
    ((first_argument, report),) = reports
    assert first_argument is app
    assert report.report_only
    assert not report.enforced
    assert report.host_pattern == "localhost"
    assert errors == []
    assert len(echo_server.requests) == 1


def test_enforced_twin_reports_then_fails_on_the_app(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    reports: list[PinFailureReport] = []
    errors: list[Exception] = []
    failed = threading.Event()

    def on_error(app: Any, error: Exception) -> None:
        errors.append(error)
        failed.set()

    app = pinws.PinnedWebSocketApp(
        echo_server.url(),
        pins=PinPolicy({"localhost": bad_pins()}),
        ca_certs=chain.ca_file,
        on_error=on_error,
        on_pin_failure=lambda app, report: reports.append(report),
    )
    app.start()
    try:
        assert failed.wait(WAIT)
    finally:
        app.close()
        app.join(WAIT)
    assert isinstance(errors[0], pinws.PinMismatchError)
    assert [r.enforced for r in reports] == [True]
    assert echo_server.requests == []


# -- backups -----------------------------------------------------------------


def test_all_pins_in_the_served_chain_warns_once_per_pin_set(
    chain: Chain, echo_server: WebSocketServer, caplog: pytest.LogCaptureFixture
) -> None:
    in_chain = PinSet([chain.leaf_pin, chain.intermediate_pin])
    with_backup = PinSet([chain.leaf_pin, unrelated_pin()])
    for pins in (with_backup, in_chain, in_chain):
        ws = pinws.create_connection(
            echo_server.url(), pins=pins, ca_certs=chain.ca_file, timeout=WAIT
        )
        ws.close()
    (message,) = [m for m in warnings_of(caplog) if "no backup key off" in m]
    assert chain.leaf_pin in message
    assert chain.intermediate_pin in message


# -- debug_ca ----------------------------------------------------------------


@pytest.fixture
def proxy_chain(tmp_path: Path) -> Chain:
    """A debugging proxy's CA (mitmproxy's, say) and a leaf it minted."""
    return make_chain(tmp_path, name="proxy")


def test_debug_ca_lets_its_chains_through_with_a_warning_every_time(
    chain: Chain, proxy_chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    with running(WebSocketServer(proxy_chain.server_context())) as proxy:
        for _ in range(2):
            ws = pinws.create_connection(
                proxy.url(),
                pins=good_pins(chain),
                ca_certs=chain.ca_file,
                debug_ca=proxy_chain.ca_file,
                timeout=WAIT,
            )
            ws.send("inspected")
            assert ws.recv() == "inspected"
            assert ws.matched_pin is None
            ws.close()
        # The twin: without debug_ca, the proxy is refused.
        with pytest.raises(pinws.CertificateVerificationError):
            pinws.create_connection(
                proxy.url(), pins=good_pins(chain), ca_certs=chain.ca_file, timeout=WAIT
            )
    accepted = [m for m in warnings_of(caplog) if "accepted without pin checks" in m]
    assert len(accepted) == 2
    assert "localhost" in accepted[0]


def test_debug_ca_does_not_excuse_other_cas(
    tmp_path: Path, chain: Chain, proxy_chain: Chain, rogue_chain: Chain
) -> None:
    # The rogue root is trusted too, but it is not the debug CA: pins apply.
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(
        Path(chain.ca_file).read_bytes() + Path(rogue_chain.ca_file).read_bytes()
    )
    with (
        running(WebSocketServer(rogue_chain.server_context())) as server,
        pytest.raises(pinws.PinMismatchError),
    ):
        pinws.create_connection(
            server.url(),
            pins=good_pins(chain),
            ca_certs=str(bundle),
            debug_ca=proxy_chain.ca_file,
            timeout=WAIT,
        )
    # The real server, under the same options, is pinned as usual.
    with running(WebSocketServer(chain.server_context())) as server:
        ws = pinws.create_connection(
            server.url(),
            pins=good_pins(chain),
            ca_certs=str(bundle),
            debug_ca=proxy_chain.ca_file,
            timeout=WAIT,
        )
        assert str(ws.matched_pin) == chain.intermediate_pin
        ws.close()


def test_debug_ca_still_checks_the_host_name(tmp_path: Path, chain: Chain) -> None:
    proxy = make_chain(tmp_path, "localhost", name="proxy-named")
    with (
        running(WebSocketServer(proxy.server_context())) as server,
        pytest.raises(pinws.HostnameMismatchError),
    ):
        pinws.create_connection(
            server.url("127.0.0.1"),
            pins=good_pins(chain),
            ca_certs=chain.ca_file,
            debug_ca=proxy.ca_file,
            timeout=WAIT,
        )


@pytest.mark.parametrize("ca_certs", ["chain", None])
def test_environment_variables_never_enable_a_debug_ca(
    chain: Chain,
    proxy_chain: Chain,
    monkeypatch: pytest.MonkeyPatch,
    ca_certs: str | None,
) -> None:
    for name in (
        "PINWS_DEBUG_CA",
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "WEBSOCKET_CLIENT_CA_BUNDLE",
    ):
        monkeypatch.setenv(name, proxy_chain.ca_file)
    monkeypatch.setenv("SSL_CERT_DIR", str(Path(proxy_chain.ca_file).parent))
    with (
        running(WebSocketServer(proxy_chain.server_context())) as proxy,
        pytest.raises(pinws.CertificateVerificationError),
    ):
        pinws.create_connection(
            proxy.url(),
            pins=good_pins(chain),
            ca_certs=chain.ca_file if ca_certs else None,
            timeout=WAIT,
        )


def test_debug_ca_must_be_a_ca_certificate(tmp_path: Path, chain: Chain) -> None:
    leaf_file = tmp_path / "leaf.pem"
    chain.leaf.cert_chain_pems[0].write_to_path(str(leaf_file))
    with pytest.raises(ValueError, match="is not a CA certificate"):
        pinws.create_connection(
            "wss://localhost:1/", pins=good_pins(chain), debug_ca=str(leaf_file)
        )
    with pytest.raises(ValueError, match="no such file"):
        pinws.create_connection(
            "wss://localhost:1/", pins=good_pins(chain), debug_ca=tmp_path / "x.pem"
        )
    ca_file = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    with pytest.raises(ValueError, match="no meaning with pin_only"):
        pinws.create_connection(
            "wss://localhost:1/",
            pins=good_pins(chain),
            debug_ca=str(ca_file),
            pin_only=True,
        )


# -- pins= forms on both entry points ----------------------------------------


@pytest.mark.parametrize("form", ["list", "PinSet", "PinPolicy"])
def test_every_pins_form_on_create_connection_and_the_app(
    chain: Chain, echo_server: WebSocketServer, form: str
) -> None:
    pins_list = [chain.intermediate_pin, unrelated_pin()]
    pins: Any = {
        "list": pins_list,
        "PinSet": PinSet(pins_list),
        "PinPolicy": PinPolicy({"localhost": pins_list}),
    }[form]
    ws = pinws.create_connection(
        echo_server.url(), pins=pins, ca_certs=chain.ca_file, timeout=WAIT
    )
    ws.close()
    opened = threading.Event()
    app = pinws.PinnedWebSocketApp(
        echo_server.url(),
        pins=pins,
        ca_certs=chain.ca_file,
        on_open=lambda app: opened.set(),
    )
    app.start()
    try:
        assert opened.wait(WAIT)
    finally:
        app.close()
        app.join(WAIT)
