"""CTPolicy: what a client configures with ``ct=``, and what it does with a verdict."""

from __future__ import annotations

import datetime
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Optional

from cryptography import x509

from .._errors import CTPolicyError
from .loglist import CTLogList, LogKey
from .policy import CTVerdict, evaluate
from .sct import EmbeddedSCT, signature_verifies

__all__ = ["CT_MODES", "CTPolicy"]

logger = logging.getLogger("pinws.ct")

#: The modes a :class:`CTPolicy` takes.
CT_MODES = ("enforce", "report-only")
#: A report-only failure repeated (same host, same verdict) is logged at
#: most once in this many seconds.
REPEAT_INTERVAL = 3600.0


class _Throttle:
    """Says whether a repeated condition is due to be logged again."""

    def __init__(self, interval: float, size: int = 256) -> None:
        self._interval = interval
        self._size = size
        self._last: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def due(self, condition: Hashable) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(condition)
            if last is not None and now - last < self._interval:
                return False
            self._last[condition] = now
            self._last.move_to_end(condition)
            while len(self._last) > self._size:
                self._last.popitem(last=False)
            return True


class _SignatureMemo:
    """Remembers the last few signature checks, by their exact inputs.

    A verdict on the same bytes with the same key never changes, and every
    reconnect to a server presents the same SCTs: remembering spares two or
    three public-key verifications per handshake. Only the signatures are
    remembered; time, log states and the policy are judged every time.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._results: OrderedDict[tuple[bytes, bytes, bytes, str, str], bool] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def verify(self, sct: EmbeddedSCT, key: LogKey, data: bytes) -> bool:
        # The log ID is the hash of the key, so it stands for the key.
        entry = (
            sct.log_id,
            hashlib.sha256(data).digest(),
            sct.signature,
            sct.hash_name,
            sct.algorithm,
        )
        with self._lock:
            known = self._results.get(entry)
            if known is not None:
                self._results.move_to_end(entry)
                return known
        result = signature_verifies(sct, key, data)
        with self._lock:
            self._results[entry] = result
            while len(self._results) > self._size:
                self._results.popitem(last=False)
        return result


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

    .. versionadded:: 0.1
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
        self._signatures = _SignatureMemo()
        self._repeats = _Throttle(REPEAT_INTERVAL)

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
        return evaluate(leaf, issuer, self.logs, moment, verify=self._signatures.verify)

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
        condition = (
            hostname,
            port,
            verdict.reason,
            tuple(s.status for s in verdict.scts),
        )
        if self._repeats.due(condition):
            logger.warning(
                "report-only CT policy: connecting anyway despite: %s "
                "(the same failure is logged at most once an hour)",
                error,
            )
        else:
            logger.debug("report-only CT policy: %s", error.reason)
        return verdict

    def __repr__(self) -> str:
        return f"CTPolicy({self.logs!r}, mode={self.mode!r})"
