"""Fixtures shared by the whole suite: fresh PKI and real loopback servers."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests: the same examples on every run, and no per-example
# deadline, so CI stays green on a loaded machine and a red run is a change,
# not a new random draw. PINWS_FUZZ_EXAMPLES (see helpers/fuzz.py) asks for
# a random search instead, remembering what it found.
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("search", deadline=None)
settings.load_profile("search" if os.environ.get("PINWS_FUZZ_EXAMPLES") else "ci")

# Shared assertions in the helpers get pytest's detailed failure messages.
pytest.register_assert_rewrite("helpers")

from helpers.ct import CTWorld, Scenario, scenarios  # noqa: E402
from helpers.pki import Chain, make_chain  # noqa: E402
from helpers.servers import WebSocketServer  # noqa: E402
from helpers.xvfb import xvfb_display  # noqa: E402


@pytest.fixture
def chain(tmp_path: Path) -> Chain:
    """root -> intermediate -> leaf for localhost, 127.0.0.1 and ::1."""
    return make_chain(tmp_path)


@pytest.fixture
def rogue_chain(tmp_path: Path) -> Chain:
    """The same names, issued by a different root (an interceptor's)."""
    return make_chain(tmp_path, name="rogue")


@pytest.fixture
def echo_server(chain: Chain) -> Iterator[WebSocketServer]:
    server = WebSocketServer(chain.server_context())
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def ct_world() -> CTWorld:
    """A CA and CT logs (generating RSA keys is slow: once per run)."""
    return CTWorld.create()


@pytest.fixture(scope="session")
def ct_scenarios(ct_world: CTWorld) -> dict[str, Scenario]:
    """Every Certificate Transparency case, issued once per run."""
    return scenarios(ct_world)


@pytest.fixture(autouse=True)
def _pinws_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pinws")


@pytest.fixture(scope="session")
def display() -> Iterator[str]:
    """One private X server (Xvfb) for every test that needs a display.

    One for the whole session, not one per module: Tk keeps its connection
    to a display after its last window is gone, and Xlib ends the process
    when that display's server goes away.
    """
    with xvfb_display("800x600x24") as name:
        yield name
