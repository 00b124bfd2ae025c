"""The field kinds of the YAML form (docs/language.md §9) → AST expressions.

`FieldReader` turns one positioned scalar (or list / mapping of values) into
an expression by its kind: expression fields are parsed with the `.flow`
expression syntax, template fields as a `.flow` string's content, value fields
are literals, `{EXPR}` or templates, defaults are data taken literally;
durations and integers are checked. A scalar tagged `!raw` is the string as
written — no interpolation, no escapes — in a template, value or expression
field; anywhere else the tag is reported (E0117). Spans of text parsed from a
scalar point into the YAML file.
"""

from __future__ import annotations

import math
import re
from typing import cast

from chatflow.diagnostics import Diagnostic, Span, error
from chatflow.dsl import ast
from chatflow.dsl.lexical import MAX_INT, classify_number
from chatflow.dsl.yaml_nodes import LineIndex, YEntry, YMap, YNode, YScalar, YSeq, remap_spans

__all__ = ["FieldReader", "duration_millis"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DURATION = re.compile(r"[0-9]+(?:_[0-9]+)*(?:ms|s|m|h|d)\Z")  # as the schema's pattern


def duration_millis(text: str) -> int | None:
    """`10m` → 600000; None when `text` is not a (representable) duration."""
    number = classify_number(text)
    return int(number.value) if number.kind == "duration" else None


def _is_int(value: object) -> bool:
    return type(value) is int


class FieldReader:
    """Reads fields of one YAML file; collects the diagnostics."""

    def __init__(self, path: str, lines: LineIndex) -> None:
        from chatflow.dsl import parser  # lark is loaded only when needed

        self.path = path
        self.lines = lines
        self.parser = parser
        self.diagnostics: list[Diagnostic] = []
        self.raw_read: set[int] = set()  # ids of the `!raw` scalars read as strings

    # ------------------------------------------------------------------ field kinds

    def optional_expression(self, node: YMap, key: str) -> ast.Expr | None:
        value = node.get(key)
        return self.expression(value) if value is not None else None

    def raw(self, node: YScalar) -> ast.Literal:
        """A `!raw` string: its text exactly as written, in any field that
        takes a string (template, value or expression field)."""
        self.raw_read.add(id(node))
        return ast.Literal(node.text, node.origin)

    def expression(self, node: YNode | None) -> ast.Expr | None:
        """An expression field: the scalar's text in the `.flow` syntax."""
        if isinstance(node, YScalar) and node.raw:
            return self.raw(node)
        if not isinstance(node, YScalar) or node.value is None:
            return None
        expr, diags = self.parser.parse_expression(node.text, node.origin)
        self.keep(diags, node)
        return cast("ast.Expr | None", remap_spans(expr, node, self.lines))

    def template(self, node: YNode | None) -> ast.StrExpr | None:
        """A template field: the scalar's text as a `.flow` string's content."""
        if isinstance(node, YScalar) and node.raw:
            return self.raw(node)
        if not isinstance(node, YScalar) or node.value is None:
            return None
        template, diags = self.parser.parse_template(node.text, node.origin)
        self.keep(diags, node)
        return cast("ast.StrExpr | None", remap_spans(template, node, self.lines))

    def type_ref(self, node: YNode | None) -> ast.TypeRef | None:
        if not isinstance(node, YScalar) or not isinstance(node.value, str):
            return None
        type_ref, diags = self.parser.parse_type(node.text, node.origin)
        self.keep(diags, node)
        return cast("ast.TypeRef | None", remap_spans(type_ref, node, self.lines))

    def value(self, node: YNode) -> ast.Expr | None:
        """A value field: literal scalars, `{EXPR}`, templates, lists, maps."""
        if isinstance(node, YSeq):
            items = [self.value(item) for item in node.items]
            if any(i is None for i in items):
                return None
            return ast.ListExpr(tuple(i for i in items if i is not None), node.span)
        if isinstance(node, YMap):
            return self.value_map(node)
        if node.raw:
            return self.raw(node)
        if not isinstance(node.value, str):
            return self.literal(node)
        template = self.template(node)
        if isinstance(template, ast.Template):
            parts = [p for p in template.parts if p != ""]
            if len(parts) == 1 and not isinstance(parts[0], str):
                return parts[0]
        return template

    def value_map(self, node: YMap) -> ast.MapExpr | None:
        entries: list[ast.MapEntry] = []
        for entry in node.entries:
            value = self.value(entry.value)
            if value is None:
                return None
            key = ast.Ident(entry.key.text, entry.key.span)
            entries.append(ast.MapEntry(key, value, self.entry_span(entry)))
        return ast.MapExpr(tuple(entries), node.span)

    def default(self, node: YNode, type_ref: ast.TypeRef) -> ast.Expr | None:
        """A param default: YAML data taken literally, no interpolation."""
        if isinstance(node, YSeq):
            items = [self.default(item, type_ref) for item in node.items]
            if any(i is None for i in items):
                return None
            return ast.ListExpr(tuple(i for i in items if i is not None), node.span)
        if isinstance(node, YMap):
            entries: list[ast.MapEntry] = []
            for entry in node.entries:
                value = self.default(entry.value, type_ref)
                if value is None:
                    return None
                key = ast.Ident(entry.key.text, entry.key.span)
                entries.append(ast.MapEntry(key, value, self.entry_span(entry)))
            return ast.MapExpr(tuple(entries), node.span)
        if type_ref.name == "duration" and isinstance(node.value, str):
            millis = duration_millis(node.value)
            if millis is not None:
                return ast.DurationLit(millis, node.value, node.span)
        return self.literal(node)

    def literal(self, node: YScalar) -> ast.Expr | None:
        """A scalar's value as the `.flow` parser would build the same literal:
        a negative number is `-` applied to its magnitude."""
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            return ast.Literal(value, node.span)
        if isinstance(value, int) and abs(value) > MAX_INT:
            self.diagnostics.append(error("E0111", f"integer `{node.text}` is too large",
                                          node.span, f"the largest integer is {MAX_INT}"))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.diagnostics.append(error("E0111", f"`{node.text}` is not a finite number",
                                          node.span))
            return None
        if node.text.startswith("-"):
            inner = node.span
            inner = Span(inner.file, inner.line, inner.column + 1, inner.end_line,
                         inner.end_column, inner.start + 1, inner.end)
            return ast.Unary("-", ast.Literal(-value, inner), node.span)
        return ast.Literal(value, node.span)

    def duration(self, node: YNode | None) -> ast.DurationLit | None:
        if not isinstance(node, YScalar) or not isinstance(node.value, str):
            return None  # the schema reported it (E0114)
        number = classify_number(node.value)
        if number.kind == "duration":
            return ast.DurationLit(int(number.value), node.value, node.span)
        if _DURATION.match(node.value):  # fits the schema's pattern, but too large
            self.diagnostics.append(error("E0114", number.error or "invalid duration",
                                          node.span))
        return None

    def integer(self, node: YNode | None) -> ast.Expr | None:
        """An integer field (`risk`, `automation`, quota counts ...)."""
        if not isinstance(node, YScalar) or not _is_int(node.value):
            return None  # the schema reported it
        return self.literal(node)

    # ------------------------------------------------------------------ names and spans

    def ident(self, node: YNode | None) -> ast.Ident | None:
        if isinstance(node, YScalar) and isinstance(node.value, str) and _NAME.match(node.value):
            return ast.Ident(node.value, node.span)
        return None

    def key_ident(self, entry: YEntry) -> ast.Ident | None:
        if _NAME.match(entry.key.text):
            return ast.Ident(entry.key.text, entry.key.span)
        return None

    def keep(self, diags: list[Diagnostic], scalar: YScalar) -> None:
        """Keep the parser's diagnostics about `scalar`'s text, in file positions."""
        self.diagnostics.extend(remap_spans(d, scalar, self.lines) for d in diags)

    @staticmethod
    def key_ident_unchecked(entry: YEntry) -> ast.Ident:
        return ast.Ident(entry.key.text, entry.key.span)

    @staticmethod
    def entry_span(entry: YEntry) -> Span:
        end = entry.value.span if entry.value.span.end >= entry.key.span.end else entry.key.span
        return entry.key.span.to(end)
