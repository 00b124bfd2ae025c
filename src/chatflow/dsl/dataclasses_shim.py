"""The one use of `dataclasses` beyond its public API: giving a class
dataclass fields without the decorator (`ast._frozen`, which builds the
AST's ~40 node classes without compiling code per class).

`fields_for` makes the `Field` objects `dataclasses.fields`, `replace`,
`asdict` and `is_dataclass` read, using the standard library's private field
marker; it returns None where that marker is missing (the caller then uses
the real decorator). `check_shape()` (run by the test suite) fails loudly
when the standard library changes what these functions read.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["DataclassesChanged", "check_shape", "fields_for", "install_fields"]


class DataclassesChanged(RuntimeError):
    """`dataclasses` no longer reads fields the way this module writes them."""


def fields_for(annotations: dict[str, Any]) -> dict[str, dataclasses.Field[Any]] | None:
    """name → Field for plain positional fields (no defaults), or None when
    this Python's `dataclasses` has no private field marker."""
    marker = getattr(dataclasses, "_FIELD", None)
    if marker is None:  # pragma: no cover - other Python implementations
        return None
    fields: dict[str, dataclasses.Field[Any]] = {}
    for name, type_ in annotations.items():
        f: Any = dataclasses.field()
        f.name = name
        f.type = type_
        f.kw_only = False
        f._field_type = marker
        fields[name] = f
    return fields


def install_fields(cls: type, fields: dict[str, dataclasses.Field[Any]]) -> None:
    """Make `cls` a dataclass with `fields` (it keeps its own methods)."""
    cls.__dataclass_fields__ = fields  # type: ignore[attr-defined]


def check_shape() -> None:
    """Build a class through this module and use it with the public
    dataclasses API; raise `DataclassesChanged` saying what broke."""

    class Probe:
        __slots__ = ("a", "b")

        def __init__(self, a: int, b: str) -> None:
            self.a = a
            self.b = b

    fields = fields_for({"a": int, "b": str})
    if fields is None:
        raise DataclassesChanged("dataclasses._FIELD is gone; update "
                                 "chatflow/dsl/dataclasses_shim.py")
    install_fields(Probe, fields)
    try:
        probe = Probe(1, "x")
        ok = (dataclasses.is_dataclass(Probe)
              and [f.name for f in dataclasses.fields(Probe)] == ["a", "b"]
              and dataclasses.asdict(probe) == {"a": 1, "b": "x"}
              and dataclasses.replace(probe, b="y").b == "y")
    except Exception as exc:
        raise DataclassesChanged(f"dataclasses no longer reads these fields ({exc}); "
                                 "update chatflow/dsl/dataclasses_shim.py") from exc
    if not ok:
        raise DataclassesChanged("dataclasses reads these fields differently; update "
                                 "chatflow/dsl/dataclasses_shim.py")
