"""Which files `chatflow lint PATH...` checks (`find_sources`).

- A file named on the command line is always checked, whatever its name.
- A directory is searched recursively for `.flow` files and for the YAML
  files (`.yaml`, `.yml`) that are ChatFlow's: named `*.flow.yaml` /
  `*.flow.yml`, or whose top-level mapping has a `flow:` or `flows:` key
  (`chatflow.dsl.frontend.is_flow_yaml`). Other YAML — CI workflows, compose
  files, `.chatflow/config.yaml` — is left alone.
- The search does not enter hidden directories (`.git`, `.venv`, `.github`,
  `.chatflow`, ...), `node_modules`, `__pycache__` or virtual environments
  (any directory holding `pyvenv.cfg` or `conda-meta/`, whatever its name),
  and, inside a git work tree, skips what git ignores (`.gitignore` files,
  `.git/info/exclude`, the user's excludes file). Git is asked once per
  directory named, by one `git ls-files` process; without git (or outside a
  work tree) only the fixed rules apply. A directory named explicitly is
  searched even if it is hidden or ignored itself.
"""

from __future__ import annotations

import os

from chatflow.diagnostics import UsageError
from chatflow.dsl.frontend import is_flow_yaml, is_yaml

__all__ = ["FLOW_YAML_SUFFIXES", "SKIPPED_DIRS", "find_sources", "git_ignored", "is_source"]

EXIT_USAGE = 2
FLOW_SUFFIX = ".flow"
FLOW_YAML_SUFFIXES = (".flow.yaml", ".flow.yml")
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__"})
VENV_MARKERS = ("pyvenv.cfg", "conda-meta")
GIT_TIMEOUT_S = 60.0


def find_sources(paths: list[str]) -> list[str]:
    """Every file named, and every ChatFlow source under each directory named
    (each directory's files sorted); duplicates dropped; a missing path is a
    usage error."""
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise UsageError(
            "no such file or directory: " + ", ".join(f"`{p}`" for p in missing))
    out: list[str] = []
    for p in paths:
        out.extend(_walk(p) if os.path.isdir(p) else [p])
    return list(dict.fromkeys(out))


def _walk(top: str) -> list[str]:
    ignored = git_ignored(top) or frozenset()
    found: list[str] = []
    for root, dirs, files in os.walk(top):
        rel_root = os.path.relpath(root, top)
        dirs[:] = [d for d in dirs
                   if not _skipped_dir(os.path.join(root, d))
                   and _rel(rel_root, d) not in ignored]
        for name in files:
            path = os.path.join(root, name)
            if _rel(rel_root, name) not in ignored and is_source(path):
                found.append(path[2:] if path.startswith("./") else path)
    return sorted(found)


def _rel(rel_root: str, name: str) -> str:
    return name if rel_root == "." else f"{rel_root}/{name}".replace(os.sep, "/")


def _skipped_dir(path: str) -> bool:
    name = os.path.basename(path)
    if name.startswith(".") or name in SKIPPED_DIRS:
        return True
    return any(os.path.exists(os.path.join(path, marker)) for marker in VENV_MARKERS)


def is_source(path: str) -> bool:
    """Whether a directory walk takes the file: `.flow`, `*.flow.yaml` /
    `*.flow.yml`, or YAML whose top-level mapping has `flow:` or `flows:`."""
    lower = path.lower()
    if lower.endswith(FLOW_SUFFIX) or lower.endswith(FLOW_YAML_SUFFIXES):
        return True
    if not is_yaml(path):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return False  # not readable text: not a flow (naming it explicitly reports why)
    return is_flow_yaml(text)


def git_ignored(top: str) -> frozenset[str] | None:
    """Paths under directory `top` that git ignores, relative to `top` with
    `/` separators (a wholly ignored directory is one entry); None when git
    is missing, `top` is not in a work tree, or git fails. Tracked files are
    never ignored. `core.fsmonitor` is switched off: a repository's own config
    must not make a lint run a program."""
    import subprocess  # only for directory walks

    try:
        proc = subprocess.run(
            ["git", "-c", "core.fsmonitor=false", "-C", top, "ls-files", "-z", "--others",
             "--ignored", "--exclude-standard", "--directory", "--", "."],
            capture_output=True, timeout=GIT_TIMEOUT_S, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    names = {os.fsdecode(n).rstrip("/") for n in proc.stdout.split(b"\0") if n}
    if "." in names:  # `top` itself is ignored: it was named, so search it all
        return frozenset()
    return frozenset(names)
