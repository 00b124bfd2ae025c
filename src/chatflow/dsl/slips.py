"""Common slips behind a syntax error, recognised from the text around it, so
E0101 can say what was meant instead of listing the tokens the parser wanted:

- a name written with `-` (`step create-release`): names cannot contain it;
- a word from another workflow language where a clause keyword belongs
  (`step b if a.ok`, `step b needs a`): did you mean `when` / `after`;
- a clause of a step or group header out of its order (`parallel p max 6
  when ...`), written twice, or before a clause it must follow: the header's
  clauses and their order are named.

Pure functions over the source text; `syntax_errors.convert_error` calls
`slip_at` for an unexpected token.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["Slip", "slip_at"]


class Slip(NamedTuple):
    message: str | None  # None: keep the parser's own message
    hint: str
    start: int  # the text to underline, as offsets
    end: int


class _Header(NamedTuple):
    clauses: tuple[str, ...]   # in their order
    required: tuple[str, ...]
    form: str


HEADERS = {
    "step": _Header(("after", "when"), (), "step NAME after A, B when EXPR: ACTION"),
    "phase": _Header(("after", "when"), (), "phase NAME after A, B when EXPR { ... }"),
    "parallel": _Header(("after", "when", "max"), (),
                        "parallel NAME after A, B when EXPR max N { ... }"),
    "repeat": _Header(("after", "when", "max", "until"), ("max", "until"),
                      "repeat NAME after A, B when EXPR max N until EXPR { ... }"),
}
"""Each item header's clauses (all optional unless required), in order."""

SYNONYMS = {
    "if": "when", "unless": "when not", "only_if": "when",
    "needs": "after", "requires": "after", "depends": "after", "depends_on": "after",
    "while": "until not",
}
"""Words other workflow languages use for a clause → the ChatFlow clause."""

_ITEM = re.compile(r"(?m)(?:^|(?<=[{}]))[ \t]*(step|phase|parallel|repeat)[ \t]+[A-Za-z_]\w*")
_WORD = re.compile(r"[A-Za-z_0-9]")


def slip_at(text: str, pos: int, found: str,
            tokens: Callable[[str], list[str]]) -> Slip | None:
    """The slip behind an unexpected token `found` at offset `pos`, if one is
    recognised; `tokens` splits text into token texts (the grammar's lexer)."""
    if found == "-":
        return _dashed_name(text, pos)
    header = _header_at(text, pos, tokens)
    if header is None:
        return None
    kind, written = header
    spec = HEADERS[kind]
    end = pos + len(found)
    if found in spec.clauses:
        return Slip(_order_message(kind, found, written), f"a {kind} header is `{spec.form}`",
                    pos, end)
    meant = SYNONYMS.get(found)
    if meant is not None and meant.split()[0] in spec.clauses:
        return Slip(None, f"did you mean `{meant}`? a {kind} header is `{spec.form}`", pos, end)
    close = difflib.get_close_matches(found, spec.clauses, n=1, cutoff=0.75)
    if close:
        return Slip(None, f"did you mean `{close[0]}`? a {kind} header is `{spec.form}`",
                    pos, end)
    return None


def _dashed_name(text: str, pos: int) -> Slip | None:
    """`create-release`: a `-` right between two parts of a word."""
    if not (0 < pos < len(text) - 1 and _WORD.match(text[pos - 1])
            and _WORD.match(text[pos + 1])):
        return None
    start = pos
    while start > 0 and _WORD.match(text[start - 1]):
        start -= 1
    end = pos
    while end < len(text) and (_WORD.match(text[end]) or (
            text[end] == "-" and end + 1 < len(text) and _WORD.match(text[end + 1]))):
        end += 1
    word = text[start:end]
    if word[0].isdigit():
        return None
    return Slip(f"`{word}` is not a name: names cannot contain `-`",
                f"write `{word.replace('-', '_')}`", start, end)


def _header_at(text: str, pos: int,
               tokens: Callable[[str], list[str]]) -> tuple[str, list[str]] | None:
    """(kind, clause words written so far) of the step or group header that
    `pos` is inside; None when `pos` is past the header (in a step's action
    or options, a group's body) or in no header at all."""
    last = None
    for m in _ITEM.finditer(text, 0, pos):
        last = m
    if last is None:
        return None
    kind = last.group(1)
    clauses = HEADERS[kind].clauses
    depth = 0
    written: list[str] = []
    for tok in tokens(text[last.end():pos]):
        if tok in ("(", "[", "{"):
            if tok == "{" and depth == 0 and kind != "step":
                return None  # the group's body
            depth += 1
        elif tok in (")", "]", "}"):
            depth -= 1
        elif depth == 0 and tok == ":" and kind == "step":
            return None  # the step's action
        elif depth == 0 and tok in clauses:
            written.append(tok)
    return kind, written


def _order_message(kind: str, word: str, written: list[str]) -> str:
    spec = HEADERS[kind]
    order = ", ".join(f"`{c}`" for c in spec.clauses)
    rank = spec.clauses.index(word)
    if word in written:
        what = f"`{word}` is written twice"
    else:
        later = [w for w in written if spec.clauses.index(w) > rank]
        missing = [c for c in spec.required[:spec.required.index(word)]
                   if c not in written] if word in spec.required else []
        if later:
            what = f"`{word}` goes before `{later[0]}`"
        elif missing:
            what = f"`{word}` comes after `{missing[0]}`"
        else:
            what = f"`{word}` is out of place"
    return f"{what}: the clauses of a {kind} header come in this order: {order}"
