"""Differential property test of value placement in `shell` commands: the
compiled command text, run by real `dash` and `bash` with the bindings in the
environment, hands a probe (`printf '%s' … > file`) exactly the value's bytes,
and no canary command in the value ever runs.

Commands come from a small grammar of shell contexts (plain words, double and
single quotes, `$( )`, backticks, `${X:-…}` with nested quotes, here-documents
quoted and unquoted — also inside `$( )` —, `case` inside `$( )`, arithmetic,
`sh -c "…"`, `bash -c '…'`, `eval`, a here-document fed to `sh`, comments),
nested a few levels deep, with a hole in each. Values come from hostile
fragments: quotes, backslashes, `$( )`, backticks, newlines, the here-document
delimiter, `;`, `}`, `)`, `#`, unicode. Every hostile fragment only `touch`es a
file in a throw-away canary directory (HOME is a temporary directory too, see
tests/conftest.py).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatflow.compiler.shell_holes import layout, shell_action
from chatflow.compiler.shell_state import DQ, HEREDOC, SQ, encode
from chatflow.runtime.evaluator import EvalError, MapScope
from chatflow.runtime.shell_bindings import bind_shell

SHELLS = ["/usr/bin/dash", "/usr/bin/bash"]


def test_both_shells_are_here() -> None:
    """The differential runs every command under both real shells: a missing
    one is a failure of the machine, never a silent skip."""
    missing = [s for s in SHELLS if not Path(s).exists()]
    assert not missing, f"install {' and '.join(missing)} (Debian packages dash, bash)"

HOLE = None   # a hole in a template (parts: literal text, None)
Parts = tuple[str | None, ...]

CANARIES = [
    '$(touch "$CANARY/a")', '`touch "$CANARY/b"`', '"; touch "$CANARY/c"; echo "',
    "'; touch \"$CANARY/d\"; echo '", '\ntouch "$CANARY/e"\n', "EOF\ntouch \"$CANARY/f\"\nEOF",
    '$(touch "$CANARY/g")\n', '}; touch "$CANARY/h"; {', ')); touch "$CANARY/i"; ((',
    '${X:-$(touch "$CANARY/j")}', "a[$(touch \"$CANARY/k\")]", '\\"; touch "$CANARY/l" #',
]
FRAGMENTS = ["'", '"', "\\", "$", "`", "\n", "EOF", "\nEOF\n", ";", "}", ")", "(", "#", "{",
             "*", "?", "[", "~", "-n", "%s", " ", "\t", "é", "日本", "$HOME", "${HOME}",
             "$((1+1))", "&&", "|", "<<", "!", "\\n", *CANARIES]

values = st.lists(st.sampled_from(FRAGMENTS) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=3), max_size=6).map("".join)


@dataclass(frozen=True)
class Cmd:
    """A command (template parts) that writes some bytes to stdout, and what
    it writes for a value."""

    parts: Parts
    out: Callable[[str], str]

    def __repr__(self) -> str:
        return repr("".join("{v}" if p is None else p for p in self.parts))


def _lit(parts: Parts, ctx: str) -> Parts:
    """The template's literal text re-written for a quoting context (the
    holes stay holes: where they end up is the compiler's business)."""
    return tuple(None if p is None else encode(p, ctx) for p in parts)


def _bt(parts: Parts) -> Parts:
    """Literal text re-written for the inside of backticks."""
    return tuple(None if p is None else p.replace("\\", "\\\\").replace("`", "\\`")
                 .replace("$", "\\$") for p in parts)


def _strip(f: Callable[[str], str]) -> Callable[[str], str]:
    return lambda v: f(v).rstrip("\n")


# producers of the value with a hole in some context
BASES = [
    Cmd(("printf '%s' ", HOLE), lambda v: v),
    Cmd(("printf '%s' pre", HOLE, "post"), lambda v: f"pre{v}post"),
    Cmd(('printf \'%s\' "a ', HOLE, ' b"'), lambda v: f"a {v} b"),
    Cmd(("printf '%s' 'a ", HOLE, " b'"), lambda v: f"a {v} b"),
    Cmd(('printf \'%s\' "${UNSET_X:-"', HOLE, '"}"'), lambda v: v),
    Cmd(("printf '%s' ${UNSET_X:-", HOLE, "}"), lambda v: v),
    Cmd(('printf \'%s\' "`printf \'%s\' "', HOLE, '"`"'), lambda v: v.rstrip("\n")),
    Cmd(("cat <<EOF\n", HOLE, "\nEOF\n"), lambda v: v + "\n"),
    Cmd(("cat <<'EOF'\n$HOME `x` \\ ", HOLE, "\nEOF\n"), lambda v: f"$HOME `x` \\ {v}\n"),
    Cmd(("cat <<-EOF\n\t", HOLE, "\n\tEOF\n"), lambda v: v + "\n"),
    Cmd(("cat <<EOF\n`printf '%s' ", HOLE, "`\nEOF\n"), lambda v: v.rstrip("\n") + "\n"),
    Cmd(('printf \'%s\' "$(cat <<EOF\n', HOLE, '\nEOF\n)"'), lambda v: v.rstrip("\n")),
    Cmd(('printf \'%s\' "$(case x in x) printf \'%s\' ', HOLE, ';; esac)"'),
        lambda v: v.rstrip("\n")),
    Cmd(("printf '%s' ok # ", HOLE), lambda v: "ok"),
    Cmd(("x=$(( 1 << 2 ))\nprintf '%s' ", HOLE), lambda v: v),
    Cmd(("printf '%s' ${UNSET_X:-<<EOF} ", HOLE), lambda v: "<<EOF" + v),
]
INT_BASE = Cmd(('printf \'%s\' "$(( ', HOLE, ' + 1 ))"'), lambda v: str(int(v) + 1))


def _wrappers() -> list[Callable[[Cmd], Cmd]]:
    return [
        lambda c: Cmd(('printf \'%s\' "$( ', *c.parts, '\n)"'), _strip(c.out)),
        lambda c: Cmd(("sh -c ", *("'",), *_lit(c.parts, SQ), "'"), c.out),
        lambda c: Cmd(('bash -c "', *_lit(c.parts, DQ), '"'), c.out),
        lambda c: Cmd(("eval '", *_lit(c.parts, SQ), "'"), c.out),
        lambda c: Cmd((f"sh <<W{len(c.parts)}\n", *_lit(c.parts, HEREDOC),
                       f"\nW{len(c.parts)}\n"), c.out),
        lambda c: Cmd(("case y in y) ", *c.parts, "\n;; esac"), c.out),
        lambda c: Cmd(("( ", *c.parts, "\n)"), c.out),
        lambda c: Cmd(("if true; then ", *c.parts, "\nfi"), c.out),
        lambda c: Cmd((*c.parts, "\n"), c.out),
        lambda c: Cmd(("x=`", *_bt(c.parts), "`\nprintf '%s' \"$x\""), _strip(c.out)),
        lambda c: Cmd(("env A=1 timeout 20 dash -c '", *_lit(c.parts, SQ), "'"), c.out),
        # an unknown wrapper: the nested shell is still found
        lambda c: Cmd(('setpriv bash -ec "', *_lit(c.parts, DQ), '"'), c.out),
        lambda c: Cmd(("y=$( ", *c.parts, "\n)\nprintf '%s' \"$y\""), _strip(c.out)),
    ]


WRAPPERS = _wrappers()


@st.composite
def one_command(draw: st.DrawFn, base: list[Cmd] | None = None) -> Cmd:
    cmd = draw(st.sampled_from(base or BASES))
    for _ in range(draw(st.integers(0, 3))):
        cmd = draw(st.sampled_from(WRAPPERS))(cmd)
    return cmd


@st.composite
def commands(draw: st.DrawFn, base: list[Cmd] | None = None) -> Cmd:
    """One command, or two in sequence (the value in two contexts at once)."""
    first = draw(one_command(base))
    if base is not None or not draw(st.booleans()):
        return first
    second = draw(one_command())
    return Cmd((*first.parts, "\n", *second.parts),
               lambda v: first.out(v) + second.out(v))


def _run(shell: str, text: str, env: dict[str, str], workdir: Path) -> bytes:
    out = workdir / "out"
    if out.exists():
        out.unlink()
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir),
            "OUT": str(out), **env}
    proc = subprocess.run([shell, "-c", 'exec >"$OUT"\n' + text], env=full, cwd=workdir,
                          capture_output=True, timeout=20)
    assert proc.returncode == 0, (shell, text, proc.stderr)
    return out.read_bytes()


def _reopens_nested_quoted_heredoc(cmd: Cmd) -> bool:
    """A quoted here-document with a hole is reopened only in the command's
    own text; inside a nested script it is E0411 (by design)."""
    problems = layout(cmd.parts).problems()
    return bool(problems) and all(p.code == "E0411" for _, p in problems)


def _check(cmd: Cmd, value: str) -> None:
    if _reopens_nested_quoted_heredoc(cmd):
        return
    args = [{"lit": p} if p is not None else {"param": "v"} for p in cmd.parts]
    action = shell_action({"op": "fmt", "args": args})
    with tempfile.TemporaryDirectory() as tmp:
        canary = Path(tmp) / "canary"
        canary.mkdir()
        try:
            text, env = bind_shell(action, MapScope(params={"v": value}))
        except EvalError:
            assert "cf_v" in action.get("integers", ()), (cmd, value)
            return
        for shell in SHELLS:
            got = _run(shell, text, {**env, "CANARY": str(canary)}, Path(tmp))
            assert list(canary.iterdir()) == [], f"{shell}: injection through {text!r}"
            assert got == cmd.out(value).encode("utf-8"), (shell, text, value)


@pytest.mark.slow  # 250 real shells
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands(), values)
def test_value_arrives_as_exact_bytes_and_runs_nothing(cmd: Cmd, value: str) -> None:
    _check(cmd, value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands([INT_BASE]), st.integers(-10**12, 10**12).map(str) | values)
def test_arithmetic_takes_integers_only(cmd: Cmd, value: str) -> None:
    _check(cmd, value)


def test_the_placement_never_reports_an_error_for_the_grammar() -> None:
    """Every command the grammar builds compiles (no E041x)."""
    for base in [*BASES, INT_BASE]:
        for wrap in WRAPPERS:
            cmd = wrap(base)
            assert _reopens_nested_quoted_heredoc(cmd) or not layout(cmd.parts).has_errors(), \
                cmd
