"""A report's period figures read from the summaries kept at write time, on either clock.

- The cohort figures (resolved, resolution and acknowledge times, stage times, reopened,
  follow-ups, NPS, repurchase outcomes) come from the cohort summary (`latte_cli.cohort`): the
  day records of the period's UTC days, streamed 32 days at a time and decoded once for
  every figure family of the report (`cohort_days.read`), each record placed in its period by
  its first-resolution epoch (so a local period edge or the as-of time inside a UTC day is
  exact), grouped with numpy, and the ids that bought again from one pass over the outcome
  index.
- The volume figures (opened, backlog, overdue) come from the report summary's day counts
  (`latte_cli.summary`): sums over whole days, and the seconds stored with the entries of the
  days cut by a period edge, the as-of time or the overdue limit.

What a report reads grows with the number of days, not of complaints: a year is 365 day rows
per table. The arithmetic is the same as the computation from the rows (`build._Collector`),
so the figures are identical. On a business-hours clock the times come from the epochs the
records keep (`BusinessClock.seconds_of`); docs/architecture.md ("Reports over long periods")
says what still needs the rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, func, select

from latte_cli import cohort, summary
from latte_cli.reports import queries as q
from latte_cli.reports.cohort_days import (
    Chunk,
    Columns,
    Family,
    Texts,
    order_of,
    read,
)
from latte_cli.reports.hours import BusinessClock
from latte_cli.reports.periods import Period

Ints = npt.NDArray[np.int64]
DAY = cohort.DAY


def available(conn: Connection) -> bool:
    """Both summaries are complete: nothing written by another program waits to be folded."""
    return not cohort.pending(conn) and not summary.has_pending(conn)


class CohortFigures:
    """Each (period, group)'s cohort material, added to `at(key, group)` (a `build._Material`)
    from the chunks of a `cohort_days.read`: period `i` of the read is key `keys[i]`."""

    blobs: Sequence[str] = ("scores",)

    def __init__(
        self,
        keys: list[int],
        *,
        by: str | None,
        as_of: int,
        target: float,
        window: int,
        no_value: str,
        at: Callable[[int, Any], Any],
        clock: BusinessClock | None = None,
    ) -> None:
        self.keys, self.by, self.as_of, self.target, self.window = keys, by, as_of, target, window
        self.no_value, self.at, self.clock = no_value, at, clock
        self.column = cohort.DIMENSION_CODE[by] if by else None
        self.columns = [cohort.ACTION_CODE, *([self.column] if self.column is not None else [])]
        self.lookups = ("bought",)
        self.parts: dict[str, list[Any]] = {name: [] for name in PARTS}  # of one chunk
        self.kept: Columns | None = None  # of every chunk so far
        self.offset = 0  # entries kept so far, for the scores' entry numbers

    def add(self, chunk: Chunk) -> None:
        inside, kept = chunk.inside()
        if not len(kept):
            return
        known = min(self.as_of, cohort.NEVER - 1)  # an as-of time past 2038 leaves NEVER unknown
        # Group and action kind as text numbers (0: no value), per kept record.
        group = (
            np.zeros(len(kept), np.int64)
            if self.column is None
            else chunk.codes[self.column][inside]
        )
        _add_entries(
            self.parts,
            kept,
            chunk.place[inside].astype(np.int32),
            group.astype(np.int32),
            chunk.codes[cohort.ACTION_CODE][inside].astype(np.int32),
            chunk.bought()[inside],
            [values[inside] for values in chunk.speed()],
            known=known,
            as_of=self.as_of,
            target=self.target,
            window=self.window,
            clock=self.clock,
        )
        scores, at, _ = chunk.entries["scores"]
        latest = _latest_scores(scores, at, known)
        if latest is not None:
            found, found_at = latest
            counted = inside[found_at]
            # The kept record of each entry: its rank among the chunk's kept records.
            rank = np.cumsum(inside) - 1
            self.parts["score_entry"].append(rank[found_at[counted]] + self.offset)
            self.parts["score"].append(found["nps"][counted].astype(np.int8))
        self.offset += len(kept)
        if self.kept is None:
            self.kept = Columns(chunk.total)
        for name, parts in self.parts.items():
            for part in parts:
                self.kept.add(name, part)
            parts.clear()

    def finish(self, texts: Texts) -> None:
        if not self.offset or self.kept is None:
            return
        self.parts = {name: self.kept.parts(name) for name in PARTS}
        self.kept = None
        groups = np.concatenate(self.parts["group"])
        # The groups present, numbered densely (text numbers count every name read).
        present = np.flatnonzero(np.bincount(groups, minlength=len(texts.values)))
        dense = np.zeros(len(texts.values), np.int32)
        dense[present] = np.arange(len(present))
        self.parts["group"] = [dense[groups]]
        del groups  # not held through the grouping, the report's peak of memory
        group_values = [texts.values[i] for i in present.tolist()]
        action_values = [self.no_value if v is None else q.label(v) for v in texts.values]
        _spread(self.parts, self.keys, group_values, action_values, self.at)


def cohort_figures(
    conn: Connection,
    periods: dict[int, Period],
    *,
    by: str | None,
    as_of: int,
    target: float,
    window: int,
    no_value: str,
    at: Callable[[int, Any], Any],
    together: Sequence[Family] = (),
    texts: Texts | None = None,
    repeat: int = 0,
    clock: BusinessClock | None = None,
) -> None:
    """Add each (period, group)'s cohort material to `at(key, group)` (a `build._Material`),
    reading the days once for it and for the families `together` (their text numbers in
    `texts`, their repeat window `repeat`); times on `clock` when given (business hours)."""
    keys = list(periods)
    texts = texts or Texts()
    family = CohortFigures(
        keys, by=by, as_of=as_of, target=target, window=window, no_value=no_value, at=at,
        clock=clock,
    )  # fmt: skip
    read(
        conn,
        [periods[k] for k in keys],
        as_of,
        [family, *together],
        texts,
        window=window,
        repeat=repeat,
        clock=clock,
    )
    family.finish(texts)


def _latest_scores(scores: Any, at: Ints, known: int) -> tuple[Any, Ints] | None:
    """Each complaint's latest score recorded by `known`, once (docs/metrics.md, "One
    follow-up per resolution"); of scores in the same second, the highest; with the index of
    its record. A complaint's scores are all in its day's record, so a chunk holds all of
    them."""
    recorded = scores["recorded"] <= known
    scores, at = scores[recorded], at[recorded]
    if not len(scores):
        return None
    order = _by_record_time_score(at, scores["recorded"], scores["nps"])
    ordered = scores[order]
    last = np.ones(len(ordered), np.bool_)
    last[:-1] = ordered["id"][1:] != ordered["id"][:-1]
    return ordered[last], at[order][last]


def _by_record_time_score(at: Ints, recorded: Any, nps: Any) -> Ints:
    """The order of the scores by (record, recorded, score): a record is one complaint, so
    this is the order by (complaint, recorded, score). One sort of the three packed into an
    integer when they fit in 63 bits (a third of a three-key lexsort), else the lexsort."""
    columns = [at.astype(np.int64), recorded.astype(np.int64), nps.astype(np.int64)]
    key = np.zeros(len(at), np.int64)
    bits = 0
    for column in columns:
        low = int(column.min())
        width = max(int(column.max()) - low, 1).bit_length()
        bits += width
        if bits > 62:
            return np.lexsort((columns[2], columns[1], columns[0]))
        key = (key << width) | (column - low)
    return np.argsort(key)  # equal keys are equal scores: their order does not matter


# Each stage's seconds are a field of their own: grouping a field needs it twice at once
# (gathered, then in cell order), and six stages at once were the report's peak of memory.
STAGE_FIELDS = tuple(f"stage {stage}" for stage in cohort.STAGES)
PARTS = (
    "place",
    "group",
    "resolution",
    "acknowledge",
    *STAGE_FIELDS,
    "reopened",
    "followed",
    "customer",
    "outcome",
    "action",
    "score_entry",
    "score",
)


def _add_entries(
    parts: dict[str, list[Any]],
    kept: Any,
    place: npt.NDArray[Any],
    group: npt.NDArray[Any],
    action: npt.NDArray[Any],
    bought: npt.NDArray[np.bool_],
    speed: list[Ints],
    *,
    known: int,
    as_of: int,
    target: float,
    window: int,
    clock: BusinessClock | None,
) -> None:
    """The per-entry values of a chunk's records in the periods (`bought`: per record, its
    customer bought again within the window; `speed`: per record, its resolution seconds on
    the report's clock and speed bucket, `Chunk.speed`)."""
    opened = kept["opened"].astype(np.int64)
    resolved = kept["resolved"].astype(np.int64)
    resolution, bucket = speed
    acknowledged = kept["acknowledged"].astype(np.int64)
    parts["place"].append(place)
    parts["group"].append(group)
    parts["resolution"].append(_narrow(resolution))
    gap = acknowledged == cohort.MISSING
    acknowledged = np.where(gap, opened, acknowledged)
    acknowledge = acknowledged - opened if clock is None else clock.seconds_of(opened, acknowledged)
    # Missing acknowledge times as the type's minimum, which no difference of two 32-bit
    # epochs narrowed to 32 bits can be (`_narrow` keeps such a difference in 64 bits).
    parts["acknowledge"].append(_narrow(acknowledge, missing=gap))
    # int32, widened per figure; a copy, not a view that would keep every whole record alive
    stages = kept["stages"]
    for i, name in enumerate(STAGE_FIELDS):
        parts[name].append(np.ascontiguousarray(stages[:, i]))
    parts["reopened"].append(kept["reopened"] <= known)
    parts["followed"].append(kept["followed"] <= known)
    parts["customer"].append(kept["customer"] == 1)
    # outcome: repurchased (0), lost (1), pending (2); docs/metrics.md, Outcomes
    evidence = bought | (kept["said"] <= known)
    outcome = np.where(evidence, 0, np.where(resolved + window <= as_of, 1, 2))
    fast = (resolution <= target).astype(np.int64)
    satisfied = (kept["satisfied"] <= known).astype(np.int64)
    # (speed bucket, fast, satisfied, outcome) in one small integer; the action kind beside it
    parts["outcome"].append((((bucket * 2 + fast) * 2 + satisfied) * 3 + outcome).astype(np.int16))
    parts["action"].append(action)


def _narrow(values: Ints, missing: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[Any]:
    """The values in 32 bits when they fit (half the memory for a full history), else as they
    are; `missing` entries become the type's minimum."""
    low, high = np.iinfo(np.int32).min, np.iinfo(np.int32).max
    fits = not len(values) or (int(values.min()) > low and int(values.max()) <= high)
    found = values.astype(np.int32) if fits else values.copy()
    if missing is not None:
        found[missing] = np.iinfo(found.dtype).min
    return found


def _spread(
    parts: dict[str, list[Any]],
    keys: list[int],
    group_values: list[Any],
    action_values: list[Any],
    at: Callable[[int, Any], Any],
) -> None:
    """Group the entries by (period, group) and hand each cell's material over: every field
    is put in cell order once, one at a time, and each cell gets views of its stretch (no
    copy per cell; a full history's fields are tens of MB each)."""
    width = len(group_values)
    cells = np.concatenate(parts.pop("place")).astype(np.int64) * width
    cells += np.concatenate(parts.pop("group"))
    order = order_of(cells, len(keys) * width)
    counts = np.bincount(cells, minlength=len(keys) * width)
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    # promoters, passives, detractors per cell
    scored = np.zeros((len(keys) * width, 3), np.int64)
    if parts["score_entry"]:
        score_cells = cells[np.concatenate(parts.pop("score_entry"))]
        score = np.concatenate(parts.pop("score"))
        kind = np.where(score >= 9, 0, np.where(score <= 6, 2, 1))
        scored = np.bincount(score_cells * 3 + kind, minlength=len(keys) * width * 3).reshape(-1, 3)
    del cells
    joined: dict[str, Any] = {}
    for name in FIELDS:
        joined[name] = np.concatenate(parts.pop(name))[order]  # the parts freed as they go
    del order
    missing = np.iinfo(joined["acknowledge"].dtype).min
    from latte_cli.cohort import STAGES

    for cell in np.flatnonzero(counts).tolist():
        stretch = slice(bounds[cell], bounds[cell + 1])
        m = at(keys[cell // width], group_values[cell % width])
        m.resolution.append(joined["resolution"][stretch])
        acknowledge = joined["acknowledge"][stretch]
        m.acknowledge.append(acknowledge[acknowledge != missing])
        for name, stage in zip(STAGE_FIELDS, STAGES, strict=True):
            seconds = joined[name][stretch]
            seconds = seconds[seconds != cohort.MISSING]
            if len(seconds):
                m.stages.setdefault(stage, []).append(seconds)
        m.reopened += int(joined["reopened"][stretch].sum())
        m.followed += int(joined["followed"][stretch].sum())
        m.nps = [m.nps[i] + int(scored[cell, i]) for i in range(3)]
        with_customer = joined["customer"][stretch]
        if not with_customer.any():
            continue
        outcome_codes = joined["outcome"][stretch][with_customer].astype(np.int64)
        combined = outcome_codes * len(action_values) + joined["action"][stretch][with_customer]
        found, counted = np.unique(combined, return_counts=True)
        for value, n in zip(found.tolist(), counted.tolist(), strict=True):
            rest, action = divmod(value, len(action_values))
            rest, outcome = divmod(rest, 3)
            rest, satisfied = divmod(rest, 2)
            speed, fast = divmod(rest, 2)
            m.outcomes[(speed, fast, action_values[action], satisfied, OUTCOMES[outcome])] += n


FIELDS = (
    "resolution",
    "acknowledge",
    *STAGE_FIELDS,
    "reopened",
    "followed",
    "customer",
    "outcome",
    "action",
)
OUTCOMES = ("repurchased", "lost", "pending")


# ------------------------------------------------------------------------------ volume


def _upto(conn: Connection, dimension: str, moment: int) -> dict[str | None, list[int]]:
    """Per value: [complaints opened at or before `moment`, first resolved at or before it]."""
    c = summary.table("report_day").c
    day = moment // DAY
    found: dict[str | None, list[int]] = {}
    query = (
        select(c.value, func.sum(c.opened_n), func.sum(c.resolved_n))
        .where(c.dimension == dimension, c.day < day)
        .group_by(c.value)
    )
    for value, opened, resolved in conn.execute(query):
        found[None if value == summary.NONE else value] = [int(opened or 0), int(resolved or 0)]
    second = moment - day * DAY
    for row in summary.day_rows_in_full(conn, dimension, [day]):
        counts = found.setdefault(row.value, [0, 0])
        counts[0] += int((np.frombuffer(row.opened, "<i4") <= second).sum())
        counts[1] += int((np.frombuffer(row.resolved_at, "<i4") <= second).sum())
    return found


def _resolved_after_opened_by(
    conn: Connection, dimension: str, limit: int, moment: int
) -> dict[str | None, int]:
    """Per value: complaints first resolved in (limit, moment] that were opened at or before
    `limit`, from the entries of those days."""
    found: dict[str | None, int] = {}
    days = list(range(limit // DAY, moment // DAY + 1))
    for row in summary.day_rows_in_full(conn, dimension, days):
        resolved = row.day * DAY + np.frombuffer(row.resolved_at, "<i4").astype(np.int64)
        opened = resolved - np.frombuffer(row.durations, "<i8").astype(np.int64)
        n = int(((resolved > limit) & (resolved <= moment) & (opened <= limit)).sum())
        found[row.value] = found.get(row.value, 0) + n
    return found


def volume_figures(
    conn: Connection,
    periods: dict[int, Period],
    *,
    by: str | None,
    as_of: int,
    target: float,
    at: Callable[[int, Any], Any],
    clock: BusinessClock | None = None,
) -> None:
    """Add each (period, group)'s opened, backlog and overdue counts to `at(key, group)`.

    backlog at M = opened by M - first resolved by M; overdue at M = backlog opened before
    M - target = opened by L - first resolved by L - (first resolved in (L, M], opened by L),
    with L the last second whose complaints are older than the target at M (`overdue_limit`;
    docs/metrics.md, Speed)."""
    dimension = by or "agent"

    def group(value: str | None) -> Any:
        return value if by else None

    for key, period in periods.items():
        moment = min(period.end - 1, as_of)
        now = _upto(conn, dimension, moment)
        if moment >= period.start:
            before = _upto(conn, dimension, period.start - 1)
            for value, (opened, _) in now.items():
                n = opened - before.get(value, [0, 0])[0]
                if n:
                    at(key, group(value)).opened += n
        limit = overdue_limit(moment, target, clock)
        older = _upto(conn, dimension, limit)
        late = _resolved_after_opened_by(conn, dimension, limit, moment)
        for value, (opened, resolved) in now.items():
            backlog = opened - resolved
            old_opened, old_resolved = older.get(value, [0, 0])
            overdue = old_opened - old_resolved - late.get(value, 0)
            if backlog or overdue:
                m = at(key, group(value))
                m.backlog += backlog
                m.overdue += overdue


def overdue_limit(moment: int, target: float, clock: BusinessClock | None) -> int:
    """The last second L such that a complaint opened at or before L is older than `target`
    at `moment` and one opened after it is not: on the calendar the last second before
    `moment - target`; on business hours, where a complaint's age `clock.seconds(opened,
    moment)` never grows with its opening, found by halving (the clock's own arithmetic,
    so the count is the one the complaint rows give)."""
    if clock is None:
        return math.ceil(moment - target) - 1

    def older(opened: int) -> bool:
        return clock.seconds(opened, moment) > target

    if older(moment):
        return moment  # a target below zero: every open complaint
    back = 7 * DAY
    while not older(moment - back):
        if back > OLDEST_LOOK_BACK:
            return moment - back  # no working time that far back: no complaint is older
        back *= 2
    low, high = moment - back, moment  # older(low), not older(high)
    while high - low > 1:
        middle = (low + high) // 2
        if older(middle):
            low = middle
        else:
            high = middle
    return low


# How far back `overdue_limit` looks for enough working time (a schedule of rare hours).
OLDEST_LOOK_BACK = 40 * 366 * DAY
