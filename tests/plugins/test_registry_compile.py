"""The action registry as the compiler sees it: built-in kinds registered
through the `chatflow.actions` entry points, a plugin's kind checked from its
spec (target, options, fields), lowered with its distribution into IR
version 3, and an unknown kind reported with "did you mean"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from plugin_support import HTTP_SRC, make_dist, on_path

from chatflow.compiler.check import check_program
from chatflow.compiler.ir import load_ir
from chatflow.compiler.loader import load_program
from chatflow.compiler.lower import lower
from chatflow.diagnostics import Diagnostic, sort_diagnostics
from chatflow.plugins import builtin_kind, discovery_problems, find_kind, installed_kinds
from chatflow.plugins.builtin import BUILTIN

FLOW = '''flow f(base: str, n: int = 1) -> (code: int) {
  step api: http "{base}/items" {
    method "POST"
    headers {accept: "application/json"}
    body {count: n}
    timeout 5s
    expect 201
  }
  step show: shell "echo {api.status} {api.body}"
  output code = api.status
}
'''


def check(tmp_path: Path, src: str) -> tuple[list[Diagnostic], object]:
    path = tmp_path / "t.flow"
    path.write_text(src, encoding="utf-8")
    program, diags = load_program(str(path))
    checked, more = check_program(program)
    return sort_diagnostics(diags + more), checked


def codes(diags: list[Diagnostic]) -> list[str]:
    return [f"{d.code}@{d.span.line}:{d.span.column} {d.message}" for d in diags]


@pytest.fixture
def http(tmp_path: Path) -> object:
    with on_path(make_dist(tmp_path / "site"), HTTP_SRC):
        yield


def test_builtin_kinds_are_registered_like_a_plugin() -> None:
    from importlib.metadata import entry_points

    eps = {ep.name: ep for ep in entry_points(group="chatflow.actions")}
    for name, kind in BUILTIN.items():
        assert eps[name].load() is kind, name
        assert builtin_kind(name) is kind and kind.builtin
    assert list(installed_kinds())[:7] == list(BUILTIN)
    assert not discovery_problems()


def test_a_plugin_kind_compiles_with_its_distribution_recorded(tmp_path: Path,
                                                               http: object) -> None:
    diags, checked = check(tmp_path, FLOW)
    assert codes(diags) == []
    ir = lower(checked, "f", source_info=False)  # type: ignore[arg-type]
    assert ir["ir_version"] == 3
    node = ir["flows"]["f"]["nodes"][0]
    assert node["fields"] == {"ok": "bool", "status": "int", "body": "str", "json": "json"}
    assert node["action"]["type"] == "http"
    assert node["action"]["plugin"] == {"dist": "chatflow-http", "version": "0.1.0"}
    assert set(node["action"]["options"]) == {"method", "headers", "body", "expect"}
    assert node["options"] == {"timeout_ms": 5000}
    assert load_ir(json.loads(json.dumps(ir))) == ir
    from jsonschema import Draft202012Validator

    from chatflow.compiler.ir import ir_schema

    assert not list(Draft202012Validator(ir_schema()).iter_errors(ir))


def test_ir_without_plugins_stays_version_2(tmp_path: Path, http: object) -> None:
    _diags, checked = check(tmp_path, 'flow f() { step a: shell "true" }')
    assert lower(checked, "f")["ir_version"] == 2  # type: ignore[arg-type]


@pytest.mark.parametrize(("option", "expected"), [
    ('expect "201"', "E0301@3:12 expected `int`, found `str`"),
    ("headers [1]", "E0301@3:13 expected `map[str]`, found `list[int]`"),
    ("method", "E0217@3:5 option `method` needs a value"),
    ("metod \"GET\"", "E0207@3:5 unknown option `metod`"),
    ('prompt "hi"', "E0216@3:5 option `prompt` does not apply to a `http` step"),
])
def test_option_types_are_checked_at_the_option(tmp_path: Path, http: object, option: str,
                                                expected: str) -> None:
    src = f'flow f() {{\n  step api: http "http://x" {{\n    {option}\n  }}\n}}\n'
    diags, _ = check(tmp_path, src)
    assert codes(diags) == [expected]


def test_field_types_come_from_the_spec(tmp_path: Path, http: object) -> None:
    src = ('flow f() -> (s: str) {\n  step api: http "http://x"\n'
           '  output s = api.status\n}\n')
    diags, _ = check(tmp_path, src)
    assert codes(diags) == ["E0301@3:14 expected `str`, found `int`"]
    diags, _ = check(tmp_path, src.replace("api.status", "api.stauts"))
    assert [d.hint for d in diags] == ["did you mean `status`?"]


def test_an_option_of_a_plugin_on_another_kind(tmp_path: Path, http: object) -> None:
    diags, _ = check(tmp_path, 'flow f() {\n  step a: shell "true" { expect 200 }\n}\n')
    assert codes(diags) == ["E0216@2:26 option `expect` does not apply to a `shell` step"]
    assert diags[0].hint == "it is for `http` steps"


def test_unknown_kind_did_you_mean_over_installed_kinds(tmp_path: Path, http: object) -> None:
    diags, _ = check(tmp_path, 'flow f() {\n  step a: htp "http://x" { method "GET" }\n}\n')
    assert codes(diags) == ["E0208@2:11 unknown action `htp`"]
    assert diags[0].hint == "did you mean `http`?"


def test_without_the_plugin_the_kind_is_unknown(tmp_path: Path) -> None:
    assert find_kind("http") is None
    diags, _ = check(tmp_path, FLOW)
    # one error for the kind; its options and fields are not reported on top
    assert codes(diags) == ["E0208@2:13 unknown action `http`"]
    assert "http" not in (diags[0].hint or "")


def test_a_broken_plugin_is_reported_not_registered(tmp_path: Path) -> None:
    site = make_dist(tmp_path / "site", name="bad-kinds", version="1.0",
                     entry_points="broken = no_such_module:KIND\nnotakind = json:dumps")
    with on_path(site):
        kinds = installed_kinds()
        problems = discovery_problems()
    assert "broken" not in kinds and "notakind" not in kinds
    assert any("`broken` from bad-kinds 1.0: cannot load" in p for p in problems)
    assert any("is not a chatflow.plugins.ActionKind" in p for p in problems)
    from chatflow.cli_plugins import plugins_text

    with on_path(site):
        text = plugins_text()
        listed = json.loads(plugins_text(as_json=True))
    assert "not registered:\n    `broken` from bad-kinds 1.0: cannot load" in text
    assert [k["name"] for k in listed["kinds"]] == list(BUILTIN)
    assert len(listed["problems"]) == 2


def test_the_compiler_does_not_import_plugin_runtime_code(tmp_path: Path,
                                                          http: object) -> None:
    import sys

    check(tmp_path, FLOW)
    assert "chatflow_http" in sys.modules
    assert "chatflow_http.runtime" not in sys.modules


YAML = '''flow: f
params:
  base: {type: str}
  n: {type: int, default: 1}
outputs:
  code: int
steps:
  - step: api
    http: "{base}/items"
    method: POST
    headers: {accept: application/json}
    body: {count: "{n}"}
    timeout: 5s
    expect: 201
  - step: show
    shell: "echo {api.status} {api.body}"
output:
  code: api.status
'''


def test_the_yaml_form_takes_a_plugin_kind_and_gives_the_same_ir(tmp_path: Path,
                                                                 http: object) -> None:
    from chatflow.compiler.api import compile_path

    (tmp_path / "t.flow").write_text(FLOW, encoding="utf-8")
    (tmp_path / "t.flow.yaml").write_text(YAML, encoding="utf-8")
    flow_ir = compile_path(str(tmp_path / "t.flow"), source_info=False).ir
    yaml_res = compile_path(str(tmp_path / "t.flow.yaml"), source_info=False)
    assert [d.message for d in yaml_res.diagnostics] == []
    assert yaml_res.ir == flow_ir
    (tmp_path / "bad.flow.yaml").write_text(YAML.replace("expect: 201", 'expect: "201"'),
                                            encoding="utf-8")
    bad = compile_path(str(tmp_path / "bad.flow.yaml"))
    assert [(d.code, d.span.line, d.span.column) for d in bad.diagnostics] == [
        ("E0301", 14, 14)]


def test_builtin_kinds_never_scan_the_installed_distributions() -> None:
    """`chatflow lint` of a flow of built-in kinds (and so every command that
    never meets a plugin kind) does not pay for `importlib.metadata`."""
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "examples" / "feature.flow"
    probe = ("import io, contextlib, sys\nfrom chatflow.__main__ import main\n"
             "with contextlib.redirect_stdout(io.StringIO()), "
             "contextlib.redirect_stderr(io.StringIO()):\n"
             f"    main(['lint', {str(example)!r}])\n"
             "import chatflow.plugins as p\n"
             "print(bool(p._CACHE), 'importlib.metadata' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out == ["False", "False"]


def test_a_bare_option_before_a_named_option_says_what_happened(tmp_path: Path) -> None:
    """Any name in a step's options takes an expression, so a name written
    alone takes the next line's name for its value: the syntax error says so."""
    diags, _ = check(tmp_path, 'flow f() {\n  step a: shell "x" {\n    frob\n'
                               '    other 1\n  }\n}\n')
    assert codes(diags) == ["E0101@3:5 `frob` has no value, so `other` on the next line "
                            "was read as its value"]


def test_the_printed_yaml_schema_has_the_installed_plugin_kinds(
        http: object, capsys: pytest.CaptureFixture[str]) -> None:
    """`chatflow schema yaml` prints the schema the YAML front-end checks
    with: an installed kind is an action key, its options are step keys."""
    from chatflow.commands import schema

    schema("yaml")
    step = json.loads(capsys.readouterr().out)["$defs"]["step"]
    assert step["properties"]["http"] == {"$ref": "#/$defs/template"}
    assert {"method", "headers", "body", "expect"} <= set(step["properties"])
    assert {"required": ["http"]} in step["oneOf"]


def test_without_plugins_the_yaml_schema_is_the_shipped_one() -> None:
    from importlib import resources

    from chatflow.compiler.api import yaml_schema

    shipped = (resources.files("chatflow") / "schemas" / "flow.schema.json").read_text("utf-8")
    assert yaml_schema() == json.loads(shipped)
    assert "http" not in yaml_schema()["$defs"]["step"]["properties"]


def test_a_plugin_step_without_its_target_or_with_one_too_many(tmp_path: Path) -> None:
    """E0218: `http` takes a URL; a kind declared with `target=None` takes none."""
    fake = Path(__file__).resolve().parent / "fake_kinds"
    site = make_dist(tmp_path / "site", "chatflow-fake", "1.0.0",
                     "http = chatflow_http:HTTP\ntick = fake_echo:TICK")
    with on_path(site, HTTP_SRC, fake):
        diags, _ = check(tmp_path, 'flow f() {\n  step a: http {\n    method "GET"\n  }\n'
                                   '  step b: tick "now" {\n    every 5s\n  }\n'
                                   '  step c: http "http://x"\n  step d: tick\n}\n')
    assert codes(diags) == ["E0218@2:11 `http` takes a target (URL), and this step has none",
                            "E0218@5:16 `tick` takes no target"]
