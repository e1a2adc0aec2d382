"""Terminal colours, only where they help and never where NO_COLOR is set."""

from __future__ import annotations

import os
from typing import TextIO

__all__ = ["Style", "colour_wanted"]


def colour_wanted(stream: TextIO) -> bool:
    """Whether to colour output written to *stream*.

    Only on a terminal, and never when ``NO_COLOR`` is set to anything but
    the empty string (https://no-color.org) or ``TERM`` is ``dumb``.
    """
    if os.environ.get("NO_COLOR", ""):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class Style:
    """ANSI styling that collapses to plain text when disabled.

    Args:
        enabled: whether to emit escape sequences at all.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        if not self.enabled:
            return text
        return f"\x1b[{code}m{text}\x1b[0m"

    def bold(self, text: str) -> str:
        """*text* in bold."""
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        """*text* de-emphasised."""
        return self._wrap("2", text)

    def good(self, text: str) -> str:
        """*text* marked as a success (green)."""
        return self._wrap("32", text)

    def warn(self, text: str) -> str:
        """*text* marked as a warning (yellow)."""
        return self._wrap("33", text)

    def bad(self, text: str) -> str:
        """*text* marked as a failure (bold red)."""
        return self._wrap("1;31", text)

    def pin(self, text: str) -> str:
        """A pin, easy to spot and to copy (cyan)."""
        return self._wrap("36", text)
