"""The end-to-end tests run the installed `chatflow` in subprocesses, so they
are all marked `slow` (left out of the fast loop, `pytest -m "not slow"`),
except the modules below, which drive the CLI in this process."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
IN_PROCESS = frozenset({"test_cli_in_process.py", "test_cli_help.py"})


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path)).resolve()
        if path.parent == HERE and path.name not in IN_PROCESS:
            item.add_marker(pytest.mark.slow)
