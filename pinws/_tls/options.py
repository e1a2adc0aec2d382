"""Validating websocket-client's ``sslopt`` for a pinned client.

websocket-client's ``sslopt`` dict can switch certificate checks off. A
pinned client must not have that switch, so every key is checked: the ones
that would weaken verification are refused with a ``ValueError`` saying what
to do instead, the ones pinws can honour are translated, unknown ones are
refused rather than silently ignored.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Mapping
from typing import Any, Optional

__all__ = ["SSLOptions", "parse_sslopt"]

_REQUIRED_VALUES: dict[str, Any] = {
    "cert_reqs": ssl.CERT_REQUIRED,
    "check_hostname": True,
    "do_handshake_on_connect": True,
}
_IGNORED = {"suppress_ragged_eofs"}
_SUPPORTED = sorted(
    set(_REQUIRED_VALUES)
    | _IGNORED
    | {
        "ca_certs",
        "ca_cert_path",
        "certfile",
        "keyfile",
        "password",
        "cert_chain",
        "ciphers",
        "ecdh_curve",
        "server_hostname",
        "ssl_version",
    }
)


@dataclasses.dataclass(frozen=True)
class SSLOptions:
    """The parts of ``sslopt`` that shape the TLS context or connection."""

    ca_file: Optional[str] = None
    ca_path: Optional[str] = None
    certfile: Optional[str] = None
    keyfile: Optional[str] = None
    password: Optional[str] = None
    ciphers: Optional[str] = None
    ecdh_curve: Optional[str] = None
    server_hostname: Optional[str] = None

    @property
    def shapes_context(self) -> bool:
        """Whether these options need a TLS context of their own."""
        return any(
            value is not None
            for value in (
                self.ca_file,
                self.ca_path,
                self.certfile,
                self.keyfile,
                self.ciphers,
                self.ecdh_curve,
            )
        )


def parse_sslopt(sslopt: Optional[Mapping[str, Any]]) -> SSLOptions:
    """Check websocket-client ``sslopt`` for a pinned connection.

    Raises:
        ValueError: an option would weaken verification, or is unknown; the
            message names it and says what to use instead.
    """
    if not sslopt:
        return SSLOptions()
    if not isinstance(sslopt, Mapping):
        raise ValueError(f"sslopt must be a dict, not {type(sslopt).__name__}")
    if "context" in sslopt:
        raise ValueError(
            "sslopt['context'] is not supported: pinws builds the TLS context "
            "itself so that every connection is pinned; configure trust with "
            "ca_certs= and pins with pins="
        )
    for key, required in _REQUIRED_VALUES.items():
        if key in sslopt and sslopt[key] != required:
            raise ValueError(
                f"sslopt[{key!r}]={sslopt[key]!r} would weaken certificate "
                "verification, which a pinned client never does; for a "
                "self-signed server, pin its key and pass pin_only=True"
            )
    if "ssl_version" in sslopt and sslopt["ssl_version"] not in (
        ssl.PROTOCOL_TLS_CLIENT,
        ssl.PROTOCOL_TLS,
    ):
        raise ValueError(
            "sslopt['ssl_version'] is not supported: pinws negotiates TLS 1.2 "
            "or 1.3 and never anything older"
        )
    unknown = sorted(set(sslopt) - set(_SUPPORTED))
    if unknown:
        raise ValueError(
            f"unsupported sslopt key(s) {', '.join(map(repr, unknown))}; "
            f"a pinned client accepts {', '.join(_SUPPORTED)}"
        )
    certfile = sslopt.get("certfile")
    keyfile = sslopt.get("keyfile")
    password = sslopt.get("password")
    if "cert_chain" in sslopt:
        chain = sslopt["cert_chain"]
        if not isinstance(chain, (tuple, list)) or len(chain) != 3:
            raise ValueError(
                "sslopt['cert_chain'] must be (certfile, keyfile, password)"
            )
        if certfile is not None:
            raise ValueError("give sslopt['certfile'] or ['cert_chain'], not both")
        certfile, keyfile, password = chain
    if keyfile is not None and certfile is None:
        raise ValueError("sslopt['keyfile'] needs sslopt['certfile'] too")
    return SSLOptions(
        ca_file=sslopt.get("ca_certs"),
        ca_path=sslopt.get("ca_cert_path"),
        certfile=certfile,
        keyfile=keyfile,
        password=password,
        ciphers=sslopt.get("ciphers"),
        ecdh_curve=sslopt.get("ecdh_curve"),
        server_hostname=sslopt.get("server_hostname"),
    )
