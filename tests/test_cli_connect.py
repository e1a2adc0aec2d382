"""``pinws connect``: a pinned console that works in a terminal and in a pipe."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from helpers.cli import (
    ROOT,
    Result,
    assert_one_line_error,
    cli_env,
    pinws_command,
    run_pinws,
)
from helpers.pki import Chain, trust_bundle, unrelated_pin
from helpers.servers import ConnectProxy, EavesdropServer, WebSocketServer, running
from helpers.timing import SCALE, WAIT

STAMP = r"\d\d:\d\d:\d\d\.\d{3}"


def connect(
    server: Any, ca_file: str, pins: list[str], *args: str, stdin: str
) -> Result:
    pin_args = [arg for pin in pins for arg in ("--pin", pin)]
    return run_pinws(
        "connect", server.url(), "--ca-certs", ca_file, *pin_args, *args, stdin=stdin
    )


def test_a_pipe_is_sent_line_by_line_and_replies_are_printed(
    chain: Chain,
) -> None:
    server = WebSocketServer(chain.server_context(), subprotocols=["chat.v2"])
    with running(server):
        result = connect(
            server,
            chain.ca_file,
            [chain.intermediate_pin, unrelated_pin()],
            "--header",
            "X-Trace: abc 123",
            "--subprotocol",
            "chat.v2",
            "--linger",
            str(0.5 * SCALE),
            stdin="first line\nsecond, ünïcode\n",
        )
    assert result.code == 0, str(result)
    received = re.findall(rf"^{STAMP} < (.*)$", result.stdout, re.MULTILINE)
    sent = re.findall(rf"^{STAMP} > (.*)$", result.stdout, re.MULTILINE)
    assert sent == ["first line", "second, ünïcode"]
    assert received == ["first line", "second, ünïcode"]
    # Connection details go to stderr, never mixed into the messages.
    assert f"pin {chain.intermediate_pin} matched at depth 1" in result.stderr
    assert "subprotocol chat.v2" in result.stderr
    # websocket-client 1.9.0 does not report the status of a close we began.
    assert re.search(
        r"^pinws connect: connection closed( \(1000\))?$", result.stderr, re.M
    )
    request = server.requests[0]
    assert request.headers["X-Trace"] == "abc 123"
    assert request.headers["Sec-WebSocket-Protocol"] == "chat.v2"


def test_json_lines_output(chain: Chain, echo_server: WebSocketServer) -> None:
    result = connect(
        echo_server,
        chain.ca_file,
        [chain.leaf_pin, unrelated_pin()],
        "--json",
        "--linger",
        str(0.5 * SCALE),
        stdin='{"op": "ping"}\n',
    )
    assert result.code == 0, str(result)
    records = result.json_lines()
    assert [(r["direction"], r["type"], r["data"]) for r in records] == [
        ("sent", "text", '{"op": "ping"}'),
        ("received", "text", '{"op": "ping"}'),
    ]
    assert all(re.match(r"\d{4}-\d\d-\d\dT", r["time"]) for r in records)


def test_after_end_of_input_it_waits_until_replies_stop(chain: Chain) -> None:
    # Replies keep coming, each well inside --linger of the previous one but
    # the last long after --linger from the end of input: only a timer reset
    # by every message receives them all.
    gap, linger, count = 0.4 * SCALE, 1.2 * SCALE, 4

    def slow_replies(connection: ServerConnection) -> None:
        for message in connection:
            for number in range(count):
                time.sleep(gap)
                connection.send(f"{message} #{number}")

    with running(
        WebSocketServer(chain.server_context(), handler=slow_replies)
    ) as server:
        result = connect(
            server,
            chain.ca_file,
            [chain.root_pin, unrelated_pin()],
            "--linger",
            str(linger),
            stdin="tick\n",
        )
    assert result.code == 0, str(result)
    received = re.findall(rf"^{STAMP} < (.*)$", result.stdout, re.MULTILINE)
    assert received == [f"tick #{n}" for n in range(count)]


def test_the_linger_starts_once_the_input_is_sent_not_at_end_of_input(
    chain: Chain,
) -> None:
    # The whole input (and its end) is read at once, while the server takes
    # longer than --linger to accept the upgrade.
    def slow_upgrade(connection: ServerConnection, request: Any) -> Any:
        time.sleep(1.0 * SCALE)

    server = WebSocketServer(chain.server_context(), process_request=slow_upgrade)
    with running(server):
        result = connect(
            server,
            chain.ca_file,
            [chain.intermediate_pin, unrelated_pin()],
            "--linger",
            str(0.5 * SCALE),
            stdin="late\n",
        )
    assert result.code == 0, str(result)
    assert re.search(rf"^{STAMP} < late$", result.stdout, re.MULTILINE), str(result)


def test_it_ends_when_the_server_closes_without_waiting_for_linger(
    chain: Chain,
) -> None:
    def answer_once_and_close(connection: ServerConnection) -> None:
        message = connection.recv()
        connection.send(f"bye after {message}")
        connection.close(1001, "done")

    with running(
        WebSocketServer(chain.server_context(), handler=answer_once_and_close)
    ) as server:
        started = time.monotonic()
        result = connect(
            server,
            chain.ca_file,
            [chain.leaf_pin, unrelated_pin()],
            "--linger",
            "600",
            stdin="hi\n",
        )
        elapsed = time.monotonic() - started
    assert result.code == 0, str(result)
    assert elapsed < WAIT, f"waited {elapsed:.1f} s: lingered after the server closed"
    assert re.search(rf"^{STAMP} < bye after hi$", result.stdout, re.MULTILINE)
    assert "connection closed (1001 done)" in result.stderr


def test_a_pin_mismatch_is_critical_and_sends_nothing(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    wrong = [unrelated_pin(), unrelated_pin()]
    result = connect(echo_server, chain.ca_file, wrong, stdin="secret\n")
    assert result.code == 2, str(result)
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("pinws connect: error: pin mismatch, nothing was sent")
    for pin in chain.pins + wrong:
        assert pin in result.stderr
    assert result.stdout == ""
    assert echo_server.requests == []


def test_an_interceptor_the_client_trusts_receives_zero_bytes(
    tmp_path: Path, chain: Chain, rogue_chain: Chain
) -> None:
    bundle = trust_bundle(tmp_path, chain, rogue_chain)
    with running(EavesdropServer(rogue_chain.server_context())) as attacker:
        result = connect(
            attacker,
            bundle,
            [chain.intermediate_pin, unrelated_pin()],
            "--header",
            "Authorization: Bearer do-not-leak",
            stdin="secret\n",
        )
        assert attacker.sessions_done.wait(WAIT)
    assert result.code == 2, str(result)
    assert rogue_chain.leaf_pin in result.stderr
    assert bytes(attacker.received) == b""
    assert attacker.handshakes_completed == 0


def test_connect_through_a_connect_proxy(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    with running(ConnectProxy()) as proxy:
        result = connect(
            echo_server,
            chain.ca_file,
            [chain.intermediate_pin, unrelated_pin()],
            "--proxy",
            f"http://127.0.0.1:{proxy.port}",
            "--linger",
            str(0.5 * SCALE),
            stdin="via proxy\n",
        )
    assert result.code == 0, str(result)
    assert re.search(rf"^{STAMP} < via proxy$", result.stdout, re.MULTILINE)
    assert proxy.tunnels == [f"localhost:{echo_server.port}"]
    assert proxy.first_client_bytes[0][:1] == b"\x16"


def test_a_refused_upgrade_is_could_not_connect(chain: Chain) -> None:
    def forbid(connection: ServerConnection, request: Any) -> Any:
        return connection.respond(HTTPStatus.FORBIDDEN, "go away\n")

    with running(
        WebSocketServer(chain.server_context(), process_request=forbid)
    ) as server:
        result = connect(
            server, chain.ca_file, [chain.leaf_pin, unrelated_pin()], stdin="x\n"
        )
    assert result.code == 3, str(result)
    assert_one_line_error(result, "could not connect", "403")


def test_an_untrusted_chain_is_critical(echo_server: WebSocketServer) -> None:
    result = run_pinws(
        "connect",
        echo_server.url(),
        "--pin",
        unrelated_pin(),
        "--pin",
        unrelated_pin(),
        stdin="x\n",
    )
    assert result.code == 2, str(result)
    assert_one_line_error(
        result,
        "verification failed",
        "issuer is not in the trust store",
        "add --ca-certs FILE",
    )
    assert "ca_certs=" not in result.stderr
    assert echo_server.requests == []


def test_bad_headers_are_refused_before_connecting(
    echo_server: WebSocketServer,
) -> None:
    result = run_pinws(
        "connect",
        echo_server.url(),
        "--pin",
        unrelated_pin(),
        "--pin",
        unrelated_pin(),
        "--header",
        "NoColon",
        stdin="",
    )
    assert result.code == 3, str(result)
    assert_one_line_error(result, "--header 'NoColon'", "Name: value")
    assert echo_server.connections == 0


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_ctrl_c_in_an_interactive_session_exits_130(
    chain: Chain, echo_server: WebSocketServer
) -> None:
    controller, terminal = pty.openpty()
    pins = ["--pin", chain.leaf_pin, "--pin", unrelated_pin()]
    process = subprocess.Popen(
        pinws_command("connect", echo_server.url(), "--ca-certs", chain.ca_file, *pins),
        stdin=terminal,  # a terminal: the interactive mode
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
        cwd=str(ROOT),
    )
    os.close(terminal)
    try:
        assert process.stderr is not None
        first = process.stderr.readline().decode()
        assert "connected to" in first, first
        process.send_signal(signal.SIGINT)
        code = process.wait(WAIT)
        rest = process.stderr.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
        os.close(controller)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert code == 130, first + rest
    assert "pinws connect: interrupted" in rest
