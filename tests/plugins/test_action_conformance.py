"""ChatFlow's own kinds that run through the registry (`shell`, `python`,
`agent` with a fake agent) pass the action-kind conformance suite that
plugins run (`chatflow.testing.action_conformance`); the suite itself
catches a kind that breaks the contract."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from chatflow.plugins import ActionKind, Option
from chatflow.runtime.actions.agent import (
    AgentError,
    AgentRequest,
    AgentResponse,
    register_agent,
    unregister_agent,
)
from chatflow.runtime.actions.base import ActionContext, ActionResult
from chatflow.runtime.actions.kinds import ActionRuntime
from chatflow.testing.action_conformance import ActionConformance, Sample


class TestShellKind(ActionConformance):
    kind = "shell"

    def samples(self) -> Sequence[Sample]:
        return [Sample("printf hi"), Sample("exit 3", ok=False)]

    def slow_sample(self) -> Sample | None:
        return Sample("sleep 30")


class TestPythonKind(ActionConformance):
    kind = "python"

    def start_service(self, tmp: Path) -> None:
        (tmp / "cf_conformance_mod.py").write_text(
            "import time\n"
            "def add(a, b):\n    return a + b\n"
            "def nap():\n    time.sleep(30)\n", encoding="utf-8")

    def samples(self) -> Sequence[Sample]:
        return [Sample("cf_conformance_mod:add", {"with": {"a": 1, "b": 2}}),
                Sample("cf_conformance_mod:missing", ok=False)]

    def slow_sample(self) -> Sample | None:
        return Sample("cf_conformance_mod:nap")


class _FakeAgent:
    def run(self, request: AgentRequest, ctx: ActionContext) -> AgentResponse:
        if request.prompt == "nap" and ctx.cancel.wait(30):
            raise AgentError("cancelled", cancelled=True)
        if request.prompt == "fail":
            raise AgentError("the fake agent refuses")
        return AgentResponse(text=f"echo: {request.prompt}", tokens=3)


class TestAgentKind(ActionConformance):
    kind = "agent"

    def start_service(self, tmp: Path) -> None:
        register_agent("cf-conformance-fake", _FakeAgent)

    def stop_service(self) -> None:
        unregister_agent("cf-conformance-fake")

    def samples(self) -> Sequence[Sample]:
        return [Sample("cf-conformance-fake", {"prompt": "hello", "with": {"k": [1]}}),
                Sample("cf-conformance-fake", {"prompt": "fail"}, ok=False),
                Sample("no-such-agent", {"prompt": "x"}, ok=False)]

    def slow_sample(self) -> Sample | None:
        return Sample("cf-conformance-fake", {"prompt": "nap"})


# ---------------------------------------------------------------- the suite catches breakage

class _Broken(ActionRuntime):
    """Breaks the contract in every way a scenario looks for."""

    def render(self, target: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
        return {"target": target, "when": time.monotonic()}  # not repeatable

    def describe(self, rendered: Mapping[str, Any]) -> str:
        return f"token {rendered['target']}\nsecond line"

    def run(self, rendered: dict[str, Any], ctx: ActionContext) -> ActionResult:
        if rendered.get("target") == "slow":
            threading.Event().wait(3)  # ignores ctx.cancel
        return ActionResult(True, {"ok": True, "count": "three", "extra": 1})


BROKEN = _Broken()
BROKEN_KIND = ActionKind("broken", "breaks the contract", {"ok": "bool", "count": "int"},
                         {"level": Option("int")},
                         runtime="tests_action_conformance_broken:BROKEN")


class _BrokenCase(ActionConformance):
    kind = BROKEN_KIND
    cancel_within_s = 1.0

    def samples(self) -> Sequence[Sample]:
        return [Sample("s3cret", secrets=("s3cret",))]

    def slow_sample(self) -> Sample | None:
        return Sample("slow")

    def runtime(self) -> ActionRuntime:
        return BROKEN


@pytest.mark.parametrize("scenario", [
    "test_render_is_repeatable", "test_describe_is_one_line_without_secrets",
    "test_run_returns_the_declared_fields", "test_cancel_stops_a_running_step",
])
def test_the_suite_catches_a_broken_kind(scenario: str) -> None:
    case = _BrokenCase()
    case.setup_method()
    try:
        with pytest.raises(AssertionError):
            getattr(case, scenario)()
    finally:
        case.teardown_method()


def test_the_suite_catches_a_malformed_spec() -> None:
    class Case(_BrokenCase):
        kind = ActionKind("bad", "no ok field", {"count": "int"}, runtime="m:a")

    case = Case()
    case.setup_method()
    try:
        with pytest.raises(AssertionError, match="ok: bool"):
            case.test_spec_is_well_formed()
    finally:
        case.teardown_method()


def test_a_sample_must_fit_the_spec() -> None:
    class Case(_BrokenCase):
        def samples(self) -> Sequence[Sample]:
            return [Sample("x", {"level": "high"})]

    case = Case()
    case.setup_method()
    try:
        with pytest.raises(AssertionError, match="level"):
            case.test_render_returns_json_data()
    finally:
        case.teardown_method()
