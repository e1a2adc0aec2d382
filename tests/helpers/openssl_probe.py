"""A probe on every call into pyOpenSSL's ``SSL.Connection``.

It replaces the methods of the class itself (not of one object, not in one
pinws module), so it sees every connection however and wherever the
transport builds it, socket-backed or memory-BIO. Per connection it checks
two rules an ``SSL*`` needs when several threads share it:

* **one thread at a time**: no two calls are ever inside OpenSSL for the
  same connection at once;
* **no read over a half-done write**: after a write raised WANT_READ /
  WANT_WRITE, OpenSSL holds part of it and wants the same write retried;
  an ``SSL_read`` before that retry can make OpenSSL write (a key update
  reply, an alert) over the pending record -- the fault of issue 8 and
  OpenSSL issue 8677.
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Optional

import pytest
from OpenSSL import SSL

__all__ = ["OpenSSLProbe"]

PROBED = (
    "recv",
    "recv_into",
    "read",
    "send",
    "sendall",
    "write",
    "do_handshake",
    "bio_read",
    "bio_write",
    "pending",
    "shutdown",
)
READS = frozenset({"recv", "recv_into", "read"})
WRITES = frozenset({"send", "sendall", "write"})


class _State:
    def __init__(self) -> None:
        self.inside: list[tuple[int, str, str]] = []  # (thread, its name, method)
        self.half_write: Optional[str] = None


class OpenSSLProbe:
    """Counts calls into ``SSL.Connection`` and records rule violations.

    Use :meth:`install` with pytest's ``monkeypatch`` (it undoes the patch
    at the end of the test), run the workload, then
    :meth:`assert_one_thread_at_a_time` and/or
    :meth:`assert_no_read_over_a_half_done_write`.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._states: weakref.WeakKeyDictionary[SSL.Connection, _State] = (
            weakref.WeakKeyDictionary()
        )
        self.calls: dict[str, int] = {}
        self.most_at_once = 0
        self.overlaps: list[str] = []
        self.reads_over_half_writes: list[str] = []
        #: Writes that raised WANT_READ/WANT_WRITE (left half done).
        self.half_done_writes = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> OpenSSLProbe:
        for name in PROBED:
            original = getattr(SSL.Connection, name)
            monkeypatch.setattr(SSL.Connection, name, self._wrap(name, original))
        return self

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def _wrap(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        probe = self

        @functools.wraps(original)
        def probed(connection: SSL.Connection, *args: Any, **kwargs: Any) -> Any:
            probe._enter(connection, name)
            outcome = "done"
            try:
                # Yield the GIL: widens the window in which an unserialised
                # caller would overlap. It waits for nothing.
                time.sleep(0)
                return original(connection, *args, **kwargs)
            except (SSL.WantReadError, SSL.WantWriteError):
                outcome = "want"
                raise
            except BaseException:
                outcome = "failed"
                raise
            finally:
                probe._leave(connection, name, outcome)

        return probed

    def _enter(self, connection: SSL.Connection, name: str) -> None:
        me = threading.current_thread().name
        entry = (threading.get_ident(), me, name)
        with self._guard:
            self.calls[name] = self.calls.get(name, 0) + 1
            state = self._states.get(connection)
            if state is None:
                state = self._states[connection] = _State()
            if state.inside and len(self.overlaps) < 20:
                inside = [f"{who} in {what}" for _, who, what in state.inside]
                self.overlaps.append(f"{me} entered {name} while {inside}")
            state.inside.append(entry)
            self.most_at_once = max(self.most_at_once, len(state.inside))
            if (
                name in READS
                and state.half_write is not None
                and len(self.reads_over_half_writes) < 20
            ):
                self.reads_over_half_writes.append(
                    f"{me} called {name} while {state.half_write}"
                )

    def _leave(self, connection: SSL.Connection, name: str, outcome: str) -> None:
        me = threading.current_thread().name
        with self._guard:
            state = self._states[connection]
            state.inside.remove((threading.get_ident(), me, name))
            if name in WRITES:
                if outcome == "want":
                    self.half_done_writes += 1
                    state.half_write = f"{me}'s {name} was left half done"
                else:
                    # Retried to completion, or the connection failed.
                    state.half_write = None

    def assert_one_thread_at_a_time(self) -> None:
        assert self.overlaps == [], "two threads inside OpenSSL at once"
        assert self.most_at_once == 1

    def assert_no_read_over_a_half_done_write(self) -> None:
        assert self.reads_over_half_writes == [], (
            f"{self.half_done_writes} writes were left half done; reads ran over them"
        )
