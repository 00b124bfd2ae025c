"""Agents as a user meets them through the installed command: `lint` and
`run --dry-run` warn (W0115) about an agent the configuration in effect does
not define; the repository's examples define theirs."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run_chatflow

FLOW = """\
flow review(change: str = "x") {
  step draft: agent "chatcodr" {
    prompt "Review {change}"
  }
  step ok: agent "chatcoder" {
    prompt "Again {change}"
  }
}
"""
CONFIG = 'agents:\n  chatcoder: {command: "python3 agent.py"}\n'


def project(tmp_path: Path, config: str | None = CONFIG) -> Path:
    (tmp_path / "review.flow").write_text(FLOW, encoding="utf-8")
    if config is not None:
        (tmp_path / ".chatflow").mkdir()
        (tmp_path / ".chatflow" / "config.yaml").write_text(config, encoding="utf-8")
    return tmp_path


def test_lint_warns_about_an_agent_the_config_does_not_define(tmp_path: Path) -> None:
    r = run_chatflow("lint", "review.flow", cwd=project(tmp_path))
    assert r.code == 0  # a warning
    assert "warning[W0115]: agent `chatcodr` is not defined in .chatflow/config.yaml" in r.stderr
    assert "did you mean `chatcoder`?" in r.stderr
    assert "review.flow:2:21" in r.stderr
    assert r.stderr.count("W0115") == 1


def test_lint_without_any_config(tmp_path: Path) -> None:
    r = run_chatflow("lint", "review.flow", "--format", "json", cwd=project(tmp_path, None))
    found = [d for d in json.loads(r.stdout) if d["code"] == "W0115"]
    assert [d["line"] for d in found] == [2, 5]
    assert "there is no .chatflow/config.yaml here" in found[0]["message"]


def test_dry_run_says_so_too(tmp_path: Path) -> None:
    r = run_chatflow("run", "review.flow", "--dry-run", cwd=project(tmp_path))
    assert r.code == 0, r.output
    assert "warning[W0115]: agent `chatcodr` is not defined" in r.stderr
    assert "did you mean `chatcoder`?" in r.stderr
    assert "plan for review" in r.stdout
    assert not (tmp_path / ".chatflow" / "instances").exists()  # still nothing written


def test_a_broken_config_is_a_usage_error(tmp_path: Path) -> None:
    r = run_chatflow("lint", "review.flow", cwd=project(tmp_path, "agents: [chatcoder]\n"))
    assert r.code == 2
    assert "config.yaml" in r.stderr and "`agents` must be a mapping" in r.stderr
