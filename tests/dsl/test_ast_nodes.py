"""AST nodes behave exactly like `@dataclass(frozen=True, slots=True)` classes
(ast.py builds them without per-class code generation, for start-up time)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any

import pytest

from chatflow.diagnostics import Span
from chatflow.dsl import ast

NODES = sorted(
    (c for c in vars(ast).values() if isinstance(c, type) and c.__module__ == ast.__name__
     and dataclasses.is_dataclass(c)),
    key=lambda c: c.__name__,
)
SPAN = Span("f.flow", 1, 2, 1, 5, 1, 4)


def sample(cls: type, salt: int = 0) -> tuple[Any, ...]:
    names = [f.name for f in dataclasses.fields(cls)]
    return tuple(SPAN if n == "span" else (f"{n}{salt}", salt, float("nan")) for n in names)


def reference(cls: type) -> type:
    """The same class made by the real decorator."""
    fields = [(f.name, f.type) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, fields, frozen=True, slots=True)


def test_every_node_is_here() -> None:
    assert len(NODES) >= 38
    assert ast.Step in NODES and ast.Module in NODES


@pytest.mark.parametrize("cls", NODES, ids=lambda c: c.__name__)
def test_node_matches_a_real_frozen_slots_dataclass(cls: type) -> None:
    ref = reference(cls)
    args = sample(cls)
    node, twin = cls(*args), ref(*args)
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == [f.name for f in dataclasses.fields(ref)]
    assert cls.__match_args__ == ref.__match_args__  # type: ignore[attr-defined]
    assert repr(node) == repr(twin)
    assert hash(node) == hash(twin)
    # equality: same class and fields (tuple semantics: the same NaN object is equal)
    assert node == cls(*args) and node != cls(*sample(cls, 1))
    assert node != twin and node != args
    assert cls(**dict(zip(names, args, strict=True))) == node
    assert dataclasses.asdict(node) == dataclasses.asdict(twin)
    assert dataclasses.replace(node, span=Span.unknown()).span == Span.unknown()
    # (a NaN is only equal to itself: compare copies by repr)
    assert repr(pickle.loads(pickle.dumps(node))) == repr(node)
    assert repr(copy.deepcopy(node)) == repr(node) and copy.copy(node) == node
    assert not hasattr(node, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.span = SPAN
    with pytest.raises(dataclasses.FrozenInstanceError):
        del node.span
    with pytest.raises(TypeError):
        cls(*args[:-1])
    with pytest.raises(TypeError):
        cls(*args, SPAN)
    with pytest.raises(TypeError):
        cls(*args, nope=1)
