"""The report's SQL: portable SQLAlchemy Core over the integer `*_epoch` columns.

Each query groups by a period key (see `Buckets`) and a dimension, and returns either small
aggregates or per-group integers (durations) for percentiles; never ORM objects. Computed
grouping keys are selected in a subquery and grouped on outside, so that PostgreSQL sees one
expression (bound parameters in a repeated CASE would not match).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    and_,
    case,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlmodel import SQLModel

from latte_cli import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from latte_cli.cohort import joined
from latte_cli.events import EventKind
from latte_cli.reports.periods import (
    MONDAY,
    WEEK,
    Period,
    local_epoch,
    period_index,
    week_of,
    week_period,
)
from latte_cli.summary import DIMENSIONS

SPEED_BUCKETS = ("< 4 h", "4-24 h", "1-3 d", "> 3 d")
SPEED_LIMITS = (4 * 3600, 24 * 3600, 72 * 3600)
REPURCHASED, LOST, PENDING = "repurchased", "lost", "pending"
OUTCOMES = (REPURCHASED, LOST, PENDING)
# The label of the complaints with no value of a group (docs/metrics.md, "Comparisons, groups
# and trends").
NO_VALUE = "(none)"


def label(value: Any) -> str:
    """How a group (or an agent, or an action kind) is shown and keyed in a report: no value is
    `NO_VALUE`; a stored text that reads as it — `(none)`, or `(none)` inside single quotes —
    gets one more pair of single quotes, so no two values share a label (docs/metrics.md,
    "Comparisons, groups and trends")."""
    if value is None:
        return NO_VALUE
    text = str(value)
    return f"'{text}'" if _reserved(text) else text


def labelled(text: str) -> str | None:
    """The stored value whose `label` is `text` (None for no value); `label(labelled(t)) == t`
    only when `t` is some value's label."""
    if text == NO_VALUE:
        return None
    if _reserved(text) and text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    return text


def _reserved(text: str) -> bool:
    return text.strip("'") == NO_VALUE


def table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


@dataclass(frozen=True)
class Buckets:
    """How epochs map to report periods: explicit periods (key = index) or ISO weeks
    (key = week number, see periods.MONDAY) in a zone."""

    periods: dict[int, Period]
    zone: ZoneInfo
    weekly: bool
    # For a span covering most of the history a table scan beats an index range plus a
    # lookup per row; `column + 0` keeps the planner off the index (portable).
    full_scan: bool = False

    @property
    def lo(self) -> int:
        return min(p.start for p in self.periods.values())

    @property
    def hi(self) -> int:
        return max(p.end for p in self.periods.values())

    def key(self, column: Any) -> ColumnElement[int]:
        if self.weekly:
            shifted = local_epoch(column, self.zone, self.lo, self.hi)
            return (shifted - MONDAY) // WEEK
        return period_index(column, list(self.periods.values()))

    def within(self, column: Any, as_of: int) -> ColumnElement[bool]:
        value = column + 0 if self.full_scan else column
        return and_(value >= self.lo, value < self.hi, value <= as_of)


def _exists(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    """SQL: EXISTS (SELECT 1 ... WHERE conditions). Selecting a constant rather than * lets
    SQLite answer from a covering index without reading the table row (revision 0005)."""
    return select(literal(1)).where(*conditions).exists()


def counted() -> ColumnElement[bool]:
    """A merged duplicate counts in no figure (docs/metrics.md, "Merged duplicates")."""
    return table("complaint").c.merged_into.is_(None)


def group_column(by: str | None) -> ColumnElement[Any]:
    """The value a complaint is grouped by; an empty one (another program may write '') is no
    value, as in the report summary."""
    if by is None:
        return null()
    return func.nullif(table("complaint").c[DIMENSIONS[by]], "")


def opened_counts(
    conn: Connection, b: Buckets, by: str | None, as_of: int
) -> Iterator[tuple[int, Any, int]]:
    """(key, group, complaints opened)."""
    c = table("complaint")
    inner = select(b.key(c.c.opened_epoch).label("k"), group_column(by).label("g")).where(
        b.within(c.c.opened_epoch, as_of), counted()
    )
    sub = inner.subquery()
    query = select(sub.c.k, sub.c.g, func.count()).group_by(sub.c.k, sub.c.g)
    for k, g, n in conn.execute(query).fetchall():
        yield int(k), g, int(n)


# Rows held at once by the queries that return a row per complaint (a business-hours clock).
ROWS_AT_ONCE = 20_000


def streamed(conn: Connection, query: Any) -> Iterator[Any]:
    """The rows of `query`, ROWS_AT_ONCE at a time (a server-side cursor on PostgreSQL): a
    business-hours year and the year before are about 700,000 rows, which as row objects all
    at once took hundreds of MB (docs/architecture.md, "Reports over long periods")."""
    result = conn.execute(query.execution_options(yield_per=ROWS_AT_ONCE))
    for part in result.partitions():
        yield from part


def resolved_rows(conn: Connection, b: Buckets, by: str | None, as_of: int) -> Iterator[Any]:
    """Complaints first resolved in the buckets by as-of, one row each: (key, group, opened,
    acknowledged, first resolved) epochs, for a business-hours clock, streamed."""
    c = table("complaint").c
    first = c.first_resolved_epoch
    inner = select(
        b.key(first).label("k"),
        group_column(by).label("g"),
        c.opened_epoch,
        c.acknowledged_epoch,
        first,
    ).where(b.within(first, as_of), counted())
    if not b.full_scan:
        inner = inner.order_by(first)
    return streamed(conn, inner)


def resolved_durations(conn: Connection, b: Buckets, by: str | None, as_of: int) -> Sequence[Any]:
    """Complaints first resolved in the buckets by as-of, on the calendar clock: (key, group,
    resolution seconds, acknowledge seconds), each a comma-separated text of integers, or None
    when the group has no such value."""
    c = table("complaint").c
    first = c.first_resolved_epoch
    inner = select(
        b.key(first).label("k"),
        group_column(by).label("g"),
        (first - c.opened_epoch).label("r"),
        (c.acknowledged_epoch - c.opened_epoch).label("a"),
    ).where(b.within(first, as_of), counted())
    sub = inner.subquery()
    query = select(sub.c.k, sub.c.g, joined(conn, sub.c.r), joined(conn, sub.c.a)).group_by(
        sub.c.k, sub.c.g
    )
    return conn.execute(query).fetchall()


def open_at(conn: Connection, moment: int, by: str | None) -> list[tuple[Any, int]]:
    """(group, opened epoch) of complaints open at `moment` (opened, not first-resolved yet).

    Two selects on the first-resolution index (still open; resolved later), because a range on
    `opened_epoch` would cover nearly the whole table; `+ 0` keeps planners off that index.
    """
    c = table("complaint").c
    opened = (c.opened_epoch + 0) <= moment
    query = union_all(
        select(group_column(by), c.opened_epoch).where(
            c.first_resolved_epoch.is_(None), opened, counted()
        ),
        select(group_column(by), c.opened_epoch).where(
            c.first_resolved_epoch > moment, opened, counted()
        ),
    )
    return [(g, int(e)) for g, e in conn.execute(query).fetchall()]


def _as_of_datetime(as_of: int) -> datetime:
    return datetime.fromtimestamp(as_of, UTC)


def cohort_counts(
    conn: Connection, b: Buckets, by: str | None, as_of: int
) -> Iterator[tuple[int, Any, int, int]]:
    """(key, group, reopened by as-of, with a follow-up recorded by as-of) for the resolved."""
    c = table("complaint")
    event, followup = table("event"), table("followup")
    reopened = and_(
        c.c.reopen_count > 0,
        _exists(
            event.c.complaint_id == c.c.id,
            event.c.kind == EventKind.REOPEN.value,
            event.c.at <= _as_of_datetime(as_of),
        ),
    )
    followed = _exists(followup.c.complaint_id == c.c.id, followup.c.recorded_epoch <= as_of)
    inner = select(
        b.key(c.c.first_resolved_epoch).label("k"),
        group_column(by).label("g"),
        case((reopened, 1), else_=0).label("reopened"),
        case((followed, 1), else_=0).label("followed"),
    ).where(b.within(c.c.first_resolved_epoch, as_of), counted())
    sub = inner.subquery()
    query = select(sub.c.k, sub.c.g, func.sum(sub.c.reopened), func.sum(sub.c.followed)).group_by(
        sub.c.k, sub.c.g
    )
    for k, g, r, f in conn.execute(query).fetchall():
        yield int(k), g, int(r or 0), int(f or 0)


def nps_counts(
    conn: Connection, b: Buckets, by: str | None, as_of: int
) -> Iterator[tuple[int, Any, int, int, int]]:
    """(key, group, promoters, passives, detractors) among follow-up scores recorded by as-of
    for complaints resolved in the buckets: each complaint's latest score recorded by as-of,
    once (docs/metrics.md, "One follow-up per resolution")."""
    c, f = table("complaint"), table("followup")
    later = f.alias("later")
    superseded = _exists(
        later.c.complaint_id == f.c.complaint_id,
        later.c.nps.is_not(None),
        later.c.recorded_epoch <= as_of,
        or_(
            later.c.recorded_epoch > f.c.recorded_epoch,
            # Of scores in the same second, the highest (as the cohort summary).
            and_(later.c.recorded_epoch == f.c.recorded_epoch, later.c.nps > f.c.nps),
            and_(
                later.c.recorded_epoch == f.c.recorded_epoch,
                later.c.nps == f.c.nps,
                later.c.id > f.c.id,
            ),
        ),
    )
    inner = (
        select(
            b.key(c.c.first_resolved_epoch).label("k"),
            group_column(by).label("g"),
            case((f.c.nps >= 9, 1), else_=0).label("p"),
            case((f.c.nps <= 6, 1), else_=0).label("d"),
        )
        .select_from(f.join(c, f.c.complaint_id == c.c.id))
        .where(
            b.within(c.c.first_resolved_epoch, as_of),
            f.c.recorded_epoch <= as_of,
            f.c.nps.is_not(None),
            ~superseded,
            counted(),
        )
    )
    sub = inner.subquery()
    query = select(sub.c.k, sub.c.g, func.sum(sub.c.p), func.sum(sub.c.d), func.count()).group_by(
        sub.c.k, sub.c.g
    )
    for k, g, p, d, n in conn.execute(query).fetchall():
        yield int(k), g, int(p), int(n) - int(p) - int(d), int(d)


def stage_durations(
    conn: Connection, b: Buckets, by: str | None, as_of: int
) -> list[tuple[int, Any, str, str]]:
    """(key, group, stage, seconds as a comma-separated text) of the first cycle's stages of
    complaints resolved in the buckets."""
    c, s = table("complaint"), table("stage_record")
    inner = (
        select(
            b.key(c.c.first_resolved_epoch).label("k"),
            group_column(by).label("g"),
            s.c.stage.label("s"),
            s.c.duration_seconds.label("d"),
        )
        .select_from(s.join(c, s.c.complaint_id == c.c.id))
        .where(b.within(c.c.first_resolved_epoch, as_of), s.c.cycle == 0, counted())
    )
    sub = inner.subquery()
    query = select(sub.c.k, sub.c.g, sub.c.s, joined(conn, sub.c.d)).group_by(
        sub.c.k, sub.c.g, sub.c.s
    )
    return [(int(k), g, st, d) for k, g, st, d in conn.execute(query).fetchall()]


def speed_bucket(seconds: ColumnElement[Any]) -> ColumnElement[int]:
    return case(
        *[(seconds < limit, literal(i)) for i, limit in enumerate(SPEED_LIMITS)],
        else_=literal(len(SPEED_LIMITS)),
    )


def repurchase_rows(
    conn: Connection,
    b: Buckets,
    by: str | None,
    as_of: int,
    *,
    window: int,
    target: float | None,
) -> Iterable[tuple[Any, ...]]:
    """Repurchase outcomes of complaints with a customer, resolved in the buckets.

    With `target` (calendar clock): grouped rows (key, group, speed bucket, fast, action kind,
    satisfied, outcome, count). Without: one row per complaint (key, group, opened, first
    resolved, action kind, satisfied, outcome), streamed, for the caller to bucket in
    business hours.
    """
    inner = _outcome_rows(b, by, as_of, window=window)
    if target is None:
        return (
            (k, g, o, r, a, code % 2, OUTCOMES[code // 2])
            for k, g, o, r, a, code in streamed(conn, inner)
        )
    sub = inner.subquery()
    seconds = sub.c.r - sub.c.o
    grouped = select(
        sub.c.k,
        sub.c.g,
        speed_bucket(seconds).label("bucket"),
        case((seconds <= target, 1), else_=0).label("fast"),
        sub.c.a,
        sub.c.code,
    ).subquery()
    c = grouped.c
    query = select(c.k, c.g, c.bucket, c.fast, c.a, joined(conn, c.code)).group_by(
        c.k, c.g, c.bucket, c.fast, c.a
    )
    return [
        (k, g, bucket, fast, a, code % 2, OUTCOMES[code // 2], n)
        for k, g, bucket, fast, a, codes in conn.execute(query).fetchall()
        for code, n in _codes(codes).items()
    ]


def outcome_counts(
    conn: Connection, b: Buckets, by: str | None, as_of: int, *, window: int
) -> list[tuple[int, Any, str, int]]:
    """(key, group, outcome, complaints) of the repurchase outcomes in the buckets."""
    sub = _outcome_rows(b, by, as_of, window=window).subquery()
    query = select(sub.c.k, sub.c.g, joined(conn, sub.c.code)).group_by(sub.c.k, sub.c.g)
    found: Counter[tuple[int, Any, str]] = Counter()
    for k, g, codes in conn.execute(query).fetchall():
        for code, n in _codes(codes).items():
            found[(int(k), g, OUTCOMES[code // 2])] += n
    return [(k, g, outcome, n) for (k, g, outcome), n in found.items()]


def _codes(text: str | None) -> Counter[int]:
    """How many complaints have each outcome code (see `_outcome_rows`)."""
    return Counter(int(code) for code in text.split(",")) if text else Counter()


def repurchase_evidence(as_of: int, window: int) -> Any:
    """SQL, for a complaint row: the customer bought again (docs/metrics.md, Outcomes) — a
    purchase in (first resolution, first resolution + W] known by as-of, or a follow-up known
    by as-of saying so."""
    c, p, f = table("complaint"), table("purchase"), table("followup")
    resolved = c.c.first_resolved_epoch
    bought = _exists(
        p.c.customer_id == c.c.customer_id,
        p.c.purchased_epoch > resolved,
        p.c.purchased_epoch <= resolved + window,
        p.c.purchased_epoch <= as_of,
    )
    said = _exists(
        f.c.complaint_id == c.c.id, f.c.repurchased.is_(True), f.c.recorded_epoch <= as_of
    )
    return or_(bought, said)


def _outcome_rows(b: Buckets, by: str | None, as_of: int, *, window: int) -> Select[Any]:
    """One row per complaint with a customer, resolved in the buckets: (k, g, o opened,
    r first resolved, a action kind, code = outcome index in OUTCOMES * 2 + satisfied); see
    docs/metrics.md, Outcomes."""
    c, f = table("complaint"), table("followup")
    resolved = c.c.first_resolved_epoch
    bought_again = repurchase_evidence(as_of, window)
    satisfied = _exists(
        f.c.complaint_id == c.c.id, f.c.satisfied.is_(True), f.c.recorded_epoch <= as_of
    )
    # One small integer per complaint, outcome * 2 + satisfied, computed once: grouping on the
    # outcome and satisfied expressions themselves made SQLite evaluate the subqueries twice.
    outcome = case((bought_again, 0), (resolved + window <= as_of, 1), else_=2)
    code = outcome * 2 + case((satisfied, 1), else_=0)
    return select(
        b.key(resolved).label("k"),
        group_column(by).label("g"),
        c.c.opened_epoch.label("o"),
        resolved.label("r"),
        c.c.action_kind.label("a"),
        code.label("code"),
    ).where(b.within(resolved, as_of), c.c.customer_id.is_not(None), counted())


def first_opened(conn: Connection) -> int | None:
    value = conn.execute(select(func.min(table("complaint").c.opened_epoch))).scalar()
    return int(value) if value is not None else None


def latest_week_with_complaints(conn: Connection, *, as_of: int, zone: ZoneInfo) -> Period | None:
    """The ISO week (in the report's zone) of the latest complaint opened by as-of, or None.

    One step down the `opened_epoch` index (`ORDER BY ... DESC LIMIT 1` is a single index probe
    on SQLite and PostgreSQL alike), so an empty report can say where the data is for nothing.
    """
    opened = table("complaint").c.opened_epoch
    query = select(opened).where(opened <= as_of).order_by(opened.desc()).limit(1)
    value = conn.execute(query).scalar()
    return None if value is None else week_period(week_of(int(value), zone), zone)
