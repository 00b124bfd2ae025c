"""W0115 unknown-agent: the catalog of agents a run could find, the warning's
wording, when installed plugins are scanned, and both places that check
(the lint rule over the AST, `ir_agent_warnings` over the IR for --dry-run)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pytest

from chatflow.compiler.agent_names import AgentCatalog, agent_warning, ir_agent_warnings
from chatflow.compiler.api import compile_path, lint_paths
from chatflow.diagnostics import Span

SP = Span("f.flow", 2, 17, 2, 27)


class Plugins:
    """Installed plugin names, counting how often they were looked up."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)
        self.scans = 0

    def __call__(self) -> Collection[str]:
        self.scans += 1
        return self.names


def catalog(config: str | None = ".chatflow/config.yaml",
            configured: dict[str, str | None] | None = None,
            plugins: Plugins | None = None) -> AgentCatalog:
    return AgentCatalog(config, configured or {}, plugins or Plugins())


def test_a_command_agent_in_the_config_is_defined_without_scanning_plugins() -> None:
    plugins = Plugins("command")
    cat = catalog(configured={"chatcoder": None}, plugins=plugins)
    assert agent_warning(cat, "chatcoder", SP) is None
    assert plugins.scans == 0


def test_an_installed_plugin_name_is_defined_without_a_config() -> None:
    assert agent_warning(catalog(None, plugins=Plugins("claude")), "claude", SP) is None


def test_undefined_in_the_config_with_did_you_mean() -> None:
    d = agent_warning(catalog(configured={"chatcoder": None}), "chatcodr", SP)
    assert d is not None and d.code == "W0115" and d.severity.value == "warning"
    assert d.message == ("agent `chatcodr` is not defined in .chatflow/config.yaml and no "
                         "installed plugin provides it")
    assert d.hint == "did you mean `chatcoder`?"
    assert d.span == SP


def test_undefined_without_a_config_says_how_to_define_it() -> None:
    d = agent_warning(catalog(None, plugins=Plugins("command")), "reviewer", SP)
    assert d is not None
    assert "there is no .chatflow/config.yaml here" in d.message
    assert d.hint is not None and "agents: {reviewer: {command:" in d.hint
    assert "docs/agents.md" in d.hint


def test_a_configured_plugin_that_is_not_installed() -> None:
    cat = catalog(configured={"reviewer": "acme-review"}, plugins=Plugins("command"))
    d = agent_warning(cat, "reviewer", SP)
    assert d is not None
    assert d.message == ("agent `reviewer` names plugin `acme-review`, but no installed "
                         "package provides it")
    cat = catalog(configured={"reviewer": "acme-review"}, plugins=Plugins("acme-review"))
    assert agent_warning(cat, "reviewer", SP) is None


def test_plugins_are_scanned_once_per_catalog() -> None:
    plugins = Plugins()
    cat = catalog(plugins=plugins)
    for name in ("a1", "b2", "c3"):
        assert agent_warning(cat, name, SP) is not None
    assert plugins.scans == 1


def write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


FLOW = '''import bugfix from "std"

flow f() {
  step design: agent "chatcodr" { prompt "x" }
  step ok: agent "planner" { prompt "y" }
  step fix: call bugfix(issue: "z")
}
'''


def test_lint_reports_each_undefined_agent_once(tmp_path: Path) -> None:
    path = write(tmp_path, "f.flow", FLOW)
    asked: list[int] = []

    def agents() -> AgentCatalog:
        asked.append(1)
        return catalog(configured={"planner": None, "chatcoder": None})

    result = lint_paths([path, path], agents=agents)
    w = [d for d in result.diagnostics if d.code == "W0115"]
    assert [(d.span.line, d.message.split(" is ")[0]) for d in w] == [(4, "agent `chatcodr`")]
    assert len(asked) == 1  # the catalog is built once per lint


def test_a_std_flow_needing_an_undefined_agent_is_reported_at_the_call(tmp_path: Path) -> None:
    path = write(tmp_path, "f.flow", FLOW)
    result = lint_paths([path], agents=lambda: catalog(configured={"planner": None}))
    w = sorted((d.span.line, d.span.column, d.message) for d in result.diagnostics
               if d.code == "W0115")
    assert [(line, col) for line, col, _ in w] == [(4, 22), (6, 18)]
    assert w[1][2].startswith("`bugfix` (from std) runs agent `chatcoder`, which is not defined")


def test_without_a_catalog_agent_names_are_not_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "f.flow", FLOW)
    assert not [d for d in lint_paths([path]).diagnostics if d.code == "W0115"]


def test_a_flow_without_agents_never_builds_the_catalog(tmp_path: Path) -> None:
    path = write(tmp_path, "f.flow", 'flow f() {\n  step a: shell "true"\n}\n')

    def agents() -> AgentCatalog:
        raise AssertionError("the catalog was built for a flow without agents")

    assert lint_paths([path], agents=agents).diagnostics == []


@pytest.mark.parametrize("configured", [{}, {"chatcoder": None}, {"planner": None},
                                        {"chatcoder": None, "planner": None, "chatcodr": None}])
def test_the_ir_check_agrees_with_the_lint_rule(tmp_path: Path,
                                                configured: dict[str, str | None]) -> None:
    """`--dry-run` (over the IR) warns about the same agents as `lint` (over the AST)."""
    path = write(tmp_path, "f.flow", FLOW)
    cat = catalog(configured=configured)
    linted = sorted((d.span.line, d.message) for d in lint_paths([path], agents=lambda: cat)
                    .diagnostics if d.code == "W0115")
    ir = compile_path(path).ir
    assert ir is not None
    planned = sorted((d.span.line, d.message) for d in ir_agent_warnings(ir, cat))
    assert planned == linted
