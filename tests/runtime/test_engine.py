"""Engine unit tests: the ready-set scheduler, input parsing, the dry-run
planner, and the per-step cost (one commit per durable step, no growth with
history)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from engine_support import (
    approve,
    chain,
    fail,
    lit,
    make_ir,
    node,
    op,
    ref,
    set_,
    shell,
)

from chatflow.diagnostics import ChatflowError, UsageError
from chatflow.runtime.dry_run import plan_flow, render_plan
from chatflow.runtime.engine import Engine
from chatflow.runtime.records import (
    FAILED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
)
from chatflow.runtime.scheduler import FlowGraph, Schedule
from chatflow.runtime.store import open_store

# ---------------------------------------------------------------------------- scheduler


def _graph() -> FlowGraph:
    ir = make_ir(chain([
        node("a", shell("a")),
        node("g", kind="parallel", members=["u", "l"]),
        node("u", shell("u"), parent="g"),
        node("l", shell("l"), parent="g"),
        node("z", shell("z")),
    ]))
    return FlowGraph.from_ir(ir["flows"]["main"])


def test_ready_set_follows_deps_and_groups() -> None:
    s = Schedule(_graph(), {})
    assert s.eligible() == ["a"]
    s.finish("a", SUCCEEDED)
    assert s.eligible() == ["g"]  # members wait for their group to run
    s.start_group("g")
    assert s.eligible() == ["u", "l"]
    s.finish("u", SUCCEEDED)
    s.finish("l", FAILED)
    assert s.pop_group_done() == "g"
    assert s.member_failed("g")
    s.finish("g", FAILED)
    assert s.eligible() == ["z"]
    assert s.blocking_dep("z") is None  # a group absorbs its members' failures
    s.finish("z", SUCCEEDED)
    assert s.done and s.progress() == 1.0


def test_skipped_group_takes_its_members() -> None:
    s = Schedule(_graph(), {"a": SUCCEEDED})
    assert s.next_eligible() == "g"
    changed = s.finish("g", SKIPPED)
    assert changed == ["u", "l"]
    assert s.status["u"] == SKIPPED
    assert s.next_eligible() == "z" and s.blocking_dep("z") is None


def test_schedule_rebuilds_from_stored_statuses() -> None:
    s = Schedule(_graph(), {"a": SUCCEEDED, "g": RUNNING, "u": SUCCEEDED})
    assert s.eligible() == ["l"]
    assert s.progress() == pytest.approx(2 / 4)


def test_repeat_reset_puts_body_back() -> None:
    ir = make_ir(chain([
        node("r", kind="repeat", members=["x", "y"], mx=3, until=lit(True)),
        node("x", set_("v", lit(1)), parent="r"),
        node("y", set_("v", lit(2)), parent="r", deps=["x"]),
        node("after", shell("a")),
    ]))
    s = Schedule(FlowGraph.from_ir(ir["flows"]["main"]), {})
    s.start_group("r")
    s.finish("x", SUCCEEDED)
    s.finish("y", SUCCEEDED)
    assert s.pop_group_done() == "r"
    s.reset_iteration("r")
    assert s.eligible() == ["x"]
    assert s.status["y"] == "pending"


# ------------------------------------------------------------------ engine on a file store


def _engine(tmp: Path) -> Engine:
    return Engine(open_store(f"file:{tmp / '.chatflow'}"), workdir=str(tmp))


def test_set_steps_cost_one_commit_each(tmp_path: Path, monkeypatch: Any) -> None:
    n = 50
    ir = make_ir(chain([node(f"s{i}", set_("v", op("+", {"var": "v"}, lit(1))))
                        for i in range(n)]),
                 vars=[{"name": "v", "type": "int", "value": lit(0)}],
                 outputs=[{"name": "v", "type": "int", "value": {"var": "v"}}])
    eng = _engine(tmp_path)
    iid = eng.start(ir).instance_id
    commits = []
    orig = eng.store.commit
    monkeypatch.setattr(eng.store, "commit", lambda *a, **k: commits.append(1) or orig(*a, **k))
    eng.drive(iid)
    assert eng.status_info(iid).outputs == {"v": n}
    # each step is durable on its own: one commit per step, + the final settle
    assert n <= len(commits) <= n + 2


def test_engine_does_not_reload_state_it_wrote(tmp_path: Path, monkeypatch: Any) -> None:
    ir = make_ir(chain([node(f"s{i}", set_("v", lit(i))) for i in range(20)]),
                 vars=[{"name": "v", "type": "int", "value": lit(0)}])
    eng = _engine(tmp_path)
    iid = eng.start(ir).instance_id
    loads = []
    orig = eng.store.load_state
    monkeypatch.setattr(eng.store, "load_state", lambda i: loads.append(i) or orig(i))
    eng.drive(iid)
    assert len(loads) == 1  # the first load; afterwards the cached view is current


def test_fail_step_with_continue_on_error_does_not_stop(tmp_path: Path) -> None:
    ir = make_ir(chain([node("f", fail("boom"), continue_on_error=True),
                        node("g", set_("v", lit(1)))]),
                 vars=[{"name": "v", "type": "int", "value": lit(0)}])
    eng = _engine(tmp_path)
    iid = eng.start(ir).instance_id
    eng.drive(iid)
    info = eng.status_info(iid)
    assert info.status == "succeeded" and info.steps["f"].status == "failed"


def test_approving_a_step_that_does_not_wait_is_an_error(tmp_path: Path) -> None:
    ir = make_ir(chain([node("r", approve("ok?"))]))
    eng = _engine(tmp_path)
    iid = eng.start(ir, automation=50).instance_id
    with pytest.raises(ChatflowError):
        eng.decide(iid, "r", approved=True, by="x")  # not driven yet: still pending
    eng.drive(iid)
    with pytest.raises(ChatflowError):
        eng.decide(iid, "nope", approved=True, by="x")
    eng.decide(iid, "r", approved=True, by="x")
    eng.drive(iid)
    assert eng.status_info(iid).status == "succeeded"


def test_when_error_names_step_and_line(tmp_path: Path) -> None:
    n = node("a", shell("true"), when=op("<", lit("x"), lit(1)))
    n["span"] = {"line": 7, "column": 3, "end_line": 7, "end_column": 9}
    eng = _engine(tmp_path)
    iid = eng.start(make_ir([n])).instance_id
    eng.drive(iid)
    info = eng.status_info(iid)
    assert info.status == "failed"
    assert "step `a`" in (info.steps["a"].error or "") and "7" in (info.steps["a"].error or "")


# ---------------------------------------------------------------------------- dry run


def test_plan_shows_order_commands_pauses_and_skips() -> None:
    ir = make_ir(chain([
        node("a", shell({"op": "fmt", "args": [lit("echo "), {"param": "who"}]})),
        node("b", shell("risky"), risk=80),
        node("c", shell("never"), when={"param": "flag"}),
        node("d", shell("later"), when=ref("a", "ok")),
        node("r", approve("merge?")),
    ]), params=[{"name": "who", "type": "str"}, {"name": "flag", "type": "bool"}])
    plan = plan_flow(ir, {"who": "a b", "flag": False}, automation=60)
    by = {p["step"]: p for p in plan}
    assert [p["step"] for p in plan] == ["a", "b", "c", "d", "r"]
    assert by["a"]["command"] == 'echo "${cf_who}"' and by["a"]["decision"] == "run"
    assert by["a"]["bindings"] == {"cf_who": "a b"}
    assert by["b"]["decision"] == "pause"
    assert by["c"]["decision"] == "skipped"
    assert "decided at run time" in by["d"]["when"]
    assert by["r"]["decision"] == "pause"
    assert 'echo "${cf_who}"\n      cf_who = "a b"\n' in render_plan(plan)
    at100 = plan_flow(ir, {"who": "x", "flag": True}, automation=100)
    assert all(p["decision"] == "run" for p in at100)


# ---------------------------------------------------------------------------- inputs


def test_parse_input_values() -> None:
    from chatflow.runtime.inputs import parse_input_value as p

    assert p("a", "x y", "str") == "x y"
    assert p("a", "1_000", "int") == 1000
    assert p("a", "2.5", "float") == 2.5
    assert p("a", "true", "bool") is True
    assert p("a", "10m", "duration") == 600_000
    assert p("a", '{"k": [1]}', "json") == {"k": [1]}
    assert p("a", '{"k": 1}', "map[int]") == {"k": 1}
    assert p("a", "null", "int?") is None
    for raw, t in (("x", "int"), ("maybe", "bool"), ("[1, \"a\"]", "list[int]"), ("{", "json")):
        with pytest.raises(ChatflowError) as e:
            p("a", raw, t)
        assert isinstance(e.value, UsageError)
