"""What to fix and what it is worth: deadlines, the root-cause Pareto, repeat complaints,
remedies against revenue kept, and complaints per 1,000 active customers (docs/metrics.md).

`fix_figures` runs the queries of `fix_queries` once for the period and the one before it
(and per group with `--by`) and freezes the result into `FixFigures`, one per (period,
group); `build.build_report` attaches them to the report's `Figures`.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import Connection

from latte_cli import vocabulary
from latte_cli.reports import amounts, cohort_days
from latte_cli.reports import fix_queries as fq
from latte_cli.reports import fix_summarised as fs
from latte_cli.reports import queries as q
from latte_cli.reports.hours import BusinessClock
from latte_cli.reports.periods import Period, week_of, week_period
from latte_cli.reports.queries import SPEED_BUCKETS, SPEED_LIMITS
from latte_cli.reports.stats import Dist, Outcomes, Share

NO_VALUE = q.NO_VALUE
# A cause is *rising* when its count is at least RISING_MIN more than the previous period's
# and at least RISING_RATIO times it; *recurring* when present in each of the last
# RECURRING_WEEKS ISO weeks up to the period's end (docs/metrics.md, "Root causes").
RISING_MIN = 3
RISING_RATIO = 1.25
RECURRING_WEEKS = 4


@dataclass(frozen=True)
class Deadline:
    """One deadline kind's statuses (docs/metrics.md, "Deadlines in reports")."""

    met: int = 0
    breached: int = 0
    pending: int = 0

    @property
    def rate(self) -> Share:
        return Share(self.met, self.met + self.breached)


@dataclass(frozen=True)
class Repeats:
    """Repeat outcomes of resolved complaints with a known customer."""

    repeats: int = 0
    not_repeated: int = 0
    pending: int = 0

    @property
    def rate(self) -> Share:
        return Share(self.repeats, self.repeats + self.not_repeated)


@dataclass(frozen=True)
class Cause:
    """One root cause's line of the Pareto."""

    cause: str
    count: int
    share: float | None
    cumulative_share: float | None
    resolution: Dist
    repurchase: Outcomes
    repeat: Repeats
    previous_count: int | None  # None for the previous period's own Pareto
    rising: bool
    recurring: bool
    changes: tuple[tuple[str, int], ...]  # "what will change" texts, most frequent first

    @property
    def change(self) -> int | None:
        return None if self.previous_count is None else self.count - self.previous_count


@dataclass(frozen=True)
class Remedy:
    complaints: int = 0
    cost_cents: int = 0


@dataclass(frozen=True)
class SpeedRemedy:
    complaints: int = 0
    cost_cents: int = 0
    revenue_kept_cents: int = 0

    @property
    def kept_per_remedy(self) -> float | None:
        return self.revenue_kept_cents / self.cost_cents if self.cost_cents else None


@dataclass(frozen=True)
class Remedies:
    by_action: tuple[tuple[str, Remedy], ...] = ()
    cost_cents: int = 0
    revenue_kept_cents: int = 0
    by_speed: tuple[tuple[str, SpeedRemedy], ...] = tuple(
        (label, SpeedRemedy()) for label in SPEED_BUCKETS
    )

    @property
    def kept_per_remedy(self) -> float | None:
        return self.revenue_kept_cents / self.cost_cents if self.cost_cents else None


@dataclass(frozen=True)
class PerThousand:
    opened: int = 0
    active_customers: int = 0

    @property
    def rate(self) -> float | None:
        if not self.active_customers:
            return None
        return self.opened * 1000 / self.active_customers


@dataclass(frozen=True)
class FixFigures:
    """The figures on what to fix and what it is worth, of one period (and group)."""

    deadline_first: Deadline = field(default_factory=Deadline)
    deadline_final: Deadline = field(default_factory=Deadline)
    root_causes: tuple[Cause, ...] = ()
    repeat: Repeats = field(default_factory=Repeats)
    repeat_by_cause: tuple[tuple[str, Repeats], ...] = ()
    repeat_by_agent: tuple[tuple[str, Repeats], ...] = ()
    remedies: Remedies = field(default_factory=Remedies)
    per_1000: PerThousand = field(default_factory=PerThousand)


@dataclass
class _Cell:
    """Material of one (period, group) before it is frozen."""

    deadlines: dict[str, list[int]] = field(
        default_factory=lambda: {"first": [0, 0, 0], "final": [0, 0, 0]}
    )
    causes: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    outcomes: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    repeat_cause: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 3))
    repeat_agent: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 3))
    changes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    in_bucket: list[int] = field(default_factory=lambda: [0] * len(SPEED_BUCKETS))
    action: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    bucket_cost: list[int] = field(default_factory=lambda: [0] * len(SPEED_BUCKETS))
    kept: int = 0
    bucket_kept: list[int] = field(default_factory=lambda: [0] * len(SPEED_BUCKETS))
    weeks: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))


def _label(value: Any) -> str:
    return q.label(value)


@dataclass(frozen=True)
class Settings:
    periods: tuple[Period, Period]  # the period and the one before it
    by: str | None
    as_of: int
    window: int
    repeat: int
    clock: BusinessClock | None
    zone: ZoneInfo
    # The outcomes kept at write time (`report_outcome`) are up to date: the repurchase and
    # repeat outcomes are read from them (docs/architecture.md, "Reports over long periods").
    kept: bool = False


def fix_figures(
    conn: Connection,
    s: Settings,
    opened: Callable[[int, Any], int],
    *,
    read: fs.Fixes | None = None,
) -> dict[tuple[int, Any], FixFigures]:
    """Per (period key 0 = the period / 1 = the one before, group): the figures; the key
    (k, ALL) holds each period's totals. `opened(k, group)` gives the complaints opened
    (the volume figure, already computed), for the rate per 1,000 active customers.
    `read`: the cohort cells, remedies and texts already read from the cohort summary
    (`summarised_fixes`, filled with the report's cohort figures)."""
    periods = list(s.periods)
    cells: dict[tuple[int, Any], _Cell] = defaultdict(_Cell)
    for k, g, name, status, n in fq.deadline_counts(conn, periods, s.by, s.as_of):
        cells[(k, g)].deadlines[name][status] += n
    if read is None and _summarised(s):
        # The three families from one read of the days (docs/architecture.md).
        read = summarised_fixes(s)
        cohort_days.read(
            conn, periods, s.as_of, read.families, read.texts, window=s.window, repeat=s.repeat,
            clock=s.clock,
        )  # fmt: skip
    _cohort(conn, s, periods, cells, read)
    _changes(conn, s, periods, cells, read)
    _remedies(conn, s, periods, cells, read)
    _kept(conn, s, periods, cells, read)
    _recurring(conn, s, cells)
    active = [fq.active_customers(conn, p, s.as_of) for p in periods]
    groups = sorted({g for _, g in cells}, key=lambda g: (g is None, str(g)))
    found: dict[tuple[int, Any], FixFigures] = {}
    for k in (0, 1):
        total = _Cell()
        for g in groups:
            _add(total, cells.get((k, g)) or _Cell())
        # Revenue kept counts each purchase once: a total is not the sum of its groups.
        total.kept = cells[(k, ALL)].kept
        total.bucket_kept = cells[(k, ALL)].bucket_kept
        previous = _cause_counts(cells, 1, groups) if k == 0 else None
        found[(k, ALL)] = _freeze(total, previous, PerThousand(opened(k, ALL), active[k]))
        if s.by is not None:
            for g in groups:
                if g is ALL:
                    continue
                cell = cells.get((k, g)) or _Cell()
                before = (cells.get((1, g)) or _Cell()).causes if k == 0 else None
                found[(k, g)] = _freeze(cell, before, PerThousand(opened(k, g), active[k]))
    return found


class _All:
    """The key of a period's totals among its groups."""

    def __repr__(self) -> str:
        return "ALL"


ALL: Any = _All()


def _cause_counts(cells: dict[tuple[int, Any], _Cell], k: int, groups: list[Any]) -> Counter[str]:
    total: Counter[str] = Counter()
    for g in groups:
        if g is not ALL and (k, g) in cells:
            total.update(cells[(k, g)].causes)
    return total


def _add(total: _Cell, cell: _Cell) -> None:
    for name, counts in cell.deadlines.items():
        total.deadlines[name] = [a + b for a, b in zip(total.deadlines[name], counts, strict=True)]
    total.causes.update(cell.causes)
    for cause, parts in cell.seconds.items():
        total.seconds[cause].extend(parts)
    for table_name in ("outcomes", "repeat_cause", "repeat_agent"):
        mine, theirs = getattr(total, table_name), getattr(cell, table_name)
        for key, counts in theirs.items():
            mine[key] = [a + b for a, b in zip(mine[key], counts, strict=True)]
    for cause, texts in cell.changes.items():
        total.changes[cause].update(texts)
    total.in_bucket = [a + b for a, b in zip(total.in_bucket, cell.in_bucket, strict=True)]
    total.bucket_cost = [a + b for a, b in zip(total.bucket_cost, cell.bucket_cost, strict=True)]
    for kind, counts in cell.action.items():
        total.action[kind] = [a + b for a, b in zip(total.action[kind], counts, strict=True)]
    for cause, weeks in cell.weeks.items():
        total.weeks[cause] |= weeks


def _summarised(s: Settings) -> bool:
    """Whether the cohort figures are read from the cohort summary: it is current (on either
    clock: docs/architecture.md, "Reports over long periods")."""
    return s.kept


def _source(s: Settings) -> Any:
    """The module whose `change_texts` and `cause_weeks` the report reads (same rows)."""
    return fs if _summarised(s) else fq


def _bucket(clock: BusinessClock | None, opened: int, resolved: int) -> tuple[int, int]:
    """(resolution seconds on the report's clock, speed bucket)."""
    seconds = clock.seconds(opened, resolved) if clock else resolved - opened
    return seconds, bisect_right(SPEED_LIMITS, seconds)


def summarised_fixes(s: Settings) -> fs.Fixes:
    """The cohort cells, remedies and texts to fill from one read of the cohort summary's
    days over (the period, the one before)."""
    return fs.fixes(s.by, s.as_of, window=s.window, repeat=s.repeat, texts=cohort_days.Texts())


def _changes(
    conn: Connection,
    s: Settings,
    periods: list[Period],
    cells: dict[tuple[int, Any], _Cell],
    read: fs.Fixes | None,
) -> None:
    """The "what will change" texts of the period (not of the one before)."""
    found = (
        read.changes.rows(read.texts)
        if read is not None
        else fq.change_texts(conn, periods[:1], s.by, s.as_of)
    )
    for k, g, cause, text, n in found:
        cells[(k, g)].changes[cause][text] += n


def _cohort(
    conn: Connection,
    s: Settings,
    periods: list[Period],
    cells: dict[tuple[int, Any], _Cell],
    read: fs.Fixes | None,
) -> None:
    rows: Iterable[tuple[Any, ...]]
    if read is not None:
        rows = read.cells.rows(read.texts)
    elif s.clock is None:
        rows = fq.cohort_cells(
            conn, periods, s.by, s.as_of, window=s.window, repeat=s.repeat, per_complaint=False,
            kept=s.kept,
        )  # fmt: skip
    else:
        clock = s.clock
        grouped: dict[tuple[Any, ...], list[Any]] = {}
        for k, g, cause, agent, o, r, outcome, rep in fq.cohort_cells(
            conn, periods, s.by, s.as_of, window=s.window, repeat=s.repeat, per_complaint=True,
            kept=s.kept,
        ):  # fmt: skip
            seconds, bucket = _bucket(clock, o, r)
            # 64-bit arrays, not lists of Python ints (docs/architecture.md, "Reports over
            # long periods")
            entry = grouped.get((k, g, cause, agent, bucket, outcome, rep))
            if entry is None:
                entry = grouped[(k, g, cause, agent, bucket, outcome, rep)] = [0, array("q")]
            entry[0] += 1
            entry[1].append(seconds)
        rows = [(*key, n, values) for key, (n, values) in grouped.items()]
    for k, g, cause, agent, bucket, outcome, rep, n, seconds in rows:
        if k is None:
            continue
        cell = cells[(int(k), g)]
        n = int(n)
        cell.in_bucket[int(bucket)] += n
        if rep != fq.NO_CUSTOMER:
            cell.repeat_agent[_label(agent)][int(rep)] += n
        if cause is None:
            continue
        cell.causes[cause] += n
        cell.seconds[cause].append(
            np.fromstring(seconds, dtype=np.int64, sep=",")
            if isinstance(seconds, str)
            else np.asarray(seconds if seconds is not None else [], np.int64)
        )
        if outcome != 3:
            cell.outcomes[cause][int(outcome)] += n
        if rep != fq.NO_CUSTOMER:
            cell.repeat_cause[cause][int(rep)] += n


def _remedies(
    conn: Connection,
    s: Settings,
    periods: list[Period],
    cells: dict[tuple[int, Any], _Cell],
    read: fs.Fixes | None,
) -> None:
    if read is not None or s.clock is None:
        found = (
            read.remedies.rows(read.texts)
            if read is not None
            else fq.remedy_cells(conn, periods, s.by, s.as_of, per_complaint=False)
        )
        for k, g, bucket, kind, n, cents in found:
            if k is None:
                continue
            cell = cells[(int(k), g)]
            cell.action[kind][0] += int(n)
            cell.action[kind][1] += int(cents or 0)
            cell.bucket_cost[int(bucket)] += int(cents or 0)
        return
    # The complaints of each (period, group, kind) in a 64-bit array, counted once each at the
    # end: a set of (complaint, kind) tuples held about 100 bytes per record of the period.
    complaints: dict[tuple[int, Any, str], array[int]] = {}
    for k, g, o, r, kind, cid, cents in fq.remedy_cells(
        conn, periods, s.by, s.as_of, per_complaint=True
    ):
        cell = cells[(int(k), g)]
        ids = complaints.get((int(k), g, kind))
        if ids is None:
            ids = complaints[(int(k), g, kind)] = array("q")
        ids.append(cid)
        cell.action[kind][1] += int(cents or 0)
        cell.bucket_cost[_bucket(s.clock, o, r)[1]] += int(cents or 0)
    for (k, g, kind), ids in complaints.items():
        cells[(k, g)].action[kind][0] += len(np.unique(np.asarray(ids)))


def _kept(
    conn: Connection,
    s: Settings,
    periods: list[Period],
    cells: dict[tuple[int, Any], _Cell],
    read: fs.Fixes | None,
) -> None:
    """Revenue kept: each purchase once per figure (period; period and group; period and
    bucket; period, group and bucket). The period and speed bucket of each (complaint,
    purchase) pair and the de-duplication are done with numpy on plain integers (a full
    history has about a million pairs).

    Read with the cohort summary's days (`read`, on the calendar clock with the outcomes
    kept at write time), each complaint's period, group and bucket come from its record
    (`fix_summarised.KeptRevenue`): for the default window the complaints whose purchases
    follow no other complaint come summed from `report_outcome` (revision 0017): their
    purchases are in no other pair, so their cents add up; only the others are read as pairs
    (docs/architecture.md, "Reports over long periods"). A pair whose purchase has an amount
    no write allows refuses the report (`amounts`)."""
    if read is not None:
        values = read.texts.values
        for (key, group, speed), total in read.kept.sums.items():
            for cell in [(key, ALL)] if s.by is None else [(key, ALL), (key, values[group])]:
                cells[cell].kept += total
                cells[cell].bucket_kept[speed] += total
        placed, group_of, speed_of, purchase, cents_of = read.kept.pairs()
        amounts.check_cents(conn, cents_of)
        _kept_pairs(cells, s.by, placed, group_of, speed_of, purchase, cents_of, values)
        return
    found = _kept_from_texts(conn, s, periods) if s.kept else None
    r, seconds, pid, cents, g, values = found or _kept_from_rows(conn, s, periods)
    if not len(r):
        return
    amounts.check_cents(conn, cents)
    k = np.full(len(r), -1, np.int64)
    for i, period in reversed(list(enumerate(periods))):  # the first period that holds it
        k[(r >= period.start) & (r < period.end)] = i
    bucket = _buckets(s.clock, r, seconds)
    inside = k >= 0
    k, g, bucket, pid, cents = k[inside], g[inside], bucket[inside], pid[inside], cents[inside]
    _kept_pairs(cells, s.by, k, g, bucket, pid, cents, values)


def _kept_pairs(
    cells: dict[tuple[int, Any], _Cell],
    by: str | None,
    k: Any,
    g: Any,
    bucket: Any,
    pid: Any,
    cents: Any,
    values: list[Any],
) -> None:
    """Add the pairs' revenue kept, each purchase once per figure (`g` indexes `values`)."""
    if not len(k):
        return
    for key, total in _distinct_sums([k], pid, cents).items():
        cells[(key[0], ALL)].kept += total
    for key, total in _distinct_sums([k, bucket], pid, cents).items():
        cells[(key[0], ALL)].bucket_kept[key[1]] += total
    if by is None:
        return  # one group: its figures are the totals
    for key, total in _distinct_sums([k, g], pid, cents).items():
        cells[(key[0], values[key[1]])].kept += total
    for key, total in _distinct_sums([k, g, bucket], pid, cents).items():
        cells[(key[0], values[key[1]])].bucket_kept[key[2]] += total


def _kept_from_texts(conn: Connection, s: Settings, periods: list[Period]) -> Any:
    """The pairs of `fix_queries.kept_pairs`, parsed in C: (first resolution, seconds,
    purchase id, cents, group index into `values`), or None when a complaint holds a group
    value the report summary does not (written by another program): the rows then."""
    values: list[Any] = fq.group_values(conn, s.by) if s.by is not None else []
    texts = fq.kept_pairs(conn, periods, s.by, s.as_of, window=s.window, values=values)
    parts = [np.fromstring(text, dtype=np.int64, sep=",") for text in texts]
    pairs = np.concatenate(parts).reshape(-1, 5) if parts else np.zeros((0, 5), np.int64)
    r, seconds, pid, cents, g = pairs.T
    if (g == fq.UNLISTED).any():
        return None
    g = np.where(g == fq.NO_GROUP, len(values), g)  # no value: the last label
    return r, seconds, pid, cents, g, [*values, None]


def _kept_from_rows(conn: Connection, s: Settings, periods: list[Period]) -> Any:
    """The pairs of `fix_queries.kept_purchases`, a row each, with the group labels."""
    groups: dict[Any, int] = {}
    values: list[Any] = []
    parts: list[Any] = []

    def index(group: Any) -> int:
        found = groups.get(group)
        if found is None:
            found = groups[group] = len(values)
            values.append(group)
        return found

    for chunk in fq.kept_purchases(conn, periods, s.by, s.as_of, window=s.window, kept=s.kept):
        # Straight into numpy: a full history has about a million rows.
        numbers = chunk if s.by is None else (row[:4] for row in chunk)
        pairs = np.fromiter(chain.from_iterable(numbers), np.int64, count=4 * len(chunk))
        codes = [index(row[4]) for row in chunk] if s.by is not None else [index(None)] * len(chunk)
        parts.append(np.column_stack([pairs.reshape(-1, 4), np.array(codes, np.int64)]))
    found = np.concatenate(parts) if parts else np.zeros((0, 5), np.int64)
    return (*found.T, values)


def _buckets(clock: BusinessClock | None, resolved: Any, seconds: Any) -> Any:
    """The speed bucket of each (first resolution, calendar resolution seconds): on the
    report's clock, computed once per distinct complaint timing with business hours."""
    if clock is None:
        return np.searchsorted(np.array(SPEED_LIMITS, np.int64), seconds, side="right")
    timings, inverse = np.unique(np.stack([resolved, seconds]), axis=1, return_inverse=True)
    found = [
        _bucket(clock, r - n, r)[1]
        for r, n in zip(timings[0].tolist(), timings[1].tolist(), strict=True)
    ]
    return np.array(found, np.int64)[inverse.ravel()]


def _distinct_sums(keys: list[Any], pid: Any, cents: Any) -> dict[tuple[int, ...], int]:
    """Per distinct combination of `keys` (small non-negative integers): the sum of `cents`
    over its distinct purchases. The keys and then the purchase are folded into one integer
    each, so that numpy sorts plain integers, not rows."""
    code = np.zeros(len(pid), np.int64)
    for key in keys:
        code = code * (int(key.max()) + 1) + key
    codes, first_of, combo = np.unique(code, return_index=True, return_inverse=True)
    combo = combo.ravel()
    pairs = combo * (int(pid.max()) + 1) + pid  # well inside int64: ids and a few combos
    _, first = np.unique(pairs, return_index=True)
    sums = np.zeros(len(codes), np.int64)
    np.add.at(sums, combo[first], cents[first])
    return {
        tuple(int(key[i]) for key in keys): int(total)
        for i, total in zip(first_of.tolist(), sums.tolist(), strict=True)
    }


def _recurring(conn: Connection, s: Settings, cells: dict[tuple[int, Any], _Cell]) -> None:
    """Which causes were present in each of the last ISO weeks up to the period's end."""
    last = min(s.periods[0].end - 1, s.as_of)
    week = week_of(last, s.zone)
    weeks = [week_period(week - i, s.zone) for i in reversed(range(RECURRING_WEEKS))]
    for index, g, cause in _source(s).cause_weeks(conn, weeks, s.by, s.as_of):
        cells[(0, g)].weeks[cause].add(index)


def _freeze(cell: _Cell, previous: Counter[str] | None, per_1000: PerThousand) -> FixFigures:
    with_cause = sum(cell.causes.values())
    running = 0
    causes: list[Cause] = []
    for cause, count in sorted(cell.causes.items(), key=lambda item: (-item[1], item[0])):
        running += count
        parts = cell.seconds[cause]
        values = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        values.sort()
        ordered: list[int] = values.tolist()
        before = previous.get(cause, 0) if previous is not None else None
        rising = before is not None and count - before >= RISING_MIN
        rising = rising and count >= RISING_RATIO * (before or 0)
        texts = sorted(cell.changes.get(cause, Counter()).items(), key=lambda t: (-t[1], t[0]))
        causes.append(
            Cause(
                cause=cause,
                count=count,
                share=count / with_cause,
                cumulative_share=running / with_cause,
                resolution=Dist.of(ordered),
                repurchase=Outcomes(*cell.outcomes[cause]),
                repeat=Repeats(*cell.repeat_cause[cause]),
                previous_count=before,
                rising=rising,
                recurring=len(cell.weeks.get(cause, ())) == RECURRING_WEEKS,
                changes=tuple(texts),
            )
        )
    kinds = [k for k in vocabulary.values("action_kind") if k in cell.action]
    kinds += sorted(set(cell.action) - set(kinds))
    totals = [0, 0, 0]
    for counts in cell.repeat_agent.values():
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    return FixFigures(
        deadline_first=Deadline(*cell.deadlines["first"]),
        deadline_final=Deadline(*cell.deadlines["final"]),
        root_causes=tuple(causes),
        repeat=Repeats(*totals),
        repeat_by_cause=tuple((c.cause, c.repeat) for c in causes),
        repeat_by_agent=tuple(
            (agent, Repeats(*counts)) for agent, counts in sorted(cell.repeat_agent.items())
        ),
        remedies=Remedies(
            by_action=tuple((k, Remedy(*cell.action[k])) for k in kinds),
            cost_cents=sum(cost for _, cost in cell.action.values()),
            revenue_kept_cents=cell.kept,
            by_speed=tuple(
                (label, SpeedRemedy(cell.in_bucket[i], cell.bucket_cost[i], cell.bucket_kept[i]))
                for i, label in enumerate(SPEED_BUCKETS)
            ),
        ),
        per_1000=per_1000,
    )
