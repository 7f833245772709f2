"""The figures on what to fix read from the cohort summary, on the calendar clock.

The same aggregate rows as `fix_queries.cohort_cells`, `remedy_cells`, `change_texts` and
`cause_weeks` (docs/metrics.md: "Root causes", "Repeat complaints", "Remedies and revenue
kept"), from the day records of `report_cohort` (`latte_cli.cohort`, revision 0015) instead
of the complaint and stage record rows: the period's UTC days streamed a few dozen at a time,
each record placed in its period by its first-resolution epoch (so a local period edge or an
as-of time inside a UTC day is exact), each Take action and Explain entry joined to its
record by complaint id, grouped with numpy. The repurchase and repeat outcomes are the ids
read in one pass over an index of `report_outcome` per chunk of days (`cohort.bought`,
`cohort.came_again`), as `fix_queries.kept_codes` defines them. What a report reads grows
with the number of days, not of complaints (docs/architecture.md, "Reports over long
periods").
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from latte_cli import cohort
from latte_cli.reports import fix_queries as fq
from latte_cli.reports.periods import Period
from latte_cli.reports.summarised import RECORD, SPEED_LIMITS, among

Ints = npt.NDArray[np.int64]
DAY = cohort.DAY
# The layouts of `cohort.REMEDY` and `cohort.CHANGE` (packed, little-endian).
REMEDY = np.dtype([("id", "<i8"), ("completed", "<i4"), ("code", "<i4"), ("cents", "<i8")])
CHANGE = np.dtype([("id", "<i8"), ("completed", "<i4"), ("code", "<i4")])
LAYOUTS = {"remedies": REMEDY, "changes": CHANGE}
assert REMEDY.itemsize == cohort.REMEDY.size and CHANGE.itemsize == cohort.CHANGE.size
AGENT = cohort.DIMENSION_CODE["agent"]
# Days read at a time: a full history's chunk of 64 days holds tens of MB of intermediate
# arrays; a fortnight's is a quarter of that, for a few more index reads.
DAYS = 16


class _Texts:
    """The texts of every day's names as small integers, 0 being no value (code -1)."""

    def __init__(self) -> None:
        self.index: dict[str | None, int] = {None: 0}
        self.values: list[str | None] = [None]

    def of(self, text: str | None) -> int:
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.values)
            self.values.append(text)
        return found

    def translate(self, names: list[str], codes: npt.NDArray[Any]) -> Ints:
        """A day's codes as text numbers; only the codes used are looked up."""
        table = np.zeros(len(names) + 1, np.int64)  # the last one for code -1
        for code in np.unique(codes).tolist():
            table[code] = self.of(names[code] if code >= 0 else None)
        return table[codes]  # type: ignore[no-any-return]


@dataclass
class _Chunk:
    """A chunk of days: every record (`place` -1 when in none of the periods or after the
    as-of time), the text numbers of the code columns asked, and per blob asked its entries
    with the index of their record and the text number of their code."""

    lo: int
    last: int
    records: Any
    place: Ints
    codes: dict[int, Ints] = field(default_factory=dict)
    entries: dict[str, tuple[Any, Ints, Ints]] = field(default_factory=dict)


def _chunks(
    conn: Connection,
    periods: list[Period],
    as_of: int,
    texts: _Texts,
    columns: Sequence[int],
    blobs: Sequence[str] = (),
) -> Iterator[_Chunk]:
    order = np.argsort([p.start for p in periods], kind="stable")
    starts = np.array([periods[i].start for i in order], np.int64)
    ends = np.array([periods[i].end for i in order], np.int64)
    lo, last = int(starts.min()), min(int(ends.max()) - 1, as_of)
    if last < lo:
        return
    days = cohort.records_between(conn, lo // DAY, last // DAY, DAYS, ("records", *blobs))
    for rows in days:
        records, codes = [], {column: list[Ints]() for column in columns}
        entries: dict[str, list[tuple[Any, Ints, Ints]]] = {name: [] for name in blobs}
        offset = 0
        for _day, names_text, blob, *more in rows:
            day_records = np.frombuffer(blob, RECORD)
            names = json.loads(names_text)
            records.append(day_records)
            for column in codes:  # each column once (the group may be the agent)
                codes[column].append(texts.translate(names, day_records["codes"][:, column]))
            for name, entry_blob in zip(blobs, more, strict=True):
                found = np.frombuffer(entry_blob, LAYOUTS[name])
                # A day's records are sorted by id, and each entry is of one of them.
                at = np.searchsorted(day_records["id"], found["id"]).astype(np.int64) + offset
                entries[name].append((found, at, texts.translate(names, found["code"])))
            offset += len(day_records)
        if not records:
            continue
        joined = np.concatenate(records)
        resolved = joined["resolved"].astype(np.int64)
        at_start = np.searchsorted(starts, resolved, "right") - 1
        inside = (at_start >= 0) & (resolved <= last)
        inside &= resolved < ends[np.maximum(at_start, 0)]
        place = np.where(inside, order[np.maximum(at_start, 0)], -1).astype(np.int64)
        chunk = _Chunk(
            lo=max(lo, rows[0][0] * DAY),
            last=min(last, rows[-1][0] * DAY + DAY - 1),
            records=joined,
            place=place,
            codes={column: np.concatenate(parts) for column, parts in codes.items()},
        )
        for name, parts in entries.items():
            chunk.entries[name] = (
                np.concatenate([p[0] for p in parts]),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
            )
        yield chunk


def _group_column(by: str | None) -> list[int]:
    return [] if by is None else [cohort.DIMENSION_CODE[by]]


def _group(chunk: _Chunk, by: str | None) -> Ints:
    if by is None:
        return np.zeros(len(chunk.place), np.int64)  # text number 0: no value
    return chunk.codes[cohort.DIMENSION_CODE[by]]


def _speed(records: Any) -> tuple[Ints, Ints]:
    """(resolution seconds, speed bucket) of each record (`queries.speed_bucket`)."""
    seconds = records["resolved"].astype(np.int64) - records["opened"].astype(np.int64)
    return seconds, np.searchsorted(SPEED_LIMITS, seconds, "right").astype(np.int64)


def _ids(text: str | None) -> Ints:
    """Comma-separated ids, sorted (parsed in C: no Python int per id)."""
    found = np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, np.int64)
    found.sort()
    return found


def _cells(columns: Sequence[Ints]) -> tuple[Ints, Ints, Ints]:
    """Rows grouped by their values in `columns` (non-negative integers): (order of the rows
    by cell, start of each cell in that order, the first row of each cell)."""
    if not len(columns[0]):
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    key = np.zeros(len(columns[0]), np.int64)
    bound = 1
    for column in columns:
        size = int(column.max()) + 1
        bound *= size
        if bound >= 2**62:  # too many combinations for one integer: number them first
            _, key = np.unique(np.stack([key, column], axis=1), axis=0, return_inverse=True)
            key, bound = key.ravel().astype(np.int64), int(key.max()) + 1
        else:
            key = key * size + column
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    return order, starts, order[starts]


def cohort_cells(
    conn: Connection,
    periods: list[Period],
    by: str | None,
    as_of: int,
    *,
    window: int,
    repeat: int,
) -> list[tuple[Any, ...]]:
    """As `fix_queries.cohort_cells` (not per complaint, outcomes kept): (key, group, root
    cause, agent, speed bucket, repurchase outcome, repeat outcome, complaints, resolution
    seconds as an array). Grouped chunk by chunk: only the cells stay in memory."""
    texts = _Texts()
    known = min(as_of, cohort.NEVER - 1)  # an as-of time past 2038 leaves NEVER unknown
    found: dict[tuple[int, ...], list[Ints]] = {}
    columns = [cohort.CAUSE_CODE, AGENT, *_group_column(by)]
    for chunk in _chunks(conn, periods, as_of, texts, columns):
        inside = chunk.place >= 0
        if not inside.any():
            continue
        records = chunk.records[inside]
        resolved = records["resolved"].astype(np.int64)
        seconds, bucket = _speed(records)
        customer = records["customer"] == 1
        bought = _ids(cohort.bought(conn, chunk.lo, chunk.last, window, as_of))
        again = _ids(cohort.came_again(conn, chunk.lo, chunk.last, repeat, as_of))
        evidence = among(records["id"], bought) | (records["said"] <= known)
        outcome = np.where(evidence, 0, np.where(resolved + window <= as_of, 1, 2))
        outcome = np.where(customer, outcome, 3)
        rep = np.where(
            among(records["id"], again),
            fq.REPEAT,
            np.where(resolved + repeat <= as_of, fq.NOT_REPEATED, fq.REPEAT_PENDING),
        )
        rep = np.where(customer, rep, fq.NO_CUSTOMER)
        values = [
            chunk.place[inside],
            _group(chunk, by)[inside],
            chunk.codes[cohort.CAUSE_CODE][inside],
            chunk.codes[AGENT][inside],
            bucket,
            outcome.astype(np.int64),
            rep.astype(np.int64),
        ]
        order, starts, first = _cells(values)
        bounds = [*starts.tolist(), len(order)]
        rows = np.stack(values, axis=1)[first].tolist()
        for i, row in enumerate(rows):
            found.setdefault(tuple(row), []).append(seconds[order[bounds[i] : bounds[i + 1]]])
    cells: list[tuple[Any, ...]] = []
    for (k, g, cause, agent, bucket_, outcome_, rep_), parts in found.items():
        joined = np.concatenate(parts)
        cells.append(
            (
                k,
                texts.values[g],
                texts.values[cause],
                texts.values[agent],
                bucket_,
                outcome_,
                rep_,
                len(joined),
                joined,
            )
        )
    return cells


def remedy_cells(
    conn: Connection, periods: list[Period], by: str | None, as_of: int
) -> list[tuple[Any, ...]]:
    """As `fix_queries.remedy_cells` (not per complaint): (key, group, speed bucket, action
    kind, complaints, cents); no amount counts as 0 cents. Grouped chunk by chunk (all of a
    complaint's entries are in its day's row, so its count per cell is whole in a chunk)."""
    texts = _Texts()
    found: dict[tuple[int, ...], list[int]] = {}
    for chunk in _chunks(conn, periods, as_of, texts, _group_column(by), ("remedies",)):
        entries, at, kind = chunk.entries["remedies"]
        counted = (chunk.place[at] >= 0) & (entries["completed"].astype(np.int64) <= as_of)
        if not counted.any():
            continue
        _, bucket = _speed(chunk.records)
        at = at[counted]
        values = [chunk.place[at], _group(chunk, by)[at], bucket[at], kind[counted]]
        cid = entries["id"][counted]
        cents = entries["cents"][counted].astype(np.int64)
        order, starts, first = _cells(values)
        cell = np.empty(len(order), np.int64)
        cell[order] = np.repeat(np.arange(len(starts)), np.diff([*starts.tolist(), len(order)]))
        total = np.zeros(len(starts), np.int64)
        np.add.at(total, cell, cents)
        # Complaints, each once per cell (a complaint has a Take action per cycle).
        _, _, distinct = _cells([cell, cid - int(cid.min())])
        complaints = np.bincount(cell[distinct], minlength=len(starts))
        rows = np.stack(values, axis=1)[first].tolist()
        for row, n, cents_sum in zip(rows, complaints.tolist(), total.tolist(), strict=True):
            sums = found.setdefault(tuple(row), [0, 0])
            sums[0] += n
            sums[1] += cents_sum
    return [
        (k, texts.values[g], bucket_, texts.values[kind_], n, cents_sum)
        for (k, g, bucket_, kind_), (n, cents_sum) in found.items()
    ]


def change_texts(
    conn: Connection, periods: list[Period], by: str | None, as_of: int
) -> list[tuple[int, Any, str, str, int]]:
    """As `fix_queries.change_texts`: (key, group, root cause, "what will change" text,
    Explain records)."""
    texts = _Texts()
    parts: list[list[Ints]] = []
    columns = [cohort.CAUSE_CODE, *_group_column(by)]
    for chunk in _chunks(conn, periods, as_of, texts, columns, ("changes",)):
        entries, at, text = chunk.entries["changes"]
        cause = chunk.codes[cohort.CAUSE_CODE][at]
        counted = (chunk.place[at] >= 0) & (cause != 0)
        counted &= entries["completed"].astype(np.int64) <= as_of
        if counted.any():
            at = at[counted]
            parts.append([chunk.place[at], _group(chunk, by)[at], cause[counted], text[counted]])
    if not parts:
        return []
    joined = [np.concatenate(c) for c in zip(*parts, strict=True)]
    _, starts, first = _cells(joined)
    n = np.diff([*starts.tolist(), len(joined[0])])
    return [
        (
            int(joined[0][row]),
            texts.values[int(joined[1][row])],
            str(texts.values[int(joined[2][row])]),
            str(texts.values[int(joined[3][row])]),
            int(count),
        )
        for row, count in zip(first.tolist(), n.tolist(), strict=True)
    ]


def cause_weeks(
    conn: Connection, weeks: list[Period], by: str | None, as_of: int
) -> list[tuple[int, Any, str]]:
    """As `fix_queries.cause_weeks`: (week index, group, root cause) present among the
    complaints first resolved in each of `weeks`."""
    texts = _Texts()
    found: set[tuple[int, Any, str]] = set()
    for chunk in _chunks(conn, weeks, as_of, texts, [cohort.CAUSE_CODE, *_group_column(by)]):
        cause = chunk.codes[cohort.CAUSE_CODE]
        present = (chunk.place >= 0) & (cause != 0)
        if not present.any():
            continue
        joined = [chunk.place[present], _group(chunk, by)[present], cause[present]]
        _, _, first = _cells(joined)
        for row in first.tolist():
            k, g, c = (int(v[row]) for v in joined)
            found.add((k, texts.values[g], str(texts.values[c])))
    return sorted(found, key=lambda row: (row[0], str(row[1]), row[2]))
