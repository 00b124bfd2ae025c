"""The dependency graph: implicit sequencing, groups, runs_after, cycles."""

from __future__ import annotations

from chatflow.compiler.graph import FlowGraph, build_graph
from chatflow.diagnostics import Diagnostic
from chatflow.dsl.parser import parse_flow
from cost import calls


def graph(body: str) -> tuple[FlowGraph, list[Diagnostic]]:
    module, diags = parse_flow(f"flow f() {{\n{body}\n}}\n", "g.flow")
    assert module is not None and not diags, diags
    return build_graph(module.flows[0])


def test_implicit_sequencing_and_groups() -> None:
    g, diags = graph(
        '  var v: int = 0\n  step a: shell "x"\n  step b: shell "x"\n'
        '  parallel p { step c: shell "x"\n step d: shell "x" }\n'
        '  phase q { step e: shell "x"\n step f2: shell "x" }\n'
        '  repeat r max 2 until h.ok { step h: shell "x"\n step i: shell "x" }\n'
        '  step j after a, p: shell "x"\n  step k: shell "x"')
    assert diags == []
    assert g.order == ["a", "b", "p", "c", "d", "q", "e", "f2", "r", "h", "i", "j", "k"]
    assert g.deps == {"a": (), "b": ("a",), "p": ("b",), "c": (), "d": (), "q": ("p",),
                      "e": (), "f2": ("e",), "r": ("q",), "h": (), "i": ("h",),
                      "j": ("a", "p"), "k": ("j",)}
    assert g.parent["c"] == "p" and g.parent["p"] is None
    assert g.members == {"p": ("c", "d"), "q": ("e", "f2"), "r": ("h", "i")}
    assert g.runs_after("k", "d")       # through j's `after p`
    assert g.runs_after("e", "b")       # a member waits for its group's deps
    assert not g.runs_after("d", "c")   # parallel members have no order
    assert not g.runs_after("j", "q")
    assert not g.runs_after("c", "c")
    assert g.is_inside("h", "r") and not g.is_inside("j", "r")
    order = g.topological_order()
    assert order.index("p") < order.index("c") < order.index("q")


def test_unknown_after_with_suggestion_and_non_step() -> None:
    g, diags = graph('  var v: int = 0\n  step build: shell "x"\n'
                     '  step t after buidl, v: shell "y"')
    assert [(d.code, d.message, d.hint) for d in diags] == [
        ("E0203", "unknown step `buidl` in `after`", "did you mean `build`?"),
        ("E0203", "`v` is a var, not a step or group, in `after`",
         "`after` names steps and groups of this flow"),
    ]
    assert g.deps["t"] == () and "t" in g.broken


def test_cycle_reported_once_from_the_earliest() -> None:
    g, diags = graph('  step a after c: shell "x"\n  step b after a: shell "x"\n'
                     '  step c after b: shell "x"\n  step d after d: shell "x"')
    assert g.has_cycle
    assert [(d.code, d.message, d.span.line) for d in diags] == [
        ("E0404", "cycle in `after`: a → c → b → a", 2),
        ("E0404", "cycle in `after`: d → d", 5),
    ]


def test_member_waiting_for_its_group_is_a_cycle() -> None:
    _g, diags = graph('  phase p { step a after p: shell "x" }')
    assert [d.message for d in diags] == ["cycle in `after`: p → a → p"]
    assert diags[0].span.line == 2 and diags[0].span.column == 26


def test_runs_after_is_linear_on_long_chains() -> None:
    n = 3000
    body = "\n".join(f'  step s{i}: shell "x"' for i in range(n))
    g, _ = graph(body)
    results: list[bool] = []

    def ask() -> None:
        # every step asks about the first one: memoised, not n * n
        results.append(all(g.runs_after(f"s{i}", "s0") for i in range(1, n)))
        results.append(not any(g.runs_after("s0", f"s{i}") for i in range(1, n)))

    spent = calls(ask)  # counted, not timed: the same on a loaded machine
    assert results == [True, True]
    assert spent < 100 * n, spent  # ~36 per step memoised; n * n would be ~1,500
