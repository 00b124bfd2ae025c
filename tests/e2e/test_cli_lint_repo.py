"""`chatflow lint DIR` in a real repository (the installed command): CI
configs, compose files and the agents config are not flows; virtual
environments, node_modules and git-ignored paths are not searched; a YAML
file named explicitly is still checked."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cli_helpers import run_chatflow

BROKEN = "flow broken( {\n"
FILES = {
    ".github/workflows/ci.yml": "name: CI\non: [push]\njobs:\n  t:\n    runs-on: ubuntu-latest\n"
                                "    steps: [{run: make test}]\n",
    "docker-compose.yml": "services:\n  db: {image: postgres}\n",
    ".chatflow/config.yaml": "agents:\n  chatcoder: {command: \"python3 agent.py\"}\n",
    "agents.yaml": "agents:\n  - name: researcher\n",
    "venv/pyvenv.cfg": "home = /usr/bin\n",
    "venv/lib/bad.flow": BROKEN,
    "node_modules/pkg/bad.flow": BROKEN,
    "dist/bad.flow": BROKEN,
    ".gitignore": "dist/\n",
    "flows/release.yaml": 'flow: release\nsteps:\n  - step: tag\n    shell: "echo tag"\n',
    "flows/build.flow": 'flow build(unused: int) {\n  step a: shell "true"\n}\n',
}


def make_repo(root: Path) -> Path:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_lint_dot_checks_only_the_flows(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    r = run_chatflow("lint", ".", "--format", "json", cwd=repo)
    assert r.code == 0, r.output
    import json

    found = json.loads(r.stdout)
    assert {(d["code"], d["file"]) for d in found} == {("W0101", "flows/build.flow")}


def test_a_yaml_file_named_explicitly_is_checked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    r = run_chatflow("lint", "docker-compose.yml", cwd=repo)
    assert r.code == 1
    assert "error[E0111]" in r.stderr and "docker-compose.yml" in r.stderr
