"""The must-show of issue 8, end to end through the `chatflow` command: the
example `http` plugin (examples/plugins/chatflow-http) against a local HTTP
server — lint (a wrong option type is an error at the option), dry run (the
request shown), run (its fields feed a later step); then, with the plugin
gone, `lint` reports the unknown kind and resuming an instance that needs it
fails that step with a clear message; a plugin of another major version
fails the step the same way. The plugin is put on the path as a
distribution (`plugin_support`); `test_pip_install` installs it with pip."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from plugin_support import HTTP_SRC, ROOT, make_dist, subprocess_env

from installed_cli import chatflow_command

FLOW = '''flow notify(base: str, item: str = "widget") -> (id: int, status: int) {
  step create: http "{base}/items" {
    method "POST"
    headers {Authorization: "Bearer s3cret; $(touch canary)"}
    body {name: item, tags: ["a", "b"]}
    timeout 5s
    expect 201
  }
  step show: shell "printf '%s %s' {create.json.id} {create.status} > shown.txt"
  output id = int(create.json.id ?? 0)
  output status = create.status
}
'''

GATED = '''flow gated(base: str) {
  step go: approve "Send it?"
  step create: http "{base}/items" { body {name: "w"} }
  step show: shell "echo {create.status}"
}
'''


class _Handler(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"null")
        self.seen.append({"path": self.path, "body": body,
                          "auth": self.headers.get("Authorization"),
                          "type": self.headers.get("Content-Type")})
        out = json.dumps({"id": 42}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def chatflow(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*chatflow_command(), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert proc.returncode in (0, 1, 3), proc.stdout + proc.stderr  # 3: waits for a person
    return proc


def started_id(out: str) -> str:
    m = re.search(r"started (\S+)", out)
    assert m, out
    return m.group(1)


@pytest.mark.slow
def test_http_plugin_must_show(tmp_path: Path, server: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "api.flow").write_text(FLOW, encoding="utf-8")
    (work / "gated.flow").write_text(GATED, encoding="utf-8")
    (work / "bad.flow").write_text(FLOW.replace("expect 201", 'expect "201"'),
                                   encoding="utf-8")
    with_plugin = subprocess_env(make_dist(tmp_path / "site"), HTTP_SRC)
    state = ["--state", f"file:{tmp_path / 'state'}"]

    listed = chatflow(work, with_plugin, "plugins")
    assert "http \"URL\"  (chatflow-http 0.1.0)" in listed.stdout
    assert "option expect: int" in listed.stdout

    assert chatflow(work, with_plugin, "lint", "api.flow").returncode == 0
    bad = chatflow(work, with_plugin, "lint", "bad.flow")
    assert bad.returncode == 1
    assert "error[E0301]: expected `int`, found `str`" in bad.stderr
    assert "bad.flow:7:12" in bad.stderr  # at the option's value

    plan = chatflow(work, with_plugin, "run", "api.flow", "-i", f"base={server}", "--dry-run")
    assert plan.returncode == 0
    assert f"POST {server}/items; headers Authorization, Content-Type; body" in plan.stdout
    assert "s3cret" not in plan.stdout  # header values are not shown
    assert not _Handler.seen

    ran = chatflow(work, with_plugin, "run", "api.flow", "-i", f"base={server}", "--json",
                   *state)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout)["outputs"] == {"id": 42, "status": 201}
    assert (work / "shown.txt").read_text() == "42 201"  # its fields fed a later step
    assert _Handler.seen == [{"path": "/items", "body": {"name": "widget", "tags": ["a", "b"]},
                              "auth": "Bearer s3cret; $(touch canary)",
                              "type": "application/json"}]
    assert not (work / "canary").exists()

    # an instance that waits before its http step ...
    waiting = chatflow(work, with_plugin, "run", "gated.flow", "-i", f"base={server}",
                       "--automation", "50", *state)
    iid = started_id(waiting.stdout + waiting.stderr)
    second = chatflow(work, with_plugin, "run", "gated.flow", "-i", f"base={server}",
                      "--automation", "50", *state)
    other = started_id(second.stdout + second.stderr)

    # ... then the plugin is gone
    without = subprocess_env()
    lint = chatflow(work, without, "lint", "api.flow")
    assert lint.returncode == 1
    assert "error[E0208]: unknown action `http`" in lint.stderr
    assert "E0207" not in lint.stderr and "E0210" not in lint.stderr
    chatflow(work, without, "approve", iid, "go", *state)
    resumed = chatflow(work, without, "resume", iid, *state)
    assert resumed.returncode == 1
    out = resumed.stdout + resumed.stderr
    assert "create failed: the action kind `http` is not installed: this flow was compiled " \
           "with the plugin chatflow-http 0.1.0" in out
    assert "show cancelled" in out

    # a plugin of another major version fails the step the same way
    newer = subprocess_env(make_dist(tmp_path / "site2", version="1.0.0"), HTTP_SRC)
    chatflow(work, newer, "approve", other, "go", *state)
    resumed = chatflow(work, newer, "resume", other, *state)
    assert resumed.returncode == 1
    assert "installed from chatflow-http 1.0.0, but this flow was compiled with " \
           "chatflow-http 0.1.0 (another major version)" in resumed.stdout + resumed.stderr
    assert len(_Handler.seen) == 1


def test_did_you_mean_over_installed_kinds(tmp_path: Path) -> None:
    (tmp_path / "t.flow").write_text('flow f() { step a: htpp "http://x" }\n', encoding="utf-8")
    env = subprocess_env(make_dist(tmp_path / "site"), HTTP_SRC)
    lint = chatflow(tmp_path, env, "lint", "t.flow")
    assert "unknown action `htpp`" in lint.stderr and "did you mean `http`?" in lint.stderr


@pytest.mark.slow
def test_pip_install(tmp_path: Path) -> None:
    """`pip install ./examples/plugins/chatflow-http` (into a target directory,
    not the test venv) gives the kind: the plugin's own pyproject is enough."""
    target = tmp_path / "target"
    # a copy, so the build leaves nothing (build/, *.egg-info) in the repository
    source = shutil.copytree(ROOT / "examples" / "plugins" / "chatflow-http", tmp_path / "src",
                             ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(source)],
        capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    listed = chatflow(tmp_path, subprocess_env(target), "plugins", "--json")
    kinds = {k["name"]: k for k in json.loads(listed.stdout)["kinds"]}
    assert kinds["http"]["dist"] == "chatflow-http" and kinds["http"]["version"] == "0.1.0"
    assert kinds["http"]["fields"] == {"ok": "bool", "status": "int", "body": "str",
                                       "json": "json"}
