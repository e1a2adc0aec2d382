"""Where a command's output goes: results to stdout, the rest to stderr."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
import threading
from typing import Any, Optional, TextIO

from .style import Style, colour_wanted

__all__ = ["Console"]


class Console:
    """A command's two output streams, each with its own colour decision.

    Results go to :attr:`out`; progress, warnings and errors to
    :attr:`err`, so ``pinws ... --json | jq`` and ``> file`` get only the
    results. Writes are serialised: ``connect`` prints from two threads.

    Args:
        out: the results stream (default ``sys.stdout``).
        err: the diagnostics stream (default ``sys.stderr``).
    """

    def __init__(self, out: Optional[TextIO] = None, err: Optional[TextIO] = None):
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.style = Style(colour_wanted(self.out))
        self.err_style = Style(colour_wanted(self.err))
        self._lock = threading.Lock()

    def wrap(self, text: str, indent: str, first: str = "") -> list[str]:
        """*text* wrapped to the terminal (at most 100 columns), indented."""
        width = min(shutil.get_terminal_size((100, 24)).columns, 100)
        return textwrap.wrap(
            text,
            width=max(width, 40),
            initial_indent=first or indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )

    def print(self, text: str = "") -> None:
        """Write one line of results."""
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def lines(self, lines: list[str]) -> None:
        """Write several lines of results at once."""
        with self._lock:
            self.out.write("".join(line + "\n" for line in lines))
            self.out.flush()

    def json(self, value: Any) -> None:
        """Write *value* as indented JSON (one document)."""
        self.print(json.dumps(value, indent=2, sort_keys=False))

    def json_line(self, value: Any) -> None:
        """Write *value* as one line of JSON (for streams of records)."""
        self.print(json.dumps(value, separators=(",", ":")))

    def note(self, text: str) -> None:
        """Write a line of diagnostics to stderr."""
        with self._lock:
            self.err.write(text + "\n")
            self.err.flush()
