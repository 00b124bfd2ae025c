"""The compiler's Python API: what `chatflow compile / lint / graph / schema` call.

Each function runs the phases (load → check → lower) and returns plain
results: diagnostics, the product (IR, AST dump, graph text) or None when
there were errors, and the source texts the diagnostics point into (for
carets). Usage problems — a missing file, an ambiguous or unknown flow — raise
`UsageError`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatflow.compiler.agent_names import AgentCatalog as AgentCatalog
from chatflow.deep import runs_in_deep_thread
from chatflow.diagnostics import (
    ChatflowError,
    Diagnostic,
    Span,
    UsageError,
    has_errors,
    sort_diagnostics,
)
from chatflow.gcpause import no_cyclic_gc

if TYPE_CHECKING:
    from chatflow.compiler.check import CheckedProgram
    from chatflow.compiler.loader import Program

EXIT_USAGE = 2


@dataclass
class CompileResult:
    diagnostics: list[Diagnostic]
    ir: dict[str, Any] | None            # None when there are errors
    sources: dict[str, str] = field(default_factory=dict)  # file path -> text


@dataclass
class LintResult:
    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # every file that was linted


@dataclass
class AstResult:
    diagnostics: list[Diagnostic]
    ast: dict[str, Any] | None           # None when the file could not be parsed
    sources: dict[str, str] = field(default_factory=dict)


@dataclass
class GraphResult:
    diagnostics: list[Diagnostic]
    text: str | None                     # None when there are errors
    sources: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- targets


def _is_identifier(s: str) -> bool:
    return s.isidentifier() and s.isascii()


def split_target(arg: str) -> tuple[str, str | None]:
    """`FILE:FLOW` → (FILE, FLOW). Splits on the last `:` only when what
    follows is an identifier and what precedes is an existing file (so a file
    whose name contains `:` still works)."""
    if os.path.isfile(arg):
        return arg, None
    head, sep, tail = arg.rpartition(":")
    if sep and head and _is_identifier(tail) and os.path.isfile(head):
        return head, tail
    return arg, None


def select_flow(program: Program, requested: str | None) -> str:
    """The unit key of the flow to compile (docs/language.md, "Which flow a
    command uses"): the one named after `:`, else the one named like the file
    (`release.flow`, `release.yaml`, `release.flow.yaml`: `release`), else the
    only one."""
    keys = list(program.root_flows)
    names = {program.units[k].flow.name.name: k for k in keys}
    listing = ", ".join(names) if names else "none"
    if requested is not None:
        if requested in names:
            return names[requested]
        raise UsageError(
            f"no flow `{requested}` in {program.root} (flows: {listing})")
    stem = Path(program.root).stem
    if stem.endswith(".flow"):  # `release.flow.yaml` is named like `release`
        stem = stem[: -len(".flow")]
    if stem in names:
        return names[stem]
    if len(keys) == 1:
        return keys[0]
    if not keys:
        raise UsageError(f"{program.root} defines no flow")
    raise UsageError(
        f"{program.root} defines several flows and none is named `{stem}`; pick one with "
        f"`{program.root}:FLOW` (flows: {listing})")


def _read(path: str) -> str:
    if not os.path.exists(path):
        raise UsageError(f"no such file: `{path}`")
    if os.path.isdir(path):
        raise UsageError(f"`{path}` is a directory, not a flow file")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise UsageError(f"cannot read `{path}`: not UTF-8 text") from None
    except OSError as e:
        raise UsageError(f"cannot read `{path}`: {e.strerror or e}") from None


def _sources(program: Program | None, diags: list[Diagnostic],
             known: dict[str, str]) -> dict[str, str]:
    """Texts of every file a diagnostic points into."""
    out = dict(known)
    if program is not None:
        out.update(getattr(program, "sources", {}) or {})
    for d in diags:
        for span in (d.span, *(r.span for r in d.related)):
            if span.file not in out and os.path.isfile(span.file):
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    out[span.file] = Path(span.file).read_text("utf-8")
    return out


def _check(path: str, text: str, agents: Callable[[], AgentCatalog] | None = None
           ) -> tuple[Program, CheckedProgram, list[Diagnostic]]:
    from chatflow.compiler.check import check_program
    from chatflow.compiler.loader import load_program

    program, diags = load_program(path, text)
    checked, more = check_program(program, agents)
    return program, checked, sort_diagnostics([*diags, *more])


# --------------------------------------------------------------------------- commands


@runs_in_deep_thread
def compile_path(path: str, flow: str | None = None, source_info: bool = True) -> CompileResult:
    """Compile one flow of `path` (or `FILE:FLOW` when `flow` is None) to IR."""
    with no_cyclic_gc():
        return _compile_path(path, flow, source_info)


def _compile_path(path: str, flow: str | None, source_info: bool) -> CompileResult:
    if flow is None:
        path, flow = split_target(path)
    text = _read(path)
    program, checked, diags = _check(path, text)
    sources = _sources(program, diags, {path: text})
    if has_errors(diags):
        return CompileResult(diags, None, sources)
    from chatflow.compiler.lower import LoweringError, lower

    entry = select_flow(program, flow)
    # expression types and reads are the rules' (all run by now), not
    # lowering's: free them before the IR is built (peak memory)
    checked.typed.clear()
    try:
        ir = lower(checked, entry, source_info=source_info)
    except LoweringError as e:  # a checker gap: say so instead of a traceback
        raise ChatflowError(
            f"internal compiler error while lowering {path}: {e} (the checker should have "
            "reported this; please file a bug with the source)", diags) from None
    return CompileResult(diags, ir, sources)


@runs_in_deep_thread
def lint_paths(paths: list[str], agents: Callable[[], AgentCatalog] | None = None
               ) -> LintResult:
    """Check every flow of every file named in `paths` and of every ChatFlow
    source found under the directories named (see `compiler.sources`).
    `agents` gives the agents a run could find: flows naming others get W0115
    (called at most once, and only when a flow names an agent); None leaves
    agent names unchecked."""
    with no_cyclic_gc():
        return _lint_paths(paths, agents)


def _lint_paths(paths: list[str], agents: Callable[[], AgentCatalog] | None) -> LintResult:
    from chatflow.compiler.sources import find_sources

    files = find_sources(paths)
    diags: list[Diagnostic] = []
    sources: dict[str, str] = {}
    once = functools.cache(agents) if agents is not None else None
    for path in files:
        text = _read(path)
        program, _, file_diags = _check(path, text, once)
        sources = _sources(program, file_diags, {**sources, path: text})
        diags.extend(file_diags)
    return LintResult(sort_diagnostics(diags), sources, files)


@runs_in_deep_thread
def ast_of(path: str) -> AstResult:
    """The parsed AST of one file as JSON-able data (`compile --emit ast`)."""
    if ":" in path:
        path, _ = split_target(path)
    text = _read(path)
    from chatflow.dsl.frontend import parse_source

    module, diags = parse_source(path, text)
    diags = sort_diagnostics(diags)
    tree = None if module is None or has_errors(diags) else ast_to_json(module)
    return AstResult(diags, tree, _sources(None, diags, {path: text}))


@runs_in_deep_thread
def ast_to_json(node: Any) -> Any:
    """Dataclass AST nodes → `{"node": ClassName, field: ...}`; spans → position dicts."""
    if isinstance(node, Span):
        return [node.line, node.column, node.end_line, node.end_column]
    if is_dataclass(node) and not isinstance(node, type):
        out: dict[str, Any] = {"node": type(node).__name__}
        for f in fields(node):
            out[f.name] = ast_to_json(getattr(node, f.name))
        return out
    if isinstance(node, tuple | list):
        return [ast_to_json(n) for n in node]
    if isinstance(node, Enum):
        return node.value
    return node


@runs_in_deep_thread
def graph_of(path: str, flow: str | None, fmt: str) -> GraphResult:
    """The dependency graph of one flow as Mermaid or DOT text."""
    from chatflow.compiler.graph_render import render

    result = compile_path(path, flow, source_info=False)
    if result.ir is None:
        return GraphResult(result.diagnostics, None, result.sources)
    return GraphResult(result.diagnostics, render(result.ir, fmt), result.sources)


def _schema(name: str) -> dict[str, Any]:
    from importlib import resources

    text = resources.files("chatflow").joinpath("schemas", name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def yaml_schema() -> dict[str, Any]:
    """The JSON Schema of the YAML front-end (`chatflow schema yaml`), with
    the action key and option keys of every installed plugin's kind, as the
    YAML front-end checks a file that uses them."""
    from chatflow.dsl.yaml_schema import schema_with
    from chatflow.plugins import installed_kinds

    plugins = tuple(sorted(n for n, k in installed_kinds().items() if not k.builtin))
    if not plugins:
        return _schema("flow.schema.json")
    return schema_with(plugins)


def ir_schema() -> dict[str, Any]:
    """The JSON Schema of IR v1 (`chatflow schema ir`)."""
    return _schema("ir.schema.json")
