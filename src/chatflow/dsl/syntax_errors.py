"""lark parse errors → friendly, stable E01xx diagnostics.

Each is one diagnostic at the offending token; the codes are listed in
`CODES`. Messages come from the parser state at the error: a table built
from small example mistakes (lark's `match_examples` idea, keyed by LALR
state) gives the context ("after the step name"), the expected terminals
give the rest. Error recovery for several errors per file blanks the broken
item and parses again, and only keeps going while that is clearly safe.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from chatflow.diagnostic_codes import register_table
from chatflow.diagnostics import Diagnostic, Related, Span, error


class GrammarProbe(Protocol):
    """What the messages need to know of the grammar; the parser passes one in."""

    def terminals(self) -> dict[str, Any]:
        """Terminal definitions by name (to name expected tokens)."""

    def tokens(self, text: str) -> list[str]:
        """Token texts of `text`, stopping quietly where no terminal matches."""

    def parse_example(self, text: str, start: str) -> Any:
        """Parse an example mistake (it raises lark's error for its state)."""


CODES: dict[str, tuple[str, str]] = register_table({
    "E0100": ("internal-parser-error",
              "internal parser error (a bug in ChatFlow, never the user's fault)"),
    "E0101": ("unexpected-token",
              "unexpected token: \"expected `:` after the step name, found `shell`\""),
    "E0102": ("unterminated-string",
              "unterminated string (a `\"` or `'` with no closing quote on its line, or a "
              "`\"\"\"` / `\'\'\'` never closed)"),
    "E0103": ("invalid-escape",
              "invalid escape in a string (only \\n \\t \\\" \\\\ \\{ \\} exist)"),
    "E0104": ("malformed-number",
              "malformed number or duration (`1__0`, `12abc`, `5y`, too large)"),
    "E0105": ("unexpected-character", "unexpected character (`$`, `&&`, `;` ...)"),
    "E0106": ("unexpected-eof", "unexpected end of file (usually a missing `}` or `)`)"),
    "E0107": ("nesting-too-deep",
              "nesting too deep (expressions or groups nested past the limit)"),
    "E0108": ("malformed-interpolation",
              "malformed interpolation: unclosed `{`, lone `}`, empty `{}`, or a `{...}` where "
              "the string must be fixed (import paths, agent names)"),
    "E0109": ("interpolation-not-an-expression",
              "a `{` in a string starts an interpolation, and what follows is not an "
              "expression (`awk '{print $1}'`, `f() { ...; }`, JSON)"),
    "E0116": ("multi-line-string-layout",
              "a multi-line `\"\"\"` / `\'\'\'` string breaks the layout rule (text after the "
              "opening quotes, closing quotes not on their own line, a line indented less "
              "than them)"),
})
"""code → (name, description) of the `.flow` syntax errors, registered in
`chatflow.diagnostic_codes` (the rule catalog, SARIF, docs/diagnostics.md)."""

# Terminals → words. String terminals not listed are shown as `text`.
_NAMES = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "$END": "end of file",
}

_EXPR_START = frozenset({
    "NAME", "NUMBER", "STRING", "TRUE", "FALSE", "NULL", "LSQB", "LBRACE", "LPAR", "MINUS",
})

# Example mistakes → what to say. `{prev}` is the token just before the error.
# The LALR state each example fails in selects the message.
_EXAMPLES: list[tuple[str, list[str]]] = [
    ("expected `import` or `flow` at the top level",
     ["x", "flow f() {} x", "import a from \"std\" x"]),
    ("expected a name to import after `import`", ["import \"std\"", "import 1"]),
    ("expected `from` after the imported names", ["import a \"std\"", "import a b"]),
    ("expected a string after `from` (\"std\" or a relative path)", ["import a from std"]),
    ("expected a flow name after `flow`", ["flow (", "flow {", "flow 1"]),
    ("expected `(` after the flow name", ["flow f {", "flow f -> (a: int) {}"]),
    ("expected a parameter name or `)`", ["flow f(1", "flow f(:"]),
    ("expected `:` and a type after the parameter name", ["flow f(a int)", "flow f(a)"]),
    ("expected a type after `:`", ["flow f(a: )", "flow f(a: 1)", "flow f() -> (a: ) {}"]),
    ("expected `,` or `)` after the parameter", ["flow f(a: int b: int)"]),
    ("expected `,` or `)` after the parameter",
     ["flow f(a: int = 1 b: int)", "flow f(a: int = 1 1"]),
    ("expected `{` to open the flow body", ["flow f() step", "flow f() -> (a: int) step"]),
    ("expected `(` after `->`", ["flow f() -> a: int"]),
    ("expected an output name or `)`", ["flow f() -> (1"]),
    ("expected `:` and a type after the output name", ["flow f() -> (a)", "flow f() -> (a int)"]),
    ("expected an item (step, var, phase, parallel, repeat, output or a setting) or `}`",
     ["flow f() { 1", "flow f() { : ", "flow f() { ( "]),
    ("expected `:` after the step name",
     ["flow f() { step a shell", "flow f() { step a {", "flow f() { step a 1"]),
    ("expected `:` after the `after` list", ["flow f() { step a after b shell"]),
    ("expected a name after `after`", ["flow f() { step a after : shell"]),
    ("expected a name after `,`", ["flow f() { step a after b, : shell"]),
    ("expected a step name after `step`", ["flow f() { step :", "flow f() { step \"a\""]),
    ("expected an action after `:` (shell, python, agent, approve, call, set or fail)",
     ["flow f() { step a: }", "flow f() { step a: 1", "flow f() { step a: \"x\""]),
    ("expected a string after `{prev}`",
     ["flow f() { step a: shell x", "flow f() { step a: agent 1",
      "flow f() { step a: python }", "flow f() { step a: approve }", "flow f() { step a: fail }"]),
    ("expected a flow name after `call`",
     ["flow f() { step a: call (", "flow f() { step a: call }"]),
    ("expected `(` with the arguments after the called flow's name",
     ["flow f() { step a: call g }", "flow f() { step a: call g x"]),
    ("expected an argument name or `)`", ["flow f() { step a: call g(1"]),
    ("expected `:` after the argument name (arguments are `name: value`)",
     ["flow f() { step a: call g(x 1", "flow f() { step a: call g(x)"]),
    ("expected `,` or `)` after the argument", ["flow f() { step a: call g(x: 1 y: 2)"]),
    ("expected a variable name after `set`", ["flow f() { step a: set = 1"]),
    ("expected `=` after the variable name", ["flow f() { step a: set x 1"]),
    ("expected a variable name after `var`", ["flow f() { var : int = 1", "flow f() { var 1"]),
    ("expected `:` and a type after the variable name (`var NAME: TYPE = VALUE`)",
     ["flow f() { var x = 1", "flow f() { var x int"]),
    ("expected `=` and an initial value after the variable's type",
     ["flow f() { var x: int }", "flow f() { var x: int 1"]),
    ("expected an output name after `output`", ["flow f() { output = 1"]),
    ("expected `=` after the output name", ["flow f() { output x 1", "flow f() { output x }"]),
    ("expected a quota name (tokens, cpu, wall or steps) after `{prev}`",
     ["flow f() { quota 1", "flow f() { quota tokens 1, 2"]),
    ("expected a group name after `{prev}`",
     ["flow f() { phase {", "flow f() { parallel {", "flow f() { repeat {"]),
    ("expected `{` to open the group body",
     ["flow f() { phase p step", "flow f() { phase p after a step", "flow f() { parallel p step"]),
    ("expected `max N` after the repeat's name (`repeat NAME max N until EXPR { ... }`)",
     ["flow f() { repeat r {", "flow f() { repeat r until"]),
    ("expected `until` and a condition after `max N`", ["flow f() { repeat r max 3 {"]),
    ("expected a step option (timeout, retry, risk, continue_on_error, prompt, with, env, "
     "cwd, out) or `}`",
     ["flow f() { step a: shell \"x\" { 1", "flow f() { step a: shell \"x\" { ( "]),
    ("expected `{` after `{prev}` (a map like `{key: value}`)",
     ["flow f() { step a: shell \"x\" { with x", "flow f() { step a: shell \"x\" { env 1"]),
    ("expected a field name after `out`", ["flow f() { step a: shell \"x\" { out : int = 1"]),
    ("expected `:` and a type after the field name (`out NAME: TYPE = EXPR`)",
     ["flow f() { step a: shell \"x\" { out c = 1"]),
    ("expected `=` and an expression after the field's type",
     ["flow f() { step a: shell \"x\" { out c: int }"]),
    ("expected a map key (a name or a string) or `}`",
     ["flow f() { output x = {1", "flow f() { output x = {("]),
    ("expected `:` after the map key", ["flow f() { output x = {a 1", "flow f() { output x = {a}"]),
    ("expected `,` or `}` after the map entry", ["flow f() { output x = {a: 1 b: 2}"]),
    ("expected `,` or `]` after the list item", ["flow f() { output x = [1 2]"]),
    ("expected `,` or `)` after the function argument", ["flow f() { output x = len(a b)"]),
    ("expected an attribute name after `.`",
     ["flow f() { output x = a.1", "flow f() { output x = a.("]),
    ("expected `]` to close the index", ["flow f() { output x = a[1 2"]),
    ("expected `)` to close the parenthesis",
     ["flow f() { output x = (1 2", "flow f() { output x = (1 }"]),
    ("expected a type name", ["flow f(a: list[1])", "flow f(a: list[])"]),
    ("expected `,` or `]` after the type argument", ["flow f(a: list[int int])"]),
    ("comparison operators cannot be chained; combine them with `and`",
     ["flow f() { output x = a < b < c", "flow f() { output x = a == b == c",
      "flow f() { output x = a in b in c", "flow f() { output x = a != b >= c",
      "flow f() { output x = a <= b > c"]),
]

_Key = tuple[int, frozenset[str]]
_LABELS: dict[_Key, str] | None = None


def _labels(parse: Callable[[str, str], Any]) -> dict[_Key, str]:
    """(LALR state, acceptable terminals) → message, from the example mistakes.

    The acceptable set is part of the key because LALR merges the states
    after a complete expression across contexts: after `1` in a list and
    after `1` as a parameter default the state is the same, what may follow
    (`]` or `)`) is not."""
    global _LABELS
    if _LABELS is None:
        from lark.exceptions import UnexpectedInput

        table: dict[_Key, str] = {}
        for label, examples in _EXAMPLES:
            for ex in examples:
                try:
                    parse(ex, "module")
                except UnexpectedInput as exc:
                    key = _key_of(exc)
                    if key is not None:
                        table.setdefault(key, label)
                except Exception:  # a broken example must not break error reporting
                    continue
        _LABELS = table
    return _LABELS


def _accepts(exc: Any) -> frozenset[str]:
    """Terminals the parser would really accept at the error (reductions
    applied), falling back to the state's raw lookahead set."""
    try:
        acc = exc.interactive_parser.accepts() if exc.interactive_parser else None
    except Exception:  # best effort only
        acc = None
    if acc is None:
        acc = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or set()
    return frozenset(acc)


def _key_of(exc: Any) -> _Key | None:
    state = _state_of(exc)
    if state is None:
        return None
    return state, _accepts(exc)


def _state_of(exc: Any) -> int | None:
    from chatflow.dsl.lark_shim import error_state

    return error_state(exc)


def human(term: str, terminals: dict[str, Any]) -> str:
    if term in _NAMES:
        return _NAMES[term]
    from chatflow.dsl.lark_shim import literal_text

    text = literal_text(terminals.get(term))
    return f"`{text}`" if text is not None else term.lower()


# Families of terminals named as one when most of them are acceptable.
_GROUPS = [
    ("an operator", frozenset({"QQ", "OR", "AND", "EQ", "NE", "LT", "LE", "GT", "GE", "IN",
                               "PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "DOT", "LSQB"})),
    ("a step option", frozenset({"TIMEOUT", "RETRY", "RISK", "CONTINUE_ON_ERROR", "PROMPT",
                                 "WITH", "ENV", "CWD", "OUT"})),
    ("a flow item", frozenset({"STEP", "VAR", "PHASE", "PARALLEL", "REPEAT", "OUTPUT",
                               "QUOTA"})),
]


def _expected_words(expected: set[str], terminals: dict[str, Any]) -> str:
    words: list[str] = []
    rest = set(expected)
    if {"NAME", "NUMBER", "STRING"} <= rest:
        words.append("an expression")
        rest -= _EXPR_START | {"NOT"}
    for label, family in _GROUPS:
        if len(rest & family) >= 3:
            words.append(label)
            rest -= family
            if label != "an operator":
                rest.discard("NAME")  # unknown options / settings are names
    words += sorted({human(t, terminals) for t in rest})
    if len(words) > 8:
        words = [*words[:7], "..."]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _found(tok: Any) -> str:
    if tok.type == "$END":
        return "end of file"
    text = str(tok)
    if tok.type == "STRING":
        return "a string"
    if len(text) > 30:
        text = text[:27] + "..."
    return f"`{text}`"


def _map(base: tuple[int, int, int] | None, line: int, col: int, off: int) -> tuple[int, int, int]:
    if base is None:
        return line, col, off
    line0, col0, off0 = base
    return line0 + line - 1, col + col0 - 1 if line == 1 else col, off0 + off


def _span_at(file: str, text: str, base: tuple[int, int, int] | None,
             pos: int, length: int) -> Span:
    """Span of text[pos:pos+length] (on one line), mapped through `base`."""
    pos = max(0, min(pos, len(text)))
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rindex("\n", 0, pos) + 1 if line > 1 else 0) + 1
    l1, c1, o1 = _map(base, line, col, pos)
    return Span(file, l1, c1, l1, c1 + length, o1, o1 + length)


def _prev_token(text: str, pos: int, probe: GrammarProbe) -> str | None:
    """The text of the token just before offset `pos` (best effort)."""
    toks = probe.tokens(text[:pos])
    return toks[-1] if toks else None


def convert_error(exc: Any, text: str, file: str, base: tuple[int, int, int] | None,
                  start: str, probe: GrammarProbe) -> Diagnostic:
    """One diagnostic for a lark `UnexpectedInput`; `probe` answers questions
    about the grammar (the parser's, passed in so this module never imports it)."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        if ch in "\"'":
            return _unterminated(ch, text, file, base, pos)
        return error("E0105", f"unexpected character `{_show_char(ch)}`",
                     _span_at(file, text, base, pos, 1), _char_hint(ch, text, pos))
    if isinstance(exc, UnexpectedToken):
        from chatflow.dsl.slips import slip_at

        tok = exc.token
        terminals = probe.terminals()
        key = _key_of(exc)
        expected = set(key[1]) if key else set(exc.expected or ())
        at_end = tok.type == "$END"
        pos = len(text) if at_end or tok.start_pos is None else tok.start_pos
        label = None
        if key is not None:
            label = _labels(probe.parse_example).get(key)
        prev = _prev_token(text, pos, probe) if pos is not None else None
        swallowed = _swallowing_option(text, pos)
        if swallowed is not None:
            word, at = swallowed
            return error("E0101", f"option `{word}` needs a value",
                         _span_at(file, text, base, at, len(word)), _NEEDS_VALUE[word])
        bare = None if at_end else _BARE_NAME.search(text, 0, pos)
        if bare is not None and bare.group(1) not in _KEYWORDS:
            word, other = bare.group(1), bare.group(2)
            return error("E0101", f"`{word}` has no value, so `{other}` on the next line was "
                         "read as its value", _span_at(file, text, base, bare.start(1),
                                                       len(word)),
                         f"give `{word}` its value on its own line (`{word} VALUE`), or "
                         "remove it")
        slip = None if at_end else slip_at(text, pos, str(tok), probe.tokens)
        if label is not None:
            message = label.replace("{prev}", prev or "?")
        elif expected and expected <= _EXPR_START | {"NOT"} and "NAME" in expected:
            message = f"expected an expression after `{prev}`" if prev else "expected an expression"
        else:
            message = "expected " + _expected_words(expected, terminals)
            if prev:
                message += f" after `{prev}`"
        if at_end:
            span = _span_at(file, text, base, len(text), 0)
            if start != "module":
                return error("E0101", f"{message}, found the end of the expression", span)
            stack = unclosed_brackets(text)
            if stack:
                ch, off = stack[-1]
                opener = _span_at(file, text, base, off, 1)
                return error(
                    "E0106",
                    f"unexpected end of file: expected `{_OPEN[ch]}` to close the `{ch}` "
                    f"on line {opener.line}",
                    span, None, (Related(opener, f"`{ch}` opened here"),),
                )
            return error("E0106", f"unexpected end of file: {message}", span)
        message = f"{message}, found {_found(tok)}"
        span = _span_at(file, text, base, pos, max(1, len(str(tok))) if "\n" not in str(tok)
                        else 1)
        if slip is not None:
            return error("E0101", slip.message or message,
                         _span_at(file, text, base, slip.start, slip.end - slip.start),
                         slip.hint)
        hint = _token_hint(tok, expected)
        if prev == "env" and str(tok) == "(":
            # `cwd env("HOME")`: after an option word, `env` is the `env` option
            hint = ("right after an option word, `env` starts the `env` option: write the "
                    "call in parentheses, like `(env(\"NAME\") ?? \"default\")`")
        return error("E0101", message, span, hint)
    return error("E0101", "syntax error", _span_at(file, text, base, 0, 0))


_OPTION_WORDS = ("timeout", "risk", "prompt", "cwd", "continue_on_error", "with", "env",
                 "retry", "backoff", "out")
_NEEDS_VALUE = {"retry": "write it like `retry 2` or `retry 3 backoff 10s`",
                "backoff": "write it like `retry 3 backoff 10s`"}
# `retry` (or `backoff`) then an option word: the word was read as the count,
# and the error comes at the token after it (or after the name that follows it)
_SWALLOWED = re.compile(
    r"(?<![\w.])(retry|backoff)\s+(?:" + "|".join(_OPTION_WORDS)
    + r")(?:\s+[A-Za-z_]\w*)?\s*\Z")


# a name alone on its line (an option or setting without a value), then a line
# `NAME ...`: the first name took the second for its value (docs/plugins.md:
# any name in a step's options is an option taking an expression)
_BARE_NAME = re.compile(r"(?m)^[ \t]*([A-Za-z_]\w*)[ \t]*(?:#[^\n]*)?\n"
                        r"(?:[ \t]*(?:#[^\n]*)?\n)*[ \t]*([A-Za-z_]\w*)[ \t]*\Z")
_KEYWORDS = frozenset({"timeout", "risk", "prompt", "cwd", "with", "env", "retry", "out",
                       "continue_on_error", "backoff", "step", "phase", "parallel", "repeat",
                       "var", "output", "quota", "flow", "import", "not", "true", "false",
                       "null"})


def _swallowing_option(text: str, pos: int) -> tuple[str, int] | None:
    """(`retry` or `backoff`, its offset) when the error at `pos` comes from
    that word taking the next option word for its value."""
    m = _SWALLOWED.search(text, 0, pos)
    return (m.group(1), m.start(1)) if m else None


def _unterminated(q: str, text: str, file: str, base: tuple[int, int, int] | None,
                  pos: int) -> Diagnostic:
    """E0102 for a string opened at `pos` with quote `q` and never closed."""
    if text.startswith(q * 3, pos):
        return error("E0102", f"unterminated multi-line string: no closing `{q * 3}`",
                     _span_at(file, text, base, pos, 3),
                     f"end it with `{q * 3}` (on a line of its own when the string spans lines)")
    eol = text.find("\n", pos)
    span = _span_at(file, text, base, pos, (len(text) if eol < 0 else eol) - pos)
    if q == "'":
        return error("E0102", "unterminated raw string", span,
                     "close it with `'` on the same line; a raw string that holds `'` is "
                     "written '''...'''")
    return error("E0102", "unterminated string", span,
                 "close the string with `\"` on the same line")


def _show_char(ch: str) -> str:
    if ch == "":
        return "end of file"
    if ch.isprintable():
        return ch
    return repr(ch)[1:-1]


def _char_hint(ch: str, text: str, pos: int) -> str | None:
    two = text[pos:pos + 2]
    if two == "&&":
        return "write `and`"
    if two == "||":
        return "write `or`"
    if ch == "!":
        return "write `not` for negation"
    if ch == ";":
        return "items are not separated by `;`"
    if ch == "=":
        return None
    return None


def _token_hint(tok: Any, expected: set[str]) -> str | None:
    if tok.type == "NAME" and str(tok) in {"true", "false", "null"}:
        return None
    if tok.type == "COLON" and "EQUAL" in expected:
        return None
    return None


# strings (every form, unterminated ones to their end) and comments hide their brackets
_BRACKETS = re.compile(
    r'"""(?:[^"\\]|\\[\s\S]|"(?!""))*(?:"*"""|\Z)'
    r"|'''(?:[^']|'(?!''))*(?:'*'''|\Z)"
    r'|"(?:[^"\\\n]|\\.)*"?' r"|'[^'\n]*'?" r'|#[^\n]*|[{}()\[\]]')
_OPEN = {"{": "}", "(": ")", "[": "]"}
_CLOSE = {v: k for k, v in _OPEN.items()}


def unclosed_brackets(text: str) -> list[tuple[str, int]]:
    """Brackets opened and never closed, outermost first, as (char, offset);
    strings and comments are skipped."""
    stack: list[tuple[str, int]] = []
    for m in _BRACKETS.finditer(text):
        s = m.group()
        if s in _OPEN:
            stack.append((s, m.start()))
        elif s in _CLOSE and stack and stack[-1][0] == _CLOSE[s]:
            stack.pop()
    return stack


def too_deep(span: Span, limit: int) -> Diagnostic:
    return error("E0107", f"nested too deeply (more than {limit} levels)", span,
                 "split the expression or flatten the groups")


def internal_error(exc: BaseException, span: Span) -> Diagnostic:
    return error("E0100", f"internal parser error: {type(exc).__name__}: {exc}", span,
                 "this is a bug in ChatFlow; please report it with the file")


# ---------------------------------------------------------------- recovery

_ITEM_START = re.compile(
    r"^[ \t]*(step|var|phase|parallel|repeat|output|quota|flow|import)\b", re.MULTILINE)
MAX_ERRORS = 10


def more_errors(text: str, path: str, first: list[Diagnostic],
                reparse: Callable[[str, str], list[Diagnostic] | None]) -> list[Diagnostic]:
    """After a syntax error, find further independent ones.

    The item holding the error (from the line starting it to the next line
    starting an item) is blanked out — replaced by spaces, so positions stay
    the same — and the file parsed again. This continues only while the
    blanked region has balanced brackets and the next error lies after it;
    anything less certain stops, so no cascade is ever reported."""
    found: list[Diagnostic] = []
    last = first[-1] if first else None
    work = text
    while last is not None and len(first) + len(found) < MAX_ERRORS:
        if last.code in ("E0106", "E0100", "E0107"):
            break
        region = _item_region(work, last.span.start)
        if region is None:
            break
        a, b = region
        chunk = work[a:b]
        if unclosed_brackets(chunk) or _has_stray_close(chunk):
            break
        work = work[:a] + re.sub(r"[^\n]", " ", chunk) + work[b:]
        diags = reparse(work, path)
        if not diags:
            break
        new = [d for d in diags if d.code.startswith("E01")]
        syntax = [d for d in new if d.span.start >= b]
        if not syntax or any(d.span.start < b for d in new if d.code in ("E0101", "E0106")):
            break
        nxt = syntax[-1]
        if nxt.code == "E0106":
            break
        found.extend(d for d in new if d.span.start >= b)
        last = nxt
    return found


def _has_stray_close(chunk: str) -> bool:
    depth = 0
    for m in _BRACKETS.finditer(chunk):
        s = m.group()
        if s in _OPEN:
            depth += 1
        elif s in _CLOSE:
            depth -= 1
            if depth < 0:
                return True
    return False


def _item_region(text: str, pos: int) -> tuple[int, int] | None:
    """[start, end) of the item around offset `pos`: from the last line that
    starts an item at or before `pos`, to the next such line after it."""
    starts = [m.start() for m in _ITEM_START.finditer(text)]
    before = [s for s in starts if s <= pos]
    if not before:
        return None
    a = before[-1]
    if re.match(r"[ \t]*(flow|import)\b", text[a:]):
        return None
    eol = text.find("\n", pos)
    after = [s for s in starts if s > pos and (eol < 0 or s > eol)]
    if not after:
        return None
    return a, after[0]
