"""Load a source file and everything it imports into a `Program` of flow units.

`import NAME from "std"` finds NAME among the standard library's flows
(`chatflow/stdlib/*.flow`, package data); `import NAME from "./x.flow"`
resolves the path against the importing file. Unit keys follow docs/ir.md:
the root file's flows by bare name, standard flows `std:NAME`, other files'
flows `RELPATH:NAME` (RELPATH posix, relative to the root file's directory).
Problems with imports are diagnostics (E0204 not found, E0205 cycle); only an
unreadable root file raises `ChatflowError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import PurePath

from chatflow.compiler.spelling import did_you_mean
from chatflow.diagnostics import Diagnostic, Span, UsageError, error
from chatflow.dsl import ast
from chatflow.dsl.lexical import PLACEHOLDER_CODES

STD = "std"


@dataclass
class FlowUnit:
    key: str                   # IR key: "name", "std:name" or "relpath:name"
    module: ast.Module
    flow: ast.Flow
    callables: dict[str, str]  # names callable from this flow -> FlowUnit key
    # imported names whose import failed (already reported): calls stay silent
    unresolved: set[str] = field(default_factory=set)
    is_root: bool = False      # a flow of the compiled file


@dataclass
class Program:
    root: str                  # path of the compiled file
    units: dict[str, FlowUnit]
    root_flows: list[str]      # keys of the root file's flows, source order
    sources: dict[str, str] = field(default_factory=dict)  # module path -> text
    # where the parser put a stand-in for text it could not read (a malformed
    # number ...): the checker reports nothing there (`PLACEHOLDER_CODES`)
    placeholders: list[Span] = field(default_factory=list)


@dataclass
class _File:
    ident: str                 # real path: the identity used for cycles
    path: str                  # path as shown in spans
    module: ast.Module | None
    flows: dict[str, str]      # flow name -> unit key


def std_dir() -> str:
    """The directory of the standard library's `.flow` files."""
    # beside this package, as setuptools installs package data (no importlib.resources
    # import on the lint path)
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "stdlib")


def load_program(path: str, text: str | None = None) -> tuple[Program, list[Diagnostic]]:
    """Parse `path` (or `text`, shown as `path`) and, transitively, its imports."""
    if text is None:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read {path}: {_reason(e)}") from None
    loader = _Loader(path)
    root = loader.load(path, text, is_root=True)
    program = Program(path, loader.units, [], loader.sources,
                      [d.span for d in loader.diags if d.code in PLACEHOLDER_CODES])
    if root.module is not None:
        program.root_flows = list(dict.fromkeys(root.flows.values()))
    return program, loader.diags


def _no_flow(path: str, module: ast.Module) -> Diagnostic:
    """E0115: the file defines no flow (rule `no_flow`), at its first line."""
    from chatflow.dsl.frontend import is_yaml

    what = "the file holds no flow" + (", only imports" if module.imports else "")
    if is_yaml(path):
        hint = "start with `flow: NAME` (one flow) or `flows:` (a list)"
    else:
        hint = "define one: `flow NAME() { ... }` (imported flows are called from it)"
    return error("E0115", what, Span(path, 1, 1, 1, 1, 0, 0), hint)


def _reason(e: Exception) -> str:
    if isinstance(e, OSError):
        return e.strerror or str(e)
    return str(e)


class _Loader:
    def __init__(self, root_path: str) -> None:
        self.root_dir = os.path.dirname(os.path.realpath(root_path))
        self.std = os.path.realpath(std_dir())
        self.units: dict[str, FlowUnit] = {}
        self.sources: dict[str, str] = {}
        self.diags: list[Diagnostic] = []
        self.files: dict[str, _File] = {}
        self.stack: list[_File] = []

    # ------------------------------------------------------------------ files

    def load(self, path: str, text: str, is_root: bool = False) -> _File:
        from chatflow.dsl.frontend import parse_source  # the front-end picks the syntax

        ident = os.path.realpath(path)
        module, diags = parse_source(path, text)
        self.diags += diags
        self.sources[path] = text
        f = _File(ident, path, module, {})
        self.files[ident] = f
        if module is None:
            return f
        if is_root and not module.flows:
            self.diags.append(_no_flow(path, module))
        for flow in module.flows:
            name = flow.name.name
            if name not in f.flows:  # duplicates are reported by the checker
                f.flows[name] = self.key_for(ident, name, is_root)
        self.stack.append(f)
        imported: dict[str, str] = {}
        unresolved: set[str] = set()
        for imp in module.imports:
            self.resolve_import(f, imp, imported, unresolved)
        self.stack.pop()
        callables = {**imported, **f.flows}
        for flow in module.flows:
            key = f.flows[flow.name.name]
            if key not in self.units:
                self.units[key] = FlowUnit(key, module, flow, dict(callables),
                                           set(unresolved), is_root)
        return f

    def key_for(self, ident: str, name: str, is_root: bool) -> str:
        if is_root:
            return name
        if ident == self.std or ident.startswith(self.std + os.sep):
            return f"std:{name}"
        rel = PurePath(os.path.relpath(ident, self.root_dir)).as_posix()
        return f"{rel}:{name}"

    def open_file(self, ident: str, path: str, imp: ast.Import) -> _File | None:
        """The loaded file, or None (E0204 / E0205 reported at `imp`)."""
        for i, on_stack in enumerate(self.stack):
            if on_stack.ident == ident:
                chain = [*(s.path for s in self.stack[i:]), path]
                self.diags.append(error(
                    "E0205", f"import cycle: {' → '.join(chain)}", imp.source.span,
                    "files must not import each other in a loop; move the shared flows "
                    "into a third file"))
                return None
        if ident in self.files:
            return self.files[ident]
        try:
            with open(ident, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as e:
            self.diags.append(error(
                "E0204", f"cannot read imported file `{imp.source.value}`: {_reason(e)}",
                imp.source.span))
            return None
        return self.load(path, text)

    # ------------------------------------------------------------------ imports

    def resolve_import(self, f: _File, imp: ast.Import, imported: dict[str, str],
                       unresolved: set[str]) -> None:
        source = imp.source.value
        if not isinstance(source, str):
            return
        if source == STD:
            for ident in imp.names:
                key = self.std_flow(ident, imp)
                self.bind(f, ident, key, imported, unresolved)
            return
        base = os.path.dirname(f.ident)
        target = os.path.normpath(os.path.join(base, source))
        shown = os.path.normpath(os.path.join(os.path.dirname(f.path), source))
        if not os.path.isfile(target):
            self.diags.append(error(
                "E0204", f"imported file `{source}` not found", imp.source.span,
                f"paths are relative to the importing file (looked for `{shown}`)"))
            unresolved.update(i.name for i in imp.names)
            return
        other = self.open_file(os.path.realpath(target), shown, imp)
        for ident in imp.names:
            found: str | None = None
            if other is not None:
                found = other.flows.get(ident.name)
                if found is None and other.module is not None:
                    self.diags.append(error(
                        "E0204", f"`{ident.name}` is not a flow of `{source}`", ident.span,
                        did_you_mean(ident.name, other.flows)))
            self.bind(f, ident, found, imported, unresolved)

    def bind(self, f: _File, ident: ast.Ident, key: str | None, imported: dict[str, str],
             unresolved: set[str]) -> None:
        name = ident.name
        if key is None:
            unresolved.add(name)
            return
        if name in imported or name in f.flows:
            what = "imported twice" if name in imported else "also a flow of this file"
            self.diags.append(error("E0202", f"`{name}` is {what}", ident.span))
            return
        imported[name] = key

    def std_flow(self, ident: ast.Ident, imp: ast.Import) -> str | None:
        """The key of standard flow `ident`, loading the file that defines it:
        `NAME.flow` first (cheap), else every standard file."""
        name = ident.name
        candidates = [os.path.join(self.std, name + ".flow")]
        try:
            everything = sorted(
                os.path.join(self.std, n) for n in os.listdir(self.std) if n.endswith(".flow"))
        except OSError:
            everything = []
        known: set[str] = set()
        for path in [*candidates, *(p for p in everything if p not in candidates)]:
            if not os.path.isfile(path):
                continue
            shown = path
            loaded = self.open_file(os.path.realpath(path), shown, imp)
            if loaded is None:
                return None
            if name in loaded.flows:
                return loaded.flows[name]
            known.update(loaded.flows)
        self.diags.append(error(
            "E0204", f"`{name}` is not a flow of the standard library", ident.span,
            did_you_mean(name, known)))
        return None
