"""The per-instance lock of the `file:` and `sqlite:` stores: an exclusive
`flock` on a lock file, re-entrant within a thread.

Each acquisition by a thread that does not hold the lock yet opens the file
anew, so two threads of one process exclude each other (a `flock` belongs to
an open file description) as two processes do; the kernel drops it when the
holder dies, even by SIGKILL.  The same semantics as `filelock.FileLock`
(thread-local, Unix), at the cost of an open, a flock and a close (a few µs
rather than ~170 µs of CPU).  After fork() a child must make a new `Flocks`:
what the parent's threads held is theirs.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["FlockTimeout", "Flocks"]

_POLL_MIN_S = 0.001
_POLL_MAX_S = 0.05


class FlockTimeout(Exception):
    """The lock was not acquired within the timeout."""


class Flocks:
    """Exclusive, per-thread re-entrant locks on lock files."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _held(self) -> dict[str, list[int]]:
        held: dict[str, list[int]] | None = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    @contextmanager
    def hold(self, path: str, timeout: float | None = None) -> Iterator[None]:
        """Hold the lock on `path` (created when missing). `timeout`: seconds
        to wait (None: forever) before `FlockTimeout`; OSError when the file
        cannot be opened (e.g. a directory stands there)."""
        held = self._held()
        mine = held.get(path)
        if mine is not None:
            mine[1] += 1
            try:
                yield
            finally:
                mine[1] -= 1
            return
        fd = _acquire(path, timeout)
        held[path] = [fd, 1]
        try:
            yield
        finally:
            del held[path]
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)


def _acquire(path: str, timeout: float | None) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if deadline is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                _flock_until(fd, deadline)
            if os.fstat(fd).st_nlink > 0:
                return fd
            # unlinked by someone while we waited: lock the file now at `path`
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _flock_until(fd: int, deadline: float) -> None:
    pause = _POLL_MIN_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            raise FlockTimeout(f"timed out waiting for {fd}")
        time.sleep(min(pause, left))
        pause = min(pause * 2, _POLL_MAX_S)
