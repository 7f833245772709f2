"""The SQL of the figures on what to fix and what it is worth (docs/metrics.md: "Deadlines in
reports", "Root causes", "Repeat complaints", "Remedies and revenue kept", "Complaints per
1,000 active customers").

Every query groups in the database and returns small aggregates per (period key, group, ...);
durations cross as comma-separated texts (`cohort.joined`), as the speed figures do. With a
business-hours clock the resolution time and speed bucket of a complaint cannot be computed in
SQL: those queries return one row per complaint instead (`per_complaint=True`) and the caller
buckets them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import (
    BindParameter,
    Connection,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
)

from latte_cli import deadline_days
from latte_cli.cohort import in_window, joined
from latte_cli.reports.amounts import read_cents
from latte_cli.reports.periods import Period, period_index
from latte_cli.reports.queries import (
    _exists,
    group_column,
    repurchase_evidence,
    speed_bucket,
    streamed,
    table,
)
from latte_cli.summary import DIMENSIONS, NONE, has_pending
from latte_cli.workflow import Stage

DAY = 86_400
CHUNK = 50_000
# First-resolution days per revenue-kept text (`kept_pairs`): a quarter is about 150,000
# (complaint, purchase) pairs of the bench data, a few MB of text.
KEPT_DAYS = 91
# Group codes of `kept_pairs`: no value, and a value missing from the list asked for.
NO_GROUP, UNLISTED = -1, -2
# Deadline statuses and repeat outcomes, as small integers in SQL.
MET, BREACHED, PENDING = 0, 1, 2
REPEAT, NOT_REPEATED, REPEAT_PENDING, NO_CUSTOMER = 0, 1, 2, 3


def _as_of_datetime(as_of: int) -> datetime:
    return datetime.fromtimestamp(as_of, UTC)


def _counted() -> Any:
    """`queries.counted()` (a merged duplicate counts in no figure), written so that SQLite
    does not look it up in `ix_complaint_merged_into` (nearly every complaint is unmerged)
    but reads the period's range of the covering indexes of revision 0014, with or without
    statistics."""
    return (table("complaint").c.merged_into + 0).is_(None)


def _cohort(periods: list[Period], as_of: int) -> Any:
    """Complaints first resolved in one of the periods, by as-of (docs/metrics.md)."""
    first = table("complaint").c.first_resolved_epoch
    lo = min(p.start for p in periods)
    hi = max(p.end for p in periods)
    return and_(first >= lo, first < hi, first <= as_of, _counted())


def deadline_counts(
    conn: Connection, periods: list[Period], by: str | None, as_of: int
) -> list[tuple[int, Any, str, int, int]]:
    """(key, group, "first" or "final", status, complaints) of the complaints whose due time
    falls in one of the periods (docs/metrics.md, "Deadlines in reports"); a key, group,
    kind and status may come more than once (their sum is the figure).

    The whole UTC days of a period that ended by as-of come from the deadline summary kept
    at write time (`deadline_days`): each of their complaints is met or breached, none
    pending. The rest (the days cut by a period edge, the day of as-of and after, a day with
    complaints opened after it ended, every day while another program's changes wait in the
    queue) is counted from the complaints (`_index_counts`). docs/architecture.md, "Reports
    over long periods".
    """
    found: list[tuple[int, Any, str, int, int]] = []
    kept = not has_pending(conn)
    for k, period in enumerate(periods):
        first_day = -(-period.start // DAY)
        end_day = min(period.end // DAY, as_of // DAY)
        if not kept or first_day >= end_day:
            found += _index_counts(conn, k, [(period.start, period.end)], by, as_of)
            continue
        read = deadline_days.day_counts(conn, by, first_day, end_day)
        for (group, name), (due, met) in read.counts.items():
            found += [
                (k, group, name, status, n)
                for status, n in ((MET, met), (BREACHED, due - met))
                if n
            ]
        ranges = [(period.start, first_day * DAY)]
        ranges += [(d * DAY, (d + 1) * DAY) for d in read.late_days]
        ranges.append((end_day * DAY, period.end))
        found += _index_counts(conn, k, _adjoined(ranges), by, as_of)
    return found


def _adjoined(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The non-empty ranges [lo, hi), in order, those that touch joined into one: a run of
    days with late complaints (an import of another system's due times) is one pass over
    the index, not one per day."""
    joined: list[tuple[int, int]] = []
    for lo, hi in sorted(r for r in ranges if r[0] < r[1]):
        if joined and lo <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(hi, joined[-1][1]))
        else:
            joined.append((lo, hi))
    return joined


def _index_counts(
    conn: Connection, k: int, ranges: list[tuple[int, int]], by: str | None, as_of: int
) -> list[tuple[int, Any, str, int, int]]:
    """What `deadline_counts` returns for the complaints due in the ranges [lo, hi) of
    period k, from the complaints.

    met: completed by as-of, at or before the due time; breached: completed by as-of after
    it, or not completed by as-of and the due time passed before as-of; pending: otherwise
    (not completed by as-of, not yet due then).

    One pass over each range of the covering index, counting the statuses with filtered
    aggregates: grouping by a status expression made SQLite sort every complaint of the
    range. With `--by` each complaint's (group, status) comes back as one small integer in
    a text (`_group_codes`), counted with numpy: no sort at all; a group value the report
    summary does not list sends the query back to grouping by the stored column (the empty
    value joined to no value here).
    """
    c = table("complaint").c
    group = c[DIMENSIONS[by]] if by is not None else None
    values = group_values(conn, by) if by is not None and ranges else []
    found: list[tuple[int, Any, str, int, int]] = []
    for name, due, done in (
        # Resolved without recorded stages (an import): the resolution was the first response.
        (
            "first",
            c.first_response_due_epoch,
            func.coalesce(c.acknowledged_epoch, c.first_resolved_epoch),
        ),
        ("final", c.final_response_due_epoch, c.first_resolved_epoch),
    ):
        # NULL (not completed) satisfies neither comparison: not met.
        met = and_(done <= as_of, done <= due)
        pending = and_(due >= as_of, or_(done.is_(None), done > as_of))
        counts = (func.count(), func.count().filter(met), func.count().filter(pending))
        for lo, hi in ranges:
            where = (due >= lo, due < hi, c.opened_epoch <= as_of, _counted())
            rows: Sequence[Any]
            if group is None:
                rows = conn.execute(select(null(), *counts).where(*where)).fetchall()
            else:
                status = case((met, MET), (pending, PENDING), else_=BREACHED)
                rows = _group_codes(conn, group, status, values, where) or (
                    conn.execute(select(group, *counts).where(*where).group_by(group)).fetchall()
                )
            for g, n, m, w in rows:
                statuses = ((MET, int(m)), (BREACHED, int(n) - int(m) - int(w)), (PENDING, int(w)))
                found += [
                    (k, None if g == "" else g, name, status, count)
                    for status, count in statuses
                    if count
                ]
    return found


def _group_codes(
    conn: Connection, group: Any, status: Any, values: list[str], where: Any
) -> list[tuple[Any, int, int, int]] | None:
    """(group, complaints, met, pending) per group value, from one text of group index x 3 +
    status per complaint, or None when a complaint holds a value not in `values` (another
    program's)."""
    # No value: the index after the listed values; an unlisted value: negative.
    index = _group_index(group, values, none=len(values), unlisted=UNLISTED - len(values) - 1)
    text = conn.execute(select(joined(conn, index * 3 + status)).where(*where)).scalar()
    codes = np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, np.int64)
    if len(codes) and int(codes.min()) < 0:
        return None
    counted = np.bincount(codes, minlength=(len(values) + 1) * 3).reshape(-1, 3)
    labels = [*values, ""]
    return [
        (labels[i], int(row.sum()), int(row[MET]), int(row[PENDING]))
        for i, row in enumerate(counted)
        if row.any()
    ]


def _group_index(column: Any, values: list[str], *, none: int, unlisted: int) -> Any:
    """SQL: the index of `column`'s value in `values`, `none` for no value and `unlisted`
    for a value the list lacks."""
    other = case((or_(column.is_(None), column == NONE), none), else_=unlisted)
    listed = {value: index for index, value in enumerate(values)}
    return case(listed, value=column, else_=other) if listed else other


def repeat_code(as_of: int, repeat: int) -> Any:
    """SQL: a cohort complaint's repeat outcome (docs/metrics.md, "Repeat complaints"):
    another complaint of the same customer, not a merged duplicate, opened in
    (resolved, resolved + R] and by as-of."""
    c = table("complaint")
    other = c.alias("other")
    resolved = c.c.first_resolved_epoch
    again = _exists(
        other.c.customer_id == c.c.customer_id,
        other.c.opened_epoch > resolved,
        other.c.opened_epoch <= resolved + repeat,
        other.c.opened_epoch <= as_of,
        other.c.merged_into.is_(None),
        other.c.id != c.c.id,
    )
    return case(
        (c.c.customer_id.is_(None), literal(NO_CUSTOMER)),
        (again, literal(REPEAT)),
        (resolved + repeat <= as_of, literal(NOT_REPEATED)),
        else_=literal(REPEAT_PENDING),
    )


def outcome_code(as_of: int, window: int) -> Any:
    """SQL: a cohort complaint's repurchase outcome index in queries.OUTCOMES, or 3 without a
    customer (docs/metrics.md, Outcomes)."""
    c = table("complaint")
    resolved = c.c.first_resolved_epoch
    return case(
        (c.c.customer_id.is_(None), literal(3)),
        (repurchase_evidence(as_of, window), literal(0)),
        (resolved + window <= as_of, literal(1)),
        else_=literal(2),
    )


def kept_codes(as_of: int, window: int, repeat: int) -> tuple[Any, Any]:
    """SQL: a cohort complaint's repurchase outcome and repeat outcome, as `outcome_code` and
    `repeat_code` give them, read from its `report_outcome` row (revisions 0009 and 0012, kept
    at write time by `latte_cli.cohort`: the first purchase after the first resolution, the
    first follow-up saying the customer bought again, the customer's next complaint opened
    after the resolution, not a merged duplicate) instead of three look-ups per complaint.
    The row is there for every first-resolved complaint with a customer that is not a merged
    duplicate; the caller joins it (outer) as `kept`."""
    c, o = table("complaint").c, _kept().c
    resolved = c.first_resolved_epoch
    bought = and_(o.purchased_epoch <= resolved + window, o.purchased_epoch <= as_of)
    outcome = case(
        (c.customer_id.is_(None), literal(3)),
        (or_(bought, o.said_epoch <= as_of), literal(0)),
        (resolved + window <= as_of, literal(1)),
        else_=literal(2),
    )
    rep = case(
        (c.customer_id.is_(None), literal(NO_CUSTOMER)),
        (and_(o.again_epoch <= resolved + repeat, o.again_epoch <= as_of), literal(REPEAT)),
        (resolved + repeat <= as_of, literal(NOT_REPEATED)),
        else_=literal(REPEAT_PENDING),
    )
    return outcome, rep


@cache
def _kept() -> Any:
    """`report_outcome` as the queries here join it (one alias, so its columns match)."""
    return table("report_outcome").alias("kept")


def _outcome_join() -> Any:
    c, o = table("complaint"), _kept()
    return c.outerjoin(o, o.c.complaint_id == c.c.id)


def _cohort_select(
    periods: list[Period], by: str | None, as_of: int, *, window: int, repeat: int, kept: bool
) -> Select[Any]:
    c = table("complaint").c
    if kept:
        outcome, rep = kept_codes(as_of, window, repeat)
    else:
        outcome, rep = outcome_code(as_of, window), repeat_code(as_of, repeat)
    query = select(
        period_index(c.first_resolved_epoch, periods).label("k"),
        group_column(by).label("g"),
        func.nullif(c.root_cause, "").label("cause"),
        func.nullif(c.assigned_agent, "").label("agent"),
        c.opened_epoch.label("o"),
        c.first_resolved_epoch.label("r"),
        outcome.label("outcome"),
        rep.label("rep"),
    ).where(_cohort(periods, as_of))
    return query.select_from(_outcome_join()) if kept else query


def cohort_cells(
    conn: Connection,
    periods: list[Period],
    by: str | None,
    as_of: int,
    *,
    window: int,
    repeat: int,
    per_complaint: bool,
    kept: bool,
) -> Iterable[tuple[Any, ...]]:
    """The cohort by (key, group, root cause, agent, speed bucket, repurchase outcome, repeat
    outcome): (..., complaints, resolution seconds as a comma-separated text). With
    `per_complaint`: one row per complaint, streamed, (key, group, cause, agent, opened,
    first resolved, outcome, repeat), for a business-hours clock. With `kept` (the outcomes
    kept at write time are up to date) the outcomes are read from them (`kept_codes`)."""
    inner = _cohort_select(periods, by, as_of, window=window, repeat=repeat, kept=kept)
    if per_complaint:
        return streamed(conn, inner)
    sub = inner.subquery()
    seconds = sub.c.r - sub.c.o
    cells = select(
        sub.c.k,
        sub.c.g,
        sub.c.cause,
        sub.c.agent,
        speed_bucket(seconds).label("bucket"),
        sub.c.outcome,
        sub.c.rep,
        seconds.label("seconds"),
    ).subquery()
    s = cells.c
    keys = (s.k, s.g, s.cause, s.agent, s.bucket, s.outcome, s.rep)
    query = select(*keys, func.count(), joined(conn, s.seconds)).group_by(*keys)
    return list(conn.execute(query).fetchall())


def cause_weeks(
    conn: Connection, weeks: list[Period], by: str | None, as_of: int
) -> list[tuple[int, Any, str]]:
    """(week index, group, root cause) present among the complaints first resolved in each of
    `weeks` (for "recurring")."""
    c = table("complaint").c
    inner = select(
        period_index(c.first_resolved_epoch, weeks).label("k"),
        group_column(by).label("g"),
        func.nullif(c.root_cause, "").label("cause"),
    ).where(_cohort(weeks, as_of))
    sub = inner.subquery()
    query = select(sub.c.k, sub.c.g, sub.c.cause).where(sub.c.cause.is_not(None)).distinct()
    return [(int(k), g, cause) for k, g, cause in conn.execute(query).fetchall() if k is not None]


def change_texts(
    conn: Connection, periods: list[Period], by: str | None, as_of: int
) -> list[tuple[int, Any, str, str, int]]:
    """(key, group, root cause, "what will change" text, explain records) of the cohort: the
    text of each Explain recorded by as-of (current value after corrections), under the
    complaint's current root cause. Reports show them for their period only: pass that one
    (each Explain is a stage record read from the table)."""
    c, s = table("complaint"), table("stage_record")
    text = func.trim(s.c.what_will_change)
    inner = (
        select(
            period_index(c.c.first_resolved_epoch, periods).label("k"),
            group_column(by).label("g"),
            func.nullif(c.c.root_cause, "").label("cause"),
            text.label("t"),
        )
        .select_from(s.join(c, s.c.complaint_id == c.c.id))
        .where(
            _cohort(periods, as_of),
            s.c.stage == Stage.EXPLAIN.value,
            s.c.completed_at <= _as_of_datetime(as_of),
            s.c.what_will_change.is_not(None),
        )
    )
    sub = inner.subquery()
    query = (
        select(sub.c.k, sub.c.g, sub.c.cause, sub.c.t, func.count())
        .where(sub.c.cause.is_not(None), sub.c.t != "")
        .group_by(sub.c.k, sub.c.g, sub.c.cause, sub.c.t)
    )
    return [
        (int(k), g, cause, t, int(n))
        for k, g, cause, t, n in conn.execute(query).fetchall()
        if k is not None
    ]


def remedy_cells(
    conn: Connection, periods: list[Period], by: str | None, as_of: int, *, per_complaint: bool
) -> Iterable[tuple[Any, ...]]:
    """The amounts recorded at Take action (by as-of; current values) of the cohort: (key,
    group, speed bucket, action kind, complaints, cents). With `per_complaint`: one row per
    record, streamed, (key, group, opened, first resolved, action kind, complaint id,
    cents)."""
    c, s = table("complaint"), table("stage_record")
    inner = (
        select(
            period_index(c.c.first_resolved_epoch, periods).label("k"),
            group_column(by).label("g"),
            c.c.opened_epoch.label("o"),
            c.c.first_resolved_epoch.label("r"),
            func.coalesce(func.nullif(s.c.action_kind, ""), "(none)").label("kind"),
            c.c.id.label("cid"),
            s.c.amount_cents.label("cents"),
        )
        .select_from(s.join(c, s.c.complaint_id == c.c.id))
        .where(
            _cohort(periods, as_of),
            s.c.stage == Stage.TAKE_ACTION.value,
            s.c.completed_at <= _as_of_datetime(as_of),
        )
    )
    if per_complaint:
        return streamed(conn, inner)
    sub = inner.subquery()
    cells = select(
        sub.c.k,
        sub.c.g,
        speed_bucket(sub.c.r - sub.c.o).label("bucket"),
        sub.c.kind,
        sub.c.cid,
        sub.c.cents,
    ).subquery()
    x = cells.c
    keys = (x.k, x.g, x.bucket, x.kind)
    query = select(*keys, func.count(func.distinct(x.cid)), func.sum(x.cents)).group_by(*keys)
    return list(conn.execute(query).fetchall())


def kept_purchases(
    conn: Connection, periods: list[Period], by: str | None, as_of: int, *, window: int, kept: bool
) -> Iterator[list[Any]]:
    """Purchases known by as-of in (resolved, resolved + W] of a cohort complaint of the same
    customer: (first resolution, resolution seconds on the calendar clock, purchase id, cents,
    and with `by` the group), one row per complaint and purchase, in chunks of rows. The
    caller finds the period and the speed bucket and counts each purchase once per figure
    (`fixes._kept`): sorting the pairs here (DISTINCT) cost more than the whole of that.

    With `kept` (the outcomes kept at write time are up to date) the cohort is read from
    `report_outcome`, which then holds exactly the first-resolved complaints with a customer
    that are not merged duplicates, with their first resolution and resolution time
    (`latte_cli.cohort`, checked by `latte db check`): only those whose first purchase after
    the resolution falls in the window are read, from the range of `ix_report_outcome_bought`
    (the others have no purchase there), and the complaint only for the group of `--by`."""
    c, p = table("complaint"), table("purchase")
    if kept:
        o = _kept()
        resolved, seconds, customer = o.c.resolved_epoch, o.c.resolution_seconds, o.c.customer_id
        source: Any = o if by is None else o.join(c, c.c.id == o.c.complaint_id)
        cohort = and_(
            resolved >= min(q.start for q in periods),
            resolved < max(q.end for q in periods),
            resolved <= as_of,
            o.c.purchased_epoch <= resolved + window,
            o.c.purchased_epoch <= as_of,
        )
    else:
        resolved, customer = c.c.first_resolved_epoch, c.c.customer_id
        seconds = resolved - c.c.opened_epoch
        source = c
        cohort = and_(_cohort(periods, as_of), customer.is_not(None))
    bought = and_(in_window(p.c, customer, resolved, window), p.c.purchased_epoch <= as_of)
    columns = [resolved, seconds, p.c.id, read_cents(p.c.amount_cents, conn.dialect.name)]
    if by is not None:
        columns.append(group_column(by))
    query = select(*columns).select_from(source.join(p, bought)).where(cohort)
    # In chunks: a full history has about a million pairs, never all in memory as rows.
    for chunk in conn.execute(query.execution_options(yield_per=CHUNK)).partitions():
        yield list(chunk)


def group_values(conn: Connection, by: str) -> list[str]:
    """The values of a dimension the report summary holds (each counted complaint's current
    value, kept at write time): a few dozen day-row keys, not a pass over the complaints."""
    c = table("report_day").c
    query = select(c.value).where(c.dimension == by, c.value != NONE).distinct()
    return sorted(str(v) for v in conn.execute(query).scalars())


def window_over_after(as_of: int, window: int) -> int:
    """The first resolution time whose window is not over by as-of: the sums kept at write
    time (`cohort.bought_and_kept`) answer for resolutions before it, the pairs
    (`kept_pair_texts`) from it on. One edge for both, so that no complaint is counted twice
    or left out."""
    return as_of - window + 1


def kept_pairs(
    conn: Connection,
    periods: list[Period],
    by: str | None,
    as_of: int,
    *,
    window: int,
    values: list[str],
) -> Iterator[str]:
    """What `kept_purchases` returns when the outcomes kept at write time are up to date,
    as texts of comma-separated integers, five per (complaint, purchase) pair: first
    resolution, resolution seconds, purchase id, cents, and the group's index in `values`
    (NO_GROUP without a value or without `by`; UNLISTED for a value not in `values`). One
    text per KEPT_DAYS days of first resolutions, built by the database: a row per pair
    cost more to cross into Python than the join cost to run (docs/architecture.md,
    "Reports over long periods"). A calendar-clock report reads the pairs with the cohort
    summary's days instead (`kept_pair_texts`); this serves the business-hours clock."""
    o = _kept().c
    source, group = _kept_source(by, values)
    lo = min(q.start for q in periods)
    hi = min(max(q.end for q in periods), as_of + 1)
    columns = (o.resolved_epoch, o.resolution_seconds, *_purchase(conn), group)
    for start in range(lo, hi, KEPT_DAYS * DAY):
        query = _pairs(conn, columns, source, start, min(start + KEPT_DAYS * DAY, hi), as_of,
                       window=window)  # fmt: skip
        text = conn.execute(query).scalar()
        if text:
            yield str(text)


def _purchase(conn: Connection) -> tuple[Any, Any]:
    """A pair's purchase: its id and cents (a wrong amount: `amounts.WRONG_CENTS`)."""
    p = table("purchase").c
    return p.id, read_cents(p.amount_cents, conn.dialect.name)


def _pairs(
    conn: Connection,
    columns: Sequence[Any],
    source: Any,
    start: int | BindParameter[int],
    stop: int | BindParameter[int],
    as_of: int,
    *,
    window: int,
) -> Select[Any]:
    """SQL: one text of `columns` per (complaint, purchase) pair, comma-separated, of the
    outcome rows first resolved in [start, stop) and their customer's purchases known by
    as-of in (resolved, resolved + window]: only those whose first purchase after the
    resolution falls there are joined to the purchases."""
    o, p = _kept().c, table("purchase").c
    resolved = o.resolved_epoch
    bought = and_(in_window(p, o.customer_id, resolved, window), p.purchased_epoch <= as_of)
    pair: Any = cast(columns[0], Text)
    for part in columns[1:]:
        pair = pair + "," + cast(part, Text)
    return (
        select(joined(conn, pair))
        .select_from(source.join(table("purchase"), bought))
        .where(
            resolved >= start,
            resolved < stop,
            o.purchased_epoch <= resolved + window,
            o.purchased_epoch <= as_of,
        )
    )


def kept_pair_texts(
    conn: Connection, lo: int, last: int, as_of: int, *, window: int, summed_before: int | None
) -> Iterator[tuple[str, str, str]]:
    """The (complaint, purchase id, cents) pairs of the outcome rows first resolved in [lo,
    last] (a chunk of `cohort_days.read`, whose records give each complaint its period, group
    and speed bucket: no join to the complaint), as three comma-separated texts in the same
    order: joining three integers per pair took about as long as the join itself. With
    `summed_before` (`window` is `cohort.KEPT_WINDOW`), before it only the complaints
    `cohort.bought_and_kept` does not sum (a purchase shared with another complaint), all
    from it on (docs/architecture.md, "Reports over long periods"). Before it, every window
    is over by as-of: the pairs are those kept at write time (`report_kept_pair`, revision
    0020), one range of its index; from it on, as-of cuts the windows and they are joined.
    Either way the outcome rows are up to date: the caller reads the summaries only when
    nothing is pending (`summarised.available`)."""
    stop = last + 1
    cut = lo if summed_before is None else min(max(summed_before, lo), stop)
    for start, end, shared_only in ((lo, cut, True), (cut, stop, False)):
        if start >= end:
            continue
        if shared_only:
            statement = _kept_pair_statement(conn)
        else:
            statement = _pair_statement(conn, as_of, window)
        texts = conn.execute(statement, {"start": start, "stop": end}).one()
        if texts[0]:
            yield str(texts[0]), str(texts[1]), str(texts[2])


# `_kept_pair_statement`'s statement per dialect.
_KEPT_PAIR_STATEMENTS: dict[str, Any] = {}


def _kept_pair_statement(conn: Connection) -> Any:
    """The kept pairs first resolved in [`start`, `stop`) as three texts (complaint ids,
    purchase ids, cents), in one order: a range of `ix_report_kept_pair_resolved`."""
    found = _KEPT_PAIR_STATEMENTS.get(conn.dialect.name)
    if found is None:
        k = table("report_kept_pair").c
        start, stop = bindparam("start", type_=Integer()), bindparam("stop", type_=Integer())
        texts = (joined(conn, column) for column in (k.complaint_id, k.purchase_id, k.cents))
        found = select(*texts).where(k.resolved_epoch >= start, k.resolved_epoch < stop)
        _KEPT_PAIR_STATEMENTS[conn.dialect.name] = found
    return found


# `_pair_statement`'s statement per (dialect, as-of, window): a report asks one or two.
_PAIR_STATEMENTS: dict[tuple[str, int, int], Any] = {}


def _pair_statement(conn: Connection, as_of: int, window: int) -> Any:
    """`_pairs`' join with one text per column (complaint ids, purchase ids, cents) of the
    outcome rows, the first resolution's range bound at execution (`start`, `stop`): built
    once per report, not per chunk of days (building it cost a millisecond a chunk, a tenth
    of its execution)."""
    key = (conn.dialect.name, as_of, window)
    found = _PAIR_STATEMENTS.get(key)
    if found is None:
        if len(_PAIR_STATEMENTS) >= 8:
            _PAIR_STATEMENTS.clear()
        o = _kept().c
        start, stop = bindparam("start", type_=Integer()), bindparam("stop", type_=Integer())
        pair = _pairs(conn, (o.complaint_id,), _kept(), start, stop, as_of, window=window)
        query = pair.with_only_columns(
            *(joined(conn, column) for column in (o.complaint_id, *_purchase(conn)))
        )
        found = _PAIR_STATEMENTS[key] = query
    return found


def _kept_source(by: str | None, values: list[str]) -> tuple[Any, Any]:
    """(`report_outcome`, joined to the complaint with `by`; the SQL group index in
    `values`, NO_GROUP without a value or without `by`, UNLISTED for a value not listed)."""
    o, c = _kept(), table("complaint")
    if by is None:
        return o, literal(NO_GROUP)
    column = c.c[DIMENSIONS[by]]
    group = _group_index(column, values, none=NO_GROUP, unlisted=UNLISTED)
    return o.join(c, c.c.id == o.c.complaint_id), group


def active_customers(conn: Connection, period: Period, as_of: int) -> int:
    """Distinct customers with a purchase in the 365 days before the period's end, known by
    as-of (docs/metrics.md, "Complaints per 1,000 active customers").

    Read from the active-customers summary (revision 0019, `latte_cli.active`) unless as-of
    falls before the period's end or the end is off a quarter hour: then counted from the
    purchases."""
    from latte_cli import active

    kept = active.at(conn, period.end) if as_of + 1 >= period.end else None
    if kept is not None:
        return kept
    p = table("purchase").c
    end = min(period.end, as_of + 1)
    query = select(func.count(func.distinct(p.customer_id))).where(
        p.purchased_epoch >= period.end - active.YEAR, p.purchased_epoch < end
    )
    return int(conn.execute(query).scalar() or 0)
