"""The report summary: what a weekly trend needs, kept per (dimension, value, UTC day).

A trend over the whole history would otherwise group a million complaint rows per report. The
`report_day` table holds, for each dimension a report can group by (agent, channel, category,
location), each of its values and each UTC day:

- `opened`: the second of the day each complaint was opened at, sorted;
- `durations` / `resolved_at`: the resolution time of each complaint first resolved that day,
  sorted ascending, and the second of the day it was resolved at, in the same order.

Seconds within the day keep every figure exact for any time zone (a local week's edge can fall
inside a UTC day, and an as-of time inside any day); the durations are stored sorted so that
the percentiles of a week are one merge of a few sorted runs away.

It is kept at write time without any write path having to know: triggers on `complaint`
(revision 0003) append each change that matters as -old / +new rows to `report_change`, and
`fold` moves them into `report_day` before the writing transaction commits (a session hook in
`db`, and the importer per batch). Changes written by other programs stay in `report_change`
until latte's next write; readers add them in memory, so reports are exact either way.
Values are arrays of little-endian integers (int32 seconds of the day, int64 durations).
"""

from __future__ import annotations

import sys
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, bindparam, delete, func, select, tuple_
from sqlmodel import SQLModel

from latte_cli import models  # noqa: F401  (registers the tables on SQLModel.metadata)

DAY = 86_400
# dimension -> complaint column (the report_change column of the same value)
DIMENSIONS = {
    "agent": "assigned_agent",
    "channel": "channel",
    "category": "category",
    "location": "location",
}
CHANGE_COLUMNS = ("agent", "channel", "category", "location")
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# A complaint without a value (no agent, no location) is stored under "", which no value can be.
NONE = ""
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


@dataclass
class Bucket:
    """One (dimension, value, day): opened seconds, and (duration, resolved second) pairs."""

    opened: Counter[int] = field(default_factory=Counter)
    resolved: Counter[tuple[int, int]] = field(default_factory=Counter)

    def add(self, change: Change, day: int, resolved_day: bool) -> None:
        if resolved_day:
            assert change.first_resolved is not None
            entry = (change.first_resolved - change.opened, change.first_resolved - day * DAY)
            self.resolved[entry] += change.sign
        else:
            self.opened[change.opened - day * DAY] += change.sign

    def merge(self, other: Bucket) -> None:
        self.opened.update(other.opened)
        self.resolved.update(other.resolved)

    def row(self) -> dict[str, Any]:
        opened = sorted(self.opened.elements())
        resolved = sorted(self.resolved.elements())
        return {
            "opened_n": len(opened),
            "opened": pack("i", opened),
            "resolved_n": len(resolved),
            "durations": pack("q", (d for d, _ in resolved)),
            "resolved_at": pack("i", (at for _, at in resolved)),
        }

    @classmethod
    def of_row(cls, opened: bytes | None, durations: bytes | None, at: bytes | None) -> Bucket:
        return cls(
            Counter(unpack("i", opened)),
            Counter(zip(unpack("q", durations), unpack("i", at), strict=True)),
        )

    @property
    def empty(self) -> bool:
        """Nothing counted (zero or, for a summary that missed a change, less)."""
        return not +self.opened and not +self.resolved

    @property
    def unchanged(self) -> bool:
        """As a change: adds and takes away nothing."""
        return not any(self.opened.values()) and not any(self.resolved.values())


Key = tuple[str, str, int]  # (dimension, value, day)


def buckets_of(changes: Iterable[Change], only: str | None = None) -> dict[Key, Bucket]:
    """What the changes add to (or take from) each (dimension, value, day); `only` one
    dimension."""
    found: dict[Key, Bucket] = defaultdict(Bucket)
    for change in changes:
        opened_day = change.opened // DAY
        resolved_day = None if change.first_resolved is None else change.first_resolved // DAY
        for dimension, value in zip(DIMENSIONS, change.values, strict=True):
            if only is not None and dimension != only:
                continue
            name = NONE if value is None else value
            found[(dimension, name, opened_day)].add(change, opened_day, False)
            if resolved_day is not None:
                found[(dimension, name, resolved_day)].add(change, resolved_day, True)
    return found


def _change_of(row: Sequence[Any]) -> Change:
    sign, opened, first, *values = row
    return Change(int(sign), int(opened), None if first is None else int(first), tuple(values))


def _change_columns() -> list[Any]:
    c = table("report_change").c
    return [c.sign, c.opened_epoch, c.first_resolved_epoch, *(c[n] for n in CHANGE_COLUMNS)]


def pending(conn: Connection) -> list[Change]:
    """Changes not folded yet (written by another program since latte's last write)."""
    c = table("report_change").c
    query = select(*_change_columns()).order_by(c.id)
    return [_change_of(row) for row in conn.execute(query)]


def fold(conn: Connection) -> int:
    """Move the pending changes into `report_day`, in the caller's transaction; returns how
    many there were. On PostgreSQL the changes are claimed with DELETE ... RETURNING and the
    day rows locked in key order, so concurrent writers neither double-count nor deadlock."""
    change = table("report_change")
    if conn.execute(select(change.c.id).limit(1)).first() is None:
        return 0
    rows = conn.execute(delete(change).returning(*_change_columns())).all()
    deltas = {k: b for k, b in buckets_of(_change_of(r) for r in rows).items() if not b.unchanged}
    keys = sorted(deltas)
    for start in range(0, len(keys), KEYS_PER_STATEMENT):
        part = keys[start : start + KEYS_PER_STATEMENT]
        _apply(conn, {k: deltas[k] for k in part})
    return len(rows)


def _apply(conn: Connection, deltas: dict[Key, Bucket]) -> None:
    day_table = table("report_day")
    c = day_table.c
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        from sqlalchemy.dialects.postgresql import insert

        empty = Bucket().row()
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
    current = {
        (d, v, int(day)): Bucket.of_row(o, du, at) for d, v, day, o, du, at in conn.execute(query)
    }
    inserts, updates, gone = [], [], []
    for key, delta in deltas.items():
        bucket = current.get(key)
        if bucket is None:
            bucket = Bucket()
        bucket.merge(delta)
        # Less than nothing means the summary missed a change (`latte db check` says so and
        # `latte db rebuild-summary` repairs it); counts never go below zero.
        bucket.opened, bucket.resolved = +bucket.opened, +bucket.resolved
        dimension, value, day = key
        ident = {"k_dimension": dimension, "k_value": value, "k_day": day}
        if bucket.empty:
            if key in current:
                gone.append(ident)
        elif key in current:
            updates.append({**ident, **bucket.row()})
        else:
            inserts.append({"dimension": dimension, "value": value, "day": day, **bucket.row()})
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


def expected(conn: Connection) -> Iterator[tuple[Key, Bucket]]:
    """The summary computed afresh from the complaint rows, one dimension at a time."""
    c = table("complaint").c
    for dimension, column in DIMENSIONS.items():
        query = select(c.opened_epoch, c.first_resolved_epoch, c[column])
        changes = (
            Change(1, int(o), None if r is None else int(r), (v, v, v, v))
            for o, r, v in conn.execute(query)
        )
        yield from buckets_of(changes, only=dimension).items()


def stored(conn: Connection) -> dict[Key, Bucket]:
    """The summary as stored, with the pending changes added."""
    c = table("report_day").c
    query = select(c.dimension, c.value, c.day, c.opened, c.durations, c.resolved_at)
    found: dict[Key, Bucket] = {
        (d, v, int(day)): Bucket.of_row(o, du, at) for d, v, day, o, du, at in conn.execute(query)
    }
    for key, delta in buckets_of(pending(conn)).items():
        found.setdefault(key, Bucket()).merge(delta)
    return {k: b for k, b in found.items() if not b.empty}


def differences(conn: Connection, limit: int = 5) -> tuple[int, list[str]]:
    """(how many (dimension, value, day) rows differ from the complaints, a few of them)."""
    have = stored(conn)
    count, shown = 0, list[str]()
    seen: set[Key] = set()
    for key, bucket in expected(conn):
        seen.add(key)
        mine = have.get(key)
        if mine is None or +mine.opened != bucket.opened or +mine.resolved != bucket.resolved:
            count += 1
            if len(shown) < limit:
                shown.append(_where(key))
    extra = [key for key in have if key not in seen]
    count += len(extra)
    shown.extend(f"{_where(key)} (no such complaints)" for key in extra)
    return count, shown[:limit]


def _where(key: Key) -> str:
    dimension, value, day = key
    return f"{dimension} {value or '(none)'} on {date.fromordinal(EPOCH_ORDINAL + day)} (UTC)"


def rebuild(conn: Connection) -> int:
    """Recompute the whole summary from the complaint rows; returns the rows written."""
    conn.execute(delete(table("report_change")))
    conn.execute(delete(table("report_day")))
    written = 0
    batch: list[dict[str, Any]] = []
    for (dimension, value, day), bucket in expected(conn):
        batch.append({"dimension": dimension, "value": value, "day": day, **bucket.row()})
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
    them, and typed result processing would cost more than the rest of the report."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"SELECT {columns} FROM report_day WHERE {where.replace('?', mark)}"
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
