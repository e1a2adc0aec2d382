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
