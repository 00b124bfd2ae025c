"""`chatflow.deep`: room for deep input, and nothing left behind."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from chatflow import deep


def recurse(n: int) -> int:
    return 0 if n == 0 else 1 + recurse(n - 1)


def test_a_deep_thread_has_room_and_returns_the_result() -> None:
    before = sys.getrecursionlimit()
    assert deep.in_deep_thread(recurse, 20_000) == 20_000
    assert sys.getrecursionlimit() == before  # restored


def test_a_deep_thread_raises_the_callers_exception_and_nests_in_place() -> None:
    def inner() -> str:
        return threading.current_thread().name

    def outer() -> tuple[str, str]:
        return threading.current_thread().name, deep.in_deep_thread(inner)

    names = deep.in_deep_thread(outer)
    assert names[0] == names[1] == "chatflow-deep"
    with pytest.raises(ZeroDivisionError):
        deep.in_deep_thread(lambda: 1 // 0)
    with pytest.raises(KeyError):
        deep.runs_in_deep_thread(lambda: {}["x"])()


def test_room_raises_the_limit_on_this_thread_and_restores_it() -> None:
    before = sys.getrecursionlimit()
    with deep.room():
        assert sys.getrecursionlimit() == max(before, deep.ROOM_FRAMES)
        with deep.room():
            assert recurse(deep.ROOM_FRAMES - 500) == deep.ROOM_FRAMES - 500
        assert sys.getrecursionlimit() == max(before, deep.ROOM_FRAMES)
    assert sys.getrecursionlimit() == before
    assert deep.here(recurse, 3_000) == 3_000


def test_methods_with_room_cover_lazy_results() -> None:
    @deep.methods_with_room
    class Thing:
        def limit(self) -> int:
            return sys.getrecursionlimit()

        def items(self) -> Iterator[int]:
            yield sys.getrecursionlimit()

    before = sys.getrecursionlimit()
    assert Thing().limit() >= deep.ROOM_FRAMES
    assert next(iter(Thing().items())) >= deep.ROOM_FRAMES
    assert sys.getrecursionlimit() == before


def test_without_address_space_for_a_big_stack_the_phase_runs_in_place(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deep, "STACK_BYTES", 1 << 62)  # refused by stack_size or start
    assert deep.in_deep_thread(recurse, 3_000) == 3_000
