"""docs/diagnostics.md is generated from the golden tests and must not drift."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "golden"))

import make_docs  # noqa: E402


def test_diagnostics_doc_is_up_to_date() -> None:
    doc = REPO / "docs" / "diagnostics.md"
    assert doc.exists(), "docs/diagnostics.md missing: run python tests/golden/make_docs.py"
    assert doc.read_text(encoding="utf-8") == make_docs.generate(), (
        "docs/diagnostics.md is out of date: run python tests/golden/make_docs.py"
    )


def test_every_registered_code_is_documented_with_an_example() -> None:
    text = (REPO / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    for code in make_docs.registered_codes():
        if code in make_docs.NO_EXAMPLE:
            continue
        assert f"### {code}" in text, f"{code} is not in docs/diagnostics.md"
        section = text.split(f"### {code}", 1)[1].split("\n### ", 1)[0]
        assert "```text" in section and f"[{code}]" in section, (
            f"{code} has no rendered example in docs/diagnostics.md"
        )


def test_code_of_parses_golden_names() -> None:
    assert make_docs.code_of(Path("E0203_unknown_after.flow")) == "E0203"
    assert make_docs.code_of(Path("W0101.yaml")) == "W0101"
    assert make_docs.code_of(Path("misc.flow")) is None
