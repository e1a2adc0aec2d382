"""``pinws check``: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (plugin convention)."""

from __future__ import annotations

import datetime
import json
import socket
from pathlib import Path

import pytest

from helpers.cli import Result, assert_one_line_error, run_pinws
from helpers.pki import Chain, make_chain, unrelated_pin
from helpers.servers import ConnectProxy, WebSocketServer, running


def check(server: WebSocketServer, chain: Chain, *args: str) -> Result:
    return run_pinws("check", server.url(), "--ca-certs", chain.ca_file, *args)


def levels(document: dict) -> list[str]:  # type: ignore[type-arg]
    return [finding["level"] for finding in document["findings"]]


def test_a_matching_pin_with_a_backup_is_ok(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    backup = unrelated_pin()
    result = check(echo_server, chain, "--pin", chain.intermediate_pin, "--pin", backup)
    assert result.code == 0, str(result)
    assert "result: OK (exit 0)" in result.stdout
    assert (
        f"pin {chain.intermediate_pin} matches depth 1 (intermediate CA"
        in result.stdout
    )
    assert "1 backup pin" in result.stdout

    document = check(
        echo_server, chain, "--pin", chain.intermediate_pin, "--pin", backup, "--json"
    ).json()
    assert document["status"] == "ok"
    assert document["exit_code"] == 0
    assert document["reason"] == "ok"
    assert document["chain_verified"] is True
    assert document["matched"] == [
        {
            "pin": chain.intermediate_pin,
            "depth": 1,
            "subject": document["chain"][1]["subject"],
        }
    ]
    assert document["pins"] == [chain.intermediate_pin, backup]
    assert [c["pin"] for c in document["chain"]] == chain.pins
    assert "warning" not in levels(document)
    assert "critical" not in levels(document)
    # A TLS handshake only: no WebSocket request reached the server.
    assert echo_server.requests == []


def test_a_mismatch_is_critical_and_lists_the_chain_to_fix_it_from(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    wrong = [unrelated_pin(), unrelated_pin()]
    result = check(echo_server, chain, "--pin", wrong[0], "--pin", wrong[1])
    assert result.code == 2, str(result)
    assert (
        "CRITICAL  no certificate of the verified chain matches a pin" in result.stdout
    )
    for pin in chain.pins + wrong:
        assert pin in result.stdout
    assert "result: CRITICAL, pin_mismatch (exit 2)" in result.stdout

    document = check(echo_server, chain, "--pin", wrong[0], "--pin", wrong[1], "--json")
    assert document.code == 2
    assert document.json()["status"] == "critical"
    assert document.json()["reason"] == "pin_mismatch"
    assert document.json()["matched"] == []
    assert [c["pin"] for c in document.json()["chain"]] == chain.pins


def test_a_certificate_expiring_within_warn_days_is_a_warning(tmp_path: Path) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    soon = make_chain(tmp_path, not_after=now + datetime.timedelta(days=10, hours=1))
    pins = ["--pin", soon.intermediate_pin, "--pin", unrelated_pin()]
    with running(WebSocketServer(soon.server_context())) as server:
        default = check(server, soon, *pins)
        relaxed = check(server, soon, *pins, "--warn-days", "5", "--json")
        strict = check(server, soon, *pins, "--warn-days", "10", "--json")
    assert default.code == 1, str(default)
    assert "warning   depth 0 (leaf" in default.stdout
    assert "expires in 10 days" in default.stdout
    assert "within --warn-days 30" in default.stdout
    assert "result: WARNING, certificate_expiring (exit 1)" in default.stdout
    assert relaxed.code == 0, str(relaxed)
    assert relaxed.json()["status"] == "ok"
    assert strict.code == 1, str(strict)
    assert strict.json()["reason"] == "certificate_expiring"
    warnings = [f for f in strict.json()["findings"] if f["level"] == "warning"]
    assert len(warnings) == 1
    assert "depth 0" in warnings[0]["message"]


@pytest.mark.parametrize(
    ("which", "expected"),
    [
        (["intermediate"], "single pin and no backup"),
        (["leaf", "intermediate"], "every pin is a key of the chain served now"),
    ],
    ids=["no_backup_pin", "no_off_chain_backup"],
)
def test_a_pin_set_without_a_backup_is_a_warning(
    chain: Chain,
    echo_server: WebSocketServer,
    which: list[str],
    expected: str,
    request: pytest.FixtureRequest,
) -> None:
    args = [arg for name in which for arg in ("--pin", getattr(chain, f"{name}_pin"))]
    result = check(echo_server, chain, *args, "--json")
    assert result.code == 1, str(result)
    document = result.json()
    assert document["status"] == "warning"
    assert document["reason"] == request.node.callspec.id
    assert any(
        f["level"] == "warning" and expected in f["message"]
        for f in document["findings"]
    ), document["findings"]


def test_an_untrusted_chain_is_critical(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    pins = ["--pin", unrelated_pin(), "--pin", unrelated_pin()]
    result = run_pinws("check", echo_server.url(), *pins)
    assert result.code == 2, str(result)
    assert_one_line_error(
        result, "issuer is not in the trust store", "add --ca-certs FILE"
    )
    # Command-line advice only, never the library's Python advice.
    assert "ca_certs=" not in result.stderr
    assert "result: CRITICAL, certificate_untrusted (exit 2)" in result.stdout
    document = run_pinws("check", echo_server.url(), *pins, "--json")
    assert document.code == 2
    assert document.json()["status"] == "critical"
    assert document.json()["reason"] == "certificate_untrusted"
    assert document.json()["exit_code"] == 2
    assert "verification failed" in document.json()["error"]
    # The chain was seen, though it did not verify: it is shown, marked.
    assert document.json()["chain_verified"] is False
    assert [c["pin"] for c in document.json()["chain"]] == chain.pins[:2]


def test_a_wrong_host_name_is_critical_even_when_a_pin_matches(
    tmp_path: Path,
) -> None:
    elsewhere = make_chain(tmp_path, "api.example.test")
    pins = ["--pin", elsewhere.leaf_pin, "--pin", unrelated_pin()]
    with running(WebSocketServer(elsewhere.server_context())) as server:
        result = check(server, elsewhere, *pins)
        document = check(server, elsewhere, *pins, "--json")
    assert result.code == 2, str(result)
    assert_one_line_error(result, "not valid for 'localhost'", "api.example.test")
    assert document.json()["reason"] == "hostname_mismatch"


@pytest.mark.parametrize(
    ("days", "reason", "words"),
    [
        ((-30, -1), "certificate_expired", "has expired"),
        ((1, 30), "certificate_not_yet_valid", "not yet valid"),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_a_certificate_out_of_its_dates_is_critical_with_its_own_reason(
    tmp_path: Path, days: tuple[int, int], reason: str, words: str
) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    dated = make_chain(
        tmp_path,
        not_before=now + datetime.timedelta(days=days[0]),
        not_after=now + datetime.timedelta(days=days[1]),
    )
    pins = ["--pin", dated.intermediate_pin, "--pin", unrelated_pin()]
    with running(WebSocketServer(dated.server_context())) as server:
        result = check(server, dated, *pins)
        document = check(server, dated, *pins, "--json")
    assert result.code == 2, str(result)
    assert_one_line_error(result, words)
    # --ca-certs was given, and is not the problem: no advice to add it.
    assert "--ca-certs" not in result.stderr
    assert document.code == 2
    assert document.json()["status"] == "critical"
    assert document.json()["reason"] == reason


def test_an_unreachable_server_is_unknown() -> None:
    pins = ["--pin", unrelated_pin(), "--pin", unrelated_pin()]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        result = run_pinws("check", f"127.0.0.1:{port}", *pins)
        document = run_pinws("check", f"127.0.0.1:{port}", *pins, "--json")
    assert result.code == 3, str(result)
    assert_one_line_error(result, f"cannot connect to 127.0.0.1:{port}")
    assert "result: UNKNOWN, unreachable (exit 3)" in result.stdout
    assert document.code == 3
    assert document.json()["status"] == "unknown"
    assert document.json()["reason"] == "unreachable"
    assert "chain" not in document.json()


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--pin", "sha256/tooshort", "--pin", "x"), "bad_input"),
        (("--pin", "x", "--config", "y.toml"), "usage"),
        ((), "usage"),
        (("--warn-days", "-1", "--pin", "x"), "usage"),
    ],
    ids=["bad-pin", "both-sources", "no-pins", "negative-warn-days"],
)
def test_json_names_a_reason_even_for_bad_input_and_usage(
    echo_server: WebSocketServer, args: tuple[str, ...], reason: str
) -> None:
    result = run_pinws("check", echo_server.url(), *args, "--json")
    assert result.code == 3, str(result)
    document = result.json()
    assert document["status"] == "unknown"
    assert document["exit_code"] == 3
    assert document["reason"] == reason
    assert document["error"]


def test_check_through_a_connect_proxy(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    with running(ConnectProxy()) as proxy:
        result = check(
            echo_server,
            chain,
            "--pin",
            chain.leaf_pin,
            "--pin",
            unrelated_pin(),
            "--proxy",
            f"http://127.0.0.1:{proxy.port}",
        )
    assert result.code == 0, str(result)
    assert f"through 127.0.0.1:{proxy.port}" in result.stdout
    assert proxy.tunnels == [f"localhost:{echo_server.port}"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--pin", "sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA="), "SHA1 pins are not supported"),
        (("--pin", "sha256/tooshort"), "has 8 characters"),
        ((), "give the pins (--pin or --config), or --ct-log-list"),
        (("--pin", "x", "--config", "y.toml"), "not allowed with argument"),
        (("--warn-days", "-1", "--pin", "x"), "must be 0 or more"),
    ],
    ids=["sha1-pin", "short-pin", "no-pins", "both-sources", "negative-warn-days"],
)
def test_bad_input_is_could_not_check(
    echo_server: WebSocketServer, args: tuple[str, ...], fragment: str
) -> None:
    result = run_pinws("check", echo_server.url(), *args)
    assert result.code == 3, str(result)
    assert_one_line_error(result, fragment)
    assert echo_server.connections == 0


# -- --config ------------------------------------------------------------------


def write_config(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_config_file_pin_set_for_the_host(
    tmp_path: Path, chain: Chain, echo_server: WebSocketServer
) -> None:
    config = write_config(
        tmp_path / "pins.toml",
        f"""
[[pin_sets]]
hosts = ["**.localhost"]
pins = ["{chain.intermediate_pin}", "{unrelated_pin()}"]
expires = 2999-12-31
""",
    )
    result = check(echo_server, chain, "--config", config, "--json")
    assert result.code == 0, str(result)
    document = result.json()
    assert document["pattern"] == "**.localhost"
    assert document["pins_from"] == config
    assert document["pin_set"] == {
        "expires": "2999-12-31",
        "expired": False,
        "report_only": False,
    }
    assert document["matched"][0]["depth"] == 1


def test_an_expired_pin_set_is_a_warning(
    tmp_path: Path, chain: Chain, echo_server: WebSocketServer
) -> None:
    config = write_config(
        tmp_path / "pins.json",
        json.dumps(
            {
                "pin_sets": [
                    {
                        "hosts": ["localhost"],
                        "pins": [chain.leaf_pin, unrelated_pin()],
                        "expires": "2020-01-31",
                    }
                ]
            }
        ),
    )
    result = check(echo_server, chain, "--config", config)
    assert result.code == 1, str(result)
    assert "the pin set expired on 2020-01-31" in result.stdout


def test_a_config_without_pins_for_the_host_is_could_not_check(
    tmp_path: Path, chain: Chain, echo_server: WebSocketServer
) -> None:
    config = write_config(
        tmp_path / "pins.toml",
        f'[[pin_sets]]\nhosts = ["api.example.com"]\n'
        f'pins = ["{chain.leaf_pin}", "{unrelated_pin()}"]\n',
    )
    result = check(echo_server, chain, "--config", config)
    assert result.code == 3, str(result)
    assert_one_line_error(result, "has no pins for 'localhost'")
    assert echo_server.connections == 0


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("pins.toml", "[[pin_sets]\nhosts = [", "pins.toml"),
        (
            "pins.toml",
            '[[pin_sets]]\nhosts = ["localhost"]\npins = ["sha256/x"]\ncolour = 1\n',
            "colour",
        ),
        ("pins.json", '{"pin_sets": "nope"}', "pin_sets"),
    ],
    ids=["broken-toml", "unknown-key", "wrong-type"],
)
def test_a_malformed_config_is_could_not_check(
    tmp_path: Path, echo_server: WebSocketServer, name: str, text: str, fragment: str
) -> None:
    config = write_config(tmp_path / name, text)
    result = run_pinws("check", echo_server.url(), "--config", config)
    assert result.code == 3, str(result)
    assert_one_line_error(result, "--config", fragment)
    assert result.stderr.count(config) == 1, "the file is named once"


def test_a_missing_config_is_named(
    tmp_path: Path, echo_server: WebSocketServer
) -> None:
    missing = tmp_path / "absent.toml"
    result = run_pinws("check", echo_server.url(), "--config", str(missing))
    assert result.code == 3, str(result)
    assert_one_line_error(result, f"--config {missing}: no such file")


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("wss//example.test/feed", "wss://example.test/feed"),
        ("wss:/example.test/", "wss://example.test/"),
        ("https//example.test", "https://example.test"),
        ("ws//example.test/", "wss://example.test/"),
    ],
)
def test_a_mistyped_scheme_gets_the_url_it_meant(typed: str, meant: str) -> None:
    result = run_pinws("check", typed, "--pin", unrelated_pin(), "--json")
    assert result.code == 3, str(result)
    assert_one_line_error(result, f"did you mean {meant!r}")
    assert "wss://wss" not in result.stderr
    assert result.json()["reason"] == "bad_input"


def test_https_is_read_as_wss(chain: Chain, echo_server: WebSocketServer) -> None:
    url = echo_server.url().replace("wss://", "https://")
    pins = ["--pin", chain.leaf_pin, "--pin", unrelated_pin()]
    result = run_pinws("check", url, "--ca-certs", chain.ca_file, *pins, "--json")
    assert result.code == 0, str(result)
    assert result.json()["url"] == echo_server.url()


@pytest.mark.parametrize("command", ["check", "connect", "pins"])
def test_a_ca_certs_file_without_certificates_is_named_in_cli_terms(
    tmp_path: Path, echo_server: WebSocketServer, command: str
) -> None:
    garbage = tmp_path / "not-a-ca.pem"
    garbage.write_text("not a certificate\n")
    pins = (
        []
        if command == "pins"
        else ["--pin", unrelated_pin(), "--pin", unrelated_pin()]
    )
    result = run_pinws(command, echo_server.url(), "--ca-certs", str(garbage), *pins)
    assert result.code == 3, str(result)
    assert_one_line_error(result, f"--ca-certs {garbage}: holds no PEM certificates")
    assert "ca_certs=" not in result.stderr
    assert echo_server.connections == 0
