"""IR → Mermaid / DOT snapshots, and expressions printed back in source syntax."""

from __future__ import annotations

from typing import Any

import pytest

from chatflow.commands import exit_code_for
from chatflow.compiler.graph_render import render, to_dot, to_mermaid
from chatflow.compiler.ir import duration_text, expr_text
from chatflow.diagnostics import ChatflowError


def fmt(*parts: Any) -> dict[str, Any]:
    return {"op": "fmt", "args": list(parts)}


def step(id_: str, parent: str | None = None, deps: tuple[str, ...] = (), when: Any = None,
         action: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": id_, "kind": "step", "parent": parent, "deps": list(deps), "when": when,
            "optional": when is not None, "fields": {},
            "action": action or {"type": "shell", "command": "make " + id_, "bindings": {}},
            "options": {}}


def group(id_: str, kind: str, members: list[str], parent: str | None = None,
          deps: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"id": id_, "kind": kind, "parent": parent, "deps": list(deps), "when": None,
            "optional": False, "fields": {"ok": "bool"}, "members": members, **extra}


def doc() -> dict[str, Any]:
    nodes = [
        step("build", action={"type": "shell", "command": 'make "x" FEATURE="${cf_feature_id}"',
                              "bindings": {"cf_feature_id": {"param": "feature_id"}}}),
        group("checks", "parallel", ["unit", "lint"], deps=("build",), max=2),
        step("unit", "checks"),
        step("lint", "checks"),
        group("loop", "repeat", ["fix", "test"], deps=("checks",), max=3,
              until={"op": "and", "args": [{"step": "test", "field": "ok"},
                                           {"op": ">=", "args": [{"step": "test", "field": "n"},
                                                                 {"lit": 1}]}]}),
        step("fix", "loop", action={"type": "agent", "agent": "fixer"}),
        step("test", "loop", deps=("fix",)),
        group("empty", "phase", [], deps=("loop",),
              when={"op": "not", "args": [{"step": "loop", "field": "ok"}]}),
        step("end", deps=("empty", "build"),
             when={"op": "<", "args": [{"param": "a"}, {"lit": 2}]},
             action={"type": "approve", "message": fmt({"lit": "ship #1?"})}),
    ]
    return {"ir_version": 2, "entry": "main", "flows": {"main": {
        "name": "main", "params": [], "outputs": [], "settings": {}, "vars": [],
        "nodes": nodes}}}


MERMAID = """\
flowchart TD
  %% flow main
  n_build["build<br/>shell make #quot;x#quot; FEATURE=#quot;${cf_feature_id}#quot;"]
  subgraph n_checks["parallel checks · max 2"]
    direction TB
    n_unit["unit<br/>shell make unit"]
    n_lint["lint<br/>shell make lint"]
  end
  subgraph n_loop["repeat loop · max 3 · until test.ok and test.n #gt;= 1"]
    direction TB
    n_fix["fix<br/>agent fixer"]
    n_test["test<br/>shell make test"]
  end
  subgraph n_empty["phase empty · when not loop.ok"]
    direction TB
  end
  n_end["end<br/>approve #quot;ship #35;1?#quot;<br/>when a #lt; 2"]
  n_build --> n_checks
  n_checks --> n_loop
  n_fix --> n_test
  n_loop --> n_empty
  n_empty --> n_end
  n_build --> n_end
  classDef guarded stroke-dasharray: 5 5
  class n_end guarded
"""

DOT = """\
digraph "main" {
  compound=true;
  rankdir=TB;
  node [shape=box, style=rounded, fontname="Helvetica"];
  graph [fontname="Helvetica"];
  "build" [label="build\\nshell make \\"x\\" FEATURE=\\"${cf_feature_id}\\""];
  subgraph "cluster_checks" {
    label="parallel checks · max 2";
    style=dashed;
    "unit" [label="unit\\nshell make unit"];
    "lint" [label="lint\\nshell make lint"];
  }
  subgraph "cluster_loop" {
    label="repeat loop · max 3 · until test.ok and test.n >= 1";
    style=solid;
    color=blue;
    "fix" [label="fix\\nagent fixer"];
    "test" [label="test\\nshell make test"];
  }
  subgraph "cluster_empty" {
    label="phase empty · when not loop.ok";
    style=solid;
    "empty:empty" [shape=point, style=invis];
  }
  "end" [label="end\\napprove \\"ship #1?\\"\\nwhen a < 2", style="rounded,dashed"];
  "build" -> "unit" [lhead="cluster_checks"];
  "unit" -> "fix" [ltail="cluster_checks", lhead="cluster_loop"];
  "fix" -> "test";
  "fix" -> "empty:empty" [ltail="cluster_loop", lhead="cluster_empty"];
  "empty:empty" -> "end" [ltail="cluster_empty"];
  "build" -> "end";
}
"""


def test_mermaid_snapshot() -> None:
    assert to_mermaid(doc()) == MERMAID
    assert render(doc(), "mermaid") == MERMAID


def test_dot_snapshot() -> None:
    assert to_dot(doc()) == DOT
    assert render(doc(), "dot") == DOT


def test_keyword_like_ids_are_prefixed_in_mermaid() -> None:
    # `end` would close a subgraph in Mermaid if it were used bare
    assert "\n  end[" not in to_mermaid(doc()) and "n_end[" in to_mermaid(doc())


def test_unknown_format_and_flow_are_usage_errors() -> None:
    with pytest.raises(ChatflowError) as exc:
        render(doc(), "svg")
    assert exit_code_for(exc.value) == 2 and "mermaid, dot" in exc.value.message
    with pytest.raises(ChatflowError) as exc:
        to_dot(doc(), "nope")
    assert exit_code_for(exc.value) == 2 and "flows: main" in exc.value.message


def b(op: str, x: Any, y: Any) -> dict[str, Any]:
    return {"op": op, "args": [x, y]}


P = {"param": "p"}
Q = {"var": "q"}


@pytest.mark.parametrize(("expr", "text"), [
    ({"lit": "a{b}\n"}, '"a\\{b\\}\\n"'),
    ({"lit": None}, "null"),
    ({"lit": True}, "true"),
    ({"lit": 2.5}, "2.5"),
    ({"dur": 600000}, "10m"),
    ({"ctx": "depth"}, "ctx.depth"),
    ({"self": "stdout"}, "stdout"),
    (b("*", b("+", P, Q), {"lit": 2}), "(p + q) * 2"),
    (b("+", P, b("*", Q, {"lit": 2})), "p + q * 2"),
    (b("-", P, b("-", Q, {"lit": 1})), "p - (q - 1)"),
    (b("-", b("-", P, Q), {"lit": 1}), "p - q - 1"),
    (b("??", b("or", P, Q), {"lit": False}), "p or q ?? false"),
    (b("or", b("??", P, Q), {"lit": False}), "(p ?? q) or false"),
    ({"op": "not", "args": [b("and", P, Q)]}, "not (p and q)"),
    ({"op": "neg", "args": [b("+", P, Q)]}, "-(p + q)"),
    (b("==", b("<", P, Q), {"lit": True}), "(p < q) == true"),
    ({"op": "attr", "name": "k", "args": [{"op": "call", "fn": "json", "args": [P]}]},
     "json(p).k"),
    ({"op": "attr", "name": "k", "args": [b("??", P, Q)]}, "(p ?? q).k"),
    ({"op": "index", "args": [P, b("+", Q, {"lit": 1})]}, "p[q + 1]"),
    ({"op": "list", "args": [P, {"lit": 1}]}, "[p, 1]"),
    ({"op": "map", "keys": ["a", "b"], "args": [P, Q]}, "{a: p, b: q}"),
    (fmt({"lit": "x="}, P, {"lit": "!"}), '"x={p}!"'),
    (b("in", {"lit": "a"}, P), '"a" in p'),
])
def test_expr_text(expr: dict[str, Any], text: str) -> None:
    assert expr_text(expr) == text


@pytest.mark.parametrize(("ms", "text"), [(0, "0s"), (500, "500ms"), (5000, "5s"),
                                          (90_000, "90s"), (7_200_000, "2h"),
                                          (86_400_000, "1d"), (-60_000, "-1m")])
def test_duration_text(ms: int, text: str) -> None:
    assert duration_text(ms) == text
