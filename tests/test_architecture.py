"""The import graph of pinws: no cycles, and each layer imports only downwards.

The graph is read from the source with :mod:`ast`, so it counts every import:
module level, inside functions (deferred imports are still dependencies) and
under ``if TYPE_CHECKING:`` (a type a layer names is a concept it knows).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pinws"

Graph = dict[str, set[str]]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_names(
    tree: ast.AST, module: str, is_package: bool, modules: Iterable[str] = ()
) -> Iterator[str]:
    """The modules *module*'s imports name, relative imports resolved.

    ``from package import name`` names the submodule ``package.name`` when
    *modules* has one, else ``package`` itself.
    """
    known = set(modules)
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                yield submodule if submodule in known else target


def import_graph() -> Graph:
    files = source_files()
    graph: Graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        names = imported_names(tree, module, path.name == "__init__.py", files)
        graph[module] = {name for name in names if name in files and name != module}
    return graph


def find_cycle(graph: Graph) -> list[str]:
    """One cycle of *graph* as a list of modules, or ``[]`` if there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def violations(graph: Graph, source: str, forbidden: Iterable[str]) -> list[str]:
    banned = set(forbidden)
    return sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if layer(module) == source
        for target in targets
        if layer(target) in banned
    )


GRAPH = import_graph()


# Edges a cycle may use until someone removes them, each with its reason.
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()

# What a layer that does no I/O may not import, even from the standard library.
IO_MODULES = {"socket", "ssl", "select", "selectors", "http", "urllib", "OpenSSL"}


def without_known_edges(graph: Graph) -> Graph:
    return {
        module: {t for t in targets if (module, t) not in KNOWN_CYCLE_EDGES}
        for module, targets in graph.items()
    }


def layer_graph(graph: Graph) -> Graph:
    layers: Graph = {}
    for module, targets in graph.items():
        edges = layers.setdefault(layer(module), set())
        edges.update(layer(t) for t in targets if layer(t) != layer(module))
    return layers


def parsed(module: str) -> ast.AST:
    path = source_files()[module]
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


# -- the checker itself --------------------------------------------------------


def test_the_graph_is_read_from_every_module() -> None:
    assert "pinws._pins.policy" in GRAPH
    assert "pinws._pins.pin" in GRAPH["pinws._pins.pinset"]
    # A relative import two levels up, and one inside a function.
    assert "pinws._errors" in GRAPH["pinws._pins.pin"]
    assert "pinws._reports.sender" in GRAPH["pinws._client.config"]
    # "from . import x" names the submodule x.
    assert "pinws._cli.cmd_check" in GRAPH["pinws._cli.main"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_type_checking_imports_count() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from .._pins.pin import Pin\n"
    )
    names = set(imported_names(tree, "pinws._transport.socket", False))
    assert "pinws._pins.pin" in names
    violating = {"pinws._transport.socket": {"pinws._pins.pin"}}
    assert violations(violating, "_transport", ["_pins"]) != []


# -- the rules -----------------------------------------------------------------


def test_no_import_cycles_between_modules() -> None:
    assert find_cycle(without_known_edges(GRAPH)) == []


def test_no_import_cycles_between_layers() -> None:
    assert find_cycle(layer_graph(without_known_edges(GRAPH))) == []


def test_no_import_cycles_even_through_type_only_imports() -> None:
    assert find_cycle(GRAPH) == []


def test_the_pins_core_imports_no_io_layer() -> None:
    forbidden = ("_tls", "_transport", "_client", "_cli", "_formats", "_store")
    forbidden += ("_reports",)
    assert violations(GRAPH, "_pins", forbidden) == []


def test_the_pins_core_does_no_io() -> None:
    for module in (m for m in GRAPH if layer(m) == "_pins"):
        tree = parsed(module)
        names = set(imported_names(tree, module, module.endswith("_pins")))
        assert not {n.split(".")[0] for n in names} & IO_MODULES, module
        calls = [
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        ]
        assert "open" not in calls, module


def test_the_transport_knows_no_pins() -> None:
    forbidden = ("_pins", "_tls", "_client", "_cli")
    assert violations(GRAPH, "_transport", forbidden) == []


def test_the_file_formats_know_no_connection() -> None:
    forbidden = ("_tls", "_transport", "_client", "_cli", "_store", "_reports")
    assert violations(GRAPH, "_formats", forbidden) == []


def test_the_report_sender_knows_no_connection() -> None:
    forbidden = ("_tls", "_transport", "_client", "_cli", "_store", "_formats")
    assert violations(GRAPH, "_reports", forbidden) == []


def test_one_module_hashes_a_subject_public_key_info() -> None:
    # public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) is the
    # input of a pin; computing it twice is how two definitions drift.
    encoders = set()
    for module in GRAPH:
        for node in ast.walk(parsed(module)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "public_bytes"
                and any(
                    isinstance(arg, ast.Attribute) and arg.attr == "DER"
                    for arg in node.args
                )
                and any(
                    isinstance(arg, ast.Attribute)
                    and arg.attr == "SubjectPublicKeyInfo"
                    for arg in node.args
                )
            ):
                encoders.add(module)
    assert encoders == {"pinws._pins.pin"}


def test_policy_files_are_handed_to_the_pins_core(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import pinws
    from pinws._formats import POLICY_FILES
    from pinws._pins import policy

    assert policy._policy_files() is POLICY_FILES
    monkeypatch.setattr(policy, "_policy_files_given", None)
    with pytest.raises(RuntimeError, match="use_policy_files"):
        pinws.PinPolicy.from_file(tmp_path / "pins.toml")
