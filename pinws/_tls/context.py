"""TLSClient: the pinned handshake one client performs, with its shared context."""

from __future__ import annotations

import logging
import socket
from collections.abc import Hashable
from typing import TYPE_CHECKING, Optional, Union

from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL

from .._errors import TLSHandshakeError
from .._log import get_logger, log_repeated
from .._pins.hostnames import as_ip_address, normalize_hostname
from .._pins.policy import PinPolicy
from .._store.lookup import FIRST_USE, HostPins, RememberedPins
from .._transport.wait import Wakeup
from .config import ReportSink, TLSConfig
from .contexts import keyed_context, ssl_error_reason
from .options import SSLOptions
from .pinned import HandshakeOutcome, PinnedSocket
from .sessions import SESSIONS, CachedSession, SessionCache, SessionKey, SessionSlot
from .verify import HandshakeVerifier

if TYPE_CHECKING:
    from .._ct.ctpolicy import CTPolicy

__all__ = ["ReportSink", "TLSClient", "TargetContext"]

logger = get_logger("tls")
DER = Encoding.DER


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

    Args:
        config: what the handshakes are made of (:meth:`TLSConfig.create`
            checks it).

    Raises:
        ValueError: a trust store file cannot be loaded.
    """

    def __init__(self, config: TLSConfig) -> None:
        if config.debug_ca is not None:
            log_repeated(
                logger,
                logging.WARNING,
                ("debug_ca", config.debug_ca),
                "debug_ca=%s: chains issued by this CA will be accepted WITHOUT "
                "pin checks; this is for development only",
                config.debug_ca,
            )
        self.config = config
        self.ca_certs = config.trust_store()
        self.remembered = RememberedPins(
            config.pin_store,
            config.policy,
            pin_only=config.pin_only,
            debug_ca_digest=config.debug_ca_digest,
            ca_certs=self.ca_certs,
        )
        context, key = keyed_context(config.context_spec())
        self._context: SSL.Context = context
        # Sessions are kept per trust configuration: the shared context's
        # key. A context that is not shared (a client certificate's) has
        # none, and its connections never resume.
        self._session_scope: Optional[Hashable] = key if config.resumes else None
        self.sessions: SessionCache = SESSIONS

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
        return TLSClient(self.config.replace(options=options))

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
            passed; nothing of the application protocol has been sent. A
            handshake that resumed a cached session (see ``sessions.py``)
            passed the same checks, on the chain stored with the session.

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
        if self.pin_only and rule.pin_set is None and rule.kind != FIRST_USE:
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
        verifier = self._verifier(connection, check_name, port, rule)
        key = self._session_key(check_name, port, rule)
        offered = self._session_to_offer(key, verifier)
        if offered is not None:
            connection.set_session(offered.session)
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
            if offered is not None:
                # The server refused it, or is not the one that issued it.
                self._drop_session(key, offered, "the handshake failed")
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
        resumed = False
        if (
            not verifier.accepted
            and offered is not None
            and key is not None
            and _resumed(verifier, connection, offered)
        ):
            resumed = True
            verifier, rule = self._judge_resumed(
                pinned, host, check_name, port, key, offered
            )
        elif not verifier.accepted:
            # Defence in depth: a handshake that finished without our
            # callback accepting the leaf, and that is not the resumption
            # of a session we offered, is refused.
            pinned.close()
            if offered is not None:
                self._drop_session(key, offered, "the handshake was not verified")
            raise TLSHandshakeError(
                f"TLS handshake with {host} completed without certificate "
                "verification; refusing the connection"
            )
        elif offered is not None and key is not None:
            # A full handshake although a session was offered: the server
            # sends no tickets, or no longer knows this one.
            self.sessions.declined(key)
            logger.debug(
                "%s:%s did not resume the TLS session offered", check_name, port
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
            resumed=resumed,
        )
        if key is not None and verifier.verified_chain:
            # A resumed session keeps the chain and the expiry of the full
            # handshake it came from: resuming never extends them.
            pinned.offer_session_to(
                SessionSlot(
                    self.sessions,
                    key,
                    verifier.verified_chain,
                    offered.expires if resumed and offered is not None else None,
                )
            )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "pinned TLS connection to %s:%s (%s%s), matched %s",
                host,
                port,
                pinned.version(),
                ", resumed session" if resumed else "",
                verifier.matched_pin,
            )
        return pinned

    def _verifier(
        self,
        connection: SSL.Connection,
        check_name: str,
        port: Optional[int],
        rule: HostPins,
    ) -> HandshakeVerifier:
        return HandshakeVerifier(
            hostname=check_name,
            port=port,
            pin_set=rule.pin_set,
            pin_only=self.pin_only,
            debug_ca_digest=self.config.debug_ca_digest,
            served_chain=lambda: (
                connection.get_peer_cert_chain(as_cryptography=True) or ()
            ),
            match=rule.match,
            ct=self.ct,
            trust_on_first_use=rule.kind == FIRST_USE,
            mismatch=self.remembered.mismatch_error(rule),
        )

    # -- session resumption (see sessions.py) ---------------------------------

    def _session_key(
        self, check_name: str, port: Optional[int], rule: HostPins
    ) -> Optional[SessionKey]:
        scope = self._session_scope
        if scope is None or rule.kind == FIRST_USE:
            # First use learns the key from a full handshake.
            return None
        return (check_name, port, scope)

    def _session_to_offer(
        self, key: Optional[SessionKey], verifier: HandshakeVerifier
    ) -> Optional[CachedSession]:
        """The cached session for *key*, if its chain would be accepted now."""
        if key is None:
            return None
        entry = self.sessions.get(key)
        if entry is None:
            return None
        if not verifier.would_accept(entry.certificates):
            # The pins, the pin store or the CT policy changed since, or
            # a pin set expired: a full handshake decides.
            self._drop_session(key, entry, "its chain is no longer accepted")
            return None
        return entry

    def _judge_resumed(
        self,
        pinned: PinnedSocket,
        host: str,
        check_name: str,
        port: Optional[int],
        key: SessionKey,
        offered: CachedSession,
    ) -> tuple[HandshakeVerifier, HostPins]:
        """Decide on a resumed handshake, before :meth:`wrap` returns.

        The pins are read again (they may have changed during the
        handshake) and the session's stored chain judged as a full
        handshake's chain is at depth 0.

        Raises:
            PinningError: refused, as a full handshake would be; the session
                is dropped and the connection closed.
        """
        verifier: Optional[HandshakeVerifier] = None
        rule: Optional[HostPins] = None
        try:
            rule = self.remembered.for_host(host)
            verifier = self._verifier(pinned.connection, check_name, port, rule)
            verifier.judge_resumed(offered.certificates)
        except BaseException as exc:
            pinned.close()
            why = f"refused after resuming it ({type(exc).__name__})"
            self._drop_session(key, offered, why)
            if verifier is not None and rule is not None:
                self._deliver_report(verifier, self.remembered.report_sink(rule))
            raise
        logger.debug("resumed the TLS session for %s:%s", check_name, port)
        return verifier, rule

    def _drop_session(
        self, key: Optional[SessionKey], entry: CachedSession, why: str
    ) -> None:
        if key is not None and self.sessions.discard(key, entry):
            logger.debug("dropped the TLS session for %s:%s: %s", key[0], key[1], why)

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


def _resumed(
    verifier: HandshakeVerifier, connection: SSL.Connection, offered: CachedSession
) -> bool:
    """Whether a handshake the callback did not accept resumed *offered*.

    With ``VERIFY_PEER``, OpenSSL calls the verify callback for every full
    handshake that has a server certificate; a handshake that completes
    without one call either resumed a session or used an anonymous suite
    (which no certificate vouches for). A resumed session still holds the
    peer certificate of its full handshake, so the peer's leaf must be the
    one stored with the session we offered.
    """
    if verifier.certificates_seen:
        return False
    if verifier.error is not None or verifier.unexpected is not None:
        return False
    peer = connection.get_peer_certificate(as_cryptography=True)
    if peer is None:
        return False
    stored = offered.chain[0].certificate
    return bool(peer.public_bytes(DER) == stored.public_bytes(DER))


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
