"""The complete examples in README.md, docs/language.md and docs/agents.md
(```flow blocks, and ```yaml blocks that are flows rather than configuration)
lint without errors, so the documentation cannot show broken code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatflow.compiler.api import lint_paths
from chatflow.diagnostic_format import render_text
from chatflow.diagnostics import has_errors
from chatflow.dsl.frontend import is_flow_yaml

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", REPO / "docs" / "language.md", REPO / "docs" / "agents.md"]
FENCE = re.compile(r"^```(flow|yaml)\n(.*?)^```", re.S | re.M)


def _examples() -> list[tuple[str, str, str]]:
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for i, match in enumerate(FENCE.finditer(text)):
            kind, source = match.group(1), match.group(2)
            if kind == "yaml" and not is_flow_yaml(source):
                continue  # a .chatflow/config.yaml example, not a flow
            out.append((f"{doc.name}#{i}", kind, source))
    return out


def test_docs_have_examples() -> None:
    kinds = {kind for _, kind, _ in _examples()}
    assert kinds == {"flow", "yaml"}


@pytest.mark.parametrize(("name", "kind", "source"), _examples(), ids=lambda v: str(v)[:30])
def test_doc_example_has_no_errors(name: str, kind: str, source: str, tmp_path: Path) -> None:
    path = tmp_path / f"example.{kind}"
    path.write_text(source, encoding="utf-8")
    result = lint_paths([str(path)])
    assert not has_errors(result.diagnostics), render_text(result.diagnostics, result.sources)
