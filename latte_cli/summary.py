"""The report summary: what a weekly trend needs, kept per (dimension, value, UTC day).

A trend over the whole history would otherwise group a million complaint rows per report. The
`report_day` table holds, for each dimension a report can group by (agent, channel, category,
location), each of its values and each UTC day:

- `opened`: the second of the day each complaint was opened at, sorted;
- `durations` / `resolved_at`: the resolution time of each complaint first resolved that day,
  sorted ascending, and the second of the day it was resolved at, in the same order.

Seconds within the day keep every figure exact for any time zone (a local week's edge can fall
inside a UTC day, and an as-of time inside any day); the durations are stored sorted, so a
week's values arrive as a few sorted runs.

It is kept at write time without any write path having to know: triggers on `complaint`
(revision 0003) append each change that matters as -old / +new rows to `report_change`, and
`fold` moves them into `report_day` before the writing transaction commits (a session hook in
`db`, and the importer per batch). Changes written by other programs stay in `report_change`
until latte's next write; readers add them in memory, so reports are exact either way.
Values are arrays of little-endian integers (int32 seconds of the day, int64 durations).
"""

from __future__ import annotations

import sys
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, bindparam, delete, func, select, tuple_
from sqlmodel import SQLModel

from latte_cli import models  # noqa: F401  (registers the tables on SQLModel.metadata)

# Kept here too for the modules that read them from the report summary.
from latte_cli.report_keys import CHANGE_COLUMNS as CHANGE_COLUMNS
from latte_cli.report_keys import DAY as DAY
from latte_cli.report_keys import DIMENSIONS as DIMENSIONS
from latte_cli.report_keys import EPOCH_ORDINAL as EPOCH_ORDINAL
from latte_cli.report_keys import NONE as NONE

KEYS_PER_STATEMENT = 300
_SWAP = sys.byteorder != "little"
assert array("i").itemsize == 4 and array("q").itemsize == 8


def pack(code: str, values: Iterable[int]) -> bytes:
    packed = array(code, values)
    if _SWAP:
        packed.byteswap()
    return packed.tobytes()


def unpack(code: str, blob: bytes | None, into: array[int] | None = None) -> array[int]:
    """The integers of a blob, appended to `into` when given."""
    values = array(code) if into is None else into
    if blob:
        if _SWAP:
            part = array(code)
            part.frombytes(blob)
            part.byteswap()
            values.extend(part)
        else:
            values.frombytes(blob)
    return values


def table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


@dataclass(frozen=True)
class Change:
    """One complaint's contribution, added (+1) or taken away (-1)."""

    sign: int
    opened: int
    first_resolved: int | None
    values: tuple[str | None, ...]  # in CHANGE_COLUMNS order


T = TypeVar("T")
Entries = tuple[list[int], list[tuple[int, int]]]  # opened seconds, (duration, second) pairs


@dataclass
class Delta:
    """What changes add to and take away from one (dimension, value, day)."""

    opened: list[int] = field(default_factory=list)
    resolved: list[tuple[int, int]] = field(default_factory=list)
    opened_gone: list[int] = field(default_factory=list)
    resolved_gone: list[tuple[int, int]] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        """Adds exactly what it takes away (a transfer seen from the channel's side)."""
        return Counter(self.opened) == Counter(self.opened_gone) and Counter(
            self.resolved
        ) == Counter(self.resolved_gone)

    def applied_to(self, opened: list[int], resolved: list[tuple[int, int]]) -> Entries:
        """The entries after this change, sorted. Taking away what is not there is ignored:
        only a summary that missed a change gets there (`latte db check` finds it)."""
        opened, resolved = opened + self.opened, resolved + self.resolved
        if self.opened_gone:
            opened = _without(opened, self.opened_gone)
        if self.resolved_gone:
            resolved = _without(resolved, self.resolved_gone)
        opened.sort()
        resolved.sort()
        return opened, resolved


def _without(values: list[T], gone: list[T]) -> list[T]:
    left = Counter(gone)
    kept = []
    for value in values:
        if left[value] > 0:
            left[value] -= 1
        else:
            kept.append(value)
    return kept


def row_values(opened: list[int], resolved: list[tuple[int, int]]) -> dict[str, Any]:
    """The report_day columns of sorted entries."""
    return {
        "opened_n": len(opened),
        "opened": pack("i", opened),
        "resolved_n": len(resolved),
        "durations": pack("q", [d for d, _ in resolved]),
        "resolved_at": pack("i", [at for _, at in resolved]),
    }


def entries_of(opened: bytes | None, durations: bytes | None, at: bytes | None) -> Entries:
    """The entries of a stored row."""
    pairs = zip(unpack("q", durations).tolist(), unpack("i", at).tolist(), strict=True)
    return unpack("i", opened).tolist(), list(pairs)


Key = tuple[str, str, int]  # (dimension, value, day)


def deltas_of(changes: Iterable[Sequence[Any]], only: str | None = None) -> dict[Key, Delta]:
    """What change rows (sign, opened, first resolved, agent, channel, category, location) add
    to or take from each (dimension, value, day); `only` one dimension."""
    found: dict[Key, Delta] = {}
    dimensions = [(i, d) for i, d in enumerate(DIMENSIONS) if only is None or d == only]
    for sign, opened, first, *values in changes:
        opened_day, opened_second = divmod(opened, DAY)
        if first is not None:
            resolved_day, resolved_second = divmod(first, DAY)
            entry = (first - opened, resolved_second)
        for i, dimension in dimensions:
            value = values[i]
            name = NONE if value is None else value
            key = (dimension, name, opened_day)
            delta = found.get(key)
            if delta is None:
                delta = found[key] = Delta()
            (delta.opened if sign > 0 else delta.opened_gone).append(opened_second)
            if first is not None:
                key = (dimension, name, resolved_day)
                delta = found.get(key)
                if delta is None:
                    delta = found[key] = Delta()
                (delta.resolved if sign > 0 else delta.resolved_gone).append(entry)
    return found


def _change_of(row: Sequence[Any]) -> Change:
    sign, opened, first, *values = row
    first_resolved = None if first is None else int(first)
    # An empty value (another program may write '') is no value, as stored in report_day.
    return Change(int(sign), int(opened), first_resolved, tuple(v or None for v in values))


def _change_columns() -> list[Any]:
    c = table("report_change").c
    return [c.sign, c.opened_epoch, c.first_resolved_epoch, *(c[n] for n in CHANGE_COLUMNS)]


def _pending_rows(conn: Connection) -> Sequence[Any]:
    query = select(*_change_columns()).order_by(table("report_change").c.id)
    return conn.execute(query).all()


def has_pending(conn: Connection) -> bool:
    """Whether changes written by another program wait to be folded."""
    return conn.execute(select(table("report_change").c.id).limit(1)).first() is not None


def pending(conn: Connection) -> list[Change]:
    """Changes not folded yet (written by another program since latte's last write)."""
    return [_change_of(row) for row in _pending_rows(conn)]


# The transaction-level advisory lock that lets one fold run at a time on PostgreSQL, held to
# the commit (docs/architecture.md, "Storage"). Folds claim queue rows (DELETE ... RETURNING),
# queue customers again and upsert summary rows; two at once could each wait for a row the
# other had claimed or inserted ("deadlock detected" under eight agents at once).
FOLD_LOCK = 7418238
# How long a fold waits for the lock before it folds without it, as folds did before: a
# fold is short (milliseconds for an agent, one batch for an import), and a transaction that
# holds the lock while waiting for this one (one program with two connections) is never
# waited for forever.
FOLD_WAIT = 2.0


def serialise_folds(conn: Connection) -> None:
    """On PostgreSQL, wait (at most FOLD_WAIT seconds) until no other transaction folds."""
    if conn.dialect.name != "postgresql":
        return
    give_up = time.monotonic() + FOLD_WAIT
    try_lock = f"SELECT pg_try_advisory_xact_lock({FOLD_LOCK})"
    while not conn.exec_driver_sql(try_lock).scalar() and time.monotonic() < give_up:
        time.sleep(0.002)


def fold(conn: Connection) -> int:
    """Move the pending changes into `report_day` and the deadlines kept per day
    (`deadline_days.fold`, revision 0018), and the cohort summary's into `report_cohort` and
    `report_outcome` (see `cohort.fold`), in the caller's transaction;
    returns how many there were. On PostgreSQL the changes are claimed with
    DELETE ... RETURNING and the day rows locked in key order, so concurrent writers neither
    double-count nor deadlock (see `_apply` for why a fold never deletes a day row there)."""
    from latte_cli import cohort, deadline_days

    serialise_folds(conn)
    queued = cohort.fold(conn)
    change = table("report_change")
    if conn.execute(select(change.c.id).limit(1)).first() is None:
        return queued
    rows = conn.execute(delete(change).returning(*deadline_days.queued_columns())).all()
    deadline_days.fold(conn, rows)
    deltas = {k: d for k, d in deltas_of(rows).items() if not d.unchanged}
    keys = sorted(deltas)
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        part = keys[start : start + KEYS_PER_STATEMENT]
        _apply(conn, {k: deltas[k] for k in part})
    return queued + len(rows)


def _apply(conn: Connection, deltas: dict[Key, Delta]) -> None:
    """Apply the deltas of keys in sorted order (one part of a fold).

    On PostgreSQL concurrent folds must take their day-row locks in one order, key order:
    the INSERT ... ON CONFLICT DO NOTHING makes sure every key has a row (waiting, key by key,
    for another fold's uncommitted row of a key), then SELECT ... FOR UPDATE locks the rows in
    key order, and the writes that follow touch only rows locked already.

    That holds only while no fold deletes a row. When a fold emptied a row and deleted it, a
    fold waiting for that row's lock found it gone once the lock was free, went on to lock the
    following keys, and had to INSERT the key it skipped last, out of order; meanwhile a third
    fold had inserted that key afresh and was waiting for one of the following keys: each
    waited for the other's transaction, and PostgreSQL ended one with "deadlock detected"
    (its log: one process in this SELECT ... FOR UPDATE, the other in the INSERT of the skipped
    key). So on PostgreSQL an emptied row stays, with no entries (readers skip such rows), and
    every key locked here exists from the INSERT until the commit. SQLite runs one writer at a
    time, so it deletes them.
    """
    day_table = table("report_day")
    c = day_table.c
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        from sqlalchemy.dialects.postgresql import insert

        empty = row_values([], [])
        conn.execute(
            insert(day_table)
            .values([{"dimension": d, "value": v, "day": day, **empty} for d, v, day in deltas])
            .on_conflict_do_nothing()
        )
    query = select(c.dimension, c.value, c.day, c.opened, c.durations, c.resolved_at).where(
        tuple_(c.dimension, c.value, c.day).in_(list(deltas))
    )
    if postgres:
        query = query.order_by(c.dimension, c.value, c.day).with_for_update()
    current = {(d, v, int(day)): (o, du, at) for d, v, day, o, du, at in conn.execute(query)}
    inserts, updates, gone = [], [], []
    for key, delta in deltas.items():
        stored = current.get(key)
        opened, resolved = delta.applied_to(*(entries_of(*stored) if stored else ([], [])))
        dimension, value, day = key
        ident = {"k_dimension": dimension, "k_value": value, "k_day": day}
        if not opened and not resolved and not postgres:
            if stored is not None:
                gone.append(ident)
        elif stored is not None:
            updates.append({**ident, **row_values(opened, resolved)})
        else:
            inserts.append(
                {"dimension": dimension, "value": value, "day": day} | row_values(opened, resolved)
            )
    match = (
        (c.dimension == bindparam("k_dimension"))
        & (c.value == bindparam("k_value"))
        & (c.day == bindparam("k_day"))
    )
    if updates:
        columns = ("opened_n", "opened", "resolved_n", "durations", "resolved_at")
        statement = day_table.update().where(match).values({n: bindparam(n) for n in columns})
        conn.execute(statement, updates)
    if gone:
        conn.execute(day_table.delete().where(match), gone)
    if inserts:
        conn.execute(day_table.insert(), inserts)


def expected(conn: Connection, *, has_merged: bool = True) -> Iterator[tuple[Key, Entries]]:
    """The summary computed afresh from the complaint rows, one dimension at a time.

    `has_merged` False: the schema is older than `complaint.merged_into` (revision 0003)."""
    c = table("complaint").c
    for dimension, column in DIMENSIONS.items():
        query = select(c.opened_epoch, c.first_resolved_epoch, c[column])
        if has_merged:
            # A merged duplicate is in no figure (docs/metrics.md, "Merged duplicates").
            query = query.where(c.merged_into.is_(None))
        changes = ((1, o, r, v, v, v, v) for o, r, v in conn.execute(query))
        for key, delta in deltas_of(changes, only=dimension).items():
            yield key, delta.applied_to([], [])


def stored(conn: Connection) -> dict[Key, Entries]:
    """The summary as stored, with the pending changes applied."""
    c = table("report_day").c
    query = select(c.dimension, c.value, c.day, c.opened, c.durations, c.resolved_at)
    found: dict[Key, Entries] = {
        (d, v, int(day)): entries_of(o, du, at) for d, v, day, o, du, at in conn.execute(query)
    }
    for key, delta in deltas_of(_pending_rows(conn)).items():
        found[key] = delta.applied_to(*found.get(key, ([], [])))
    return {k: e for k, e in found.items() if e[0] or e[1]}


def differences(conn: Connection, limit: int = 5) -> tuple[int, list[str]]:
    """(how many (dimension, value, day) rows differ from the complaints, a few of them)."""
    have = stored(conn)
    count, shown = 0, list[str]()
    seen: set[Key] = set()
    for key, entries in expected(conn):
        seen.add(key)
        if have.get(key) != entries:
            count += 1
            if len(shown) < limit:
                shown.append(_where(key))
    extra = [key for key in have if key not in seen]
    count += len(extra)
    shown.extend(f"{_where(key)} (no such complaints)" for key in extra)
    from latte_cli import cohort

    more, where = cohort.differences(conn, limit)
    return count + more, (shown + where)[:limit] if count < limit else shown[:limit]


def _where(key: Key) -> str:
    dimension, value, day = key
    return f"{dimension} {value or '(none)'} on {date.fromordinal(EPOCH_ORDINAL + day)} (UTC)"


def rebuild(conn: Connection, *, has_merged: bool = True) -> int:
    """Recompute the whole summary from the complaint rows; returns the rows written
    (`cohort.rebuild` recomputes the cohort summary, revision 0009).

    `has_merged` False: called by revision 0003, before `complaint.merged_into` exists."""
    if conn.dialect.name == "postgresql":
        # Wait for the writers with changes to fold, and keep others out until the commit:
        # a fold must not find its day rows deleted under it (see `_apply`).
        conn.exec_driver_sql("LOCK TABLE report_change, report_day IN EXCLUSIVE MODE")
    conn.execute(delete(table("report_change")))
    conn.execute(delete(table("report_day")))
    written = 0
    batch: list[dict[str, Any]] = []
    for (dimension, value, day), (opened, resolved) in expected(conn, has_merged=has_merged):
        batch.append(
            {"dimension": dimension, "value": value, "day": day} | row_values(opened, resolved)
        )
        if len(batch) >= 5_000:
            conn.execute(table("report_day").insert(), batch)
            written += len(batch)
            batch.clear()
    if batch:
        conn.execute(table("report_day").insert(), batch)
        written += len(batch)
    return written


@dataclass(frozen=True)
class DayRow:
    """A stored row as the trend reads it; `opened` and `resolved_at` only when asked for."""

    value: str | None
    day: int
    opened_n: int
    resolved_n: int
    durations: bytes
    opened: bytes = b""
    resolved_at: bytes = b""


def _rows(conn: Connection, columns: str, where: str, params: Sequence[Any]) -> list[Any]:
    """Rows of report_day straight from the driver: a long trend reads tens of thousands of
    them, and typed result processing would cost more than the rest of the report. Rows
    without entries (kept on PostgreSQL, see `_apply`) are left out."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    where = f"{where.replace('?', mark)} AND (opened_n > 0 OR resolved_n > 0)"
    sql = f"SELECT {columns} FROM report_day WHERE {where}"
    return list(conn.exec_driver_sql(sql, tuple(params)).fetchall())


def day_rows(
    conn: Connection, dimension: str, first_day: int, last_day: int
) -> list[tuple[str | None, int, int, int, bytes]]:
    """(value, day, opened_n, resolved_n, durations) of one dimension's rows for days
    first_day..last_day; plain tuples, as a long trend reads tens of thousands."""
    rows = _rows(
        conn,
        "value, day, opened_n, resolved_n, durations",
        "dimension = ? AND day >= ? AND day <= ?",
        (dimension, first_day, last_day),
    )
    return [(None if v == NONE else v, d, on, rn, bytes(du)) for v, d, on, rn, du in rows]


def day_rows_in_full(conn: Connection, dimension: str, days: Sequence[int]) -> list[DayRow]:
    """The stored rows of one dimension for the given days, with the seconds."""
    found: list[DayRow] = []
    for start in range(0, len(days), KEYS_PER_STATEMENT):
        part = list(days[start : start + KEYS_PER_STATEMENT])
        rows = _rows(
            conn,
            "value, day, opened_n, resolved_n, durations, opened, resolved_at",
            f"dimension = ? AND day IN ({', '.join('?' * len(part))})",
            (dimension, *part),
        )
        found.extend(
            DayRow(
                None if v == NONE else v, int(d), int(on), int(rn), bytes(du), bytes(o), bytes(at)
            )
            for v, d, on, rn, du, o, at in rows
        )
    return found


def counts_before(conn: Connection, dimension: str, day: int) -> dict[str | None, int]:
    """Per value: complaints opened minus complaints first resolved on days before `day`."""
    c = table("report_day").c
    query = (
        select(c.value, func.sum(c.opened_n) - func.sum(c.resolved_n))
        .where(c.dimension == dimension, c.day < day)
        .group_by(c.value)
    )
    return {(None if v == NONE else v): int(n or 0) for v, n in conn.execute(query)}
