"""Assemble a report: run the queries for the period, the one before it and the trend weeks,
merge per-group material into totals, and freeze everything into result dataclasses.
"""

from __future__ import annotations

import gc
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import wraps
from typing import Any, ParamSpec, TypeVar, cast
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from latte_cli import vocabulary
from latte_cli.reports import fix_summarised as fs
from latte_cli.reports import fixes as fx
from latte_cli.reports import queries as q
from latte_cli.reports import summarised
from latte_cli.reports.hours import BusinessClock, Schedule
from latte_cli.reports.periods import EmptyPeriod, Period, Span, week_period
from latte_cli.reports.stats import Cell, Dist, Nps, Outcomes, Share, percentile
from latte_cli.workflow import Stage

STAGES = tuple(s.value for s in Stage)
NO_VALUE = q.NO_VALUE
# A trend longer than this reads the whole table rather than an index range.
FULL_SCAN_WEEKS = 52
# (speed bucket, fast, action kind, satisfied, outcome) of a repurchase outcome
OutcomeKey = tuple[int, int, str, int, str]
P = ParamSpec("P")
T = TypeVar("T")
Ints = npt.NDArray[np.int64]
# Durations arrive in parts (numpy arrays, or 64-bit arrays filled a complaint at a time on a
# business-hours clock: 8 bytes a value, not a Python int's 36), joined and sorted once per
# figure.
Parts = list["Ints | list[int] | array[int]"]  # array is not subscriptable at run time


@dataclass(frozen=True)
class Options:
    """What every report needs to know besides the period."""

    zone: ZoneInfo
    as_of: int
    target_hours: float = 24.0
    window_days: int = 90
    schedule: Schedule | None = None
    by: str | None = None
    repeat_days: int = 30
    # Closed all day on a business-hours clock, as for the deadlines (the `holidays` setting).
    holidays: frozenset[date] = frozenset()

    @property
    def target_seconds(self) -> float:
        return self.target_hours * 3600

    @property
    def window_seconds(self) -> int:
        return self.window_days * 86_400

    @property
    def clock(self) -> str:
        if self.schedule is None:
            return "calendar hours"
        closed = f", {len(self.holidays)} holidays" if self.holidays else ""
        return f"business hours ({self.schedule.text}, {self.zone.key}{closed})"

    def business_clock(self) -> BusinessClock | None:
        """The clock of the speed figures: None on calendar hours."""
        if self.schedule is None:
            return None
        return BusinessClock(self.schedule, self.zone, self.holidays)


@dataclass(frozen=True)
class Figures:
    """Every figure of one period (and one group, or all)."""

    opened: int
    resolved: int
    backlog: int
    overdue: int
    acknowledge: Dist
    resolution: Dist
    within_target: Share
    stages: tuple[tuple[str, Dist], ...]
    reopened: Share
    repurchase: Outcomes
    by_speed: tuple[tuple[str, Outcomes], ...]
    by_action: tuple[tuple[str, Outcomes], ...]
    fast_satisfied: Outcomes
    rest: Outcomes
    nps: Nps
    followed_up: Share
    # Deadlines, root causes, repeats, remedies, per 1,000 active customers (`fixes`).
    fixes: fx.FixFigures = field(default_factory=fx.FixFigures)


@dataclass(frozen=True)
class GroupFigures:
    group: str
    current: Figures
    previous: Figures


@dataclass(frozen=True)
class TrendRow:
    """One week of the trend (for one group, or all when group is None)."""

    week: Period
    group: str | None
    opened: int
    resolved: int
    backlog: int
    resolution: Dist
    within_target: Share
    repurchase: Outcomes = field(default_factory=Outcomes)
    nps: Nps = field(default_factory=Nps)


@dataclass(frozen=True)
class Report:
    kind: str
    options: Options
    current: Period
    previous: Period
    totals: Figures
    previous_totals: Figures
    groups: tuple[GroupFigures, ...] = ()
    trend: tuple[TrendRow, ...] = ()
    group_trend: tuple[TrendRow, ...] = ()
    # Set only when the period is empty, the default week or one asked for (the name is older).
    empty_default: EmptyPeriod | None = None


@dataclass
class _Material:
    """What the queries return for one (period, group), before it is turned into figures."""

    opened: int = 0
    resolution: Parts = field(default_factory=list)
    acknowledge: Parts = field(default_factory=list)
    reopened: int = 0
    followed: int = 0
    nps: list[int] = field(default_factory=lambda: [0, 0, 0])
    stages: dict[str, Parts] = field(default_factory=dict)
    backlog: int = 0
    overdue: int = 0
    outcomes: Counter[OutcomeKey] = field(default_factory=Counter)

    def add(self, other: _Material) -> None:
        self.opened += other.opened
        self.resolution += other.resolution
        self.acknowledge += other.acknowledge
        self.reopened += other.reopened
        self.followed += other.followed
        self.nps = [a + b for a, b in zip(self.nps, other.nps, strict=True)]
        for stage, values in other.stages.items():
            self.stages.setdefault(stage, []).extend(values)
        self.backlog += other.backlog
        self.overdue += other.overdue
        self.outcomes.update(other.outcomes)

    def figures(self, target: float) -> Figures:
        resolution = _ranked(self.resolution)
        rows = list(self.outcomes.items())
        resolved = len(resolution)
        return Figures(
            opened=self.opened,
            resolved=resolved,
            backlog=self.backlog,
            overdue=self.overdue,
            acknowledge=_dist(_ranked(self.acknowledge)),
            resolution=_dist(resolution),
            within_target=Share(int(np.count_nonzero(resolution <= target)), resolved),
            stages=tuple((s, _dist(_ranked(self.stages.get(s, [])))) for s in STAGES),
            reopened=Share(self.reopened, resolved),
            repurchase=_sum_outcomes(rows, lambda key: True),
            by_speed=tuple(
                (label, _sum_outcomes(rows, _key_is(0, index)))
                for index, label in enumerate(q.SPEED_BUCKETS)
            ),
            by_action=tuple(
                (kind, _sum_outcomes(rows, _key_is(2, kind)))
                for kind in _action_kinds(self.outcomes)
            ),
            fast_satisfied=_sum_outcomes(rows, _fast_and_satisfied),
            rest=_sum_outcomes(rows, lambda key: not _fast_and_satisfied(key)),
            nps=Nps(*self.nps),
            followed_up=Share(self.followed, resolved),
        )


def _integers(text: str | None) -> Ints:
    """The integers of a comma-separated text (see `cohort.joined`)."""
    if not text:
        return np.zeros(0, np.int64)
    # Parsed in C: no Python string or int per value.
    return np.fromstring(text, dtype=np.int64, sep=",")


def _sorted(parts: Parts) -> Ints:
    if not parts:
        return np.zeros(0, np.int64)
    values = np.concatenate([np.asarray(part, dtype=np.int64) for part in parts])
    values.sort()
    return values


def _ranked(parts: Parts) -> Ints:
    """The values joined, in order at the ranks the median and p90 read (and at the one after
    each), not sorted: `np.partition` is linear, and `stats.percentile` reads only those
    positions, so `_dist` gives what it gives on the sorted values."""
    if not parts:
        return np.zeros(0, np.int64)
    values = np.concatenate([np.asarray(part, dtype=np.int64) for part in parts])
    n = len(values)
    if n:
        lows = [(n - 1) * numerator // denominator for numerator, denominator in ((1, 2), (9, 10))]
        values.partition(sorted({r for low in lows for r in (low, min(low + 1, n - 1))}))
    return values


def _dist(ordered: Ints) -> Dist:
    """`Dist.of` for a sorted array (or one `_ranked`), with the same arithmetic: the
    percentiles through `stats.percentile`, the mean as an exact integer sum divided by n."""
    n = len(ordered)
    if not n:
        return Dist(0)
    values = cast("Sequence[int]", ordered)  # indexed as a sequence, element by element
    median, p90 = percentile(values, 1, 2), percentile(values, 9, 10)
    assert median is not None and p90 is not None
    return Dist(n=n, median=float(median), p90=float(p90), mean=int(ordered.sum()) / n)


def _key_is(position: int, value: object) -> Callable[[OutcomeKey], bool]:
    return lambda key: key[position] == value


def _fast_and_satisfied(key: OutcomeKey) -> bool:
    return key[1] == 1 and key[3] == 1


def _action_kinds(outcomes: Counter[OutcomeKey]) -> list[str]:
    present = {key[2] for key in outcomes}
    ordered = [k for k in vocabulary.values("action_kind") if k in present]
    return ordered + sorted(present - set(ordered))


def _sum_outcomes(
    rows: list[tuple[OutcomeKey, int]], wanted: Callable[[OutcomeKey], bool]
) -> Outcomes:
    counts = Counter[str]()
    for key, n in rows:
        if wanted(key):
            counts[key[4]] += n
    return Outcomes(counts[q.REPURCHASED], counts[q.LOST], counts[q.PENDING])


def _label(group: Any) -> str:
    return q.label(group)


class _Collector:
    """Material per (period key, group) for a set of buckets."""

    def __init__(self, conn: Connection, options: Options) -> None:
        self.conn = conn
        self.options = options
        self.clock = options.business_clock()
        self.material: dict[tuple[int, Any], _Material] = {}

    def at(self, key: int, group: Any) -> _Material:
        found = self.material.get((key, group))
        if found is None:
            found = self.material[(key, group)] = _Material()
        return found

    def speed(self, b: q.Buckets, *, acknowledge: bool = True) -> None:
        o = self.options
        for key, group, n in q.opened_counts(self.conn, b, o.by, o.as_of):
            self.at(key, group).opened += n
        clock = self.clock
        if clock is not None:
            resolution: dict[tuple[int, Any], array[int]] = {}
            acknowledges: dict[tuple[int, Any], array[int]] = {}
            for key, group, opened, acknowledged, resolved in q.resolved_rows(
                self.conn, b, o.by, o.as_of
            ):
                found = resolution.get((key, group))
                if found is None:
                    found = resolution[(key, group)] = array("q")
                found.append(clock.seconds(opened, resolved))
                if acknowledged is not None and acknowledge:
                    found = acknowledges.get((key, group))
                    if found is None:
                        found = acknowledges[(key, group)] = array("q")
                    found.append(clock.seconds(opened, acknowledged))
            for (key, group), values in resolution.items():
                m = self.at(key, group)
                m.resolution.append(values)
                m.acknowledge.append(acknowledges.get((key, group), array("q")))
            return
        for key, group, seconds, acknowledged in q.resolved_durations(self.conn, b, o.by, o.as_of):
            m = self.at(int(key), group)
            m.resolution.append(_integers(seconds))
            if acknowledge:
                m.acknowledge.append(_integers(acknowledged))

    def from_summary(self, b: q.Buckets, s: fx.Settings, fixes: fs.Fixes | None = None) -> None:
        """Everything `speed` and `everything_else` add, from the summaries kept at write time
        (calendar clock, nothing pending; see `summarised`); the cohort summary's days read
        once for these and for `fixes` (docs/architecture.md, "Reports over long periods").
        The read takes group, as-of, window and repeat from `s`, the settings `fixes` was
        made from, so that the figures share one read only when they ask the same days."""
        by, as_of, target = s.by, s.as_of, self.options.target_seconds
        summarised.volume_figures(
            self.conn, b.periods, by=by, as_of=as_of, target=target, at=self.at, clock=self.clock
        )
        summarised.cohort_figures(
            self.conn, b.periods, by=by, as_of=as_of, target=target,
            window=s.window, no_value=NO_VALUE, at=self.at,
            together=fixes.families if fixes else (),
            texts=fixes.texts if fixes else None,
            repeat=s.repeat, clock=self.clock,
        )  # fmt: skip

    def everything_else(self, b: q.Buckets) -> None:
        o = self.options
        for key, group, reopened, followed in q.cohort_counts(self.conn, b, o.by, o.as_of):
            m = self.at(key, group)
            m.reopened += reopened
            m.followed += followed
        for key, group, promoters, passives, detractors in q.nps_counts(
            self.conn, b, o.by, o.as_of
        ):
            m = self.at(key, group)
            m.nps = [m.nps[0] + promoters, m.nps[1] + passives, m.nps[2] + detractors]
        for key, group, stage, seconds in q.stage_durations(self.conn, b, o.by, o.as_of):
            self.at(key, group).stages.setdefault(stage, []).append(_integers(seconds))
        for key, period in b.periods.items():
            moment = min(period.end - 1, o.as_of)
            for group, opened in q.open_at(self.conn, moment, o.by):
                m = self.at(key, group)
                m.backlog += 1
                age = self.clock.seconds(opened, moment) if self.clock else moment - opened
                if age > o.target_seconds:
                    m.overdue += 1
        self._outcomes(b)

    def _outcomes(self, b: q.Buckets) -> None:
        o = self.options
        if self.clock is None:
            for key, group, bucket, fast, action, sat, outcome, n in q.repurchase_rows(
                self.conn, b, o.by, o.as_of, window=o.window_seconds, target=o.target_seconds
            ):
                kind = q.label(action or None)
                self.at(key, group).outcomes[(bucket, fast, kind, sat, outcome)] += n
            return
        limits = q.SPEED_LIMITS
        kinds: dict[Any, str] = {}  # a row per complaint: each kind labelled once
        for key, group, opened, resolved, action, sat, outcome in q.repurchase_rows(
            self.conn, b, o.by, o.as_of, window=o.window_seconds, target=None
        ):
            seconds = self.clock.seconds(opened, resolved)
            bucket = bisect_right(limits, seconds)
            fast = int(seconds <= o.target_seconds)
            shown = kinds.get(action)
            if shown is None:
                shown = kinds[action] = q.label(action or None)
            self.at(key, group).outcomes[(bucket, fast, shown, sat, outcome)] += 1

    def merged(self, key: int) -> _Material:
        total = _Material()
        for (k, _), m in self.material.items():
            if k == key:
                total.add(m)
        return total

    def groups(self) -> list[Any]:
        return sorted({g for _, g in self.material}, key=lambda g: (g is None, str(g)))


def _without_gc(function: Callable[P, T]) -> Callable[P, T]:
    """Run with the cyclic garbage collector paused: a report allocates many small lists and
    rows, none cyclic, and collections triggered by them would scan them all again and again."""

    @wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return run


@_without_gc
def build_report(conn: Connection, span: Span, options: Options, *, kind: str) -> Report:
    """The report on `span`: the period's figures beside the previous period's, per group when
    `options.by` is set, and the weekly trend over `span.trend_weeks` (weekly report only)."""
    explicit = q.Buckets({0: span.current, 1: span.previous}, options.zone, weekly=False)
    collector = _Collector(conn, options)
    available = summarised.available(conn)
    settings = fx.Settings(
        periods=(span.current, span.previous),
        by=options.by,
        as_of=options.as_of,
        window=options.window_seconds,
        repeat=options.repeat_days * 86_400,
        clock=collector.clock,
        zone=options.zone,
        kept=available,
    )
    read: fs.Fixes | None = None
    if available:
        # Cost grows with the days of the period, not its complaints (docs/architecture.md);
        # the cohort summary's days are read once for these figures and those on what to fix.
        read = fx.summarised_fixes(settings)
        collector.from_summary(explicit, settings, read)
    else:
        collector.speed(explicit)
        collector.everything_else(explicit)
    target = options.target_seconds
    current, previous = collector.merged(0), collector.merged(1)
    totals_opened = {0: current.opened, 1: previous.opened}
    fixes = fx.fix_figures(
        conn,
        settings,
        lambda k, g: totals_opened[k] if g is fx.ALL else collector.at(k, g).opened,
        read=read,
    )
    groups: tuple[GroupFigures, ...] = ()
    if options.by is not None:
        present = set(collector.groups()) | {g for _, g in fixes if g is not fx.ALL}
        groups = tuple(
            GroupFigures(
                group=_label(g),
                current=replace(
                    collector.at(0, g).figures(target), fixes=fixes.get((0, g), fx.FixFigures())
                ),
                previous=replace(
                    collector.at(1, g).figures(target), fixes=fixes.get((1, g), fx.FixFigures())
                ),
            )
            for g in sorted(present, key=lambda g: (g is None, str(g)))
        )
    trend: tuple[TrendRow, ...] = ()
    group_trend: tuple[TrendRow, ...] = ()
    if kind == "weekly" and span.trend_weeks:
        trend, group_trend = weekly_trend(conn, span.trend_weeks, options)
    return Report(
        kind=kind,
        options=options,
        current=span.current,
        previous=span.previous,
        totals=replace(current.figures(target), fixes=fixes[(0, fx.ALL)]),
        previous_totals=replace(previous.figures(target), fixes=fixes[(1, fx.ALL)]),
        groups=groups,
        trend=trend,
        group_trend=group_trend,
    )


@_without_gc
def weekly_trend(
    conn: Connection, weeks: tuple[int, ...], options: Options
) -> tuple[tuple[TrendRow, ...], tuple[TrendRow, ...]]:
    """Per week (and per week and group when `options.by` is set): volume, backlog at the
    week's end, resolution time, share within target, repurchase outcomes and NPS."""
    periods = {w: week_period(w, options.zone) for w in weeks}
    target = options.target_seconds
    if options.schedule is None:
        # Calendar clock: from the report summary kept at write time.
        from latte_cli.reports.trend import calendar_trend

        found = calendar_trend(conn, weeks, periods, options.by, options.as_of, target)
        by_week, running = found.by_week, found.running
        cells = {
            (week, g): cell
            for week, row in zip(weeks, found.by_group, strict=True)
            for g, cell in zip(found.groups, row, strict=True)
        }
    else:
        by_week, cells, running = _business_trend(conn, periods, options)
    groups: list[Any] = []
    if options.by is not None:
        present = {g for _, g in cells} | {g for g, n in running.items() if n}
        groups = sorted(present, key=lambda g: (g is None, str(g)))
    outcomes = _trend_outcomes(conn, periods, options)
    overall = sum(running.values())
    trend: list[TrendRow] = []
    group_trend: list[TrendRow] = []
    empty = Cell(0, Dist(0), 0)
    for week, total in zip(weeks, by_week, strict=True):
        overall += total.opened - total.resolution.n
        week_outcomes = [m for (w, _), m in outcomes.items() if w == week]
        trend.append(_trend_row(periods[week], None, total, overall, *_outcomes_of(week_outcomes)))
        for g in groups:
            cell = cells.get((week, g), empty)
            running[g] = running.get(g, 0) + cell.opened - cell.resolution.n
            known = outcomes.get((week, g))
            extra = _outcomes_of([known] if known else [])
            group_trend.append(_trend_row(periods[week], _label(g), cell, running[g], *extra))
    return tuple(trend), tuple(group_trend)


def _trend_outcomes(
    conn: Connection, periods: dict[int, Period], options: Options
) -> dict[tuple[int, Any], _Material]:
    """Per (week, group): the repurchase outcomes and NPS counts of the complaints first
    resolved that week (docs/metrics.md, Outcomes); neither depends on the clock."""
    o = options
    found: dict[tuple[int, Any], _Material] = {}
    if summarised.available(conn):

        def at(key: int, group: Any) -> _Material:
            return found.setdefault((key, group), _Material())

        summarised.cohort_figures(
            conn, periods, by=o.by, as_of=o.as_of, target=o.target_seconds,
            window=o.window_seconds, no_value=NO_VALUE, at=at,
        )  # fmt: skip
        return found
    b = q.Buckets(periods, options.zone, weekly=True, full_scan=len(periods) > FULL_SCAN_WEEKS)
    for key, group, outcome, n in q.outcome_counts(conn, b, o.by, o.as_of, window=o.window_seconds):
        m = found.setdefault((key, group), _Material())
        m.outcomes[(0, 0, NO_VALUE, 0, outcome)] += n
    for key, group, promoters, passives, detractors in q.nps_counts(conn, b, o.by, o.as_of):
        m = found.setdefault((key, group), _Material())
        m.nps = [m.nps[0] + promoters, m.nps[1] + passives, m.nps[2] + detractors]
    return found


def _outcomes_of(materials: list[_Material]) -> tuple[Outcomes, Nps]:
    total = _Material()
    for m in materials:
        total.add(m)
    return _sum_outcomes(list(total.outcomes.items()), lambda key: True), Nps(*total.nps)


def _business_trend(
    conn: Connection, periods: dict[int, Period], options: Options
) -> tuple[list[Cell], dict[tuple[int, Any], Cell], dict[Any, int]]:
    """The trend's cells on a business-hours clock: from the summaries when they are current
    (the working seconds from the epochs the cohort records keep, as the period's figures),
    else from the complaint rows."""
    weeks = tuple(periods)
    b = q.Buckets(periods, options.zone, weekly=True, full_scan=len(weeks) > FULL_SCAN_WEEKS)
    collector = _Collector(conn, options)
    # The backlog at the trend's start, then week by week: + opened - first resolved.
    running: dict[Any, int] = {}
    if summarised.available(conn):
        from latte_cli.reports.trend import calendar_trend

        o = options
        # Openings and the starting backlog do not depend on the clock: the calendar trend's.
        found = calendar_trend(conn, weeks, periods, o.by, o.as_of, o.target_seconds)
        for week, row in zip(weeks, found.by_group, strict=True):
            for group, cell in zip(found.groups, row, strict=True):
                if cell.opened:
                    collector.at(week, group).opened += cell.opened
        running = dict(found.running)
        summarised.cohort_figures(
            conn, periods, by=o.by, as_of=o.as_of, target=o.target_seconds,
            window=o.window_seconds, no_value=NO_VALUE, at=collector.at, clock=collector.clock,
        )  # fmt: skip
    else:
        collector.speed(b, acknowledge=False)
        for group, _ in q.open_at(conn, min(b.lo - 1, options.as_of), options.by):
            running[group] = running.get(group, 0) + 1
    target = options.target_seconds
    totals: dict[int, _Material] = {w: _Material() for w in weeks}
    cells: dict[tuple[int, Any], Cell] = {}
    for (week, group), m in collector.material.items():
        if week in totals:
            totals[week].opened += m.opened
            totals[week].resolution += m.resolution
            cells[(week, group)] = _cell(m, target)
    return [_cell(totals[w], target) for w in weeks], cells, running


def _cell(m: _Material, target: float) -> Cell:
    resolution = _sorted(m.resolution)
    within = int(np.searchsorted(resolution, target, "right"))
    return Cell(m.opened, _dist(resolution), within)


def _trend_row(
    week: Period, group: str | None, cell: Cell, backlog: int, outcomes: Outcomes, nps: Nps
) -> TrendRow:
    return TrendRow(
        week=week,
        group=group,
        opened=cell.opened,
        resolved=cell.resolution.n,
        backlog=backlog,
        resolution=cell.resolution,
        within_target=Share(cell.within, cell.resolution.n),
        repurchase=outcomes,
        nps=nps,
    )
