"""Pin failure reports: their RFC 7469 form, and their delivery to report_uri.

Every delivery test POSTs to a real HTTPS collector on loopback whose
certificate the client verifies against the same ca_certs as the connection.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509

import pinws
from helpers.collector import ReportCollector, join_report_threads
from helpers.pki import Chain, unrelated_pin
from helpers.servers import WebSocketServer, running
from helpers.timing import WAIT
from pinws import PinFailureReport, PinPolicy, PinSet
from pinws._reports.sender import DEDUPLICATION_SECONDS, MAX_IN_FLIGHT, ReportSender

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def wrong_pins(**options: Any) -> PinSet:
    return PinSet([unrelated_pin(), unrelated_pin()], **options)


def pems(certs: list[x509.Certificate]) -> list[str]:
    from cryptography.hazmat.primitives.serialization import Encoding

    return [c.public_bytes(Encoding.PEM).decode() for c in certs]


def connect_and_collect(
    url: str, chain: Chain, pins: Any, **kwargs: Any
) -> list[PinFailureReport]:
    """Connect (report-only pins), echo once, and return the reports."""
    reports: list[PinFailureReport] = []
    ws = pinws.create_connection(
        url,
        pins=pins,
        ca_certs=chain.ca_file,
        timeout=WAIT,
        on_pin_failure=reports.append,
        **kwargs,
    )
    try:
        ws.send("still talking")
        assert ws.recv() == "still talking"
    finally:
        ws.close()
    return reports


# -- the report --------------------------------------------------------------


def test_report_json_follows_rfc_7469_section_3(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    pin_set = wrong_pins(report_only=True, expires=datetime.date(2099, 12, 31))
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    (report,) = connect_and_collect(echo_server.url(), chain, pin_set)
    body = json.loads(report.to_json())
    assert body == report.as_dict()
    assert RFC3339.match(body["date-time"])
    moment = datetime.datetime.strptime(body["date-time"], "%Y-%m-%dT%H:%M:%SZ")
    assert moment.replace(tzinfo=datetime.timezone.utc) >= before
    assert body["hostname"] == "localhost"
    assert body["port"] == echo_server.port
    assert body["noted-hostname"] == "localhost"
    assert body["include-subdomains"] is False
    assert body["effective-expiration-date"] == "2099-12-31T23:59:59Z"
    leaf = x509.load_pem_x509_certificate(chain.leaf.cert_chain_pems[0].bytes())
    intermediate = x509.load_pem_x509_certificate(chain.intermediate.cert_pem.bytes())
    root = x509.load_pem_x509_certificate(chain.root.cert_pem.bytes())
    # What the server sent (leaf and intermediate), and what verified (up
    # to the trust anchor from the store).
    assert body["served-certificate-chain"] == pems([leaf, intermediate])
    assert body["validated-certificate-chain"] == pems([leaf, intermediate, root])
    assert body["known-pins"] == [f'pin-sha256="{pin.base64}"' for pin in pin_set.pins]
    assert (body["enforced"], body["report-only"], body["expired"]) == (
        False,
        True,
        False,
    )
    assert "host-pattern" not in body
    assert report.known_pins == tuple(str(p) for p in pin_set.pins)


@pytest.mark.parametrize(
    ("pattern", "noted", "subdomains"),
    [
        ("localhost", "localhost", False),
        ("**.LOCALHOST.", "localhost", True),
    ],
)
def test_noted_hostname_comes_from_the_matching_pattern(
    chain: Chain,
    echo_server: WebSocketServer,
    pattern: str,
    noted: str,
    subdomains: bool,
) -> None:
    policy = PinPolicy({pattern: wrong_pins(report_only=True)})
    (report,) = connect_and_collect(echo_server.url(), chain, policy)
    assert report.noted_hostname == noted
    assert report.include_subdomains is subdomains
    assert report.host_pattern == pattern.strip()
    body = report.as_dict()
    assert body["noted-hostname"] == noted
    assert body["include-subdomains"] is subdomains
    assert body["host-pattern"] == pattern


def test_one_label_wildcard_is_noted_at_its_base(tmp_path: Path, chain: Chain) -> None:
    import socket

    leaf = chain.intermediate.issue_cert("api.example.test")
    with running(WebSocketServer(chain.server_context(leaf=leaf))) as server:
        policy = PinPolicy({"*.example.test": wrong_pins(report_only=True)})
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
        (report,) = connect_and_collect(
            f"wss://API.example.test:{server.port}/", chain, policy, socket=sock
        )
    assert report.hostname == "api.example.test"
    assert report.noted_hostname == "example.test"
    assert report.include_subdomains
    assert report.as_dict()["host-pattern"] == "*.example.test"


# -- delivery to report_uri --------------------------------------------------


def test_report_is_posted_as_json_to_a_verified_https_collector(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    with running(ReportCollector(chain.root)) as collector:
        reports = connect_and_collect(
            echo_server.url(),
            chain,
            wrong_pins(report_only=True),
            report_uri=collector.url(),
        )
        assert collector.wait_for(1)
        join_report_threads()
    assert collector.reports == [json.loads(reports[0].to_json())]
    assert collector.content_types == ["application/json"]


def test_enforced_failure_is_reported_too(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    seen: list[PinFailureReport] = []
    with running(ReportCollector(chain.root)) as collector:
        with pytest.raises(pinws.PinMismatchError):
            pinws.create_connection(
                echo_server.url(),
                pins=wrong_pins(),
                ca_certs=chain.ca_file,
                timeout=WAIT,
                on_pin_failure=seen.append,
                report_uri=collector.url(),
            )
        assert collector.wait_for(1)
    (body,) = collector.reports
    assert body["enforced"] is True
    assert body["report-only"] is False
    assert seen[0].enforced
    assert echo_server.requests == []


def test_identical_reports_are_sent_once(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    pin_set = wrong_pins(report_only=True)
    with running(ReportCollector(chain.root)) as collector:
        for _ in range(3):
            connect_and_collect(
                echo_server.url(), chain, pin_set, report_uri=collector.url()
            )
        join_report_threads()
        assert len(collector.reports) == 1
        # A different report (other pins) is not a duplicate.
        connect_and_collect(
            echo_server.url(),
            chain,
            wrong_pins(report_only=True),
            report_uri=collector.url(),
        )
        assert collector.wait_for(2)
        join_report_threads()
    assert len(collector.reports) == 2


def report_for(chain: Chain, hostname: str = "localhost") -> PinFailureReport:
    leaf = x509.load_pem_x509_certificate(chain.leaf.cert_chain_pems[0].bytes())
    return PinFailureReport(
        hostname=hostname,
        port=443,
        date_time=datetime.datetime.now(datetime.timezone.utc),
        served_chain=(leaf,),
        verified_chain=(leaf,),
        known_pins=(unrelated_pin(),),
        enforced=True,
    )


def test_duplicates_are_suppressed_for_24_hours_per_process(chain: Chain) -> None:
    now = [1000.0]
    with running(ReportCollector(chain.root)) as collector:
        first = ReportSender(
            collector.url(), ca_certs=chain.ca_file, clock=lambda: now[0]
        )
        second = ReportSender(
            collector.url(), ca_certs=chain.ca_file, clock=lambda: now[0]
        )
        report = report_for(chain)
        assert first.submit(report) is not None
        # Another sender in the same process, a later date-time: still the
        # same report.
        later = dataclasses.replace(
            report, date_time=report.date_time + datetime.timedelta(days=1)
        )
        assert second.submit(later) is None
        now[0] += DEDUPLICATION_SECONDS - 1
        assert first.submit(report) is None
        now[0] += 1
        assert first.submit(report) is not None
        assert collector.wait_for(2)
        join_report_threads()
    assert len(collector.reports) == 2


def test_a_slow_collector_does_not_delay_the_connection(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    gate = threading.Event()
    with running(ReportCollector(chain.root, gate=gate)) as collector:
        # Report-only: the connection is used while the collector still
        # holds the report.
        connect_and_collect(
            echo_server.url(),
            chain,
            wrong_pins(report_only=True),
            report_uri=collector.url(),
        )
        assert not collector.answered.is_set()
        # Enforced: the refusal is raised while the collector still holds it.
        with pytest.raises(pinws.PinMismatchError):
            pinws.create_connection(
                echo_server.url(),
                pins=wrong_pins(),
                ca_certs=chain.ca_file,
                timeout=WAIT,
                report_uri=collector.url(),
            )
        assert not collector.answered.is_set()
        assert collector.arrived.wait(WAIT)
        gate.set()
        assert collector.wait_for(2)
        join_report_threads()
    assert sorted(r["enforced"] for r in collector.reports) == [False, True]


def test_the_post_has_its_own_timeout(
    chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    gate = threading.Event()
    with running(ReportCollector(chain.root, gate=gate)) as collector:
        sender = ReportSender(collector.url(), ca_certs=chain.ca_file, timeout=0.2)
        started = time.monotonic()
        thread = sender.submit(report_for(chain))
        assert thread is not None
        assert time.monotonic() - started < 0.2
        thread.join(WAIT)
        assert not thread.is_alive()
        assert collector.reports == []
    assert any(
        "could not send pin failure report" in r.getMessage()
        and "timed out" in r.getMessage()
        for r in caplog.records
    )


def test_the_collector_certificate_is_verified(
    chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = trustme.CA()
    with running(ReportCollector(stranger)) as collector:
        sender = ReportSender(collector.url(), ca_certs=chain.ca_file)
        thread = sender.submit(report_for(chain))
        assert thread is not None
        thread.join(WAIT)
        assert collector.wait_for_failures(1)
        assert collector.reports == []
    assert any("CERTIFICATE_VERIFY_FAILED" in r.getMessage() for r in caplog.records)


def test_redirects_are_not_followed(
    chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        running(ReportCollector(chain.root)) as elsewhere,
        running(ReportCollector(chain.root, redirect_to=elsewhere.url())) as collector,
    ):
        thread = ReportSender(collector.url(), ca_certs=chain.ca_file).submit(
            report_for(chain)
        )
        assert thread is not None
        thread.join(WAIT)
        assert collector.answered.is_set()
        assert elsewhere.reports == []
        assert not elsewhere.arrived.is_set()
    assert any("307" in r.getMessage() for r in caplog.records)


def test_a_hanging_collector_cannot_pile_up_threads(
    chain: Chain, caplog: pytest.LogCaptureFixture
) -> None:
    gate = threading.Event()
    with running(ReportCollector(chain.root, gate=gate)) as collector:
        sender = ReportSender(collector.url(), ca_certs=chain.ca_file)
        threads = [sender.submit(report_for(chain, f"h{i}.test")) for i in range(6)]
        assert sum(t is not None for t in threads) == MAX_IN_FLIGHT
        assert any(
            "dropping a pin failure report" in r.getMessage() for r in caplog.records
        )
        gate.set()
        assert collector.wait_for(MAX_IN_FLIGHT)
        join_report_threads()
        # The dropped ones were not marked as sent: they go out next time.
        assert sender.submit(report_for(chain, "h5.test")) is not None
        assert collector.wait_for(MAX_IN_FLIGHT + 1)
        join_report_threads()


@pytest.mark.parametrize(
    ("uri", "fragment"),
    [
        ("http://127.0.0.1/report", "must be an https:// URL"),
        ("https:///report", "must be an https:// URL"),
        (b"https://x", "must be a string"),
    ],
)
def test_report_uri_is_checked_when_given(
    chain: Chain, uri: object, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        pinws.PinnedWebSocketApp(
            "wss://localhost/",
            pins=wrong_pins(),
            ca_certs=chain.ca_file,
            report_uri=uri,
        )


def test_sender_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        ReportSender("https://x.test/", ca_certs=tmp_path / "missing.pem")
    for timeout in (0, -1, True, "5"):
        with pytest.raises(ValueError, match="timeout"):
            ReportSender("https://x.test/", timeout=timeout)  # type: ignore[arg-type]


def test_a_failing_on_pin_failure_handler_is_logged_not_raised(
    chain: Chain, echo_server: WebSocketServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(report: PinFailureReport) -> None:
        raise RuntimeError("handler bug")

    ws = pinws.create_connection(
        echo_server.url(),
        pins=wrong_pins(report_only=True),
        ca_certs=chain.ca_file,
        timeout=WAIT,
        on_pin_failure=broken,
    )
    ws.close()
    assert any(
        r.levelno == logging.ERROR
        and r.exc_info
        and "handler bug" in str(r.exc_info[1])
        for r in caplog.records
    )
