"""The string forms (docs/language.md §2) and their YAML twins (§9):
`"…"` and `\"\"\"…\"\"\"` templates, `'…'` and `'''…'''` raw strings, the layout
rule of multi-line strings, and `!raw` in YAML. Unit cases, then properties:
any text written in a raw form reads back exactly, in `.flow` and in YAML,
whatever the parse path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chatflow.diagnostics import Diagnostic
from chatflow.dsl import ast, parser
from chatflow.dsl.lalr import Fallback
from chatflow.dsl.yaml_front import parse_yaml

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def command(src: str) -> tuple[ast.Literal | ast.Template | None, list[Diagnostic]]:
    """The command of the one shell step of `flow f() { step s: shell SRC }`."""
    module, diags = parser.parse_flow("flow f(name: str) {\n  step s: shell " + src + "\n}\n",
                                      "s.flow")
    if module is None:
        return None, diags
    step = module.flows[0].items[0]
    assert isinstance(step, ast.Step) and isinstance(step.action, ast.ShellAction)
    return step.action.command, diags


def value_of(src: str) -> str:
    node, diags = command(src)
    assert diags == [], [(d.code, d.message) for d in diags]
    assert isinstance(node, ast.Literal) and isinstance(node.value, str), node
    return node.value


def codes(src: str) -> list[str]:
    return [d.code for d in command(src)[1]]


# --------------------------------------------------------------------------- .flow forms


@pytest.mark.parametrize(("src", "value"), [
    ("'echo ${HOME}'", "echo ${HOME}"),
    ("'a \\n {b} \"c\"'", 'a \\n {b} "c"'),
    ("''", ""),
    ("'''ls | awk '{print $1}''''", "ls | awk '{print $1}'"),
    ("'''it's'''", "it's"),
    ("'''''a'''", "''a"),
    ("'''\n    one\n      two\n\n    three\n    '''", "one\n  two\n\nthree"),
    ("'''\n    one\n\n    '''", "one\n"),
    ("'''\n    '''", ""),
    ("'''\n\ta\n\t'''", "a"),
    ("'''\r\n    a\r\n    b\r\n    '''", "a\nb"),
    ("'''   \n  a\n     \n  '''", "a\n   "),  # a blank line keeps what is past the indentation
    ("'''\n    a\n  \n    b\n    '''", "a\n\nb"),  # a shorter one is empty
    ('"""\n    {"k": 1}\n    """', None),  # a hole that is not an expression: see below
    ('"""\n    say "hi" \\{x\\}\n    """', 'say "hi" {x}'),
    ('"""a "quoted" b"""', 'a "quoted" b'),
    ('"""a""""', 'a"'),
])
def test_forms_read_as_written(src: str, value: str | None) -> None:
    if value is None:
        assert codes(src) == ["E0109"]
    else:
        assert value_of(src) == value


def test_triple_quoted_template_interpolates_with_positions_in_the_file() -> None:
    src = '"""\n    echo "{name}" \\{x\\}\n      {name}!\n    """'
    node, diags = command(src)
    assert diags == []
    assert isinstance(node, ast.Template)
    assert node.parts[0] == 'echo "'
    assert node.parts[2] == '" {x}\n  '
    assert node.parts[4] == "!"
    file = "flow f(name: str) {\n  step s: shell " + src + "\n}\n"
    for part in (node.parts[1], node.parts[3]):
        assert isinstance(part, ast.Name)
        assert file[part.span.start:part.span.end] == "name"
    first, second = node.parts[1], node.parts[3]
    assert isinstance(first, ast.Name) and isinstance(second, ast.Name)
    assert (first.span.line, first.span.column) == (3, 12)
    assert (second.span.line, second.span.column) == (4, 8)


@pytest.mark.parametrize(("src", "code", "line", "column"), [
    ("'''x\n  y\n  '''", "E0116", 2, 20),        # text after the opening quotes
    ("'''\n  x\n  y'''", "E0116", 4, 3),          # closing quotes not alone on their line
    ("'''\n    x\n  y\n    '''", "E0116", 4, 3),  # a line indented less than them
    ("'''\n  \tx\n  '''", None, 0, 0),             # more is fine: kept
    ("'''\n\tx\n  '''", "E0116", 3, 2),            # a tab is not two spaces
    ('"""\n  {a\n  b}\n  """', "E0108", 3, 3),     # a hole ends on its line
    ("'''never closed", "E0102", 2, 17),
    ("'open", "E0102", 2, 17),
])
def test_layout_and_termination_errors(src: str, code: str | None, line: int,
                                       column: int) -> None:
    _node, diags = command(src)
    if code is None:
        assert diags == []
        return
    assert diags and diags[0].code == code, [(d.code, d.message) for d in diags]
    assert (diags[0].span.line, diags[0].span.column) == (line, column)


@pytest.mark.parametrize(("src", "where", "fix"), [
    ('"awk \'{print $1}\'"', (2, 23), "'''awk '{print $1}''''"),
    ('"f() { echo hi; }; f"', (2, 22), "'f() { echo hi; }; f'"),
    ('"Reply {\\"ok\\": true}"', (2, 24), "'Reply {\"ok\": true}'"),
    ('"{name} and {print $1}"', (2, 29), None),  # another hole is real: no raw string
])
def test_a_hole_that_is_not_an_expression_is_reported_at_its_brace(
        src: str, where: tuple[int, int], fix: str | None) -> None:
    _node, diags = command(src)
    assert [d.code for d in diags] == ["E0109"]
    d = diags[0]
    assert (d.span.line, d.span.column, d.span.end_column) == (*where, where[1] + 1)
    assert "`{` starts an interpolation" in d.message
    assert d.hint is not None and "\\{" in d.hint
    assert (fix in d.hint) if fix is not None else ("raw string" not in d.hint)
    assert d.related, "the note shows where the text stops being an expression"


def test_an_unfinished_expression_keeps_its_own_error() -> None:
    assert codes('"x {a +}"') == ["E0101"]


def test_raw_strings_are_plain_where_interpolation_is_not_allowed() -> None:
    module, diags = parser.parse_flow(
        "import a from '''./x{1}.flow'''\nflow f() { step s: python 'm:f{x}' }", "p.flow")
    assert diags == [] and module is not None
    assert module.imports[0].source.value == "./x{1}.flow"


# --------------------------------------------------------------------------- YAML !raw


def yaml_command(body: str) -> tuple[Any, list[Diagnostic]]:
    module, diags = parse_yaml("flow: f\nparams: {name: str}\nsteps:\n  - step: s\n"
                               "    shell: " + body + "\n", "s.yaml")
    if module is None or not module.flows or not module.flows[0].items:
        return None, diags
    step = module.flows[0].items[0]
    assert isinstance(step, ast.Step) and isinstance(step.action, ast.ShellAction)
    return step.action.command, diags


@pytest.mark.parametrize(("body", "value"), [
    ("!raw 'echo ${HOME}'", "echo ${HOME}"),
    ("!raw \"a {b} \\\\n\"", "a {b} \\n"),
    ("!raw echo {x}", "echo {x}"),
    ("!raw |-\n      awk '{print $1}'\n        more", "awk '{print $1}'\n  more"),
    ("&a !raw '{x}'", "{x}"),
])
def test_yaml_raw_strings(body: str, value: str) -> None:
    node, diags = yaml_command(body)
    assert diags == [], [(d.code, d.message) for d in diags]
    assert isinstance(node, ast.Literal) and node.value == value


def test_yaml_template_spans_skip_a_tag_or_anchor() -> None:
    text = "flow: f\nparams: {name: str}\nsteps:\n  - step: s\n    shell: &c \"x {name}\"\n"
    module, diags = parse_yaml(text, "s.yaml")
    assert diags == [] and module is not None
    step = module.flows[0].items[0]
    assert isinstance(step, ast.Step) and isinstance(step.action, ast.ShellAction)
    node = step.action.command
    assert isinstance(node, ast.Template)
    hole = node.parts[1]
    assert isinstance(hole, ast.Name)
    assert text[hole.span.start:hole.span.end] == "name"


@pytest.mark.parametrize(("text", "message"), [
    ("flow: f\nsteps:\n  - step: s\n    shell: !Raw 'x'\n", "unknown YAML tag `!Raw`"),
    ("flow: f\nsteps:\n  - step: s\n    shell: x\n    timeout: !raw 10m\n",
     "`!raw` does not apply to this field"),
    ("flow: !raw f\nsteps: []\n", "`!raw` does not apply to this field"),
    ("flow: f\nsteps: !raw []\n", "`!raw` marks a string, not a list or mapping"),
    ("flow: f\nsteps:\n  - step: s\n    shell: !shell 'x'\n", "unknown YAML tag `!shell`"),
])
def test_yaml_tags_that_do_not_apply_are_reported(text: str, message: str) -> None:
    _module, diags = parse_yaml(text, "t.yaml")
    found = [d for d in diags if d.code == "E0117"]
    assert len(found) == 1 and message in found[0].message, [(d.code, d.message) for d in diags]


# --------------------------------------------------------------------------- properties

_RAW_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r")


def _both_paths(fn: Callable[[], Any]) -> tuple[Any, Any]:
    """`fn()` with the fast driver, then with lark alone."""
    class LarkOnly:
        def parse(self, text: str, start: str) -> Any:
            raise Fallback("test")

    fast = fn()
    orig = parser.get_fast
    parser.get_fast = lambda b: LarkOnly()  # type: ignore[assignment,return-value]
    try:
        slow = fn()
    finally:
        parser.get_fast = orig  # type: ignore[method-assign]
    return fast, slow


@PROPS
@given(st.text(_RAW_CHARS, max_size=40).filter(lambda t: "'" not in t))
def test_any_line_without_a_quote_reads_back_from_a_raw_string(text: str) -> None:
    assert value_of(f"'{text}'") == text


@PROPS
@given(st.text(_RAW_CHARS, max_size=40).filter(lambda t: "'''" not in t))
@example("a\ufeffb")
def test_any_line_reads_back_from_a_triple_raw_string(text: str) -> None:
    assert value_of(f"'''{text}'''") == text


_LINE = st.text(_RAW_CHARS, max_size=20).filter(lambda t: "'''" not in t)


@PROPS
@given(st.lists(_LINE, max_size=6), st.sampled_from(["", "  ", "    ", "\t"]))
@example(["\ufeff"], "")        # a BOM inside a string is the user's (was read as a space)
def test_any_lines_read_back_from_an_indented_block(lines: list[str], indent: str) -> None:
    src = "'''\n" + "".join(indent + line + "\n" for line in lines) + indent + "'''"
    expected = "\n".join(lines)
    assert value_of(src) == expected
    fast, slow = _both_paths(lambda: command(src))
    assert fast == slow


# YAML reads these as line breaks (NEL, LS, PS): no text a block scalar can hold
_YAML_BREAKS = frozenset("\x85\u2028\u2029")


@PROPS
@given(st.lists(_LINE.filter(lambda t: t.strip(" \t") != "" and not t[:1].isspace()
                             and not _YAML_BREAKS & set(t)),
                min_size=1, max_size=5))
def test_a_block_and_its_yaml_twin_read_the_same(lines: list[str]) -> None:
    flow_value = value_of("'''\n      " + "\n      ".join(lines) + "\n      '''")
    block = "".join("      " + line + "\n" for line in lines)
    node, diags = yaml_command("!raw |-\n" + block)
    if any(d.code == "E0110" for d in diags):
        return  # text YAML itself cannot hold as a block (a control character ...)
    assert diags == [] and isinstance(node, ast.Literal)
    assert node.value == flow_value


@PROPS
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",),
                                      blacklist_characters="\n\r\\{}\""), max_size=15),
                max_size=5))
def test_a_triple_quoted_template_without_holes_reads_back(lines: list[str]) -> None:
    src = '"""\n  ' + "\n  ".join(lines) + '\n  """'
    expected = "\n".join(lines)
    assert value_of(src) == expected


@pytest.mark.parametrize("lines", [
    ["a", "", "b"], ["a", "  ", "b"], ["a", "      ", "b"], ["a", "   ", "b"], ["a", "", "", "b"],
])
def test_blank_lines_read_as_in_the_yaml_twin(lines: list[str]) -> None:
    flow_value = value_of("'''\n" + "".join(("    " + line).rstrip(" ") + "\n" if not line
                                            else "    " + line + "\n" for line in lines)
                          + "    '''")
    node, diags = yaml_command("!raw |-\n" + "".join(
        ("      " + line if line else "") + "\n" for line in lines))
    assert diags == [] and isinstance(node, ast.Literal)
    assert node.value == flow_value


def test_yaml_hints_speak_yaml() -> None:
    """In YAML the raw form is the `!raw` tag, and a "..." string needs `\\\\{`."""
    _node, diags = yaml_command("\"awk '{print $1}'\"")
    [d] = diags
    assert d.code == "E0109" and d.hint is not None
    assert "tag the string `!raw`" in d.hint and "in a YAML \"...\" string" in d.hint
    assert "'''" not in d.hint
