"""The process-wide claim registry (`runtime/engine/claims.py`): what the
engine kills and what crash recovery treats as still running here."""

from __future__ import annotations

from chatflow.runtime.engine import Claim, ClaimRegistry


def _claim(owner: str, instance: str, step: str) -> Claim:
    return Claim(instance, step, {"type": "shell"}, {}, 1, owner)


def test_registered_claims_are_held_until_removed() -> None:
    reg = ClaimRegistry()
    c = _claim("me", "i1", "a")
    assert not reg.holds("me", "i1", "a")
    reg.add(c)
    assert reg.holds("me", "i1", "a") and not reg.holds("other", "i1", "a")
    reg.remove(c)
    assert not reg.holds("me", "i1", "a")
    reg.remove(c)  # removing twice is harmless


def test_kill_sets_only_that_claims_cancel_event() -> None:
    reg = ClaimRegistry()
    a, b = _claim("me", "i1", "a"), _claim("me", "i1", "b")
    reg.add(a)
    reg.add(b)
    reg.kill("me", "i1", "a")
    reg.kill("me", "i1", "unknown")  # not executed here: nothing happens
    assert a.cancel.is_set() and not b.cancel.is_set()


def test_an_interrupt_kills_and_forgets_one_owners_claims() -> None:
    reg = ClaimRegistry()
    mine = [_claim("me", "i1", "a"), _claim("me", "i2", "b")]
    theirs = _claim("other", "i1", "c")
    for c in (*mine, theirs):
        reg.add(c)
    assert sorted(reg.kill_owner("me")) == ["i1", "i2"]
    assert all(c.cancel.is_set() for c in mine) and not theirs.cancel.is_set()
    reg.forget_owner("me")
    assert not reg.holds("me", "i1", "a") and reg.holds("other", "i1", "c")
