"""`matches(text, pattern)`: user regular expressions, run within bounds.

Python's `re` has no timeout, so instead of bounding run time the shapes
that backtrack exponentially are refused before a pattern is used (a
variable-length repeat inside another repeat, backreferences), and the
subject and pattern sizes are bounded; what remains runs in polynomial time.
Every problem is a `ValueError` whose message the evaluator shows.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Any

__all__ = ["MATCH_MAX_PATTERN", "MATCH_MAX_SUBJECT", "regex_search"]

MATCH_MAX_SUBJECT = 1 << 20
MATCH_MAX_PATTERN = 1000


def regex_search(pattern: str, subject: str) -> bool:
    """Whether `pattern` matches somewhere in `subject`; ValueError for a
    pattern that is invalid or refused, or a subject over the limit."""
    if len(subject) > MATCH_MAX_SUBJECT:
        raise ValueError(f"text too long for `matches` ({len(subject)} characters, "
                         f"limit {MATCH_MAX_SUBJECT})")
    return _compile_regex(pattern).search(subject) is not None


@lru_cache(maxsize=256)
def _compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile a user regex, refusing the shapes that backtrack exponentially.

    Python's `re` has no timeout, so instead of bounding run time we refuse
    a variable-length repeat inside another repeat (`(a+)+`, `(a?){30}`,
    also the harmless `(\\d+\\.)+`: write `[\\d.]+`) and backreferences;
    with the subject size bounded, what remains runs in polynomial time."""
    if len(pattern) > MATCH_MAX_PATTERN:
        raise ValueError(f"regex too long ({len(pattern)} characters, limit {MATCH_MAX_PATTERN})")
    try:
        compiled = re.compile(pattern)
    except (re.error, OverflowError, ValueError) as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
    except RecursionError:
        raise ValueError(f"regex nested too deeply: {pattern!r}") from None
    parser: Any = importlib.import_module("re._parser")
    try:
        parsed = parser.parse(pattern, compiled.flags)
        _refuse_catastrophic(parsed, pattern, inside_repeat=False)
    except RecursionError:
        raise ValueError(f"regex nested too deeply: {pattern!r}") from None
    return compiled


def _refuse_catastrophic(items: Any, pattern: str, inside_repeat: bool) -> None:
    for op, av in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, sub = av
            if hi != lo and inside_repeat:
                raise ValueError(
                    f"regex {pattern!r} nests repeats (like `(a+)+`), which can take "
                    "exponential time; simplify it")
            _refuse_catastrophic(sub, pattern, inside_repeat or hi > 1)
        elif name == "SUBPATTERN":
            _refuse_catastrophic(av[-1], pattern, inside_repeat)
        elif name == "BRANCH":
            for branch in av[1]:
                _refuse_catastrophic(branch, pattern, inside_repeat)
        elif name == "ATOMIC_GROUP":
            _refuse_catastrophic(av, pattern, inside_repeat)
        elif name in ("ASSERT", "ASSERT_NOT"):
            _refuse_catastrophic(av[1], pattern, inside_repeat)
        elif name in ("GROUPREF", "GROUPREF_EXISTS"):
            raise ValueError(f"regex {pattern!r} uses a backreference, which is not supported")
