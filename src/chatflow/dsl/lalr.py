"""A lean LALR(1) driver and lexer running lark's own tables, without lark.

lark builds the `.flow` grammar's LALR tables (see `parser.write_tables`);
`export` turns them into plain JSON data, and `Tables` runs them: one master
regex for the lexer, a flat action table, and the grammar's child filtering
(`?rule` inlining, `[x]` placeholders, dropped anonymous tokens, helper-rule
splicing) precomputed per rule. It does what lark's `parse` with the
contextual lexer and an inline transformer does for every input it accepts,
and gives up (`Fallback`) on anything else — the caller then runs lark
itself, which owns error reporting. This keeps lark's import and its
per-token overhead off the path of every file that parses.

Why the tokenisation matches lark's contextual lexer whenever the parse
succeeds: terminals are tried in lark's order (first match wins), keywords
are read as NAME and re-typed like lark's "unless" callback, and a keyword
the current state does not accept is read as NAME when NAME is accepted,
exactly as lark's per-state lexer does. Where lark's per-state lexer would
split a token differently (`notify` as `not` `ify` where no NAME may follow),
the token found here is not accepted in that state, so the driver gives up
and lark decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from sys import intern
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatflow.dsl import lark_shim

__all__ = ["Fallback", "Tables", "Token", "export"]

FORMAT = 1
"""Version of the exported table layout (bump when `export` changes)."""


class Fallback(Exception):
    """The input is not one this driver can decide on; let lark parse it."""


class Token:
    """A terminal as the parse callbacks see it: the attributes of lark's
    `Token` that they use (`type`, `value` and positions)."""

    __slots__ = ("column", "end_column", "end_line", "end_pos", "line", "start_pos",
                 "type", "value")

    def __init__(self, type_: str, value: str, line: int, column: int, end_line: int,
                 end_column: int, start_pos: int, end_pos: int) -> None:
        self.type = type_
        self.value = value
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column
        self.start_pos = start_pos
        self.end_pos = end_pos

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {self.value!r})"


# --------------------------------------------------------------------- export


def _has_newline(regexp: str) -> bool:
    # lark's own conservative test (lexer._regexp_has_newline)
    return ("\n" in regexp or "\\n" in regexp or "\\s" in regexp or "[^" in regexp
            or ("(?s" in regexp and "." in regexp))


def export(lark_parser: Any, grammar: str) -> dict[str, Any]:
    """The tables of a `Lark(..., parser="lalr", lexer="contextual",
    maybe_placeholders=True)` instance as JSON-ready data (read through
    `dsl.lark_shim`, the one place that knows lark's internals)."""
    from chatflow.dsl import lark_shim

    lexer = lark_shim.lexer_view(lark_parser)
    table = lark_shim.table_view(lark_parser)
    rules = lark_shim.rule_views(lark_parser)
    states = [{sym: arg if action == "shift" else ~arg for sym, (action, arg) in acts.items()}
              for acts in table.states]
    kept = {name for r in rules for name, is_term, filter_out in r.expansion
            if is_term and not filter_out}
    return {
        "format": FORMAT,
        "grammar": grammar,
        "terminals": [list(t) for t in lexer.terminals],
        "keywords": lexer.keywords,
        "ignore": lexer.ignore,
        "newline": sorted(name for name, regexp in lexer.terminals if _has_newline(regexp)),
        "kept": sorted(kept),
        "states": states,
        "start_states": table.start_states,
        "end_states": table.end_states,
        "rules": [_export_rule(r) for r in rules],
    }


def _export_rule(rule: lark_shim.RuleView) -> list[Any]:
    """[origin, size, callback name, expand-single-child, include, append_none]
    as lark's ParseTreeBuilder (maybe_placeholders=True, LALR) sets them up;
    include is None when lark applies no child filter."""
    if rule.keep_all_tokens:
        raise ValueError("`!rule` is not supported by the fast driver")
    expansion = rule.expansion
    empty = rule.empty_indices
    if empty:
        s = "".join(str(int(b)) for b in empty)
        nones = [len(ones) for ones in s.split("0")]
    else:
        nones = [0] * (len(expansion) + 1)
    include: list[list[int]] = []
    pending = 0
    for i, (name, is_term, filter_out) in enumerate(expansion):
        pending += nones[i]
        if not (is_term and filter_out):
            expand = not is_term and name.startswith("_")
            include.append([i, int(expand), pending])
            pending = 0
    pending += nones[len(expansion)]
    filtered = bool(empty) or len(include) < len(expansion) or any(x[1] for x in include)
    name = rule.alias or rule.template_source or rule.origin
    return [rule.origin, len(expansion), name, bool(rule.expand1 and not rule.alias),
            include if filtered else None, pending if filtered else 0]


# --------------------------------------------------------------------- running

Callback = Callable[[list[Any]], Any]
# How a rule's value is made from its children (the `kind` of a rule):
_IDENTITY = 0  # `?a: b`: the child's value, and nothing to pop (a unit rule)
_PICK = 1  # `?a: "(" b ")"`: one kept child's value
_CALL = 2  # a callback on the children

# What the lexer does with a match (by terminal):
_K_SKIP = 0  # ignored (comments)
_K_SKIP_NL = 1  # ignored, may hold newlines (blanks)
_K_NAME = 2  # NAME, maybe a keyword
_K_DROP = 3  # anonymous punctuation: only its type matters
_K_KEEP = 4  # a named terminal the callbacks see
_K_KEEP_NL = 5  # the same, of a terminal lark thinks may span lines
_K_ERROR = 6  # no terminal matches here


def _filter(include: list[list[int]], append_none: int, expand1: bool,
            method: Callback | None, origin: str) -> Callback:
    """lark's ChildFilterLALR (+ ExpandSingleChild) in front of `method`;
    helper rules (`_x`, `__x_star_0`) give the list itself, for the parent
    to splice in."""
    steps = [(i, bool(expand), nones) for i, expand, nones in include]
    plain = all(not e and not n for _, e, n in steps) and not append_none
    picks = [i for i, _, _ in steps]
    if plain and method is not None and not expand1:
        if len(picks) == 1:
            only = picks[0]
            return lambda c: method([c[only]])
        get = itemgetter(*picks)
        return lambda c: method(list(get(c)))

    def finish(filtered: list[Any]) -> Any:
        if expand1 and len(filtered) == 1:
            return filtered[0]
        if method is None:
            if origin.startswith("_"):
                return filtered
            raise Fallback(f"no callback for {origin}")
        return method(filtered)

    if plain:
        return lambda c: finish([c[i] for i in picks])

    def general(children: list[Any]) -> Any:
        filtered: list[Any] = []
        for i, expand, nones in steps:
            if nones:
                filtered += [None] * nones
            if expand:
                if filtered:
                    filtered += children[i]
                else:  # left recursion: grow the child's list in place
                    filtered = children[i]
            else:
                filtered.append(children[i])
        if append_none:
            filtered += [None] * append_none
        return finish(filtered)
    return general


class Tables:
    """Exported tables bound to one callbacks object (a grammar transformer)."""

    def __init__(self, data: dict[str, Any], callbacks: object) -> None:
        terms = data["terminals"]
        self._regex = re.compile(
            "|".join(f"({rx})" for _, rx in terms) + r"|([\s\S])")
        if self._regex.groups != len(terms) + 1:
            raise ValueError("a terminal pattern has capturing groups")
        # group number -> terminal name; the last group is "no terminal matches"
        self._names: list[str | None] = [None, *(n for n, _ in terms), None]
        self._error_group = len(terms) + 1
        self._name_group = 1 + [n for n, _ in terms].index("NAME")
        ignore = set(data["ignore"])
        newline = set(data["newline"])
        self._kept = frozenset(data["kept"])
        # what to do with a match, by group number
        self._kinds = [_K_ERROR] * (len(terms) + 2)
        for g, n in enumerate(self._names):
            if n is None:
                continue
            if n in ignore:
                self._kinds[g] = _K_SKIP_NL if n in newline else _K_SKIP
            elif n == "NAME":
                self._kinds[g] = _K_NAME
            elif n not in self._kept:
                self._kinds[g] = _K_DROP
            else:
                self._kinds[g] = _K_KEEP_NL if n in newline else _K_KEEP
        self._keywords: dict[str, str] = data["keywords"]
        self._states: list[dict[str, int]] = data["states"]
        self._start: dict[str, int] = data["start_states"]
        self._end: dict[str, int] = data["end_states"]
        self._end_states = frozenset(self._end.values())
        # per rule: (size, origin, kind, callback, index of the picked child - size)
        self._rules: list[tuple[int, str, int, Callback | None, int]] = []
        self._chains: dict[tuple[int, int, str], tuple[int, int | None]] = {}
        for origin, size, name, expand1, include, append_none in data["rules"]:
            method = getattr(callbacks, name, None)
            if include is None:
                if expand1 and size == 1:
                    self._rules.append((size, origin, _IDENTITY, None, 0))
                    continue
                include = [[i, 0, 0] for i in range(size)]
                if method is not None and not expand1:
                    self._rules.append((size, origin, _CALL, method, 0))
                    continue
            if (expand1 and not append_none and len(include) == 1
                    and not include[0][1] and not include[0][2]):
                self._rules.append((size, origin, _PICK, None, include[0][0] - size))
                continue
            cb = _filter(include, append_none, expand1, method, origin)
            self._rules.append((size, origin, _CALL, cb, 0))

    def parse(self, text: str, start: str) -> Any:
        """The callbacks' value for `text` parsed from `start`; `Fallback`
        when lark has to decide (any lexical or syntax error)."""
        states = self._states
        rules = self._rules
        names = self._names
        kinds = self._kinds
        keywords = self._keywords
        kept = self._kept
        chains = self._chains
        sstack = [self._start[start]]
        vstack: list[Any] = []
        push_s = sstack.append
        push_v = vstack.append
        line = 1
        line_start = 0
        for m in self._regex.finditer(text):
            g: int = m.lastindex  # type: ignore[assignment]  # every alternative is a group
            kind = kinds[g]
            if kind == _K_SKIP_NL:
                value = m.group()
                n = value.count("\n")
                if n:
                    line += n
                    line_start = m.start() + value.rindex("\n") + 1
                continue
            if kind == _K_SKIP:
                continue
            acts = states[sstack[-1]]
            if kind == _K_NAME:
                # names repeat: one string object each
                value = intern(m.group(g))
                typ = keywords.get(value, "NAME")
                if typ not in acts:
                    typ = "NAME"
                keep = typ in kept
            elif kind == _K_ERROR:
                raise Fallback("no terminal matches")
            else:
                typ = names[g]  # type: ignore[assignment]  # None only for the error group
                keep = kind != _K_DROP
            a = acts.get(typ)
            if a is None:
                raise Fallback(typ)
            tok: Token | None = None
            if keep:
                s, e = m.span(g)
                col = s - line_start + 1
                if kind == _K_KEEP:
                    value = intern(m.group(g))  # operators repeat too
                elif kind == _K_KEEP_NL:
                    value = m.group(g)
                    if "\n" in value:  # a multi-line string: positions as lark gives them
                        first = line
                        line += value.count("\n")
                        line_start = s + value.rindex("\n") + 1
                        tok = Token(typ, value, first, col, line, e - line_start + 1, s, e)
                if tok is None:
                    tok = Token(typ, value, line, col, line, col + e - s, s, e)
            while a < 0:
                size, origin, kind, cb, pick = rules[~a]
                if kind == _IDENTITY:
                    # a run of unit rules (`?sum: product` ...) depends only on
                    # the two top states and the lookahead: resolve it once
                    key = (sstack[-2], sstack[-1], typ)
                    hit = chains.get(key)
                    if hit is None:
                        hit = chains[key] = self._chain(key)
                    sstack[-1], a = hit
                    if a is None:
                        raise Fallback(typ)
                    continue
                if kind == _PICK:
                    picked = vstack[pick]
                    del sstack[-size:]
                    del vstack[-size:]
                    push_v(picked)
                else:
                    if size:
                        children = vstack[-size:]
                        del sstack[-size:]
                        del vstack[-size:]
                    else:
                        children = []
                    push_v(cb(children))  # type: ignore[misc]
                top = states[sstack[-1]][origin]
                push_s(top)
                a = states[top].get(typ)
                if a is None:
                    raise Fallback(typ)
            push_s(a)
            push_v(tok)
        return self._finish(sstack, vstack, self._end[start])

    def _chain(self, key: tuple[int, int, str]) -> tuple[int, int | None]:
        """Where a run of unit-rule reductions from `key` (state below, top
        state, lookahead) ends: the new top state and its action. At the end
        of input the run stops on reaching an end state, as lark's does."""
        below, top, typ = key
        states = self._states
        a = states[top].get(typ)
        while a is not None and a < 0:
            _, origin, kind, _, _ = self._rules[~a]
            if kind != _IDENTITY:
                break
            top = states[below][origin]
            if typ == "$END" and top in self._end_states:
                break
            a = states[top].get(typ)
        return top, a

    def _finish(self, sstack: list[int], vstack: list[Any], end_state: int) -> Any:
        """Reduce at the end of input until `end_state` is reached."""
        states = self._states
        rules = self._rules
        chains = self._chains
        while True:
            a = states[sstack[-1]].get("$END")
            if a is None or a >= 0:
                raise Fallback("$END")
            size, origin, kind, cb, pick = rules[~a]
            if kind == _IDENTITY:
                key = (sstack[-2], sstack[-1], "$END")
                hit = chains.get(key)
                if hit is None:
                    hit = chains[key] = self._chain(key)
                sstack[-1] = hit[0]
            elif kind == _PICK:
                picked = vstack[pick]
                del sstack[-size:]
                del vstack[-size:]
                vstack.append(picked)
                sstack.append(states[sstack[-1]][origin])
            else:
                if size:
                    children = vstack[-size:]
                    del sstack[-size:]
                    del vstack[-size:]
                else:
                    children = []
                vstack.append(cb(children))  # type: ignore[misc]
                sstack.append(states[sstack[-1]][origin])
            if sstack[-1] == end_state:
                return vstack[-1]
