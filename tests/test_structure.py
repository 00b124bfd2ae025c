"""The package's shape: no module in `src/` passes `MAX_LINES` lines (the
engine package's stay under `MAX_ENGINE_LINES`), every module says its one job
in a docstring, and the `chatflow` modules import each other without a cycle.

Import rule (what counts as "A imports B", computed with `ast`, nothing is
imported):

- every `import` / `from … import` in A, at module level *and* inside
  functions or methods: a lazy import still makes the two modules depend on
  each other, it only hides the cycle from import time (the engine ↔
  `step_actions.py` cycle was exactly two lazy imports);
- except those under `if TYPE_CHECKING:` (they never run);
- `from P import name` counts as importing the module `P.name` when that is
  a module, and importing `P.Q.R` also imports the packages `P.Q` and `P`
  (their `__init__` runs first) unless A is inside that package already.

Every edge between two `chatflow` modules is considered. There is no
allow-list: a cycle is a failure.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "chatflow"
ENGINE = PKG / "runtime" / "engine"
MAX_LINES = 600
MAX_ENGINE_LINES = 400


def _module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported(path: Path, modules: set[str], src: Path = SRC) -> set[str]:
    """The package modules `path` imports (the rule in the module docstring)."""
    name = _module_name(path, src)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit_node(other)
                continue
            visit_node(child)

    def visit_node(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for other in node.orelse:
                visit_node(other)
        else:
            visit(node)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    edges: set[str] = set()
    for target in found:
        while target:
            # the module itself, then the packages whose __init__ runs first
            if target in modules and target != name and not name.startswith(target + "."):
                edges.add(target)
            target = target.rpartition(".")[0]
    return edges


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PKG.rglob("*.py")}
    modules = set(paths)
    return {m: _imported(p, modules) for m, p in paths.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan,
    iterative), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, todo = work[-1]
            if todo:
                w = todo.pop()
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, sorted(graph[w])))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp: list[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_no_module_is_over_the_size_limit() -> None:
    too_long = {str(p.relative_to(SRC)): n for p in sorted(PKG.rglob("*.py"))
                if (n := _lines(p)) > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"


def test_every_module_says_its_job() -> None:
    missing = [str(p.relative_to(SRC)) for p in sorted(PKG.rglob("*.py"))
               if ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None
               and p.read_text(encoding="utf-8").strip()]
    assert not missing, f"modules without a docstring: {missing}"


def test_engine_modules_are_small() -> None:
    assert ENGINE.is_dir(), "the engine is a package: src/chatflow/runtime/engine/"
    too_long = {p.name: n for p in sorted(ENGINE.glob("*.py"))
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_ENGINE_LINES}
    assert not too_long, f"engine modules over {MAX_ENGINE_LINES} lines: {too_long}"


def test_engine_modules_say_their_job() -> None:
    missing = [p.name for p in sorted(ENGINE.glob("*.py"))
               if ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None]
    assert not missing, f"engine modules without a docstring: {missing}"


def test_no_import_cycle() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles among chatflow modules: " + "; ".join(
        " ↔ ".join(c) for c in cycles)


def test_the_cycle_check_sees_lazy_imports(tmp_path: Path) -> None:
    """The detector itself: two modules that import each other only inside
    functions form a cycle; a `TYPE_CHECKING` import does not."""
    mods = {"chatflow.runtime.a", "chatflow.runtime.b", "chatflow.runtime.c"}
    root = tmp_path / "chatflow" / "runtime"
    root.mkdir(parents=True)
    (root / "a.py").write_text("def f():\n    from chatflow.runtime import b\n")
    (root / "b.py").write_text("def g():\n    import chatflow.runtime.a\n")
    (root / "c.py").write_text("from typing import TYPE_CHECKING\n"
                               "if TYPE_CHECKING:\n    from chatflow.runtime import a\n")

    graph = {f"chatflow.runtime.{n}": _imported(root / f"{n}.py", mods, tmp_path)
             for n in "abc"}
    assert _cycles(graph) == [["chatflow.runtime.a", "chatflow.runtime.b"]]
    assert graph["chatflow.runtime.c"] == set()
