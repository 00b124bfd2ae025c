"""String literals → `Literal` / `Template` nodes: the four string forms of
docs/language.md §2, the layout of multi-line strings, and `{EXPR}` holes.

- `"…"` and `\"\"\"…\"\"\"` are templates: escapes and holes;
- `'…'` and `'''…'''` are raw: the text exactly as written.

Holes are parsed as expressions by the host (the parser). A hole that is not
an expression — an awk program, a shell function, JSON — is reported once, at
its `{` (E0109), with the two ways to write the text: escaped braces, or a raw
string. Positions inside a string map back to the file through a `Pos`
function, so spans point into the file even in an indented multi-line string.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from chatflow.diagnostics import Diagnostic, Related, Span, error
from chatflow.dsl import ast
from chatflow.dsl.lexical import (
    ESCAPES,
    Hole,
    LexProblem,
    block_layout,
    decode_plain,
    has_specials,
    layout_index,
    scan_string,
)
from chatflow.dsl.suffixes import is_yaml

__all__ = ["Host", "build_template", "contiguous", "escape_note", "plain_string", "raw_hint",
           "raw_literal", "string_node"]

Pos = Callable[[int], tuple[int, int, int]]
"""Index in a string's text → (line, column, offset) in the file."""

_SIMPLE_HOLE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\Z")
_NOT_A_NAME = frozenset({"true", "false", "null", "not", "and", "or", "in"})
# a hole whose nested parse failed with one of these is not an expression at all
_NOT_PARSED = frozenset({"E0101", "E0102", "E0105", "E0106"})
_RAW_SHOWN = 60  # longest raw string a hint spells out in full

_Name = ast.maker(ast.Name)
_Literal = ast.maker(ast.Literal)
_Attribute = ast.maker(ast.Attribute)


class Host(Protocol):
    """What string building needs from the parser."""

    file: str
    diags: list[Diagnostic]

    def parse_hole(self, text: str,
                   base: tuple[int, int, int]) -> tuple[ast.Expr | None, list[Diagnostic]]:
        """Parse `text` as an expression that starts at `base` in the file."""
        ...

    def nest(self, node: object, *kids: object) -> None:
        """Count `node` as one nesting level around `kids` (the depth limit)."""
        ...


def contiguous(text: str, line0: int, col0: int, off0: int) -> Pos:
    """Positions of `text` written as is from (line0, col0, off0) on."""

    def pos(k: int) -> tuple[int, int, int]:
        nl = text.count("\n", 0, k)
        if nl == 0:
            return line0, col0 + k, off0 + k
        return line0 + nl, k - text.rindex("\n", 0, k), off0 + k
    return pos


def _span(file: str, pos: Pos, start: int, end: int) -> Span:
    l1, c1, o1 = pos(start)
    l2, c2, o2 = pos(end)
    return Span(file, l1, c1, l2, c2, o1, o2)


def _problem(host: Host, p: LexProblem, pos: Pos) -> None:
    host.diags.append(error(p.code, p.message, _span(host.file, pos, p.start, p.end), p.hint))


def string_node(host: Host, value: str, span: Span) -> ast.Literal | ast.Template:
    """The node of a STRING token `value` (delimiters included) at `span`."""
    q = value[0]
    if len(value) >= 6 and value.startswith(q * 3):
        content = value[3:-3]
        pos = contiguous(content, span.line, span.column + 3, span.start + 3)
        layout = block_layout(content, q * 3)
        for p in layout.problems:
            _problem(host, p, pos)
        if q == "'" or not has_specials(layout.text):
            return _Literal(layout.text, span)

        def in_block(k: int) -> tuple[int, int, int]:
            return pos(layout_index(layout, k))
        return build_template(host, layout.text, span, in_block, block=True)
    content = value[1:-1]
    if q == "'" or not has_specials(content):
        return _Literal(content, span)
    return build_template(host, content, span,
                          contiguous(content, span.line, span.column + 1, span.start + 1))


def plain_string(host: Host, value: str, span: Span) -> str:
    """The text of a STRING token that must hold no interpolation (an import
    path, a map key); a hole is reported (E0108)."""
    q = value[0]
    if len(value) >= 6 and value.startswith(q * 3):
        content = value[3:-3]
        at = contiguous(content, span.line, span.column + 3, span.start + 3)
        layout = block_layout(content, q * 3)
        for p in layout.problems:
            _problem(host, p, at)
        text = layout.text

        def in_block(k: int) -> tuple[int, int, int]:
            return at(layout_index(layout, k))
        pos: Pos = in_block
    else:
        text = value[1:-1]
        pos = contiguous(text, span.line, span.column + 1, span.start + 1)
    if q == "'" or not has_specials(text):
        return text
    decoded, problems = decode_plain(text)
    for p in problems:
        _problem(host, p, pos)
    return decoded


def build_template(host: Host, content: str, span: Span, pos: Pos,
                   block: bool = False) -> ast.Literal | ast.Template:
    """Decode `content` (escapes and holes; `pos` maps its indices into the
    file) into a Literal or a Template, parsing each hole as an expression.
    `block`: the content comes from a multi-line `\"\"\"` string."""
    parts, problems = scan_string(content)
    for prob in problems:
        _problem(host, prob, pos)
    out: list[str | ast.Expr] = []
    failed: list[tuple[Hole, Diagnostic]] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        expr, syntax = _parse_hole(host, part, pos)
        if expr is not None:
            out.append(expr)
        elif syntax is not None:
            failed.append((part, syntax))
    interpolates = any(not isinstance(p, str) for p in out)
    for hole, inner in failed:
        raw = None if interpolates or block else raw_hint(host.file, _literal_text(content))
        host.diags.append(_not_an_expression(host, hole, inner, pos, raw))
    if not interpolates:
        return _Literal("".join(p for p in out if isinstance(p, str)), span)
    merged: list[str | ast.Expr] = []
    for p in out:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + p
        else:
            merged.append(p)
    node = ast.Template(tuple(merged), span)
    # a template is one level around its holes (the IR's `fmt`)
    host.nest(node, *(p for p in merged if not isinstance(p, str)))
    return node


def _parse_hole(host: Host, hole: Hole,
                pos: Pos) -> tuple[ast.Expr | None, Diagnostic | None]:
    """The hole's expression; or None and the syntax error showing that the
    hole's text is not an expression at all (left to the caller to report),
    or None and None when a problem was reported here."""
    text = hole.text
    if not text.strip():
        host.diags.append(error(
            "E0108", "empty interpolation `{}` in a string",
            _span(host.file, pos, hole.start - 1, hole.end + 1),
            "put an expression inside, or write `\\{\\}` for literal braces",
        ))
        return None, None
    m = _SIMPLE_HOLE.match(text)
    if m is not None and m.group(1) not in _NOT_A_NAME:
        # Fast path for `{name}` / `{a.b.c}`: no nested parse needed.
        lead = len(text) - len(text.lstrip())
        line, col, off = pos(hole.start + lead)
        head = m.group(1)
        file = host.file
        expr: ast.Expr = _Name(head, Span(file, line, col, line, col + len(head),
                                             off, off + len(head)))
        at = len(head)
        for attr in m.group(2).split(".")[1:]:
            a0 = at + 1
            a1 = a0 + len(attr)
            aspan = Span(file, line, col + a0, line, col + a1, off + a0, off + a1)
            expr = _Attribute(expr, attr, aspan, expr.span.to(aspan))
            at = a1
        return expr, None
    node, diags = host.parse_hole(text, pos(hole.start))
    if node is None:
        # An error at the end of the hole (`{a +}`) is an expression left
        # unfinished: reported as such. One inside it means the text goes on
        # with what no expression has (`{print $1}`, `{"k": 1}`).
        end = pos(len(text.rstrip()) + hole.start)[2]
        syntax = [d for d in diags if d.code in _NOT_PARSED and d.span.start < end]
        if syntax:
            return None, syntax[0]
    host.diags.extend(diags)
    return node, None


def _not_an_expression(host: Host, hole: Hole, inner: Diagnostic, pos: Pos,
                       raw: str | None) -> Diagnostic:
    """E0109 at the `{` of a hole whose text is not an expression."""
    shown = " ".join(hole.text.split())
    if len(shown) > 30:
        shown = shown[:27] + "..."
    escaped = "\\{" + _escape_braces(hole.text) + "\\}"
    if len(escaped) > 40 or "\n" in escaped:
        escaped = "\\{ ... \\}"
    hint = f"for literal braces write `{escaped}`{escape_note(host.file)}"
    if raw is not None:
        hint += f", {raw}"
    related = (Related(inner.span, f"read as an expression: {inner.message}"),)
    return error("E0109", f"`{{` starts an interpolation `{{EXPR}}`, but `{shown}` is not "
                 "an expression", _span(host.file, pos, hole.start - 1, hole.start),
                 hint, related)


def _escape_braces(text: str) -> str:
    """`text` with its braces escaped, except inside nested "strings" (whose
    `{x}` becomes an interpolation of the outer string once the braces
    around it are literal)."""
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i:i + 2])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        out.append(f"\\{ch}" if ch in "{}" and not quoted else ch)
        i += 1
    return "".join(out)


def escape_note(file: str) -> str:
    """What to add to a `\\{` advice for a YAML file, where a double-quoted
    string decodes YAML's own escapes first."""
    return " (`\\\\{` and `\\\\}` in a YAML \"...\" string)" if is_yaml(file) else ""


def raw_hint(file: str, text: str) -> str:
    """The end of a hint saying how to write `text` (braces and all) as a raw
    string, in the syntax of `file`'s front-end."""
    if is_yaml(file):
        return "or tag the string `!raw` (no interpolation, no escapes)"
    return f"or use a raw string (no interpolation, no escapes): {raw_literal(text)}"


def raw_literal(text: str) -> str:
    """How `text` is written as a raw string: the literal itself when it is
    short, else the form to use (`'…'`, or `'''…'''` when it holds `'`)."""
    if "\n" in text:
        return "'''…'''"
    if "'" not in text:
        form = f"'{text}'"
        return form if len(form) <= _RAW_SHOWN else "'…'"
    if "'''" not in text:
        form = f"'''{text}'''"
        return form if len(form) <= _RAW_SHOWN else "'''…'''"
    return "'''…'''"


def _literal_text(content: str) -> str:
    """`content` with its escapes decoded and every brace kept as text."""
    out: list[str] = []
    i = 0
    while i < len(content):
        ch = content[i]
        if ch == "\\" and i + 1 < len(content) and content[i + 1] in ESCAPES:
            out.append(ESCAPES[content[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
