"""Which agents a run could find, as the caller knows them, and the warning
for a flow that names one it could not (W0115 unknown-agent).

The compiler does not read the runtime's configuration (layering): the CLI
builds an `AgentCatalog` from the configuration in effect (the `agents:` map
of `./.chatflow/config.yaml` and the installed `chatflow.agents` plugins)
and passes it to `lint_paths`; `chatflow run --dry-run` checks the IR it is
about to plan with `ir_agent_warnings`. The rule itself is
`rules/unknown_agent.py`.

An agent name is defined when the config maps it to a `command` (the
built-in adapter) or to a `plugin` that is installed, or when an installed
plugin is registered under that name. Installed plugins are looked up only
when a name is not settled by the config, so linting flows whose agents the
config defines does not pay for scanning the installed packages.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chatflow.compiler.spelling import suggest
from chatflow.diagnostics import Diagnostic, Span, warning

__all__ = ["CODE", "AgentCatalog", "agent_warning", "ir_agent_warnings"]

CODE = "W0115"
DOCS = "docs/agents.md"


@dataclass
class AgentCatalog:
    config: str | None
    """The config file in effect, as shown to the user (None: there is none)."""
    configured: Mapping[str, str | None]
    """Its `agents:` entries: name -> None for a `command` agent, else the plugin it loads."""
    installed: Callable[[], Collection[str]]
    """The names installed plugins provide (called at most once, when needed)."""
    _plugins: frozenset[str] | None = field(default=None, repr=False)

    def plugins(self) -> frozenset[str]:
        if self._plugins is None:
            self._plugins = frozenset(self.installed())
        return self._plugins

    def problem(self, name: str) -> tuple[str, str] | None:
        """(what is wrong with agent `name`, as a clause after "agent `name`",
        and a hint) when a run here could not find it; None when it can."""
        if name in self.configured:
            plugin = self.configured[name]
            if plugin is None or plugin in self.plugins():
                return None
            return (f"names plugin `{plugin}`, but no installed package provides it",
                    f"install the package that provides `{plugin}` (entry-point group "
                    f"`chatflow.agents`), or change `agents.{name}` in {self.config}")
        if name in self.plugins():
            return None
        close = suggest(name, sorted({*self.configured, *self.plugins()}))
        if self.config is None:
            clause = ("is not defined: there is no .chatflow/config.yaml here and no "
                      "installed plugin provides it")
            hint = (f"define it in .chatflow/config.yaml, e.g. `agents: {{{name}: "
                    f"{{command: \"...\"}}}}` (see {DOCS})")
        else:
            clause = f"is not defined in {self.config} and no installed plugin provides it"
            hint = (f"add `{name}: {{command: \"...\"}}` under `agents:` in {self.config} "
                    f"(see {DOCS})")
        return clause, f"did you mean `{close}`?" if close else hint


def agent_warning(catalog: AgentCatalog, name: str, span: Span,
                  via: str | None = None) -> Diagnostic | None:
    """W0115 for agent `name` at `span`, or None when it is defined. `via`
    describes the flow that names it when the span is a call to that flow."""
    found = catalog.problem(name)
    if found is None:
        return None
    clause, hint = found
    message = (f"agent `{name}` {clause}" if via is None
               else f"{via} runs agent `{name}`, which {clause}")
    return warning(CODE, message, span, hint)


def ir_agent_warnings(ir: Mapping[str, Any], catalog: AgentCatalog) -> list[Diagnostic]:
    """W0115 for every agent a run of `ir`'s entry flow could reach. Agents of
    a flow from the standard library are reported at the call step that
    reaches it (its file is not the user's); others where they are named."""
    flows: Mapping[str, Any] = ir.get("flows") or {}
    out: list[Diagnostic] = []
    seen: set[str] = set()

    def visit(key: str) -> None:
        if key in seen or key not in flows:
            return
        seen.add(key)
        flow = flows[key]
        file = str((flow.get("source") or {}).get("file") or key)
        for node in flow.get("nodes") or []:
            action = node.get("action") or {}
            span = _ir_span(file, node.get("span"))
            if action.get("type") == "agent":
                d = agent_warning(catalog, str(action.get("agent")), span)
                if d is not None:
                    out.append(d)
            elif action.get("type") == "call":
                callee = str(action.get("flow"))
                if callee.startswith("std:"):
                    for name in sorted(set(_std_agents(flows, callee, set()))):
                        via = f"`{callee.removeprefix('std:')}` (from std)"
                        d = agent_warning(catalog, name, span, via)
                        if d is not None:
                            out.append(d)
                else:
                    visit(callee)

    visit(str(ir.get("entry")))
    return out


def _std_agents(flows: Mapping[str, Any], key: str, seen: set[str]) -> Iterator[str]:
    if key in seen or key not in flows:
        return
    seen.add(key)
    for node in flows[key].get("nodes") or []:
        action = node.get("action") or {}
        if action.get("type") == "agent":
            yield str(action.get("agent"))
        elif action.get("type") == "call":
            yield from _std_agents(flows, str(action.get("flow")), seen)


def _ir_span(file: str, span: Any) -> Span:
    """The step's span as the IR records it (the whole step; shown from its first line)."""
    if isinstance(span, Mapping):
        try:
            return Span(file, int(span["line"]), int(span["column"]),
                        int(span["end_line"]), int(span["end_column"]))
        except (KeyError, TypeError, ValueError):
            pass
    return Span(file, 1, 1, 1, 1)
