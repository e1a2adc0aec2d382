"""The pins a command enforces or checks: ``--pin`` values or a ``--config`` file."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Optional

from .._errors import InvalidPinError, PinConfigError, UnpinnedHostError
from .._pins.pinset import PinSet
from .._pins.policy import PinPolicy
from .errors import CLIError

__all__ = ["PinSource", "load_pin_source"]


@dataclasses.dataclass(frozen=True)
class PinSource:
    """Where the pins came from, and the policy they make.

    Attributes:
        policy: the policy to connect with.
        description: ``"2 pins from --pin"`` or ``"pins.toml"``.
        config: the config file, if one was given.
    """

    policy: PinPolicy
    description: str
    config: Optional[str] = None

    def pin_set_for(self, host: str) -> tuple[Optional[PinSet], Optional[str]]:
        """The pin set for *host* and the host pattern that chose it.

        Returns:
            ``(None, None)`` when the policy allows *host* unpinned.

        Raises:
            CLIError: the policy refuses *host* (it has no pins for it).
        """
        try:
            rule = self.policy.match(host)
        except UnpinnedHostError as exc:
            raise CLIError(
                f"{self.description} has no pins for {host!r} and does not allow "
                "unpinned hosts, so a client using it would refuse this server; "
                "add a pattern for it",
                reason="no_pins_for_host",
            ) from exc
        if rule is None:
            return None, None
        return rule.pin_set, rule.pattern


def load_pin_source(args: argparse.Namespace) -> PinSource:
    """Build the policy from ``--pin`` or ``--config``.

    Raises:
        CLIError: a pin or the file is malformed, or the file is unreadable.
    """
    if args.pins:
        try:
            pin_set = PinSet(args.pins)
        except InvalidPinError as exc:
            raise CLIError(f"--pin: {exc}") from exc
        count = len(pin_set.pins)
        return PinSource(
            PinPolicy.for_all_hosts(pin_set),
            f"{count} pin{'s' if count != 1 else ''} given with --pin",
        )
    path = args.config
    try:
        policy = PinPolicy.from_file(path)
    except FileNotFoundError:
        raise CLIError(f"--config {path}: no such file") from None
    except OSError as exc:
        raise CLIError(f"--config {path}: cannot read: {exc.strerror or exc}") from exc
    except PinConfigError as exc:
        # Its message begins with the file's name: say it once.
        where = f"{exc.key}: " if exc.key else ""
        raise CLIError(f"--config {path}: {where}{exc.problem}") from exc
    except ValueError as exc:  # InvalidPinError included
        raise CLIError(f"--config {path}: {exc}") from exc
    return PinSource(policy, path, config=path)
