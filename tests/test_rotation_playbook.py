"""docs/key-rotation.md, step by step, against servers whose key changes.

The policy files are the ones printed in the playbook: each step's TOML block
is read from the page, its placeholders replaced by real pins, and loaded
with PinPolicy.from_file. If the page and the behaviour drift apart, this
fails.
"""

from __future__ import annotations

import logging
import re
import socket
from pathlib import Path
from typing import Any

import pytest

import pinws
from helpers.collector import ReportCollector, join_report_threads
from helpers.keys import issue_for_key, new_key, pin_of, server_context
from helpers.pki import Chain, make_chain
from helpers.servers import WebSocketServer, running
from helpers.timing import WAIT
from pinws import PinFailureReport, PinPolicy

PLAYBOOK = Path(__file__).resolve().parent.parent / "docs" / "key-rotation.md"
STEP = re.compile(r"^% rotation-step: (\S+)\n```toml\n(.*?)^```$", re.M | re.S)
HOST = "api.example.com"


def playbook_steps() -> dict[str, str]:
    steps = dict(STEP.findall(PLAYBOOK.read_text(encoding="utf-8")))
    assert list(steps) == ["add-backup", "enforce", "roll", "retire"]
    return steps


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("pinws") and r.levelno == logging.WARNING
    ]


class Rotation:
    """The keys, the servers and the client side of one rotation."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.pki: Chain = make_chain(tmp_path, HOST)
        self.keys = {
            "current key": new_key(),
            "backup key 1": new_key(),
            "backup key 2": new_key(),
        }
        self.steps = playbook_steps()
        self.reports: list[PinFailureReport] = []

    def certificate(self, key_name: str) -> tuple[str, str]:
        key = self.keys[key_name] if key_name in self.keys else new_key()
        return issue_for_key(
            self.pki.intermediate,
            key,
            HOST,
            directory=self.tmp_path,
            name=key_name.replace(" ", "-"),
        )

    def policy(self, step: str) -> PinPolicy:
        text = self.steps[step]
        for name, key in self.keys.items():
            text = text.replace(f'"<pin of the {name}>"', f'"{pin_of(key)}"')
            text = text.replace(f'"<pin of {name}>"', f'"{pin_of(key)}"')
        assert "<" not in text, f"unreplaced placeholder in step {step!r}"
        path = self.tmp_path / f"{step}.toml"
        path.write_text(text, encoding="utf-8")
        return PinPolicy.from_file(path)

    def talk(self, server: WebSocketServer, pins: Any, **kwargs: Any) -> str:
        """Connect as a client of api.example.com; return the matched pin."""
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
        try:
            ws = pinws.create_connection(
                f"wss://{HOST}:{server.port}/",
                pins=pins,
                ca_certs=self.pki.ca_file,
                timeout=WAIT,
                socket=sock,
                on_pin_failure=self.reports.append,
                **kwargs,
            )
        except BaseException:
            sock.close()
            raise
        try:
            ws.send("hello")
            assert ws.recv() == "hello"
            return str(ws.matched_pin) if ws.matched_pin else ""
        finally:
            ws.close()


def test_the_key_rotation_playbook(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rotation = Rotation(tmp_path)
    keys = rotation.keys
    server = WebSocketServer(server_context(*rotation.certificate("current key")))
    # A node the operators forgot, serving a key nobody pinned.
    forgotten = WebSocketServer(server_context(*rotation.certificate("stray key")))
    collector = ReportCollector(rotation.pki.root)
    with running(server), running(forgotten), running(collector):
        # Before you start: one pin, and pinws warns about it.
        single = pinws.PinSet([pin_of(keys["current key"])])
        assert any("single pin and no backup" in m for m in warnings_of(caplog))
        assert rotation.talk(server, single) == pin_of(keys["current key"])

        # Step 1: add a backup pin (shipped report-only, step 2).
        caplog.clear()
        trial = rotation.policy("add-backup")
        (pin_set,) = trial.pin_sets()
        assert pin_set.report_only
        assert warnings_of(caplog) == []
        assert rotation.talk(server, trial) == pin_of(keys["current key"])
        # The backup is off the served chain: no warning about that either.
        assert warnings_of(caplog) == []
        assert rotation.reports == []

        # Step 2: the trial finds the forgotten node without breaking it...
        assert rotation.talk(forgotten, trial, report_uri=collector.url()) == ""
        (report,) = rotation.reports
        assert (report.report_only, report.enforced) == (True, False)
        assert report.host_pattern == HOST
        assert collector.wait_for(1)
        join_report_threads()
        assert collector.reports[0]["hostname"] == HOST
        assert collector.reports[0]["known-pins"] == [
            f'pin-sha256="{pin.base64}"' for pin in pin_set.pins
        ]
        # ...and, once the same pins are enforced, that node is refused.
        enforced = rotation.policy("enforce")
        (enforced_set,) = enforced.pin_sets()
        assert not enforced_set.report_only
        assert enforced_set.pins == pin_set.pins
        assert rotation.talk(server, enforced) == pin_of(keys["current key"])
        upgrades = len(forgotten.requests)
        with pytest.raises(pinws.PinMismatchError):
            rotation.talk(forgotten, enforced)
        assert len(forgotten.requests) == upgrades

        # Step 3: ship backup key 2, then put backup key 1 into service.
        roll = rotation.policy("roll")
        assert rotation.talk(server, roll) == pin_of(keys["current key"])
        server.context.load_cert_chain(*rotation.certificate("backup key 1"))
        server.resume_no_sessions()  # restarted with the new key
        for pins in (enforced, roll):
            assert rotation.talk(server, pins) == pin_of(keys["backup key 1"])
        # Only a client that never got a backup pin is locked out.
        with pytest.raises(pinws.PinMismatchError):
            rotation.talk(server, single)

        # Step 4: retire the old pin; the old key is refused from now on.
        caplog.clear()
        retire = rotation.policy("retire")
        (retired_set,) = retire.pin_sets()
        assert {str(p) for p in retired_set.pins} == {
            pin_of(keys["backup key 1"]),
            pin_of(keys["backup key 2"]),
        }
        assert rotation.talk(server, retire) == pin_of(keys["backup key 1"])
        assert warnings_of(caplog) == []
        with running(
            WebSocketServer(server_context(*rotation.certificate("current key")))
        ) as old_node:
            with pytest.raises(pinws.PinMismatchError):
                rotation.talk(old_node, retire)
            assert old_node.requests == []
