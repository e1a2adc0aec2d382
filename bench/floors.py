"""What the TLS libraries cost without pinws: ``python -m bench.floors``.

pinws talks TLS through pyOpenSSL (OpenSSL 4.0 here); the clients it is
compared with, through the standard library's ``ssl`` (OpenSSL 3.0 here).
Some of the benchmark's targets ask pinws to beat the standard library at
things pinws does not do itself, so this measures the two libraries bare,
with no WebSocket and no pinws around them, against the benchmark's server
and PKI:

* ``handshake``: TCP connect and a TLS handshake that verifies the chain
  (the run's roots only; no session resumption), then close: wall time and
  the process's CPU time per handshake, the standard library's
  ``SSLContext.wrap_socket`` against a bare pyOpenSSL ``Connection`` over
  the socket;
* ``record``: decrypting one 64-byte application-data record, both over
  memory BIOs, 2 000 records per round (the server side's encryption,
  timed on its own, is subtracted): ``SSLObject.read`` against
  ``Connection.recv``;
* ``memory``: resident memory per connection, 200 held, each in a fresh
  process: the standard library's ``SSLSocket`` and pyOpenSSL connections
  (over the socket, over memory BIOs), after the handshake and before it.

Options: ``--rounds R`` (default 7), ``--quick`` (seconds: checks it runs).
"""

from __future__ import annotations

import argparse
import gc
import json
import socket
import ssl
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any, Callable

from OpenSSL import SSL

from .pki import Pki, make_pki
from .run import server_process
from .worker import rss, run_json

MEMORY_MODES = (
    "stdlib SSLSocket",
    "pyOpenSSL over the socket",
    "pyOpenSSL over memory BIOs",
    "stdlib SSLObject, no handshake",
    "pyOpenSSL Connection, no handshake",
)


def _stdlib_context(roots: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=roots)


def _pyopenssl_context(roots: str) -> SSL.Context:
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.load_verify_locations(roots)
    context.set_verify(SSL.VERIFY_PEER, None)
    context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
    context.set_options(SSL.OP_NO_TICKET)
    context.set_mode(SSL.MODE_RELEASE_BUFFERS)
    return context


def _connected(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _pump(connection: SSL.Connection, sock: socket.socket) -> None:
    """A pyOpenSSL handshake over memory BIOs, moving bytes by hand."""
    while True:
        try:
            connection.do_handshake()
            break
        except SSL.WantReadError:
            try:
                sock.sendall(connection.bio_read(65536))
            except SSL.WantReadError:
                pass
            connection.bio_write(sock.recv(65536))
    try:
        sock.sendall(connection.bio_read(65536))
    except SSL.WantReadError:
        pass


def handshakes(port: int, roots: str, rounds: int, count: int) -> dict[str, Any]:
    """Median wall and CPU milliseconds per handshake, each library."""
    stdlib = _stdlib_context(roots)
    pyopenssl = _pyopenssl_context(roots)

    def with_stdlib() -> None:
        stdlib.wrap_socket(_connected(port), server_hostname="localhost").close()

    def with_pyopenssl() -> None:
        sock = _connected(port)
        connection = SSL.Connection(pyopenssl, sock)
        connection.set_tlsext_host_name(b"localhost")
        connection.set_connect_state()
        connection.do_handshake()
        sock.close()

    runs: dict[str, Callable[[], None]] = {
        "stdlib ssl": with_stdlib,
        "pyOpenSSL": with_pyopenssl,
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for index in range(rounds):
        names = list(runs) if index % 2 == 0 else list(runs)[::-1]
        for name in names:
            for _ in range(max(count // 5, 1)):
                runs[name]()  # warm up
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                runs[name]()
            samples[name].append(
                (
                    (time.perf_counter() - wall) / count * 1e3,
                    (time.process_time() - cpu) / count * 1e3,
                )
            )
    return {
        name: {
            "wall_ms": statistics.median(wall for wall, _ in values),
            "cpu_ms": statistics.median(cpu for _, cpu in values),
        }
        for name, values in samples.items()
    }


def record_reads(pki: Pki, rounds: int, count: int) -> dict[str, float]:
    """Median microseconds to decrypt one 64-byte record, each library."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.main.cert_chain, pki.main.key)

    def server() -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        return (
            server_context.wrap_bio(incoming, outgoing, server_side=True),
            incoming,
            outgoing,
        )

    # The standard library on both ends.
    client_in, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    stdlib_client = _stdlib_context(pki.roots).wrap_bio(
        client_in, client_out, server_hostname="localhost"
    )
    stdlib_server, server_in, server_out = server()
    for _ in range(10):
        for end in (stdlib_client, stdlib_server):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    # pyOpenSSL against the same kind of server.
    pyopenssl_client = SSL.Connection(_pyopenssl_context(pki.roots), None)
    pyopenssl_client.set_tlsext_host_name(b"localhost")
    pyopenssl_client.set_connect_state()
    pyopenssl_server, peer_in, peer_out = server()
    for _ in range(10):
        try:
            pyopenssl_client.do_handshake()
        except SSL.WantReadError:
            pass
        try:
            pyopenssl_server.do_handshake()
        except ssl.SSLWantReadError:
            pass
        try:
            peer_in.write(pyopenssl_client.bio_read(65536))
        except SSL.WantReadError:
            pass
        produced = peer_out.read()
        if produced:
            pyopenssl_client.bio_write(produced)

    message = b"x" * 64

    def stdlib_reads() -> None:
        for _ in range(count):
            stdlib_server.write(message)
        client_in.write(server_out.read())
        for _ in range(count):
            stdlib_client.read(16384)

    def pyopenssl_reads() -> None:
        for _ in range(count):
            pyopenssl_server.write(message)
        pyopenssl_client.bio_write(peer_out.read())
        for _ in range(count):
            pyopenssl_client.recv(16384)

    def encrypt_only() -> None:
        for _ in range(count):
            pyopenssl_server.write(message)
        peer_out.read()

    def per_record(run: Callable[[], None]) -> float:
        best = min(timeit.repeat(run, number=1, repeat=rounds))
        return best / count * 1e6

    stdlib_read = per_record(stdlib_reads)
    pyopenssl_read = per_record(pyopenssl_reads)
    # Last: the records it makes never reach the client.
    encryption = per_record(encrypt_only)
    return {
        "stdlib SSLObject.read": stdlib_read - encryption,
        "pyOpenSSL Connection.recv": pyopenssl_read - encryption,
    }


def memory_phase(mode: str, port: int, roots: str, count: int) -> dict[str, Any]:
    """KiB of resident memory per connection held (run in a fresh process)."""
    stdlib = _stdlib_context(roots)
    pyopenssl = _pyopenssl_context(roots)

    def one() -> object:
        if mode == "stdlib SSLObject, no handshake":
            return stdlib.wrap_bio(
                ssl.MemoryBIO(), ssl.MemoryBIO(), server_hostname="localhost"
            )
        if mode == "pyOpenSSL Connection, no handshake":
            bare = SSL.Connection(pyopenssl, None)
            bare.set_connect_state()
            return bare
        sock = _connected(port)
        if mode == "stdlib SSLSocket":
            return stdlib.wrap_socket(sock, server_hostname="localhost")
        if mode == "pyOpenSSL over the socket":
            connection = SSL.Connection(pyopenssl, sock)
        else:
            connection = SSL.Connection(pyopenssl, None)
        connection.set_tlsext_host_name(b"localhost")
        connection.set_connect_state()
        if mode == "pyOpenSSL over the socket":
            connection.do_handshake()
        else:
            _pump(connection, sock)
        return (connection, sock)

    warm = [one() for _ in range(20)]
    gc.collect()
    before = rss()
    held = [one() for _ in range(count)]
    gc.collect()
    grown = rss() - before
    del warm, held
    return {"kib": grown / count / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        job = json.loads(args.phase)
        print(json.dumps(memory_phase(**job)))
        return 0
    rounds, count, held = (2, 5, 10) if args.quick else (args.rounds, 100, 200)
    with tempfile.TemporaryDirectory(prefix="pinws-floors-") as tmp:
        pki = make_pki(Path(tmp))
        with server_process(pki, Path(tmp)) as ports:
            port = ports[3]
            shakes = handshakes(port, pki.roots, rounds, count)
            reads = record_reads(pki, rounds, 2000 if not args.quick else 50)
            memory = {}
            for mode in MEMORY_MODES:
                job = {"mode": mode, "port": port, "roots": pki.roots, "count": held}
                memory[mode] = run_json(
                    "bench.floors", ["--phase", json.dumps(job)], timeout=120
                )["kib"]
    print(f"TLS handshake (TCP connect, verified chain, close), median of {rounds}:")
    for name, result in shakes.items():
        print(
            f"  {name:24} {result['wall_ms']:.3f} ms wall, "
            f"{result['cpu_ms']:.3f} ms CPU"
        )
    print("Decrypting one 64-byte record (best of the rounds):")
    for name, micros in reads.items():
        print(f"  {name:28} {micros:.2f} µs")
    print(f"Resident memory per connection ({held} held, a fresh process each):")
    for mode, kib in memory.items():
        print(f"  {mode:36} {kib:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
