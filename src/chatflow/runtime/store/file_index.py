"""The `file:` backend's feature index: `.indexes/feature_index.json` maps a
feature id to its instances, so `chatflow list --feature ID` reads only
those. It is a cache: a damaged index is rebuilt from the instances' status
files, and one that cannot be read makes the listing look at every instance.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from chatflow.runtime.store.atomic import atomic_write_json
from chatflow.runtime.store.records import StatusRecord

__all__ = ["add_to_index", "read_index"]

Index = dict[str, list[str]]


def read_index(path: Path) -> Index | None:
    """feature id → instance ids; {} when there is no index yet, None when it
    cannot be read (damaged)."""
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (ValueError, IsADirectoryError):
        return None
    if not isinstance(doc, dict):
        return None
    return {str(k): [str(i) for i in v] for k, v in doc.items() if isinstance(v, list)}


def add_to_index(path: Path, feature_id: str, instance_id: str,
                 statuses: Callable[[], Iterable[StatusRecord]]) -> None:
    """File `instance_id` under `feature_id` (under the index's lock); a
    damaged index is first rebuilt from `statuses()` (every instance's status)."""
    import filelock  # here: reading a store (`list`, `status`) never takes this lock

    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(path.parent / ".lock")):
        index = read_index(path)
        if index is None:
            index = {}
            for st in statuses():
                if st.feature_id:
                    index.setdefault(st.feature_id, []).append(st.instance_id)
        ids = index.setdefault(feature_id, [])
        if instance_id not in ids:
            ids.append(instance_id)
            atomic_write_json(path, index)
