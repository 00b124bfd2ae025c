"""E0309 value-out-of-range: a setting or option value outside what it allows
(`automation`/`risk` 0..100, `max_depth`/group `max` >= 1, `parallelism` one
of three words, quotas and `timeout` > 0, `retry` >= 0, `env` names
usable as environment variable names)."""

from __future__ import annotations

from collections.abc import Iterator

from chatflow.compiler.rules.base import FlowContext, Rule
from chatflow.compiler.spelling import did_you_mean
from chatflow.compiler.typecheck import constant_value
from chatflow.diagnostics import Diagnostic, Severity, error
from chatflow.dsl import ast

PARALLELISM = ("sequential", "parallel", "concurrent")


def _range(what: str, e: ast.Expr, low: int, high: int | None,
           duration: bool = False) -> Iterator[Diagnostic]:
    v = constant_value(e)
    if not isinstance(v, int) or isinstance(v, bool) \
            or (_duration_text(e) is not None) != duration:
        return  # wrong type or not constant: reported by other rules
    if v < low or (high is not None and v > high):
        text = _duration_text(e)
        if text is not None:
            allowed = "longer than zero" if low > 0 else "zero or more"
            yield error("E0309", f"{what} must be {allowed}, found {text}", e.span)
            return
        allowed = f"between {low} and {high}" if high is not None else f"at least {low}"
        yield error("E0309", f"{what} must be {allowed}, found {v}", e.span)


def _duration_text(e: ast.Expr) -> str | None:
    """`10m` or `-1s` as written; None when `e` is not a duration literal."""
    if isinstance(e, ast.DurationLit):
        return e.text
    if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.DurationLit):
        return "-" + e.operand.text
    return None


def _env_names(value: ast.Expr) -> Iterator[Diagnostic]:
    """`env` names become environment variable names: not empty, no `=`, no NUL."""
    if not isinstance(value, ast.MapExpr):
        return
    for entry in value.entries:
        k = entry.key.name
        if k == "" or "=" in k or "\0" in k:
            shown = f"`{k}`" if k and "\0" not in k else repr(k)
            yield error("E0309", f"`env` name {shown} cannot be an environment variable name",
                        entry.key.span, "use letters, digits and `_`, like `BUILD_MODE`")


def check(ctx: FlowContext) -> Iterator[Diagnostic]:
    for item in ctx.items:
        if isinstance(item, ast.Setting):
            n = item.name.name
            if n == "automation":
                yield from _range("`automation`", item.value, 0, 100)
            elif n == "max_depth":
                yield from _range("`max_depth`", item.value, 1, None)
            elif n == "parallelism":
                v = constant_value(item.value)
                if isinstance(v, str) and v not in PARALLELISM:
                    yield error("E0309", "`parallelism` must be one of "
                                + ", ".join(f"\"{p}\"" for p in PARALLELISM)
                                + f", found \"{v}\"", item.value.span,
                                did_you_mean(v, PARALLELISM))
        elif isinstance(item, ast.Quota):
            for entry in item.entries:
                low = 1
                yield from _range(f"quota `{entry.key.name}`", entry.value, low, None,
                                  entry.key.name in ("cpu", "wall"))
        elif isinstance(item, ast.Group) and item.max is not None:
            yield from _range(f"`max` of {item.kind} `{item.name.name}`", item.max, 1, None)
        elif isinstance(item, ast.Step):
            for opt in item.options:
                if isinstance(opt, ast.RetryOption):
                    yield from _range("`retry`", opt.times, 0, None)
                    if opt.backoff is not None:
                        yield from _range("`backoff`", opt.backoff, 0, None, True)
                elif isinstance(opt, ast.Option) and opt.value is not None:
                    if opt.name.name == "risk":
                        yield from _range("`risk`", opt.value, 0, 100)
                    elif opt.name.name == "timeout":
                        yield from _range("`timeout`", opt.value, 1, None, True)
                    elif opt.name.name == "env":
                        yield from _env_names(opt.value)


RULE = Rule("E0309", "value-out-of-range",
            "A setting or option value outside its range (automation and risk 0..100, "
            "max_depth and group max >= 1, parallelism one of three words, ...).",
            Severity.ERROR, check)
