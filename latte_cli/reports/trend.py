"""The weekly trend on the calendar clock, from the report summary (`latte_cli.summary`):
per (week, group) and per week the complaints opened, the resolution times of those first
resolved (n, median, p90, mean, within target), and per group the backlog open when the trend
starts.

A UTC day that lies inside one week and before the as-of time counts whole: its number of
openings and its sorted durations are taken as stored. A day cut by a local week's edge or by
the as-of time is split entry by entry on the seconds stored with each value, so the figures
are exact in every zone and at every as-of time.

The statistics are computed with numpy over all durations at once (one sort by (cell,
duration)), with the same arithmetic as `stats.percentile`, so they equal what the plain
computation gives, to the last bit.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from latte_cli import summary
from latte_cli.reports.periods import Period
from latte_cli.reports.stats import Cell, Dist
from latte_cli.summary import DAY

# key = cell << SHIFT | (duration + BIAS): sorting keys sorts by cell, then duration. The bias
# keeps a duration that another program made negative (resolved before opened) in its cell;
# durations stay within +-2**39 s (17,000 years).
SHIFT = 40
MASK = (1 << SHIFT) - 1
BIAS = 1 << (SHIFT - 1)
Ints = npt.NDArray[np.int64]


class _Weeks:
    """Which trend week an epoch falls in, for contiguous weeks."""

    def __init__(self, weeks: tuple[int, ...], periods: dict[int, Period], as_of: int) -> None:
        self.weeks = weeks
        self.starts = [periods[w].start for w in weeks]
        self.lo = self.starts[0]
        self.hi = periods[weeks[-1]].end
        # The last moment counted: the trend's end or the as-of time.
        self.last = min(self.hi - 1, as_of)

    def of(self, moment: int) -> int | None:
        """The index of the week `moment` counts in, None outside the trend."""
        if moment < self.lo or moment > self.last:
            return None
        return bisect_right(self.starts, moment) - 1

    def whole(self, day: int) -> int | None:
        """The week index a whole UTC day counts in, or None when the day must be split."""
        start, end = day * DAY, day * DAY + DAY - 1
        week = self.of(start)
        if week is None or end > self.last or self.of(end) != week:
            return None
        return week


class _Entries:
    """Openings and durations per cell (week index * groups + group index)."""

    def __init__(self) -> None:
        # Whole days: one cell per stored row.
        self.row_cells: Ints = np.zeros(0, np.int64)
        self.row_opened: Ints = np.zeros(0, np.int64)
        self.row_resolved: Ints = np.zeros(0, np.int64)
        self.blobs: list[bytes] = []
        # Split days and pending changes: one cell per entry.
        self.opened_cells: list[Ints] = []
        self.opened_signs: list[Ints] = []
        self.resolved_cells: list[Ints] = []
        self.durations: list[Ints] = []
        self.removed: list[int] = []  # keys of resolutions to take away

    def add_opened(self, cells: Ints, signs: Ints | None = None) -> None:
        self.opened_cells.append(cells)
        self.opened_signs.append(np.ones(len(cells), np.int64) if signs is None else signs)

    def add_resolved(self, cells: Ints, durations: Ints) -> None:
        self.resolved_cells.append(cells)
        self.durations.append(durations)

    def keys(self) -> Ints:
        """The key of every resolution, sorted."""
        durations = np.frombuffer(b"".join(self.blobs), dtype="<i8").astype(np.int64)
        cells = np.repeat(self.row_cells, self.row_resolved)
        keys = np.concatenate(
            [(cells << SHIFT) | (durations + BIAS)]
            + [
                (c << SHIFT) | (d + BIAS)
                for c, d in zip(self.resolved_cells, self.durations, strict=True)
            ]
        )
        keys.sort()
        if self.removed:
            gone = np.array(sorted(self.removed), dtype=np.int64)
            # Equal keys taken away one by one: the n-th copy removes the n-th occurrence.
            at = np.searchsorted(keys, gone) + np.arange(len(gone)) - np.searchsorted(gone, gone)
            found = (at < len(keys)) & (keys[np.minimum(at, len(keys) - 1)] == gone)
            keys = np.delete(keys, at[found])
        return keys

    def opened_counts(self, cells: int) -> Ints:
        counts = np.zeros(cells, dtype=np.int64)
        np.add.at(counts, self.row_cells, self.row_opened)
        for where, signs in zip(self.opened_cells, self.opened_signs, strict=True):
            np.add.at(counts, where, signs)
        return counts


def _percentile(
    values: Ints, starts: Ints, n: Ints, numerator: int, denominator: int
) -> list[float]:
    """stats.percentile for each segment (all non-empty), with the same float operations."""
    position = (n - 1) * numerator
    low, remainder = np.divmod(position, denominator)
    at_low = values[starts + low]
    at_high = values[starts + np.minimum(low + 1, n - 1)]
    between = at_low + (at_high - at_low) * (remainder / denominator)
    return np.where(remainder == 0, at_low.astype(np.float64), between).tolist()  # type: ignore[no-any-return]


def _cells(keys: Ints, cells: int, opened: Ints, target: float) -> list[Cell]:
    """Figures per cell from sorted keys."""
    values = (keys & MASK) - BIAS
    counts = np.bincount(keys >> SHIFT, minlength=cells)
    present = np.flatnonzero(counts)
    n = counts[present]
    starts = np.cumsum(counts)[present] - n
    sums = np.add.reduceat(values, starts) if len(starts) else np.zeros(0, np.int64)
    within = np.add.reduceat((values <= target).astype(np.int64), starts) if len(starts) else sums
    medians = _percentile(values, starts, n, 1, 2)
    p90s = _percentile(values, starts, n, 9, 10)
    means = (sums / n).tolist()
    opened_list = opened.tolist()
    result = [Cell(count, Dist(0), 0) for count in opened_list]
    rows = zip(present.tolist(), n.tolist(), within.tolist(), strict=True)
    for i, (cell, count, total) in enumerate(rows):
        dist = Dist(count, medians[i], p90s[i], means[i])
        result[cell] = Cell(opened_list[cell], dist, total)
    return result


@dataclass(frozen=True)
class Trend:
    groups: list[Any]  # the groups present, in the order of `by_group`'s inner lists
    by_week: list[Cell]  # per week index
    by_group: list[list[Cell]]  # [week index][group index]
    running: dict[Any, int]  # backlog per group when the trend starts


def calendar_trend(
    conn: Connection,
    weeks: tuple[int, ...],
    periods: dict[int, Period],
    by: str | None,
    as_of: int,
    target: float,
) -> Trend:
    """The trend's figures per week and per (week, group), and each group's backlog when the
    trend starts; see the module docstring for how days are counted."""
    span = _Weeks(weeks, periods, as_of)
    dimension = by or "agent"
    group_of: Callable[[str | None], Any] = (lambda v: v) if by else (lambda _v: None)
    # The backlog is counted at `moment`: just before the trend starts (or at the as-of time).
    moment = min(span.lo - 1, as_of)
    moment_day = moment // DAY
    running = _backlog_before(conn, dimension, moment_day, group_of)

    last_day = span.last // DAY
    whole = {day: span.whole(day) for day in range(moment_day, last_day + 1)}
    split = [day for day, week in whole.items() if week is None or day == moment_day]
    rows = summary.day_rows(conn, dimension, moment_day, last_day)
    full = summary.day_rows_in_full(conn, dimension, split)
    changes = summary.pending(conn)
    column = summary.CHANGE_COLUMNS.index(dimension)
    present = {group_of(r[0]) for r in rows} | {group_of(r.value) for r in full}
    present |= {group_of(c.values[column]) for c in changes}
    groups = _Groups(group_of, sorted(present, key=lambda g: (g is None, str(g))))

    entries = _Entries()
    if rows:
        _add_whole_days(entries, rows=rows, whole=whole, moment_day=moment_day, groups=groups)
    if full:
        _add_split_days(
            entries, full=full, span=span, moment=moment, groups=groups, running=running
        )
    _add_changes(
        entries,
        changes=changes,
        column=column,
        span=span,
        moment=moment,
        groups=groups,
        running=running,
    )
    by_week, by_group = _figures(entries, weeks=len(weeks), width=groups.width, target=target)
    return Trend(groups.names, by_week, by_group, dict(running))


class _Groups:
    """The groups present in the trend, in display order: which group a stored value counts
    in, and each group's index within a week's cells."""

    def __init__(self, of: Callable[[str | None], Any], names: list[Any]) -> None:
        self.of = of
        self.names = names
        self.index = {g: i for i, g in enumerate(names)}
        self.width = len(names)


def _backlog_before(
    conn: Connection, dimension: str, day: int, group_of: Callable[[str | None], Any]
) -> defaultdict[Any, int]:
    """Per group, the backlog (opened minus first resolved, never before opening) at the end
    of the day before `day`; the entries of `day` itself up to the backlog moment are added
    from the split days and the pending changes."""
    running: defaultdict[Any, int] = defaultdict(int)
    for value, count in summary.counts_before(conn, dimension, day).items():
        running[group_of(value)] += count
    return running


def _add_whole_days(
    entries: _Entries,
    *,
    rows: list[tuple[str | None, int, int, int, bytes]],
    whole: dict[int, int | None],
    moment_day: int,
    groups: _Groups,
) -> None:
    """Days that lie inside one week: one cell per stored row, its openings and its sorted
    durations taken as stored. Days to split (and the backlog moment's day) are left out."""
    first_day = moment_day
    week_of_day = np.full(len(whole), -1, dtype=np.int64)
    for day, week in whole.items():
        if week is not None and day != moment_day:
            week_of_day[day - first_day] = week
    values, days, opened_n, resolved_n, blobs = zip(*rows, strict=True)
    row_weeks = week_of_day[np.array(days, dtype=np.int64) - first_day]
    kept = row_weeks >= 0
    index, group_of = groups.index, groups.of
    group_ix = np.array([index[group_of(v)] for v in values], dtype=np.int64)
    entries.row_cells = (row_weeks * groups.width + group_ix)[kept]
    entries.row_opened = np.array(opened_n, dtype=np.int64)[kept]
    entries.row_resolved = np.array(resolved_n, dtype=np.int64)[kept]
    entries.blobs = list(compress(blobs, kept.tolist()))


def _add_split_days(
    entries: _Entries,
    *,
    full: list[summary.DayRow],
    span: _Weeks,
    moment: int,
    groups: _Groups,
    running: defaultdict[Any, int],
) -> None:
    """Days cut by a week's edge, the as-of time or the backlog moment: one cell per entry,
    from the seconds stored with it."""
    width = groups.width
    starts = np.array(span.starts, dtype=np.int64)
    of_row = np.array([groups.index[groups.of(r.value)] for r in full], dtype=np.int64)
    bases = np.array([r.day * DAY for r in full], dtype=np.int64)

    def place(counts: list[int], seconds: bytes, sign: int) -> Ints:
        """The cell of each entry, -1 outside the trend; entries at or before the backlog
        moment count `sign` in its group's backlog."""
        moments = np.repeat(bases, counts) + np.frombuffer(seconds, "<i4").astype(np.int64)
        group_ix = np.repeat(of_row, counts)
        # Only the entries of the backlog moment's own day can be at or before it.
        early = np.bincount(group_ix[moments <= moment], minlength=width).tolist()
        for g, n in zip(groups.names, early, strict=True):
            running[g] += sign * n
        inside = (moments >= span.lo) & (moments <= span.last)
        cells = (np.searchsorted(starts, moments, "right") - 1) * width + group_ix
        return np.where(inside, cells, -1)

    cells = place([r.opened_n for r in full], b"".join(r.opened for r in full), 1)
    entries.add_opened(cells[cells >= 0])
    cells = place([r.resolved_n for r in full], b"".join(r.resolved_at for r in full), -1)
    split_durations = np.frombuffer(b"".join(r.durations for r in full), "<i8")
    kept = cells >= 0
    entries.add_resolved(cells[kept], split_durations.astype(np.int64)[kept])


def _add_changes(
    entries: _Entries,
    *,
    changes: list[summary.Change],
    column: int,
    span: _Weeks,
    moment: int,
    groups: _Groups,
    running: defaultdict[Any, int],
) -> None:
    """Changes another program wrote since latte last folded them in: added (or, for a
    change that takes a complaint away, removed) entry by entry."""
    width = groups.width
    for change in changes:
        group = groups.of(change.values[column])
        if change.opened <= moment:
            running[group] += change.sign
        week = span.of(change.opened)
        if week is not None:
            cell = np.array([week * width + groups.index[group]], dtype=np.int64)
            entries.add_opened(cell, np.array([change.sign], dtype=np.int64))
        first = change.first_resolved
        if first is None:
            continue
        if first <= moment:
            running[group] -= change.sign
        week = span.of(first)
        if week is not None:
            cell_no, duration = week * width + groups.index[group], first - change.opened
            if change.sign > 0:
                entries.add_resolved(
                    np.array([cell_no], dtype=np.int64), np.array([duration], dtype=np.int64)
                )
            else:
                entries.removed.append(cell_no << SHIFT | (duration + BIAS))


def _figures(
    entries: _Entries, *, weeks: int, width: int, target: float
) -> tuple[list[Cell], list[list[Cell]]]:
    """The figures per week and per (week, group) from all entries: the resolution keys are
    built and sorted once; the per-week figures re-sort them with the group taken out."""
    cells_n = weeks * width
    keys = entries.keys()
    opened = entries.opened_counts(cells_n)
    per_cell = _cells(keys, cells_n, opened, target)
    by_group = [per_cell[w * width : (w + 1) * width] for w in range(weeks)]
    week_keys = ((keys >> SHIFT) // max(width, 1) << SHIFT) | (keys & MASK)
    week_keys.sort()
    week_opened = opened.reshape(weeks, width).sum(axis=1)
    by_week = _cells(week_keys, weeks, week_opened, target)
    return by_week, by_group
