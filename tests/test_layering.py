"""Data flows one way: dsl → compiler → runtime → cli (cycles and module sizes:
test_structure.py). These tests fail when a
module imports from a later stage, when lark leaks out of `chatflow.dsl`, or when
light entry points (`chatflow --version`, the dsl) drag in heavy modules."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "chatflow"

# Stage of each top-level part of the package; a module may import only from
# its own stage or earlier ones. `diagnostic_codes` is the one registry of codes
# the front ends and the checker's rules register into; `diagnostic_format`
# renders compiler output and imports those phases so their codes are
# registered, and the runtime may use it.
STAGE_NAMES = ["common", "dsl", "compiler", "format", "runtime", "cli", "testing"]
STAGES = {
    "chatflow.diagnostics": "common",
    "chatflow.diagnostic_codes": "common",
    "chatflow.plugins": "common",
    "chatflow.deep": "common",
    "chatflow.json_text": "common",
    "chatflow.dsl": "dsl",
    "chatflow.compiler": "compiler",
    "chatflow.diagnostic_format": "format",
    "chatflow.runtime": "runtime",
    "chatflow.cli": "cli",
    "chatflow.commands": "cli",
    "chatflow.cli_runtime": "cli",
    "chatflow.cli_runtime_app": "cli",
    "chatflow.cli_fast": "cli",
    "chatflow.cli_render": "cli",
    "chatflow.cli_plugins": "cli",
    "chatflow.__main__": "cli",
    "chatflow.testing": "testing",  # conformance kits for plugins: nothing imports them
}


def _stage(module: str) -> str | None:
    best: tuple[int, str] | None = None
    for prefix, stage in STAGES.items():
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > best[0]
        ):
            best = (len(prefix), stage)
    return best[1] if best else None


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module name imported anywhere in the file (lazy imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.append((mod, node.lineno))
            # `from chatflow import compiler` imports the subpackage itself.
            found.extend((f"{mod}.{alias.name}", node.lineno) for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.args[0].value, node.lineno))
    return found


def _python_files() -> list[Path]:
    return sorted(PKG.rglob("*.py"))


def test_the_renderer_imports_no_module_by_its_name_in_a_string() -> None:
    """The rule catalog comes from the registry, not `__import__("chatflow...")`."""
    text = (PKG / "diagnostic_format.py").read_text(encoding="utf-8")
    assert "__import__" not in text and "import_module" not in text


def test_there_is_something_to_check() -> None:
    files = {_module_name(p) for p in _python_files()}
    assert "chatflow.diagnostics" in files
    assert "chatflow.cli" in files


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_from_a_later_stage(path: Path) -> None:
    own = _stage(_module_name(path))
    if own is None:  # chatflow/__init__.py: the package facade
        return
    rank = STAGE_NAMES.index(own)
    bad = []
    for mod, line in _imports(path):
        other = _stage(mod)
        if other is not None and STAGE_NAMES.index(other) > rank:
            bad.append(f"{path.relative_to(SRC)}:{line} ({own}) imports {mod} ({other})")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_lark_stays_inside_dsl(path: Path) -> None:
    if _module_name(path).startswith("chatflow.dsl"):
        return
    bad = [f"{path.relative_to(SRC)}:{line} imports {mod}"
           for mod, line in _imports(path) if mod == "lark" or mod.startswith("lark.")]
    assert not bad, "\n".join(bad)


def test_the_checker_itself_detects_a_violation(tmp_path: Path) -> None:
    """Guard against a checker that silently finds no imports."""
    imports = dict(_imports(PKG / "cli.py"))
    assert "typer" in imports
    assert _stage("chatflow.compiler.api") == "compiler"
    assert _stage("chatflow.dsl.parser") == "dsl"
    assert _stage("chatflow.cli_runtime") == "cli"


def _loaded_after(code: str, cwd: Path | None = None) -> list[str]:
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=False, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    loaded: list[str] = json.loads(lines[-1])
    return loaded


def _heavy(loaded: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in loaded if m.split(".")[0] in names]


def test_version_needs_no_heavy_imports() -> None:
    loaded = _loaded_after(
        "import io, contextlib\nfrom chatflow.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--version'])"
    )
    assert not _heavy(loaded, ("typer", "click", "rich", "lark", "yaml", "networkx",
                               "jsonschema"))
    assert not [m for m in loaded if m.startswith(("chatflow.compiler", "chatflow.runtime"))]


def test_plain_lint_does_not_import_typer() -> None:
    example = SRC.parent / "examples" / "feature.flow"
    loaded = _loaded_after(
        "import io, contextlib\nfrom chatflow.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), "
        "contextlib.redirect_stderr(io.StringIO()):\n"
        f"    main(['lint', {str(example)!r}])"
    )
    assert not _heavy(loaded, ("typer", "click", "rich", "pydantic", "jsonschema"))


HOT_LIGHT = ("typer", "click", "pydantic", "jsonschema", "networkx", "lark", "yaml", "rich")


@pytest.fixture(scope="module")
def hot_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A file store holding one instance waiting for an approval."""
    from chatflow.runtime.api import WorkflowEngine, compile_flow

    work = tmp_path_factory.mktemp("hot")
    flow = work / "gate.flow"
    flow.write_text('flow gate() {\n  step a: approve "go?"\n}\n', encoding="utf-8")
    engine = WorkflowEngine(_file_store(work / "state"), workdir=str(work))
    started = engine.start_workflow_instance(compile_flow(str(flow)), automation_level=0)
    engine.run_until_blocked(started.instance_id)
    engine.engine.store.close()
    return work, started.instance_id


def _file_store(path: Path) -> object:
    from chatflow.runtime.store import open_store

    return open_store(f"file:{path}")


@pytest.mark.parametrize("command", [
    ["status", "{id}"], ["status"], ["list"], ["history", "{id}"], ["history", "{id}", "--json"],
    ["approve", "{id}", "nope"], ["resume", "{id}"], ["cancel", "no-such-id"],
])
def test_hot_commands_import_no_heavy_module(command: list[str],
                                             hot_state: tuple[Path, str]) -> None:
    """`chatflow status / list / history / approve / resume / cancel` start
    without typer, pydantic, jsonschema, networkx, lark, yaml or rich; `list`
    and `history` without the engine core either."""
    work, iid = hot_state
    args = [a.format(id=iid) for a in command] + ["--state", f"file:{work / 'state'}"]
    loaded = _loaded_after(
        "import io, contextlib\nfrom chatflow.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), "
        "contextlib.redirect_stderr(io.StringIO()):\n"
        f"    main({args!r})",
        cwd=work,  # no .chatflow/config.yaml here: reading one needs yaml
    )
    assert not _heavy(loaded, HOT_LIGHT), command
    if command[0] in ("list", "history"):
        # read-only views read the store alone: no engine core, no evaluator,
        # no IR checker, no lock library
        assert not [m for m in loaded if m in STORE_ONLY_HEAVY
                    or m.startswith(("chatflow.runtime.engine.", "filelock."))], command


STORE_ONLY_HEAVY = frozenset({"chatflow.runtime.engine", "chatflow.runtime.evaluator",
                              "chatflow.compiler.ir", "chatflow.compiler.ir_check",
                              "chatflow.runtime.quota", "filelock"})


def test_run_of_a_set_flow_imports_no_typer_or_validator(tmp_path: Path) -> None:
    """`chatflow run` compiles (lark) but needs no typer, pydantic, jsonschema or rich."""
    flow = tmp_path / "one.flow"
    flow.write_text("flow one() {\n  var x: int = 0\n  step a: set x = 1\n}\n",
                    encoding="utf-8")
    loaded = _loaded_after(
        "import io, contextlib\nfrom chatflow.__main__ import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), "
        "contextlib.redirect_stderr(io.StringIO()):\n"
        f"    assert main(['run', {str(flow)!r}, '--state', "
        f"{'file:' + str(tmp_path / 'state')!r}]) == 0",
        cwd=tmp_path,
    )
    assert not _heavy(loaded, ("typer", "click", "pydantic", "jsonschema", "rich"))


def test_cli_module_top_level_is_light() -> None:
    loaded = _loaded_after("import chatflow.cli")
    assert not _heavy(loaded, ("rich", "lark", "networkx", "jsonschema"))
    assert not [m for m in loaded if m.startswith("chatflow.runtime")]


def test_dsl_does_not_load_later_stages() -> None:
    loaded = _loaded_after("import chatflow.dsl.parser")
    later = [m for m in loaded
             if m.startswith(("chatflow.compiler", "chatflow.runtime", "chatflow.cli"))]
    assert not later
    assert not _heavy(loaded, ("networkx", "jsonschema", "typer", "rich"))


# The runtime reaches the compiler through the IR format's one home and the
# one loader (compiling a source file), nothing else (docs/internals.md).
RUNTIME_MAY_IMPORT = frozenset({"chatflow.compiler.ir", "chatflow.compiler.api"})


@pytest.mark.parametrize("path", sorted((PKG / "runtime").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(SRC)))
def test_runtime_reaches_the_compiler_only_through_ir_and_the_loader(path: Path) -> None:
    bad = [f"{path.relative_to(SRC)}:{line} imports {mod}"
           for mod, line in _imports(path)
           if _stage(mod) == "compiler" and mod not in RUNTIME_MAY_IMPORT
           # `from chatflow.compiler.ir import X` also lists `chatflow.compiler.ir.X`
           and mod.rpartition(".")[0] not in RUNTIME_MAY_IMPORT]
    assert not bad, "\n".join(bad)


def test_the_runtimes_tests_do_not_import_the_cli() -> None:
    """The runtime's views are `WorkflowEngine` methods: its tests reach them
    there, never through the CLI modules (how the CLI prints is tested in e2e)."""
    tests = Path(__file__).resolve().parent / "runtime"
    bad = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            bad += [f"{path.name}:{node.lineno} imports {m}" for m in names
                    if _stage(m) == "cli"]
    assert not bad, "\n".join(bad)


def test_the_conformance_kit_needs_no_pytest_and_chatflow_does_not_load_it() -> None:
    loaded = _loaded_after("import chatflow, chatflow.runtime.api")
    assert not [m for m in loaded if m.startswith("chatflow.testing")]
    loaded = _loaded_after("import chatflow.testing.store_conformance")
    assert not _heavy(loaded, ("pytest", "_pytest"))
