"""TLSClient: the pinned handshake one client performs, with its shared context."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Optional, Union

from OpenSSL import SSL

from .._errors import TLSHandshakeError
from .._log import get_logger, log_repeated
from .._pins.hostnames import as_ip_address, normalize_hostname
from .._pins.policy import PinPolicy
from .._store.lookup import FIRST_USE, RememberedPins
from .._transport.wait import Wakeup
from .config import PathLike, ReportSink, TLSConfig
from .contexts import shared_context, ssl_error_reason
from .options import SSLOptions
from .pinned import HandshakeOutcome, PinnedSocket
from .verify import HandshakeVerifier

if TYPE_CHECKING:
    from .._ct.ctpolicy import CTPolicy
    from .._store.store import PinStore

__all__ = ["ReportSink", "TLSClient", "TargetContext"]

logger = get_logger("tls")


class _Unset:
    """The type of an argument's "not given" (``None`` means no timeout)."""


_UNSET = _Unset()


class TLSClient:
    """The TLS side of one pinned client: its configuration, context and handshake.

    The context (with its parsed trust store) is built once and shared by
    every connection the client opens -- and, through a small cache, by
    other clients with the same configuration and unchanged files; what
    differs per connection lives in a :class:`HandshakeVerifier` attached
    to it.

    Args: as :meth:`TLSConfig.create`.

    Raises:
        ValueError: a file does not exist or cannot be loaded, or the options
            conflict.
    """

    def __init__(
        self,
        policy: PinPolicy,
        *,
        ca_certs: Optional[PathLike] = None,
        pin_only: bool = False,
        debug_ca: Optional[PathLike] = None,
        on_pin_failure: Optional[ReportSink] = None,
        report_sink: Optional[ReportSink] = None,
        options: Optional[SSLOptions] = None,
        ct: Optional[CTPolicy] = None,
        pin_store: Optional[PinStore] = None,
    ) -> None:
        config = TLSConfig.create(
            policy,
            ca_certs=ca_certs,
            pin_only=pin_only,
            debug_ca=debug_ca,
            on_pin_failure=on_pin_failure,
            report_sink=report_sink,
            options=options,
            ct=ct,
            pin_store=pin_store,
        )
        if config.debug_ca is not None:
            log_repeated(
                logger,
                logging.WARNING,
                ("debug_ca", config.debug_ca),
                "debug_ca=%s: chains issued by this CA will be accepted WITHOUT "
                "pin checks; this is for development only",
                config.debug_ca,
            )
        self._use(config)

    @classmethod
    def from_config(cls, config: TLSConfig) -> TLSClient:
        """The client for an already checked *config*."""
        client = cls.__new__(cls)
        client._use(config)
        return client

    def _use(self, config: TLSConfig) -> None:
        self.config = config
        self.ca_certs = config.trust_store()
        self.remembered = RememberedPins(
            config.pin_store,
            config.policy,
            pin_only=config.pin_only,
            debug_ca_digest=config.debug_ca_digest,
            ca_certs=self.ca_certs,
        )
        self._context: SSL.Context = shared_context(config.context_spec())

    # What the rest of pinws reads, from the config.
    @property
    def policy(self) -> PinPolicy:
        """Which pins apply to which host."""
        return self.config.policy

    @property
    def options(self) -> SSLOptions:
        """The context-shaping part of ``sslopt``."""
        return self.config.options

    @property
    def pin_only(self) -> bool:
        """Whether only the leaf's key is checked."""
        return self.config.pin_only

    @property
    def ct(self) -> Optional[CTPolicy]:
        """The Certificate Transparency policy, if any."""
        return self.config.ct

    @property
    def debug_ca(self) -> Optional[str]:
        """The development CA's file, if any."""
        return self.config.debug_ca

    @property
    def on_pin_failure(self) -> Optional[ReportSink]:
        """Called with a report for every pin mismatch."""
        return self.config.on_pin_failure

    @property
    def report_sink(self) -> Optional[ReportSink]:
        """Another receiver of the same reports (``report_uri``)."""
        return self.config.report_sink

    def with_options(self, options: SSLOptions) -> TLSClient:
        """This client with other ``sslopt`` options (itself if they change nothing).

        Raises:
            ValueError: they name a trust store other than ``ca_certs=``.
        """
        if options == self.config.options:
            return self
        return TLSClient.from_config(self.config.replace(options=options))

    def check_target(self, host: str) -> None:
        """Refuse, before any connection is made, a host with no pins anywhere.

        Raises:
            UnpinnedHostError: neither the policy nor the pin store has pins
                for *host*, the store does not trust on first use, and the
                policy does not allow unpinned hosts.
        """
        self.remembered.for_host(host)

    def for_target(self, port: Optional[int]) -> TargetContext:
        """The object to hand websocket-client as ``sslopt['context']``."""
        return TargetContext(self, port)

    def wrap(
        self,
        raw: socket.socket,
        server_hostname: str,
        port: Optional[int],
        *,
        timeout: Union[Optional[float], _Unset] = _UNSET,
        wakeup: Optional[Wakeup] = None,
    ) -> PinnedSocket:
        """Run a pinned TLS handshake over the connected socket *raw*.

        Args:
            raw: the connected TCP socket (the returned socket owns it).
            server_hostname: the name (or IP address) to verify.
            port: the port connected to, for messages and reports.
            timeout: seconds the handshake (and later calls) may wait;
                *raw*'s timeout when not given.
            wakeup: ends every wait of the connection when set.

        Returns:
            the :class:`PinnedSocket`, once the handshake and every check
            passed; nothing of the application protocol has been sent.

        Raises:
            PinMismatchError: the chain verified but no pin matched.
            CertificateVerificationError: the chain or host name did not verify.
            UnpinnedHostError: the policy does not cover the host.
            TLSHandshakeError: TLS failed for another reason, or the
                connection failed during the handshake.
            websocket.WebSocketTimeoutException: the handshake timed out.
            ConnectionInterrupted: *wakeup* was set.
        """
        host = server_hostname.strip("[]")
        # pins= first, then the pin store, then trust on first use.
        rule = self.remembered.for_host(host)
        match, pin_set = rule.match, rule.pin_set
        first_use = rule.kind == FIRST_USE
        if self.pin_only and pin_set is None and not first_use:
            raise TLSHandshakeError(
                f"pin_only=True needs pins for {host}, and the policy has none"
            )
        address = as_ip_address(host)
        check_name = address.compressed if address else normalize_hostname(host)
        if isinstance(timeout, _Unset):
            timeout = raw.gettimeout()
        # Memory BIOs: the transport moves the bytes (see PinnedSocket).
        connection = SSL.Connection(self._context, None)
        if address is None:
            # RFC 6066: SNI carries DNS names only, never IP literals.
            connection.set_tlsext_host_name(check_name.encode("ascii"))
        verifier = HandshakeVerifier(
            hostname=check_name,
            port=port,
            pin_set=pin_set,
            pin_only=self.pin_only,
            debug_ca_digest=self.config.debug_ca_digest,
            served_chain=lambda: (
                connection.get_peer_cert_chain(as_cryptography=True) or ()
            ),
            match=match,
            ct=self.ct,
            trust_on_first_use=first_use,
            mismatch=self.remembered.mismatch_error(rule),
        )
        connection.set_app_data(verifier)
        connection.set_connect_state()
        pinned = PinnedSocket(connection, raw, timeout, wakeup=wakeup)
        try:
            pinned.do_handshake()
        except BaseException as exc:
            # websocket-client's SOCKS path does not close the socket when
            # wrap_socket raises; close it here for every path.
            pinned.close()
            self._deliver_report(verifier, self.remembered.report_sink(rule))
            if isinstance(exc, SSL.Error):
                if verifier.error is not None:
                    raise verifier.error from exc
                if verifier.unexpected is not None:
                    raise verifier.unexpected from exc
                raise TLSHandshakeError(
                    f"TLS handshake with {host} failed: {ssl_error_reason(exc)}"
                ) from exc
            if isinstance(exc, OSError):
                raise TLSHandshakeError(
                    f"TLS handshake with {host} failed: the connection failed "
                    f"({exc.strerror or exc})"
                ) from exc
            raise
        finally:
            connection.set_app_data(None)
        if not verifier.accepted:
            # Defence in depth: a handshake that finished without our
            # callback accepting the leaf (a resumed session, say) is refused.
            pinned.close()
            raise TLSHandshakeError(
                f"TLS handshake with {host} completed without certificate "
                "verification; refusing the connection"
            )
        try:
            self.remembered.learn(host, port, rule, verifier.verified_chain)
        except BaseException:
            pinned.close()
            raise
        self._deliver_report(verifier, self.remembered.report_sink(rule))
        pinned.outcome = HandshakeOutcome(
            verified_chain=verifier.verified_chain,
            matched_pin=verifier.matched_pin,
            verdict=verifier.verdict,
            ct_verdict=verifier.ct_verdict,
        )
        logger.debug(
            "pinned TLS connection to %s:%s (%s), matched %s",
            host,
            port,
            pinned.version(),
            verifier.matched_pin,
        )
        return pinned

    def _deliver_report(
        self, verifier: HandshakeVerifier, store_sink: Optional[ReportSink] = None
    ) -> None:
        report = verifier.report
        if report is None:
            return
        verifier.report = None
        for sink in (self.on_pin_failure, self.report_sink, store_sink):
            if sink is None:
                continue
            try:
                sink(report)
            except Exception:
                logger.exception("pin failure report handler %r failed", sink)


class TargetContext:
    """What websocket-client sees as ``sslopt['context']`` for one connection.

    websocket-client calls ``context.wrap_socket(sock, ..., server_hostname=)``
    for every ``wss://`` connection it opens (directly, through an HTTP
    CONNECT tunnel or a SOCKS proxy); this runs the pinned handshake there.
    """

    def __init__(self, client: TLSClient, port: Optional[int]) -> None:
        self._client = client
        self._port = port

    def wrap_socket(
        self,
        sock: socket.socket,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: Optional[str] = None,
    ) -> PinnedSocket:
        """Run the pinned handshake over *sock*; see :meth:`TLSClient.wrap`."""
        if not server_hostname:
            raise TLSHandshakeError("no server host name to verify the certificate for")
        hostname = self._client.options.server_hostname or server_hostname
        return self._client.wrap(sock, hostname, self._port)
