"""The assertion every refusal test makes: refused in the TLS handshake,
and the server got not one byte of the WebSocket request."""

from __future__ import annotations

import ssl
from typing import Any, TypeVar

import pytest

import pinws

from .servers import EavesdropServer, running
from .timing import WAIT

E = TypeVar("E", bound=BaseException)


def refused_before_a_byte(
    context: ssl.SSLContext, error: type[E], **connect: Any
) -> tuple[E, int]:
    """Connect to an eavesdropping server with *context*; return the error and port.

    Asserts that ``create_connection(**connect)`` raised *error*, that the
    handshake never completed, and that the server received nothing.
    """
    with running(EavesdropServer(context)) as attacker:
        with pytest.raises(error) as info:
            pinws.create_connection(attacker.url(), timeout=WAIT, **connect)
        assert attacker.sessions_done.wait(WAIT)
        assert attacker.received == b""
        assert attacker.handshakes_completed == 0
    return info.value, attacker.port
