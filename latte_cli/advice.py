"""The advice shown to the agent, as plain values and plain arithmetic (docs/metrics.md,
"Advice for the agent").

No I/O here: `latte_cli.services.advice` counts the outcomes in the database and builds these
values; the CLI renders them. The statistics are the textbook ones: the Wilson score interval
for a proportion (95%, z = 1.959964) and the median by linear interpolation between closest
ranks (docs/metrics.md, "Percentiles"; for the median every method agrees).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
SPEED_FAST = 4 * 3600  # "< 4 h", as the reports' first speed bucket
SPEED_SLOW = 3 * 86_400  # "> 3 d", as the reports' last (it includes exactly 3 days)


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of `hits` out of `n` (None when n is 0)."""
    if n <= 0:
        return None
    p = hits / n
    factor = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / factor
    half = z / factor * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def median(values: Sequence[float]) -> float | None:
    """The median (the mean of the two middle values of an even count); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    middle = (len(ordered) - 1) / 2
    low, high = ordered[math.floor(middle)], ordered[math.ceil(middle)]
    return low + (high - low) * (middle - math.floor(middle))


@dataclass(frozen=True)
class Rate:
    """`hits` out of `n` decided outcomes; `pending` not decided yet (never counted in n)."""

    hits: int
    n: int
    pending: int = 0

    @property
    def rate(self) -> float | None:
        return self.hits / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.hits, self.n)

    def as_json(self) -> dict[str, object]:
        interval = self.interval
        return {
            "rate": self.rate,
            "n": self.n,
            "hits": self.hits,
            "pending": self.pending,
            "interval": list(interval) if interval else None,
        }


@dataclass(frozen=True)
class ActionAdvice:
    """One action kind's record among complaints like this one."""

    action_kind: str
    repurchase: Rate  # repurchased of repurchased + lost
    repeat: Rate  # repeated of repeated + not repeated
    median_seconds: float | None  # resolution time of every complaint counted here ...
    median_n: int  # ... and how many they are (pending outcomes included)

    def as_json(self) -> dict[str, object]:
        return {
            "action_kind": self.action_kind,
            "repurchase": self.repurchase.as_json(),
            "repeat": self.repeat.as_json(),
            "median_resolution_seconds": self.median_seconds,
            "median_resolution_n": self.median_n,
        }


@dataclass(frozen=True)
class Scope:
    """Which complaints were looked at: the category, or every category (the fallback)."""

    category: str | None  # None: every category
    months: int
    since: int  # epoch: first resolved after this (`months` before as_of) ...
    as_of: int  # ... and at or before this
    window_days: int
    repeat_days: int
    min_n: int


@dataclass(frozen=True)
class Advice:
    """What kept customers like this one, per action kind (at most one row per kind, only
    kinds with at least `min_n` decided outcomes, best repurchase rate first)."""

    complaint_id: int
    category: str
    scope: Scope
    rows: tuple[ActionAdvice, ...]

    @property
    def fallback(self) -> bool:
        return self.scope.category is None

    def as_json(self) -> dict[str, object]:
        s = self.scope
        return {
            "complaint_id": self.complaint_id,
            "category": self.category,
            "compared_with": s.category if s.category is not None else "all categories",
            "fallback": self.fallback,
            "months": s.months,
            "since_epoch": s.since,
            "as_of_epoch": s.as_of,
            "window_days": s.window_days,
            "repeat_days": s.repeat_days,
            "min_n": s.min_n,
            "enough_history": bool(self.rows),
            "actions": [row.as_json() for row in self.rows],
        }


@dataclass(frozen=True)
class Urgency:
    """For one category: repurchase when resolved within 4 h against after 3 days."""

    category: str
    fast: Rate
    slow: Rate
    scope: Scope

    def as_json(self) -> dict[str, object]:
        return {
            "category": self.category,
            "within_4h": self.fast.as_json(),
            "after_3d": self.slow.as_json(),
            "since_epoch": self.scope.since,
            "as_of_epoch": self.scope.as_of,
            "window_days": self.scope.window_days,
        }


def ranked(rows: Sequence[ActionAdvice], min_n: int) -> tuple[ActionAdvice, ...]:
    """The rows with enough decided outcomes, best repurchase rate first (then larger n, then
    the kind's name, so the order is stable)."""
    kept = [r for r in rows if r.repurchase.n >= min_n and r.repurchase.n > 0]
    kept.sort(key=lambda r: (-(r.repurchase.rate or 0.0), -r.repurchase.n, r.action_kind))
    return tuple(kept)
