"""Parsing `if C then A else B`: lowest precedence, right-nested chains,
spans, the nesting limit, and syntax errors for a missing part."""

from __future__ import annotations

from chatflow.diagnostics import Span
from chatflow.dsl import ast
from chatflow.dsl.parser import MAX_NESTING, parse_expression, parse_flow

ORIGIN = Span.unknown("<t>")


def expr(text: str) -> ast.Expr:
    node, diags = parse_expression(text, ORIGIN)
    assert node is not None and not diags, diags
    return node


def test_if_is_a_cond_node() -> None:
    e = expr("if a then 1 else 2")
    assert isinstance(e, ast.Cond)
    assert isinstance(e.cond, ast.Name) and e.cond.name == "a"
    assert isinstance(e.then, ast.Literal) and e.then.value == 1
    assert isinstance(e.orelse, ast.Literal) and e.orelse.value == 2


def test_if_has_the_lowest_precedence() -> None:
    e = expr("if a ?? b then x or y else 2 ?? 3")
    assert isinstance(e, ast.Cond)
    assert isinstance(e.cond, ast.Binary) and e.cond.op == "??"
    assert isinstance(e.then, ast.Binary) and e.then.op == "or"
    assert isinstance(e.orelse, ast.Binary) and e.orelse.op == "??"


def test_else_if_chains_nest_to_the_right() -> None:
    e = expr("if a then 1 else if b then 2 else 3")
    assert isinstance(e, ast.Cond) and isinstance(e.orelse, ast.Cond)
    inner = expr("if if a then b else c then 1 else 2")
    assert isinstance(inner, ast.Cond) and isinstance(inner.cond, ast.Cond)


def test_as_an_operand_it_needs_parentheses() -> None:
    e = expr("(if a then 1 else 2) + 3")
    assert isinstance(e, ast.Binary) and isinstance(e.left, ast.Cond)
    _, diags = parse_expression("1 + if a then 1 else 2", ORIGIN)
    assert [d.code for d in diags] == ["E0101"]


def test_span_covers_if_to_the_end_of_else() -> None:
    module, diags = parse_flow('flow f(a: bool) -> (r: int) {\n  output r = if a then 1 else 22\n}',
                               "f.flow")
    assert module is not None and not diags
    out = module.flows[0].items[0]
    assert isinstance(out, ast.OutputItem) and isinstance(out.value, ast.Cond)
    span = out.value.span
    assert (span.line, span.column, span.end_column) == (2, 14, 33)


def test_a_missing_part_is_a_syntax_error() -> None:
    for text in ("if a then 1", "if a 1 else 2", "if then 1 else 2", "if a then else 2"):
        node, diags = parse_expression(text, ORIGIN)
        assert node is None and diags and diags[0].code in ("E0101", "E0106"), (text, diags)


def test_if_chains_count_towards_the_nesting_limit() -> None:
    def chain(n: int) -> str:
        return "if a then 1 else " * n + "0"

    head = "flow f(a: bool) -> (r: int) { output r = "
    ok, diags = parse_flow(head + chain(MAX_NESTING - 1) + " }", "d.flow")
    assert ok is not None and not diags
    bad, diags = parse_flow(head + chain(MAX_NESTING + 1) + " }", "d.flow")
    assert bad is None and [d.code for d in diags] == ["E0107"]


def test_keywords_are_still_names_where_only_a_name_fits() -> None:
    e = expr("{if: 1, then: 2, else: 3}")
    assert isinstance(e, ast.MapExpr)
    assert [en.key.name for en in e.entries] == ["if", "then", "else"]
    attr = expr("x.if")
    assert isinstance(attr, ast.Attribute) and attr.attr == "if"


def test_env_call_after_an_option_word_needs_parentheses() -> None:
    src = 'flow f() {{ step a: shell "pwd" {{ {opts} }} }}'
    _, diags = parse_flow(src.format(opts='cwd env("HOME") ?? "/tmp"'), "e.flow")
    assert [d.code for d in diags] == ["E0101"]
    assert diags[0].hint is not None and '(env("NAME") ?? "default")' in diags[0].hint
    for opts in ('cwd (env("HOME") ?? "/tmp")', 'timeout 1m, cwd (env("H") ?? "/")',
                 'out h: str = env("HOME") ?? ""', 'with {k: env("K")}'):
        module, diags = parse_flow(src.format(opts=opts), "e.flow")
        assert module is not None and not diags, (opts, diags)
