"""Error translation, tested without the network.

The verifier's refusals run over two pyOpenSSL connections joined by memory
BIOs -- no socket at all. The TLS stream's translation of OpenSSL errors into
the exceptions websocket-client expects runs over a local socket pair, with a
pyOpenSSL server on the other end scripted by the test.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from OpenSSL import SSL
from websocket import WebSocketConnectionClosedException, WebSocketTimeoutException

import pinws
from helpers.pki import Chain, unrelated_pin
from helpers.timing import WAIT
from pinws._pins.policy import as_policy
from pinws._tls.config import TLSConfig
from pinws._tls.context import TLSClient
from pinws._tls.verify import HandshakeVerifier
from pinws._transport.socket import ConnectionInterrupted, TLSStream


def server_context(chain: Chain, directory: Path) -> SSL.Context:
    pem = directory / "server.pem"
    pem.write_bytes(chain.leaf.private_key_and_cert_chain_pem.bytes())
    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.use_certificate_chain_file(str(pem))
    context.use_privatekey_file(str(pem))
    return context


def pump(client: SSL.Connection, server: SSL.Connection) -> None:
    """Run both handshakes, moving bytes between the BIOs, until done or failed."""
    for _ in range(20):
        for connection in (client, server):
            try:
                connection.do_handshake()
            except SSL.WantReadError:
                pass
        moved = False
        for source, target in ((client, server), (server, client)):
            try:
                data = source.bio_read(65536)
            except SSL.WantReadError:
                continue
            target.bio_write(data)
            moved = True
        if not moved:
            return


@pytest.fixture
def in_memory(
    chain: Chain, tmp_path: Path
) -> Callable[..., tuple[HandshakeVerifier, Exception | None]]:
    context = server_context(chain, tmp_path)

    def handshake(
        pins: list[str], ca_certs: str, hostname: str = "localhost"
    ) -> tuple[HandshakeVerifier, Exception | None]:
        client_tls = TLSClient(TLSConfig.create(as_policy(pins), ca_certs=ca_certs))
        client = SSL.Connection(client_tls._context, None)
        client.set_tlsext_host_name(hostname.encode())
        verifier = HandshakeVerifier(
            hostname=hostname, port=443, pin_set=client_tls.policy.pin_set_for(hostname)
        )
        client.set_app_data(verifier)
        client.set_connect_state()
        server = SSL.Connection(context, None)
        server.set_accept_state()
        failure: Exception | None = None
        try:
            pump(client, server)
        except SSL.Error as exc:
            failure = exc
        return verifier, failure

    return handshake


def test_a_matching_pin_is_accepted_in_memory(in_memory: Any, chain: Chain) -> None:
    verifier, failure = in_memory(
        [chain.intermediate_pin, unrelated_pin()], chain.ca_file
    )
    assert failure is None
    assert verifier.accepted
    assert str(verifier.matched_pin) == chain.intermediate_pin
    assert [entry.pin for entry in verifier.verified_chain] == chain.pins


def test_a_mismatch_fails_the_handshake_with_the_error_kept(
    in_memory: Any, chain: Chain
) -> None:
    verifier, failure = in_memory([unrelated_pin(), unrelated_pin()], chain.ca_file)
    assert isinstance(failure, SSL.Error)
    assert isinstance(verifier.error, pinws.PinMismatchError)
    assert not verifier.accepted


def test_an_untrusted_chain_is_a_verification_error(
    in_memory: Any, chain: Chain, rogue_chain: Chain
) -> None:
    verifier, failure = in_memory(
        [chain.leaf_pin, unrelated_pin()], rogue_chain.ca_file
    )
    assert isinstance(failure, SSL.Error)
    assert isinstance(verifier.error, pinws.CertificateVerificationError)
    assert verifier.error.verify_code in (19, 20)


def test_a_wrong_host_name_is_refused_whatever_the_pins(
    in_memory: Any, chain: Chain
) -> None:
    verifier, failure = in_memory(
        [chain.leaf_pin, unrelated_pin()], chain.ca_file, hostname="example.test"
    )
    assert isinstance(failure, SSL.Error)
    assert isinstance(verifier.error, pinws.HostnameMismatchError)


def test_an_unexpected_exception_in_the_callback_is_kept_not_lost(
    in_memory: Any, chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> bool:
        raise RuntimeError("a bug in the verifier")

    monkeypatch.setattr(HandshakeVerifier, "on_certificate", broken)
    verifier, failure = in_memory([chain.leaf_pin, unrelated_pin()], chain.ca_file)
    # The handshake fails (a false return), and the exception stays on this
    # connection's verifier instead of pyOpenSSL's shared context.
    assert isinstance(failure, SSL.Error)
    assert isinstance(verifier.unexpected, RuntimeError)
    assert not verifier.accepted


# -- the TLS stream's translation, over a local socket pair -------------------


class Peer:
    """A pyOpenSSL server on one end of a socket pair, driven by the test."""

    def __init__(self, context: SSL.Context, sock: socket.socket) -> None:
        self.sock = sock
        self.connection = SSL.Connection(context, sock)
        self.connection.set_accept_state()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._handshake, daemon=True)
        self.thread.start()

    def _handshake(self) -> None:
        try:
            self.connection.do_handshake()
        finally:
            self.ready.set()


@pytest.fixture
def stream_and_peer(chain: Chain, tmp_path: Path) -> Iterator[tuple[TLSStream, Peer]]:
    ours, theirs = socket.socketpair()
    peer = Peer(server_context(chain, tmp_path), theirs)
    client_context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    client_context.set_verify(SSL.VERIFY_NONE)
    connection = SSL.Connection(client_context, None)
    connection.set_connect_state()
    stream = TLSStream(connection, ours, WAIT)
    stream.do_handshake()
    assert peer.ready.wait(WAIT)
    try:
        yield stream, peer
    finally:
        stream.close()
        theirs.close()


def test_data_is_translated_to_bytes(stream_and_peer: tuple[TLSStream, Peer]) -> None:
    stream, peer = stream_and_peer
    peer.connection.sendall(b"hello")
    assert stream.recv(5) == b"hello"


def test_close_notify_is_the_end_of_the_stream(
    stream_and_peer: tuple[TLSStream, Peer],
) -> None:
    stream, peer = stream_and_peer
    peer.connection.shutdown()
    assert stream.recv(5) == b""


def test_tcp_closed_without_close_notify_is_the_end_of_the_stream(
    stream_and_peer: tuple[TLSStream, Peer],
) -> None:
    stream, peer = stream_and_peer
    peer.sock.shutdown(socket.SHUT_RDWR)
    assert stream.recv(5) == b""


def test_bytes_that_are_not_tls_are_a_closed_connection(
    stream_and_peer: tuple[TLSStream, Peer],
) -> None:
    stream, peer = stream_and_peer
    peer.sock.sendall(b"\x17\x03\x03\x00\x10" + b"\x00" * 16)  # a forged record
    with pytest.raises(WebSocketConnectionClosedException, match="TLS error"):
        stream.recv(5)


def test_nothing_within_the_timeout_is_a_timeout(
    stream_and_peer: tuple[TLSStream, Peer],
) -> None:
    stream, _ = stream_and_peer
    stream.settimeout(0.05)
    with pytest.raises(WebSocketTimeoutException):
        stream.recv(5)
    stream.settimeout(0)
    with pytest.raises(WebSocketTimeoutException):
        stream.recv(5)


def test_close_from_another_thread_interrupts_a_read(
    stream_and_peer: tuple[TLSStream, Peer],
) -> None:
    stream, _ = stream_and_peer
    stream.settimeout(None)
    failures: list[BaseException] = []
    reading = threading.Event()

    def read() -> None:
        reading.set()
        try:
            stream.recv(5)
        except BaseException as exc:
            failures.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    assert reading.wait(WAIT)
    stream.close()
    reader.join(WAIT)
    assert not reader.is_alive()
    assert failures
    assert isinstance(
        failures[0], (ConnectionInterrupted, WebSocketConnectionClosedException)
    )


def test_sending_to_a_peer_that_is_gone_is_a_closed_connection(
    stream_and_peer: tuple[TLSStream, Peer],
) -> None:
    stream, peer = stream_and_peer
    peer.sock.close()

    def send_until_it_fails() -> None:
        for _ in range(100):  # the first writes may still be buffered
            stream.send(b"x" * 65536)

    with pytest.raises(WebSocketConnectionClosedException):
        send_until_it_fails()


# -- records cut anywhere by the socket -----------------------------------------


@pytest.fixture
def stream_and_server(
    chain: Chain, tmp_path: Path
) -> Iterator[tuple[TLSStream, SSL.Connection, socket.socket]]:
    """A TLSStream after its handshake, and its peer on memory BIOs: the test
    writes the peer's ciphertext to the stream's socket in whatever cuts it
    likes."""
    client_context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    client_context.set_verify(SSL.VERIFY_NONE)
    client = SSL.Connection(client_context, None)
    client.set_connect_state()
    server = SSL.Connection(server_context(chain, tmp_path), None)
    server.set_accept_state()
    pump(client, server)
    ours, theirs = socket.socketpair()
    stream = TLSStream(client, ours, WAIT)
    stream.do_handshake()  # already done: only sets the stream up for data
    try:
        yield stream, server, theirs
    finally:
        stream.close()
        theirs.close()


def drain(stream: TLSStream) -> bytes:
    """Decrypt what the stream has received, without reading the socket."""
    plaintext = []
    while True:
        with stream._lock:
            data = stream._decrypt(16385)
        if not data:
            return b"".join(plaintext)
        plaintext.append(data)


@pytest.mark.parametrize("cut", [1, 3, 5, 6, 100, 4096, 16389, 16406, 16500, 65536])
def test_records_cut_anywhere_by_the_socket_arrive_whole(
    stream_and_server: tuple[TLSStream, SSL.Connection, socket.socket], cut: int
) -> None:
    # The stream hands OpenSSL the beginning of a record as soon as it is all
    # there is, and the rest as it comes; no cut may lose or repeat a byte.
    stream, server, theirs = stream_and_server
    messages = [bytes([i]) * size for i, size in enumerate([16384, 7, 40000, 1, 300])]
    for message in messages:
        server.sendall(message)
    ciphertext = server.bio_read(1 << 20)
    received = []
    for start in range(0, len(ciphertext), cut):
        theirs.sendall(ciphertext[start : start + cut])
        assert stream._fill_now()
        received.append(drain(stream))
    assert b"".join(received) == b"".join(messages)
    assert stream._owed == 0
