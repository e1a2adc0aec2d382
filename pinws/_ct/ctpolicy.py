"""CTPolicy: what a client configures with ``ct=``, and what it does with a verdict."""

from __future__ import annotations

import datetime
import logging
from typing import Optional

from cryptography import x509

from .._errors import CTPolicyError
from .loglist import CTLogList
from .policy import CTVerdict, evaluate

__all__ = ["CT_MODES", "CTPolicy"]

logger = logging.getLogger("pinws.ct")

#: The modes a :class:`CTPolicy` takes.
CT_MODES = ("enforce", "report-only")


class CTPolicy:
    """Require Certificate Transparency for every connection of a client.

    Pass one as ``ct=`` to :class:`PinnedWebSocketApp` or
    :func:`create_connection`. Inside each TLS handshake, before any byte of
    the upgrade request, the SCTs embedded in the server's certificate are
    checked against *logs* (see :doc:`/topics/ct`).

    Args:
        logs: the log list, from :meth:`CTLogList.from_file`.
        mode: ``"enforce"`` refuses a failing server with
            :class:`CTPolicyError`; ``"report-only"`` logs a warning
            (logger ``pinws.ct``) and connects.

    Raises:
        ValueError: *logs* is not a :class:`CTLogList`, or *mode* is not
            one of the two.

    .. versionadded:: 1.10
    """

    def __init__(self, logs: CTLogList, *, mode: str = "enforce") -> None:
        if not isinstance(logs, CTLogList):
            raise ValueError(
                "CTPolicy takes a CTLogList (pinws.CTLogList.from_file(path)), "
                f"not {type(logs).__name__}"
            )
        if mode not in CT_MODES:
            raise ValueError(
                f"CTPolicy mode={mode!r}: must be 'enforce' or 'report-only'"
            )
        self.logs = logs
        self.mode = mode

    @property
    def enforced(self) -> bool:
        """Whether a failing server is refused (mode ``"enforce"``)."""
        return self.mode == "enforce"

    def evaluate(
        self,
        leaf: x509.Certificate,
        issuer: x509.Certificate,
        *,
        now: Optional[datetime.datetime] = None,
    ) -> CTVerdict:
        """The verdict on *leaf*, issued by *issuer*, at *now* (default: now).

        Never raises for what the certificate holds; warns once if the log
        list is stale.
        """
        moment = now or datetime.datetime.now(datetime.timezone.utc)
        self.logs.warn_if_stale(moment)
        return evaluate(leaf, issuer, self.logs, moment)

    def check(
        self,
        hostname: str,
        port: Optional[int],
        leaf: x509.Certificate,
        issuer: x509.Certificate,
        *,
        now: Optional[datetime.datetime] = None,
    ) -> CTVerdict:
        """Evaluate, then act on the verdict as the mode says.

        Raises:
            CTPolicyError: the policy fails and is enforced.
        """
        verdict = self.evaluate(leaf, issuer, now=now)
        if verdict.passed:
            return verdict
        error = CTPolicyError(
            hostname, verdict.required, verdict.scts, port=port, problem=verdict.problem
        )
        if self.enforced:
            raise error
        logger.warning("report-only CT policy: connecting anyway despite: %s", error)
        return verdict

    def __repr__(self) -> str:
        return f"CTPolicy({self.logs!r}, mode={self.mode!r})"
