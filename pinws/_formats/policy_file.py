"""A pin policy file: its suffix says which syntax of the pinws schema."""

from __future__ import annotations

import os

from .._errors import PinConfigError
from .._pins.policy import PinPolicy
from .common import PathArgument, read_bytes
from .pinws_json import parse_policy_json
from .pinws_toml import parse_policy_toml

__all__ = ["load_policy_file"]


def load_policy_file(path: PathArgument) -> PinPolicy:
    """Load a policy from a ``.toml`` or ``.json`` file.

    Raises:
        PinConfigError: the file is malformed, or its suffix is neither.
        OSError: the file cannot be read.
    """
    source = os.fspath(path)
    suffix = os.path.splitext(source)[1].lower()
    if suffix == ".xml":
        raise PinConfigError(
            source,
            "",
            "this looks like an Android network security config; load it "
            "with PinPolicy.from_android_nsc()",
        )
    if suffix not in (".toml", ".json"):
        raise PinConfigError(
            source,
            "",
            f"unknown file type {suffix or '(no suffix)'!r}; a pin policy file "
            "is .toml or .json",
        )
    data = read_bytes(source)
    text = _decode(source, data)
    if suffix == ".toml":
        return parse_policy_toml(text, source)
    return parse_policy_json(text, source)


def _decode(source: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PinConfigError(
            source, "", f"not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from None
