"""The public Python API of the runtime: `WorkflowEngine`.

    engine = WorkflowEngine.open("file:.chatflow")
    started = engine.start_workflow_instance("examples/feature.flow",
                                             inputs={"feature_id": "F-1"})
    engine.run_until_blocked(started.instance_id)

One engine per state root per process (`open` returns the same object for
the same resolved URL); every method is safe to call from several threads.
This is the only runtime module that compiles source paths (through
`chatflow.compiler.api`); the engine core works on IR dicts. Every view a
front end prints (status with quotas, the instance tree, the dry-run plan,
inputs read against the flow's params, the damage and repair policy) is a
method here returning a typed record: the CLI parses arguments and prints.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from chatflow.deep import methods_with_room
from chatflow.diagnostics import UsageError
from chatflow.runtime.damage import DamageCheck, RepairOutcome, check_damage, repair_instance
from chatflow.runtime.records import (
    WorkflowHistoryEvent,
    WorkflowInstanceState,
    WorkflowStartResult,
    WorkflowState,
    WorkflowStatusInfo,
)
from chatflow.runtime.views import (
    InstanceView,
    OutputTail,
    TreeNode,
    instance_tree,
    instance_view,
    latest_instance,
    step_output_tail,
)
from chatflow.runtime.waits import WaitPoint, driver_of, waiting_points

if TYPE_CHECKING:
    from chatflow.runtime.engine import Engine, EventSink


@dataclass(frozen=True, slots=True)
class CompiledFlow:
    """IR that this process's compiler produced from `source` (by
    `compile_flow`). Starting it does not validate it again: the compiler's
    output is valid IR by construction (a property the test suite checks).
    An IR dict from anywhere else (a file, a store, a caller) is validated."""

    ir: dict[str, Any]
    source: str


FlowRef = str | os.PathLike[str] | Mapping[str, Any] | CompiledFlow


@dataclass(frozen=True, slots=True)
class DryRunPlan:
    """What `chatflow run --dry-run` shows: the entry flow's name, the
    automation level in effect and one entry per node (`plan_flow`)."""

    flow: str
    automation: int | None
    plan: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"flow": self.flow, "automation": self.automation, "plan": self.plan}


def normalize_state_url(url: str, cwd: Path | None = None) -> str:
    """`file:.chatflow` → `file:/abs/.chatflow`, `sqlite:///x.db` likewise
    (each scheme's own rule, from the store registry); others unchanged."""
    from chatflow.runtime.store.registry import normalize_url

    return normalize_url(url, cwd or Path.cwd())


def open_state_store(url: str) -> Any:
    """The state store for a URL (the store package's `open_store`)."""
    from chatflow.runtime.store import open_store

    return open_store(url)


def compile_flow(flow: str) -> CompiledFlow:
    """Compile `path` or `path:flow` to IR; compile errors raise a
    ChatflowError (exit code 2) carrying the diagnostics and sources."""
    from chatflow.compiler.api import compile_path
    from chatflow.diagnostics import has_errors

    result = compile_path(flow)
    if result.ir is None or has_errors(result.diagnostics):
        raise UsageError(f"{flow}: the flow has errors", diagnostics=list(result.diagnostics),
                         sources=dict(result.sources))
    return CompiledFlow(result.ir, flow)


def check_instance_id(instance_id: str) -> str:
    """Refuse an id no instance can have (empty, `../x`, `a/b`) as a usage
    error, before any path is built from it."""
    from chatflow.runtime.store.records import is_valid_instance_id

    if not isinstance(instance_id, str) or not is_valid_instance_id(instance_id):
        raise UsageError(
            f"invalid instance id {instance_id!r}: an id is letters, digits and "
            "'.', '_', '-', '@', '+', starting with a letter or digit; see `chatflow list`")
    return instance_id


@methods_with_room
class WorkflowEngine:
    """Start, drive, inspect and decide on workflow instances."""

    _engines: ClassVar[dict[str, WorkflowEngine]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, store: Any, *, url: str = "", workdir: str | None = None,
                 config: Any = None) -> None:
        self.url = url or getattr(store, "url", "")
        self.store = store
        self.config = config
        self._workdir = workdir
        self._engine: Engine | None = None
        self._engine_guard = threading.Lock()

    @property
    def engine(self) -> Engine:
        """The engine core, built on first use: the read-only views (`list`,
        `history`) work on the store alone and so start without importing it."""
        with self._engine_guard:
            if self._engine is None:
                from chatflow.runtime.engine import Engine

                max_depth = getattr(self.config, "max_depth", None) or 8
                self._engine = Engine(self.store, workdir=self._workdir, max_depth=max_depth,
                                      config=self.config)
            return self._engine

    @classmethod
    def open(cls, state: str = "file:.chatflow", *, workdir: str | None = None
             ) -> WorkflowEngine:
        """The engine for a state URL (one per resolved URL per process)."""
        from chatflow.runtime.config import CONFIG_RELPATH, load_config

        cwd = Path(workdir) if workdir else Path.cwd()
        url = normalize_state_url(state, cwd)
        with cls._guard:
            eng = cls._engines.get(url)
            if eng is None:
                config = load_config(cwd / CONFIG_RELPATH)
                eng = cls(open_state_store(url), url=url, workdir=str(cwd), config=config)
                cls._engines[url] = eng
            return eng

    @classmethod
    def forget(cls, state: str | None = None) -> None:
        """Drop cached engines (tests; after `migrate`)."""
        with cls._guard:
            if state is None:
                engines = list(cls._engines.values())
                cls._engines.clear()
            else:
                e = cls._engines.pop(normalize_state_url(state), None)
                engines = [e] if e else []
        for e in engines:
            e.store.close()

    @classmethod
    def repair(cls, state: str, instance_id: str, *, workdir: str | None = None
               ) -> RepairOutcome:
        """`chatflow repair`: check an instance's stored files and rebuild
        what can be rebuilt. Works on the store alone (a damaged store must
        not stop an engine from opening); cached engines are dropped first."""
        check_instance_id(instance_id)
        url = normalize_state_url(state, Path(workdir) if workdir else None)
        cls.forget()
        store = open_state_store(url)
        try:
            return repair_instance(store, instance_id)
        finally:
            store.close()

    @classmethod
    def migrate(cls, state: str) -> Any:
        """`chatflow migrate`: upgrade the store to the current format (the
        store's `MigrationReport`); cached engines are dropped first."""
        from chatflow.runtime.store import migrate_store

        cls.forget()
        return migrate_store(state)

    # ------------------------------------------------------------------ starting

    @staticmethod
    def read_inputs(flow: CompiledFlow | Mapping[str, Any], pairs: Sequence[str]
                    ) -> dict[str, Any]:
        """The inputs of the entry flow of `flow` (compiled, or IR) from raw
        `NAME=VALUE` strings, each read per its param's declared type,
        defaults filled in; a bad value is a `UsageError` that says why."""
        from chatflow.runtime.inputs import read_inputs

        ir = flow.ir if isinstance(flow, CompiledFlow) else flow
        return read_inputs(pairs, ir["flows"][ir["entry"]])

    @staticmethod
    def plan(flow: CompiledFlow, inputs: Mapping[str, Any], automation: int | None = None,
             feature_id: str | None = None, *, workdir: str | None = None) -> DryRunPlan:
        """The dry-run plan of a flow that has not started: what would run,
        pause or be skipped at the automation level in effect (`automation`,
        else the flow's, else the config's, else 100). Nothing is written."""
        from chatflow.runtime.config import CONFIG_RELPATH, load_config
        from chatflow.runtime.dry_run import plan_flow

        entry = flow.ir["flows"][flow.ir["entry"]]
        level = automation
        if level is None:
            level = (entry.get("settings") or {}).get("automation")
        if level is None:
            cwd = Path(workdir) if workdir else Path.cwd()
            level = load_config(cwd / CONFIG_RELPATH).automation
        plan = plan_flow(flow.ir, inputs, 100 if level is None else int(level), feature_id)
        return DryRunPlan(str(entry.get("name")), level, plan)

    def resolve_flow(self, flow: FlowRef) -> dict[str, Any]:
        """The IR to start: a path is compiled here and a `CompiledFlow` is
        used as is (both trusted); an IR dict is validated (`load_ir`, linear
        in its size)."""
        from chatflow.compiler.ir import load_ir

        if isinstance(flow, CompiledFlow):
            return flow.ir
        if isinstance(flow, Mapping):
            return load_ir(dict(flow))
        if isinstance(flow, str | os.PathLike):
            return compile_flow(os.fspath(flow)).ir
        raise UsageError(f"flow must be a path, `path:flow`, a CompiledFlow or an IR dict, "
                            f"got {type(flow).__name__}")

    def start_workflow_instance(self, flow: FlowRef, inputs: Mapping[str, Any] | None = None,
                                feature_id: str | None = None,
                                automation_level: int | None = None,
                                parent_instance_id: str | None = None) -> WorkflowStartResult:
        ir = self.resolve_flow(flow)
        level = automation_level
        entry = ir["flows"][ir["entry"]]
        if level is None and "automation" not in (entry.get("settings") or {}):
            level = getattr(self.config, "automation", None)
        depth = 0
        if parent_instance_id is not None:
            depth = self.engine.store.load_status(parent_instance_id).depth + 1
        return self.engine.start(ir, inputs=inputs, feature_id=feature_id, automation=level,
                                 parent_instance_id=parent_instance_id, depth=depth)

    def create_subworkflow(self, parent_id: str, flow: FlowRef,
                           context: Mapping[str, Any] | None = None) -> WorkflowStartResult:
        """Start a child instance of `parent_id` (the seed's name)."""
        check_instance_id(parent_id)
        parent = self.engine.store.load_status(parent_id)
        started = self.start_workflow_instance(flow, inputs=context,
                                               feature_id=parent.feature_id,
                                               automation_level=parent.automation,
                                               parent_instance_id=parent_id)
        self.engine.link_child(parent_id, started.instance_id)
        return started

    # ------------------------------------------------------------------ driving

    def trigger_next_step(self, instance_id: str, dry_run: bool = False
                          ) -> WorkflowInstanceState:
        """Run the next ready step once (or, with `dry_run`, only plan)."""
        check_instance_id(instance_id)
        if dry_run:
            from chatflow.runtime.dry_run import plan_instance

            return plan_instance(self.engine, instance_id)
        return self.engine.drive(instance_id, max_steps=1, wait_for_others=False)

    def run_until_blocked(self, instance_id: str, on_event: EventSink | None = None
                          ) -> WorkflowInstanceState:
        """Drive until the instance finishes or waits for a person."""
        check_instance_id(instance_id)
        return self.engine.drive(instance_id, sink=on_event)

    def resume(self, instance_id: str, on_event: EventSink | None = None
               ) -> WorkflowInstanceState:
        """Continue after an approval, a crash or a stop (same as
        `run_until_blocked`; interrupted steps are recovered first)."""
        check_instance_id(instance_id)
        return self.engine.drive(instance_id, sink=on_event)

    # ------------------------------------------------------------------ decisions

    def approve(self, instance_id: str, step: str, by: str, comment: str = ""
                ) -> WorkflowStatusInfo:
        check_instance_id(instance_id)
        return self.engine.decide(instance_id, step, approved=True, by=by, comment=comment)

    def reject(self, instance_id: str, step: str, by: str, comment: str = ""
               ) -> WorkflowStatusInfo:
        check_instance_id(instance_id)
        return self.engine.decide(instance_id, step, approved=False, by=by, comment=comment)

    def cancel(self, instance_id: str) -> WorkflowStatusInfo:
        check_instance_id(instance_id)
        return self.engine.cancel(instance_id)

    def waiting_points(self, instance_id: str) -> list[WaitPoint]:
        """Every step of the instance's tree (sub-flows too) that waits for a
        person: decide on those (`approve` / `reject`), then `resume` the
        instance `driver_of` names."""
        check_instance_id(instance_id)
        self.engine.store.load_status(instance_id)  # a clear error for unknown ids
        return waiting_points(self.engine.store, instance_id)

    def driver_of(self, instance_id: str) -> str:
        """The instance whose `resume` drives `instance_id` on (its topmost
        ancestor through `call` steps that wait on it; itself otherwise)."""
        check_instance_id(instance_id)
        self.engine.store.load_status(instance_id)
        return driver_of(self.engine.store, instance_id)

    # ------------------------------------------------------------------ reading

    def status(self, instance_id: str) -> WorkflowStatusInfo:
        check_instance_id(instance_id)
        return self.engine.status_info(instance_id)

    def state(self, instance_id: str) -> WorkflowState:
        check_instance_id(instance_id)
        return self.engine.workflow_state(instance_id)

    def history(self, instance_id: str) -> Iterator[WorkflowHistoryEvent]:
        check_instance_id(instance_id)
        self.store.load_status(instance_id)  # a clear error for unknown ids
        # a generator, so that `chatflow.deep` gives its reading room too
        return (WorkflowHistoryEvent.of(ev) for ev in self.store.iter_history(instance_id))

    def latest_instance_id(self) -> str | None:
        """The most recently updated top-level instance, None in an empty store."""
        latest = latest_instance(self.store)
        return None if latest is None else str(latest.instance_id)

    def instance_view(self, instance_id: str) -> InstanceView:
        """The status object with quotas, failed steps' output tails, and
        where the instance waits (`chatflow status`, the end of `run`)."""
        check_instance_id(instance_id)
        return instance_view(self, instance_id)

    def instance_tree(self, instance_id: str) -> TreeNode:
        """The instance and its sub-flows (`chatflow status --tree`)."""
        check_instance_id(instance_id)
        return instance_tree(self, instance_id)

    def output_tail(self, instance_id: str, step: str, outputs: Mapping[str, Any]
                    ) -> OutputTail | None:
        """A failed step's last output lines (from its fields or stored files)."""
        return step_output_tail(self, instance_id, step, outputs)

    def check_damage(self, instance_id: str, *, repair: bool = False) -> DamageCheck:
        """What is damaged in the instance's stored files; with `repair`
        (before `resume`), what could be rebuilt without loss is rebuilt
        (lost history raises `StoreCorruption`). See `chatflow.runtime.damage`."""
        check_instance_id(instance_id)
        return check_damage(self.store, instance_id, repair=repair)

    def list_instances(self, feature_id: str | None = None) -> list[dict[str, Any]]:
        """One row per instance, oldest first; `problems` lists what is wrong
        with a damaged one (an instance whose status cannot be read at all
        comes last, with null fields)."""
        inventory = self.store.inventory(feature_id)
        out = []
        for st in inventory.statuses:
            out.append({"instance_id": st.instance_id, "flow": st.flow, "status": st.status,
                        "progress": st.progress, "feature_id": st.feature_id,
                        "parent_instance_id": st.parent_instance_id,
                        "created_at": st.created_at, "updated_at": st.updated_at,
                        "problems": _problems(inventory.damaged.get(st.instance_id, []))})
        listed = {row["instance_id"] for row in out}
        for iid, problems in sorted(inventory.damaged.items()):
            if iid not in listed:
                out.append({"instance_id": iid, "flow": None, "status": None, "progress": None,
                            "feature_id": None, "parent_instance_id": None,
                            "created_at": None, "updated_at": None,
                            "problems": _problems(problems)})
        return out

    def get_feature_status(self, feature_id: str) -> dict[str, Any]:
        """Every instance of a feature and an overall status."""
        instances = self.list_instances(feature_id)
        statuses = [i["status"] for i in instances]
        overall = "none"
        for s in ("failed", "waiting_approval", "running", "cancelled", "succeeded"):
            if s in statuses:
                overall = s
                break
        return {"feature_id": feature_id, "status": overall, "instances": instances}

    def get_task_artifacts(self, instance_id: str, step: str | None = None
                           ) -> list[dict[str, Any]]:
        check_instance_id(instance_id)
        self.engine.store.load_status(instance_id)
        if step is not None:
            self._check_step(instance_id, step)
        out = []
        for a in self.engine.store.list_artifacts(instance_id, step):
            out.append({"instance_id": a.instance_id, "step": a.step, "name": a.name,
                        "size": a.size, "path": a.path})
        return out

    def _check_step(self, instance_id: str, step: str) -> None:
        """An unknown step name is a usage error (with the closest names)."""
        names = self.engine.step_names(instance_id)
        if step in names:
            return
        import difflib

        close = difflib.get_close_matches(step, names, n=3)
        hint = f"; did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
        raise UsageError(f"instance {instance_id} has no step `{step}`{hint}")


def _problems(problems: Any) -> list[dict[str, Any]]:
    return [{"path": p.path, "kind": p.kind, "message": p.message,
             "repairable": p.repairable, "lossy": p.lossy} for p in problems]
