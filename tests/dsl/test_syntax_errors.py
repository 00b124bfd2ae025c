"""Syntax errors: one clear diagnostic per mistake, at the right place."""

from __future__ import annotations

import pytest

from chatflow.diagnostics import Diagnostic
from chatflow.dsl.parser import MAX_NESTING, parse_flow


def errors(src: str) -> list[Diagnostic]:
    _, diags = parse_flow(src, "e.flow")
    assert diags, "expected a diagnostic"
    return diags


def one(src: str) -> Diagnostic:
    diags = errors(src)
    assert len(diags) == 1, diags
    return diags[0]


def at(d: Diagnostic) -> tuple[int, int, int]:
    return d.span.line, d.span.column, d.span.end_column


# (source, code, message fragment, (line, column, end_column))
CASES = [
    ('flow f() {\n  step build shell "make"\n}\n',
     "E0101", "expected `:` after the step name, found `shell`", (2, 14, 19)),
    ('flow f()\n  step build: shell "make"\n}\n',
     "E0101", "expected `{` to open the flow body, found `step`", (2, 3, 7)),
    ('flow f() {\n  step a when x == : shell "x"\n}\n',
     "E0101", "expected an expression after `==`, found `:`", (2, 20, 21)),
    ('flow f() {\n  step a: shell "abc\n}\n',
     "E0102", "unterminated string", (2, 17, 21)),
    ('flow f() {\n  step a: shell "a\\q"\n}\n',
     "E0103", "invalid escape `\\q`", (2, 19, 21)),
    ('flow f() {\n  step a: shell "x" { timeout 12abc }\n}\n',
     "E0104", "malformed duration `12abc`", (2, 31, 36)),
    ("flow f() {\n  output x = 1__0\n}\n",
     "E0104", "`_` must sit between two digits", (2, 14, 18)),
    ('flow f() {\n  step a: shell "x" $\n}\n',
     "E0105", "unexpected character `$`", (2, 21, 22)),
    ('flow f() {\n  step a: shell "x"\n',
     "E0106", "unexpected end of file: expected `}` to close the `{` on line 1", (3, 1, 1)),
    ("flow f(a int) {}", "E0101", "expected `:` and a type after the parameter name", (1, 10, 13)),
    ("flow f() {\n  var x = 1\n}", "E0101", "expected `:` and a type after the variable name",
     (2, 9, 10)),
    ('flow f() {\n  step a: call g(issue "x")\n}', "E0101",
     "expected `:` after the argument name", (2, 24, 27)),
    ("flow f() {\n  repeat r until x { }\n}", "E0101",
     "`until` comes after `max`: the clauses of a repeat header come in this order: "
     "`after`, `when`, `max`, `until`", (2, 12, 17)),
    ("flow f() {\n  repeat r { }\n}", "E0101", "expected `max N`", (2, 12, 13)),
    ("flow f() {\n  parallel p max 6 when x { }\n}", "E0101",
     "`when` goes before `max`: the clauses of a parallel header come in this order: "
     "`after`, `when`, `max`", (2, 20, 24)),
    ('flow f() {\n  step a when x after b: shell "y"\n}', "E0101",
     "`after` goes before `when`: the clauses of a step header come in this order: "
     "`after`, `when`", (2, 17, 22)),
    ('flow f() {\n  phase p when x when y { }\n}', "E0101", "`when` is written twice", (2, 18, 22)),
    ('flow f() {\n  step create-release: shell "y"\n}', "E0101",
     "`create-release` is not a name: names cannot contain `-`", (2, 8, 22)),
    ("flow deploy-all() {}", "E0101", "`deploy-all` is not a name", (1, 6, 16)),
    ("flow f() {\n  output merged review.ok\n}", "E0101",
     "expected `=` after the output name, found `review`", (2, 17, 23)),
    ('flow f() {\n  step a when (a and b: shell "x"\n}', "E0101",
     "expected `)` to close the parenthesis, found `:`", (2, 23, 24)),
    ('flow f() {\n  step : shell "x"\n}', "E0101", "expected a step name after `step`",
     (2, 8, 9)),
    ("flow f() {\n  output x = a < b < c\n}", "E0101",
     "comparison operators cannot be chained", (2, 20, 21)),
    ('import bugfix "std"\n', "E0101", "expected `from` after the imported names", (1, 15, 20)),
    ("flw feature() {}", "E0101", "expected `import` or `flow` at the top level, found `flw`",
     (1, 1, 4)),
    ('flow f() {\n  step a: shell "x {y"\n}', "E0108", "unclosed `{`", (2, 20, 21)),
    ('flow f() {\n  step a: shell "x }"\n}', "E0108", "unmatched `}`", (2, 20, 21)),
    ('flow f() {\n  step a: shell "x {}"\n}', "E0108", "empty interpolation", (2, 20, 22)),
    ('flow f() {\n  step a: shell "x {a +}"\n}', "E0101",
     "expected an expression after `+`", (2, 24, 24)),
    ("flow f() {\n  step a: shell 'x\n}", "E0102", "unterminated raw string", (2, 17, 19)),
    ('flow f() {\n  step a: shell """\n  x\n}', "E0102",
     'unterminated multi-line string: no closing `"""`', (2, 17, 20)),
    ("flow f() {\n  step a: shell '''x\n}", "E0102",
     "unterminated multi-line string: no closing `'''`", (2, 17, 20)),
    ('flow f() {\n  step a: shell "awk \'{print $1}\'"\n}', "E0109",
     "`{` starts an interpolation `{EXPR}`, but `print $1` is not an expression", (2, 23, 24)),
    ('flow f() {\n  step a: shell """\n    x\n  y\n    """\n}', "E0116",
     'this line is indented less than the closing `"""`', (4, 3, 4)),
    ('flow f() {\n  step a: shell """ x\n    y\n    """\n}', "E0116",
     'a multi-line string starts on the line after its opening `"""`', (2, 20, 22)),
    ('flow f() {\n  step a: shell """\n    y"""\n}', "E0116",
     'the closing `"""` of a multi-line string goes on a line of its own', (3, 5, 6)),
    ('flow f() {\n  step a: shell x\n}', "E0101", "expected a string after `shell`, found `x`",
     (2, 17, 18)),
    ('flow f() {\n  step a: shell "x" { with x }\n}', "E0101", "expected `{` after `with`",
     (2, 28, 29)),
    ('flow f() {\n  step a: agent "c{x}"\n}', "E0108", "interpolation is not allowed here",
     (2, 17, 23)),
    ("flow f() {\n  output x = [1 2]\n}", "E0101", "expected `,` or `]` after the list item",
     (2, 17, 18)),
    ("flow f() {\n  output x = {a 1}\n}", "E0101", "expected `:` after the map key", (2, 17, 18)),
    ("flow f() {\n  output x = 99999999999999999999\n}", "E0104", "too large", (2, 14, 34)),
]


@pytest.mark.parametrize(("src", "code", "fragment", "where"), CASES,
                         ids=[c[2][:40] for c in CASES])
def test_typical_mistakes(src: str, code: str, fragment: str,
                          where: tuple[int, int, int]) -> None:
    d = one(src)
    assert d.code == code
    assert fragment in d.message, d.message
    assert at(d) == where, (at(d), d.message)
    assert d.span.file == "e.flow"


def test_hints_for_common_slips() -> None:
    assert "'''...'''" in (one("flow f() { output x = 'it's' }").hint or "")
    assert "`and`" in (one("flow f() { output x = a && b }").hint or "")
    assert "duration" in (one("flow f() { output x = 5y }").hint or "")


def test_eof_error_points_at_the_unclosed_brace() -> None:
    d = one('flow f() {\n  parallel p {\n    step a: shell "x"\n  \n')
    assert d.code == "E0106"
    assert "on line 2" in d.message
    assert d.related and d.related[0].span.line == 2


def test_several_independent_errors_are_all_reported() -> None:
    src = ('flow f() {\n'
           '  step a shell "x"\n'
           '  step b: shell "y"\n'
           '  step c when : shell "z"\n'
           '  output o = a.ok\n'
           "}\n")
    diags = errors(src)
    assert [(d.code, d.span.line) for d in diags] == [("E0101", 2), ("E0101", 4)]


def test_no_cascade_after_an_unbalanced_item() -> None:
    src = ('flow f() {\n'
           '  parallel p when : {\n'
           '    step a: shell "x"\n'
           "  }\n"
           '  step b shell "y"\n'
           "}\n")
    diags = errors(src)
    assert len(diags) == 1 and diags[0].span.line == 2


def test_lexical_problems_are_all_reported() -> None:
    src = 'flow f() {\n  step a: shell "\\q {x"\n  output o = 1__2\n}\n'
    _, diags = parse_flow(src, "e.flow")
    assert sorted(d.code for d in diags) == ["E0103", "E0104", "E0108"]


def test_deep_nesting_is_a_diagnostic() -> None:
    # Parentheses alone add no AST depth: fine however many there are.
    module, diags = parse_flow("flow f() { output x = " + "(" * 3000 + "1" + ")" * 3000 + " }",
                               "e.flow")
    assert module is not None and diags == []
    d = one("flow f() { output x = " + "-" * (MAX_NESTING + 1) + "1 }")
    assert d.code == "E0107"
    # A run of one operator is one level however long; each change of
    # operator in a run is a level (the IR nests there).
    module, diags = parse_flow("flow f() { output x = " + " + ".join(["a"] * 5000) + " }",
                               "e.flow")
    assert module is not None and diags == []
    d = one("flow f() { output x = " + " + ".join(["a - a"] * (MAX_NESTING // 2 + 1)) + " }")
    assert d.code == "E0107"
    deeper = MAX_NESTING + 1
    d = one("flow f() { output x = " + "a and (" * deeper + "a" + ")" * deeper + " }")
    assert d.code == "E0107"
    d = one("flow f() { " + "phase p { " * deeper + "}" * deeper + " }")
    assert d.code == "E0107"


@pytest.mark.parametrize(("src", "meant"), [
    ('flow f() {\n  step a: shell "x"\n  step b if a.ok: shell "y"\n}', "`when`"),
    ('flow f() {\n  step b needs a: shell "y"\n}', "`after`"),
    ('flow f() {\n  phase p depends_on a { }\n}', "`after`"),
    ('flow f() {\n  repeat r max 3 while x { }\n}', "`until not`"),
    ('flow f() {\n  step b wehn a.ok: shell "y"\n}', "`when`"),
])
def test_a_word_from_another_language_gets_a_did_you_mean(src: str, meant: str) -> None:
    d = one(src)
    assert d.code == "E0101"
    assert d.hint is not None and d.hint.startswith(f"did you mean {meant}?"), d.hint
    assert "header is `" in d.hint


def test_the_clause_order_message_applies_only_inside_a_header() -> None:
    d = one('flow f() {\n  step a: call g(x: 1 when)\n}')
    assert "clauses" not in d.message and d.hint is None
    d = one('flow f() {\n  parallel p {\n    step a: call g(x: 1 max)\n  }\n}')
    assert "clauses" not in d.message and d.hint is None
