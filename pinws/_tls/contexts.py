"""OpenSSL client contexts: built from an immutable spec, shared through a cache.

A context holds the parsed trust store, the client key and the cipher and
curve settings -- nothing per connection (the verify callback finds each
connection's verifier in the connection's app data), so contexts with the
same spec and unchanged files are shared by every client that asks.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Optional

import certifi
from OpenSSL import SSL

from .options import SSLOptions
from .verify import verify_callback

__all__ = [
    "CONTEXTS",
    "ContextCache",
    "ContextSpec",
    "build_context",
    "check_path",
    "context_key",
    "keyed_context",
    "shared_context",
    "ssl_error_reason",
]


def check_path(name: str, path: os.PathLike[str] | str) -> str:
    """*path* as a string, once it exists.

    Raises:
        ValueError: it does not exist; the message names the argument.
    """
    text = os.fspath(path)
    if not os.path.exists(text):
        raise ValueError(f"{name}={text!r}: no such file or directory")
    return text


@dataclasses.dataclass(frozen=True)
class ContextSpec:
    """Everything a client context is built from.

    Attributes:
        pin_only: no trust store at all (the leaf's key is the whole check).
        ca_certs: the trust store (file or directory), ``None`` for certifi.
        debug_ca: a development CA loaded into the trust store too.
        options: the context-shaping part of ``sslopt``.
    """

    pin_only: bool
    ca_certs: Optional[str]
    debug_ca: Optional[str]
    options: SSLOptions


def context_key(spec: ContextSpec) -> Optional[Hashable]:
    """What identifies *spec*'s context in the cache; ``None``: never cached.

    It names every file the context loads by path, inode, size and change
    times, and the cipher and curve settings: two specs with one key verify
    chains alike. TLS sessions are kept by it too (see ``sessions``).
    """
    options = spec.options
    if options.certfile is not None:
        # A client key (and its password) is not kept beyond its client.
        return None
    files = [] if spec.pin_only else [spec.ca_certs or certifi.where()]
    if spec.debug_ca is not None:
        files.append(spec.debug_ca)
    identities = tuple(file_identity(path) for path in files)
    if None in identities:
        return None  # let the build name the problem
    return (spec.pin_only, identities, options.ciphers, options.ecdh_curve)


def shared_context(spec: ContextSpec) -> SSL.Context:
    """The context for *spec*: from the cache, or built and cached."""
    return keyed_context(spec)[0]


def keyed_context(spec: ContextSpec) -> tuple[SSL.Context, Optional[Hashable]]:
    """The context for *spec*, as :func:`shared_context`, and its cache key
    (``None`` for a context that is not shared)."""
    key = context_key(spec)
    if key is None:
        return build_context(spec), None
    return CONTEXTS.get(key, lambda: build_context(spec)), key


def file_identity(path: str) -> Optional[tuple[object, ...]]:
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


class ContextCache:
    """The few most recently built TLS contexts, by configuration.

    :func:`pinws.create_connection` builds a ``TLSClient`` per call;
    without this, every connection would parse its whole trust store again
    (a few milliseconds for certifi's bundle, and ~0.7 MB held per
    connection). The key names every file the context loaded by path,
    inode, size and change times, so an edited or replaced trust store is
    loaded afresh. Bounded: the least recently used entry goes first.
    Sharing is safe: a context holds no per-connection state (it stores no
    sessions -- pinws's own session cache keeps those, by this key -- and
    verify callback errors stay on each connection's verifier).
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


CONTEXTS = ContextCache(8)


def ssl_error_reason(exc: SSL.Error) -> str:
    details = exc.args[0] if exc.args else None
    if isinstance(details, list):
        reasons = [entry[-1] for entry in details if isinstance(entry, tuple) and entry]
        if reasons:
            return "; ".join(str(r) for r in reasons)
    if isinstance(exc, SSL.SysCallError):
        return "the server closed the connection during the TLS handshake"
    return str(exc) or type(exc).__name__


def build_context(spec: ContextSpec) -> SSL.Context:
    """A new client context for *spec*: trust store, client key, ciphers, curves.

    Raises:
        ValueError: a file cannot be loaded, or an option selects nothing.
    """
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    options = SSL.OP_NO_COMPRESSION
    # No renegotiation: it is the one way SSL_write could need to read,
    # which would break the socket adapter's one-reader design.
    options |= getattr(SSL, "OP_NO_RENEGOTIATION", 0)
    # A missing close_notify is handled by WebSocket's own close frames.
    options |= getattr(SSL, "OP_IGNORE_UNEXPECTED_EOF", 0)
    context.set_options(options)
    if spec.pin_only or spec.debug_ca is not None:
        # These never resume (see sessions.py): ask for no tickets at all.
        context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        context.set_options(SSL.OP_NO_TICKET)
    else:
        # A resumed handshake skips certificate verification, and with it
        # the pin check: TLSClient.wrap resumes only sessions it stored
        # itself, judging their chain again (sessions.py). Tickets are
        # kept on each connection; OpenSSL's own store stays empty, since
        # nothing would bound it or key it by host and trust store.
        context.set_session_cache_mode(
            SSL.SESS_CACHE_CLIENT | SSL.SESS_CACHE_NO_INTERNAL
        )
    # Frees OpenSSL's record buffers while a connection is idle (18 KiB
    # a connection, measured), as CPython's ssl module does (bpo-25672).
    context.set_mode(SSL.MODE_RELEASE_BUFFERS)
    if not spec.pin_only:
        _load_trust_store(spec, context)
    _load_client_certificate(spec, context)
    if spec.options.ciphers:
        try:
            context.set_cipher_list(spec.options.ciphers.encode("ascii"))
        except SSL.Error as exc:
            raise ValueError(
                f"sslopt['ciphers']={spec.options.ciphers!r} selects no "
                f"usable cipher: {ssl_error_reason(exc)}"
            ) from None
    if spec.options.ecdh_curve:
        from cryptography.hazmat.primitives.asymmetric import ec

        # OpenSSL's names, as the stdlib's set_ecdh_curve takes them.
        aliases = {"prime256v1": "secp256r1", "prime192v1": "secp192r1"}
        name = spec.options.ecdh_curve.lower()
        curve = getattr(ec, aliases.get(name, name).upper(), None)
        if curve is None:
            raise ValueError(
                f"sslopt['ecdh_curve']={spec.options.ecdh_curve!r} is not "
                "a known curve name"
            )
        context.set_tmp_ecdh(curve())
    context.set_verify(SSL.VERIFY_PEER, verify_callback)
    return context


def _load_trust_store(spec: ContextSpec, context: SSL.Context) -> None:
    location = spec.ca_certs or certifi.where()
    try:
        if os.path.isdir(location):
            context.load_verify_locations(None, location)
        else:
            context.load_verify_locations(location)
    except SSL.Error as exc:
        raise ValueError(
            f"ca_certs={location!r} could not be loaded as PEM "
            f"certificates: {ssl_error_reason(exc)}"
        ) from None
    if spec.debug_ca is not None:
        context.load_verify_locations(spec.debug_ca)


def _load_client_certificate(spec: ContextSpec, context: SSL.Context) -> None:
    options = spec.options
    if options.certfile is None:
        return
    certfile = check_path("sslopt['certfile']", options.certfile)
    keyfile = check_path("sslopt['keyfile']", options.keyfile or certfile)
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
            f"not be loaded: {ssl_error_reason(exc)}"
        ) from None
