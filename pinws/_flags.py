"""Checking the on/off arguments that switch protection on or off.

``bool("false")`` is ``True``: a flag read from an environment variable or a
config file as text would silently turn enforcement *off*. Every flag of the
public API therefore takes a real :class:`bool` and nothing else.
"""

from __future__ import annotations

__all__ = ["require_bool"]


def require_bool(value: object, name: str) -> bool:
    """Return *value* if it is a real :class:`bool`.

    Args:
        value: what the caller passed.
        name: the argument's name, as the caller wrote it (``"pin_only"``).

    Raises:
        ValueError: *value* is anything else (the string ``"false"``, ``0``,
            ``None``), naming the argument and how to pass it.
    """
    if isinstance(value, bool):
        return value
    hint = ""
    if isinstance(value, str):
        hint = (
            f"; a string is never read as a flag: convert it first, e.g. "
            f"{name}=(text.lower() == 'true')"
        )
    raise ValueError(
        f"{name} must be True or False, not {type(value).__name__} {value!r}{hint}"
    )
