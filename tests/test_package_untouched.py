"""Nothing is written into the installed package at run time: `lint`,
`compile` and `run` leave every file under the package as it was — even when
the grammar was edited after the shipped tables were built, when the rebuilt
tables go to the user's cache directory (`CHATFLOW_CACHE_DIR`), keyed by the
grammar, so a later grammar edit never uses stale tables."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

FLOW = """\
flow hello(name: str = "world") -> (greeting: str) {
  step greet: shell "echo Hello, {name}!" {
    out text: str = trim(stdout)
  }
  output greeting = greet.text
}
"""
# The same flow with a comment only an edited grammar reads.
SLASH_FLOW = "// a comment in the edited grammar's style\n" + FLOW
SEMI_FLOW = "; another comment style\n" + FLOW


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(root.rglob("*"))}


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A private copy of the package (as if installed) and a work directory."""
    shutil.copytree(SRC / "chatflow", tmp_path / "site" / "chatflow",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("work", "home", "cache"):
        (tmp_path / name).mkdir()
    (tmp_path / "work" / "hello.flow").write_text(FLOW, encoding="utf-8")
    (tmp_path / "work" / "slash.flow").write_text(SLASH_FLOW, encoding="utf-8")
    (tmp_path / "work" / "semi.flow").write_text(SEMI_FLOW, encoding="utf-8")
    return tmp_path


def _chatflow(sandbox: Path, *commands: list[str]) -> list[int]:
    """Run chatflow commands in one process, from the copy; their exit codes."""
    code = textwrap.dedent("""
        import contextlib, io, json, sys
        import chatflow
        assert chatflow.__file__.startswith(sys.argv[1]), chatflow.__file__
        from chatflow.__main__ import main
        codes = []
        for argv in json.loads(sys.argv[2]):
            with contextlib.redirect_stdout(io.StringIO()), \\
                    contextlib.redirect_stderr(io.StringIO()):
                try:
                    codes.append(main(argv) or 0)
                except SystemExit as exc:
                    codes.append(exc.code or 0)
        print(json.dumps(codes))
    """)
    env = {**os.environ, "PYTHONPATH": str(sandbox / "site"), "PYTHONDONTWRITEBYTECODE": "1",
           "HOME": str(sandbox / "home"), "CHATFLOW_CACHE_DIR": str(sandbox / "cache"),
           "CHATFLOW_STATE": f"file://{sandbox / 'work' / 'state'}"}
    env.pop("XDG_CACHE_HOME", None)
    proc = subprocess.run([sys.executable, "-c", code, str(sandbox / "site"),
                           json.dumps(list(commands))], cwd=sandbox / "work", env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    codes: list[int] = json.loads(proc.stdout.strip().splitlines()[-1])
    return codes


def _edit_grammar(sandbox: Path, comment: str) -> str:
    """Let comments also start with `comment`; the new grammar's text."""
    grammar = sandbox / "site" / "chatflow" / "dsl" / "flow.lark"
    lines = grammar.read_text(encoding="utf-8").splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.startswith("COMMENT:")]
    assert len(at) == 1
    lines[at[0]] = f"COMMENT: /(#|{comment})[^\\n]*/\n"
    text = "".join(lines)
    grammar.write_text(text, encoding="utf-8")
    return text


def test_lint_compile_run_write_nothing_into_the_package(sandbox: Path) -> None:
    package = sandbox / "site" / "chatflow"
    before = _snapshot(package)
    codes = _chatflow(sandbox, ["lint", "hello.flow"], ["compile", "hello.flow"],
                      ["run", "hello.flow", "-i", "name=you"], ["lint", "slash.flow"])
    assert codes[:3] == [0, 0, 0]
    assert codes[3] != 0  # `//` is no comment in the shipped grammar
    assert _snapshot(package) == before
    assert list((sandbox / "cache").iterdir()) == []  # the shipped tables were fresh


def test_an_edited_grammar_rebuilds_into_the_cache_not_the_package(sandbox: Path) -> None:
    package = sandbox / "site" / "chatflow"
    _edit_grammar(sandbox, r"\/\/")
    before = _snapshot(package)
    assert _chatflow(sandbox, ["lint", "slash.flow"], ["run", "slash.flow"]) == [0, 0]
    assert _snapshot(package) == before
    cached = sorted((sandbox / "cache").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith("flow_tables-")
    stamp = cached[0].stat().st_mtime_ns
    assert _chatflow(sandbox, ["lint", "slash.flow"]) == [0]
    assert cached[0].stat().st_mtime_ns == stamp  # used from the cache, not rebuilt

    # Another edit: the first edit's tables, even under the new grammar's
    # cache name, are stale and not used; the new grammar's are built.
    grammar = _edit_grammar(sandbox, r"\/\/|;")
    new_name = f"flow_tables-{hashlib.sha256(grammar.encode()).hexdigest()[:16]}.json"
    shutil.copy(cached[0], sandbox / "cache" / new_name)
    before = _snapshot(package)
    assert _chatflow(sandbox, ["lint", "semi.flow"], ["lint", "slash.flow"]) == [0, 0]
    assert _snapshot(package) == before
    doc = json.loads((sandbox / "cache" / new_name).read_text(encoding="utf-8"))
    assert doc["fast"]["grammar"] == grammar  # rebuilt for the grammar in effect
