"""The registry of action kinds, spec side: what a kind is called, what its
quoted target and options are (names, types, documentation), which fields it
yields, and where its run-time implementation lives — as plain data, so the
compiler (and `chatflow plugins`) read it without importing any runtime code.

Kinds come from the entry-point group `chatflow.actions` (docs/plugins.md):
each entry point names an `ActionKind` object. ChatFlow's own seven kinds are
registered in that group by ChatFlow's own pyproject.toml, exactly as a
plugin's are (`chatflow.plugins.builtin`). Looking up a built-in kind never
scans the installed distributions; anything else scans them once per process
(`importlib.metadata`, a few milliseconds) and keeps the result, so commands
that never meet a plugin kind (`status`, `--version`) never pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "GENERIC_OPTIONS", "GROUP", "ActionKind", "Option", "builtin_kind", "discovery_problems",
    "find_kind", "installed_kinds", "kind_names", "major", "reset_cache", "spec_problem",
    "valid_type",
]

GROUP = "chatflow.actions"
GENERIC_OPTIONS = ("timeout", "retry", "risk", "continue_on_error", "out", "env", "cwd")
"""Options every step takes whatever its kind (docs/language.md §5): the
run-time context of every kind carries the timeout, the working directory
(`cwd`) and the extra environment (`env`)."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SCALARS = frozenset({"str", "int", "float", "bool", "duration", "json"})
_RESERVED = frozenset({"step", "phase", "parallel", "repeat", "flow", "import", "from",
                       "var", "output", "quota", "when", "after", "true", "false", "null",
                       "and", "or", "not", "in", "max", "until", "backoff", "ctx"})


@dataclass(frozen=True)
class Option:
    """One option a kind takes: `type` is a ChatFlow type as written
    (`str`, `int`, `duration`, `map[str]`, `json`, ...)."""

    type: str
    doc: str = ""


@dataclass(frozen=True)
class ActionKind:
    """One action kind. `target` is the type of the quoted text after the
    kind's name (`"str"`: a string with `{…}` interpolation, rendered at run
    time) or None when the kind takes none; `fields` maps each field the
    step yields to its type; `runtime` is `"module:attribute"` of the object
    that renders, runs, describes and cancels it (loaded only when a step of
    this kind runs or is planned); `target_doc` names the target in listings
    (`URL`). `dist`/`version` are filled in from the distribution that
    registered the kind."""

    name: str
    doc: str
    fields: Mapping[str, str]
    options: Mapping[str, Option] = field(default_factory=dict)
    target: str | None = "str"
    target_doc: str = ""
    runtime: str | None = None
    dist: str | None = None
    version: str | None = None
    builtin: bool = False

    @property
    def plugin(self) -> dict[str, str] | None:
        """What the IR records of a third-party kind (None for built-ins)."""
        if self.builtin:
            return None
        return {"dist": self.dist or "unknown", "version": self.version or "0"}


def valid_type(text: str) -> bool:
    """Whether `text` is a ChatFlow type (`str`, `list[int]`, `map[json]?`)."""
    t = text.strip()
    if t.endswith("?"):
        t = t[:-1]
    if t in _SCALARS:
        return True
    for head in ("list[", "map["):
        if t.startswith(head) and t.endswith("]"):
            return valid_type(t[len(head):-1])
    return False


def major(version: str | None) -> str:
    """The major part of a version string (`1` of `1.4.2`)."""
    return (version or "0").split(".", 1)[0]


def builtin_kind(name: str) -> ActionKind | None:
    """One of ChatFlow's own kinds, without scanning anything."""
    from chatflow.plugins.builtin import BUILTIN

    return BUILTIN.get(name)


def find_kind(name: str) -> ActionKind | None:
    """The kind registered under `name`, or None when none is installed."""
    kind = builtin_kind(name)
    if kind is not None:
        return kind
    return installed_kinds().get(name)


def kind_names() -> list[str]:
    """Every installed kind's name (for "did you mean" and listings)."""
    return list(installed_kinds())


_CACHE: dict[str, Any] = {}


def reset_cache() -> None:
    """Forget the scan (tests that install or remove a plugin in-process)."""
    _CACHE.clear()


def installed_kinds() -> dict[str, ActionKind]:
    """Every kind: the built-ins, then each valid entry point of the group
    (scanned once per process)."""
    kinds = _CACHE.get("kinds")
    if kinds is None:
        kinds, problems = _scan()
        _CACHE["kinds"] = kinds
        _CACHE["problems"] = problems
    return dict(kinds)


def discovery_problems() -> list[str]:
    """Why some entry points of the group were not registered (a plugin that
    fails to import, a name clash, a malformed spec)."""
    installed_kinds()
    return list(_CACHE["problems"])


def _scan() -> tuple[dict[str, ActionKind], list[str]]:
    from chatflow.plugins.builtin import BUILTIN

    kinds: dict[str, ActionKind] = dict(BUILTIN)
    problems: list[str] = []
    try:
        from importlib.metadata import entry_points

        eps = list(entry_points(group=GROUP))
    except Exception as exc:  # a broken environment must not break the compiler
        return kinds, [f"cannot list the installed plugins: {exc}"]
    for ep in sorted(eps, key=lambda e: (e.name, e.value)):
        dist = getattr(ep, "dist", None)
        dist_name = getattr(dist, "name", None) or "unknown"
        version = getattr(dist, "version", None) or "0"
        where = f"`{ep.name}` from {dist_name} {version}"
        try:
            obj = ep.load()
        except Exception as exc:
            problems.append(f"{where}: cannot load `{ep.value}`: {type(exc).__name__}: {exc}")
            continue
        if not isinstance(obj, ActionKind):
            problems.append(f"{where}: `{ep.value}` is not a chatflow.plugins.ActionKind")
            continue
        known = kinds.get(ep.name)
        if known is not None:
            if known.builtin and obj is known:
                continue  # ChatFlow's own registration of a built-in kind
            problems.append(f"{where}: the kind `{ep.name}` is already registered"
                            + (" by ChatFlow" if known.builtin else f" by {known.dist}"))
            continue
        problem = spec_problem(ep.name, obj)
        if problem is not None:
            problems.append(f"{where}: {problem}")
            continue
        kinds[ep.name] = replace(obj, name=ep.name, dist=dist_name, version=version,
                                 builtin=False)
    return kinds, problems


def spec_problem(name: str, kind: ActionKind) -> str | None:
    """Why `kind`, registered as `name`, is not a well-formed spec, or None."""
    if not _NAME.match(name) or name in _RESERVED:
        return f"`{name}` cannot be a kind name (a name of letters, digits and `_`, " \
               "not a keyword)"
    if kind.target not in (None, "str"):
        return f"target type `{kind.target}`: a target is `str` or None"
    for fname, ftype in kind.fields.items():
        if not _NAME.match(fname) or not isinstance(ftype, str) or not valid_type(ftype):
            return f"field `{fname}`: `{ftype}` is not a ChatFlow type"
    for oname, opt in kind.options.items():
        if oname in GENERIC_OPTIONS:
            return f"option `{oname}` is a step option of every kind"
        if not _NAME.match(oname) or not isinstance(opt, Option) or not valid_type(opt.type):
            return f"option `{oname}`: not a name with a ChatFlow type"
    if kind.runtime is None or ":" not in kind.runtime:
        return "`runtime` must be `module:attribute`"
    return None
