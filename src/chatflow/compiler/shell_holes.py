"""Place the holes of a `shell` command template: the one job of turning a
template into a fixed command text plus bindings (docs/ir.md, IR version 2).

Each hole becomes a reference to an environment variable (`"${cf_NAME}"`)
written for where it stands (`shell_lexer.py`); the runtime puts the value in
that variable, so the shell expands it and never parses it, and the command
text never depends on a value. Binding names are readable where the hole is a
name or a dotted path (`{feature_id}` -> `cf_feature_id`, `{unit.coverage}` ->
`cf_unit_coverage`), numbered otherwise (`cf_1`), unique per command; the
same expression twice shares one binding. The prefix `cf_` is reserved: a
step `env` key may not use it (E0413). Lower-case environment names are the
applications' own namespace in POSIX, so no standard tool reads them.

`layout` (cached: the checker and the lowering ask for the same templates)
depends only on the template's text and where its holes are.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from chatflow.compiler.shell_commands import CommandInfo, classify
from chatflow.compiler.shell_lexer import analyse
from chatflow.compiler.shell_state import KEYWORDS, NAME, Placement, Problem
from chatflow.diagnostics import Diagnostic, error, warning
from chatflow.dsl import ast

BINDING_PREFIX = "cf_"
_NAME_OK = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Layout:
    """A template placed: text pieces and hole numbers in order, and what
    each hole needs."""

    pieces: tuple[str | int, ...]
    places: tuple[Placement, ...]

    def problems(self) -> list[tuple[int, Problem]]:
        return [(k, p) for k, place in enumerate(self.places) for p in place.problems]

    @property
    def errors(self) -> list[tuple[int, Problem]]:
        return [(k, p) for k, place in enumerate(self.places) if place.problems
                for p in place.problems if p.code.startswith("E")]

    def has_errors(self) -> bool:
        return bool(self.errors)


@lru_cache(maxsize=4096)
def layout(parts: tuple[str | None, ...]) -> Layout:
    """`parts`: the template's literal text pieces, `None` for each hole."""
    items: list[str | int] = []
    holes = 0
    for part in parts:
        if part is None:
            items.append(holes)
            holes += 1
        else:
            items.extend(part)
    simple = _simple(parts)
    if simple is not None:
        return simple
    try:
        analysis = analyse(items)
    except RecursionError:   # substitutions and here-documents nested hundreds deep
        deep = Problem("E0412", "{HOLE} is in a command nested too deeply to place it safely",
                       "split the command, e.g. into a script the step runs")
        plain = _plain_layout(parts)
        return Layout(plain.pieces, tuple(Placement(problems=[deep]) for _ in plain.places))
    pieces: list[str | int] = []
    text: list[str] = []
    for k, x in enumerate(items):
        if isinstance(x, str):
            text.append(analysis.edits.get(k, x))
            continue
        if text:
            pieces.append("".join(text))
            text = []
        pieces.append(x)
    if text:
        pieces.append("".join(text))
    places = tuple(analysis.places.get(h, Placement()) for h in range(holes))
    return Layout(tuple(pieces), places)


_SIMPLE_CHARS = frozenset(string.ascii_letters + string.digits + " \t_-./:,+=@%^~*?")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _simple(parts: tuple[str | None, ...]) -> Layout | None:
    """The layout of a single simple command whose text has no quoting,
    expansion, operator or keyword and that does nothing special with its
    words (`make build FEATURE={id}`): every hole is a plain word, `"${N}"`.
    None when the full lexer must decide."""
    if any(p is not None and not _SIMPLE_CHARS.issuperset(p) for p in parts):
        return None
    # NUL (not a simple character) stands for the holes
    words = "".join("\0" if p is None else p for p in parts).split()
    k = 0
    while k < len(words) and _ASSIGNMENT.match(words[k]):
        k += 1
    texts = [None if "\0" in w else w for w in words[k:]]
    # (a program file it reads matters only for `<( )`, which simple text has not)
    if texts and (texts[0] in KEYWORDS
                  or replace(classify(texts), script_file=None) != CommandInfo()):
        return None
    return _plain_layout(parts)


def _plain_layout(parts: tuple[str | None, ...]) -> Layout:
    pieces: list[str | int] = []
    holes = 0
    for part in parts:
        if part is None:
            pieces.append(holes)
            holes += 1
        elif part:
            pieces.append(part)
    return Layout(tuple(pieces), tuple(Placement() for _ in range(holes)))


def template_parts(args: Sequence[dict[str, Any]]) -> tuple[tuple[str | None, ...],
                                                            list[dict[str, Any]]]:
    """The parts of a lowered `fmt` (literal text, None per hole) and its
    hole expressions, in order."""
    parts: list[str | None] = []
    exprs: list[dict[str, Any]] = []
    for a in args:
        if len(a) == 1 and isinstance(a.get("lit"), str):
            parts.append(a["lit"])
        else:
            parts.append(None)
            exprs.append(a)
    return tuple(parts), exprs


def command_holes(command: ast.Expr) -> tuple[tuple[str | None, ...], list[ast.Expr]]:
    """The parts and hole expressions of a command as written (the same
    split the lowering makes: a plain string is text, any other expression
    that is not a template is one hole)."""
    if isinstance(command, ast.Literal) and isinstance(command.value, str):
        return (command.value,), []
    if not isinstance(command, ast.Template):
        return (None,), [command]
    parts: list[str | None] = []
    exprs: list[ast.Expr] = []
    for part in command.parts:
        if isinstance(part, str):
            if part:
                parts.append(part)
        else:
            parts.append(None)
            exprs.append(part)
    return tuple(parts), exprs


_CHECKED: dict[int, tuple[ast.Expr, list[tuple[ast.Expr, Problem]], list[ast.Expr]]] = {}
_CHECKED_MAX = 20_000


def _checked(command: ast.Expr) -> tuple[list[tuple[ast.Expr, Problem]], list[ast.Expr]]:
    """A command's problems and arithmetic holes, computed once per command
    node (every shell rule asks for them; keyed by identity, the node kept
    alive with its entry)."""
    hit = _CHECKED.get(id(command))
    if hit is not None and hit[0] is command:
        return hit[1], hit[2]
    parts, exprs = command_holes(command)
    problems: list[tuple[ast.Expr, Problem]] = []
    integers: list[ast.Expr] = []
    if exprs:
        lay = layout(parts)
        problems = [(exprs[k], p) for k, p in lay.problems()]
        integers = [exprs[k] for k, place in enumerate(lay.places) if place.integer]
    if len(_CHECKED) >= _CHECKED_MAX:
        _CHECKED.clear()
    _CHECKED[id(command)] = (command, problems, integers)
    return problems, integers


def command_problems(command: ast.Expr) -> list[tuple[ast.Expr, Problem]]:
    """Every problem of a command's holes, with the hole's expression."""
    return _checked(command)[0]


_BY_FLOW: dict[int, tuple[object, dict[str, list[tuple[ast.Expr, Diagnostic]]]]] = {}


def placement_diagnostics(flow: object, steps: Iterable[ast.Step], code: str,
                          reported: Callable[[ast.Expr], bool] = lambda e: False,
                          ) -> list[Diagnostic]:
    """The problems with `code` of every `shell` step's holes, at the hole,
    except at holes for which `reported` is true (an error was already given
    there: one mistake, one diagnostic). All codes are found in one pass per
    flow (`flow` is its identity)."""
    hit = _BY_FLOW.get(id(flow))
    if hit is None or hit[0] is not flow:
        found: dict[str, list[tuple[ast.Expr, Diagnostic]]] = {}
        for step in steps:
            if not isinstance(step.action, ast.ShellAction):
                continue
            for expr, p in command_problems(step.action.command):
                hole = hole_source(expr)
                make = error if p.code.startswith("E") else warning
                found.setdefault(p.code, []).append(
                    (expr, make(p.code, problem_text(p, hole), expr.span, hint_text(p, hole))))
        if len(_BY_FLOW) >= 1024:
            _BY_FLOW.clear()
        hit = _BY_FLOW[id(flow)] = (flow, found)
    return [d for expr, d in hit[1].get(code, []) if not reported(expr)]


def integer_holes(command: ast.Expr) -> list[ast.Expr]:
    """The holes the shell evaluates as arithmetic."""
    return _checked(command)[1]


def hole_source(e: ast.Expr) -> str | None:
    """`{v}`, `{unit.coverage}` for a name or dotted path, else None."""
    path: list[str] = []
    while isinstance(e, ast.Attribute):
        path.append(e.attr)
        e = e.value
    if not isinstance(e, ast.Name):
        return None
    return "{" + ".".join([e.name, *reversed(path)]) + "}"


class PlacementError(Exception):
    """A template whose holes cannot all be placed; `problems` holds the
    error problems as (hole number, Problem)."""

    def __init__(self, problems: list[tuple[int, Problem]]) -> None:
        self.problems = problems
        super().__init__(problem_text(problems[0][1], None) if problems else "cannot place")


def shell_action(command: dict[str, Any]) -> dict[str, Any]:
    """The IR shell action for a lowered `fmt` template. Raises
    PlacementError when a hole cannot be placed (the checker reports those
    as errors first, so only an upgraded version-1 IR meets it)."""
    parts, exprs = template_parts(command.get("args") or [])
    if not exprs:
        return {"type": "shell", "command": "".join(p or "" for p in parts), "bindings": {}}
    lay = layout(parts)
    if lay.errors:
        raise PlacementError(list(lay.errors))
    names = binding_names(exprs)
    bindings: dict[str, Any] = {}
    integers: set[str] = set()
    out: list[str] = []
    for piece in lay.pieces:
        if isinstance(piece, str):
            out.append(piece)
            continue
        name = names[piece]
        bindings[name] = exprs[piece]
        place = lay.places[piece]
        out.append(place.ref.replace(NAME, name))
        if place.integer:
            integers.add(name)
    action: dict[str, Any] = {"type": "shell", "command": "".join(out),
                              "bindings": dict(sorted(bindings.items()))}
    if integers:
        action["integers"] = sorted(integers)
    return action


def binding_names(exprs: Sequence[dict[str, Any]]) -> list[str]:
    """One environment variable name per hole: equal expressions share one."""
    by_expr: dict[object, str] = {}
    used: set[str] = set()
    names: list[str] = []
    numbered = 0
    for e in exprs:
        key = _key(e)
        name = by_expr.get(key)
        if name is None:
            stem = _stem(e)
            if stem is None:
                numbered += 1
                name = f"{BINDING_PREFIX}{numbered}"
                while name in used:
                    numbered += 1
                    name = f"{BINDING_PREFIX}{numbered}"
            else:
                name = BINDING_PREFIX + stem
                k = 2
                while name in used:
                    name = f"{BINDING_PREFIX}{stem}_{k}"
                    k += 1
            used.add(name)
            by_expr[key] = name
        names.append(name)
    return names


def _key(e: dict[str, Any]) -> object:
    """Equal expressions, equal keys (cheap for names and fields)."""
    if len(e) == 1:
        ((k, v),) = e.items()
        if isinstance(v, str):
            return (k, v)
    elif len(e) == 2 and isinstance(e.get("step"), str) and isinstance(e.get("field"), str):
        return ("step", e["step"], e["field"])
    return json.dumps(e, sort_keys=True)


def _stem(e: dict[str, Any]) -> str | None:
    """A readable name for a name or a dotted path, else None."""
    stem: str | None
    if len(e) == 1 and ("param" in e or "var" in e):
        stem = str(e.get("param", e.get("var")))
    elif len(e) == 2 and "step" in e and "field" in e:
        stem = f"{e['step']}_{e['field']}"
    elif len(e) == 1 and "ctx" in e:
        stem = f"ctx_{e['ctx']}"
    elif e.get("op") == "attr" and len(e.get("args") or ()) == 1:
        base = _stem(e["args"][0])
        stem = None if base is None else f"{base}_{e.get('name')}"
    else:
        return None
    return stem if stem is not None and _NAME_OK.match(stem) else None


def problem_text(p: Problem, hole: str | None) -> str:
    """A problem's message with the hole named (`{v}`), or "this value"."""
    return p.message.replace("{HOLE}", f"`{hole}`" if hole else "this value")


def hint_text(p: Problem, hole: str | None) -> str | None:
    if p.hint is None:
        return None
    return p.hint.replace("`{HOLE}`", f"`{hole}`" if hole else "this value") \
        .replace("{HOLE}", hole or "{…}")
