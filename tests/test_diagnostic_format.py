"""Text, JSON and SARIF rendering of diagnostics (docs/cli.md, "Diagnostics")."""

from __future__ import annotations

import io
import json

import pytest

from chatflow.diagnostic_format import (
    RuleInfo,
    diagnostic_dict,
    render_json,
    render_sarif,
    render_text,
    sarif_document,
    summary_line,
    use_color,
)
from chatflow.diagnostics import Related, Span, error, warning
from installed_cli import SARIF_SCHEMA

FILE = "flows/feature.flow"
SOURCE = "\n" * 13 + '  step test after buidl: shell "pytest"\n'


def _span(line: int, col: int, end_line: int, end_col: int, file: str = FILE) -> Span:
    return Span(file, line, col, end_line, end_col)


def test_language_md_section_8_example_exactly() -> None:
    diag = error("E0203", "unknown step `buidl` in `after`", _span(14, 19, 14, 24),
                 "did you mean `build`?")
    expected = (
        "error[E0203]: unknown step `buidl` in `after`\n"
        "  --> flows/feature.flow:14:19\n"
        "   |\n"
        '14 |   step test after buidl: shell "pytest"\n'
        "   |                   ^^^^^ did you mean `build`?\n"
    )
    assert render_text([diag], {FILE: SOURCE}, summary=False) == expected
    assert render_text([diag], {FILE: SOURCE}).endswith(
        "?\n\nerror: 1 error emitted\n")


def test_no_diagnostics_renders_nothing() -> None:
    assert render_text([], {}) == ""
    assert summary_line([]) is None


def test_summary_wording() -> None:
    e = error("E0203", "x", _span(1, 1, 1, 2))
    w = warning("W0101", "y", _span(1, 1, 1, 2))
    assert summary_line([e, e, w]) == "error: 2 errors, 1 warning emitted"
    assert summary_line([w, w]) == "warning: 2 warnings emitted"
    assert summary_line([e]) == "error: 1 error emitted"


def test_warning_header_and_no_hint() -> None:
    src = "flow f() {\n  var unused: int = 0\n}\n"
    w = warning("W0102", "unused var `unused`", _span(2, 7, 2, 13, "a.flow"))
    out = render_text([w], {"a.flow": src}, summary=False)
    assert out == (
        "warning[W0102]: unused var `unused`\n"
        " --> a.flow:2:7\n"
        "  |\n"
        "2 |   var unused: int = 0\n"
        "  |       ^^^^^^\n"
    )


def test_multiline_span_carets_to_end_of_first_line() -> None:
    src = "flow f() {\n  step a: shell \"x\" {\n    timeout 1s\n  }\n}\n"
    d = error("E0301", "bad step", _span(2, 3, 4, 4, "m.flow"))
    lines = render_text([d], {"m.flow": src}, summary=False).splitlines()
    assert lines[3] == '2 |   step a: shell "x" {'
    assert lines[4] == "  |   " + "^" * len('step a: shell "x" {')


def test_tabs_and_wide_characters_keep_carets_aligned() -> None:
    src = "\tstep 名前 after x: fail \"boom\"\n"
    # column counts characters: tab=1, '名前' = 2 characters, ' after ' ...
    col = src.index("x") + 1
    d = error("E0203", "unknown step `x`", _span(1, col, 1, col + 1, "t.flow"))
    lines = render_text([d], {"t.flow": src}, summary=False).splitlines()
    shown = lines[3][len("1 | "):]
    assert "\t" not in shown
    caret_line = lines[4][len("  | "):]
    # display width: tab → 4, each CJK character → 2
    prefix_width = 4 + len("step ") + 4 + len(" after ")
    assert caret_line == " " * prefix_width + "^"


def test_long_hint_goes_to_help_line() -> None:
    hint = "use `?? default` to give a value when the step was skipped; " * 3
    d = error("E0305", "optional value", _span(14, 19, 14, 24), hint.strip())
    lines = render_text([d], {FILE: SOURCE}, summary=False).splitlines()
    assert lines[4].rstrip() == "   |                   ^^^^^"
    assert lines[5] == "   = help: " + hint.strip()


def test_related_spans_are_note_blocks_with_shared_gutter() -> None:
    src = "".join(f"line {i}\n" for i in range(1, 12))
    d = error("E0202", "duplicate name `a`", _span(11, 1, 11, 5, "d.flow"),
              related=(Related(_span(2, 1, 2, 5, "d.flow"), "first defined here"),))
    out = render_text([d], {"d.flow": src}, summary=False)
    assert out == (
        "error[E0202]: duplicate name `a`\n"
        "  --> d.flow:11:1\n"
        "   |\n"
        "11 | line 11\n"
        "   | ^^^^\n"
        "note: first defined here\n"
        "  --> d.flow:2:1\n"
        "   |\n"
        "2  | line 2\n"
        "   | ----\n"
    )


def test_span_just_past_the_end_of_file() -> None:
    src = "flow f() {"
    d = error("E0101", "unexpected end of file", _span(1, 11, 1, 11, "e.flow"),
              "expected `}`")
    lines = render_text([d], {"e.flow": src}, summary=False).splitlines()
    assert lines[3] == "1 | flow f() {"
    assert lines[4] == "  | " + " " * 10 + "^ expected `}`"


def test_missing_source_still_renders_location_and_hint() -> None:
    d = error("E0101", "bad", _span(3, 2, 3, 4, "/nonexistent/x.flow"), "try this")
    out = render_text([d], {}, summary=False)
    assert out == (
        "error[E0101]: bad\n"
        " --> /nonexistent/x.flow:3:2\n"
        "  = help: try this\n"
    )


def test_color_only_for_terminals_and_not_with_no_color(
        monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(Tty()) is True
    assert use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(Tty()) is False
    d = error("E0203", "x", _span(14, 19, 14, 24))
    assert "\x1b[" in render_text([d], {FILE: SOURCE}, color=True)
    assert "\x1b[" not in render_text([d], {FILE: SOURCE}, color=False)


def test_json_objects_have_every_field() -> None:
    d = error("E0203", "unknown step", _span(14, 19, 14, 24), "did you mean `build`?",
              (Related(_span(3, 3, 3, 8), "declared here"),))
    data = json.loads(render_json([d]))
    assert data == [diagnostic_dict(d)]
    assert data[0] == {
        "code": "E0203", "severity": "error", "message": "unknown step", "file": FILE,
        "line": 14, "column": 19, "end_line": 14, "end_column": 24,
        "hint": "did you mean `build`?",
        "related": [{"message": "declared here", "file": FILE, "line": 3, "column": 3,
                     "end_line": 3, "end_column": 8}],
    }
    assert json.loads(render_json([])) == []


SARIF_SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


def test_the_shipped_sarif_schema_is_the_published_one() -> None:
    """tests/fixtures/sarif/ holds the OASIS schema unchanged (see its README)."""
    import hashlib

    data = SARIF_SCHEMA.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SARIF_SCHEMA_SHA256
    schema = json.loads(data)
    assert schema["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")


def _validate_sarif(doc: object) -> None:
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(doc, schema)


def test_sarif_is_valid_and_complete() -> None:
    d = error("E0203", "unknown step", _span(14, 19, 14, 24), "did you mean `build`?",
              (Related(_span(3, 3, 3, 8), "declared here"),))
    w = warning("W0101", "unused param", _span(1, 1, 1, 3, "dir with space/ü.flow"))
    doc = json.loads(render_sarif([d, w], version="0.1.0"))
    _validate_sarif(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert {"E0203", "W0101"} <= set(ids)
    assert ids == sorted(ids)
    res = run["results"]
    assert [r["ruleId"] for r in res] == ["E0203", "W0101"]
    assert [r["level"] for r in res] == ["error", "warning"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in res)
    region = res[0]["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 14, "startColumn": 19, "endLine": 14, "endColumn": 24}
    assert res[0]["relatedLocations"][0]["message"]["text"] == "declared here"
    uri = res[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert " " not in uri


def test_sarif_with_no_results_is_valid() -> None:
    _validate_sarif(sarif_document([]))


def test_sarif_uses_given_rule_catalog() -> None:
    doc = sarif_document([], rules=[RuleInfo("E0999", "made-up", "A test rule.")])
    rule = doc["runs"][0]["tool"]["driver"]["rules"][0]
    assert rule == {"id": "E0999", "name": "made-up",
                    "defaultConfiguration": {"level": "error"},
                    "shortDescription": {"text": "A test rule."}}
