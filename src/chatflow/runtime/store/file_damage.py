"""Lost history in the file backend: a journal shorter than what was committed.

Every file the backend writes records how far the journal went when it was
written: `state.json` and the status file keep `journal_offset`, `rev` and
`next_seq` (and a process keeps them for the journal it has cached).  The
journal only grows (a torn tail is cut back to the last complete commit,
never below), so a journal whose last complete commit is older than one of
those *marks* lost committed transitions: it was truncated (at a line
boundary, to 0 bytes), deleted, or replaced.  Nothing here reads more than
those small files; the backend compares the marks when it loads an instance
(never per commit), refuses to append to such a journal, and `repair`
records the loss as a `history_lost` event instead of renumbering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatflow.runtime.store.records import Problem


@dataclass(frozen=True, slots=True)
class Mark:
    """What a file (or this process) recorded about the journal."""

    source: str          # "state.json", "the status file", "this process"
    offset: int          # journal bytes it covers
    rev: int             # the last commit it saw
    next_seq: int        # the seq the next event gets


@dataclass(frozen=True, slots=True)
class JournalEnd:
    """What the journal on disk holds.  `what`: file, missing, directory or
    other (not a regular file); `end`: the offset after its last complete
    commit; `rev`/`last_seq`: that commit's rev and the last event's seq."""

    what: str
    end: int
    rev: int
    last_seq: int


_WHERE = {"missing": "is missing", "directory": "is a directory, not a file",
          "other": "is not a regular file"}


def _range(first: int, last: int) -> str:
    return f"{first}" if first == last else f"{first}..{last}"


def short_marks(journal: JournalEnd, marks: Sequence[Mark]) -> list[Mark]:
    """The marks the journal falls short of (empty when it is whole).  A mark
    at an older rev than the journal's end predates a `repair` and is moot."""
    return [m for m in marks
            if m.rev > journal.rev or (m.rev == journal.rev and m.offset > journal.end)
            or journal.what != "file"]


def lost_history(instance_id: str, path: str, journal: JournalEnd, marks: Sequence[Mark],
                 state_rev: int | None, state_source: str) -> Problem | None:
    """The `lost-history` problem, or None when no mark exceeds the journal.
    `state_rev`: the rev of the newest state that survives (None: none)."""
    short = short_marks(journal, marks)
    if not short:
        return None
    worst = max(short, key=lambda m: (m.rev, m.offset))
    if journal.what == "file":
        have = f"ends at byte {journal.end}"
        have += f" after rev {journal.rev}" if journal.rev else " with no complete commit"
    else:
        have = _WHERE[journal.what]
    first, last = journal.rev + 1, worst.rev
    lost = (f"{last - first + 1} committed transition(s) (rev {_range(first, last)})"
            if last >= first else "its content")
    if worst.next_seq - 1 > journal.last_seq:
        lost += f" and event(s) seq {_range(journal.last_seq + 1, worst.next_seq - 1)}"
    if state_rev is None:
        state = "no state survives to rebuild the instance from"
    elif state_rev >= worst.rev:
        state = f"{state_source} still holds the whole state (rev {state_rev})"
    else:
        state = (f"the newest state that survives is rev {state_rev} ({state_source}): "
                 "what the lost transitions recorded will be redone when it resumes")
    message = (f"the history journal {have}, but {worst.source} recorded {worst.offset} "
               f"byte(s) up to rev {worst.rev}: {lost} cannot be recovered; {state}. "
               f"Commits are refused until `chatflow repair {instance_id}` records the loss")
    return Problem(instance_id, path, "lost-history", message,
                   repairable=state_rev is not None, lossy=True)


def loss_record(journal: JournalEnd, marks: Sequence[Mark], state_rev: int,
                journal_copy: str | None) -> tuple[int, int, dict[str, Any]]:
    """(rev, seq, data) of the commit `repair` appends after lost history: its
    rev and its `history_lost` event's seq follow the highest ever recorded,
    so no rev or seq is ever reused for something else."""
    rev = max([journal.rev, state_rev, *(m.rev for m in marks)]) + 1
    seq = max([journal.last_seq + 1, *(m.next_seq for m in marks)])
    lost_revs = [[journal.rev + 1, rev - 1]] if rev - 1 > journal.rev else []
    lost_seqs = [[journal.last_seq + 1, seq - 1]] if seq - 1 > journal.last_seq else []
    parts = []
    if lost_revs:
        parts.append(f"the records of transitions rev {_range(*lost_revs[0])}")
    if lost_seqs:
        parts.append(f"events seq {_range(*lost_seqs[0])}")
    what = " and ".join(parts) or "the journal's content"
    message = f"{what} were lost from history.ndjson and cannot be recovered; "
    message += (f"the state was rebuilt at rev {state_rev} (later work will be redone)"
                if state_rev < rev - 1 else "the state was kept whole")
    if journal_copy:
        message += f"; the damaged journal was kept as {journal_copy}"
    data = {"lost_revs": lost_revs, "lost_seqs": lost_seqs, "state_rev": state_rev,
            "journal_copy": journal_copy, "message": message}
    return rev, seq, data
