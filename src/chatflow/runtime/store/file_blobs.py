"""The file backend's blobs: pinned IR documents (`schemas/`) and task
artifacts (`instances/<id>/tasks/<step>/`), as a mixin of `FileStore`.

Both are written atomically (`atomic.py`); a schema file is trusted only if
its sha256 matches the reference that names it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chatflow.runtime.store.atomic import atomic_write
from chatflow.runtime.store.base import (
    InstanceNotFound,
    StoreError,
    check_artifact_name,
    check_instance_id,
    check_step_name,
    os_errors_as_store_errors,
)
from chatflow.runtime.store.file_layout import FileLayout
from chatflow.runtime.store.records import ArtifactInfo, IRRef, canonical_json


def safe_name(text: str) -> str:
    """A file-name-safe rendering of a flow name or version."""
    return "".join(c if c.isalnum() or c in "._-+" else "_" for c in text) or "_"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileBlobs(FileLayout):
    """Pinned IR and artifacts under a `FileStore`'s root."""

    # -- pinned IR ---------------------------------------------------------------
    def _ir_candidates(self, flow: str, version: str, sha: str) -> list[Path]:
        base = f"{safe_name(flow)}@{safe_name(version)}"
        d = self.root / "schemas"
        return [d / f"{base}.json", d / f"{base}.{sha[:16]}.json"]

    @os_errors_as_store_errors
    def pin_ir(self, ir: Mapping[str, Any], flow: str, version: str) -> IRRef:
        data = canonical_json(ir).encode("utf-8")
        sha = sha256_hex(data)
        self.setup()
        for path in self._ir_candidates(flow, version, sha):
            try:
                existing = path.read_bytes()
            except FileNotFoundError:
                atomic_write(path, data)
                return IRRef(flow, version, sha)
            if sha256_hex(existing) == sha:
                return IRRef(flow, version, sha)
        raise StoreError(f"cannot pin IR {flow}@{version}: both schema file names are taken")

    @os_errors_as_store_errors
    def load_ir(self, ref: IRRef) -> dict[str, Any]:
        differ: list[str] = []
        for path in self._ir_candidates(ref.flow, ref.version, ref.sha256):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if sha256_hex(data) == ref.sha256:
                doc = json.loads(data)  # the very bytes pinned: they have its sha256
                assert isinstance(doc, dict)
                return doc
            differ.append(path.name)
        where = self.root / "schemas"
        if differ:
            raise StoreError(f"pinned IR {ref.key} (sha256 {ref.sha256[:12]}) is missing or "
                             f"damaged in {where}: {' and '.join(differ)} "
                             f"{'has' if len(differ) == 1 else 'have'} other content")
        raise StoreError(f"pinned IR {ref.key} (sha256 {ref.sha256[:12]}) is missing from {where}")

    # -- artifacts ---------------------------------------------------------------
    @os_errors_as_store_errors
    def artifact_dir(self, instance_id: str, step: str) -> Path:
        check_instance_id(instance_id)
        check_step_name(step)
        idir = os.path.join(self.root, "instances", instance_id)
        d = os.path.join(idir, "tasks", step)
        try:
            os.mkdir(d)         # the common case: tasks/ exists, the step's dir not yet
        except FileExistsError:
            if not os.path.isdir(d):
                raise
        except FileNotFoundError:
            if not os.path.isdir(idir):
                raise InstanceNotFound(instance_id, str(self.root)) from None
            os.makedirs(d, exist_ok=True)
        return Path(d)

    @os_errors_as_store_errors
    def put_artifact(self, instance_id: str, step: str, name: str, data: bytes) -> ArtifactInfo:
        check_artifact_name(name)
        path = self.artifact_dir(instance_id, step) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
        return ArtifactInfo(instance_id, step, name, len(data), str(path))

    @os_errors_as_store_errors
    def get_artifact(self, instance_id: str, step: str, name: str) -> bytes:
        check_instance_id(instance_id)
        check_step_name(step)
        check_artifact_name(name)
        path = self.instance_dir(instance_id) / "tasks" / step / name
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise StoreError(f"no artifact {name!r} for step {step!r} of instance "
                             f"{instance_id!r}") from None

    @os_errors_as_store_errors
    def list_artifacts(self, instance_id: str, step: str | None = None) -> list[ArtifactInfo]:
        check_instance_id(instance_id)
        tasks = self.instance_dir(instance_id) / "tasks"
        if not self.instance_dir(instance_id).is_dir():
            raise InstanceNotFound(instance_id, str(self.root))
        if step is not None:
            check_step_name(step)
        steps = [tasks / step] if step is not None else sorted(
            p for p in (tasks.iterdir() if tasks.is_dir() else ()) if p.is_dir())
        out: list[ArtifactInfo] = []
        for sdir in steps:
            if not sdir.is_dir():
                continue
            for path in sorted(sdir.rglob("*")):
                if path.is_file() and not path.name.startswith("."):
                    out.append(ArtifactInfo(instance_id, sdir.name,
                                            path.relative_to(sdir).as_posix(),
                                            path.stat().st_size, str(path)))
        return out
