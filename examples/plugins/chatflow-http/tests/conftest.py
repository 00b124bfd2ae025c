"""Run the plugin's tests from a checkout too: when the plugin is not
installed (`pip install ./examples/plugins/chatflow-http` installs it; then
`kind = "http"` in the tests finds its entry point), its package goes on the
path through a directory of its own — not `src/`, where a build's
`*.egg-info` would register the kind for every other test of the session."""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

if importlib.util.find_spec("chatflow_http") is None:
    _where = Path(tempfile.mkdtemp(prefix="chatflow-http-tests-"))
    (_where / "chatflow_http").symlink_to(Path(__file__).resolve().parents[1] / "src"
                                          / "chatflow_http")
    sys.path.insert(0, str(_where))
    atexit.register(shutil.rmtree, _where, True)
