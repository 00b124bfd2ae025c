"""Shared pytest options and the safety net every test runs under."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens", action="store_true", default=False,
        help="rewrite golden files (tests/golden/...) from the current output instead of "
             "comparing against them",
    )


@pytest.fixture(autouse=True)
def _throwaway_home(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test (and every process it starts) sees a temporary HOME.

    Several tests feed hostile values to real shell steps. They are canaries
    only (`$(touch "$CANARY/pwned")`, never anything destructive); this makes
    sure even a canary that ran can only touch a temporary directory."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    yield home


@pytest.fixture()
def ir_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the IR shape checks `load_ir` runs (one per validated document)."""
    from chatflow.compiler import ir as ir_module

    seen: list[int] = []
    real = ir_module.check_document

    def counting(doc: dict[str, Any]) -> Any:
        seen.append(1)
        return real(doc)

    monkeypatch.setattr(ir_module, "check_document", counting)
    return seen
