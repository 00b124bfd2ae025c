"""Put an action-kind plugin on the path without pip: a `*.dist-info`
directory (METADATA + entry_points.txt) in a temporary directory is a
distribution to `importlib.metadata`, and the plugin's source directory
provides its modules. Used in-process (`sys.path`) and for subprocesses
(`PYTHONPATH`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HTTP_SRC = ROOT / "examples" / "plugins" / "chatflow-http" / "src"


def make_dist(where: Path, name: str = "chatflow-http", version: str = "0.1.0",
              entry_points: str = "http = chatflow_http:HTTP") -> Path:
    """A distribution `name`==`version` registering `entry_points` in the
    `chatflow.actions` group; returns the directory to put on the path."""
    dist = where / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[chatflow.actions]\n{entry_points}\n",
                                           encoding="utf-8")
    return where


def subprocess_env(*paths: Path) -> dict[str, str]:
    """The environment for a `chatflow` subprocess that sees `paths` (and no
    proxy for the local test server)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    env["NO_PROXY"] = "*"
    env["no_proxy"] = "*"
    return env


@contextmanager
def on_path(*paths: Path) -> Iterator[None]:
    """`paths` on `sys.path` (and the registry's scan forgotten) for the block."""
    from chatflow.plugins import reset_cache

    added = [str(p) for p in paths]
    sys.path[:0] = added
    reset_cache()
    try:
        yield
    finally:
        for p in added:
            sys.path.remove(p)
        for mod in [m for m in sys.modules if m == "chatflow_http" or
                    m.startswith("chatflow_http.")]:
            del sys.modules[mod]
        reset_cache()
