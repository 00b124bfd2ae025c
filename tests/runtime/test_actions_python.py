"""The `python` action: a user function called in a child process with the
`with` map as keyword arguments."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from chatflow.runtime.actions import ActionContext, run_python

MODULE = '''
import os, sys, time

def add(a, b):
    print("adding", a, b)
    return {"sum": a + b, "step": os.environ["CHATFLOW_STEP"]}

def boom(reason):
    raise ValueError(reason)

def not_json():
    return {1, 2}

def nan():
    return float("nan")

def nothing():
    return None

def sleepy():
    time.sleep(30)

def quits():
    sys.exit(4)

def dies():
    os._exit(9)

class Tools:
    @staticmethod
    def upper(s):
        return s.upper()
'''


def make_ctx(tmp_path: Path, step: str = "py", timeout_s: float | None = None) -> ActionContext:
    (tmp_path / "userlib.py").write_text(textwrap.dedent(MODULE))
    return ActionContext(instance_id="i", step=step, attempt=1, workdir=tmp_path,
                         task_dir=tmp_path / "tasks" / step, timeout_s=timeout_s)


def test_calls_the_function_with_kwargs(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    result = run_python("userlib:add", {"a": 2, "b": 3}, ctx)
    assert result.ok, result.error
    assert result.fields == {"ok": True, "value": {"sum": 5, "step": "py"}}
    assert result.cpu_s > 0
    assert (ctx.task_dir / "stdout").read_text() == "adding 2 3\n"
    assert not (ctx.task_dir / ".python-result.json").exists()


def test_none_is_a_fine_value(tmp_path: Path) -> None:
    result = run_python("userlib:nothing", {}, make_ctx(tmp_path))
    assert result.ok and result.fields == {"ok": True, "value": None}


def test_dotted_attribute_target(tmp_path: Path) -> None:
    result = run_python("userlib:Tools.upper", {"s": "ab"}, make_ctx(tmp_path))
    assert result.fields["value"] == "AB"


def test_exception_gives_its_message_and_keeps_the_traceback(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    result = run_python("userlib:boom", {"reason": "bad input"}, ctx)
    assert not result.ok
    assert result.error == "ValueError: bad input"
    assert result.fields == {"ok": False, "value": None}
    stderr = (ctx.task_dir / "stderr").read_text()
    assert "Traceback" in stderr and 'raise ValueError(reason)' in stderr


def test_wrong_kwargs_is_an_error(tmp_path: Path) -> None:
    result = run_python("userlib:boom", {"nope": 1}, make_ctx(tmp_path))
    assert not result.ok and result.error is not None and "TypeError" in result.error


def test_non_json_value_is_an_error(tmp_path: Path) -> None:
    result = run_python("userlib:not_json", {}, make_ctx(tmp_path))
    assert not result.ok
    assert result.error is not None and "not JSON" in result.error and "set" in result.error
    result = run_python("userlib:nan", {}, make_ctx(tmp_path))
    assert not result.ok and result.error is not None and "not JSON" in result.error


def test_non_json_arguments_are_an_error(tmp_path: Path) -> None:
    result = run_python("userlib:add", {"a": object()}, make_ctx(tmp_path))
    assert not result.ok and result.error is not None and "not JSON" in result.error


def test_bad_targets(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    missing = run_python("no_such_module_xyz:f", {}, ctx)
    assert missing.error == (
        "cannot import `no_such_module_xyz`: No module named 'no_such_module_xyz'")
    assert run_python("userlib:nope", {}, ctx).error == "`userlib` has no `nope`"
    shape = run_python("userlib", {}, ctx).error
    assert shape is not None and "pkg.module:function" in shape


def test_user_module_is_not_shadowed_by_chatflow_modules(tmp_path: Path) -> None:
    # `shell.py` and `process.py` sit next to the runner script; the user's win.
    ctx = make_ctx(tmp_path)
    (tmp_path / "shell.py").write_text("def f():\n    return 'mine'\n")
    assert run_python("shell:f", {}, ctx).fields["value"] == "mine"


def test_module_edits_are_seen_on_the_next_run(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    mod = tmp_path / "fresh.py"
    mod.write_text("def f():\n    return 1\n")
    assert run_python("fresh:f", {}, ctx).fields["value"] == 1
    mod.write_text("def f():\n    return 22\n")  # new size: .pyc checks size+mtime
    assert run_python("fresh:f", {}, ctx).fields["value"] == 22


def test_sys_exit_and_hard_exit(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    assert run_python("userlib:quits", {}, ctx).error == "`userlib:quits` called sys.exit(4)"
    died = run_python("userlib:dies", {}, ctx)
    assert not died.ok and died.error == "`userlib:dies` ended (exit code 9) without a result"


def test_timeout_kills_the_function(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_python("userlib:sleepy", {}, make_ctx(tmp_path, timeout_s=0.5))
    assert result.timed_out and not result.ok
    assert time.monotonic() - started < 5
