"""Golden tests of the whole front end and checker.

* every `ok/*.flow|yaml|yml` lints with zero diagnostics (not even warnings);
* every `err/X.flow|yaml|yml` renders (text, no colour) exactly as `err/X.out`;
* every file `err/<CODE>_*.…` produces its code, and every code the project
  registers has at least one such file.

Run `pytest tests/golden --update-goldens` to rewrite the `.out` files from the
current output (then review the diff; `tests/golden/make_docs.py` regenerates
docs/diagnostics.md from them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_docs import (  # noqa: E402  (the helper lives next to this file)
    NO_EXAMPLE,
    SOURCE_SUFFIXES,
    code_of,
    err_sources,
    registered_codes,
    render_golden,
)

OK_DIR = HERE / "ok"
ERR_DIR = HERE / "err"


def _ok_sources() -> list[Path]:
    return sorted(p for p in OK_DIR.iterdir() if p.suffix in SOURCE_SUFFIXES)


@pytest.mark.parametrize("path", _ok_sources(), ids=lambda p: p.name)
def test_ok_file_has_no_diagnostics(path: Path) -> None:
    text, codes = render_golden(path)
    assert codes == [], f"{path.name} should be clean, got:\n{text}"


@pytest.mark.parametrize("path", err_sources(), ids=lambda p: p.name)
def test_err_file_renders_exactly(path: Path, request: pytest.FixtureRequest) -> None:
    text, codes = render_golden(path)
    expected_file = path.with_suffix(".out")
    if request.config.getoption("--update-goldens"):
        expected_file.write_text(text, encoding="utf-8")
    assert expected_file.exists(), f"missing {expected_file.name}; run with --update-goldens"
    assert "Traceback" not in text
    assert text == expected_file.read_text(encoding="utf-8")
    code = code_of(path)
    if code is not None:
        assert code in codes, f"{path.name} is meant to show {code}, got {codes}"


def test_there_are_goldens() -> None:
    assert _ok_sources(), "tests/golden/ok is empty"
    assert err_sources(), "tests/golden/err is empty"


def test_every_registered_code_has_a_golden() -> None:
    covered = {code_of(p) for p in err_sources()}
    missing = sorted(set(registered_codes()) - covered - set(NO_EXAMPLE))
    assert not missing, (
        "codes without a failing example in tests/golden/err/<CODE>_*.flow: "
        + ", ".join(missing)
    )


def test_every_golden_code_is_registered() -> None:
    known = set(registered_codes())
    assert known, "no diagnostic code is registered"
    stray = sorted({c for p in err_sources() if (c := code_of(p)) and c not in known})
    assert not stray, "goldens for codes nobody registers: " + ", ".join(stray)
