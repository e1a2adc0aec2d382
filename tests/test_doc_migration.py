"""The migration guide's diff is a real program, before and after."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "howto-migrate.md"


def diffs() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return re.findall(r"```diff\n(.*?)```", text, re.DOTALL)


def sides(diff: str) -> tuple[str, str]:
    """The program before and after the change a unified diff shows."""
    before, after = [], []
    for line in diff.splitlines():
        marker, rest = line[:1], line[1:]
        assert marker in (" ", "-", "+", ""), f"not a diff line: {line!r}"
        if marker in (" ", "", "-"):
            before.append(rest)
        if marker in (" ", "", "+"):
            after.append(rest)
    return "\n".join(before) + "\n", "\n".join(after) + "\n"


def calls(tree: ast.AST) -> dict[str, ast.Call]:
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name):
                found[f"{owner.id}.{node.func.attr}"] = node
    return found


def keywords(call: ast.Call) -> set[str]:
    return {keyword.arg for keyword in call.keywords if keyword.arg}


def test_the_program_parses_before_and_after() -> None:
    program = diffs()[0]
    before, after = sides(program)
    old, new = calls(ast.parse(before)), calls(ast.parse(after))

    assert "websocket.WebSocketApp" in old
    assert "sslopt" in keywords(old["app.run_forever"])

    app = new["pinws.PinnedWebSocketApp"]
    assert {"pins", "ca_certs", "header", "on_open", "on_error"} <= keywords(app)
    assert "websocket.WebSocketApp" not in new
    assert "sslopt" not in keywords(new["app.run_forever"])
    assert keywords(new["app.run_forever"]) == {"ping_interval", "reconnect"}


def test_the_pins_in_the_program_are_valid_pins() -> None:
    import pinws

    _, after = sides(diffs()[0])
    module = ast.parse(after)
    pins = next(
        node.value
        for node in module.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "PINS" for t in node.targets)
    )
    pinws.PinSet(ast.literal_eval(pins))


def test_the_create_connection_change_parses() -> None:
    before, after = sides(diffs()[1])
    assert "websocket.create_connection" in calls(ast.parse(before))
    assert "pins" in keywords(calls(ast.parse(after))["pinws.create_connection"])
