"""The IR's one expression printer (`compiler.ir_text`): printing a tree the
compiler writes, then parsing and lowering the text, gives the same tree; the
parentheses are the fewest that do so; any depth prints without recursion."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chatflow.compiler.ir import duration_text, expr_text
from chatflow.compiler.lower import _ExprLowerer, _Scope
from chatflow.diagnostics import Span
from chatflow.dsl.parser import parse_expression

SCOPE = _Scope(params=frozenset({"p", "q"}), vars=frozenset({"v"}),
               nodes=frozenset({"s"}), own_fields=frozenset({"stdout"}))
BINARY = ("==", "!=", "<", "<=", ">", ">=", "in")
CHAINS = ("??", "or", "and", "+", "-", "*", "/", "%")
TEXT = st.text(st.sampled_from('ab {}"\\\n\t$é'), max_size=6)

leaves = st.one_of(
    st.builds(lambda v: {"lit": v},
              st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                        st.floats(allow_nan=False, allow_infinity=False), TEXT)),
    st.builds(lambda v: {"dur": v}, st.integers(-10**9, 10**9)),
    st.sampled_from([{"param": "p"}, {"param": "q"}, {"var": "v"}, {"self": "stdout"},
                     {"ctx": "attempt"}, {"step": "s", "field": "ok"}]),
)


def _hole_safe(e: dict[str, Any]) -> bool:
    """What a `{…}` hole of a one-line string can hold as printed: no strings,
    maps or nested templates (the lexer keeps holes simple)."""
    if isinstance(e.get("lit"), str) or e.get("op") in ("map", "fmt"):
        return False
    return all(_hole_safe(a) for a in e.get("args", ()))


def _compound(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    def chain(op: str, args: list[dict[str, Any]]) -> dict[str, Any]:
        # The compiler folds a left-nested run of one operator into one node.
        if args[0].get("op") == op:
            args = [*args[0]["args"], *args[1:]]
        return {"op": op, "args": args}

    def neg(arg: dict[str, Any]) -> dict[str, Any]:
        # ... and `-` of a number or duration literal into the literal.
        if "dur" in arg or (isinstance(arg.get("lit"), int | float)
                            and not isinstance(arg.get("lit"), bool)):
            return {"op": "not", "args": [arg]}
        return {"op": "neg", "args": [arg]}

    def fmt(texts: list[str], holes: list[dict[str, Any]]) -> dict[str, Any]:
        args: list[dict[str, Any]] = []
        for text, hole in zip(texts, holes, strict=False):
            if text:
                args.append({"lit": text})
            args.append(hole)
        return {"op": "fmt", "args": args}

    names = st.sampled_from(["a", "b_1", "not", "a-b", "", "if", "else"])
    return st.one_of(
        st.builds(chain, st.sampled_from(CHAINS), st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda op, a, b: {"op": op, "args": [a, b]}, st.sampled_from(BINARY),
                  inner, inner),
        st.builds(lambda a: {"op": "not", "args": [a]}, inner),
        st.builds(lambda c, a, b: {"op": "if", "args": [c, a, b]}, inner, inner, inner),
        st.builds(neg, inner),
        st.builds(lambda a: {"op": "attr", "args": [a], "name": "x"}, inner),
        st.builds(lambda a, b: {"op": "index", "args": [a, b]}, inner, inner),
        st.builds(lambda args: {"op": "call", "fn": "len", "args": args},
                  st.lists(inner, max_size=2)),
        st.builds(lambda args: {"op": "list", "args": args}, st.lists(inner, max_size=3)),
        st.builds(lambda kv: {"op": "map", "keys": list(kv), "args": list(kv.values())},
                  st.dictionaries(names, inner, max_size=3)),
        st.builds(fmt, st.lists(TEXT, min_size=1, max_size=3),
                  st.lists(inner.filter(_hole_safe), min_size=1, max_size=3)),
    )


exprs = st.recursive(leaves, _compound, max_leaves=12)


def _round_trip(e: dict[str, Any]) -> dict[str, Any]:
    text = expr_text(e)
    node, diags = parse_expression(text, Span.unknown("<test>"))
    assert node is not None and not diags, (text, diags)
    return _ExprLowerer(SCOPE).expr(node)


@settings(max_examples=300, deadline=None)
@given(exprs)
def test_printing_then_parsing_gives_the_same_tree(e: dict[str, Any]) -> None:
    assert _round_trip(e) == e


def test_parentheses_are_the_fewest_that_keep_the_tree() -> None:
    p, q = {"param": "p"}, {"param": "q"}
    cases = [
        ({"op": "-", "args": [p, {"op": "-", "args": [q, {"lit": 1}]}]}, "p - (q - 1)"),
        ({"op": "==", "args": [{"op": "==", "args": [p, q]}, {"lit": True}]},
         "(p == q) == true"),
        ({"op": "and", "args": [{"op": "not", "args": [p]}, {"op": "not", "args": [q]}]},
         "not p and not q"),
        ({"op": "attr", "args": [{"lit": -1}], "name": "x"}, "(-1).x"),
        ({"op": "*", "args": [p, {"lit": -2}]}, "p * -2"),
        ({"op": "neg", "args": [{"op": "neg", "args": [p]}]}, "--p"),
        ({"op": "map", "keys": ["a", "not", "b c"], "args": [p, p, p]},
         '{a: p, "not": p, "b c": p}'),
        ({"op": "if", "args": [p, q, {"op": "if", "args": [q, p, {"lit": 1}]}]},
         "if p then q else if q then p else 1"),
        ({"op": "if", "args": [{"op": "if", "args": [p, q, p]}, {"op": "??", "args": [p, q]},
                               p]}, "if if p then q else p then p ?? q else p"),
        ({"op": "??", "args": [{"op": "if", "args": [p, q, p]}, {"op": "if", "args": [p, q, p]}]},
         "(if p then q else p) ?? (if p then q else p)"),
        ({"op": "neg", "args": [{"op": "if", "args": [p, q, p]}]}, "-(if p then q else p)"),
    ]
    for tree, text in cases:
        assert expr_text(tree) == text


def test_any_depth_prints_without_recursion() -> None:
    e: dict[str, Any] = {"param": "p"}
    for _ in range(20_000):
        e = {"op": "neg", "args": [{"op": "attr", "args": [e], "name": "x"}]}
    assert expr_text(e).startswith("-(-(-(")


def test_durations_in_the_largest_exact_unit() -> None:
    assert [duration_text(ms) for ms in (0, 1500, 90_000, -7_200_000, 86_400_000)] == \
        ["0s", "1500ms", "90s", "-2h", "1d"]


def test_not_an_expression_prints_as_an_ellipsis() -> None:
    assert expr_text({"op": "nope", "args": []}) == "…"
    assert expr_text({"op": "+", "args": [{"param": "p"}, 3]}) == "p + …"


def test_a_comparison_of_a_comparison_stays_two_operations() -> None:
    """`(p == q) == true` once lowered to one three-operand `==` (invalid IR)."""
    eq = {"op": "==", "args": [{"op": "==", "args": [{"param": "p"}, {"param": "q"}]},
                               {"lit": True}]}
    assert _round_trip(eq) == eq
