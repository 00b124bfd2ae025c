"""`chatflow lint DIR` in a real repository: which files a directory walk takes
(`chatflow.compiler.sources`) and which YAML is ChatFlow's (`is_flow_yaml`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatflow.compiler.api import lint_paths
from chatflow.compiler.sources import find_sources, git_ignored
from chatflow.dsl.frontend import is_flow_yaml

FLOW = 'flow build() {\n  step a: shell "true"\n}\n'
YAML_FLOW = 'flow: release\nsteps:\n  - step: tag\n    shell: "git tag v1"\n'
# Each of these would be an error if it were linted as a flow.
NOT_FLOWS = {
    ".github/workflows/ci.yml":
        "name: CI\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: make test  # the workflow runs the flows\n",
    "docker-compose.yml": "services:\n  web:\n    image: nginx\n    labels: {flow: web}\n",
    ".chatflow/config.yaml": "agents:\n  chatcoder: {command: \"python3 agent.py\"}\n",
    "ci/pipeline.yaml": "stages: [build, test]\nworkflow:\n  rules: []\n",
    "deploy/values.yml": "- flow: not a mapping at the top\n",
}
BROKEN = 'flow broken( {\n'   # a syntax error, wherever it is found


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project as a user has it: flows next to CI configs, a compose file, an
    agents config, a virtual environment, node_modules and git-ignored output."""
    root = tmp_path / "project"
    write(root, "flows/build.flow", FLOW)
    write(root, "flows/release.yaml", YAML_FLOW)
    write(root, "flows/nightly.flow.yml", "flows:\n  - flow: nightly\n    steps: []\n")
    write(root, "top.flow", FLOW.replace("build", "top"))
    for rel, text in NOT_FLOWS.items():
        write(root, rel, text)
    write(root, "venv/pyvenv.cfg", "home = /usr/bin\n")          # a venv under any name
    write(root, "venv/lib/site/pkg.flow", BROKEN)
    write(root, "env2/conda-meta/history", "")
    write(root, "env2/x.flow", BROKEN)
    write(root, "node_modules/pkg/x.flow", BROKEN)
    write(root, ".git-free-hidden/x.flow", BROKEN)
    write(root, "build/out/generated.flow", BROKEN)              # git-ignored directory
    write(root, "flows/scratch.flow", BROKEN)                    # git-ignored file
    write(root, "flows/keep.flow", FLOW.replace("build", "keep"))
    write(root, ".gitignore", "build/\nscratch.flow\n")
    git(root, "init", "-q")
    return root


def rel(root: Path, paths: list[str]) -> list[str]:
    return [Path(p).relative_to(root).as_posix() for p in paths]


EXPECTED = ["flows/build.flow", "flows/keep.flow", "flows/nightly.flow.yml",
            "flows/release.yaml", "top.flow"]


def test_a_walk_takes_only_chatflow_sources(repo: Path) -> None:
    assert rel(repo, find_sources([str(repo)])) == EXPECTED


def test_lint_of_the_repository_is_clean(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    result = lint_paths(["."])
    assert [d.code for d in result.diagnostics] == [], result.diagnostics
    assert sorted(Path(f).as_posix() for f in result.files) == EXPECTED


def test_a_tracked_file_is_not_ignored(repo: Path) -> None:
    """git ignores only untracked files: a committed flow matching .gitignore counts."""
    write(repo, "flows/scratch.flow", FLOW.replace("build", "scratch"))
    git(repo, "add", "-f", "flows/scratch.flow")
    assert "flows/scratch.flow" in rel(repo, find_sources([str(repo)]))


def test_a_subdirectory_of_the_repository_uses_its_ignores(repo: Path) -> None:
    write(repo, "flows/build/x.flow", BROKEN)  # `build/` in .gitignore matches at any depth
    assert rel(repo, find_sources([str(repo / "flows")])) == [
        "flows/build.flow", "flows/keep.flow", "flows/nightly.flow.yml", "flows/release.yaml"]


def test_named_paths_are_checked_whatever_the_walk_skips(repo: Path) -> None:
    named = [str(repo / r) for r in (".github/workflows/ci.yml", "build", "node_modules")]
    found = rel(repo, find_sources(named))
    assert found == [".github/workflows/ci.yml", "build/out/generated.flow",
                     "node_modules/pkg/x.flow"]
    # ... and a YAML file named explicitly is linted as a flow (and fails as one)
    result = lint_paths([str(repo / ".chatflow" / "config.yaml")])
    assert any(d.code == "E0111" for d in result.diagnostics)


def test_without_git_only_the_fixed_rules_apply(repo: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo / "no-such-bin"))  # no git to be found
    assert git_ignored(str(repo)) is None
    found = rel(repo, find_sources([str(repo)]))
    assert found == sorted([*EXPECTED, "build/out/generated.flow", "flows/scratch.flow"])


def test_outside_a_work_tree_nothing_is_ignored(tmp_path: Path) -> None:
    write(tmp_path, "plain/a.flow", FLOW)
    write(tmp_path, "plain/.gitignore", "a.flow\n")  # not a repository: no meaning
    assert git_ignored(str(tmp_path / "plain")) is None
    assert rel(tmp_path, find_sources([str(tmp_path / "plain")])) == ["plain/a.flow"]


def test_an_ignored_directory_named_explicitly_is_searched(repo: Path) -> None:
    assert git_ignored(str(repo / "build")) == frozenset()


def test_the_repository_config_cannot_run_a_program(repo: Path) -> None:
    """`git ls-files` must not start the repository's `core.fsmonitor` hook."""
    canary = repo.parent / "fsmonitor-ran"
    hook = write(repo, "hook.sh", f"#!/bin/sh\ntouch '{canary}'\n")
    hook.chmod(0o755)
    git(repo, "add", "top.flow")  # git consults the monitor when there is an index
    git(repo, "config", "core.fsmonitor", str(hook))
    find_sources([str(repo)])
    assert not canary.exists()


def test_git_is_asked_once_per_directory_named(repo: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real_run = subprocess.run

    def counting_run(args: list[str], **kw: object) -> object:
        calls.append(list(args))
        return real_run(args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "run", counting_run)
    find_sources([str(repo)])
    assert len(calls) == 1 and calls[0][0] == "git"


def test_a_broken_yaml_flow_is_still_found(tmp_path: Path) -> None:
    write(tmp_path, "f.yaml", "flow: x\nsteps: [\n")
    result = lint_paths([str(tmp_path)])
    assert [d.code for d in result.diagnostics] == ["E0110"]


@pytest.mark.parametrize(("text", "expected"), [
    ("flow: x\nsteps: []\n", True),
    ("flows:\n  - flow: a\n", True),
    ("{flow: a, steps: []}\n", True),
    ("# comment\n---\ndescription: x\n\"flow\": y\n", True),
    ("name: CI\non: [push]\njobs: {build: {steps: [{run: echo workflow}]}}\n", False),
    ("services:\n  web: {labels: {flow: web}}\n", False),
    ("- flow: a\n", False),
    ("", False),
    ("just text mentioning a flow\n", False),
    ("other: 1\n---\nflow: x\n", False),           # the first document decides
    ("flow: x\n  bad: [\n", True),                   # recognised before the error
    ("jobs: [\nflows: 1\n", True),                   # broken YAML with a flow key line
    ("jobs: [\nworkflow: 1\n", False),
    ("a: &x {flow: 1}\nb: *x\n", False),
])
def test_is_flow_yaml(text: str, expected: bool) -> None:
    assert is_flow_yaml(text) is expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["name", "on", "jobs", "services", "flowers",
                                        "workflow", "agents", "state", "steps"]),
                       st.integers() | st.text(max_size=5), max_size=6),
       st.booleans())
def test_a_mapping_is_a_flow_file_exactly_when_it_has_a_flow_key(
        keys: dict[str, object], with_flow: bool) -> None:
    import yaml

    doc = dict(keys)
    if with_flow:
        doc["flow"] = "x"
    assert is_flow_yaml(yaml.safe_dump(doc)) is with_flow

