"""The one use of `re` beyond its public API: reading a pattern's structure
(the standard library's private `re._parser`, `sre_parse` before 3.11), for
`regex_guard` to refuse patterns that backtrack exponentially.

`parse` hands out plain `RegexNode`s — repeats with their bounds, groups,
alternations, lookarounds, backreferences — so nothing else depends on the
parser's tuples; `check_shape()` (run by the test suite) fails loudly when
the standard library changes them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["ReChanged", "RegexNode", "check_shape", "parse"]


class ReChanged(RuntimeError):
    """`re`'s private parser no longer has the shape this module reads."""


@dataclass(frozen=True, slots=True)
class RegexNode:
    """`kind`: "repeat" (`low`..`high` times its one body), "group" (plain,
    atomic or lookaround: one body), "alternation" (one body per branch),
    "backref", or "atom" (anything without a body)."""

    kind: str
    low: int = 1
    high: int = 1
    bodies: tuple[tuple[RegexNode, ...], ...] = ()


_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_BACKREFS = frozenset({"GROUPREF", "GROUPREF_EXISTS"})


def _parser() -> Any:
    for name in ("re._parser", "sre_parse"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ReChanged("neither re._parser nor sre_parse exists; update "
                    "chatflow/runtime/re_shim.py")


def parse(pattern: str, flags: int = 0) -> tuple[RegexNode, ...]:
    """The structure of a pattern that `re.compile` accepted (RecursionError
    for one nested too deeply)."""
    return _convert(_parser().parse(pattern, flags))


def _convert(items: Any) -> tuple[RegexNode, ...]:
    out = []
    for op, av in items:
        name = str(op)
        if name in _REPEATS:
            low, high, body = av
            out.append(RegexNode("repeat", int(low), int(high), (_convert(body),)))
        elif name == "SUBPATTERN":
            out.append(RegexNode("group", bodies=(_convert(av[-1]),)))
        elif name == "ATOMIC_GROUP":
            out.append(RegexNode("group", bodies=(_convert(av),)))
        elif name in ("ASSERT", "ASSERT_NOT"):
            out.append(RegexNode("group", bodies=(_convert(av[1]),)))
        elif name == "BRANCH":
            out.append(RegexNode("alternation", bodies=tuple(_convert(b) for b in av[1])))
        elif name in _BACKREFS:
            out.append(RegexNode("backref"))
        else:
            out.append(RegexNode("atom"))
    return tuple(out)


def check_shape() -> None:
    """Parse patterns with every construct `parse` reads; raise `ReChanged`
    saying which no longer comes out as expected."""
    cases = {
        "(a+)+": ("repeat", "group", "repeat"),
        "(?>a*)": ("group", "repeat"),
        "(?=a)(?!b)": ("group", "atom", "group"),
        "ab|cd": ("alternation", "atom"),
        r"(a)\1": ("group", "atom", "backref"),
        "a{2,5}": ("repeat",),
    }
    for pattern, expected in cases.items():
        try:
            found = _kinds(parse(pattern))
        except Exception as exc:
            raise ReChanged(f"re's parser fails on {pattern!r} ({exc}); update "
                            "chatflow/runtime/re_shim.py") from exc
        if found[: len(expected)] != expected:
            raise ReChanged(f"re's parser reads {pattern!r} as {found}, expected {expected}; "
                            "update chatflow/runtime/re_shim.py")
    bounds = parse("a{2,5}")[0]
    if (bounds.low, bounds.high) != (2, 5):
        raise ReChanged("repeat bounds moved; update chatflow/runtime/re_shim.py")


def _kinds(nodes: tuple[RegexNode, ...]) -> tuple[str, ...]:
    """Kinds in pre-order (first body of each node)."""
    out: list[str] = []
    for node in nodes:
        out.append(node.kind)
        if node.bodies:
            out.extend(_kinds(node.bodies[0]))
    return tuple(out)
