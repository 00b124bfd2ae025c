"""The action-kind conformance suite, for ChatFlow's own kinds and for a
third-party plugin's (docs/plugins.md, "Testing your plugin").

Subclass `ActionConformance` in your tests, name the kind (its entry-point
name, or the `ActionKind` itself) and give a few sample values; pytest
collects the subclass (its name must start with `Test`) and runs every
`test_*` scenario on it:

    from chatflow.testing.action_conformance import ActionConformance, Sample

    class TestHttpKind(ActionConformance):
        kind = "http"

        def start_service(self, tmp: Path) -> None:
            self.server = start_local_server()       # what the kind talks to

        def stop_service(self) -> None:
            self.server.shutdown()

        def samples(self) -> list[Sample]:
            return [Sample(f"{self.server.url}/ok", {"method": "GET"})]

        def slow_sample(self) -> Sample | None:      # for the cancel scenario
            return Sample(f"{self.server.url}/slow")

The scenarios call the kind's implementation the way the engine does
(`runtime/actions/plugin_steps.py`: the same wrappers around `render`,
`run`, `describe` and `cancel`), with a fresh `ActionContext` in this
scenario's own temporary directory. They check that the spec is well formed
(the registry's own rules, plus an `ok: bool` field), that `render` returns
a JSON-serialisable mapping, that `describe` returns one line without the
sample's `secrets`, that `run` returns fields of the declared types (and the
`ok` the sample expects), that a running step stops within
`cancel_within_s` of being cancelled, and that whatever the implementation
raises becomes the step's error, a message and no traceback.

No pytest at import time: the scenarios use plain asserts, run under pytest
(setup_method / teardown_method); a scenario whose hook (`refused_sample`,
`slow_sample`) the subclass does not override is left out, never skipped.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from chatflow.plugins import GENERIC_OPTIONS, ActionKind, find_kind, spec_problem
from chatflow.runtime.actions.base import ActionContext, ActionResult
from chatflow.runtime.actions.kinds import ActionRuntime, runtime_for
from chatflow.runtime.actions.plugin_steps import describe_with, render_with, run_with
from chatflow.runtime.evaluator import EvalError
from chatflow.runtime.values import check_type, mismatch

__all__ = ["ActionConformance", "Sample"]


@dataclass(frozen=True)
class Sample:
    """Values of one step of the kind, as the engine hands them to `render`:
    the target rendered to text (None for a kind without one) and each
    option's JSON value. `ok` is what `run` should report (None: either);
    `secrets` are texts (a token in a header...) `describe` must not show —
    ChatFlow has no secret marking on options, so the test says which."""

    target: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    ok: bool | None = True
    secrets: tuple[str, ...] = ()
    timeout_s: float | None = 30.0


class ActionConformance:
    """The action-kind contract as scenarios; subclass it per kind."""

    kind: ClassVar[ActionKind | str]
    """The kind under test: its name (looked up in the registry, so install
    the plugin first) or the `ActionKind` itself."""

    cancel_within_s: ClassVar[float] = 5.0
    """How soon after `ctx.cancel` is set a running step must have returned."""

    tmp: Path
    spec: ActionKind
    impl: ActionRuntime

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a kind that refuses no value, or has no slow step to cancel, has no
        # such scenario (rather than one that is skipped every time)
        for hook, scenario in (("refused_sample", "test_a_refused_value_is_a_step_error"),
                               ("slow_sample", "test_cancel_stops_a_running_step")):
            if getattr(cls, hook) is getattr(ActionConformance, hook):
                setattr(cls, scenario, None)

    # ------------------------------------------------------------------ hooks

    def samples(self) -> Sequence[Sample]:
        """Values `render`, `describe` and `run` get (at least one)."""
        raise NotImplementedError("an ActionConformance subclass gives samples()")

    def slow_sample(self) -> Sample | None:
        """Values whose `run` takes longer than `cancel_within_s` (a sleeping
        command, a slow endpoint); None skips the cancel scenario."""
        return None

    def refused_sample(self) -> Sample | None:
        """Values `render` refuses (raises on). A kind that does not override
        this has no "refused value" scenario at all."""
        return None

    def start_service(self, tmp: Path) -> None:
        """Start what the kind talks to (a local server...) for one scenario."""

    def stop_service(self) -> None:
        """Stop what `start_service` started."""

    def context(self, step: str = "s") -> ActionContext:
        """The `ActionContext` a scenario runs the kind with."""
        return ActionContext(instance_id="conformance-1", step=step, attempt=1,
                             workdir=self.tmp, task_dir=self.tmp / "tasks" / step)

    # ------------------------------------------------------------------ plumbing

    def setup_method(self, method: Any = None) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="cf-action-conformance-"))
        try:
            self.spec = self._spec()
            self.start_service(self.tmp)
        except BaseException:  # a skip too: no teardown follows a failed set-up
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def teardown_method(self, method: Any = None) -> None:
        try:
            self.stop_service()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _spec(self) -> ActionKind:
        kind = type(self).kind
        if isinstance(kind, ActionKind):
            return kind
        found = find_kind(kind)
        assert found is not None, f"the action kind `{kind}` is not installed"
        return found

    def runtime(self) -> ActionRuntime:
        """The kind's implementation, loaded as the engine loads it."""
        assert self.spec.runtime is not None, \
            f"`{self.spec.name}` has no run-time implementation (the engine carries it out)"
        return runtime_for(self.spec)

    def render(self, sample: Sample) -> dict[str, Any]:
        self._check_sample(sample)
        return render_with(self.runtime(), sample.target, dict(sample.options))

    def run(self, sample: Sample, step: str = "s") -> tuple[ActionResult, float]:
        """Render and run `sample` as the engine does; the result and its wall time."""
        rendered = self.render(sample)
        ctx = self.context(step)
        ctx.timeout_s = sample.timeout_s
        start = time.monotonic()
        res = run_with(self.runtime(), self.spec.name, rendered, ctx)
        return res, time.monotonic() - start

    def _check_sample(self, sample: Sample) -> None:
        """The sample itself fits the spec (else the scenario tests nothing)."""
        assert (sample.target is None) == (self.spec.target is None), \
            f"a sample of `{self.spec.name}` has a target iff the kind takes one"
        for name, value in sample.options.items():
            assert name in self.spec.options, \
                f"the sample's option `{name}` is not an option of `{self.spec.name}`"
            assert check_type(value, self.spec.options[name].type), \
                f"the sample's option `{name}`: {mismatch(value, self.spec.options[name].type)}"

    def check_fields(self, res: ActionResult) -> None:
        """`res` is an `ActionResult` whose fields are the declared ones, typed."""
        assert isinstance(res, ActionResult), f"run returned {type(res).__name__}"
        assert isinstance(res.ok, bool)
        assert res.error is None or isinstance(res.error, str)
        for name, value in res.fields.items():
            assert name in self.spec.fields, \
                f"run returned the field `{name}`, which `{self.spec.name}` does not declare"
            assert check_type(value, self.spec.fields[name]), \
                f"field `{name}`: {mismatch(value, self.spec.fields[name])}"
        assert res.fields.get("ok", res.ok) == res.ok, "the `ok` field differs from ok"
        if not res.ok:
            assert res.error, "a failed result says why (error)"
            assert "Traceback" not in res.error

    # ------------------------------------------------------------------ scenarios

    def test_spec_is_well_formed(self) -> None:
        spec = self.spec
        assert isinstance(spec.name, str) and spec.name
        problem = spec_problem(spec.name, spec)
        assert problem is None, problem
        assert spec.fields.get("ok") == "bool", "a kind's fields include `ok: bool`"
        assert spec.doc.strip(), "the kind has a doc line"
        assert not set(spec.options) & set(GENERIC_OPTIONS)

    def test_runtime_has_the_contract(self) -> None:
        impl = self.runtime()
        for method in ("render", "run", "describe", "cancel"):
            assert callable(getattr(impl, method, None)), f"the runtime has no `{method}`"

    def test_render_returns_json_data(self) -> None:
        assert self.samples(), "give at least one sample"
        for sample in self.samples():
            rendered = self.render(sample)
            assert isinstance(rendered, dict)
            json.dumps(rendered)  # goes into a worker request / the state as JSON

    def test_render_is_repeatable(self) -> None:
        for sample in self.samples():
            assert self.render(sample) == self.render(sample), \
                "render of the same values gives the same mapping (a dry run, then the run)"

    def test_describe_is_one_line_without_secrets(self) -> None:
        for sample in self.samples():
            text = describe_with(self.runtime(), self.render(sample))
            assert isinstance(text, str)
            assert "\n" not in text and "\r" not in text, f"describe gave lines: {text!r}"
            for secret in sample.secrets:
                assert secret not in text, f"describe shows a secret: {text!r}"

    def test_run_returns_the_declared_fields(self) -> None:
        for i, sample in enumerate(self.samples()):
            res, _ = self.run(sample, step=f"s{i}")
            self.check_fields(res)
            if sample.ok is not None:
                assert res.ok is sample.ok, f"{sample}: ok={res.ok}, error={res.error!r}"

    def test_cancel_stops_a_running_step(self) -> None:
        sample = self.slow_sample()
        assert sample is not None, f"{type(self).__name__}.slow_sample gave no values"
        rendered = self.render(sample)
        ctx = self.context("slow")
        ctx.timeout_s = sample.timeout_s
        out: list[ActionResult] = []
        runner = threading.Thread(
            target=lambda: out.append(run_with(self.runtime(), self.spec.name, rendered, ctx)),
            daemon=True)
        runner.start()
        time.sleep(0.3)
        assert runner.is_alive(), "the slow sample finished before it was cancelled"
        cancelled_at = time.monotonic()
        ctx.cancel.set()
        runner.join(self.cancel_within_s)
        took = time.monotonic() - cancelled_at
        assert not runner.is_alive(), f"still running {self.cancel_within_s}s after cancel"
        assert took <= self.cancel_within_s
        res = out[0]
        self.check_fields(res)
        assert not res.ok, "a cancelled step does not succeed"
        assert res.cancelled, "a cancelled step's result says so (cancelled=True)"

    def test_a_refused_value_is_a_step_error(self) -> None:
        sample = self.refused_sample()
        assert sample is not None, f"{type(self).__name__}.refused_sample gave no values"
        try:
            self.render(sample)
        except EvalError as exc:
            assert str(exc) and "Traceback" not in str(exc)
        else:
            raise AssertionError(f"render accepted {sample}")

    def test_an_exception_in_run_is_a_step_error(self) -> None:
        # values `render` never returns: whatever `run` does with them (raise,
        # fail), the engine gets a failed result with a message
        res = run_with(self.runtime(), self.spec.name, {}, self.context("broken"))
        assert isinstance(res, ActionResult)
        assert not res.ok and res.error
        assert "Traceback" not in res.error and "\n  File " not in res.error
