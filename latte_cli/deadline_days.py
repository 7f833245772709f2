"""Deadlines kept per day: what a report's deadline figures need, per (dimension, value, UTC
day of the due time, kind), kept at write time (revision 0018; docs/architecture.md, "Reports
over long periods", and docs/metrics.md, "Deadlines in reports").

`report_deadline_day` holds, for each dimension a report can group by (agent, channel,
category, location), each of its values, each UTC day and each kind (first response, final
response), over the counted complaints (not merged duplicates) whose due time of that kind
falls in that day:

- `due_n`: how many there are;
- `met_n`: how many were done at or before their due time (the first response is done at
  `coalesce(acknowledged, first resolved)`, the final response at the first resolution);
- `late_n`: how many were opened after the day ended (an import can store a due time before
  the opening).

For a day that ends at or before a report's as-of time every complaint due that day is met
or breached, none pending, and one opened by the day's end was opened by as-of: its figures
are `met_n` and `due_n - met_n`, whatever the as-of time. A day with `late_n` is left to the
complaint rows (whether those complaints were opened by as-of depends on it). Totals are the
sum of the agent dimension's values.

It rides on the report summary's queue: the `report_change` triggers also carry the
acknowledgement and the two due times (and fire when they change), and `summary.fold` hands
every folded change here, so the same hook (before latte commits, and per import batch)
keeps both. Counts are added and taken away; on PostgreSQL an emptied row stays, as in
`summary._apply`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select
from sqlmodel import SQLModel

from latte_cli import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from latte_cli.report_keys import CHANGE_COLUMNS as VALUE_COLUMNS
from latte_cli.report_keys import DAY, DIMENSIONS, EPOCH_ORDINAL, NONE

KINDS = ("first", "final")
# The report_change columns this summary adds to the report summary's (revision 0018).
CHANGE_COLUMNS = ("acknowledged_epoch", "first_response_due_epoch", "final_response_due_epoch")
# The dimension whose values sum to a period's totals.
TOTAL_DIMENSION = "agent"
KEYS_PER_STATEMENT = 300

Key = tuple[str, str, int, str]  # (dimension, value, day, kind)
Counts = tuple[int, int, int]  # (due, met, late)


def table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def queued_columns() -> list[Any]:
    """The report_change columns a fold takes out of the queue: the report summary's (sign,
    opened, first resolved, agent, channel, category, location) and this summary's."""
    c = table("report_change").c
    names = ("sign", "opened_epoch", "first_resolved_epoch", *VALUE_COLUMNS, *CHANGE_COLUMNS)
    return [c[name] for name in names]


def queued_rows(conn: Connection) -> Sequence[Any]:
    """The change rows waiting in the queue (another program's), in queue order."""
    query = select(*queued_columns()).order_by(table("report_change").c.id)
    return conn.execute(query).all()


def _contributions(
    opened: int,
    first_resolved: int | None,
    acknowledged: int | None,
    first_due: int | None,
    final_due: int | None,
) -> Iterator[tuple[int, str, int, int]]:
    """(day, kind, met, late) of one complaint, per kind it has a due time for."""
    first_done = acknowledged if acknowledged is not None else first_resolved
    for kind, due, done in (("first", first_due, first_done), ("final", final_due, first_resolved)):
        if due is None:
            continue
        day = due // DAY
        met = int(done is not None and done <= due)
        yield day, kind, met, int(opened >= (day + 1) * DAY)


def deltas_of(rows: Iterable[Sequence[Any]]) -> dict[Key, list[int]]:
    """What change rows (sign, opened, first resolved, agent, channel, category, location,
    acknowledged, first due, final due) add to each key; keys whose changes cancel out are
    left out."""
    found: defaultdict[Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    for sign, opened, first, *rest in rows:
        values, (acknowledged, first_due, final_due) = rest[:4], rest[4:7]
        for day, kind, met, late in _contributions(
            opened, first, acknowledged, first_due, final_due
        ):
            for value, dimension in zip(values, DIMENSIONS, strict=True):
                counts = found[(dimension, NONE if value is None else value, day, kind)]
                counts[0] += sign
                counts[1] += sign * met
                counts[2] += sign * late
    return {key: counts for key, counts in found.items() if any(counts)}


def fold(conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Add the folded change rows' counts (`summary.fold` calls it with the rows it took out
    of the queue), in the caller's transaction. Keys are written in sorted order, so that
    concurrent folds on PostgreSQL take their row locks in one order."""
    deltas = deltas_of(rows)
    keys = sorted(deltas)
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        _add(conn, {key: deltas[key] for key in keys[start : start + KEYS_PER_STATEMENT]})


def _add(conn: Connection, deltas: dict[Key, list[int]]) -> None:
    days = table("report_deadline_day")
    rows = [
        {"dimension": d, "value": v, "day": day, "kind": k, "due_n": n, "met_n": m, "late_n": x}
        for (d, v, day, k), (n, m, x) in deltas.items()
    ]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = insert(days)
    added = {n: days.c[n] + statement.excluded[n] for n in ("due_n", "met_n", "late_n")}
    conn.execute(
        statement.on_conflict_do_update(index_elements=list(days.primary_key.columns), set_=added),
        rows,
    )
    if conn.dialect.name == "sqlite":
        # SQLite runs one writer at a time: an emptied row can go (see `summary._apply`).
        c = days.c
        conn.execute(
            delete(days).where(
                c.dimension.in_({d for d, *_ in deltas}),
                c.day.in_({day for _, _, day, _ in deltas}),
                c.due_n == 0,
                c.met_n == 0,
                c.late_n == 0,
            )
        )


def expected(conn: Connection) -> dict[Key, Counts]:
    """The summary computed afresh from the complaint rows."""
    c = table("complaint").c
    query = select(
        c.opened_epoch,
        c.first_resolved_epoch,
        *(c[column] for column in DIMENSIONS.values()),
        c.acknowledged_epoch,
        c.first_response_due_epoch,
        c.final_response_due_epoch,
    ).where(
        # A merged duplicate is in no figure (docs/metrics.md, "Merged duplicates").
        c.merged_into.is_(None),
        (c.first_response_due_epoch.is_not(None)) | (c.final_response_due_epoch.is_not(None)),
    )
    rows = ((1, *row) for row in conn.execute(query))
    return {key: (n, m, x) for key, (n, m, x) in deltas_of(rows).items()}


def stored(conn: Connection) -> dict[Key, Counts]:
    """The summary as stored, with the changes still queued applied."""
    c = table("report_deadline_day").c
    found: dict[Key, list[int]] = {
        (d, v, int(day), k): [int(n), int(m), int(x)]
        for d, v, day, k, n, m, x in conn.execute(
            select(c.dimension, c.value, c.day, c.kind, c.due_n, c.met_n, c.late_n)
        )
    }
    for key, delta in deltas_of(queued_rows(conn)).items():
        counts = found.setdefault(key, [0, 0, 0])
        for i, n in enumerate(delta):
            counts[i] += n
    return {key: (n, m, x) for key, (n, m, x) in found.items() if n or m or x}


def differences(conn: Connection, limit: int = 5) -> tuple[int, list[str]]:
    """(how many (dimension, value, day, kind) rows differ from the complaints, a few)."""
    have, want = stored(conn), expected(conn)
    wrong = sorted(key for key in have.keys() | want.keys() if have.get(key) != want.get(key))
    return len(wrong), [_where(key) for key in wrong[:limit]]


def _where(key: Key) -> str:
    dimension, value, day, kind = key
    when = date.fromordinal(EPOCH_ORDINAL + day)
    return f"{kind} response due {when} (UTC), {dimension} {value or '(none)'}"


def rebuild(conn: Connection) -> int:
    """Recompute the whole summary from the complaint rows; returns the rows written. The
    queue is the report summary's: `summary.rebuild`, run with this, empties it."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE report_deadline_day IN EXCLUSIVE MODE")
    days = table("report_deadline_day")
    conn.execute(delete(days))
    rows = [
        {"dimension": d, "value": v, "day": day, "kind": k, "due_n": n, "met_n": m, "late_n": x}
        for (d, v, day, k), (n, m, x) in sorted(expected(conn).items())
    ]
    for start in range(0, len(rows), 5_000):
        conn.execute(days.insert(), rows[start : start + 5_000])
    return len(rows)


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class DayCounts:
    """Per (group value, kind): (due, met) over whole days; the days with complaints opened
    after they ended, which the summary cannot answer."""

    counts: dict[tuple[str | None, str], tuple[int, int]]
    late_days: list[int]


def day_counts(conn: Connection, by: str | None, first_day: int, end_day: int) -> DayCounts:
    """The counts of days first_day..end_day - 1 (each must end by the report's as-of), per
    value of `by` (None: the totals), leaving out the days with complaints opened after
    they ended."""
    c = table("report_deadline_day").c
    dimension = TOTAL_DIMENSION if by is None else by
    where = (c.dimension == dimension, c.day >= first_day, c.day < end_day)
    late = sorted(
        int(day)
        for day in conn.execute(select(c.day).where(*where, c.late_n != 0).distinct()).scalars()
    )
    group = [c.value] if by is not None else []
    query = select(*group, c.kind, func.sum(c.due_n), func.sum(c.met_n)).where(*where)
    if late:
        query = query.where(c.day.not_in(late))
    counts: dict[tuple[str | None, str], tuple[int, int]] = {}
    for *value, kind, due, met in conn.execute(query.group_by(*group, c.kind)):
        name = value[0] if value else None
        key = (None if name == NONE else name, str(kind))
        before = counts.get(key, (0, 0))
        counts[key] = (before[0] + int(due or 0), before[1] + int(met or 0))
    return DayCounts(counts, late)
