"""`chatflow plugins`: list the installed action kinds (built-in and from
plugins) with their target, options and fields, and the entry points of the
`chatflow.actions` group that could not be registered. Reads the registry's
spec side only: no plugin's run-time code is imported."""

from __future__ import annotations

import json
from typing import Any

from chatflow.plugins import GENERIC_OPTIONS, ActionKind, discovery_problems, installed_kinds


def kind_record(kind: ActionKind) -> dict[str, Any]:
    return {
        "name": kind.name, "builtin": kind.builtin, "dist": kind.dist, "version": kind.version,
        "doc": kind.doc, "target": kind.target, "target_doc": kind.target_doc,
        "options": {n: {"type": o.type, "doc": o.doc} for n, o in kind.options.items()},
        "fields": dict(kind.fields),
    }


def plugins_text(as_json: bool = False) -> str:
    """The listing, as text for people or as JSON."""
    kinds = installed_kinds()
    problems = discovery_problems()
    if as_json:
        return json.dumps({"kinds": [kind_record(k) for k in kinds.values()],
                           "step_options": list(GENERIC_OPTIONS), "problems": problems},
                          indent=2, ensure_ascii=False)
    lines: list[str] = []
    for kind in kinds.values():
        origin = "built-in" if kind.builtin else f"{kind.dist} {kind.version}"
        target = f' "{kind.target_doc or "TARGET"}"' if kind.target else ""
        lines.append(f"{kind.name}{target}  ({origin})")
        lines.append(f"    {kind.doc}")
        for name, opt in kind.options.items():
            doc = f"  {opt.doc}" if opt.doc else ""
            lines.append(f"    option {name}: {opt.type}{doc}")
        if kind.fields:
            lines.append("    fields: " + ", ".join(f"{n}: {t}" for n, t in kind.fields.items()))
    lines.append("")
    lines.append("every kind also takes the step options " + ", ".join(GENERIC_OPTIONS)
                 + " (docs/language.md §5)")
    if problems:
        lines.append("")
        lines.append("not registered:")
        lines.extend(f"    {p}" for p in problems)
    return "\n".join(lines)
