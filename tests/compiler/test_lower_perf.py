"""Checking and lowering stay linear in the size of the flow.

Measured as the number of function calls the phase makes (Python and C
calls, `tests/cost.py`): a count, not a time, so the test
gives the same answer on an idle laptop and on a loaded CI machine. Wall and
CPU times, and the budget against a bare lark parse, are measured by
`bench/compile.py` (timing ratios flake under load, so they are not tests).
"""

from __future__ import annotations

from typing import Any

from chatflow.compiler.check import check_program
from chatflow.compiler.ir import dumps
from chatflow.compiler.loader import load_program
from chatflow.compiler.lower import lower
from cost import calls


def generate(steps: int) -> str:
    lines = ["flow big(p: str) -> (done: bool) {"]
    for i in range(steps):
        after = f" after s{i - 1}" if i else ""
        when = f" when s{i - 1}.ok ?? false" if i else ""
        lines.append(f'  step s{i}{after}{when}: shell "echo {{p}} {i}" '
                     "{ out n: int = len(stdout) }")
    lines.append(f"  output done = s{steps - 1}.ok ?? false\n}}")
    return "\n".join(lines) + "\n"


def _costs(steps: int) -> tuple[int, int]:
    program, diags = load_program("big.flow", generate(steps))
    assert not [d for d in diags if d.is_error]
    checked_box: list[Any] = []
    check_calls = calls(lambda: checked_box.append(check_program(program)))
    checked, more = checked_box[0]
    assert not [d for d in more if d.is_error]
    lower_calls = calls(lambda: dumps(lower(checked, "big")))
    return check_calls, lower_calls


def test_the_call_counter_sees_quadratic_work() -> None:
    """Guard: the measure itself tells linear from quadratic."""
    def quadratic(n: int) -> None:
        for i in range(n):
            for _ in range(i):
                abs(i)

    assert calls(lambda: quadratic(200)) > 3 * calls(lambda: quadratic(100))


def test_checking_and_lowering_are_linear() -> None:
    # 5x the steps: at most 6x the calls (a quadratic pass would make ~25x)
    check_small, lower_small = _costs(300)
    check_large, lower_large = _costs(1500)
    assert check_large < 6 * check_small, (check_small, check_large)
    assert lower_large < 6 * lower_small, (lower_small, lower_large)
