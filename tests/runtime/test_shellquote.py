"""Interpolated values reach a real /bin/sh as literal text wherever the
template puts them: unquoted, in the author's single or double quotes, in
command substitutions, backticks, here-documents and comments.

The hostile values only ever `touch` a canary file, and HOME points at a
temporary directory for these tests (see tests/conftest.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatflow.runtime.evaluator import EvalError, MapScope, render

HOSTILE = [
    'x"; touch pwned; echo "',
    "x'; touch pwned; echo '",
    "$(touch pwned)",
    "`touch pwned`",
    "a\ntouch pwned\n",
    "}; touch pwned; echo {",
    ")); touch pwned; ((",
    "\\",
    "a\\",
    "'\"'\"",
    "$HOME ${HOME} $((1+1))",
    "-n",
    "",
    "EOF\ntouch pwned\nEOF",
]


def _template(*parts: str | None) -> dict[str, object]:
    """A fmt expression: str parts are literal text, None is the hole `{v}`."""
    return {"op": "fmt", "args": [{"lit": p} if p is not None else {"param": "v"}
                                  for p in parts]}


def _run(tmp_path: Path, cmd: str) -> str:
    proc = subprocess.run(["/bin/sh", "-c", cmd], cwd=tmp_path, capture_output=True,
                          text=True, timeout=10)
    assert not (tmp_path / "pwned").exists(), f"injection through {cmd!r}"
    return proc.stdout


# (template parts, expected stdout for value v, as a function of v)
CASES = [
    (("printf '%s|' ", None), lambda v: v + "|"),
    (("printf '%s|' a", None, "b"), lambda v: "a" + v + "b|"),
    (('printf "%s|" "', None, '"'), lambda v: v + "|"),
    (('printf "%s|" "pre ', None, ' post"'), lambda v: f"pre {v} post|"),
    (("printf '%s|' 'in single ", None, "'"), lambda v: f"in single {v}|"),
    (("printf '%s|' \"$(printf '%s' ", None, ')"'), lambda v: v.rstrip("\n") + "|"),
    (("printf '%s|' $(printf '<%s>' ", None, ")"), None),
    (("printf '%s|' `printf '%s' ", None, "`"), None),
    (("printf '%s|' ok # comment ", None), lambda v: "ok|"),
    (("cat <<EOF\n", None, "\nEOF\n"), lambda v: v + "\n"),
    (("cat <<'EOF'\n", None, "\nEOF\n"), lambda v: v + "\n"),
    (("printf '%s|' ${UNSET_VAR:-", None, "}"), None),
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(("parts", "expected"), CASES)
def test_value_is_literal_everywhere(tmp_path: Path, parts: tuple[str | None, ...],
                                     expected: object, value: str) -> None:
    scope = MapScope(params={"v": value})
    try:
        cmd = render(_template(*parts), scope, shell=True)
    except EvalError as e:
        # only here-documents may refuse a value, and only one that holds the delimiter
        assert "here-document" in str(e) and "EOF" in value
        return
    out = _run(tmp_path, cmd)
    if callable(expected) and "\x00" not in value:
        assert out == expected(value), cmd


def test_backslash_before_hole_cannot_escape_the_quote(tmp_path: Path) -> None:
    scope = MapScope(params={"v": "'; touch pwned; echo '"})
    cmd = render(_template("printf '%s|' \\", None), scope, shell=True)
    _run(tmp_path, cmd)


@settings(max_examples=150, deadline=None)
@given(value=st.text(alphabet=st.sampled_from(list("ab '\"\\$`(){};|&\n#<>!*?~-=")),
                     max_size=20),
       idx=st.integers(min_value=0, max_value=len(CASES) - 1))
def test_random_values_never_inject(tmp_path_factory: pytest.TempPathFactory, value: str,
                                    idx: int) -> None:
    tmp = tmp_path_factory.mktemp("sh")
    parts, expected = CASES[idx]
    try:
        cmd = render(_template(*parts), MapScope(params={"v": value}), shell=True)
    except EvalError:
        return
    out = _run(tmp, cmd)
    if callable(expected) and "EOF" not in value:
        assert out == expected(value), cmd
