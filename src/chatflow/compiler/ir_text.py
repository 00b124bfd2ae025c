"""IR expressions and durations in ChatFlow source syntax: the one printer.

`expr_text` writes an IR expression tree as the language would (graph
labels, dry runs, run-time error messages), with the fewest parentheses that
keep the tree: parsing and lowering the text gives the same tree back for
any tree the compiler writes (a property test checks it). `duration_text`
writes milliseconds in the largest unit that divides them exactly. The walk
is iterative, so any depth prints; what is not an expression prints as `…`.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["duration_text", "expr_text", "string_literal"]

# Binding strength of each operator, lowest first (docs/language.md §6).
_PREC: dict[str, int] = {
    "if": 0, "??": 1, "or": 2, "and": 3, "not": 4,
    "==": 5, "!=": 5, "<": 5, "<=": 5, ">": 5, ">=": 5, "in": 5,
    "+": 6, "-": 6, "*": 7, "/": 7, "%": 7, "neg": 8,
}
_COMPARISON = 5
_ATOM = 10
_UNKNOWN = "…"
_DUR_UNITS = (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1))
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WORDS = frozenset({"true", "false", "null", "not", "and", "or", "in", "if", "then", "else"})


def duration_text(ms: int) -> str:
    """`600000` → `10m`: the largest unit that divides exactly; `0` → `0s`."""
    if ms == 0:
        return "0s"
    sign, ms = ("-", -ms) if ms < 0 else ("", ms)
    for unit, size in _DUR_UNITS:
        if ms % size == 0:
            return f"{sign}{ms // size}{unit}"
    return f"{sign}{ms}ms"  # pragma: no cover - "ms" always divides


def string_literal(text: str) -> str:
    """A one-line string literal with the language's escapes (`\\{` for a brace)."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\t", "\\t").replace("{", "\\{").replace("}", "\\}"))
    return f'"{escaped}"'


def expr_text(expr: Any) -> str:
    """An IR expression in ChatFlow source syntax (`json(stdout).coverage ?? 0.0`)."""
    # Post-order over an explicit stack: each node's (text, precedence) is
    # built from its arguments' results, so deep trees need no recursion.
    done: list[tuple[str, int]] = []
    todo: list[tuple[Any, bool]] = [(expr, False)]
    while todo:
        node, ready = todo.pop()
        args = _args(node)
        if not ready and args:
            todo.append((node, True))
            todo.extend((a, False) for a in reversed(args))
            continue
        parts = done[len(done) - len(args):] if args else []
        if args:
            del done[len(done) - len(args):]
        done.append(_leaf(node) if not isinstance(node, dict) or "op" not in node
                    else _operation(node, args, parts))
    return done[0][0]


def _args(node: Any) -> list[Any]:
    if isinstance(node, dict) and "op" in node and isinstance(node.get("args"), list):
        args: list[Any] = node["args"]
        return args
    return []


def _leaf(node: Any) -> tuple[str, int]:
    if not isinstance(node, dict):
        return _UNKNOWN, _ATOM
    if "lit" in node:
        lit = node["lit"]
        if isinstance(lit, str):
            return string_literal(lit), _ATOM
        try:
            text = json.dumps(lit, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            return _UNKNOWN, _ATOM
        negative = isinstance(lit, int | float) and not isinstance(lit, bool) and text[0] == "-"
        return text, _PREC["neg"] if negative else _ATOM
    if "dur" in node and isinstance(node["dur"], int):
        return duration_text(node["dur"]), _PREC["neg"] if node["dur"] < 0 else _ATOM
    for key in ("param", "var", "self"):
        if key in node:
            return str(node[key]), _ATOM
    if "ctx" in node:
        return f"ctx.{node['ctx']}", _ATOM
    if "step" in node:
        return f"{node['step']}.{node.get('field')}", _ATOM
    return _UNKNOWN, _ATOM


def _key(name: Any) -> str:
    text = str(name)
    return text if _NAME.match(text) and text not in _WORDS else string_literal(text)


def _operation(node: dict[str, Any], args: list[Any],
               parts: list[tuple[str, int]]) -> tuple[str, int]:
    op = node["op"]

    def sub(i: int, min_prec: int) -> str:
        text, prec = parts[i]
        return f"({text})" if prec < min_prec else text

    def joined() -> str:
        return ", ".join(text for text, _ in parts)

    if op == "call":
        return f"{node.get('fn')}({joined()})", _ATOM
    if op == "list":
        return f"[{joined()}]", _ATOM
    if op == "map":
        keys = node.get("keys") if isinstance(node.get("keys"), list) else []
        assert isinstance(keys, list)
        pairs = ", ".join(f"{_key(k)}: {text}"
                          for k, (text, _) in zip(keys, parts, strict=False))
        return "{" + pairs + "}", _ATOM
    if op == "attr" and len(args) == 1:
        return f"{sub(0, _ATOM)}.{node.get('name')}", _ATOM
    if op == "index" and len(args) == 2:
        return f"{sub(0, _ATOM)}[{parts[1][0]}]", _ATOM
    if op == "fmt":
        out = []
        for arg, (text, _) in zip(args, parts, strict=True):
            if isinstance(arg, dict) and isinstance(arg.get("lit"), str):
                out.append(text[1:-1])
            else:
                out.append("{" + text + "}")
        return '"' + "".join(out) + '"', _ATOM
    if op == "if" and len(args) == 3:
        # each part is a whole expression in the grammar: no parentheses inside
        return f"if {parts[0][0]} then {parts[1][0]} else {parts[2][0]}", _PREC["if"]
    if op in ("not", "neg") and len(args) == 1:
        prec = _PREC[op]
        return ("not " if op == "not" else "-") + sub(0, prec), prec
    prec_or_none = _PREC.get(op) if isinstance(op, str) else None
    if prec_or_none is None or len(args) < 2:
        return _UNKNOWN, _ATOM
    prec = prec_or_none
    # Left-associative (an operator's run is one node with all its operands,
    # and a left-nested run prints as the same run); comparisons do not chain.
    left = sub(0, prec + 1 if prec == _COMPARISON else prec)
    return f" {op} ".join([left, *(sub(i, prec + 1) for i in range(1, len(args)))]), prec
