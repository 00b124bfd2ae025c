"""Property tests: whatever the source, linting gives diagnostics or success,
never an uncaught exception (in process) and never a traceback (the command)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cli_helpers import EXAMPLES, run_chatflow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatflow.commands import exit_code_for
from chatflow.diagnostics import Diagnostic

FEATURE_FLOW = (EXAMPLES / "feature.flow").read_text(encoding="utf-8")
FEATURE_YAML = (EXAMPLES / "feature.yaml").read_text(encoding="utf-8")

TOKENS = [
    "flow", "step", "phase", "parallel", "repeat", "output", "var", "import", "from",
    "after", "when", "max", "until", "shell", "python", "agent", "approve", "call", "set",
    "fail", "timeout", "retry", "backoff", "risk", "prompt", "with", "env", "cwd", "out",
    "version", "automation", "quota", "tokens", "max_depth", "true", "false", "null",
    "and", "or", "not", "in", "??", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/",
    "%", "{", "}", "(", ")", "[", "]", ":", ",", ".", "=", "->", "?", '"x {a} y"', '"s"',
    "1", "2.5", "10m", "200_000", "a", "b", "unit", "ok", "str", "int", "float", "bool",
    "json", "list[int]", "map[str]", "\n", " ", "#c\n", '"\\{"', '"{"', "}", "\t", "é",
]


def _mutate(text: str, data: st.DataObject) -> str:
    """Delete, duplicate, or replace a slice, or insert a token, at random places."""
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        if not text:
            text = data.draw(st.sampled_from(TOKENS))
            continue
        i = data.draw(st.integers(0, len(text) - 1), label="at")
        j = min(len(text), i + data.draw(st.integers(0, 12), label="len"))
        op = data.draw(st.sampled_from(["delete", "dup", "insert", "replace"]), label="op")
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "dup":
            text = text[:j] + text[i:j] + text[j:]
        elif op == "insert":
            text = text[:i] + data.draw(st.sampled_from(TOKENS)) + text[i:]
        else:
            text = text[:i] + data.draw(st.sampled_from(TOKENS)) + text[j:]
    return text


token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join)


@st.composite
def mutated_flow(draw: st.DrawFn) -> str:
    return _mutate(FEATURE_FLOW, draw(st.data()))


@st.composite
def mutated_yaml(draw: st.DrawFn) -> str:
    return _mutate(FEATURE_YAML, draw(st.data()))


any_flow_source = st.one_of(token_soup, mutated_flow(), st.text(max_size=200))


def _lint_in_process(text: str, suffix: str) -> list[Diagnostic]:
    from chatflow.compiler.api import lint_paths
    from chatflow.diagnostic_format import render_json, render_sarif, render_text

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prop" + suffix)
        Path(path).write_text(text, encoding="utf-8")
        result = lint_paths([path])
        diags = list(result.diagnostics)
        # every renderer copes with whatever spans the phases produced
        rendered = render_text(diags, result.sources)
        render_json(diags)
        render_sarif(diags)
    for d in diags:
        assert d.span.line >= 1 and d.span.column >= 1, d
        assert d.code[0] in "EW" and len(d.code) == 5, d
    assert bool(diags) == bool(rendered)
    return diags


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_flow_source)
def test_lint_api_never_raises_on_flow_sources(text: str) -> None:
    _lint_in_process(text, ".flow")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mutated_yaml(), st.text(max_size=200)))
def test_lint_api_never_raises_on_yaml_sources(text: str) -> None:
    _lint_in_process(text, ".yaml")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_flow())
def test_compile_api_never_raises(text: str) -> None:
    from chatflow.compiler.api import compile_path
    from chatflow.diagnostics import ChatflowError, has_errors

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "feature.flow")
        Path(path).write_text(text, encoding="utf-8")
        try:
            result = compile_path(path)
        except ChatflowError as exc:  # usage problems (e.g. no flow named like the file)
            assert exit_code_for(exc) == 2
            return
        assert (result.ir is None) == has_errors(result.diagnostics)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.one_of(mutated_flow(), token_soup), st.sampled_from([".flow", ".yaml"]))
def test_lint_command_never_prints_a_traceback(text: str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "prop" + suffix).write_text(text, encoding="utf-8")
        r = run_chatflow("lint", "prop" + suffix, cwd=tmp)  # asserts no traceback
        assert r.code in (0, 1), r.output
        if r.code == 1:
            assert "error[E" in r.stderr
