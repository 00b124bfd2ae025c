"""Deterministic cost measures for tests: how much work a call does, counted
rather than timed, so a test gives the same answer on a loaded machine.
(Wall and CPU times are measured by the scripts in bench/.)"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any


def calls(fn: Callable[[], Any]) -> int:
    """How many Python and C functions `fn()` calls (counted with
    `sys.setprofile`; the same for the same input on every machine)."""
    count = 0

    def profiler(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    old = sys.getprofile()
    sys.setprofile(profiler)
    try:
        fn()
    finally:
        sys.setprofile(old)
    return count
