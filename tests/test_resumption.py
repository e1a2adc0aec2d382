"""TLS session resumption never skips the pin check.

A resumed handshake carries no certificate, so the verify callback -- and
with it the pin check -- would not run. pinws's contexts cache no sessions
and take no tickets, and a handshake that completes without the callback
accepting the leaf is refused (defence in depth).
"""

from __future__ import annotations

import socket
import ssl
import threading

import pytest
from OpenSSL import SSL

import pinws
from helpers.pki import Chain, unrelated_pin
from helpers.servers import stop_accepting
from helpers.timing import WAIT
from pinws._tls import verify as verify_module
from pinws._tls.context import TLSClient


class ResumingServer:
    """A TLS server with session tickets and a session cache, recording
    whether each connection resumed a session."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.reused: list[bool] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self._listener.accept()
            except OSError:
                return
            try:
                with self._context.wrap_socket(raw, server_side=True) as tls:
                    reused = tls.session_reused
                    tls.recv(1)  # until the client closes
            except (OSError, ssl.SSLError):
                reused = None
            with self._changed:
                self.reused.append(bool(reused))
                self._changed.notify_all()

    def wait_for(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.reused) >= count, WAIT)

    def close(self) -> None:
        stop_accepting(self._listener, self._thread)


def _client(chain: Chain) -> TLSClient:
    pins = pinws.PinSet([chain.leaf_pin, unrelated_pin()])
    return TLSClient(pinws.PinPolicy.for_all_hosts(pins), ca_certs=chain.ca_file)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_every_connection_runs_a_full_handshake_and_the_pin_check(
    chain: Chain, version: ssl.TLSVersion
) -> None:
    server = ResumingServer(chain.server_context(minimum=version, maximum=version))
    client = _client(chain)
    try:
        for _ in range(3):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
            pinned = client.wrap(raw, "localhost", server.port)
            assert str(pinned.matched_pin) == chain.leaf_pin
            pinned.close()
        assert server.wait_for(3)
    finally:
        server.close()
    assert server.reused == [False, False, False]


def test_the_context_caches_no_sessions(chain: Chain) -> None:
    context = _client(chain)._context
    # set_session_cache_mode returns the mode it replaces.
    assert context.set_session_cache_mode(SSL.SESS_CACHE_OFF) == SSL.SESS_CACHE_OFF


def test_a_handshake_the_verify_callback_did_not_accept_is_refused(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a resumed session would: the handshake completes, but the callback
    # never accepted a leaf.
    def approve_without_accepting(
        self: verify_module.HandshakeVerifier,
        cert: object,
        code: int,
        depth: int,
        ok: int,
    ) -> bool:
        return bool(ok)

    monkeypatch.setattr(
        verify_module.HandshakeVerifier, "on_certificate", approve_without_accepting
    )
    server = ResumingServer(chain.server_context())
    try:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
        with pytest.raises(pinws.TLSHandshakeError, match="without certificate"):
            _client(chain).wrap(raw, "localhost", server.port)
        assert server.wait_for(1)
    finally:
        server.close()
