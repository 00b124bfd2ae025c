"""A `.flow` file and its YAML twin compile to byte-identical IR with
`--no-source-info` (issue 2): the §1 example, and a twin pair that uses every
construct, and one with every string form (tests/dsl/twins/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.compiler.api import compile_path
from chatflow.compiler.ir import dumps

REPO = Path(__file__).resolve().parents[2]
PAIRS = [
    REPO / "examples" / "feature",
    REPO / "tests" / "dsl" / "twins" / "every_construct",
    REPO / "tests" / "dsl" / "twins" / "strings",  # raw and multi-line strings, `!raw`
    REPO / "tests" / "dsl" / "twins" / "conditional",  # `if ... then ... else`, text built-ins
]


@pytest.mark.parametrize("stem", PAIRS, ids=lambda p: p.name)
def test_twins_compile_to_identical_ir(stem: Path) -> None:
    from_flow = compile_path(str(stem.with_suffix(".flow")), source_info=False)
    from_yaml = compile_path(str(stem.with_suffix(".yaml")), source_info=False)
    assert [d for d in from_flow.diagnostics if d.is_error] == []
    assert [d for d in from_yaml.diagnostics if d.is_error] == []
    assert from_flow.ir is not None and from_yaml.ir is not None
    assert dumps(from_yaml.ir) == dumps(from_flow.ir)


def test_twins_report_the_same_warnings() -> None:
    stem = REPO / "examples" / "feature"
    flow = compile_path(str(stem.with_suffix(".flow")))
    yaml = compile_path(str(stem.with_suffix(".yaml")))
    assert [(d.code, d.message) for d in flow.diagnostics] == \
        [(d.code, d.message) for d in yaml.diagnostics]
