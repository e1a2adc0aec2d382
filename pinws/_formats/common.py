"""What the policy file formats share: source names, dates, reading a file."""

from __future__ import annotations

import os
import re
from typing import Union

__all__ = ["DATE_RE", "STRING_SOURCE", "PathArgument", "read_bytes"]

PathArgument = Union[str, "os.PathLike[str]"]

#: The source named in errors about text that came from no file.
STRING_SOURCE = "<string>"

#: A plain date as both formats write it; ``date.fromisoformat`` alone takes
#: more (``20270630`` on Python 3.11+).
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def read_bytes(source: str) -> bytes:
    """The whole content of the file *source*.

    Raises:
        OSError: the file cannot be read.
    """
    with open(source, "rb") as handle:
        return handle.read()
