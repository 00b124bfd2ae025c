"""Loading a file and its imports: std, relative paths, keys, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatflow.commands import exit_code_for
from chatflow.compiler.check import check_program
from chatflow.compiler.loader import load_program
from chatflow.diagnostics import ChatflowError

FLOW = 'flow {name}(x: str) -> (y: str) {{\n  output y = x\n}}\n'


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_std_and_relative_imports_and_keys(tmp_path: Path) -> None:
    write(tmp_path / "lib" / "steps.flow", 'import bugfix from "std"\n' + FLOW.format(name="lint"))
    root = write(tmp_path / "main.flow",
                 'import bugfix from "std"\nimport lint from "./lib/steps.flow"\n'
                 'flow main() -> (ok: bool) {\n'
                 '  step a: call lint(x: "s")\n  step b: call bugfix(issue: a.y)\n'
                 '  step c: call helper()\n  output ok = b.fixed and c.ok\n}\n'
                 'flow helper() {\n  step s: shell "x"\n}\n')
    program, diags = load_program(str(root))
    assert diags == []
    assert set(program.units) == {"main", "helper", "std:bugfix", "lib/steps.flow:lint"}
    assert program.root_flows == ["main", "helper"]
    main = program.units["main"]
    assert main.callables == {"bugfix": "std:bugfix", "lint": "lib/steps.flow:lint",
                              "main": "main", "helper": "helper"}
    assert program.units["lib/steps.flow:lint"].callables["bugfix"] == "std:bugfix"
    assert program.sources[str(root)].startswith("import bugfix")
    _checked, more = check_program(program)
    assert [d for d in more if d.is_error] == []


def test_missing_file_and_unknown_names(tmp_path: Path) -> None:
    write(tmp_path / "other.flow", FLOW.format(name="lint"))
    root = write(tmp_path / "main.flow",
                 'import nothing from "./missing.flow"\nimport lnt from "./other.flow"\n'
                 'import bugfx from "std"\n'
                 'flow main() {\n  step a: call nothing(x: "1")\n  step b: call lnt(x: "1")\n}\n')
    program, diags = load_program(str(root))
    assert [(d.code, d.message, d.span.line, d.hint) for d in diags] == [
        ("E0204", "imported file `./missing.flow` not found", 1,
         "paths are relative to the importing file (looked for `" + str(tmp_path / "missing.flow")
         + "`)"),
        ("E0204", "`lnt` is not a flow of `./other.flow`", 2, "did you mean `lint`?"),
        ("E0204", "`bugfx` is not a flow of the standard library", 3, "did you mean `bugfix`?"),
    ]
    # calls of names whose import failed are not reported again
    _checked, more = check_program(program)
    assert [d.code for d in more if d.is_error] == []


def test_import_cycle(tmp_path: Path) -> None:
    write(tmp_path / "b.flow", 'import a from "./a.flow"\n' + FLOW.format(name="b"))
    root = write(tmp_path / "a.flow", 'import b from "./b.flow"\n' + FLOW.format(name="a"))
    program, diags = load_program(str(root))
    assert [d.code for d in diags] == ["E0205"]
    d = diags[0]
    assert d.span.file == str(tmp_path / "b.flow") and d.span.line == 1  # the closing import
    chain = d.message.removeprefix("import cycle: ").split(" → ")
    assert [Path(p).name for p in chain] == ["a.flow", "b.flow", "a.flow"]
    assert "b.flow:b" in program.units
    _checked, more = check_program(program)
    assert [x.code for x in more if x.is_error] == []  # the cycle is reported once


def test_duplicate_import_name(tmp_path: Path) -> None:
    root = write(tmp_path / "m.flow",
                 'import bugfix from "std"\nimport bugfix from "std"\nflow m() {\n'
                 '  step s: shell "x"\n}\n')
    _program, diags = load_program(str(root))
    assert [(d.code, d.message) for d in diags] == [("E0202", "`bugfix` is imported twice")]


def test_text_override_and_unreadable_root(tmp_path: Path) -> None:
    program, diags = load_program(str(tmp_path / "virtual.flow"), FLOW.format(name="v"))
    assert diags == [] and program.root_flows == ["v"]
    with pytest.raises(ChatflowError) as exc:
        load_program(str(tmp_path / "absent.flow"))
    assert exit_code_for(exc.value) == 2
