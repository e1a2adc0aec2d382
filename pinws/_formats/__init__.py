"""Pin policy files: the pinws schema (TOML, JSON) and Android's config.

One module per format, each reading and writing it; :data:`POLICY_FILES`
is what :class:`pinws.PinPolicy`'s file methods delegate to.
"""

from __future__ import annotations

from .._pins.policy import PolicyFiles
from .android import dump_android_nsc, load_android_nsc
from .pinws_json import dump_json
from .pinws_toml import dump_toml
from .policy_file import load_policy_file

__all__ = ["POLICY_FILES"]

POLICY_FILES = PolicyFiles(
    load_policy_file=load_policy_file,
    load_android_nsc=load_android_nsc,
    dump_toml=dump_toml,
    dump_json=dump_json,
    dump_android_nsc=dump_android_nsc,
)
