"""The signatures of the text built-in functions (`split`, `lines`, `join`,
`replace`, `match`, `env`): argument types and result type, for the
expression typer. Each argument is required (not optional) or `json`."""

from __future__ import annotations

from chatflow.compiler.types import STR, Type, list_of

__all__ = ["TEXT_BUILTINS", "accepts"]

TEXT_BUILTINS: dict[str, tuple[tuple[Type, ...], Type]] = {
    "split": ((STR, STR), list_of(STR)),
    "lines": ((STR,), list_of(STR)),
    "join": ((list_of(STR), STR), STR),
    "replace": ((STR, STR, STR), STR),
    "match": ((STR, STR), STR.as_optional()),
    "env": ((STR,), STR.as_optional()),
}
"""name -> (argument types, result type)."""


def accepts(want: Type, t: Type) -> bool:
    """Whether an argument of (required) type `t` fits `want` by kind; a list
    of `json` items fits any list."""
    if t.kind != want.kind:
        return False
    if want.arg is None or t.arg is None or t.arg.is_dynamic:
        return True
    return not t.arg.optional and t.arg.kind == want.arg.kind
