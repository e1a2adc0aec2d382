"""How the transport calls OpenSSL, watched from outside under issue 8's
storm: one thread at a time per connection, and never a read over a write
OpenSSL holds half done. The probe patches pyOpenSSL's ``Connection``
class, so it holds for any transport built on it.
"""

from __future__ import annotations

import pytest

from helpers.keyupdate import unavailable_reason
from helpers.openssl_probe import OpenSSLProbe
from helpers.pki import Chain, unrelated_pin
from helpers.storm import StormBehaviour, StormPlan, scaled
from helpers.storm_client import run as run_storm_client
from helpers.timing import SCALE
from helpers.tlsloop import TLSLoopServer

# Fewer messages than the full storm (the probe slows every call), but
# every 50th is 300 KB: in one process with the server, sharing its GIL,
# small writes rarely fill the socket, and the rule is about full sockets.
# Many small pushes: many reads, each a chance to run over a pending write.
PLAN = StormPlan(
    senders=8,
    per_sender=max(1, round(300 * scaled("PINWS_STORM_SCALE", 1.0))),
    pushes=max(2, round(300 * scaled("PINWS_STORM_SCALE", 1.0))),
    large=300_000,
    push_size=4096,
)

pytestmark = pytest.mark.skipif(
    unavailable_reason() is not None,
    reason=f"cannot drive TLS 1.3 key updates: {unavailable_reason()}",
)


#: Storms per test: a race shows in most storms, not in every one.
ROUNDS = 3


def storm_once(chain: Chain) -> None:
    server = TLSLoopServer(
        TLSLoopServer.tls13_context(chain.leaf.configure_cert),
        lambda: StormBehaviour(PLAN, "requested"),
        rcvbuf=4096,
        read_size=4096,
    )
    try:
        report, ended = run_storm_client(
            {
                "url": server.url(),
                "pins": [chain.intermediate_pin, unrelated_pin()],
                "ca_file": chain.ca_file,
                "senders": PLAN.senders,
                "per_sender": PLAN.per_sender,
                "pushes": PLAN.pushes,
                "large": PLAN.large,
                "sndbuf": 64 * 1024,
                "deadline": 30 * SCALE,
            }
        )
    finally:
        server.close()
    assert ended, report


@pytest.fixture
def probed_storm(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> OpenSSLProbe:
    """Key-update storms (update requested) in this process, probed.

    Whatever became of the storms (test_storm judges that), the probe must
    have seen a real workload: reads, and writes that met a full socket.
    """
    probe = OpenSSLProbe().install(monkeypatch)
    for _ in range(ROUNDS):
        storm_once(chain)
        if probe.overlaps or probe.reads_over_half_writes:
            break
    if not (probe.overlaps or probe.reads_over_half_writes):
        # Nothing found: make sure there was something to find.
        reads = sum(probe.calls.get(name, 0) for name in ("recv", "recv_into", "read"))
        writes = sum(probe.calls.get(name, 0) for name in ("send", "sendall", "write"))
        assert reads >= ROUNDS * PLAN.pushes, probe.calls
        # Loose: a transport may coalesce queued messages into one write.
        assert writes >= ROUNDS * PLAN.senders * 10, probe.calls
    return probe


def test_no_two_threads_are_ever_inside_openssl_for_one_connection(
    probed_storm: OpenSSLProbe,
) -> None:
    probed_storm.assert_one_thread_at_a_time()


def test_no_read_runs_while_a_write_is_left_half_done(
    probed_storm: OpenSSLProbe,
) -> None:
    probed_storm.assert_no_read_over_a_half_done_write()
