"""Every pinws error has a one-line ``.summary`` for a UI; ``str()`` stays whole."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest

import pinws
from helpers.pki import Chain, unrelated_pin
from helpers.servers import WebSocketServer, running
from helpers.timing import WAIT

HOST = "api.example.test"
PIN_A = "sha256/" + "A" * 43 + "="
PIN_B = "sha256/" + "B" * 43 + "="


def chain_certificate(depth: int) -> pinws.ChainCertificate:
    return pinws.ChainCertificate(
        depth=depth,
        subject=f"CN=depth {depth}\nOU=a subject with a line break",
        pin=f"sha256/{depth}" + "C" * 42 + "=",
        certificate=None,  # type: ignore[arg-type]  # never read by the message
    )


# One representative instance of every exported error class, and what its
# summary must name: the host for a refused connection, the pin (or file)
# for a refused configuration.
SAMPLES: dict[type[BaseException], Callable[[], tuple[BaseException, str]]] = {
    pinws.PinningError: lambda: (pinws.PinningError(f"refused {HOST}\nmore"), HOST),
    pinws.PinMismatchError: lambda: (
        pinws.PinMismatchError(
            HOST, [chain_certificate(0), chain_certificate(1)], [PIN_A, PIN_B], 443
        ),
        HOST,
    ),
    pinws.CertificateVerificationError: lambda: (
        pinws.CertificateVerificationError(
            HOST, "certificate has expired", 0, "CN=api.example.test"
        ),
        HOST,
    ),
    pinws.HostnameMismatchError: lambda: (
        pinws.HostnameMismatchError(HOST, "the certificate is for other.test"),
        HOST,
    ),
    pinws.TLSHandshakeError: lambda: (
        pinws.TLSHandshakeError(f"TLS handshake with {HOST} failed: no shared cipher"),
        HOST,
    ),
    pinws.InsecureRedirectError: lambda: (
        pinws.InsecureRedirectError(
            "", "the redirect response has no Location", hostname=HOST
        ),
        HOST,
    ),
    pinws.UnpinnedHostError: lambda: (pinws.UnpinnedHostError(HOST), HOST),
    pinws.CTPolicyError: lambda: (pinws.CTPolicyError(HOST, 2, (), port=443), HOST),
    pinws.StoredPinMismatchError: lambda: (
        pinws.StoredPinMismatchError(
            HOST, [chain_certificate(0)], [PIN_A], 443, "tofu", None, HOST, "pins.json"
        ),
        HOST,
    ),
    pinws.InvalidPinError: lambda: (
        pinws.InvalidPinError("sha1/abc", "SHA1 pins are not supported"),
        "sha1/abc",
    ),
    pinws.PinConfigError: lambda: (
        pinws.PinConfigError("pins.toml", "pin_sets[0].pins", "is empty"),
        "pins.toml",
    ),
}


def exported_error_classes() -> list[type[BaseException]]:
    classes = [getattr(pinws, name) for name in pinws.__all__]
    return [
        cls
        for cls in classes
        if isinstance(cls, type)
        and issubclass(cls, (pinws.PinningError, pinws.InvalidPinError))
    ]


def test_every_exported_error_class_has_a_sample() -> None:
    missing = [cls.__name__ for cls in exported_error_classes() if cls not in SAMPLES]
    assert missing == [], f"add a sample of each to SAMPLES: {missing}"


@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda cls: cls.__name__)
def test_summary_is_one_line_naming_the_host(cls: type[BaseException]) -> None:
    error, subject = SAMPLES[cls]()
    assert type(error) is cls
    summary = error.summary  # type: ignore[attr-defined]
    assert isinstance(summary, str)
    assert summary.strip() == summary != ""
    assert "\n" not in summary
    assert "\r" not in summary
    assert "  " not in summary
    assert subject in summary
    assert len(summary) <= 200


def test_str_stays_complete() -> None:
    error, _ = SAMPLES[pinws.PinMismatchError]()
    full = str(error)
    assert full.count("\n") >= 5
    for text in (PIN_A, PIN_B, "depth 0", "depth 1", f"{HOST}:443"):
        assert text in full
    assert error.summary == (  # type: ignore[attr-defined]
        f"Pin mismatch for {HOST}:443: the server's certificate chain matches "
        "none of the 2 configured pins"
    )


def test_a_redirect_error_keeps_its_host_through_pickle() -> None:
    error = pinws.InsecureRedirectError("ws://x.test/", "plaintext", hostname=HOST)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.location, copy.reason, copy.hostname) == (
        "ws://x.test/",
        "plaintext",
        HOST,
    )
    assert str(copy) == str(error)
    assert HOST in str(error)


# -- the errors a real connection raises -------------------------------------


def test_a_real_pin_mismatch_has_a_one_line_summary(chain: Chain) -> None:
    with (
        running(WebSocketServer(chain.server_context())) as server,
        pytest.raises(pinws.PinMismatchError) as info,
    ):
        pinws.create_connection(
            server.url(),
            pins=[unrelated_pin(), unrelated_pin()],
            ca_certs=chain.ca_file,
            timeout=WAIT,
        )
    summary = info.value.summary
    assert "\n" not in summary
    assert summary.startswith(f"Pin mismatch for localhost:{server.port}:")
    assert "2 configured pins" in summary
    assert len(str(info.value).splitlines()) > 4


def test_a_real_untrusted_chain_summary_names_the_host(
    chain: Chain, rogue_chain: Chain
) -> None:
    with (
        running(WebSocketServer(rogue_chain.server_context())) as server,
        pytest.raises(pinws.CertificateVerificationError) as info,
    ):
        pinws.create_connection(
            server.url(), pins=chain.pins, ca_certs=chain.ca_file, timeout=WAIT
        )
    assert "\n" not in info.value.summary
    assert "localhost" in info.value.summary
