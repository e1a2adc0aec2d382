"""One TLS handshake, no WebSocket: how ``pins`` and ``check`` see a server.

:func:`fetch_verified_chain` runs the library's
:func:`pinws.fetch_verified_chain` (trust store, host name, the chain
OpenSSL verified, no pins), so it sees exactly what a pinned client would
match its pins against.

:func:`fetch_unverified_chain` is the separate, deliberately weak path
behind ``--show-unverified``: certificate checks off, used for nothing but
printing what the server sent.
"""

from __future__ import annotations

import dataclasses
import socket
from typing import Optional

from cryptography import x509
from OpenSSL import SSL
from websocket import WebSocketTimeoutException

# The public API, as a user's script would call it.
from .. import CertificateVerificationError, FetchedChain, PinningError
from .. import fetch_verified_chain as library_fetch
from .._pins.hostnames import as_ip_address, normalize_hostname
from .._transport.socket import TLSStream
from .errors import CLIError, ExitCode
from .failures import CRITICAL_REASONS, describe_refusal
from .proxy import Proxy, open_tunnel
from .target import Target

__all__ = [
    "ProbeError",
    "UnverifiedHandshake",
    "fetch_unverified_chain",
    "fetch_verified_chain",
    "open_tcp",
]


class ProbeError(CLIError):
    """The handshake could not be completed.

    Attributes:
        verification_failed: the server answered, but its chain or host name
            did not verify (so ``--show-unverified`` could still show it).
    """

    def __init__(
        self,
        message: str,
        *,
        verification_failed: bool = False,
        reason: str = "tls_error",
    ) -> None:
        code = ExitCode.CRITICAL if reason in CRITICAL_REASONS else ExitCode.UNKNOWN
        super().__init__(message, code=code, reason=reason)
        self.verification_failed = verification_failed


@dataclasses.dataclass(frozen=True)
class UnverifiedHandshake:
    """What the server sent, unchecked.

    Attributes:
        chain: the certificates in the order the server sent them.
        tls_version: e.g. ``"TLSv1.3"``.
    """

    chain: tuple[x509.Certificate, ...]
    tls_version: str


def open_tcp(target: Target, proxy: Optional[Proxy], timeout: float) -> socket.socket:
    """A TCP connection to *target*, directly or through *proxy*.

    Raises:
        CLIError: the host or proxy cannot be reached.
    """
    if proxy is not None:
        return open_tunnel(proxy, target.host, target.port, timeout)
    try:
        return socket.create_connection((target.host, target.port), timeout=timeout)
    except socket.gaierror as exc:
        raise CLIError(
            f"cannot resolve {target.host!r}: {exc.strerror}", reason="unreachable"
        ) from exc
    except socket.timeout as exc:
        raise CLIError(
            f"cannot connect to {target.authority}: no answer within {timeout:g} s",
            reason="unreachable",
        ) from exc
    except OSError as exc:
        raise CLIError(
            f"cannot connect to {target.authority}: {exc.strerror or exc}",
            reason="unreachable",
        ) from exc


def fetch_verified_chain(
    target: Target,
    *,
    ca_certs: Optional[str],
    proxy: Optional[Proxy],
    timeout: float,
) -> FetchedChain:
    """Handshake with *target* as a pinned client would, and return its chain.

    The library's :func:`pinws.fetch_verified_chain`, over the connection
    this command opened (so the messages say which step failed).

    Raises:
        ProbeError: the chain or host name did not verify (exit 2, with
            its reason), or TLS failed otherwise.
        CLIError: unreachable, or *ca_certs* cannot be loaded.
    """
    raw = open_tcp(target, proxy, timeout)
    try:
        return library_fetch(
            target.host, target.port, ca_certs=ca_certs, timeout=timeout, sock=raw
        )
    except ValueError as exc:
        raise CLIError(f"--ca-certs: {exc}") from exc
    except PinningError as exc:
        reason, message = describe_refusal(exc, ca_certs=ca_certs)
        raise ProbeError(
            message,
            verification_failed=isinstance(exc, CertificateVerificationError),
            reason=reason,
        ) from exc
    except WebSocketTimeoutException as exc:
        raise ProbeError(
            f"the TLS handshake with {target.authority} did not finish within "
            f"{timeout:g} s",
            reason="timeout",
        ) from exc
    except OSError as exc:
        raise ProbeError(
            f"TLS handshake with {target.authority} failed: {exc}"
        ) from exc


def fetch_unverified_chain(
    target: Target, *, proxy: Optional[Proxy], timeout: float
) -> UnverifiedHandshake:
    """UNVERIFIED: the certificates *target* sends, with every check off.

    Never use the result to decide anything; it is for printing only, so a
    user can compare a device's pin with one obtained out of band.

    Raises:
        ProbeError: unreachable, or TLS failed.
    """
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_verify(SSL.VERIFY_NONE)
    raw = open_tcp(target, proxy, timeout)
    connection = SSL.Connection(context, None)
    if as_ip_address(target.host) is None:
        connection.set_tlsext_host_name(normalize_hostname(target.host).encode("ascii"))
    connection.set_connect_state()
    try:
        TLSStream(connection, raw, timeout).do_handshake()
        chain = connection.get_peer_cert_chain(as_cryptography=True) or []
        version = connection.get_protocol_version_name()
    except WebSocketTimeoutException:
        raise ProbeError(
            f"the TLS handshake with {target.authority} did not finish "
            f"within {timeout:g} s"
        ) from None
    except SSL.Error as exc:
        raise ProbeError(
            f"TLS handshake with {target.authority} failed: {exc}"
        ) from exc
    finally:
        raw.close()
    if not chain:
        raise ProbeError(f"{target.authority} sent no certificate")
    return UnverifiedHandshake(tuple(chain), version)
