"""Private-API uses of lark, `re` and `dataclasses` live behind one shim each
(`dsl/lark_shim.py`, `runtime/re_shim.py`, `dsl/dataclasses_shim.py`). Each
shim's `check_shape()` exercises everything it reads and fails loudly, naming
the shim to update, when the dependency changes shape; nothing else in the
package touches those internals."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from chatflow.dsl import dataclasses_shim, lark_shim
from chatflow.runtime import re_shim

SRC = Path(__file__).resolve().parents[1] / "src" / "chatflow"

# What only a shim may spell (each needle → the shim that owns it).
PRIVATE = {
    "_load_from_dict": "dsl/lark_shim.py",
    "memo_serialize": "dsl/lark_shim.py",
    "parse_table": "dsl/lark_shim.py",
    "root_lexer": "dsl/lark_shim.py",
    "PatternStr": "dsl/lark_shim.py",
    "re._parser": "runtime/re_shim.py",
    "sre_parse": "runtime/re_shim.py",
    "dataclasses._": "dsl/dataclasses_shim.py",
    "_field_type": "dsl/dataclasses_shim.py",
    "__dataclass_fields__": "dsl/dataclasses_shim.py",
}


def test_lark_has_the_shape_the_shim_reads() -> None:
    lark_shim.check_shape()


def test_re_has_the_shape_the_shim_reads() -> None:
    re_shim.check_shape()


def test_dataclasses_has_the_shape_the_shim_reads() -> None:
    dataclasses_shim.check_shape()


def test_only_the_shims_touch_private_apis() -> None:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        text = path.read_text(encoding="utf-8")
        bad.extend(f"{rel} uses {needle} (only {owner} may)"
                   for needle, owner in PRIVATE.items() if needle in text and rel != owner)
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------ a changed dependency


def test_a_changed_lark_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    import lark

    def moved(*args: Any, **kwargs: Any) -> Any:
        raise AttributeError("memo_serialize moved")

    monkeypatch.setattr(lark.Lark, "memo_serialize", moved)
    with pytest.raises(lark_shim.LarkChanged, match=r"memo_serialize.*lark_shim\.py"):
        lark_shim.check_shape()


def test_a_changed_re_parser_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    class Flat:
        @staticmethod
        def parse(pattern: str, flags: int = 0) -> list[Any]:
            return [("LITERAL", ord(c)) for c in pattern]

    monkeypatch.setattr(re_shim, "_parser", lambda: Flat)
    with pytest.raises(re_shim.ReChanged, match=r"re_shim\.py"):
        re_shim.check_shape()


def test_a_changed_dataclasses_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(dataclasses, "_FIELD")
    with pytest.raises(dataclasses_shim.DataclassesChanged, match="_FIELD"):
        dataclasses_shim.check_shape()


def test_the_guard_still_refuses_what_it_refused() -> None:
    from chatflow.runtime.regex_guard import regex_search

    assert regex_search(r"v[\d.]+$", "v1.2.3")
    for pattern, why in ((r"(a+)+$", "nests repeats"), (r"(a)\1", "backreference")):
        with pytest.raises(ValueError, match=why):
            regex_search(pattern, "aaa")
    assert re.compile("x")  # the public API is untouched
