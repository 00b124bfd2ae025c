"""Property: any flow the checker accepts lowers to IR that `load_ir` accepts
(schema and cross-references), deterministically, with source-order nodes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from chatflow.compiler.api import compile_path
from chatflow.compiler.ir import dumps, load_ir

ACTIONS = [
    'shell "echo {p} {n}"',
    'agent "coder" { prompt "do {p}" risk 30 }',
    'python "pkg.mod:fn" { with { a: [1, -2], b: {c: n > 1} } }',
    'approve "ok {ctx.instance_id}?"',
    "set v = v + 1",
    'shell "true" { timeout 2m retry 2 backoff 1s continue_on_error env { K: "v{n}" } '
    'cwd "/tmp" out m: int = len(stdout) + 1 }',
    'call helper(x: n * 2)',
    'call main(p: "again", n: n - 1)',
]
WHENS = ["", " when n > 0", ' when p == "x" or not (n < 2)', " when ctx.attempt >= 1"]


@st.composite
def flows(draw: st.DrawFn) -> str:
    names: list[str] = []
    lines: list[str] = []

    def item(depth: int, prefix: str) -> None:
        i = len(names)
        name = f"{prefix}{i}"
        after = ""
        if draw(st.booleans()) and names:
            after = " after " + draw(st.sampled_from(names))
        when = draw(st.sampled_from(WHENS))
        kind = draw(st.sampled_from(["step"] * 4 + ["phase", "parallel", "repeat"]))
        pad = "  " * (depth + 1)
        if kind == "step" or depth >= 2:
            names.append(name)
            lines.append(f"{pad}step {name}{after}{when}: {draw(st.sampled_from(ACTIONS))}")
            return
        names.append(name)
        head = {"phase": "phase", "parallel": "parallel", "repeat": "repeat"}[kind]
        extra = ""
        if kind == "parallel" and draw(st.booleans()):
            extra = " max 2"
        until_slot = len(lines)
        lines.append("")
        first = len(names)
        for _ in range(draw(st.integers(1, 3))):
            item(depth + 1, prefix)
        if kind == "repeat":
            extra = f" max 3 until {names[first]}.ok ?? false"
        lines[until_slot] = f"{pad}{head} {name}{after}{when}{extra} {{"
        lines.append(pad + "}")

    for _ in range(draw(st.integers(1, 6))):
        item(0, "s")
    body = "\n".join(lines)
    return (
        "flow main(p: str = \"x\", n: int = 1) -> (done: bool) {\n"
        "  max_depth 3\n  var v: int = 0\n"
        f"{body}\n  output done = true\n}}\n"
        "flow helper(x: int) -> (y: int) {\n  step a: shell \"echo {x}\"\n"
        "  output y = x + 1\n}\n"
    )


@given(flows())
@settings(max_examples=60, deadline=None)
def test_accepted_flows_lower_to_valid_ir(text: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "main.flow"
        path.write_text(text, encoding="utf-8")
        result = compile_path(str(path), "main")
        if result.ir is None:
            return  # the checker rejected it (e.g. read-before-run): not our concern
        load_ir(result.ir)
        again = compile_path(str(path), "main")
        assert again.ir is not None and dumps(again.ir) == dumps(result.ir)
        nodes = result.ir["flows"]["main"]["nodes"]
        ids = [n["id"] for n in nodes]
        assert ids == sorted(ids, key=lambda s: int(s[1:]))  # source pre-order
        for n in nodes:
            if n["parent"] is not None:
                assert ids.index(n["parent"]) < ids.index(n["id"])
