"""docs/cli.md is the real ``--help`` output, and the how-to's commands parse."""

from __future__ import annotations

import re
import shlex

import pytest

from helpers.cli import ROOT, run_pinws
from pinws._cli import reference
from pinws._cli.errors import UsageError
from pinws._cli.main import build_parser

CLI_MD = ROOT / "docs" / "cli.md"
HOWTO_MD = ROOT / "docs" / "howto-get-pins.md"
REGENERATE = "regenerate it: python -m pinws._cli.reference > docs/cli.md"


def test_cli_reference_is_up_to_date() -> None:
    assert CLI_MD.read_text(encoding="utf-8") == reference.render(), REGENERATE


@pytest.mark.parametrize(
    "command", reference.COMMANDS, ids=lambda c: " ".join(c) or "pinws"
)
def test_cli_reference_matches_the_real_help(command: tuple[str, ...]) -> None:
    # COLUMNS=90 makes argparse wrap at reference.WIDTH, as the file is.
    result = run_pinws(*command, "--help")
    assert result.code == 0, str(result)
    title = " ".join(("pinws", *command))
    documented = CLI_MD.read_text(encoding="utf-8")
    block = re.search(
        rf"^## `{re.escape(title)}`\n\n```text\n(.*?)```\n", documented, re.M | re.S
    )
    assert block, f"docs/cli.md has no section for {title}; {REGENERATE}"
    assert block.group(1) == result.stdout, REGENERATE


def howto_commands() -> list[str]:
    text = HOWTO_MD.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```(?:sh|console|shell)\n(.*?)```", text, re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("pinws "):
                commands.append(line.split(" | ")[0].split(" > ")[0])
    return commands


def test_the_howto_shows_commands() -> None:
    commands = howto_commands()
    for name in ("pins", "check", "connect"):
        assert any(c.startswith(f"pinws {name} ") for c in commands), name


@pytest.mark.parametrize("line", howto_commands())
def test_every_command_in_the_howto_parses(line: str) -> None:
    parser = build_parser()
    try:
        parser.parse_args(shlex.split(line)[1:])
    except UsageError as exc:  # pragma: no cover - the failure message
        pytest.fail(f"{line!r}: {exc.message}")
