"""The TextMate grammar (grammar/chatflow.tmLanguage.json) scopes every
string form as the parser reads it.

A small tokenizer runs the grammar's own rules — `match`, `begin`/`end` with
nested `patterns`, `include` of repository entries — line by line as an
editor does (the end pattern wins over a nested pattern matching at the same
place; the earliest match wins, the first listed on a tie). Python's `re`
reads the grammar's patterns: they use no Oniguruma-only syntax, which the
first test checks by compiling every one of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

GRAMMAR = Path(__file__).resolve().parents[1] / "grammar" / "chatflow.tmLanguage.json"
DOC = json.loads(GRAMMAR.read_text(encoding="utf-8"))
REPO: dict[str, Any] = DOC["repository"]


def _rules(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("patterns", []):
        yield from _rules(child)


def _all_rules() -> Iterator[dict[str, Any]]:
    yield from _rules({"patterns": DOC["patterns"]})
    for entry in REPO.values():
        yield from _rules(entry)


def test_every_pattern_compiles() -> None:
    for rule in _all_rules():
        for key in ("match", "begin", "end"):
            if key in rule:
                re.compile(rule[key])


def test_every_include_resolves() -> None:
    for rule in _all_rules():
        ref = rule.get("include")
        if ref is not None and ref != "$self":
            assert ref.startswith("#") and ref[1:] in REPO, ref


# --------------------------------------------------------------------------- tokenizer


@dataclass
class _Open:
    rule: dict[str, Any]
    end: re.Pattern[str]
    scopes: tuple[str, ...]  # the scopes inside (the rule's name and contentName)


def _expand(patterns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in patterns:
        ref = p.get("include")
        if ref == "$self":
            out += _expand(DOC["patterns"])
        elif ref is not None:
            entry = REPO[ref[1:]]
            out += _expand(entry["patterns"]) if "match" not in entry and "begin" not in entry \
                else [entry]
        elif "match" not in p and "begin" not in p:
            out += _expand(p.get("patterns", []))
        else:
            out.append(p)
    return out


def scopes(source: str) -> list[list[tuple[str, ...]]]:
    """Per line, per character: the scope names that apply to it."""
    stack: list[_Open] = []
    result: list[list[tuple[str, ...]]] = []
    for line in source.split("\n"):
        chars: list[tuple[str, ...]] = [()] * len(line)
        pos = 0
        while pos <= len(line):
            top = stack[-1] if stack else None
            base = top.scopes if top else ()
            patterns = _expand(top.rule.get("patterns", []) if top else DOC["patterns"])
            best: tuple[int, int, re.Match[str], dict[str, Any] | None] | None = None
            if top is not None:
                m = top.end.search(line, pos)
                if m is not None:
                    best = (m.start(), -1, m, None)
            for i, p in enumerate(patterns):
                m = re.compile(p.get("match") or p["begin"]).search(line, pos)
                if m is not None and (best is None or (m.start(), i) < best[:2]):
                    best = (m.start(), i, m, p)
            if best is None:
                for k in range(pos, len(line)):
                    chars[k] = base
                break
            start, _, m, rule = best
            for k in range(pos, start):
                chars[k] = base
            if rule is None:  # the end of the innermost begin/end rule
                assert top is not None
                outer = top.scopes[:-1] if top.rule.get("contentName") else top.scopes
                for k in range(m.start(), m.end()):
                    chars[k] = outer
                stack.pop()
            elif "match" in rule:
                for k in range(m.start(), m.end()):
                    chars[k] = (*base, rule["name"]) if "name" in rule else base
            else:
                own = (*base, rule["name"]) if "name" in rule else base
                for k in range(m.start(), m.end()):
                    chars[k] = own
                inner = (*own, rule["contentName"]) if "contentName" in rule else own
                stack.append(_Open(rule, re.compile(rule["end"]), inner))
            if m.end() == pos and rule is not None and "match" in rule:
                pos += 1  # an empty match must not stall
            else:
                pos = max(m.end(), pos + (1 if m.end() == m.start() == pos else 0))
        result.append(chars)
    return result


def scope_of(source: str, needle: str, nth: int = 0) -> set[str]:
    """Scopes of every character of the nth occurrence of `needle` (it may
    not cross a line): those that apply to all of them."""
    lines = source.split("\n")
    found = [(i, m.start()) for i, line in enumerate(lines)
             for m in re.finditer(re.escape(needle), line)]
    line, col = found[nth]
    per_char = scopes(source)[line][col:col + len(needle)]
    common = set(per_char[0])
    for s in per_char[1:]:
        common &= set(s)
    return common


# --------------------------------------------------------------------------- the forms

RAW = "string.quoted.single.raw.chatflow"
RAW3 = "string.quoted.triple.raw.chatflow"
TRIPLE = "string.quoted.triple.chatflow"
DOUBLE = "string.quoted.double.chatflow"
HOLE = "meta.interpolation.chatflow"
ESCAPE = "constant.character.escape.chatflow"


def test_double_quoted_strings_keep_their_holes_and_escapes() -> None:
    src = 'step a: shell "echo \\{x\\} {name}"'
    assert DOUBLE in scope_of(src, "echo")
    assert ESCAPE in scope_of(src, "\\{")
    assert HOLE in scope_of(src, "name")


def test_raw_string_has_no_holes() -> None:
    src = "step a: shell 'echo ${HOME} \\n' { timeout 1m }"
    assert RAW in scope_of(src, "${HOME}")
    assert HOLE not in scope_of(src, "HOME")
    assert ESCAPE not in scope_of(src, "\\n")
    assert RAW not in scope_of(src, "timeout")


def test_raw_string_ends_at_the_end_of_its_line() -> None:
    src = "step a: shell 'unclosed\nstep b: shell \"x\""
    assert RAW not in scope_of(src, "step b")


@pytest.mark.parametrize("src", [
    "step a: shell '''ls | awk '{print $1}''''\nstep b: fail \"x\"",
    "step a: shell '''\n  awk '{print $1}'\n  # not a comment\n  '''\nstep b: fail \"x\"",
])
def test_triple_raw_string(src: str) -> None:
    assert RAW3 in scope_of(src, "{print $1}")
    assert HOLE not in scope_of(src, "print")
    assert RAW3 not in scope_of(src, "step b")
    if "# not" in src:
        assert not any("comment" in s for s in scope_of(src, "# not a comment"))


def test_triple_raw_string_keeps_extra_closing_quotes_as_text() -> None:
    src = "x = '''it''''"
    line = scopes(src)[0]
    assert RAW3 in line[src.index("it") + 2]  # the first of the four closing quotes is text
    assert all(RAW3 in s for s in line[src.index("it"):])


def test_triple_quoted_template_spans_lines_with_holes_and_escapes() -> None:
    src = ('step a: shell """\n'
           '  f() \\{ echo "hi {name}"; \\}\n'
           '  f\n'
           '  """\n'
           'step b: fail "x"')
    assert TRIPLE in scope_of(src, "f() ")
    assert HOLE in scope_of(src, "name")
    assert ESCAPE in scope_of(src, "\\{")
    assert TRIPLE in scope_of(src, "  f", 1)
    assert TRIPLE not in scope_of(src, "step b")


def test_a_comment_is_not_taken_from_inside_a_string() -> None:
    src = "step a: shell 'a # b' # real comment"
    assert RAW in scope_of(src, "# b")
    assert "comment.line.number-sign.chatflow" in scope_of(src, "# real")


def test_conditional_keywords_and_text_builtins() -> None:
    src = 'output x = if a then join(split(s, ","), ";") else "{if b then 1 else 2}"'
    for word in ("if", "then", "else"):
        assert "keyword.control.conditional.chatflow" in scope_of(src, word)
        assert "keyword.control.conditional.chatflow" in scope_of(src, word, 1)
    assert "support.function.builtin.chatflow" in scope_of(src, "split")
    assert "support.function.builtin.chatflow" in scope_of(src, "join")
