"""The house rules, read from the code with ``ast``: imports run one way, no circles, no
private names across modules.

Every ``import`` counts, the ones inside functions too: a lazy import still ties two modules
together (the circle this test was written against, config → packing → preflight → manifest
→ config, was all lazy imports). The layers, lowest first, are the steps a run takes; a
module may import its own layer and the layers below, never one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tuner", "trainables", "search_spaces", "benchmarks")

# lowest first; a module belongs to the longest prefix listed
LAYERS: list[tuple[str, ...]] = [
    ("search_spaces",),
    ("trainables",),
    ("tuner", "tuner.errors", "tuner.budget", "tuner.trial_fidelity", "tuner.moved"),
    ("tuner.searchers", "tuner.schedulers"),
    ("tuner.compose",),
    ("tuner.experiment",),
    ("tuner.record",),
    ("tuner.view",),
    ("tuner.launch",),
    ("tuner.followup",),
    ("tuner.api", "tuner.cli", "tuner.__main__"),
    ("benchmarks",),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import of our packages."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] in PACKAGES:
                out.append((target, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names
                    if a.name.split(".")[0] in PACKAGES]
    return out


def all_modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def resolve(target: str, names: list[str], modules: dict[str, Path]) -> list[str]:
    """The modules an import reaches: ``from pkg import mod`` is ``pkg.mod``."""
    reached = [target] if target in modules else []
    reached += [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
    return reached or [target]


def layer_of(module: str) -> int:
    best, level = -1, None
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    assert level is not None, f"{module}: in no layer of tests/test_architecture.py"
    return level


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for target, names, _ in imports_of(path):
            graph[module] |= {t for t in resolve(target, names, modules)
                              if t in modules and t != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, as the list of modules around it, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Package __init__ modules may name their own submodules (they are the package)."""
    bad = []
    for module, targets in graph.items():
        for target in targets:
            if target.startswith(module + "."):
                continue
            if layer_of(target) > layer_of(module):
                bad.append(f"{module} → {target}")
    return sorted(bad)


def private_imports() -> list[str]:
    """``from a.b import _x`` anywhere (a private name is its module's own), and a private
    module (``_optuna``) imported from outside its package."""
    modules = all_modules()
    bad = []
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for target, names, line in imports_of(path):
            target_package = target if target in modules and \
                modules[target].name == "__init__.py" else target.rpartition(".")[0]
            same_package = package == target_package or target.startswith(package + ".")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                bad.append(f"{module}:{line} imports {', '.join(private)} from {target}")
            hidden = [p for p in target.split(".") if p.startswith("_") and p != "__init__"]
            if hidden and not same_package:
                bad.append(f"{module}:{line} imports private module {target}")
    return sorted(bad)


def test_no_import_circles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " → ".join(cycle)


def test_imports_run_from_the_later_steps_to_the_earlier_ones():
    assert upward_imports(import_graph()) == []


def test_no_private_names_imported_across_modules():
    assert private_imports() == []


def test_every_module_has_a_layer():
    for module in all_modules():
        layer_of(module)


@pytest.mark.parametrize("edges, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"a2"}, "a2": {"b"}, "b": {"a2"}}, ["a2", "b", "a2"]),
])
def test_the_circle_finder_finds_circles(edges, expected):
    assert find_cycle(edges) == expected


def test_the_old_circle_would_be_caught():
    """The circle of issue 20, as it was: config → packing → preflight → manifest → config."""
    old = {"tuner.config": {"tuner.packing"}, "tuner.packing": {"tuner.preflight"},
           "tuner.preflight": {"tuner.manifest"}, "tuner.manifest": {"tuner.config"}}
    assert find_cycle(old) == ["tuner.config", "tuner.packing", "tuner.preflight",
                               "tuner.manifest", "tuner.config"]


def test_an_upward_import_is_caught():
    assert upward_imports({"tuner.record.finish": {"tuner.launch.runner"}}) == [
        "tuner.record.finish → tuner.launch.runner"]
