"""Property tests: mutated versions of examples/feature.yaml, and random YAML
documents built from the flow vocabulary, never make `parse_yaml` raise; it
returns a module or None and diagnostics in source order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatflow.diagnostics import Diagnostic, sort_diagnostics
from chatflow.dsl import ast
from chatflow.dsl.yaml_front import parse_yaml

EXAMPLE = (Path(__file__).resolve().parents[2] / "examples" / "feature.yaml").read_text(
    encoding="utf-8")
LINES = EXAMPLE.splitlines(keepends=True)

VOCABULARY = [
    "flow", "flows", "params", "outputs", "imports", "from", "names", "version",
    "description", "automation", "max_depth", "parallelism", "quota", "tokens", "cpu",
    "wall", "vars", "type", "value", "default", "steps", "step", "phase", "parallel",
    "repeat", "max", "until", "after", "when", "shell", "python", "agent", "approve",
    "call", "set", "fail", "timeout", "retry", "times", "backoff", "risk",
    "continue_on_error", "prompt", "with", "env", "cwd", "out", "output", "x", "1f",
]
SNIPPETS = [
    ":", "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!int ", "<<: ", "|\n", ">\n", "'",
    '"', "#", "\t", "\n", "  ", "? ", "---\n", "%YAML 1.1\n", "{x}", "{", "10m", "-1",
    "0.8", "null", "~", "true", "\\", "\x00", "\ufeff", "é", "\u2028",
]
RUN = settings(max_examples=120, deadline=None,
               suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> None:
    module, diags = parse_yaml(text, "m.yaml")
    assert module is None or isinstance(module, ast.Module)
    assert all(isinstance(d, Diagnostic) for d in diags)
    assert diags == sort_diagnostics(diags)
    if module is None:
        assert any(d.is_error for d in diags)
    elif not any(d.is_error for d in diags) and not module.flows:
        # an empty document: the loader reports it (E0115), as for an empty `.flow`
        from chatflow.compiler.loader import load_program

        _, loaded = load_program("m.yaml", text)
        assert [d.code for d in loaded] == ["E0115"], "a file without errors holds a flow"


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace",
                                   "indent", "truncate"]))
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if not lines:
            lines.append(draw(st.sampled_from(LINES)))
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "  ", "    ", "\t"])) + lines[i].lstrip()
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            line = lines[i]
            k = draw(st.integers(0, len(line)))
            piece = draw(st.one_of(st.sampled_from(SNIPPETS), st.sampled_from(VOCABULARY),
                                   st.text(max_size=6)))
            if op == "insert":
                lines[i] = line[:k] + piece + line[k:]
            else:
                end = draw(st.integers(k, len(line)))
                lines[i] = line[:k] + piece + line[end:]
    return "".join(lines)


@RUN
@given(mutated())
def test_mutated_yaml_example_never_raises(text: str) -> None:
    check(text)


def _scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([*VOCABULARY, "{x}", "a {b}", "10m", "5s", "int", "list[str]?",
                         "unit.ok and not x", "{", "}", ""]),
        st.text(max_size=8),
    )


DOCUMENTS = st.recursive(
    _scalars(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(VOCABULARY), inner, max_size=5),
    ),
    max_leaves=30,
)


@RUN
@given(st.dictionaries(st.sampled_from(VOCABULARY), DOCUMENTS, max_size=6))
def test_random_documents_never_raise(data: dict[str, Any]) -> None:
    check(yaml.safe_dump(data, allow_unicode=True))


@RUN
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    check(text)


@RUN
@given(st.lists(st.sampled_from(VOCABULARY + SNIPPETS), max_size=30))
def test_token_soup_never_raises(tokens: list[str]) -> None:
    check("".join(tokens))
