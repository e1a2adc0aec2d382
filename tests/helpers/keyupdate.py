"""Post-handshake TLS 1.3 messages a test server can send: key updates and
session tickets, through ctypes on the ``libssl`` the standard library uses.

Neither pyOpenSSL nor the stdlib exposes ``SSL_key_update`` or
``SSL_new_session_ticket``; cryptography (pyOpenSSL's backend) links OpenSSL
statically with hidden symbols, so ctypes cannot reach them there. CPython's
``_ssl`` links the system ``libssl`` dynamically, so a *stdlib* server can
call them: the ``SSL*`` is read from the ``_ssl._SSLSocket`` object (the
field after ``Socket`` in ``PySSLSocket``, unchanged since 3.7) and checked
against the context's ``SSL_CTX*`` before any use, so a layout change fails
loudly instead of corrupting memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ssl
from typing import Optional

__all__ = [
    "KEY_UPDATE_NOT_REQUESTED",
    "KEY_UPDATE_REQUESTED",
    "key_update",
    "new_session_ticket",
    "unavailable_reason",
]

# include/openssl/ssl.h
KEY_UPDATE_NOT_REQUESTED = 0
KEY_UPDATE_REQUESTED = 1

_POINTER = ctypes.sizeof(ctypes.c_void_p)
# PyObject_HEAD is ob_refcnt + ob_type in a release build.
_HEAD = 2 * _POINTER


def _stdlib_libssl_path() -> Optional[str]:
    """The libssl mapped into this process by ``_ssl``, from /proc/self/maps."""
    import _ssl  # noqa: F401 - makes sure it is loaded

    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "/libssl.so" in path:
                    return path
    except OSError:
        pass
    return ctypes.util.find_library("ssl")


def _load() -> tuple[Optional[ctypes.CDLL], str]:
    path = _stdlib_libssl_path()
    if path is None:
        return None, "no dynamically linked libssl in this process"
    try:
        lib = ctypes.CDLL(path)
        for name in (
            "SSL_key_update",
            "SSL_new_session_ticket",
            "SSL_get_SSL_CTX",
            "SSL_version",
        ):
            getattr(lib, name)
    except (OSError, AttributeError) as exc:
        return None, f"{path} lacks TLS 1.3 post-handshake calls: {exc}"
    lib.SSL_get_SSL_CTX.argtypes = [ctypes.c_void_p]
    lib.SSL_get_SSL_CTX.restype = ctypes.c_void_p
    lib.SSL_key_update.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.SSL_key_update.restype = ctypes.c_int
    lib.SSL_new_session_ticket.argtypes = [ctypes.c_void_p]
    lib.SSL_new_session_ticket.restype = ctypes.c_int
    lib.SSL_version.argtypes = [ctypes.c_void_p]
    lib.SSL_version.restype = ctypes.c_int
    return lib, ""


_LIB, _WHY = _load()


def unavailable_reason() -> Optional[str]:
    """Why key updates cannot be driven here, or ``None`` if they can."""
    return None if _LIB is not None else _WHY


def _ssl_pointer(tls: ssl.SSLObject) -> int:
    """The ``SSL*`` behind *tls*, checked against its context's ``SSL_CTX*``."""
    assert _LIB is not None, _WHY
    inner = tls._sslobj  # type: ignore[attr-defined]
    pointer = ctypes.c_void_p.from_address(id(inner) + _HEAD + _POINTER).value
    context = ctypes.c_void_p.from_address(id(tls.context) + _HEAD).value
    if not pointer or _LIB.SSL_get_SSL_CTX(pointer) != context:
        raise RuntimeError("cannot locate the SSL* of a stdlib SSLObject")
    return pointer


def key_update(tls: ssl.SSLObject, *, requested: bool) -> None:
    """Schedule a TLS 1.3 KeyUpdate, sent before the next record *tls* writes.

    Args:
        tls: a stdlib server- or client-side object, handshake completed.
        requested: ask the peer to update its sending keys too
            (``SSL_KEY_UPDATE_REQUESTED``), so it must write while it reads.

    Raises:
        RuntimeError: OpenSSL refused (not TLS 1.3, or handshake unfinished).
    """
    assert _LIB is not None, _WHY
    kind = KEY_UPDATE_REQUESTED if requested else KEY_UPDATE_NOT_REQUESTED
    if _LIB.SSL_key_update(_ssl_pointer(tls), kind) != 1:
        raise RuntimeError("SSL_key_update failed")


def new_session_ticket(tls: ssl.SSLObject) -> None:
    """Schedule one more TLS 1.3 NewSessionTicket (server side only).

    Raises:
        RuntimeError: OpenSSL refused.
    """
    assert _LIB is not None, _WHY
    if _LIB.SSL_new_session_ticket(_ssl_pointer(tls)) != 1:
        raise RuntimeError("SSL_new_session_ticket failed")
