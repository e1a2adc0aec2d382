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

from helpers.pki import Chain, make_chain  # noqa: E402
from helpers.servers import WebSocketServer  # noqa: E402


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


@pytest.fixture(autouse=True)
def _pinws_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="pinws")
