"""`matches(text, pattern)` and `match(text, pattern)`: user regular
expressions, run within bounds.

Python's `re` has no timeout, so instead of bounding run time the shapes
that backtrack exponentially are refused before a pattern is used (a
variable-length repeat inside another repeat, backreferences), and the
subject and pattern sizes are bounded; what remains runs in polynomial time.
Every problem is a `ValueError` whose message the evaluator shows.
"""

from __future__ import annotations

import re
from functools import lru_cache

from chatflow.runtime import re_shim

__all__ = ["MATCH_MAX_PATTERN", "MATCH_MAX_SUBJECT", "regex_first", "regex_search"]

MATCH_MAX_SUBJECT = 1 << 20
MATCH_MAX_PATTERN = 1000


def regex_search(pattern: str, subject: str) -> bool:
    """Whether `pattern` matches somewhere in `subject`; ValueError for a
    pattern that is invalid or refused, or a subject over the limit."""
    if len(subject) > MATCH_MAX_SUBJECT:
        raise ValueError(f"text too long for `matches` ({len(subject)} characters, "
                         f"limit {MATCH_MAX_SUBJECT})")
    return _compile_regex(pattern).search(subject) is not None


def regex_first(pattern: str, subject: str) -> str | None:
    """The first match of `pattern` in `subject`: its first capture group
    (None when that group took no part), else the whole match; None when
    nothing matches. The same guard and limits as `regex_search`."""
    if len(subject) > MATCH_MAX_SUBJECT:
        raise ValueError(f"text too long for `match` ({len(subject)} characters, "
                         f"limit {MATCH_MAX_SUBJECT})")
    found = _compile_regex(pattern).search(subject)
    if found is None:
        return None
    return found.group(1) if found.re.groups else found.group(0)


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
    try:
        _refuse_catastrophic(re_shim.parse(pattern, compiled.flags), pattern,
                             inside_repeat=False)
    except RecursionError:
        raise ValueError(f"regex nested too deeply: {pattern!r}") from None
    return compiled


def _refuse_catastrophic(items: tuple[re_shim.RegexNode, ...], pattern: str,
                         inside_repeat: bool) -> None:
    for node in items:
        if node.kind == "repeat":
            if node.high != node.low and inside_repeat:
                raise ValueError(
                    f"regex {pattern!r} nests repeats (like `(a+)+`), which can take "
                    "exponential time; simplify it")
            _refuse_catastrophic(node.bodies[0], pattern, inside_repeat or node.high > 1)
        elif node.kind == "backref":
            raise ValueError(f"regex {pattern!r} uses a backreference, which is not supported")
        else:
            for body in node.bodies:
                _refuse_catastrophic(body, pattern, inside_repeat)
