"""One scalable unit for every wait in the tests.

Set PINWS_TEST_TIME_SCALE=3 on a slow machine; no test sleeps to "wait
enough": these bound waits on events, they do not replace them.
"""

from __future__ import annotations

import os

SCALE = float(os.environ.get("PINWS_TEST_TIME_SCALE", "1"))

#: How long to wait for something that should happen at once on loopback.
WAIT = 10.0 * SCALE
#: What "promptly" means for close/join: well under a second.
PROMPT = 0.5 * SCALE
