"""Unit tests of `chatflow.runtime.quota`: limits, spending, checks, roll-up, display."""

from __future__ import annotations

import pytest

from chatflow.diagnostics import ChatflowError, UsageError
from chatflow.runtime.quota import (
    QuotaExceeded,
    QuotaLimits,
    Spending,
    ancestor_chain,
    check,
    check_before_step,
    elapsed_ms,
    format_amount,
    limits_from_settings,
    merge,
    parse_limits,
    quota_status,
    render_quota_table,
    roll_up,
    step_spending,
    topmost_exceeded,
)

# ---------------------------------------------------------------------------- limits


def test_parse_limits_reads_every_ir_key() -> None:
    lim = parse_limits({"tokens": 200_000, "cpu_ms": 600_000, "wall_ms": 7_200_000,
                        "steps": 500})
    assert lim == QuotaLimits(200_000, 600_000, 7_200_000, 500)
    assert list(lim.items()) == [("tokens", 200_000), ("cpu_ms", 600_000),
                                 ("wall_ms", 7_200_000), ("steps", 500)]
    assert lim.to_dict() == {"tokens": 200_000, "cpu_ms": 600_000, "wall_ms": 7_200_000,
                             "steps": 500}
    assert bool(lim)


def test_parse_limits_partial_and_empty() -> None:
    lim = parse_limits({"tokens": 10})
    assert lim.tokens == 10 and lim.cpu_ms is None and lim.steps is None
    assert list(lim.items()) == [("tokens", 10)]
    assert not parse_limits(None)
    assert not parse_limits({})
    assert not limits_from_settings(None)
    assert not limits_from_settings({"version": "1"})
    assert limits_from_settings({"quota": {"steps": 3}}) == QuotaLimits(steps=3)


@pytest.mark.parametrize("bad, words", [
    ({"cpu": 10}, "unknown quota `cpu`"),
    ({"tokens": -1}, "non-negative integer"),
    ({"tokens": "5"}, "non-negative integer"),
    ({"steps": True}, "non-negative integer"),
    ({"wall_ms": 1.5}, "non-negative integer"),
    ([1, 2], "must be a map"),
])
def test_parse_limits_rejects_bad_quota(bad: object, words: str) -> None:
    with pytest.raises(ChatflowError) as info:
        parse_limits(bad)  # type: ignore[arg-type]
    assert words in info.value.message
    assert isinstance(info.value, UsageError)


# ---------------------------------------------------------------------------- spending


def test_spending_adds_counts_and_takes_max_wall() -> None:
    a = Spending(tokens=100, cpu_ms=20, wall_ms=1_000, steps=1)
    b = Spending(tokens=5, cpu_ms=3, wall_ms=400, steps=2)
    assert a + b == Spending(105, 23, 1_000, 3)
    assert a.add(b) == b + a
    assert merge(a, b, Spending(tokens=1)) == Spending(106, 23, 1_000, 3)
    assert merge([a, b]) == a + b
    assert merge() == Spending()
    assert not Spending() and bool(Spending(steps=1))
    assert a.with_wall(5) == Spending(100, 20, 5, 1)


def test_spending_dict_round_trip_and_tolerance() -> None:
    s = Spending(1, 2, 3, 4)
    assert s.to_dict() == {"tokens": 1, "cpu_ms": 2, "wall_ms": 3, "steps": 4}
    assert Spending.from_dict(s.to_dict()) == s
    assert Spending.from_dict(None) == Spending()
    # the engine's `extra.spent` has no wall_ms; junk values count as 0
    assert Spending.from_dict({"tokens": 7, "cpu_ms": 1.9, "steps": "x",
                               "other": 3}) == Spending(tokens=7, cpu_ms=1)


def test_step_spending_converts_seconds() -> None:
    assert step_spending(tokens=12, cpu_s=0.2504, wall_s=1.5) == Spending(12, 250, 1500, 1)
    assert step_spending() == Spending(steps=1)


def test_elapsed_ms() -> None:
    assert elapsed_ms("2024-01-01T00:00:00+00:00", now=1704067205.5) == 5500
    assert elapsed_ms("2024-01-01T00:00:00Z", now=1704067201.0) == 1000
    assert elapsed_ms("not a time") == 0
    assert elapsed_ms("2024-01-01T00:00:10+00:00", now=1704067200.0) == 0  # clock skew


# ---------------------------------------------------------------------------- checks


def test_check_names_quota_limit_and_spent() -> None:
    lim = QuotaLimits(tokens=200_000)
    assert check(lim, Spending(tokens=200_000)) is None  # at the limit is fine
    ex = check(lim, Spending(tokens=212_400))
    assert ex == QuotaExceeded("tokens", "tokens", 200_000, 212_400)
    assert ex is not None
    assert ex.message == "quota `tokens` exceeded: 212,400 spent of 200,000"
    assert str(ex) == ex.message
    assert ex.to_event_data() == {"quota": "tokens", "key": "tokens", "limit": 200_000,
                                  "spent": 212_400, "instance_id": None,
                                  "message": ex.message}


def test_check_uses_source_names_and_durations() -> None:
    ex = check(QuotaLimits(cpu_ms=600_000), Spending(cpu_ms=612_000), "i-1")
    assert ex is not None
    assert (ex.quota, ex.key, ex.limit, ex.spent) == ("cpu", "cpu_ms", 600_000, 612_000)
    assert ex.message == "quota `cpu` exceeded: 10m 12s spent of 10m (instance i-1)"
    ex = check(QuotaLimits(wall_ms=2_000), Spending(wall_ms=2_500))
    assert ex is not None and ex.message == "quota `wall` exceeded: 2.5s spent of 2s"


def test_check_reports_first_quota_in_key_order() -> None:
    lim = QuotaLimits(tokens=10, cpu_ms=10, wall_ms=10, steps=10)
    ex = check(lim, Spending(tokens=5, cpu_ms=11, wall_ms=11, steps=11))
    assert ex is not None and ex.key == "cpu_ms"
    assert check(lim, Spending(10, 10, 10, 10)) is None
    assert check(QuotaLimits(), Spending(10**9, 10**9, 10**9, 10**9)) is None


def test_check_before_step_counts_the_next_step() -> None:
    lim = QuotaLimits(steps=3)
    assert check_before_step(lim, Spending(steps=2)) is None
    ex = check_before_step(lim, Spending(steps=3), "root")
    assert ex is not None
    assert (ex.quota, ex.limit, ex.spent, ex.instance_id) == ("steps", 3, 4, "root")
    assert check_before_step(QuotaLimits(tokens=5), Spending(tokens=5)) is None
    assert check_before_step(QuotaLimits(tokens=5), Spending(tokens=6)) is not None
    assert check_before_step(QuotaLimits(steps=0), Spending()) is not None


# ---------------------------------------------------------------------------- roll-up


def test_ancestor_chain_follows_parents() -> None:
    parents = {"g": "c", "c": "r", "r": None}
    assert ancestor_chain("g", parents.get) == ["g", "c", "r"]
    assert ancestor_chain("r", parents.get) == ["r"]
    assert ancestor_chain("x", parents.get) == ["x"]


def test_ancestor_chain_stops_on_cycles_and_depth() -> None:
    loop = {"a": "b", "b": "a"}
    assert ancestor_chain("a", loop.get) == ["a", "b"]
    deep = {str(i): str(i + 1) for i in range(100)}
    assert ancestor_chain("0", deep.get, max_depth=5) == ["0", "1", "2", "3", "4", "5"]


def test_ancestor_chain_is_linear_in_depth() -> None:
    calls: list[str] = []

    def parent_of(iid: str) -> str | None:
        calls.append(iid)
        n = int(iid)
        return str(n - 1) if n > 0 else None

    assert len(ancestor_chain("50", parent_of)) == 51
    assert len(calls) == 51


def test_roll_up_adds_to_every_ancestor_and_checks_each() -> None:
    delta = Spending(tokens=1_000, cpu_ms=5, steps=1)
    chain = [
        ("grandchild", Spending(tokens=100), QuotaLimits()),
        ("child", Spending(tokens=500), QuotaLimits(tokens=10_000)),
        ("root", Spending(tokens=9_500, steps=7), QuotaLimits(tokens=10_000)),
    ]
    ups = roll_up(delta, chain)
    assert [u.instance_id for u in ups] == ["grandchild", "child", "root"]
    assert [u.after.tokens for u in ups] == [1_100, 1_500, 10_500]
    assert ups[2].after.steps == 8 and ups[2].before == chain[2][1]
    assert ups[0].exceeded is None and ups[1].exceeded is None
    ex = ups[2].exceeded
    assert ex is not None and ex.instance_id == "root" and ex.spent == 10_500
    assert topmost_exceeded(ups) == ex


def test_topmost_exceeded_prefers_the_root_side() -> None:
    delta = Spending(tokens=50)
    chain = [("a", Spending(), QuotaLimits(tokens=10)),
             ("b", Spending(), QuotaLimits(tokens=20)),
             ("c", Spending(), QuotaLimits(tokens=100))]
    ups = roll_up(delta, chain)
    assert [u.exceeded is not None for u in ups] == [True, True, False]
    top = topmost_exceeded(ups)
    assert top is not None and top.instance_id == "b"
    assert topmost_exceeded(roll_up(Spending(), chain)) is None
    assert roll_up(delta, []) == []


# ---------------------------------------------------------------------------- display


@pytest.mark.parametrize("key, value, text", [
    ("tokens", 212_400, "212,400"),
    ("steps", 5, "5"),
    ("cpu_ms", 850, "850ms"),
    ("cpu_ms", 12_300, "12.3s"),
    ("cpu_ms", 12_000, "12s"),
    ("wall_ms", 600_000, "10m"),
    ("wall_ms", 612_000, "10m 12s"),
    ("wall_ms", 7_200_000, "2h"),
    ("wall_ms", 7_205_000, "2h 0m 5s"),
    ("wall_ms", 0, "0ms"),
])
def test_format_amount(key: str, value: int, text: str) -> None:
    assert format_amount(key, value) == text


def test_quota_status_lists_only_set_quotas() -> None:
    lim = QuotaLimits(tokens=100, steps=4)
    assert quota_status(lim, Spending(tokens=30, cpu_ms=9, steps=2)) == {
        "tokens": {"limit": 100, "spent": 30}, "steps": {"limit": 4, "spent": 2}}
    assert quota_status(QuotaLimits(), Spending(tokens=3)) == {}


def test_render_quota_table() -> None:
    lim = QuotaLimits(tokens=200_000, cpu_ms=600_000, steps=10)
    text = render_quota_table(lim, Spending(tokens=212_400, cpu_ms=61_000, steps=3))
    lines = text.splitlines()
    assert lines[0].split() == ["quota", "spent", "limit", "used"]
    assert lines[1].split() == ["tokens", "212,400", "200,000", "106%", "exceeded"]
    assert lines[2].split() == ["cpu", "1m", "1s", "10m", "10%"]
    assert lines[3].split() == ["steps", "3", "10", "30%"]
    assert len(lines) == 4
    assert render_quota_table(QuotaLimits(), Spending(tokens=1)) == ""
    assert "-" in render_quota_table(QuotaLimits(steps=0), Spending()).splitlines()[1]
