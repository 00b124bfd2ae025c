"""The file backend's journal format: `history.ndjson` lines, grouped into commits.

Every line is one JSON object.  Event lines are `{seq, type, ts, step, data}`.
The last line of each commit also carries `"tx": {rev, status, delta|create}`
(a commit without events is a bare `{"tx": ...}` line).  A commit is written
with one `write()` and one fsync, so after a crash the file ends with whole
commits plus, at worst, a *tail* of an unfinished one; readers ignore that
tail and the next writer cuts it off (keeping a `.corrupt` copy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatflow.runtime.store.atomic import dumps
from chatflow.runtime.store.records import event_json_problem


@dataclass
class Commit:
    """One committed transition read back from the journal."""

    rev: int
    status: dict[str, Any]
    delta: dict[str, Any] | None
    create: dict[str, Any] | None
    events: list[dict[str, Any]]
    start: int
    end: int


@dataclass
class Scan:
    """The commits in a byte range of the journal.

    `end` is the offset just after the last complete commit; `tail` the bytes
    after it (an unfinished commit or a torn line); `bad_lines` complete
    lines before `end` that are not valid JSON objects (offset, reason)."""

    commits: list[Commit] = field(default_factory=list)
    end: int = 0
    tail: bytes = b""
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


def scan(data: bytes, base: int = 0) -> Scan:
    """Split `data` (journal bytes starting at file offset `base`) into commits."""
    out = Scan(end=base)
    pending: list[dict[str, Any]] = []
    pending_bad: list[tuple[int, str]] = []
    commit_start = base
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        line = data[pos:nl]
        line_off = base + pos
        pos = nl + 1
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
        except ValueError as e:
            pending_bad.append((line_off, f"unreadable line ({e})"))
            continue
        tx = obj.pop("tx", None)
        if "seq" in obj:
            why = event_json_problem(obj)
            if why is None:
                pending.append(obj)
            else:
                pending_bad.append((line_off, why))
        if tx is None:
            continue
        why = _tx_problem(tx)
        if why is not None:
            pending_bad.append((line_off, why))
            continue
        out.commits.append(Commit(tx["rev"], tx["status"], tx.get("delta"),
                                  tx.get("create"), pending, commit_start, base + pos))
        out.bad_lines.extend(pending_bad)
        pending, pending_bad = [], []
        out.end = base + pos
        commit_start = out.end
    out.tail = data[out.end - base:]
    return out


def _tx_problem(tx: Any) -> str | None:
    """Why `tx` is not a commit record, or None when it is one."""
    if not isinstance(tx, dict):
        return "malformed commit record (not an object)"
    rev = tx.get("rev")
    if type(rev) is not int or rev < 1:
        return f"malformed commit record (rev {json.dumps(rev)[:40]})"
    if not isinstance(tx.get("status"), dict):
        return f"malformed commit record at rev {rev} (no status)"
    for key in ("delta", "create"):
        if tx.get(key) is not None and not isinstance(tx[key], dict):
            return f"malformed commit record at rev {rev} (`{key}` is not an object)"
    return None


def encode_commit(events: Sequence[Mapping[str, Any]], tx: Mapping[str, Any],
                  raw_status: bytes | None = None) -> bytes:
    """The bytes of one commit: its event lines, the last one carrying `tx`.

    `raw_status`, when given, is the already encoded `tx["status"]`."""
    if raw_status is None:
        tx_bytes = dumps(tx)
    else:
        tx_bytes = dumps(tx)[:-1] + b',"status":' + raw_status + b"}"
    parts = [dumps(e) + b"\n" for e in events[:-1]]
    head = dumps(events[-1])[:-1] + b"," if events else b"{"
    parts.append(head + b'"tx":' + tx_bytes + b"}\n")
    return b"".join(parts)
