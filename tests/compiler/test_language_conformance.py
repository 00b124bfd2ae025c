# ruff: noqa: E501  (the case table keeps each source on one line, as written)
"""Conformance of the checker with docs/language.md §2-§7 and the diagnostics
of docs/cli.md, as an outside tester would check it: every rule of §6 (types
and expressions) and every static rule the checker enforces, as a positive
and a negative case.

`CASES` is a table of (id, source, expected diagnostics) where each expected
diagnostic is `CODE@line:column` of the exact token, in the order `chatflow
lint` reports them (source order). An empty list means the program is clean:
no error and no warning. Further tests check exact messages and hints, YAML
sources, imports across files, hand-built syntax trees, and the CLI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from chatflow.compiler.check import check_program
from chatflow.compiler.loader import FlowUnit, Program, load_program
from chatflow.diagnostics import Diagnostic, Span, sort_diagnostics
from chatflow.dsl import ast
from installed_cli import chatflow_command


def lint(tmp_path: Path, src: str, name: str = "t.flow") -> list[Diagnostic]:
    path = tmp_path / name
    path.write_text(src, encoding="utf-8")
    program, diags = load_program(str(path))
    _checked, more = check_program(program)
    return sort_diagnostics(diags + more)


def located(diags: list[Diagnostic]) -> list[str]:
    return [f"{d.code}@{d.span.line}:{d.span.column}" for d in diags]


CASES: list[tuple[str, str, list[str]]] = [
    ('int-widens-to-float-output',
     'flow f(x: int = 1) -> (o: float) { output o = x }',
     []),
    ('int-widens-float-default',
     'flow f(x: float = 1) -> (o: float) { output o = x }',
     []),
    ('int-widens-set',
     'flow f() -> (o: float) { var v: float = 0\n step s: set v = 2\n output o = v }',
     []),
    ('float-not-int',
     'flow f() -> (o: int) { var v: int = 0\n step s: set v = 2.5\n output o = v }',
     ['E0301@2:18']),
    ('json-accepted-anywhere',
     'flow f(j: json = null) -> (a: int, b: list[map[int]], c: str) {\n output a = j\n output b = j\n output c = j.x.y[0] }',
     []),
    ('json-member-index-give-json',
     'flow f(j: json = null) -> (o: int) { output o = j["k"][0].z }',
     []),
    ('eq-int-str-type-error',
     'flow f() -> (o: bool) { output o = 1 == "1" }',
     ['E0311@1:36']),
    ('eq-int-float-ok',
     'flow f() -> (o: bool) { output o = 1 == 1.0 }',
     []),
    ('eq-lists-unrelated',
     'flow f() -> (o: bool) { output o = [1] != ["a"] }',
     ['E0311@1:36']),
    ('eq-null-ok',
     'flow f(x: int? = null) -> (o: bool) { output o = x == null }',
     []),
    ('order-duration-int',
     'flow f() -> (o: bool) { output o = 1s < 2 }',
     ['E0311@1:36']),
    ('order-bools',
     'flow f() -> (o: bool) { output o = true < false }',
     ['E0311@1:36']),
    ('order-ok',
     'flow f() -> (o: bool) { output o = 1s < 2m and "a" < "b" and 1 < 2.5 }',
     []),
    ('div-ints-float',
     'flow f() -> (o: float) { output o = 3 / 2 }',
     []),
    ('div-ints-not-int',
     'flow f() -> (o: int) { output o = 3 / 2 }',
     ['E0301@1:35']),
    ('mod-ints',
     'flow f() -> (o: int) { output o = 7 % 2 }',
     []),
    ('mod-float',
     'flow f() -> (o: float) { output o = 3.0 % 2 }',
     ['E0301@1:37']),
    ('mod-duration',
     'flow f() -> (o: duration) { output o = 1s % 2 }',
     ['E0301@1:40']),
    ('plus-joins',
     'flow f() -> (a: str, b: list[int], c: duration, d: float) {\n output a = "a" + "b"\n output b = [1] + [2]\n output c = 1s + 2m\n output d = 1 + 2.5 }',
     []),
    ('plus-str-int',
     'flow f() -> (o: str) { output o = "a" + 1 }',
     ['E0301@1:35']),
    ('plus-lists-differ',
     'flow f() -> (o: list[int]) { output o = [1] + ["a"] }',
     ['E0301@1:41']),
    ('duration-scale',
     'flow f(d: duration = 5s) -> (o: duration) { output o = d * 2 + d / 2 - -d }',
     []),
    ('unary-minus-str',
     'flow f() -> (o: int) { output o = -"x" }',
     ['E0301@1:36']),
    ('not-int',
     'flow f() -> (o: bool) { output o = not 1 }',
     ['E0301@1:40']),
    ('and-str',
     'flow f() -> (o: bool) { output o = "x" and true }',
     ['E0301@1:36']),
    ('in-list',
     'flow f() -> (o: bool) { output o = 1 in [1, 2] }',
     []),
    ('in-map-key',
     'flow f() -> (o: bool) { output o = "a" in {a: 1} }',
     []),
    ('in-substring',
     'flow f() -> (o: bool) { output o = "a" in "abc" }',
     []),
    ('in-int-in-str',
     'flow f() -> (o: bool) { output o = 1 in "abc" }',
     ['E0311@1:36']),
    ('in-str-in-int-list',
     'flow f() -> (o: bool) { output o = "x" in [1, 2] }',
     ['E0311@1:36']),
    ('in-int-right',
     'flow f() -> (o: bool) { output o = 1 in 5 }',
     ['E0301@1:41']),
    ('in-int-key',
     'flow f() -> (o: bool) { output o = 1 in {a: 1} }',
     ['E0311@1:36']),
    ('in-json',
     'flow f(j: json = null) -> (o: bool) { output o = 1 in j }',
     []),
    ('interp-any',
     'flow f(l: list[int] = [1], m: map[str] = {a: "b"}, d: duration = 1s, n: int? = null) {\n step s: shell "{l} {m} {d} {n} {true} {null} {1.5}" }',
     []),
    ('interp-optional-field',
     'flow f() { step a when true: shell "x"\n step b: shell "echo {a.stdout}" }',
     []),
    ('list-mixed',
     'flow f() -> (o: list[int]) { output o = [1, "a"] }',
     ['E0301@1:45']),
    ('list-widen',
     'flow f() -> (o: list[float]) { output o = [1, 2.5] }',
     []),
    ('empty-list-map',
     'flow f() -> (a: list[int], b: map[int]) { output a = []\n output b = {} }',
     []),
    ('map-member',
     'flow f() -> (o: int) { output o = {a: 1, b: 2}.a + {a: 1}["a"] }',
     []),
    ('map-int-key',
     'flow f() -> (o: int) { output o = {a: 1}[0] }',
     ['E0301@1:42']),
    ('list-str-index',
     'flow f() -> (o: int) { output o = [1, 2]["a"] }',
     ['E0301@1:42']),
    ('str-index',
     'flow f() -> (o: str) { output o = "abc"[0] }',
     []),
    ('index-int',
     'flow f() -> (o: int) { output o = 5[0] }',
     ['E0301@1:35']),
    ('member-int',
     'flow f() -> (o: int) { output o = (5).x }',
     ['E0210@1:39']),
    ('null-to-int',
     'flow f() -> (o: int) { output o = null }',
     ['E0301@1:35']),
    ('null-to-optional',
     'flow f() -> (o: int?) { output o = null }',
     []),
    ('builtins-ok',
     'flow f() -> (a: int, b: bool, c: str, d: json, e: float) {\n output a = len("x") + len([1]) + len({a: 1}) + int("3") + int(2.5)\n output b = startswith("ab", "a") and endswith("ab", "b") and contains([1], 1) and contains({a: 1}, "a") and contains("ab", "a") and matches("ab", "^a")\n output c = lower(upper(trim(" x "))) + str([1]) + str(null)\n output d = json("[1]")\n output e = float("1.5") }',
     []),
    ('builtin-unknown',
     'flow f() -> (o: int) { output o = lenn("x") }',
     ['E0211@1:35']),
    ('builtin-arity',
     'flow f() -> (o: int) { output o = len("x", "y") }',
     ['E0310@1:35']),
    ('builtin-arg-type',
     'flow f() -> (o: int) { output o = len(1) }',
     ['E0310@1:39']),
    ('builtin-int-bool',
     'flow f() -> (o: int) { output o = int(true) }',
     ['E0310@1:39']),
    ('builtin-contains-item',
     'flow f() -> (o: bool) { output o = contains([1, 2], "a") }',
     ['E0310@1:53']),
    ('builtin-bad-regex',
     'flow f() -> (o: bool) { output o = matches("x", "(") }',
     ['E0310@1:49']),
    ('builtin-name-as-value',
     'flow f() -> (o: int) { output o = len }',
     ['E0201@1:35']),
    ('ctx-fields',
     'flow f() -> (o: str) { output o = ctx.instance_id + ctx.feature_id + str(ctx.automation + ctx.attempt + ctx.depth) }',
     []),
    ('ctx-unknown-field',
     'flow f() -> (o: str) { output o = ctx.instance }',
     ['E0210@1:39']),
    ('ctx-as-value',
     'flow f() -> (o: str) { output o = str(ctx) }',
     ['E0214@1:39']),
    ('unknown-name-did-you-mean',
     'flow f(name: str = "") -> (o: str) { output o = nmae }',
     ['E0201@1:49']),
    ('unknown-name-no-guess',
     'flow f() -> (o: str) { output o = zzz }',
     ['E0201@1:35']),
    ('step-as-value',
     'flow f() -> (o: str) { step a: shell "x"\n output o = str(a) }',
     ['E0214@2:17']),
    ('unknown-field',
     'flow f() -> (o: str) { step a: shell "x"\n output o = a.stdot }',
     ['E0210@2:15']),
    ('field-by-bare-name-outside-out',
     'flow f() { step a: shell "{stdout}" }',
     ['E0201@1:28']),
    ('when-int',
     'flow f() { step a when 1: shell "x" }',
     ['E0307@1:24']),
    ('when-str-group',
     'flow f() { phase p when "yes" { step a: shell "x" } }',
     ['E0307@1:25']),
    ('until-str',
     'flow f() { repeat r max 3 until "yes" { step a: shell "x" } }',
     ['E0307@1:33']),
    ('until-reads-body',
     'flow f() { repeat r max 3 until t.ok { step t: shell "x" } }',
     []),
    ('until-reads-iterations',
     'flow f() { repeat r max 3 until r.iterations >= 2 { step t: shell "x" } }',
     []),
    ('opt-when-field-required',
     'flow f() -> (o: bool) { step a when true: shell "x"\n output o = a.ok }',
     ['E0302@2:13']),
    ('opt-coalesce-fixes',
     'flow f() -> (o: bool) { step a when true: shell "x"\n output o = a.ok ?? false }',
     []),
    ('opt-dependent-not-optional',
     'flow f() -> (o: bool) { step a when true: shell "x"\n step b after a: shell "y"\n output o = b.ok }',
     []),
    ('opt-group-when',
     'flow f() -> (o: bool) { phase p when true { step a: shell "x" }\n output o = a.ok }',
     ['E0302@2:13']),
    ('opt-nested-group-when',
     'flow f() -> (o: bool) { parallel p when true { phase q { step a: shell "x" } }\n output o = a.ok }',
     ['E0302@2:13']),
    ('opt-group-own-fields',
     'flow f() -> (o: bool) { phase p when true { step a: shell "x" }\n output o = p.ok }',
     ['E0302@2:13']),
    ('opt-group-no-when',
     'flow f() -> (o: bool) { phase p { step a: shell "x" }\n output o = p.ok and a.ok }',
     []),
    ('opt-in-when',
     'flow f() { step a when true: shell "x"\n step b when a.ok: shell "y" }',
     ['E0302@2:14']),
    ('opt-in-and',
     'flow f() { step a when true: shell "x"\n step b when a.ok and true: shell "y" }',
     ['E0302@2:14']),
    ('opt-in-not',
     'flow f() { step a when true: shell "x"\n step b when not a.ok: shell "y" }',
     ['E0302@2:18']),
    ('opt-in-arith',
     'flow f() -> (o: int) { step a when true: shell "x"\n output o = a.exit_code + 1 }',
     ['E0302@2:13']),
    ('opt-in-compare',
     'flow f() -> (o: bool) { step a when true: shell "x"\n output o = a.exit_code > 0 }',
     ['E0302@2:13']),
    ('opt-eq-allowed',
     'flow f() -> (o: bool) { step a when true: shell "x"\n output o = a.exit_code == 0 }',
     []),
    ('opt-in-builtin',
     'flow f() -> (o: int) { step a when true: shell "x"\n output o = len(a.stdout) }',
     ['E0302@2:17']),
    ('opt-in-in',
     'flow f() -> (o: bool) { step a when true: shell "x"\n output o = "x" in a.stdout }',
     ['E0302@2:20']),
    ('opt-member',
     'flow f() -> (o: json) { step a when true: python "m:f"\n output o = a.value.x }',
     ['E0312@2:13']),
    ('opt-index',
     'flow f() -> (o: str) { step a when true: shell "x"\n output o = a.stdout[0] }',
     ['E0312@2:13']),
    ('opt-to-optional-output',
     'flow f() -> (o: int?) { step a when true: shell "x"\n output o = a.exit_code }',
     []),
    ('opt-param',
     'flow f(x: int? = null) -> (o: int) { output o = x }',
     ['E0302@1:49']),
    ('opt-coalesce-wrong-default',
     'flow f(x: int? = null) -> (o: int) { output o = x ?? "a" }',
     ['E0301@1:49']),
    ('opt-option-prompt',
     'flow f() { step a when true: shell "x"\n step c: agent "z" { prompt a.stdout } }',
     ['E0302@2:29']),
    ('opt-out-field',
     'flow f() -> (o: bool) { step a when true: shell "x" { out n: int = exit_code }\n output o = (a.n ?? 0) == 1 }',
     []),
    ('opt-call-arg',
     'flow g(a: int) -> (r: int) { output r = a }\nflow f() -> (o: int) { step x when true: shell "q"\n step c: call g(a: x.exit_code)\n output o = c.r }',
     ['E0302@3:20']),
    ('opt-call-arg-optional-param',
     'flow g(a: int?) -> (r: int) { output r = a ?? 0 }\nflow f() -> (o: int) { step x when true: shell "q"\n step c: call g(a: x.exit_code)\n output o = c.r }',
     []),
    ('opt-until-body-when',
     'flow f() { repeat r max 3 until t.ok { step t when true: shell "x" } }',
     ['E0302@1:33']),
    ('rbr-missing-after',
     'flow f() { step a: shell "x"\n step b after a: shell "y"\n step c after a when b.ok: shell "z" }',
     ['E0405@3:22']),
    ('rbr-parallel-sibling',
     'flow f() { parallel p { step a: shell "x"\n step b when a.ok: shell "y" } }',
     ['E0405@2:14']),
    ('rbr-parallel-sibling-after',
     'flow f() { parallel p { step a: shell "x"\n step b after a when a.ok: shell "y" } }',
     []),
    ('rbr-later-step',
     'flow f() { step a when b.ok: shell "x"\n step b: shell "y" }',
     ['E0405@1:24']),
    ('rbr-transitive',
     'flow f() { step a: shell "x"\n step z after a: shell "y"\n step b after z: shell "{a.stdout}" }',
     []),
    ('rbr-after-group-reads-member',
     'flow f() { parallel p { step a: shell "x"\n step b: shell "y" }\n step c when a.ok and b.ok: shell "z" }',
     []),
    ('rbr-inside-group-reads-group',
     'flow f() { phase p { step a: shell "x"\n step b when p.ok: shell "y" } }',
     ['E0405@2:14']),
    ('rbr-parallel-phases',
     'flow f() { parallel top { phase p { step a: shell "x" }\n phase q { step b when a.ok: shell "y" } } }',
     ['E0405@2:24']),
    ('rbr-output-reads-anything',
     'flow f() -> (o: bool) { step a when b.ok: shell "x"\n step b: shell "y"\n output o = b.ok and (a.ok ?? true) }',
     ['E0405@1:37']),
    ('rbr-until-reads-outside-earlier',
     'flow f() { step t: shell "x"\n repeat r max 3 until t.ok { step u: shell "y" } }',
     ['W0107@2:23']),
    ('rbr-until-own-ok',
     'flow f() { repeat r max 3 until r.ok { step u: shell "y" } }',
     ['E0405@1:33']),
    ('rbr-out-own-fields',
     'flow f() { step a: shell "x" { out n: int = exit_code\n out m: int = n + a.exit_code }\n step b: shell "{a.m}" }',
     []),
    ('rbr-own-field-in-option',
     'flow f() { step a: shell "x" { cwd a.stdout } }',
     ['E0405@1:36']),
    ('rbr-var-init',
     'flow f() -> (o: str) { step a: shell "x"\n var v: str = a.stdout\n output o = v }',
     ['E0405@2:15']),
    ('rbr-set-after',
     'flow f() -> (o: str) { var v: str = ""\n step a: shell "x"\n step s: set v = a.stdout\n output o = v }',
     []),
    ('rbr-one-per-target',
     'flow f() { step b: agent "y" { prompt "{a.stdout}" with {x: a.exit_code} }\n step a: shell "x" }',
     ['E0405@1:41']),
    ('out-shadows-action-field',
     'flow f() { step a: shell "x" { out ok: bool = exit_code == 0 }\n step b: shell "{a.ok}" }',
     ['W0105@1:36']),
    ('out-later-field',
     'flow f() { step a: shell "x" { out m: int = n + 1\n out n: int = exit_code }\n step b: shell "{a.m}{a.n}" }',
     ['E0201@1:45']),
    ('out-type',
     'flow f() { step a: shell "x" { out n: int = stdout }\n step b: shell "{a.n}" }',
     ['E0301@1:45']),
    ('out-call-outputs',
     'flow g() -> (r: int) { output r = 1 }\nflow f() { step a: call g() { out n: int = r + 1 }\n step b: shell "{a.n}" }',
     []),
    ('out-duplicate',
     'flow f() { step a: shell "x" { out n: int = 1\n out n: int = 2 }\n step b: shell "{a.n}" }',
     ['E0213@2:6']),
    ('default-not-constant',
     'flow f(x: int = 1, y: int = x) { step a: shell "{y}" }',
     ['E0308@1:29']),
    ('default-type',
     'flow f(x: int = 1.5) { step a: shell "{x}" }',
     ['E0301@1:17']),
    ('default-constant-list',
     'flow f(x: list[int] = [1, -2], m: map[str] = {a: "b"}, d: duration = -5s) { step a: shell "{x}{m}{d}" }',
     []),
    ('set-param',
     'flow f(p: int = 1) { step s: set p = 2 }',
     ['E0306@1:34']),
    ('set-step',
     'flow f() { step a: shell "x"\n step s: set a = 2 }',
     ['E0306@2:14']),
    ('set-unknown-did-you-mean',
     'flow f() -> (o: int) { var count: int = 0\n step s: set cuont = 2\n output o = count }',
     ['E0306@2:14']),
    ('set-type',
     'flow f() -> (o: int) { var v: int = 0\n step s: set v = "x"\n output o = v }',
     ['E0301@2:18']),
    ('var-type',
     'flow f() -> (o: int) { var v: int = "zero"\n output o = v }',
     ['E0301@1:37']),
    ('call-ok-defaults',
     'flow g(a: int, b: str = "x") -> (r: int) { output r = a + len(b) }\nflow f() -> (o: int) { step c: call g(a: 1)\n output o = c.r }',
     []),
    ('call-missing',
     'flow g(a: int, b: str = "x") -> (r: int) { output r = a + len(b) }\nflow f() -> (o: int) { step c: call g(b: "y")\n output o = c.r }',
     ['E0303@2:37']),
    ('call-extra',
     'flow g(a: int) -> (r: int) { output r = a }\nflow f() -> (o: int) { step c: call g(a: 1, z: 2)\n output o = c.r }',
     ['E0304@2:45']),
    ('call-misspelt-once',
     'flow g(issue: str) -> (r: int) { output r = len(issue) }\nflow f() -> (o: int) { step c: call g(isue: "x")\n output o = c.r }',
     ['E0304@2:39']),
    ('call-twice',
     'flow g(a: int) -> (r: int) { output r = a }\nflow f() -> (o: int) { step c: call g(a: 1, a: 2)\n output o = c.r }',
     ['E0304@2:45']),
    ('call-ill-typed',
     'flow g(a: int) -> (r: int) { output r = a }\nflow f() -> (o: int) { step c: call g(a: "1")\n output o = c.r }',
     ['E0305@2:42']),
    ('call-int-to-float',
     'flow g(a: float) -> (r: float) { output r = a }\nflow f() -> (o: float) { step c: call g(a: 1)\n output o = c.r }',
     []),
    ('call-unknown-output',
     'flow g() -> (r: int) { output r = 1 }\nflow f() -> (o: int) { step c: call g()\n output o = c.rr }',
     ['E0210@3:15']),
    ('call-unknown-flow',
     'flow f() { step c: call h(a: 1) }',
     ['E0206@1:25']),
    ('call-recursion',
     'flow fib(n: int) -> (r: int) {\n step c when n > 0: call fib(n: n - 1)\n output r = (c.r ?? 0) + 1 }',
     []),
    ('call-with-option',
     'flow g() { step a: shell "x" }\nflow f() { step c: call g() { with {a: 1} } }',
     ['E0216@2:31']),
    ('call-std',
     'import bugfix from "std"\nflow f() -> (o: bool) { step c: call bugfix(issue: "x")\n output o = c.fixed and c.ok }',
     []),
    ('call-std-arg-type',
     'import bugfix from "std"\nflow f() { step c: call bugfix(issue: "x", max_attempts: "3") }',
     ['E0305@2:58']),
    ('dup-flow',
     'flow g() { step a: shell "x" }\nflow g() { step b: shell "x" }',
     ['E0202@2:6']),
    ('dup-param-step',
     'flow f(a: int) { step a: shell "x" }',
     ['W0101@1:8', 'E0202@1:23']),
    ('dup-var-step',
     'flow f() -> (o: int) { var a: int = 0\n step a: shell "x"\n output o = a }',
     ['E0202@2:7']),
    ('dup-group-step',
     'flow f() { phase a { step x: shell "x" }\n step a: shell "x" }',
     ['E0202@2:7']),
    ('dup-across-groups',
     'flow f() { phase p { step x: shell "x" }\n phase q { step x: shell "y" } }',
     ['E0202@2:17']),
    ('dup-params',
     'flow f(a: int, a: str) { step s: shell "{a}" }',
     ['E0202@1:16']),
    ('dup-outputs-decl',
     'flow f() -> (o: int, o: int) { output o = 1 }',
     ['E0202@1:22']),
    ('several-flows-own-namespaces',
     'flow g(a: int) -> (r: int) { output r = a }\nflow f(a: int) -> (r: int) { step c: call g(a: a)\n output r = c.r }',
     []),
    ('output-unbound',
     'flow f() -> (o: int) { step s: shell "x" }',
     ['E0401@1:14']),
    ('output-twice',
     'flow f() -> (o: int) { output o = 1\n output o = 2 }',
     ['E0402@2:9']),
    ('output-undeclared',
     'flow f() -> (o: int) { output o = 1\n output p = 2 }',
     ['E0403@2:9']),
    ('after-unknown',
     'flow f() { step build: shell "x"\n step t after buidl: shell "y" }',
     ['E0203@2:15']),
    ('after-param',
     'flow f(p: int = 1) { step t after p: shell "{p}" }',
     ['E0203@1:35']),
    ('cycle-two',
     'flow f() { step a after b: shell "x"\n step b after a: shell "y" }',
     ['E0404@1:25']),
    ('cycle-self',
     'flow f() { step a after a: shell "x" }',
     ['E0404@1:25']),
    ('cycle-group-member',
     'flow f() { phase p after s { step s: shell "x" } }',
     ['E0404@1:26']),
    ('cycle-member-group',
     'flow f() { phase p { step s after p: shell "x" } }',
     ['E0404@1:35']),
    ('unknown-action',
     'flow f() { step a: shel "x" }',
     ['E0208@1:20']),
    ('unknown-option',
     'flow f() { step a: shell "x" { timout 5s } }',
     ['E0207@1:32']),
    ('dup-option',
     'flow f() { step a: shell "x" { timeout 5s\n timeout 6s } }',
     ['E0213@2:2']),
    ('option-not-for-action',
     'flow f() { step a: shell "x" { prompt "y" } }',
     ['E0216@1:32']),
    ('with-not-for-shell',
     'flow f() { step a: shell "x" { with {a: 1} } }',
     ['E0216@1:32']),
    ('all-options-ok',
     'flow f() { step a: agent "x" { timeout 1m retry 2 backoff 5s risk 0 continue_on_error prompt "p" with {a: 1} env {A: "1"} cwd "d" } }',
     []),
    ('option-no-value-swallows-flag',
     'flow f() { step a: agent "x" {\n prompt\n continue_on_error } }',
     ['E0217@2:2']),
    ('option-no-value-swallows-word',
     'flow f() { step a: shell "x" {\n risk\n foo } }',
     ['E0217@2:2']),
    ('option-var-value-not-swallowed',
     'flow f(dir: str = "") { step a: shell "x" {\n cwd\n dir } }',
     []),
    ('timeout-int',
     'flow f() { step a: shell "x" { timeout 5 } }',
     ['E0301@1:40']),
    ('timeout-zero',
     'flow f() { step a: shell "x" { timeout 0s } }',
     ['E0309@1:40']),
    ('timeout-not-constant',
     'flow f() { step a: shell "x"\n step b: shell "y" { timeout a.exit_code } }',
     ['E0313@2:30']),
    ('risk-range',
     'flow f() { step a: shell "x" { risk 101 } }',
     ['E0309@1:37']),
    ('retry-negative',
     'flow f() { step a: shell "x" { retry -1 } }',
     ['E0309@1:38']),
    ('backoff-negative',
     'flow f() { step a: shell "x" { retry 1 backoff -1s } }',
     ['E0309@1:48']),
    ('env-scalars-ok',
     'flow f(x: int = 1, j: json = null) { step a: shell "x" { env { A: 1, B: true, C: 1.5, D: 5s, E: "s{x}", F: x, G: j } } }',
     []),
    ('env-list',
     'flow f(l: list[int] = [1]) { step a: shell "x" { env { L: l } } }',
     ['E0301@1:59']),
    ('env-map',
     'flow f() { step a: shell "x" { env { M: {a: 1} } } }',
     ['E0301@1:41']),
    ('env-null',
     'flow f() { step a: shell "x" { env { N: null } } }',
     ['E0301@1:41']),
    ('env-optional',
     'flow f() { step a when true: shell "x"\n step b: shell "y" { env { A: a.stdout, B: a.stdout ?? "" } } }',
     ['E0302@2:31']),
    ('env-bad-name',
     'flow f() { step a: shell "x" { env { "A=B": 1 } } }',
     ['E0309@1:38']),
    ('python-target',
     'flow f() { step a: python "nocolon" }',
     ['E0314@1:27']),
    ('unknown-setting',
     'flow f() { versoin "1"\n step a: shell "x" }',
     ['E0209@1:12']),
    ('when-after-action',
     'flow f() { step a: shell "x" when true }',
     ['E0209@1:30']),
    ('option-outside-braces',
     'flow f() { step a: shell "x" timeout 5s }',
     ['E0209@1:30']),
    ('dup-setting',
     'flow f() { version "1"\n version "2"\n step a: shell "x" }',
     ['E0215@2:2']),
    ('quota-unknown-key',
     'flow f() { quota tokens 1, cpus 2s\n step a: shell "x" }',
     ['E0209@1:28']),
    ('quota-type',
     'flow f() { quota cpu 2\n step a: shell "x" }',
     ['E0301@1:22']),
    ('quota-zero',
     'flow f() { quota steps 0\n step a: shell "x" }',
     ['E0309@1:24']),
    ('automation-range',
     'flow f() { automation 101\n step a: shell "x" }',
     ['E0309@1:23']),
    ('parallelism-word',
     'flow f() { parallelism "paralel"\n step a: shell "x" }',
     ['E0309@1:24']),
    ('max-depth-zero',
     'flow f() { max_depth 0\n step a: shell "x" }',
     ['E0309@1:22']),
    ('parallel-max-zero',
     'flow f() { parallel p max 0 { step a: shell "x" } }',
     ['E0309@1:27']),
    ('settings-ok',
     'flow f() { version "1" description "d" automation 60 quota tokens 200_000, cpu 10m, wall 2h, steps 500 max_depth 3 parallelism "concurrent"\n step a: shell "x" }',
     []),
    ('unknown-type',
     'flow f(x: strr = "") { step a: shell "{x}" }',
     ['E0212@1:11']),
    ('type-args',
     'flow f(x: list = [], y: int[str] = 1) { step a: shell "{x}{y}" }',
     ['E0212@1:11', 'E0212@1:25']),
    ('w-unused-param',
     'flow f(unused: int = 1, _ok: int = 2) { step a: shell "x" }',
     ['W0101@1:8']),
    ('w-unused-var',
     'flow f() { var v: int = 0\n step s: set v = 1 }',
     ['W0102@1:16']),
    ('w-unused-out',
     'flow f() { step a: shell "x" { out n: int = exit_code } }',
     ['W0103@1:36']),
    ('w-never-runs',
     'flow f() { step a when false: shell "x"\n phase p when not true { step b: shell "y" } }',
     ['W0104@1:24', 'W0104@2:15']),
    ('w-shadow-builtin',
     'flow f() { step len: shell "x"\n step ctx: shell "y" }',
     ['W0105@1:17', 'W0105@2:7']),
    ('w-shadow-own-field',
     'flow f() -> (o: str) { var stdout: str = ""\n step a: shell "x" { out n: str = stdout }\n output o = a.n + stdout }',
     ['W0105@2:35']),
    ('w-risk-pauses',
     'flow f() { automation 50\n step a: shell "x" { risk 50 }\n step b: shell "y" { risk 49 } }',
     ['W0106@2:27']),
    ('w-risk-default-automation',
     'flow f() { step a: shell "x" { risk 100 } }',
     []),
    ('w-until-ignores-body',
     'flow f() { repeat r max 3 until true { step u: shell "y" } }',
     ['W0107@1:33']),
    ('w-empty-group',
     'flow f() { phase p { }\n parallel q { } }',
     ['W0108@1:18', 'W0108@2:11']),
    ('no-cascade-misspelt-param-use',
     'flow f(feature_id: str) { step a: shell "{featre_id}" }',
     ['E0201@1:43']),
    ('no-cascade-bad-after',
     'flow f() { step a: shell "x"\n step b after zz when a.ok: shell "y" }',
     ['E0203@2:15']),
    ('no-cascade-unknown-in-expr',
     'flow f() -> (o: bool) { output o = endswith(upperr("x") == "y", "z") }',
     ['E0211@1:45']),
    ('no-cascade-not-in-arg',
     'flow g(t: str) { step a: shell "{t}" }\nflow f() { step c: call g(t: not "x") }',
     ['E0301@2:34']),
    ('no-cascade-unknown-until',
     'flow f() { repeat r max 3 until tests.ok ?? false { step t: shell "x" } }',
     ['E0201@1:33']),
    ('no-cascade-unknown-call',
     'flow f() -> (o: int) { step c: call nope(x: 1)\n output o = c.anything }',
     ['E0206@1:37']),
    ('no-cascade-unknown-action',
     'flow f() -> (o: int) { step c: frob "x"\n output o = c.anything }',
     ['E0208@1:32']),
    ('no-cascade-unknown-type',
     'flow f(x: strr = "") -> (o: int) { output o = len(x) }',
     ['E0212@1:11']),
    ('no-cascade-comparison-output',
     'flow f() -> (o: int) { output o = 1 == "1" }',
     ['E0311@1:35']),
    ('no-cascade-set-param',
     'flow f(n: int = 1) { step s: set n = 2 }',
     ['E0306@1:34']),
    # issue 7: strings, braces and call fields (§2, §5), diagnostics that misled (§7)
    ('call-field-clash-at-output',
     'flow child() -> (ok: bool) { output ok = true }\nflow parent() { step c: call child() }',
     ['E0315@1:18']),
    ('call-field-clash-instance-id',
     'flow child() -> (instance_id: str) { output instance_id = "x" }\nflow parent() { step c: call child()\n step d: shell "{c.instance_id}" }',
     ['E0315@1:18']),
    ('call-field-clash-recursive',
     'flow f(n: int = 1) -> (ok: bool) { step c when n > 0: call f(n: n - 1)\n output ok = true }',
     ['E0315@1:24']),
    ('reserved-output-not-called',
     'flow child() -> (ok: bool) { output ok = true }',
     ['W0110@1:18']),
    ('reserved-output-other-name-ok',
     'flow child() -> (passed: bool) { output passed = true }\nflow parent() -> (o: bool) { step c: call child()\n output o = c.ok and c.passed }',
     []),
    ('out-shadows-callee-output',
     'flow child() -> (n: int) { output n = 1 }\nflow parent() -> (o: int) { step c: call child() { out n: int = 2 }\n output o = c.n }',
     ['W0105@2:56']),
    ('until-reads-var-set-in-body',
     'flow f() { var done: bool = false\n repeat r max 3 until done { step a: shell "x"\n step b: set done = a.ok } }',
     []),
    ('until-reads-var-set-outside',
     'flow f() { var done: bool = false\n step pre: set done = true\n repeat r max 3 until done { step a: shell "x" } }',
     ['W0107@3:23']),
    ('unused-param-passed-by-caller',
     'flow g(x: int) { step a: shell "x" }\nflow f() { step c: call g(x: 1) }',
     ['W0101@1:8']),
    ('risk-on-approve-no-effect',
     'flow f() { automation 50\n step a: approve "ok?" { risk 80 } }',
     ['W0111@2:26']),
    ('risk-pauses-still-for-shell',
     'flow f() { automation 50\n step a: shell "x" { risk 80 } }',
     ['W0106@2:27']),
    ('fractional-duration-once',
     'flow f() { step a: shell "x" { timeout 1.5m } }',
     ['E0104@1:40']),
    ('bad-duration-unit-once',
     'flow f() { quota wall 5y }',
     ['E0104@1:23']),
    ('shell-variable-braces',
     'flow f() { step a: shell "echo ${HOME}" }',
     ['E0201@1:33']),
    ('awk-braces',
     'flow f() { step a: shell "awk \'{print $1}\'" }',
     ['E0109@1:32']),
    ('raw-string-shell-variable',
     "flow f() { step a: shell 'echo ${HOME} {x}' }",
     []),
    ('raw-triple-awk',
     "flow f() { step a: shell '''awk '{print $1}'''' }",
     []),
    ('triple-template-holes',
     'flow f(n: str = "x") { step a: shell """\n   echo {n}\n   """ }',
     []),
    ('triple-template-unknown-hole',
     'flow f() { step a: shell """\n   echo {nn}\n   """ }',
     ['E0201@2:9']),
    ('raw-string-as-expression',
     "flow f() -> (o: str) { output o = '{' + 'x' + '}' }",
     []),
]


@pytest.mark.parametrize(("source", "expected"), [(c[1], c[2]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_case(tmp_path: Path, source: str, expected: list[str]) -> None:
    assert located(lint(tmp_path, source)) == expected


def test_case_ids_are_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


# --------------------------------------------------------------------------- exact text

OPTIONAL_HINT = "use `?? default` to give a value for when it is null"

# (source, code, message, hint) of the one diagnostic the source gives
EXACT: list[tuple[str, str, str, str | None]] = [
    ('flow f() -> (o: bool) { step a when true: shell "x"\n output o = a.ok }',
     "E0302", "output `o` expects `bool`, found `bool?` (null when a step it reads did not run)",
     OPTIONAL_HINT),
    ('flow f(x: int? = null) -> (o: int) { output o = x }',
     "E0302", "output `o` expects `int`, found `int?` (it may be null)", OPTIONAL_HINT),
    ('flow f() { step a when true: shell "x"\n step b when not a.ok: shell "y" }',
     "E0302", "`not` needs `bool`, but this may be null (`bool?`)", OPTIONAL_HINT),
    ('flow f() -> (o: bool) { output o = 1 == "1" }',
     "E0311", "cannot compare `int` with `str`",
     "values of unrelated types are never equal; convert one side with `str(...)`, "
     "`int(...)` or `float(...)`"),
    ('flow f() { step build: shell "x"\n step t after buidl: shell "y" }',
     "E0203", "unknown step `buidl` in `after`", "did you mean `build`?"),
    ('flow f() { step a: shell "x"\n step b after a: shell "y"\n step c after a when b.ok: shell "z" }',
     "E0405", "`c` reads `b.ok` but does not run after `b`", "add `after b`"),
    ('flow f() { step a: shell "x" { out m: int = n + 1\n out n: int = exit_code }\n step b: shell "{a.m}{a.n}" }',
     "E0201", "unknown name `n`",
     "`n` is an `out` field written later in this step; an `out` reads only the action's "
     "fields and the `out` fields before it"),
    ('flow f() { step a: agent "x" {\n prompt\n continue_on_error } }',
     "E0217", "option `prompt` needs a value",
     "write it like `prompt \"Summarise {spec}\"`"),
    ('flow f(l: list[int] = [1]) { step a: shell "x" { env { L: l } } }',
     "E0301", "`env` entry `L` must be one of `str`, `int`, `float`, `bool`, `duration`, "
     "found `list[int]`",
     "an environment variable holds one string; write its JSON text with `str(...)` if "
     "that is what the program expects"),
    ('flow g(issue: str) -> (r: int) { output r = len(issue) }\n'
     'flow f() -> (o: int) { step c: call g(isue: "x")\n output o = c.r }',
     "E0304", "`g` has no param `isue`", "did you mean `issue`?"),
    ('flow f() { step a after b: shell "x"\n step b after a: shell "y" }',
     "E0404", "cycle in `after`: a → b → a",
     "step `a` waits for itself; remove one of these dependencies"),
    ('flow f() { step a: shell "x" timeout 5s }',
     "E0209", "unknown setting `timeout`",
     "`timeout` is a step option: put it inside the step's braces, like "
     "`step NAME: ACTION { timeout ... }`"),
]


@pytest.mark.parametrize(("source", "code", "message", "hint"), EXACT)
def test_exact_message(tmp_path: Path, source: str, code: str, message: str,
                       hint: str | None) -> None:
    diags = lint(tmp_path, source)
    assert [(d.code, d.message, d.hint) for d in diags] == [(code, message, hint)]


def test_span_covers_exactly_the_token(tmp_path: Path) -> None:
    src = 'flow f() {\n  step build: shell "x"\n  step test after buidl: shell "pytest"\n}\n'
    [d] = lint(tmp_path, src)
    s = d.span
    assert (s.line, s.column, s.end_line, s.end_column) == (3, 19, 3, 24)
    assert src[s.start:s.end] == "buidl"


def test_all_problems_in_one_pass_in_source_order(tmp_path: Path) -> None:
    src = (
        'import bugfix from "std"\n'
        'flow multi(feature_id: str, n: int = 1) -> (merged: bool, extra: int) {\n'
        '  automation 50\n'
        '  var tries: int = "zero"\n'
        '  step design: agent "chatcoder" {\n'
        '    prompt "Design {featre_id}"\n'
        '    risk 70\n'
        '  }\n'
        '  step build after desgn: shell "make" { timeout 5 }\n'
        '  step unit when build.ok: shell "pytest"\n'
        '  step review when unit.ok: approve "ok?"\n'
        '  step fix: call bugfix(isue: "x")\n'
        '  step s: set n = 2\n'
        '  output merged = review.approved\n'
        '  output merged = true\n'
        '}\n'
    )
    assert located(lint(tmp_path, src)) == [
        "E0401@2:59", "W0102@4:7", "E0301@4:20", "E0201@6:21", "W0106@7:10",
        "E0203@9:20", "E0301@9:50", "E0302@11:20", "E0304@12:25", "E0306@13:15",
        "E0302@14:19", "E0402@15:10",
    ]


# --------------------------------------------------------------------------- YAML

YAML_CASES: list[tuple[str, str, list[str]]] = [
    ("yaml-optional-and-rbr",
     'flow: f\nparams:\n  n: {type: int, default: 1}\noutputs: {o: bool}\nsteps:\n'
     '  - step: a\n    when: "n > 0"\n    shell: "echo {n}"\n'
     '  - step: b\n    when: "a.ok"\n    shell: "x"\noutput:\n  o: "b.ok"\n',
     ["E0302@10:12", "E0302@13:7"]),
    ("yaml-names-and-types",
     'flow: f\noutputs: {o: int}\nsteps:\n  - step: a\n    shell: "echo {nn}"\n'
     '    env: {A: "{a}", B: 1, C: "x{1}"}\noutput:\n  o: "1 == \\"1\\""\n',
     ["E0201@5:18", "E0214@6:16", "E0311@8:7"]),
    ("yaml-call-value-fields",
     'flow: g\nparams: {x: int}\nsteps:\n  - step: a\n    call: g\n    with: {x: "abc"}\n',
     ["W0101@2:10", "E0305@6:16"]),
    ("yaml-call-expression-arg",
     'flow: g\nparams: {x: int}\nsteps:\n  - step: a\n    call: g\n    with: {x: "{x + 1}", y: 2}\n',
     ["E0304@6:26"]),
    ("yaml-env-list",
     'flow: f\nsteps:\n  - step: a\n    shell: x\n    env: {A: 1, B: [1, 2]}\n',
     ["E0301@5:20"]),
    ("yaml-ranges",
     'flow: f\nsteps:\n  - repeat: r\n    max: 3\n    until: "t.ok"\n    steps:\n'
     '      - step: t\n        shell: x\n        timeout: 0s\n        risk: 200\n',
     ["E0309@9:18", "E0309@10:15"]),
    ('yaml-raw-template',
     "flow: f\nsteps:\n  - step: a\n    shell: !raw 'echo ${HOME}'\n",
     []),
    ('yaml-raw-value-and-expression',
     "flow: f\noutputs: {o: str}\nsteps:\n  - step: a\n    shell: x\n    env: {A: !raw '{a}'}\noutput:\n  o: !raw '{o}'\n",
     []),
    ('yaml-raw-misplaced',
     'flow: f\nsteps:\n  - step: a\n    shell: x\n    risk: !raw 5\n',
     ['E0117@5:11']),
    ('yaml-shell-variable',
     "flow: f\nsteps:\n  - step: a\n    shell: 'echo ${HOME}'\n",
     ['E0201@4:19']),
]


@pytest.mark.parametrize(("source", "expected"), [(c[1], c[2]) for c in YAML_CASES],
                         ids=[c[0] for c in YAML_CASES])
def test_yaml_case(tmp_path: Path, source: str, expected: list[str]) -> None:
    assert located(lint(tmp_path, source, "t.yaml")) == expected


# --------------------------------------------------------------------------- imports

def _files(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


LIB = ('flow helper(x: int) -> (y: int) { output y = x + 1 }\n'
       'flow other() { step s: shell "x" }\n')


def test_imports_std_relative_and_nested(tmp_path: Path) -> None:
    _files(tmp_path, {
        "lib.flow": LIB,
        "sub/s.flow": 'import helper from "../lib.flow"\n'
                      'flow s() -> (y: int) { step h: call helper(x: 2)\n output y = h.y }\n',
        "main.flow": 'import helper, other from "./lib.flow"\nimport s from "./sub/s.flow"\n'
                     'import bugfix from "std"\n'
                     'flow main() -> (o: int, f: bool) {\n  step a: call helper(x: 1)\n'
                     '  step b: call other()\n  step c: call bugfix(issue: "x")\n'
                     '  step d: call s()\n  output o = a.y + d.y\n  output f = c.fixed and b.ok\n}\n',
    })
    program, diags = load_program(str(tmp_path / "main.flow"))
    _checked, more = check_program(program)
    assert diags + more == []
    assert set(program.units) >= {"main", "lib.flow:helper", "sub/s.flow:s", "std:bugfix"}


def test_import_errors_one_each_and_no_call_cascade(tmp_path: Path) -> None:
    _files(tmp_path, {"lib.flow": LIB})
    src = ('import helpr from "./lib.flow"\nimport nothere from "std"\n'
           'import x from "./missing.flow"\nimport bugfx from "std"\n'
           'flow bad() { step a: call helpr(x: 1)\n  step b: call nothere()\n'
           '  step c: call x() }\n')
    diags = lint(tmp_path, src, "bad.flow")
    assert located(diags) == ["E0204@1:8", "E0204@2:8", "E0204@3:15", "E0204@4:8"]
    assert diags[0].hint == "did you mean `helper`?"
    assert diags[3].hint == "did you mean `bugfix`?"



def test_errors_of_imported_file_are_reported_warnings_are_not(tmp_path: Path) -> None:
    _files(tmp_path, {
        "te.flow": 'flow te(unused: int = 1) -> (o: int) { output o = "x" }\n',
        "use.flow": 'import te from "./te.flow"\n'
                    'flow use() -> (o: int) { step a: call te()\n output o = a.o }\n',
    })
    program, diags = load_program(str(tmp_path / "use.flow"))
    _checked, more = check_program(program)
    found = sort_diagnostics(diags + more)
    assert [(d.code, Path(d.span.file).name) for d in found] == [("E0301", "te.flow")]


# --------------------------------------------------------------------------- hand-built trees

def _sp(line: int, col: int, width: int = 1) -> Span:
    return Span("h.flow", line, col, line, col + width)


def _run(options: tuple[ast.StepOption, ...]) -> list[Diagnostic]:
    name = ast.Ident("s", _sp(2, 8))
    step = ast.Step(name, None, None, ast.AgentAction(ast.Literal("x", _sp(2, 18, 3)),
                                                     _sp(2, 12)), options, _sp(2, 3))
    flow = ast.Flow(ast.Ident("f", _sp(1, 6)), (), (), (step,), _sp(1, 1))
    module = ast.Module("h.flow", (), (flow,), _sp(1, 1))
    unit = FlowUnit("f", module, flow, {"f": "f"}, is_root=True)
    _checked, diags = check_program(Program("h.flow", {"f": unit}, ["f"]))
    return diags


@pytest.mark.parametrize("option", ["timeout", "risk", "prompt", "cwd", "with", "env"])
def test_option_without_value_in_a_built_tree(option: str) -> None:
    opt = ast.Option(ast.Ident(option, _sp(3, 5, len(option))), None, _sp(3, 5))
    diags = _run((opt,))
    assert [(d.code, d.message, d.span.line, d.span.column) for d in diags] == [
        ("E0217", f"option `{option}` needs a value", 3, 5)]


def test_flag_with_a_value_in_a_built_tree() -> None:
    opt = ast.Option(ast.Ident("continue_on_error", _sp(3, 5, 17)),
                     ast.Literal(True, _sp(3, 23, 4)), _sp(3, 5))
    diags = _run((opt,))
    assert [(d.code, d.message, d.span.column) for d in diags] == [
        ("E0217", "option `continue_on_error` takes no value", 23)]


# --------------------------------------------------------------------------- CLI

def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*chatflow_command(), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


def test_cli_lint_text_json_and_exit_codes(tmp_path: Path) -> None:
    _files(tmp_path, {
        "bad.flow": 'flow bad() {\n  step build: shell "x"\n  step test after buidl: shell "pytest"\n}\n',
        "ok.flow": 'flow ok() { step a: shell "x" }\n',
    })
    bad = _cli("lint", "bad.flow", cwd=tmp_path)
    assert bad.returncode == 1
    assert "Traceback" not in bad.stdout + bad.stderr
    text = bad.stdout + bad.stderr
    assert "error[E0203]: unknown step `buidl` in `after`" in text
    assert " --> bad.flow:3:19" in text
    assert "^^^^^ did you mean `build`?" in text
    js = _cli("lint", "--format", "json", "bad.flow", cwd=tmp_path)
    [d] = json.loads(js.stdout)
    assert (d["code"], d["line"], d["column"], d["end_column"], d["hint"]) == (
        "E0203", 3, 19, 24, "did you mean `build`?")
    assert _cli("lint", "ok.flow", cwd=tmp_path).returncode == 0
    assert _cli("lint", "nope.flow", cwd=tmp_path).returncode == 2


# --------------------------------------------------------------------------- call fields (issue 7)

def test_call_field_clash_across_files_is_reported_at_the_call(tmp_path: Path) -> None:
    _files(tmp_path, {
        "lib.flow": 'flow probe() -> (ok: bool) { output ok = false }\n',
        "use.flow": 'import probe from "./lib.flow"\n'
                    'flow use() -> (o: bool) { step p: call probe()\n output o = p.ok }\n',
    })
    program, diags = load_program(str(tmp_path / "use.flow"))
    _checked, more = check_program(program)
    [d] = sort_diagnostics(diags + more)
    assert (d.code, Path(d.span.file).name, d.span.line, d.span.column) == \
        ("E0315", "use.flow", 2, 40)
    assert d.message == ("`probe` declares an output `ok`, which this call cannot return: "
                         "`p.ok` is whether the call succeeded")
    [note] = d.related
    assert (Path(note.span.file).name, note.span.line, note.span.column) == ("lib.flow", 1, 18)


def test_no_standard_flow_declares_a_call_step_field() -> None:
    from chatflow.compiler.loader import std_dir
    from chatflow.compiler.symbols import CALL_STEP_FIELDS
    from chatflow.dsl.parser import parse_flow

    for path in sorted(Path(std_dir()).glob("*.flow")):
        module, _diags = parse_flow(path.read_text(encoding="utf-8"), str(path))
        assert module is not None, path
        for flow in module.flows:
            clash = {o.name.name for o in flow.outputs} & set(CALL_STEP_FIELDS)
            assert not clash, f"{path.name}: flow {flow.name.name} declares {clash}"


def test_unused_param_hint_names_the_calls_that_pass_it(tmp_path: Path) -> None:
    [d] = lint(tmp_path, 'flow g(x: int) { step a: shell "x" }\nflow f() { step c: call g(x: 1) }')
    assert d.hint == "remove it, and the `x:` argument from the calls that pass it"
    assert [(r.span.line, r.span.column, r.message) for r in d.related] == \
        [(2, 27, "`x` passed here")]
    [d] = lint(tmp_path, 'flow g(x: int) { step a: shell "x" }')
    assert d.hint is not None and "`_x`" in d.hint and "callers then pass `_x:`" in d.hint
