"""The shape of the house, checked: layers import one way, no cycles, one home per provider.

Read from the source with `ast`, so a violation fails here before it shows as a wrong answer
elsewhere. Every import counts, at module level or inside a function (a lazy import that only
dodges a cycle is still a cycle); only imports under `if TYPE_CHECKING:` are left out, as they
never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("extractors", "ingest")
MAX_INGEST_TOP_LEVEL = 12


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST, *, with_type_checking: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node) and not with_type_checking:
            yield from _import_nodes(ast.Module(body=node.orelse, type_ignores=[]), with_type_checking=False)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _import_nodes(node, with_type_checking=with_type_checking)


def imports_of(name: str, path: Path, modules: dict[str, Path], *, with_type_checking: bool) -> set[str]:
    """The project modules `name` imports: `from pkg import sub` names the submodule when it is one."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(tree, with_type_checking=with_type_checking):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(*, with_type_checking: bool = False) -> dict[str, set[str]]:
    modules = project_modules()
    return {
        name: imports_of(name, path, modules, with_type_checking=with_type_checking)
        for name, path in modules.items()
    }


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each a cycle to break."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycle() -> None:
    assert find_cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]


def test_extractors_import_nothing_from_ingest() -> None:
    graph = import_graph(with_type_checking=True)
    leaks = {
        name: sorted(t for t in targets if t.split(".")[0] == "ingest")
        for name, targets in graph.items()
        if name.split(".")[0] == "extractors"
    }
    assert {name: found for name, found in leaks.items() if found} == {}


def test_ingest_has_at_most_a_dozen_top_level_modules() -> None:
    top = sorted(
        p.name for p in (REPO / "ingest").iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
    )
    assert len(top) <= MAX_INGEST_TOP_LEVEL, top


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_after_code(package: str) -> None:
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / package).rglob("*.py")
        if "noqa: E402" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []
