"""The small statistics every report figure is made of: distributions, shares, outcomes, NPS.

Each carries its n, and its value is None when n is 0 (shown as "—", never as 0).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(ordered: Sequence[int], numerator: int, denominator: int) -> float | None:
    """The percentile numerator/denominator of sorted values, "inclusive" linear interpolation.

    Position (n - 1) * q between closest ranks, as numpy's default and Excel's PERCENTILE.INC;
    computed with integers so that e.g. the p90 of 11 values lands exactly on a rank.
    """
    n = len(ordered)
    if n == 0:
        return None
    position = (n - 1) * numerator
    low, remainder = divmod(position, denominator)
    if remainder == 0:
        return float(ordered[low])
    fraction = remainder / denominator
    return ordered[low] + (ordered[low + 1] - ordered[low]) * fraction


@dataclass(frozen=True)
class Dist:
    """A duration distribution in seconds: median and p90 (mean shown only beside them)."""

    n: int
    median: float | None = None
    p90: float | None = None
    mean: float | None = None

    @classmethod
    def of(cls, ordered: Sequence[int]) -> Dist:
        """From values sorted ascending."""
        if not ordered:
            return cls(0)
        return cls(
            n=len(ordered),
            median=percentile(ordered, 1, 2),
            p90=percentile(ordered, 9, 10),
            mean=sum(ordered) / len(ordered),
        )


@dataclass(frozen=True)
class Share:
    """`count` out of `n`; value is None when n is 0."""

    count: int
    n: int

    @property
    def value(self) -> float | None:
        return self.count / self.n if self.n else None

    @classmethod
    def at_most(cls, ordered: Sequence[int], limit: float) -> Share:
        return cls(bisect_right(ordered, limit), len(ordered))


@dataclass(frozen=True)
class Outcomes:
    """Repurchase outcomes of resolved complaints with a known customer (docs/metrics.md)."""

    repurchased: int = 0
    lost: int = 0
    pending: int = 0

    @property
    def n(self) -> int:
        return self.repurchased + self.lost + self.pending

    @property
    def rate(self) -> Share:
        """Repurchased / (repurchased + lost): pending is never counted as lost."""
        return Share(self.repurchased, self.repurchased + self.lost)

    def __add__(self, other: Outcomes) -> Outcomes:
        return Outcomes(
            self.repurchased + other.repurchased,
            self.lost + other.lost,
            self.pending + other.pending,
        )


@dataclass(frozen=True)
class Nps:
    """Net Promoter Score: % promoters (9-10) - % detractors (0-6) among follow-up scores."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def n(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> float | None:
        if not self.n:
            return None
        return 100 * (self.promoters - self.detractors) / self.n


@dataclass(frozen=True)
class Cell:
    """One week of a trend (for one group or all): opened, resolution times, how many of
    them within the target."""

    opened: int
    resolution: Dist
    within: int
