"""docs/security.md names the tests that cover each attack class; they exist."""

from __future__ import annotations

import re

from helpers.cli import ROOT

SECURITY_MD = ROOT / "docs" / "security.md"


def test_every_test_the_attack_table_names_exists() -> None:
    text = SECURITY_MD.read_text(encoding="utf-8")
    table = [line for line in text.splitlines() if line.startswith("| ")][2:]
    assert len(table) >= 11, "the attack table lost rows"
    named = 0
    for row in table:
        covered = row.rstrip(" |").rsplit(" | ", 1)[-1]
        current = None
        for token in re.findall(r"`([^`]+)`", covered):
            if token.endswith(".py"):
                current = ROOT / "tests" / token
                assert current.is_file(), token
            elif token.startswith("test_"):
                assert current is not None, row
                source = current.read_text(encoding="utf-8")
                assert re.search(rf"^def {token}\(", source, re.M), (current, token)
                named += 1
    assert named >= 30
