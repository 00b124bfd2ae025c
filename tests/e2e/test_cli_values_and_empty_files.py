"""Through the installed command (issue 7, item 10): `-i` numbers outside the
value model (NaN, infinity, ints past 64 bits) are usage errors that say
why, run-time integer overflow fails the instance with a clear message, and
an empty source file gets the same E0115 from `lint` and `compile`, for
`.flow` and YAML alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_chatflow

INPUTS = """\
flow inputs(ratio: float = 0.5, n: int = 1) -> (r: float, m: int) {
  output r = ratio
  output m = n * 2
}
"""


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "1e999"])
def test_a_float_input_that_is_not_finite(tmp_path: Path, raw: str) -> None:
    (tmp_path / "inputs.flow").write_text(INPUTS)
    r = run_chatflow("run", "inputs.flow", "-i", f"ratio={raw}", cwd=tmp_path)
    assert r.code == 2, r.output
    assert r.stderr == (f"error: input `ratio`: cannot read {raw!r} as float (not a finite "
                        "number: numbers are JSON numbers, which have no NaN or infinity)\n")
    assert not (tmp_path / ".chatflow").exists()


def test_an_int_input_past_64_bits(tmp_path: Path) -> None:
    (tmp_path / "inputs.flow").write_text(INPUTS)
    r = run_chatflow("run", "inputs.flow", "-i", "n=9223372036854775808", cwd=tmp_path)
    assert r.code == 2 and "does not fit in 64 bits" in r.stderr, r.output


def test_run_time_overflow_fails_the_instance(tmp_path: Path) -> None:
    (tmp_path / "inputs.flow").write_text(INPUTS)
    r = run_chatflow("run", "inputs.flow", "-i", "n=9223372036854775807", "--json",
                     cwd=tmp_path)
    assert r.code == 1, r.output
    error = json.loads(r.stdout)["error"]
    assert "integer overflow" in error and "`n * 2`" in error, error
    assert "does not fit in 64 bits" in error


@pytest.mark.parametrize(("name", "text"), [
    ("empty.flow", ""), ("blank.flow", "\n   \n"), ("comment.flow", "# later\n"),
    ("imports.flow", 'import bugfix from "std"\n'),
    ("empty.yaml", ""), ("comment.yml", "# later\n"), ("dashes.yaml", "---\n"),
])
def test_an_empty_file_is_one_error_for_lint_and_compile(tmp_path: Path, name: str,
                                                         text: str) -> None:
    (tmp_path / name).write_text(text)
    lint = run_chatflow("lint", name, cwd=tmp_path)
    comp = run_chatflow("compile", name, cwd=tmp_path)
    assert lint.code == comp.code == 1, lint.output + comp.output
    assert lint.stderr == comp.stderr
    assert lint.stderr.startswith("error[E0115]: the file holds no flow")
    assert comp.stdout == ""
