"""Text → AST for `.flow` sources: the public parse functions of the dsl.

The AST is built during the LALR parse by an inline transformer (`_Builder`),
never by walking a parse tree afterwards. Spans come from token positions.
String holes `{EXPR}` are parsed with the grammar's `expr_start` symbol and
their spans are shifted to the hole's place in the file.  lark never leaks
out of this package: every lark error becomes a `Diagnostic` here or in
`syntax_errors`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from chatflow import deep
from chatflow.diagnostics import Diagnostic, Span, error
from chatflow.dsl import ast, strings
from chatflow.dsl.lexical import LexProblem, classify_number, has_specials, number_hint
from chatflow.dsl.tables import STARTS, get_fast, get_lark, write_tables
from chatflow.gcpause import no_cyclic_gc

if TYPE_CHECKING:
    from lark import Token

__all__ = ["STARTS", "parse_expression", "parse_flow", "parse_template", "parse_type",
           "write_tables"]

MAX_NESTING = deep.MAX_NESTING
"""Deepest expression / group nesting accepted (1,000); deeper input is
reported (E0107). The recursive passes after the parser run with room for
this much (`chatflow.deep`). A run of one binary operator counts as one
level, however long."""

_CONSTS: dict[str, bool | None] = {"true": True, "false": False, "null": None}

_span = ast.maker(Span)
_Ident = ast.maker(ast.Ident)
_Name = ast.maker(ast.Name)
_Literal = ast.maker(ast.Literal)
_Attribute = ast.maker(ast.Attribute)
_Binary = ast.maker(ast.Binary)
_TypeRef = ast.maker(ast.TypeRef)


def _join(a: Span, b: Span) -> Span:
    """From the start of `a` to the end of `b` (`Span.to`, on the fast path)."""
    return _span(a.file, a.line, a.column, b.end_line, b.end_column, a.start, b.end)


# One parse at a time: the builder holds per-parse state (file, offsets, diagnostics).
_LOCK = threading.RLock()


class _TooDeep(Exception):
    """Raised inside the builder when nesting passes MAX_NESTING."""

    def __init__(self, span: Span) -> None:
        super().__init__("too deep")
        self.span = span


class _Builder:
    """lark inline-transformer callbacks: children → AST nodes.

    Method names are grammar rule names / aliases. State for one parse lives
    in attributes reset by `reset`; nested parses (string holes) save and
    restore it through `_base`."""

    def __init__(self) -> None:
        self.file = "<unknown>"
        # (line, column, offset) of the parsed text's first character in the file,
        # or None when the parsed text is the whole file.
        self._base: tuple[int, int, int] | None = None
        self.diags: list[Diagnostic] = []
        # Nesting depth of the nodes not yet inside a parent, by id (a child's
        # entry goes when its parent is built, so this stays small).
        self._depth: dict[int, int] = {}
        # The nesting depth of the last complete parse's result (a string hole's).
        self.root_depth = 0

    def reset(self, file: str, base: tuple[int, int, int] | None) -> None:
        self.file = file
        self._base = base
        self.diags = []
        self._depth = {}

    # ------------------------------------------------------------ spans

    def _tspan(self, t: Any) -> Span:
        # `t` is a lark Token; typed Any because its positions are Optional.
        b = self._base
        if b is None:
            return _span(self.file, t.line, t.column, t.end_line, t.end_column,
                         t.start_pos, t.end_pos)
        line0, col0, off0 = b
        # On the hole's first line, reuse `line0` itself: a new int per span
        # adds up in big files (most holes are one line).
        if t.line == 1:
            line, col = line0, t.column + col0 - 1
        else:
            line, col = line0 + t.line - 1, t.column
        if t.end_line == 1:
            end_line, end_col = line0, t.end_column + col0 - 1
        else:
            end_line, end_col = line0 + t.end_line - 1, t.end_column
        return _span(self.file, line, col, end_line, end_col, off0 + t.start_pos, off0 + t.end_pos)

    def _from(self, t: Any, end: Span) -> Span:
        """From the start of token `t` to the end of `end`."""
        if self._base is None:
            return _span(self.file, t.line, t.column, end.end_line, end.end_column,
                         t.start_pos, end.end)
        return _join(self._tspan(t), end)

    def _toks(self, a: Any, b: Any) -> Span:
        """From the start of token `a` to the end of token `b`."""
        if self._base is None:
            return _span(self.file, a.line, a.column, b.end_line, b.end_column,
                         a.start_pos, b.end_pos)
        return _join(self._tspan(a), self._tspan(b))

    def _ident(self, t: Token) -> ast.Ident:
        return _Ident(t.value, self._tspan(t))

    def _nest(self, node: object, *kids: object) -> None:
        d = self._depth
        depth = 1 + max(d.pop(id(k), 0) for k in kids)
        if depth > MAX_NESTING:
            raise _TooDeep(node.span)  # type: ignore[attr-defined]
        d[id(node)] = depth

    def lex_problem(self, p: LexProblem, span: Span) -> None:
        self.diags.append(error(p.code, p.message, span, p.hint))

    # ------------------------------------------------------------ module level

    def module(self, c: list[Any]) -> ast.Module:
        imports = tuple(x for x in c if isinstance(x, ast.Import))
        flows = tuple(x for x in c if isinstance(x, ast.Flow))
        span = _join(c[0].span, c[-1].span) if c else Span(self.file, 1, 1, 1, 1, 0, 0)
        return ast.Module(self.file, imports, flows, span)

    def expr_start(self, c: list[Any]) -> Any:
        return c[0]

    def type_start(self, c: list[Any]) -> Any:
        return c[0]

    def import_decl(self, c: list[Any]) -> ast.Import:
        names = tuple(self._ident(t) for t in c[1:-2])
        src_tok = c[-1]
        src_span = self._tspan(src_tok)
        source = _Literal(strings.plain_string(self, src_tok.value, src_span), src_span)
        return ast.Import(names, source, self._from(c[0], src_span))

    def flow(self, c: list[Any]) -> ast.Flow:
        params = tuple(c[2:-2])
        outputs = c[-2]
        items, _, rbrace = c[-1]
        decls = outputs[0] if outputs is not None else ()
        return ast.Flow(self._ident(c[1]), params, decls, items,
                        self._toks(c[0], rbrace))

    def param(self, c: list[Any]) -> ast.Param:
        name = self._ident(c[0])
        end = c[2].span if c[2] is not None else c[1].span
        return ast.Param(name, c[1], c[2], _join(name.span, end))

    def outputs(self, c: list[Any]) -> tuple[tuple[ast.OutputDecl, ...], Token]:
        return tuple(c[1:-1]), c[-1]

    def output_decl(self, c: list[Any]) -> ast.OutputDecl:
        name = self._ident(c[0])
        return ast.OutputDecl(name, c[1], _join(name.span, c[1].span))

    def body(self, c: list[Any]) -> tuple[tuple[Any, ...], Token, Token]:
        items = tuple(c[1:-1])
        d = self._depth
        depth = 1 + max((d.pop(id(i), 0) for i in items if type(i) is ast.Group), default=0)
        if depth > MAX_NESTING:
            raise _TooDeep(self._tspan(c[0]))
        d[id(items)] = depth
        return items, c[0], c[-1]

    # ------------------------------------------------------------ items

    def setting(self, c: list[Any]) -> ast.Setting:
        name = self._ident(c[0])
        return ast.Setting(name, c[1], _join(name.span, c[1].span))

    def quota(self, c: list[Any]) -> ast.Quota:
        entries = tuple(c[1:])
        return ast.Quota(entries, self._from(c[0], entries[-1].span))

    def quota_entry(self, c: list[Any]) -> ast.QuotaEntry:
        key = self._ident(c[0])
        return ast.QuotaEntry(key, c[1], _join(key.span, c[1].span))

    def var_decl(self, c: list[Any]) -> ast.Var:
        return ast.Var(self._ident(c[1]), c[2], c[3], self._from(c[0], c[3].span))

    def output_item(self, c: list[Any]) -> ast.OutputItem:
        return ast.OutputItem(self._ident(c[1]), c[2], self._from(c[0], c[2].span))

    def step(self, c: list[Any]) -> ast.Step:
        kw, name, after, when, action, opts = c
        if opts is None:
            return ast.Step(self._ident(name), after, when, action, (),
                            self._from(kw, action.span))
        options, rbrace = opts
        return ast.Step(self._ident(name), after, when, action, options, self._toks(kw, rbrace))

    def after(self, c: list[Any]) -> tuple[ast.Ident, ...]:
        return tuple(self._ident(t) for t in c)

    def _group(self, kind: str, c: list[Any], max_: Any, until: Any) -> ast.Group:
        items, _, rbrace = c[-1]
        node = ast.Group(kind, self._ident(c[1]), c[2], c[3], max_, until, items,
                         self._toks(c[0], rbrace))
        d = self._depth
        d[id(node)] = d.pop(id(items), 1)
        return node

    def phase(self, c: list[Any]) -> ast.Group:
        return self._group("phase", c, None, None)

    def parallel(self, c: list[Any]) -> ast.Group:
        return self._group("parallel", c, c[4], None)

    def repeat(self, c: list[Any]) -> ast.Group:
        return self._group("repeat", c, c[4], c[5])

    # ------------------------------------------------------------ actions

    def simple_action(self, c: list[Any]) -> ast.Action:
        kw, s = c
        arg = self._string(s)
        span = self._from(kw, arg.span)
        k = kw.type
        if k == "SHELL":
            return ast.ShellAction(arg, span)
        if k == "APPROVE":
            return ast.ApproveAction(arg, span)
        if k == "FAIL":
            return ast.FailAction(arg, span)
        lit = self._plain(arg)
        if k == "PYTHON":
            return ast.PythonAction(lit, span)
        return ast.AgentAction(lit, span)

    def _plain(self, s: ast.Literal | ast.Template) -> ast.Literal:
        if isinstance(s, ast.Literal):
            return s
        self.diags.append(error(
            "E0108", "interpolation is not allowed here", s.span,
            "this string names something fixed; write `\\{` and `\\}` for literal braces",
        ))
        return _Literal("".join(p for p in s.parts if isinstance(p, str)), s.span)

    def call_action(self, c: list[Any]) -> ast.CallAction:
        return ast.CallAction(self._ident(c[1]), tuple(c[2:-1]),
                              self._toks(c[0], c[-1]))

    def argument(self, c: list[Any]) -> ast.Argument:
        name = self._ident(c[0])
        return ast.Argument(name, c[1], _join(name.span, c[1].span))

    def set_action(self, c: list[Any]) -> ast.SetAction:
        return ast.SetAction(self._ident(c[1]), c[2], self._from(c[0], c[2].span))

    def unknown_action(self, c: list[Any]) -> ast.UnknownAction:
        name = self._ident(c[0])
        if c[1] is None:
            return ast.UnknownAction(name, None, name.span)
        arg = self._string(c[1])
        return ast.UnknownAction(name, arg, _join(name.span, arg.span))

    # ------------------------------------------------------------ step options

    def options(self, c: list[Any]) -> tuple[tuple[Any, ...], Token]:
        return tuple(c[1:-1]), c[-1]

    def option(self, c: list[Any]) -> ast.Option:
        name = self._ident(c[0])
        if len(c) == 1 or c[1] is None:
            return ast.Option(name, None, name.span)
        return ast.Option(name, c[1], _join(name.span, c[1].span))

    def bare_option(self, c: list[Any]) -> ast.Option:
        """An option word written without its value; the checker reports it."""
        return ast.Option(self._ident(c[0]), None, self._tspan(c[0]))

    def retry(self, c: list[Any]) -> ast.RetryOption:
        end = c[2] if c[2] is not None else c[1]
        return ast.RetryOption(c[1], c[2], self._from(c[0], end.span))

    def out_field(self, c: list[Any]) -> ast.OutField:
        return ast.OutField(self._ident(c[1]), c[2], c[3], self._from(c[0], c[3].span))

    # ------------------------------------------------------------ types

    def type(self, c: list[Any]) -> ast.TypeRef:
        head, targs, q = c
        span = self._tspan(head)
        args: tuple[ast.TypeRef, ...] = ()
        if targs is not None:
            args, rsqb = targs
            span = _join(span, self._tspan(rsqb))
        if q is not None:
            span = _join(span, self._tspan(q))
        node = _TypeRef(head.value, args, q is not None, span)
        if args:
            self._nest(node, *args)
        return node

    def type_args(self, c: list[Any]) -> tuple[tuple[ast.TypeRef, ...], Token]:
        return tuple(c[:-1]), c[-1]

    # ------------------------------------------------------------ expressions

    def binary(self, c: list[Any]) -> ast.Binary:
        left, op, right = c
        node = _Binary(op.value, left, right, _join(left.span, right.span))
        d = self._depth
        left_depth = d.pop(id(left), 0)
        right_depth = 1 + d.pop(id(right), 0)
        # A run of one operator (`a and b and c`, `x + y + z`) is one level
        # however long: later passes walk it as a list, and it lowers to one
        # operation with all the operands.
        if type(left) is not ast.Binary or left.op != node.op:
            left_depth += 1
        depth = max(left_depth, right_depth)
        if depth > MAX_NESTING:
            raise _TooDeep(node.span)
        d[id(node)] = depth
        return node

    def cond(self, c: list[Any]) -> ast.Cond:
        if_tok, test, _then, then, _else, orelse = c
        node = ast.Cond(test, then, orelse, self._from(if_tok, orelse.span))
        self._nest(node, test, then, orelse)
        return node

    def unary(self, c: list[Any]) -> ast.Unary:
        op, operand = c
        node = ast.Unary(op.value, operand, self._from(op, operand.span))
        self._nest(node, operand)
        return node

    def attribute(self, c: list[Any]) -> ast.Attribute:
        value, name = c
        aspan = self._tspan(name)
        node = _Attribute(value, name.value, aspan, _join(value.span, aspan))
        d = self._depth
        depth = 1 + d.pop(id(value), 0)
        if depth > MAX_NESTING:
            raise _TooDeep(node.span)
        d[id(node)] = depth
        return node

    def index(self, c: list[Any]) -> ast.Index:
        value, idx, rsqb = c
        node = ast.Index(value, idx, _join(value.span, self._tspan(rsqb)))
        self._nest(node, value, idx)
        return node

    def call(self, c: list[Any]) -> ast.Call:
        func = self._ident(c[0])
        args = tuple(c[1:-1])
        node = ast.Call(func, args, _join(func.span, self._tspan(c[-1])))
        if args:
            self._nest(node, *args)
        return node

    def name(self, c: list[Any]) -> ast.Name:
        t = c[0]
        return _Name(t.value, self._tspan(t))

    def string(self, c: list[Any]) -> ast.Literal | ast.Template:
        return self._string(c[0])

    def number(self, c: list[Any]) -> ast.Literal | ast.DurationLit:
        t = c[0]
        text = t.value
        span = self._tspan(t)
        nv = classify_number(text)
        if nv.kind == "int" or nv.kind == "float":
            return _Literal(nv.value, span)
        if nv.kind == "duration":
            return ast.DurationLit(int(nv.value), text, span)
        self.diags.append(error("E0104", nv.error, span, number_hint(text)))
        return _Literal(0, span)

    def const(self, c: list[Any]) -> ast.Literal:
        t = c[0]
        return _Literal(_CONSTS[t.value], self._tspan(t))

    def list_lit(self, c: list[Any]) -> ast.ListExpr:
        items = tuple(c[1:-1])
        node = ast.ListExpr(items, self._toks(c[0], c[-1]))
        if items:
            self._nest(node, *items)
        return node

    def map_lit(self, c: list[Any]) -> ast.MapExpr:
        entries = tuple(c[1:-1])
        node = ast.MapExpr(entries, self._toks(c[0], c[-1]))
        if entries:
            self._nest(node, *(e.value for e in entries))
        return node

    def map_entry(self, c: list[Any]) -> ast.MapEntry:
        k, value = c
        kspan = self._tspan(k)
        if k.type == "STRING":
            key = ast.Ident(strings.plain_string(self, k.value, kspan), kspan)
        else:
            key = ast.Ident(k.value, kspan)
        return ast.MapEntry(key, value, _join(kspan, value.span))

    # ------------------------------------------------------------ strings

    def _string(self, t: Token) -> ast.Literal | ast.Template:
        span = self._tspan(t)
        value = t.value
        if value[0] == '"' and "\\" not in value and "{" not in value and "}" not in value \
                and not value.startswith('"""'):
            return _Literal(value[1:-1], span)  # the common case, first
        return strings.string_node(self, value, span)

    def parse_hole(self, text: str,
                   base: tuple[int, int, int]) -> tuple[ast.Expr | None, list[Diagnostic]]:
        """A string hole's expression (the `strings.Host` interface)."""
        node, diags = _parse_nested(self, text, "expr_start", base)
        return node, diags

    def nest(self, node: object, *kids: object) -> None:
        """Record `node` as one nesting level around `kids` (`strings.Host`)."""
        self._nest(node, *kids)


# ---------------------------------------------------------------- running the parser

_BUILDER = _Builder()


class _Probe:
    """The grammar as the error messages ask about it (`syntax_errors.GrammarProbe`),
    handed to them so they never import the parser."""

    def terminals(self) -> dict[str, Any]:
        return {t.name: t for t in get_lark(_BUILDER).terminals}

    def tokens(self, text: str) -> list[str]:
        """The token texts of `text` by the context-free lexer, stopping quietly
        at the first character no terminal matches."""
        out: list[str] = []
        try:
            for tok in get_lark(_BUILDER).lex(text):
                out.append(str(tok))
        except Exception:  # best effort: the tokens so far are enough
            pass
        return out

    def parse_example(self, text: str, start: str) -> Any:
        """Parse an example mistake (to learn the LALR state it fails in)."""
        _BUILDER.reset("<example>", None)
        return get_lark(_BUILDER).parse(text, start=start)


_PROBE = _Probe()


def _run(text: str, start: str) -> Any:
    b = _BUILDER
    try:
        return get_fast(b).parse(text, start)
    except Exception:  # Fallback, _TooDeep, RecursionError, or a bug of the fast path
        # lark decides, with its own error reporting; start the parse over
        b.reset(b.file, b._base)
    return get_lark(b).parse(text, start=start)


def _parse_nested(b: _Builder, text: str, start: str,
                  base: tuple[int, int, int]) -> tuple[Any, list[Diagnostic]]:
    """Parse `text` with start symbol `start` while another parse is running
    (string holes): save the builder's per-parse state and restore it after."""
    saved = (b.file, b._base, b.diags, b._depth)
    try:
        node, diags = _parse_with(text, start, b.file, base)
        depth = b.root_depth
    finally:
        b.file, b._base, b.diags, b._depth = saved
    if node is not None and depth:
        b._depth[id(node)] = depth  # the hole counts in the enclosing expression's depth
    return node, diags


def _parse_with(text: str, start: str, file: str,
                base: tuple[int, int, int] | None) -> tuple[Any, list[Diagnostic]]:
    b = _BUILDER
    b.reset(file, base)
    try:
        node = _run(text, start)
    except Exception as exc:
        # lark and the error messages are imported only when a parse fails
        from lark.exceptions import UnexpectedInput

        from chatflow.dsl.syntax_errors import convert_error, internal_error, too_deep

        if isinstance(exc, UnexpectedInput):
            return None, [*b.diags, convert_error(exc, text, file, base, start, _PROBE)]
        if isinstance(exc, _TooDeep):
            return None, [*b.diags, too_deep(exc.span, MAX_NESTING)]
        if isinstance(exc, RecursionError):
            return None, [*b.diags, too_deep(_whole_span(text, file, base), MAX_NESTING)]
        # a parser bug must not become a traceback for the user
        return None, [*b.diags, internal_error(exc, _whole_span(text, file, base))]
    b.root_depth = b._depth.get(id(node), 0)
    b._depth = {}
    return node, b.diags


def _whole_span(text: str, file: str, base: tuple[int, int, int] | None) -> Span:
    line0, col0, off0 = base or (1, 1, 0)
    l2, c2, o2 = strings.contiguous(text, line0, col0, off0)(len(text))
    return Span(file, line0, col0, l2, c2, off0, o2)


def _clean(text: str) -> str:
    # A leading BOM is invisible in editors; keep offsets by turning it into a
    # space. A U+FEFF anywhere else is the user's: kept in strings, an
    # unexpected character elsewhere.
    return " " + text[1:] if text.startswith("\ufeff") else text


def parse_flow(text: str, path: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse a whole `.flow` file. Returns the module (None after a syntax
    error) and every diagnostic found."""
    with _LOCK, no_cyclic_gc():
        node, diags = _parse_with(_clean(text), "module", path, None)
        if node is None:
            from chatflow.dsl.syntax_errors import more_errors

            diags = diags + more_errors(text, path, diags, _recheck)
    return node, diags


def _recheck(text: str, path: str) -> list[Diagnostic] | None:
    """Parse a blanked copy of the file during error recovery; only the
    syntax diagnostics matter (None when it parsed cleanly)."""
    node, diags = _parse_with(text, "module", path, None)
    return diags if node is None else None


def _origin_base(origin: Span) -> tuple[int, int, int]:
    return origin.line, origin.column, origin.start


def parse_expression(text: str, origin: Span) -> tuple[ast.Expr | None, list[Diagnostic]]:
    """Parse one expression; `origin` is where `text` starts in its file."""
    with _LOCK:
        node, diags = _parse_with(_clean(text), "expr_start", origin.file, _origin_base(origin))
    return node, diags


def parse_type(text: str, origin: Span) -> tuple[ast.TypeRef | None, list[Diagnostic]]:
    """Parse one type (`int`, `list[str]?`); `origin` is where `text` starts."""
    with _LOCK:
        node, diags = _parse_with(_clean(text), "type_start", origin.file, _origin_base(origin))
    return node, diags


def parse_template(text: str, origin: Span) -> tuple[ast.StrExpr | None, list[Diagnostic]]:
    """Parse string content with `{EXPR}` holes and the `.flow` escapes, as
    the inside of a `.flow` string literal; `origin` is where `text` starts."""
    with _LOCK:
        b = _BUILDER
        b.reset(origin.file, None)
        line0, col0, off0 = _origin_base(origin)
        pos = strings.contiguous(text, line0, col0, off0)
        end = pos(len(text))
        span = Span(origin.file, line0, col0, end[0], end[1], off0, end[2])
        if not has_specials(text):
            return _Literal(text, span), []
        try:
            node = strings.build_template(b, text, span, pos)
        except _TooDeep as exc:
            from chatflow.dsl.syntax_errors import too_deep

            return None, [*b.diags, too_deep(exc.span, MAX_NESTING)]
        return node, b.diags
