"""TLSConfig: one pinned client's TLS configuration, as an immutable value."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional, Union

from cryptography import x509

from .._flags import require_bool
from .._pins.policy import PinPolicy
from .._pins.report import PinFailureReport
from .contexts import ContextSpec, check_path
from .options import SSLOptions
from .verify import spki_digest

if TYPE_CHECKING:
    from .._ct.ctpolicy import CTPolicy
    from .._store.store import PinStore

__all__ = ["PathLike", "ReportSink", "TLSConfig"]

ReportSink = Callable[[PinFailureReport], None]
PathLike = Union[str, "os.PathLike[str]"]


def _load_debug_ca(path: PathLike) -> tuple[str, bytes]:
    text = check_path("debug_ca", path)
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


@dataclasses.dataclass(frozen=True)
class TLSConfig:
    """What a pinned client's handshakes are made of; change it with :meth:`replace`.

    Build it with :meth:`create`, which checks every argument; a config is
    never modified, so one client's ``sslopt`` cannot leak into another's.

    Attributes:
        policy: which pins apply to which host.
        ca_certs: the ``ca_certs=`` argument (a checked path), or ``None``.
        pin_only: accept a server whose leaf key is pinned, with no CA path
            and no host name check.
        debug_ca: a development CA (a checked path) whose chains are
            accepted without pins, or ``None``.
        debug_ca_digest: that CA's SPKI digest.
        on_pin_failure: called with a report for every pin mismatch.
        report_sink: another receiver of the same reports (``report_uri``).
        options: the context-shaping part of ``sslopt``.
        ct: a Certificate Transparency policy checked in every handshake.
        pin_store: pins remembered per host (trust on first use, HPKP).
        resume_sessions: resume TLS sessions of earlier accepted handshakes
            (never with *pin_only* or *debug_ca*).
    """

    policy: PinPolicy
    ca_certs: Optional[str] = None
    pin_only: bool = False
    debug_ca: Optional[str] = None
    debug_ca_digest: Optional[bytes] = None
    on_pin_failure: Optional[ReportSink] = None
    report_sink: Optional[ReportSink] = None
    options: SSLOptions = dataclasses.field(default_factory=SSLOptions)
    ct: Optional[CTPolicy] = None
    pin_store: Optional[PinStore] = None
    resume_sessions: bool = True

    @classmethod
    def create(
        cls,
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
        resume_sessions: bool = True,
    ) -> TLSConfig:
        """Check the arguments and build the config.

        Raises:
            ValueError: a file does not exist or is not what it should be,
                or the arguments conflict.
        """
        require_bool(resume_sessions, "resume_sessions")
        if ct is not None and pin_only:
            raise ValueError(
                "ct= cannot be combined with pin_only=True: Certificate "
                "Transparency needs a verified chain, which pin-only skips"
            )
        if pin_only and debug_ca is not None:
            raise ValueError("debug_ca= has no meaning with pin_only=True")
        debug_path, debug_digest = (
            _load_debug_ca(debug_ca) if debug_ca is not None else (None, None)
        )
        config = cls(
            policy=policy,
            ca_certs=check_path("ca_certs", ca_certs) if ca_certs is not None else None,
            pin_only=bool(pin_only),
            debug_ca=debug_path,
            debug_ca_digest=debug_digest,
            on_pin_failure=on_pin_failure,
            report_sink=report_sink,
            options=options or SSLOptions(),
            ct=ct,
            pin_store=pin_store,
            resume_sessions=resume_sessions,
        )
        config.trust_store()  # check sslopt's against ca_certs= now
        return config

    def replace(self, **changes: Any) -> TLSConfig:
        """This config with *changes* (field names as keywords).

        Raises:
            ValueError: the result is inconsistent (two trust stores).
        """
        config = dataclasses.replace(self, **changes)
        config.trust_store()
        return config

    def trust_store(self) -> Optional[str]:
        """The trust store: ``ca_certs=``, or sslopt's, or ``None`` (certifi).

        Raises:
            ValueError: both name one, and not the same; or it does not exist.
        """
        from_sslopt = self.options.ca_file or self.options.ca_path
        if from_sslopt is None:
            return self.ca_certs
        if self.ca_certs not in (None, from_sslopt):
            raise ValueError(
                "give the trust store either as ca_certs= or in sslopt, not both"
            )
        return check_path("sslopt ca", from_sslopt)

    @property
    def resumes(self) -> bool:
        """Whether connections of this config may resume TLS sessions.

        Never in pin-only mode (nothing but the leaf's key vouches for the
        server, so every connection proves it again) nor with a
        ``debug_ca`` (a development setup, warned about on every
        connection).
        """
        return self.resume_sessions and not self.pin_only and self.debug_ca is None

    def context_spec(self) -> ContextSpec:
        """What this config's OpenSSL context is built from."""
        return ContextSpec(
            pin_only=self.pin_only,
            ca_certs=self.trust_store(),
            debug_ca=self.debug_ca,
            options=self.options,
        )
