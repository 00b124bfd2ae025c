"""Room for deep input: run one recursive phase so that source nested
`MAX_NESTING` levels deep (and the IR, AST and values made from it) never
meets Python's recursion limit or overflows the C stack.

The passes over expression trees (checker, lowering, evaluator, AST dump) are
recursive, and so are parts of CPython written in C: the `json` encoder and
decoder, and a dataclass's `==`, `hash` and `repr` over nested nodes. A
1,000-deep expression needs several thousand frames where Python allows
1,000. Two ways to make room, each used once per entry point:

- `in_deep_thread(fn, ...)`, or the decorator `runs_in_deep_thread` (the
  compiler: the public functions of `chatflow.compiler.api`; the CLI's
  compile-side commands, in `chatflow.__main__`): runs `fn` in a thread with
  a big stack (`STACK_BYTES`) and the recursion limit raised to
  `THREAD_FRAMES`, and returns its result or raises its exception in the
  caller. Inside such a thread, nested calls run in place.
- `here(fn, ...)` / `room()`, or the class decorator `methods_with_room`
  (the runtime: `WorkflowEngine`'s public methods; the CLI's runtime
  commands, in `chatflow.__main__`), for phases that must stay on the
  caller's thread (the engine takes Ctrl-C on the driving thread and starts
  threads of its own): raises the limit to `ROOM_FRAMES` only. That is safe
  on an ordinary stack because Python-to-Python calls do not use the C stack
  (CPython >= 3.11), and the C recursion left — `json` over the IR and the
  state, `==` over values — is bounded by the IR's depth
  (`compiler.ir_check.MAX_EXPR_DEPTH`), or by `ROOM_FRAMES` for a value read
  from outside (a few MB of stack at most).

The recursion limit is one per process: it is raised while any phase needs
it (the highest need wins) and restored when the last one ends, unless
something else changed it meanwhile.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

__all__ = ["MAX_NESTING", "ROOM_FRAMES", "STACK_BYTES", "THREAD_FRAMES", "here",
           "in_deep_thread", "methods_with_room", "room", "runs_in_deep_thread"]

MAX_NESTING = 1000
"""Deepest expression / group nesting a source may have (E0107 beyond)."""

THREAD_FRAMES = 50_000
"""Recursion limit inside `in_deep_thread` (about 8 frames per level at
`MAX_NESTING`, with room to spare)."""

STACK_BYTES = 512 * 1024 * 1024
"""Stack of a deep thread (address space, only the touched part is memory):
`THREAD_FRAMES` frames of C recursion at under 10 KiB each."""

ROOM_FRAMES = 6_000
"""Recursion limit of `room()`, on the caller's own stack: the runtime needs
about 4 frames per level of IR."""

P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C")

_local = threading.local()
_lock = threading.Lock()
_needs: list[int] = []      # the limits phases running now asked for
_saved: list[int] = []      # [the limit before the first of them, the limit set]


def _set_limit() -> None:
    """Apply the highest need (called with `_lock` held)."""
    if not _needs:
        if _saved:
            before, ours = _saved
            if sys.getrecursionlimit() == ours:  # nobody else changed it meanwhile
                sys.setrecursionlimit(before)
            _saved.clear()
        return
    if not _saved:
        _saved[:] = [sys.getrecursionlimit(), 0]
    want = max(_saved[0], *_needs)
    if sys.getrecursionlimit() != want:
        sys.setrecursionlimit(want)
    _saved[1] = want


@contextlib.contextmanager
def _limit(frames: int) -> Iterator[None]:
    with _lock:
        _needs.append(frames)
        _set_limit()
    try:
        yield
    finally:
        with _lock:
            _needs.remove(frames)
            _set_limit()


@contextlib.contextmanager
def room() -> Iterator[None]:
    """Raise the recursion limit to `ROOM_FRAMES` on this thread's stack."""
    if getattr(_local, "deep", False):  # a deep thread has more already
        yield
        return
    with _limit(ROOM_FRAMES):
        yield


def here(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` inside `room()`, on this thread."""
    with room():
        return fn(*args, **kwargs)


def in_deep_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in a thread with a big stack and a raised
    recursion limit; its result, or its exception raised here. A
    KeyboardInterrupt here leaves the (daemon) thread to die with the process."""
    if getattr(_local, "deep", False):
        return fn(*args, **kwargs)
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        _local.deep = True
        try:
            result.append(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller, raised there
            error.append(exc)

    with _limit(THREAD_FRAMES):
        with _lock:  # the stack size is read when a thread starts, and is per process
            before = threading.stack_size()
            worker: threading.Thread | None = None
            try:
                threading.stack_size(STACK_BYTES)
                worker = threading.Thread(target=body, name="chatflow-deep", daemon=True)
                worker.start()
            except (ValueError, RuntimeError, MemoryError):  # no room for it (ulimit -v)
                worker = None
            finally:
                threading.stack_size(before)
        if worker is None:
            return here(fn, *args, **kwargs)
        worker.join()
    if error:
        raise error[0]
    return result[0]


def runs_in_deep_thread(fn: Callable[P, T]) -> Callable[P, T]:
    """Decorator: every call of `fn` goes through `in_deep_thread`."""
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return in_deep_thread(fn, *args, **kwargs)
    return wrapper


def methods_with_room(cls: type[C]) -> type[C]:
    """Class decorator: every public method defined in `cls` runs inside `room()`."""
    for name, attr in list(vars(cls).items()):
        if name.startswith("_") or not isinstance(attr, types.FunctionType):
            continue
        setattr(cls, name, _with_room(attr))
    return cls


def _with_room(fn: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with room():
            result = fn(*args, **kwargs)
        if isinstance(result, types.GeneratorType):  # `history`: room while it is read
            return _iter_with_room(result)  # type: ignore[return-value]
        return result
    return wrapper


def _iter_with_room(items: Iterator[T]) -> Iterator[T]:
    with room():
        yield from items
