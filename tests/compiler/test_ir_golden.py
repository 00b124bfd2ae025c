"""IR golden files: every file in `examples/` compiles to `tests/golden/ir/<file>.ir.json`,
byte for byte. Rewrite them with `pytest tests/compiler/test_ir_golden.py --update-goldens`.

A file whose flow the CLI would pick by default (docs/language.md, "Which flow a
command uses") has one golden `<file>.ir.json`; a file with several flows and no
default has one per flow, `<file>.<flow>.ir.json`. Files are compiled by their
repository-relative path so `source.file` is stable.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.compiler.ir import dumps, load_ir

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GOLDEN = ROOT / "tests" / "golden" / "ir"
SUFFIXES = (".flow", ".yaml", ".yml")


def example_files() -> list[str]:
    if not EXAMPLES.is_dir():
        return []
    return sorted(p.relative_to(ROOT).as_posix() for p in EXAMPLES.rglob("*")
                  if p.suffix in SUFFIXES and p.is_file())


def _targets(rel: str) -> list[tuple[str, str | None, Path]]:
    """(path, flow, golden file) for each IR this example pins."""
    from chatflow.compiler.api import select_flow
    from chatflow.compiler.loader import load_program
    from chatflow.diagnostics import ChatflowError

    name = rel.removeprefix("examples/")
    program, _ = load_program(rel)
    try:
        select_flow(program, None)
    except ChatflowError:
        flows = [program.units[k].flow.name.name for k in program.root_flows]
        return [(rel, f, GOLDEN / f"{name}.{f}.ir.json") for f in flows]
    return [(rel, None, GOLDEN / f"{name}.ir.json")]


@pytest.mark.parametrize("rel", example_files())
def test_example_ir_golden(rel: str, request: pytest.FixtureRequest,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    from chatflow.compiler.api import compile_path

    monkeypatch.chdir(ROOT)
    for path, flow, golden in _targets(rel):
        result = compile_path(path, flow)
        assert result.ir is not None, [d.message for d in result.diagnostics]
        load_ir(result.ir)  # every example IR is schema- and reference-valid
        text = dumps(result.ir)
        if request.config.getoption("--update-goldens"):
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(text, encoding="utf-8")
            continue
        assert golden.exists(), f"missing {golden.relative_to(ROOT)}; run with --update-goldens"
        assert text == golden.read_text(encoding="utf-8"), \
            f"{path} no longer compiles to {golden.relative_to(ROOT)} " \
            "(if the change is intended, run with --update-goldens)"


def test_no_stale_goldens() -> None:
    """Every golden belongs to an example that still exists."""
    names = {Path(rel).name for rel in example_files()}
    stale = [g.name for g in GOLDEN.glob("*.ir.json")
             if not any(g.name.startswith(n + ".") for n in names)]
    assert not stale, f"goldens without an example: {stale}"
