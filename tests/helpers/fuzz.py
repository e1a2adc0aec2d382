"""Hypothesis settings for the fuzz tests: bounded in CI, longer on demand.

By default each fuzz test runs a few derandomized examples, so CI stays
fast and deterministic. ``PINWS_FUZZ_EXAMPLES=5000`` runs that many random
examples per test (and keeps Hypothesis's example database), for a longer
search on a developer's machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Optional, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

T = TypeVar("T")

#: Examples per fuzz test; the environment variable asks for a long run.
EXAMPLES = int(os.environ.get("PINWS_FUZZ_EXAMPLES", "0")) or None
LONG_RUN = EXAMPLES is not None

fuzz = settings(
    max_examples=EXAMPLES or 30,
    deadline=None,
    derandomize=not LONG_RUN,
    database=settings.default.database if LONG_RUN else None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


def attempt(
    call: Callable[[], T], *documented: type[BaseException]
) -> tuple[Optional[T], Optional[BaseException]]:
    """Run *call*; return its result, or the *documented* error it raised.

    Anything else it raises propagates: the fuzz test fails on it.
    """
    try:
        return call(), None
    except documented as exc:
        return None, exc


@st.composite
def damaged(
    draw: st.DrawFn, valid: list[bytes], splice: Optional[list[bytes]] = None
) -> bytes:
    """One of the *valid* inputs with a few bits flipped, bytes inserted or
    deleted, its tail cut, or (with *splice*) another input's bytes inside."""
    data = bytearray(draw(st.sampled_from(valid)))
    actions = ["flip", "insert", "delete", "cut"] + (["splice"] if splice else [])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(actions))
        if action == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif action == "cut":
            del data[at:]
        elif action == "splice" and splice:
            other = draw(st.sampled_from(splice))
            data[at:at] = other[: draw(st.integers(1, len(other)))]
    return bytes(data)
