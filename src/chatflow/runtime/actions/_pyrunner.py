"""Child-process side of the `python` action (run as a script, never imported).

Usage: python -P _pyrunner.py TARGET RESULT_PATH, keyword arguments as a JSON
object on stdin. Imports `pkg.module:function` with the working directory
first on sys.path, calls it, and writes {"ok": true, "value": ...} or
{"ok": false, "error": "..."} to RESULT_PATH. Tracebacks go to stderr.
Only the standard library is used, so starting it stays cheap.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from typing import Any


def _write(path: str, result: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, allow_nan=False)
    os.replace(tmp, path)


def _resolve(target: str) -> Any:
    module_name, sep, attr_path = target.partition(":")
    if not sep or not module_name or not attr_path:
        raise LookupError(f"target `{target}` must look like `pkg.module:function`")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        traceback.print_exc()
        raise LookupError(f"cannot import `{module_name}`: {exc}") from None
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise LookupError(f"`{module_name}` has no `{attr_path}`")
        obj = getattr(obj, part)
    if not callable(obj):
        raise LookupError(f"`{target}` is not callable")
    return obj


def main() -> int:
    target, result_path = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.getcwd())
    try:
        kwargs = json.loads(sys.stdin.read() or "{}")
        fn = _resolve(target)
    except LookupError as exc:
        _write(result_path, {"ok": False, "error": str(exc)})
        return 1
    except Exception as exc:
        traceback.print_exc()
        _write(result_path, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    try:
        value = fn(**kwargs)
    except SystemExit as exc:
        _write(result_path, {"ok": False, "error": f"`{target}` called sys.exit({exc.code!r})"})
        return 1
    except BaseException as exc:
        traceback.print_exc()
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _write(result_path, {"ok": False, "error": message})
        return 1
    try:
        _write(result_path, {"ok": True, "value": value})
    except (TypeError, ValueError, RecursionError) as exc:
        _write(result_path, {
            "ok": False,
            "error": f"`{target}` returned a value that is not JSON "
                     f"({type(value).__name__}): {exc}",
        })
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
