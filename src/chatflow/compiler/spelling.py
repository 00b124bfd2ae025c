""""Did you mean" suggestions: the closest known name to a misspelt one."""

from __future__ import annotations

from collections.abc import Iterable


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance (with adjacent transpositions), or `limit + 1`
    as soon as it is known to exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if (i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]):
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[len(b)]


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `name`, if it is close enough to be a typo.

    Case-only differences always match; otherwise one edit per three
    characters is allowed (so names shorter than three get no suggestion).
    Ties go to the alphabetically first candidate, for determinism."""
    limit = len(name) // 3
    lowered = name.lower()
    best: tuple[int, str] | None = None
    for cand in candidates:
        if cand == name:
            continue
        if cand.lower() == lowered:
            d = 0
        else:
            d = edit_distance(lowered, cand.lower(), limit) if limit else 1
            if d > limit:
                continue
        if best is None or (d, cand) < best:
            best = (d, cand)
    return best[1] if best else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A ready-made hint ("did you mean `build`?") or None."""
    s = suggest(name, candidates)
    return f"did you mean `{s}`?" if s is not None else None
