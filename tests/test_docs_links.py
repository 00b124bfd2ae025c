"""The documentation cites only what the repository has: every relative link
in README.md and docs/ points at a file that exists, and nothing refers to a
language brief outside the repository (docs/language.md is the reference)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted([REPO / "README.md", REPO / "examples" / "README.md",
               *(REPO / "docs").glob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
OUTSIDE_BRIEF = "LANGUAGE" + ".md"  # spelt in two pieces so this file does not match


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a URL or an anchor in the same page
        path = target.split("#", 1)[0]
        if not (doc.parent / path).exists():
            broken.append(target)
    assert not broken, f"{doc.relative_to(REPO)} links to missing files: {broken}"


def test_docs_language_is_the_one_reference() -> None:
    roots = [REPO / "README.md", REPO / "docs", REPO / "examples", REPO / "src", REPO / "tests"]
    files = [p for r in roots for p in ([r] if r.is_file() else r.rglob("*"))
             if p.is_file() and p.suffix in (".md", ".py", ".flow", ".yaml", ".lark", ".json")]
    citing = [str(p.relative_to(REPO)) for p in files
              if OUTSIDE_BRIEF in p.read_text(encoding="utf-8", errors="replace")]
    assert not citing, f"these cite {OUTSIDE_BRIEF}, which is not in the repository: {citing}"
