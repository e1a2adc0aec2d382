"""Check the pins of many servers from cron or a monitoring system.

    python examples/monitor_pins.py hosts.txt

Each line of the hosts file holds the arguments of one ``pinws check``
(blank lines and ``#`` comments are skipped), for example::

    wss://api.example.com/feed --config pins.toml
    stream.example.net:8443 --pin sha256/... --pin sha256/... --warn-days 45

Every check runs as ``pinws check ... --json``; one line per host is printed,
and the exit status follows the monitoring plugin convention (Nagios,
Icinga): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, the worst of all hosts.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from typing import Optional

OK, WARNING, CRITICAL, UNKNOWN = "OK", "WARNING", "CRITICAL", "UNKNOWN"
EXIT = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}
WORST_FIRST = (CRITICAL, UNKNOWN, WARNING, OK)
# `pinws check --json` statuses; anything unknown to this script is UNKNOWN.
STATE = {"ok": OK, "warning": WARNING, "critical": CRITICAL, "unknown": UNKNOWN}


def check(arguments: list[str]) -> tuple[str, str]:
    """Run one ``pinws check``; return its state and a line about it."""
    command = [sys.executable, "-m", "pinws", "check", *arguments, "--json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        problem = " ".join(result.stderr.split()) or f"exit status {result.returncode}"
        return UNKNOWN, f"{arguments[0]}: {problem}"
    state = STATE.get(report.get("status"), UNKNOWN)
    problems = [
        finding["message"]
        for finding in report.get("findings", [])
        if finding.get("level") != "ok"
    ]
    detail = report.get("error") or "; ".join(problems) or "pins match"
    return state, f"{report.get('url', arguments[0])}: {detail}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return EXIT[UNKNOWN]
    with open(args[0], encoding="utf-8") as hosts:
        lines = [shlex.split(line, comments=True) for line in hosts]
    results = [check(arguments) for arguments in lines if arguments]
    if not results:
        print(f"{UNKNOWN}: no hosts in {args[0]}")
        return EXIT[UNKNOWN]
    states = [state for state, _ in results]
    worst = next(state for state in WORST_FIRST if state in states)
    counts = ", ".join(f"{states.count(s)} {s}" for s in WORST_FIRST if s in states)
    print(f"{worst}: {len(results)} hosts checked ({counts})")
    for state, line in results:
        print(f"{state}: {line}")
    return EXIT[worst]


if __name__ == "__main__":
    sys.exit(main())
