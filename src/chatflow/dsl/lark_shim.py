"""Every use of lark beyond its public API, in one place.

The `.flow` parser keeps lark's LALR tables as JSON (`dsl.tables`) and runs
them with its own driver (`dsl.lalr`); both need lark internals: the
serialised parser (`memo_serialize` / `Lark._load_from_dict`), the
contextual lexer's terminals and keyword callback, the parse table, the
rules' options, and an error's parser state. This module reads them and
hands out plain data, so a lark release that moves them breaks here, and
`check_shape()` (run by the test suite) says what moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["LarkChanged", "LexerView", "RuleView", "TableView", "check_shape", "error_state",
           "int_keys", "lexer_view", "literal_text", "load_from_dict", "rule_views",
           "serialize", "table_view"]


class LarkChanged(RuntimeError):
    """lark's internals no longer have the shape this module reads."""


@dataclass(frozen=True, slots=True)
class LexerView:
    terminals: list[tuple[str, str]]   # (name, regexp), in the lexer's order
    keywords: dict[str, str]           # keyword text → terminal name (NAME's callback)
    ignore: list[str]                  # ignored terminal names


@dataclass(frozen=True, slots=True)
class TableView:
    # per state: symbol → ("shift", state) or ("reduce", rule index)
    states: list[dict[str, tuple[str, int]]]
    start_states: dict[str, int]
    end_states: dict[str, int]


@dataclass(frozen=True, slots=True)
class RuleView:
    origin: str
    alias: str | None
    template_source: str | None
    expand1: bool
    keep_all_tokens: bool
    empty_indices: list[bool]
    expansion: list[tuple[str, bool, bool]]   # (name, is_term, filter_out)


def load_from_dict(data: dict[str, Any], memo: dict[int, Any], transformer: object) -> Any:
    """A Lark instance from `serialize`'s output (no table building)."""
    from lark import Lark

    return Lark._load_from_dict(data, memo, transformer=transformer)  # type: ignore[no-untyped-call]


def serialize(inst: Any) -> tuple[dict[str, Any], dict[int, Any]]:
    """(data, memo) of a Lark instance, as `load_from_dict` reads them."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    data, memo = inst.memo_serialize([TerminalDef, Rule])
    return data, memo


def lexer_view(inst: Any) -> LexerView:
    """The root lexer of a `lexer="contextual"` instance."""
    root = inst.parser.lexer.root_lexer
    terminals = [(t.name, t.pattern.to_regexp()) for t in root.scanner.terminals]
    keywords: dict[str, str] = {}
    for name, unless in root.callback.items():
        if name != "NAME":
            raise ValueError(f"unexpected lexer callback on {name}")
        keywords = {t.pattern.value: t.name for t in unless.scanner.terminals}
    return LexerView(terminals, keywords, sorted(root.ignore_types))


def rule_views(inst: Any) -> list[RuleView]:
    """The grammar's rules, in the parse table's numbering."""
    out = []
    for r in inst.rules:
        opts = r.options
        out.append(RuleView(
            r.origin.name, r.alias, opts.template_source, bool(opts.expand1),
            bool(opts.keep_all_tokens), [bool(b) for b in (opts.empty_indices or [])],
            [(s.name, bool(s.is_term), bool(getattr(s, "filter_out", False)))
             for s in r.expansion]))
    return out


def table_view(inst: Any) -> TableView:
    """The LALR parse table, rules numbered as in `rule_views`."""
    table = inst.parser.parser.parser.parse_table
    index = {id(r): i for i, r in enumerate(inst.rules)}
    states: list[dict[str, tuple[str, int]]] = []
    for k in range(len(table.states)):
        acts: dict[str, tuple[str, int]] = {}
        for sym, (action, arg) in table.states[k].items():
            acts[sym] = ("shift", arg) if action.name == "Shift" else ("reduce", index[id(arg)])
        states.append(acts)
    return TableView(states, dict(table.start_states), dict(table.end_states))


def error_state(exc: Any) -> int | None:
    """The LALR state an `UnexpectedToken` stopped in (None when unknown)."""
    pos = getattr(getattr(exc, "state", None), "position", None)
    return pos if isinstance(pos, int) else None


def literal_text(terminal: Any) -> str | None:
    """The text of a terminal defined by a plain string (`"step"`), else None."""
    pattern = getattr(terminal, "pattern", None)
    if pattern is not None and type(pattern).__name__ == "PatternStr":
        value = getattr(pattern, "value", None)
        return value if isinstance(value, str) else None
    return None


_PROBE_GRAMMAR = r"""
start: item+
item: NAME "=" NUMBER -> pair
    | "k" NAME [NAME]
NAME: /[a-z]+/
NUMBER: /[0-9]+/
%ignore " "
"""


def check_shape() -> None:
    """Exercise every internal this module reads on a small grammar; raise
    `LarkChanged` naming what no longer fits (the test suite runs this)."""
    import lark

    def fail(what: str, exc: BaseException | None = None) -> LarkChanged:
        detail = f": {type(exc).__name__}: {exc}" if exc else ""
        return LarkChanged(f"lark {lark.__version__} changed shape ({what}){detail}; "
                           "update chatflow/dsl/lark_shim.py")

    try:
        inst = lark.Lark(_PROBE_GRAMMAR, parser="lalr", lexer="contextual",
                         maybe_placeholders=True)
    except Exception as exc:
        raise fail("building an LALR parser", exc) from exc
    steps: list[tuple[str, Any]] = [
        ("lexer: root_lexer, scanner, callback, ignore_types", lambda: lexer_view(inst)),
        ("rules: origin, alias, options, expansion", lambda: rule_views(inst)),
        ("parse table: states, start_states, end_states", lambda: table_view(inst)),
        ("memo_serialize / Lark._load_from_dict",
         lambda: load_from_dict(*_json_round_trip(*serialize(inst)), None).parse("k a b")),
    ]
    results = []
    for what, step in steps:
        try:
            results.append(step())
        except Exception as exc:
            raise fail(what, exc) from exc
    lex, rules, table = results[0], results[1], results[2]
    if lex.keywords.get("k") is None or ("NAME", "[a-z]+") not in lex.terminals:
        raise fail("the keyword callback on NAME")
    if not any(r.alias == "pair" for r in rules) or not any(r.empty_indices for r in rules):
        raise fail("rule aliases or placeholder indices")
    if not table.states or "start" not in table.start_states:
        raise fail("the parse table's states")
    try:
        inst.parse("k 1")
    except lark.exceptions.UnexpectedToken as exc:
        if error_state(exc) is None:
            raise fail("UnexpectedToken.state.position") from None
    else:
        raise fail("UnexpectedToken on bad input")
    keyword = next(t for t in inst.terminals if t.name == lex.keywords["k"])
    if literal_text(keyword) != "k":
        raise fail("a string terminal's PatternStr")


def int_keys(data: dict[str, Any], memo: dict[str, Any]) -> tuple[dict[str, Any], dict[int, Any]]:
    """Undo JSON's stringified integer keys in `serialize`'s output."""
    table = data["parser"]["parser"]
    table["tokens"] = {int(k): v for k, v in table["tokens"].items()}
    table["states"] = {
        int(k): {int(t): a for t, a in acts.items()} for k, acts in table["states"].items()
    }
    return data, {int(k): v for k, v in memo.items()}


def _json_round_trip(data: dict[str, Any], memo: dict[int, Any]
                     ) -> tuple[dict[str, Any], dict[int, Any]]:
    import json

    return int_keys(json.loads(json.dumps(data)), json.loads(json.dumps(memo)))
