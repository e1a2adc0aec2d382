"""Logging etiquette (review finding 4): a NullHandler, child loggers, and a
repeated condition logged once, then at most once per interval."""

from __future__ import annotations

import datetime
import logging
import subprocess
import sys
import textwrap
import threading

import pytest

import pinws
from helpers.cli import cli_env
from helpers.pki import Chain, unrelated_pin
from helpers.servers import WebSocketServer
from helpers.timing import WAIT
from pinws._log import RepeatLimiter, get_logger
from pinws._pins import pinset as pinset_module

SUBSYSTEMS = {
    "tls",
    "policy",
    "reports",
    "client",
    "executors",
    "cli",
    "store",
    "ct",
    "transport",
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pinws_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith("pinws") and r.levelno >= logging.WARNING
    ]


# -- the helper ----------------------------------------------------------------


def test_a_condition_is_logged_once_then_once_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    limiter = RepeatLimiter(60, clock=clock)
    logger = get_logger("tls")
    logged = [limiter.log(logger, logging.WARNING, "k", "cond %s", 1) for _ in range(5)]
    assert logged == [True, False, False, False, False]
    clock.now += 59.9
    assert not limiter.log(logger, logging.WARNING, "k", "cond %s", 1)
    clock.now += 0.1
    assert limiter.log(logger, logging.WARNING, "k", "cond %s", 1)
    messages = [r.getMessage() for r in pinws_warnings(caplog)]
    assert messages == [
        "cond 1",
        "cond 1 (seen 5 more times since it was last logged)",
    ]
    # The record points at the caller, not at the helper.
    assert {r.pathname for r in pinws_warnings(caplog)} == {__file__}


def test_keys_are_independent_and_intervals_can_be_per_call() -> None:
    clock = FakeClock()
    limiter = RepeatLimiter(60, clock=clock)
    assert limiter.check("a") == 0
    assert limiter.check("b") == 0
    assert limiter.check("a") is None
    clock.now += 5
    assert limiter.check("a", interval=5) == 1
    assert limiter.check("b") is None


def test_the_limiter_remembers_a_bounded_number_of_keys() -> None:
    limiter = RepeatLimiter(60, clock=FakeClock(), max_keys=3)
    for key in range(10):
        assert limiter.check(key) == 0
    assert len(limiter._seen) == 3
    assert limiter.check(9) is None  # recent keys are still remembered
    assert limiter.check(0) == 0  # the oldest were forgotten


def test_a_disabled_level_is_not_recorded(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RepeatLimiter(60, clock=FakeClock())
    logger = get_logger("policy")
    caplog.set_level(logging.ERROR, logger="pinws")
    assert not limiter.log(logger, logging.WARNING, "k", "quiet")
    caplog.set_level(logging.DEBUG, logger="pinws")
    assert limiter.log(logger, logging.WARNING, "k", "now heard")


def test_concurrent_occurrences_are_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RepeatLimiter(60, clock=FakeClock())
    logger = get_logger("tls")
    start = threading.Barrier(8)

    def occur() -> None:
        start.wait()
        limiter.log(logger, logging.WARNING, "k", "once")

    threads = [threading.Thread(target=occur) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(pinws_warnings(caplog)) == 1


# -- the library's warnings --------------------------------------------------


def _three_connections(url: str, **kwargs: object) -> None:
    for _ in range(3):
        ws = pinws.create_connection(url, timeout=WAIT, **kwargs)
        ws.send("x")
        assert ws.recv() == "x"
        ws.close()


def test_three_connections_with_one_pin_warn_once(
    chain: Chain, echo_server: WebSocketServer, caplog: pytest.LogCaptureFixture
) -> None:
    # pins= as a list: a new PinSet for every call, the review's case.
    _three_connections(echo_server.url(), pins=[chain.leaf_pin], ca_certs=chain.ca_file)
    messages = [r.getMessage() for r in pinws_warnings(caplog)]
    assert len([m for m in messages if "single pin and no backup" in m]) == 1
    assert len([m for m in messages if "no backup key off that chain" in m]) == 1
    assert len(messages) == 2


def test_a_report_only_mismatch_is_one_line_once(
    chain: Chain, echo_server: WebSocketServer, caplog: pytest.LogCaptureFixture
) -> None:
    pins = pinws.PinSet([unrelated_pin(), unrelated_pin()], report_only=True)
    _three_connections(echo_server.url(), pins=pins, ca_certs=chain.ca_file)
    (record,) = pinws_warnings(caplog)
    message = record.getMessage()
    assert record.name == "pinws.tls"
    assert "\n" not in message
    assert "report-only" in message
    assert chain.leaf_pin in message


def test_an_expired_pin_set_is_one_line_once(
    chain: Chain,
    echo_server: WebSocketServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expires = datetime.date(2030, 6, 30)
    monkeypatch.setattr(
        pinset_module, "utc_today", lambda: expires + datetime.timedelta(days=1)
    )
    wrong = [unrelated_pin(), unrelated_pin()]
    for _ in range(3):
        # Rebuilt each time, as an app reading its config per connection does.
        _three_connections(
            echo_server.url(),
            pins=pinws.PinSet(wrong, expires=expires),
            ca_certs=chain.ca_file,
        )
    messages = [r.getMessage() for r in pinws_warnings(caplog)]
    assert len(messages) == 2, messages
    assert all("\n" not in m for m in messages)
    assert any("expired on 2030-06-30" in m for m in messages)
    assert any("let through (expired pin set)" in m for m in messages)


def test_debug_ca_warns_on_every_connection_in_one_line(
    chain: Chain, echo_server: WebSocketServer, caplog: pytest.LogCaptureFixture
) -> None:
    pins = [unrelated_pin(), unrelated_pin()]
    for _ in range(3):
        _three_connections(echo_server.url(), pins=pins, debug_ca=chain.ca_file)
    messages = [r.getMessage() for r in pinws_warnings(caplog)]
    per_connection = [m for m in messages if "accepted without pin checks" in m]
    assert len(per_connection) == 9
    assert all("\n" not in m and len(m) < 200 for m in per_connection)
    # The setup warning (one per client built) is not repeated.
    assert len([m for m in messages if "for development only" in m]) == 1


def test_every_logger_is_a_pinws_child(
    chain: Chain, echo_server: WebSocketServer, caplog: pytest.LogCaptureFixture
) -> None:
    pinws.PinSet([unrelated_pin()])
    _three_connections(
        echo_server.url(),
        pins=pinws.PinSet([unrelated_pin(), unrelated_pin()], report_only=True),
        ca_certs=chain.ca_file,
    )
    names = {r.name for r in caplog.records}
    assert names
    assert {name.split(".", 1)[0] for name in names} == {"pinws"}
    assert "pinws" not in names  # each record names its subsystem
    assert {name.split(".")[1] for name in names} <= SUBSYSTEMS


def test_pinws_has_a_null_handler() -> None:
    handlers = logging.getLogger("pinws").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


PROGRAM = textwrap.dedent(
    """
    import logging, sys
    import pinws
    if sys.argv[1] == "configured":
        logging.basicConfig(level=logging.WARNING)
    pinws.PinSet([sys.argv[2]])  # a single pin: a warning
    pinws.PinSet([sys.argv[2]])
    """
)


def _program(mode: str, pin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, mode, pin],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
        check=True,
        env=cli_env(),
    )


def test_an_app_that_never_configured_logging_sees_nothing_on_stderr() -> None:
    pin = unrelated_pin()
    quiet = _program("unconfigured", pin)
    assert quiet.stderr == ""
    assert quiet.stdout == ""
    # The twin: an app that configured logging gets the warning, once.
    heard = _program("configured", pin)
    assert heard.stderr.count("single pin and no backup") == 1
    assert "WARNING:pinws.policy:" in heard.stderr
