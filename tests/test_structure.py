"""The layering the code follows (docs/design.md), read from the source with ``ast``: every import,
also those inside functions, counts."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("accel_model", "nas", "dfq", "search", "results")
LIBRARY = (*PACKAGES, "benchmarks")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The project modules ``path`` imports (``from a.b import c`` counts as a.b.c when that is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for pkg in LIBRARY for p in (ROOT / pkg).rglob("*.py")}
    return {mod: {m for m in imports(path) if m in files and m != mod} for mod, path in files.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one node (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def floor(module: str) -> str:
    """The command line is a floor of its own above the packages; otherwise the top-level package."""
    return "search.cli" if module.startswith("search.cli") else module.split(".")[0]


def test_only_the_command_line_imports_the_command_line():
    offenders = [
        (mod, dep)
        for mod, deps in graph().items()
        for dep in deps
        if dep.startswith("search.cli") and not mod.startswith("search.cli")
    ]
    assert not offenders


def test_no_import_cycle_between_the_floors():
    edges: dict[str, set[str]] = {}
    for mod, deps in graph().items():
        if not mod.startswith("benchmarks"):
            edges.setdefault(floor(mod), set()).update(floor(d) for d in deps if floor(d) != floor(mod))
    assert not cycles(edges)
    assert "search.cli" not in set().union(*edges.values())  # the top floor


def test_no_import_cycle_inside_a_package():
    edges = {m: {d for d in deps if d.split(".")[0] == m.split(".")[0]} for m, deps in graph().items()}
    assert not cycles(edges)


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
