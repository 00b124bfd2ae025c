"""Step options written with a missing or unwanted value (bugs P1, P2 in
notes/bugs.md): the parser builds an `ast.Option` the checker can report
with E0217, at the option word, instead of a syntax error at a later token."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.compiler.check import check_program
from chatflow.compiler.loader import load_program
from chatflow.diagnostics import Diagnostic
from chatflow.dsl import ast
from chatflow.dsl.parser import parse_flow


def options(src: str) -> tuple[ast.StepOption, ...]:
    module, diags = parse_flow(src, "t.flow")
    assert diags == [], diags
    assert module is not None
    step = module.flows[0].items[0]
    assert isinstance(step, ast.Step)
    return step.options


def check(tmp_path: Path, src: str) -> list[Diagnostic]:
    path = tmp_path / "t.flow"
    path.write_text(src, encoding="utf-8")
    program, diags = load_program(str(path))
    _checked, more = check_program(program)
    return diags + more


def step_with(body: str, action: str = 'shell "x"') -> str:
    return f"flow f() {{ step a: {action} {{\n{body}\n}} }}\n"


def test_flag_given_a_value_keeps_the_value() -> None:
    (opt,) = options('flow f() { step a: shell "x" { continue_on_error true } }')
    assert isinstance(opt, ast.Option)
    assert opt.name.name == "continue_on_error"
    assert isinstance(opt.value, ast.Literal) and opt.value.value is True
    assert (opt.value.span.line, opt.value.span.column) == (1, 50)


def test_flag_alone_still_has_no_value() -> None:
    (opt, nxt) = options(step_with("  continue_on_error\n  timeout 5s"))
    assert isinstance(opt, ast.Option) and opt.value is None
    assert isinstance(nxt, ast.Option) and nxt.name.name == "timeout"


def test_flag_with_a_value_is_one_e0217_at_the_value(tmp_path: Path) -> None:
    diags = check(tmp_path, 'flow f() { step a: shell "x" { continue_on_error true } }')
    assert [(d.code, d.message, d.span.line, d.span.column) for d in diags] == [
        ("E0217", "option `continue_on_error` takes no value", 1, 50)]


@pytest.mark.parametrize(("word", "nxt", "kind"), [
    ("cwd", 'env {A: "1"}', ast.Option),
    ("risk", "retry 2", ast.RetryOption),
    ("timeout", "with {a: 1}", ast.Option),
    ("prompt", "continue_on_error", ast.Option),
    ("timeout", "out n: int = 1", ast.OutField),
    ("env", "cwd \"d\"", ast.Option),
    ("with", "timeout 5s", ast.Option),
    ("cwd", "risk", ast.Option),
])
def test_option_word_alone_does_not_swallow_the_next_option(
        word: str, nxt: str, kind: type) -> None:
    first, second = options(step_with(f"  {word}\n  {nxt}"))
    assert isinstance(first, ast.Option)
    assert first.name.name == word and first.value is None
    assert (first.span.line, first.span.column) == (2, 3)
    assert isinstance(second, kind)


def test_option_word_alone_before_the_closing_brace() -> None:
    (opt,) = options(step_with("  timeout"))
    assert isinstance(opt, ast.Option) and opt.name.name == "timeout" and opt.value is None


def test_a_plain_name_after_an_option_word_is_still_its_value() -> None:
    (opt,) = options(step_with("  cwd dir", action='shell "x"').replace("flow f()",
                                                                      "flow f(dir: str)"))
    assert isinstance(opt, ast.Option) and isinstance(opt.value, ast.Name)
    assert opt.value.name == "dir"


@pytest.mark.parametrize(("word", "nxt", "action"), [
    ("cwd", 'env {A: "1"}', 'shell "x"'),
    ("risk", "retry 2", 'shell "x"'),
    ("timeout", "retry 2", 'shell "x"'),
    ("prompt", "timeout 5s", 'agent "x"'),
])
def test_option_word_alone_is_one_e0217_at_the_word(
        tmp_path: Path, word: str, nxt: str, action: str) -> None:
    diags = check(tmp_path, step_with(f"  {word}\n  {nxt}", action))
    assert [(d.code, d.message, d.span.line, d.span.column) for d in diags] == [
        ("E0217", f"option `{word}` needs a value", 2, 3)]


@pytest.mark.parametrize(("body", "word", "column"), [
    ('  retry\n  env {A: "1"}', "retry", 3),
    ("  retry\n  timeout 5s", "retry", 3),
    ("  retry\n  with {a: 1}", "retry", 3),
    ("  retry 2 backoff\n  out n: int = 1", "backoff", 11),
])
def test_retry_without_a_count_is_one_error_at_the_word(body: str, word: str,
                                                        column: int) -> None:
    _module, diags = parse_flow(step_with(body), "t.flow")
    assert [(d.code, d.message, d.span.line, d.span.column) for d in diags] == [
        ("E0101", f"option `{word}` needs a value", 2, column)]
    assert diags[0].hint is not None and "retry 3 backoff 10s" in diags[0].hint


@pytest.mark.parametrize("body", [
    'timeout 5s, retry 2, risk 10',
    'timeout 5s,\n    retry 2,\n    risk 10,',
    'timeout 5s retry 2, risk 10',
])
def test_options_may_be_separated_by_commas(body: str) -> None:
    plain = options('flow f() {\n  step a: shell "x" { timeout 5s retry 2 risk 10 }\n}\n')
    with_commas = options(f'flow f() {{\n  step a: shell "x" {{ {body} }}\n}}\n')
    assert len(plain) == 3
    assert [type(o) for o in with_commas] == [type(o) for o in plain]


@pytest.mark.parametrize("body", [", timeout 5s", "timeout 5s,, retry 2"])
def test_a_comma_alone_is_still_a_syntax_error(body: str) -> None:
    _module, diags = parse_flow(f'flow f() {{\n  step a: shell "x" {{ {body} }}\n}}\n', "t.flow")
    assert any(d.code == "E0101" for d in diags)
