"""TLSClient: one client's TLS context, and the pinned handshake it performs."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Optional, Union

import certifi
from cryptography import x509
from OpenSSL import SSL, crypto

from .._errors import TLSHandshakeError
from .._log import get_logger, log_repeated
from .._pins.hostnames import as_ip_address, normalize_hostname
from .._pins.policy import PinPolicy
from .._pins.report import PinFailureReport
from .._store.lookup import FIRST_USE, RememberedPins
from .._transport.wait import Wakeup
from .options import SSLOptions
from .pinned import HandshakeOutcome, PinnedSocket
from .verify import HandshakeVerifier, spki_digest

if TYPE_CHECKING:
    from .._ct.ctpolicy import CTPolicy
    from .._store.store import PinStore

__all__ = ["ReportSink", "TLSClient", "TargetContext"]

logger = get_logger("tls")

ReportSink = Callable[[PinFailureReport], None]


class _Unset:
    """The type of an argument's "not given" (``None`` means no timeout)."""


_UNSET = _Unset()
PathLike = Union[str, "os.PathLike[str]"]


def _check_path(name: str, path: PathLike) -> str:
    text = os.fspath(path)
    if not os.path.exists(text):
        raise ValueError(f"{name}={text!r}: no such file or directory")
    return text


def _load_debug_ca(path: PathLike) -> tuple[str, bytes]:
    text = _check_path("debug_ca", path)
    with open(text, "rb") as handle:
        data = handle.read()
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise ValueError(f"debug_ca={text!r} is not a PEM certificate: {exc}") from None
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        is_ca = constraints.value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise ValueError(
            f"debug_ca={text!r} is not a CA certificate (no basicConstraints "
            "CA:TRUE); give the CA certificate of your debugging proxy"
        )
    return text, spki_digest(cert)


def _file_identity(path: str) -> Optional[tuple[object, ...]]:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (
        os.path.abspath(path),
        stat.st_dev,
        stat.st_ino,
        stat.st_size,
        stat.st_mtime_ns,
        stat.st_ctime_ns,
    )


class _ContextCache:
    """The few most recently built TLS contexts, by configuration.

    :func:`pinws.create_connection` builds a :class:`TLSClient` per call;
    without this, every connection would parse its whole trust store again
    (a few milliseconds for certifi's bundle, and ~0.7 MB held per
    connection). The key names every file the context loaded by path,
    inode, size and change times, so an edited or replaced trust store is
    loaded afresh. Bounded: the least recently used entry goes first.
    Sharing is safe: a context holds no per-connection state (sessions are
    never cached, and verify callback errors stay on each connection's
    verifier).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, SSL.Context] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], SSL.Context]) -> SSL.Context:
        with self._lock:
            context = self._entries.get(key)
            if context is not None:
                self._entries.move_to_end(key)
                return context
        # Built outside the lock: loading a trust store takes milliseconds.
        context = build()
        with self._lock:
            self._entries[key] = context
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return context

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_CONTEXTS = _ContextCache(8)


def _ssl_error_reason(exc: SSL.Error) -> str:
    details = exc.args[0] if exc.args else None
    if isinstance(details, list):
        reasons = [entry[-1] for entry in details if isinstance(entry, tuple) and entry]
        if reasons:
            return "; ".join(str(r) for r in reasons)
    if isinstance(exc, SSL.SysCallError):
        return "the server closed the connection during the TLS handshake"
    return str(exc) or type(exc).__name__


class TLSClient:
    """The TLS side of one pinned client: a pyOpenSSL context and a policy.

    The context (with its parsed trust store) is built once and shared by
    every connection the client opens -- and, through a small cache, by
    other clients with the same configuration and unchanged files; what
    differs per connection lives in a :class:`HandshakeVerifier` attached
    to it.

    Args:
        policy: which pins apply to which host.
        ca_certs: trust store, a PEM file or a directory of hashed
            certificates; ``None`` for certifi's bundle.
        pin_only: accept a server whose leaf key is pinned, with no CA path
            and no host name check.
        debug_ca: a development CA whose chains are accepted without pins.
        on_pin_failure: called with a report for every pin mismatch.
        report_sink: another receiver of the same reports (``report_uri``).
        options: the context-shaping part of ``sslopt``.
        ct: a Certificate Transparency policy checked in every handshake.
        pin_store: pins remembered per host, for the hosts *policy* does
            not cover (trust on first use, HPKP headers).

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
        self.policy = policy
        self.pin_only = bool(pin_only)
        if ct is not None and pin_only:
            raise ValueError(
                "ct= cannot be combined with pin_only=True: Certificate "
                "Transparency needs a verified chain, which pin-only skips"
            )
        # Per verifier, never part of the shared context's cache key.
        self.ct = ct
        self.on_pin_failure = on_pin_failure
        self.report_sink = report_sink
        options = options or SSLOptions()
        self.options = options
        self._ca_certs_argument = (
            _check_path("ca_certs", ca_certs) if ca_certs is not None else None
        )
        self.ca_certs = self._trust_store(options)
        if pin_only and debug_ca is not None:
            raise ValueError("debug_ca= has no meaning with pin_only=True")
        self.debug_ca: Optional[str] = None
        self._debug_ca_digest: Optional[bytes] = None
        if debug_ca is not None:
            self.debug_ca, self._debug_ca_digest = _load_debug_ca(debug_ca)
            log_repeated(
                logger,
                logging.WARNING,
                ("debug_ca", self.debug_ca),
                "debug_ca=%s: chains issued by this CA will be accepted WITHOUT "
                "pin checks; this is for development only",
                self.debug_ca,
            )
        self.remembered = RememberedPins(
            pin_store,
            policy,
            pin_only=self.pin_only,
            debug_ca_digest=self._debug_ca_digest,
            ca_certs=self.ca_certs,
        )
        self._context = self._shared_context()

    def with_options(self, options: SSLOptions) -> TLSClient:
        """This client with other ``sslopt`` options (itself if they change nothing)."""
        if options == self.options:
            return self
        clone = TLSClient.__new__(TLSClient)
        clone.__dict__.update(self.__dict__)
        clone.options = options
        clone.ca_certs = self._trust_store(options)
        if options.shapes_context:
            clone._context = clone._shared_context()
        return clone

    def _trust_store(self, options: SSLOptions) -> Optional[str]:
        """The trust store: ``ca_certs=``, or sslopt's, or ``None`` (certifi).

        Raises:
            ValueError: both name one, and not the same; or it does not exist.
        """
        from_sslopt = options.ca_file or options.ca_path
        if from_sslopt is None:
            return self._ca_certs_argument
        if self._ca_certs_argument not in (None, from_sslopt):
            raise ValueError(
                "give the trust store either as ca_certs= or in sslopt, not both"
            )
        return _check_path("sslopt ca", from_sslopt)

    def _shared_context(self) -> SSL.Context:
        """This configuration's context: from the cache, or built and cached."""
        options = self.options
        if options.certfile is not None:
            # A client key (and its password) is not kept beyond its client.
            return self._build_context()
        files = [] if self.pin_only else [self.ca_certs or certifi.where()]
        if self.debug_ca is not None:
            files.append(self.debug_ca)
        identities = tuple(_file_identity(path) for path in files)
        if None in identities:
            return self._build_context()  # let the build name the problem
        key = (self.pin_only, identities, options.ciphers, options.ecdh_curve)
        return _CONTEXTS.get(key, self._build_context)

    def _build_context(self) -> SSL.Context:
        context = SSL.Context(SSL.TLS_CLIENT_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        options = SSL.OP_NO_COMPRESSION
        # No renegotiation: it is the one way SSL_write could need to read,
        # which would break the socket adapter's one-reader design.
        options |= getattr(SSL, "OP_NO_RENEGOTIATION", 0)
        # A missing close_notify is handled by WebSocket's own close frames.
        options |= getattr(SSL, "OP_IGNORE_UNEXPECTED_EOF", 0)
        context.set_options(options)
        # Never resume sessions: a resumed handshake skips certificate
        # verification, and with it the pin check.
        context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        context.set_options(SSL.OP_NO_TICKET)
        # Frees OpenSSL's record buffers while a connection is idle (18 KiB
        # a connection, measured), as CPython's ssl module does (bpo-25672).
        context.set_mode(SSL.MODE_RELEASE_BUFFERS)
        if not self.pin_only:
            self._load_trust_store(context)
        self._load_client_certificate(context)
        if self.options.ciphers:
            try:
                context.set_cipher_list(self.options.ciphers.encode("ascii"))
            except SSL.Error as exc:
                raise ValueError(
                    f"sslopt['ciphers']={self.options.ciphers!r} selects no "
                    f"usable cipher: {_ssl_error_reason(exc)}"
                ) from None
        if self.options.ecdh_curve:
            from cryptography.hazmat.primitives.asymmetric import ec

            # OpenSSL's names, as the stdlib's set_ecdh_curve takes them.
            aliases = {"prime256v1": "secp256r1", "prime192v1": "secp192r1"}
            name = self.options.ecdh_curve.lower()
            curve = getattr(ec, aliases.get(name, name).upper(), None)
            if curve is None:
                raise ValueError(
                    f"sslopt['ecdh_curve']={self.options.ecdh_curve!r} is not "
                    "a known curve name"
                )
            context.set_tmp_ecdh(curve())
        context.set_verify(SSL.VERIFY_PEER, _verify_callback)
        return context

    def _load_trust_store(self, context: SSL.Context) -> None:
        location = self.ca_certs or certifi.where()
        try:
            if os.path.isdir(location):
                context.load_verify_locations(None, location)
            else:
                context.load_verify_locations(location)
        except SSL.Error as exc:
            raise ValueError(
                f"ca_certs={location!r} could not be loaded as PEM "
                f"certificates: {_ssl_error_reason(exc)}"
            ) from None
        if self.debug_ca is not None:
            context.load_verify_locations(self.debug_ca)

    def _load_client_certificate(self, context: SSL.Context) -> None:
        options = self.options
        if options.certfile is None:
            return
        certfile = _check_path("sslopt['certfile']", options.certfile)
        keyfile = _check_path("sslopt['keyfile']", options.keyfile or certfile)
        password = options.password
        if password is not None:
            secret = password.encode() if isinstance(password, str) else password
            context.set_passwd_cb(lambda *_: secret)
        try:
            context.use_certificate_chain_file(certfile)
            context.use_privatekey_file(keyfile)
            context.check_privatekey()
        except SSL.Error as exc:
            raise ValueError(
                f"the client certificate {certfile!r} / key {keyfile!r} could "
                f"not be loaded: {_ssl_error_reason(exc)}"
            ) from None

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
            debug_ca_digest=self._debug_ca_digest,
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
                    f"TLS handshake with {host} failed: {_ssl_error_reason(exc)}"
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


def _verify_callback(
    connection: SSL.Connection, cert: crypto.X509, error_code: int, depth: int, ok: int
) -> bool:
    verifier = connection.get_app_data()
    if not isinstance(verifier, HandshakeVerifier):
        return False
    try:
        return verifier.on_certificate(cert.to_cryptography(), error_code, depth, ok)
    except Exception as exc:
        # Kept on this connection's verifier, never left to pyOpenSSL: it
        # parks callback exceptions on the *context*, and raises them from
        # the next call of whichever connection of that context comes first
        # -- another thread's, once contexts are shared. TLSClient.wrap
        # raises it. False fails the handshake either way.
        verifier.fail(exc)
        return False


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
