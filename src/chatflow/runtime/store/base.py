"""The `StateStore` contract every backend implements (docs/state-stores.md).

An instance has three parts: a small *status* (read often), a full *state*
(inputs, variables, step results, outputs) and an append-only *history*.
A state transition is one `Change` committed atomically with `commit()` (or
the `transaction()` helper built on it), guarded by optimistic concurrency
(`expected_rev`).  `lock()` is a separate, cross-process exclusive lock the
engine holds while it drives an instance.

Complexity promises the engine relies on (n = steps already recorded):
`commit`, `load_status`, `load_step` are O(size of the change), not O(n);
`load_state` may copy the step map (O(n) in memory, no O(n) I/O when the
in-process cache is warm); `iter_history` reads from disk.
"""

from __future__ import annotations

import errno
import functools
import os
import socket
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from chatflow.diagnostics import ChatflowError, UsageError
from chatflow.runtime.store.records import (
    FORMAT_VERSION,
    ArtifactInfo,
    Change,
    HistoryEvent,
    Inventory,
    IRRef,
    NewEvent,
    Problem,
    RepairReport,
    StateRecord,
    StatusRecord,
    StepRecord,
    check_status_changes,
    is_valid_instance_id,
    is_valid_step_name,
)


class StoreError(ChatflowError):
    """Any state-store problem (I/O, bad URL, missing instance...)."""


class StoreURLError(StoreError, UsageError):
    """The state URL cannot be understood."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class InstanceNotFound(StoreError, UsageError):
    def __init__(self, instance_id: str, where: str) -> None:
        super().__init__(f"no workflow instance {instance_id!r} in {where}")
        self.instance_id = instance_id


class InstanceExists(StoreError):
    def __init__(self, instance_id: str) -> None:
        super().__init__(f"workflow instance {instance_id!r} already exists")
        self.instance_id = instance_id


class ConflictError(StoreError):
    """`expected_rev` did not match: someone else committed in between."""

    def __init__(self, instance_id: str, expected: int, actual: int) -> None:
        super().__init__(f"instance {instance_id!r} changed concurrently: expected rev "
                         f"{expected}, found rev {actual}; reload and retry")
        self.instance_id = instance_id
        self.expected = expected
        self.actual = actual


class LockTimeout(StoreError):
    def __init__(self, instance_id: str, timeout: float | None) -> None:
        super().__init__(f"timed out after {timeout}s waiting for the lock on instance "
                         f"{instance_id!r} (another chatflow process is driving it)")
        self.instance_id = instance_id


class StoreCorruption(StoreError):
    """Stored data is damaged beyond what loading can work around (or, for a
    lossy problem, beyond what a commit may append to)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        ids = sorted({p.instance_id for p in problems if p.instance_id})
        target = " ".join(ids) if len(ids) == 1 else "ID"
        if problems and all(p.repairable for p in problems):
            hint = f"run `chatflow repair {target}` to rebuild it from what survives"
        else:
            hint = (f"`chatflow repair {target}` rebuilds what it can; what it cannot "
                    "rebuild must be restored from a backup")
        super().__init__(f"the state store is damaged:\n{lines}\n{hint}")
        self.problems = list(problems)


def store_io_error(exc: OSError) -> StoreError:
    """An operating-system error met inside a state store, as a `StoreError`
    (exit 1) that names the path and says what usually causes it."""
    where = exc.filename if exc.filename is not None else "the state store"
    reason = exc.strerror or str(exc)
    if isinstance(exc, IsADirectoryError):
        hint = "a directory stands where the state store keeps a file; move it away"
    elif isinstance(exc, NotADirectoryError):
        hint = "a file stands where the state store needs a directory; move it away"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = ("this user cannot write (or read) there: check the permissions, or "
                "pick another location with --state")
    elif exc.errno == errno.ENOSPC:
        hint = "the disk is full"
    else:
        hint = ""
    return StoreError(f"state store I/O error: {where}: {reason}" + (f" ({hint})" if hint else ""))


P = ParamSpec("P")
R = TypeVar("R")


def os_errors_as_store_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a store method so an `OSError` leaves it as `store_io_error`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except OSError as exc:
            raise store_io_error(exc) from None

    return wrapper


class StoreFormatError(StoreError):
    """The store was written by another (older or newer) format version."""


def default_owner() -> str:
    """A process-and-thread-unique owner name for leases and locks."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def new_instance_id(flow: str) -> str:
    """A fresh instance id: the flow's name, the UTC start time, six random hex
    digits (`deploy-20240501-120000-3f9a1c`); sorts by start time per flow."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in flow)[:40] or "flow"
    return f"{safe}-{stamp}-{uuid.uuid4().hex[:6]}"


def check_instance_id(instance_id: str) -> None:
    if not is_valid_instance_id(instance_id):
        raise StoreError(f"invalid instance id {instance_id!r}: use letters, digits and "
                         "'.', '_', '-', '@', '+' (not starting with a dot)")


def check_step_name(step: str) -> None:
    if not is_valid_step_name(step):
        raise StoreError(f"invalid step name {step!r} for the state store")


def check_artifact_name(name: str) -> None:
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts) \
            or "\\" in name or "\0" in name:
        raise StoreError(f"invalid artifact name {name!r}: a relative path without '..'")


class Transaction(AbstractContextManager["Transaction"]):
    """Collects one `Change` and commits it when the `with` block ends
    without an exception (nothing is written otherwise).

        with store.transaction(iid, expected_rev=status.rev) as tx:
            tx.put_step(StepRecord("build", "succeeded", attempts=1))
            tx.append("step_completed", step="build", data={"status": "succeeded"})
            tx.set_status(progress=0.5, current_steps=[])
        tx.result  # the new StatusRecord
    """

    def __init__(self, store: StateStore, instance_id: str, expected_rev: int | None) -> None:
        self.store = store
        self.instance_id = instance_id
        self.expected_rev = expected_rev
        self._status: dict[str, Any] = {}
        self._steps: dict[str, StepRecord] = {}
        self._variables: dict[str, Any] = {}
        self._outputs: dict[str, Any] = {}
        self._extra: dict[str, Any] = {}
        self._children: list[str] = []
        self._events: list[NewEvent] = []
        self.result: StatusRecord | None = None

    def set_status(self, **changes: Any) -> None:
        check_status_changes(changes)
        self._status.update(changes)

    def put_step(self, step: StepRecord) -> None:
        self._steps[step.name] = step

    def set_variables(self, values: Mapping[str, Any]) -> None:
        self._variables.update(values)

    def set_outputs(self, values: Mapping[str, Any]) -> None:
        self._outputs.update(values)

    def set_extra(self, values: Mapping[str, Any]) -> None:
        self._extra.update(values)

    def add_child(self, child_id: str) -> None:
        self._children.append(child_id)

    def append(self, type: str, step: str | None = None,
               data: Mapping[str, Any] | None = None, ts: str = "") -> None:
        self._events.append(NewEvent(type, step, dict(data or {}), ts))

    def change(self) -> Change:
        return Change(dict(self._status), tuple(self._steps.values()), dict(self._variables),
                      dict(self._outputs), dict(self._extra), tuple(self._children),
                      tuple(self._events))

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.result = self.store.commit(self.instance_id, self.change(), self.expected_rev)


class StateStore(ABC):
    """One durable home for workflow instances.  Safe to share between threads.

    Nothing is written to disk before the first write call (`create_instance`,
    `commit`, `pin_ir`, `put_artifact`, `setup`), so a dry run leaves the
    state location untouched."""

    url: str
    kind: str = "abstract"

    # -- lifecycle -------------------------------------------------------
    @abstractmethod
    def setup(self) -> None:
        """Create the layout / schema if missing (idempotent)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (connections, cached file handles)."""

    def schema_version(self) -> int:
        """The version of the stored layout: for the SQL backends the highest
        schema migration applied (0 before `setup()`); by default the record
        format this code reads and writes (`FORMAT_VERSION`: the file backend
        refuses to open a store of another format).  `chatflow migrate`
        compares it before and after `setup()`."""
        return FORMAT_VERSION

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- instances -------------------------------------------------------
    @abstractmethod
    def create_instance(self, status: StatusRecord, state: StateRecord,
                        events: Sequence[NewEvent] = ()) -> StatusRecord:
        """Store a new instance atomically (rev 1) and index its feature.

        `status.instance_id` must equal `state.instance_id`; `rev`, `seq`,
        `created_at`, `updated_at` are assigned by the store.  Raises
        `InstanceExists` when the id is taken."""

    @abstractmethod
    def commit(self, instance_id: str, change: Change,
               expected_rev: int | None = None) -> StatusRecord:
        """Apply one transition atomically: all of it is durable when this
        returns, none of it is visible if it raises.  `expected_rev` (when not
        None) must equal the current rev, else `ConflictError`.  Returns the
        new status (rev + 1, `seq` = last appended event)."""

    def transaction(self, instance_id: str,
                    expected_rev: int | None = None) -> Transaction:
        return Transaction(self, instance_id, expected_rev)

    @abstractmethod
    def load_status(self, instance_id: str) -> StatusRecord:
        """The current status (`InstanceNotFound` if there is no such instance)."""

    @abstractmethod
    def load_state(self, instance_id: str) -> StateRecord:
        """The current full state (its `rev` equals the status rev)."""

    def load_step(self, instance_id: str, step: str) -> StepRecord | None:
        return self.load_state(instance_id).steps.get(step)

    @abstractmethod
    def exists(self, instance_id: str) -> bool: ...

    @abstractmethod
    def list_instances(self, feature_id: str | None = None) -> list[StatusRecord]:
        """Every instance whose status can be read (or those of one feature),
        oldest first; a damaged one never hides the others."""

    def inventory(self, feature_id: str | None = None) -> Inventory:
        """`list_instances` plus what is wrong with each damaged instance
        (`chatflow list`).  Finds only what is cheap to see while listing;
        `check(id)` looks deeper.  Backends that can see damage override it;
        this default reports none."""
        return Inventory(self.list_instances(feature_id), {})

    @abstractmethod
    def iter_history(self, instance_id: str, from_seq: int = 1) -> Iterator[HistoryEvent]:
        """Events with `seq >= from_seq`, in seq order."""

    # -- locking ---------------------------------------------------------
    @abstractmethod
    def lock(self, instance_id: str,
             timeout: float | None = None) -> AbstractContextManager[None]:
        """An exclusive per-instance lock across processes and threads,
        re-entrant within one thread.  `timeout=None` waits forever; on
        timeout raises `LockTimeout`.  Released automatically if the holder
        process dies."""

    # -- pinned IR -------------------------------------------------------
    @abstractmethod
    def pin_ir(self, ir: Mapping[str, Any], flow: str, version: str) -> IRRef:
        """Store an IR document once (content-addressed by sha256) and return
        the reference an instance keeps in `StateRecord.ir_ref`."""

    @abstractmethod
    def load_ir(self, ref: IRRef) -> dict[str, Any]: ...

    # -- artifacts -------------------------------------------------------
    def artifact_dir(self, instance_id: str, step: str) -> Path | None:
        """A directory where the step may write files directly (stdout,
        stderr, artifacts), or None when the backend keeps blobs only."""
        return None

    @abstractmethod
    def put_artifact(self, instance_id: str, step: str, name: str, data: bytes) -> ArtifactInfo:
        ...

    def put_artifacts(self, instance_id: str, step: str, items: Sequence[tuple[str, bytes]],
                      *, durable: bool = True) -> list[ArtifactInfo]:
        """Several artifacts of one step at once.  `durable=False`: they may
        be lost by a crash before this store's next durable commit (the
        engine uploads a step's outputs just before committing its result,
        which makes them durable with it)."""
        return [self.put_artifact(instance_id, step, name, data) for name, data in items]

    @abstractmethod
    def get_artifact(self, instance_id: str, step: str, name: str) -> bytes: ...

    @abstractmethod
    def list_artifacts(self, instance_id: str, step: str | None = None) -> list[ArtifactInfo]:
        ...

    # -- integrity -------------------------------------------------------
    @abstractmethod
    def check(self, instance_id: str) -> list[Problem]:
        """Everything wrong with one instance's stored data (empty if sound)."""

    @abstractmethod
    def repair(self, instance_id: str) -> RepairReport:
        """Rebuild what can be rebuilt from what survives, keeping backups
        of anything dropped.  Never loses a committed step."""
