"""The figures on what to fix read from the cohort summary, on the calendar clock.

The same aggregate rows as `fix_queries.cohort_cells`, `remedy_cells`, `change_texts` and
`cause_weeks` (docs/metrics.md: "Root causes", "Repeat complaints", "Remedies and revenue
kept"), from the day records of `report_cohort` (`latte_cli.cohort`, revision 0015) instead
of the complaint and stage record rows. Each is a figure family fed chunk by chunk by
`cohort_days.read`: the period's UTC days streamed 32 days at a time and decoded once
for every family of the report (the build's cohort figures with them), each record placed in
its period by its first-resolution epoch (so a local period edge or an as-of time inside a
UTC day is exact), each Take action and Explain entry joined to its record by complaint id,
grouped with numpy. The repurchase and repeat outcomes are the ids read in one pass over an
index of `report_outcome` per chunk of days (`cohort.bought_and_kept` or `cohort.bought`,
`cohort.came_again`), as `fix_queries.kept_codes` defines them. Revenue kept
(`KeptRevenue`) places each complaint by its record too: the sums kept at write time come
with the buyers, the shared pairs per chunk (`fix_queries.kept_pair_texts`). What a report
reads grows with the number of days, not of complaints (docs/architecture.md, "Reports over
long periods").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from latte_cli import cohort
from latte_cli.reports import fix_queries as fq
from latte_cli.reports.cohort_days import Chunk, Columns, Texts, order_of, read
from latte_cli.reports.periods import Period

Ints = npt.NDArray[np.int64]
AGENT = cohort.DIMENSION_CODE["agent"]


def _group_column(by: str | None) -> list[int]:
    return [] if by is None else [cohort.DIMENSION_CODE[by]]


def _group(chunk: Chunk, by: str | None) -> Ints:
    if by is None:
        return np.zeros(len(chunk.place), np.int64)  # text number 0: no value
    return chunk.codes[cohort.DIMENSION_CODE[by]]


def _cells(columns: Sequence[Ints]) -> tuple[Ints, Ints, Ints]:
    """Rows grouped by their values in `columns` (non-negative integers): (order of the rows
    by cell, start of each cell in that order, a row of each cell). Rows of one cell are in
    no particular order: an unstable sort takes half the time of a stable one (a radix sort
    when the cells fit in 16 bits, `cohort_days.order_of`)."""
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
    order = order_of(key, bound, stable=False)
    ordered = key[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    return order, starts, order[starts]


class CohortCells:
    """As `fix_queries.cohort_cells` (not per complaint, outcomes kept), chunk by chunk: only
    the cells stay in memory."""

    blobs: Sequence[str] = ()

    def __init__(self, by: str | None, as_of: int, *, window: int, repeat: int) -> None:
        self.by, self.as_of, self.window, self.repeat = by, as_of, window, repeat
        self.columns = [cohort.CAUSE_CODE, AGENT, *_group_column(by)]
        self.lookups = ("bought", "again")
        self.number: dict[tuple[int, ...], int] = {}  # cell -> its number
        self.kept: Columns | None = None  # per record: its cell's number, its seconds

    def add(self, chunk: Chunk) -> None:
        inside, records = chunk.inside()
        if not len(records):
            return
        as_of, window, repeat = self.as_of, self.window, self.repeat
        known = min(as_of, cohort.NEVER - 1)  # an as-of time past 2038 leaves NEVER unknown
        resolved = records["resolved"].astype(np.int64)
        seconds, bucket = (values[inside] for values in chunk.speed())
        customer = records["customer"] == 1
        evidence = chunk.bought()[inside] | (records["said"] <= known)
        outcome = np.where(evidence, 0, np.where(resolved + window <= as_of, 1, 2))
        outcome = np.where(customer, outcome, 3)
        rep = np.where(
            chunk.again()[inside],
            fq.REPEAT,
            np.where(resolved + repeat <= as_of, fq.NOT_REPEATED, fq.REPEAT_PENDING),
        )
        rep = np.where(customer, rep, fq.NO_CUSTOMER)
        values = [
            chunk.place[inside],
            _group(chunk, self.by)[inside],
            chunk.codes[cohort.CAUSE_CODE][inside],
            chunk.codes[AGENT][inside],
            bucket,
            outcome.astype(np.int64),
            rep.astype(np.int64),
        ]
        order, starts, first = _cells(values)
        rows = np.stack(values, axis=1)[first].tolist()
        number = self.number
        found = np.array([number.setdefault(tuple(r), len(number)) for r in rows], np.int32)
        cell = np.empty(len(order), np.int32)
        cell[order] = np.repeat(found, np.diff([*starts.tolist(), len(order)]))
        # Per record its cell's number and its seconds, in 32 bits when they fit, grouped
        # once at the end (half the memory of a full history's durations in 64 bits, and no
        # object per cell and chunk).
        if self.kept is None:
            self.kept = Columns(chunk.total)
        self.kept.add("cell", cell)
        fits = not len(seconds) or int(np.abs(seconds).max()) < 2**31
        self.kept.add("seconds", seconds.astype(np.int32) if fits else seconds)

    def rows(self, texts: Texts) -> list[tuple[Any, ...]]:
        """(key, group, root cause, agent, speed bucket, repurchase outcome, repeat outcome,
        complaints, resolution seconds as an array). Handed over once: the family forgets
        them, so they do not outlive their use in the report."""
        if not self.number or self.kept is None:
            return []
        cell = self.kept.parts("cell")[0]
        order = order_of(cell, len(self.number))
        seconds = self.kept.parts("seconds")[0][order]  # each cell's a view of its stretch
        del order
        bounds = np.concatenate([[0], np.cumsum(np.bincount(cell, minlength=len(self.number)))])
        number, self.number, self.kept = self.number, {}, None
        del cell
        cells: list[tuple[Any, ...]] = []
        for (k, g, cause, agent, bucket_, outcome_, rep_), i in number.items():
            values = seconds[int(bounds[i]) : int(bounds[i + 1])]
            cells.append(
                (
                    k,
                    texts.values[g],
                    texts.values[cause],
                    texts.values[agent],
                    bucket_,
                    outcome_,
                    rep_,
                    len(values),
                    values,
                )
            )
        return cells


class RemedyCells:
    """As `fix_queries.remedy_cells` (not per complaint). All of a complaint's entries are in
    its day's row, so its count per cell is whole in a chunk."""

    blobs: Sequence[str] = ("remedies",)

    def __init__(self, by: str | None, as_of: int) -> None:
        self.by, self.as_of = by, as_of
        self.columns = _group_column(by)
        self.found: dict[tuple[int, ...], list[int]] = {}

    def add(self, chunk: Chunk) -> None:
        entries, at, kind = chunk.entries["remedies"]
        assert kind is not None
        counted = (chunk.place[at] >= 0) & (entries["completed"].astype(np.int64) <= self.as_of)
        if not counted.any():
            return
        at = at[counted]
        bucket = chunk.speed()[1][at]
        values = [chunk.place[at], _group(chunk, self.by)[at], bucket, kind[counted]]
        cid = entries["id"][counted]
        cents = entries["cents"][counted].astype(np.int64)
        order, starts, first = _cells(values)
        # Exact integer sums per cell over the rows in cell order (no floating point).
        total = np.add.reduceat(cents[order], starts)
        sizes = np.diff([*starts.tolist(), len(order)])
        cell = np.empty(len(order), np.int64)
        cell[order] = np.repeat(np.arange(len(starts)), sizes)
        # Complaints, each once per cell (a complaint has a Take action per cycle).
        _, _, distinct = _cells([cell, cid - int(cid.min())])
        complaints = np.bincount(cell[distinct], minlength=len(starts))
        rows = np.stack(values, axis=1)[first].tolist()
        for row, n, cents_sum in zip(rows, complaints.tolist(), total.tolist(), strict=True):
            sums = self.found.setdefault(tuple(row), [0, 0])
            sums[0] += n
            sums[1] += cents_sum

    def rows(self, texts: Texts) -> list[tuple[Any, ...]]:
        """(key, group, speed bucket, action kind, complaints, cents); no amount counts as 0
        cents."""
        return [
            (k, texts.values[g], bucket_, texts.values[kind_], n, cents_sum)
            for (k, g, bucket_, kind_), (n, cents_sum) in self.found.items()
        ]


class ChangeTexts:
    """As `fix_queries.change_texts`, over the first `counted` periods of the read."""

    blobs: Sequence[str] = ("changes",)

    def __init__(self, by: str | None, as_of: int, counted: int) -> None:
        self.by, self.as_of, self.counted = by, as_of, counted
        self.columns = [cohort.CAUSE_CODE, *_group_column(by)]
        self.found: dict[tuple[int, ...], int] = {}

    def add(self, chunk: Chunk) -> None:
        entries, at, text = chunk.entries["changes"]
        assert text is not None
        cause = chunk.codes[cohort.CAUSE_CODE][at]
        place = chunk.place[at]
        counted = (place >= 0) & (place < self.counted) & (cause != 0)
        counted &= entries["completed"].astype(np.int64) <= self.as_of
        if not counted.any():
            return
        at = at[counted]
        values = [chunk.place[at], _group(chunk, self.by)[at], cause[counted], text[counted]]
        # Counted per chunk: only the cells stay in memory, not an entry per Explain record.
        _, starts, first = _cells(values)
        n = np.diff([*starts.tolist(), len(values[0])])
        rows = np.stack(values, axis=1)[first].tolist()
        for row, count in zip(rows, n.tolist(), strict=True):
            self.found[tuple(row)] = self.found.get(tuple(row), 0) + count

    def rows(self, texts: Texts) -> list[tuple[int, Any, str, str, int]]:
        """(key, group, root cause, "what will change" text, Explain records)."""
        return [
            (k, texts.values[g], str(texts.values[cause]), str(texts.values[text]), n)
            for (k, g, cause, text), n in self.found.items()
        ]


class KeptRevenue:
    """Revenue kept (docs/metrics.md, "Remedies and revenue kept") of the records read, each
    complaint placed in its period, group and calendar speed bucket by its record, not by a
    join to the complaint: the cents summed at write time of the complaints whose purchases
    follow no other complaint (`Chunk.summed`, default window only) added up per cell, and
    the (complaint, purchase) pairs of the others (`fix_queries.kept_pair_texts`) kept
    for `fixes._kept` to count each purchase once per figure (docs/architecture.md, "Reports
    over long periods")."""

    blobs: Sequence[str] = ()

    def __init__(self, by: str | None, as_of: int, *, window: int) -> None:
        self.by, self.as_of, self.window = by, as_of, window
        self.columns = _group_column(by)
        self.summed = window == cohort.KEPT_WINDOW
        self.summed_before = fq.window_over_after(as_of, window) if self.summed else None
        self.lookups = ("bought", "pairs") if self.summed else ("pairs",)
        self.sums: dict[tuple[int, int, int], int] = {}  # (period, group, bucket) -> cents
        self.kept: Columns | None = None  # per pair: period, group, bucket, purchase, cents

    def add(self, chunk: Chunk) -> None:
        # The chunk's sums and pairs are read with the read's window (`Chunk.pairs`).
        assert (chunk.source.window, chunk.source.summed_before) == (
            self.window,
            self.summed_before,
        )
        inside = chunk.place >= 0
        if not inside.any():
            return
        bucket = chunk.speed()[1]
        group = _group(chunk, self.by)
        if self.summed:
            at, cents = chunk.summed()
            counted = inside[at]
            at, cents = at[counted], cents[counted]
            if len(at):
                values = [chunk.place[at], group[at], bucket[at]]
                order, starts, first = _cells(values)
                total = np.add.reduceat(cents[order], starts)  # exact integer sums
                rows = np.stack(values, axis=1)[first].tolist()
                for row, cents_sum in zip(rows, total.tolist(), strict=True):
                    key = (row[0], row[1], row[2])
                    self.sums[key] = self.sums.get(key, 0) + cents_sum
        cid, pid, cents = chunk.pairs()
        if not len(cid):
            return
        at, found = chunk.record_of(cid)
        counted = found & inside[at]
        at = at[counted]
        if self.kept is None:
            self.kept = Columns(chunk.total)
        # Held until the end, during the rest of the read: the small numbers narrow.
        for name, column in (
            ("period", chunk.place[at].astype(np.int16)),
            ("group", group[at].astype(np.int32)),
            ("bucket", bucket[at].astype(np.int8)),
            ("purchase", pid[counted]),
            ("cents", cents[counted]),
        ):
            self.kept.add(name, column)

    def pairs(self) -> tuple[Ints, ...]:
        """(period, group text number, speed bucket, purchase id, cents) per pair read."""
        empty = [np.zeros(0, np.int64)]
        kept = self.kept
        names = ("period", "group", "bucket", "purchase", "cents")
        return tuple(((kept.parts(name) if kept else []) or empty)[0] for name in names)


@dataclass
class Fixes:
    """The cohort cells, remedies and texts of `fixes.fix_figures`, filled by one read of
    the days (with the report's cohort figures when `build` adds them to `families`)."""

    cells: CohortCells
    remedies: RemedyCells
    changes: ChangeTexts
    kept: KeptRevenue
    texts: Texts = field(default_factory=Texts)

    @property
    def families(self) -> list[Any]:
        return [self.cells, self.remedies, self.changes, self.kept]


def fixes(by: str | None, as_of: int, *, window: int, repeat: int, texts: Texts) -> Fixes:
    """The three families over a read of (the period, the one before); the texts only of
    the period (`fix_queries.change_texts` is asked for it alone)."""
    return Fixes(
        CohortCells(by, as_of, window=window, repeat=repeat),
        RemedyCells(by, as_of),
        ChangeTexts(by, as_of, counted=1),
        KeptRevenue(by, as_of, window=window),
        texts,
    )


def cohort_cells(
    conn: Connection,
    periods: list[Period],
    by: str | None,
    as_of: int,
    *,
    window: int,
    repeat: int,
) -> list[tuple[Any, ...]]:
    """As `fix_queries.cohort_cells`, read alone (`CohortCells.rows`)."""
    texts, family = Texts(), CohortCells(by, as_of, window=window, repeat=repeat)
    read(conn, periods, as_of, [family], texts, window=window, repeat=repeat)
    return family.rows(texts)


def remedy_cells(
    conn: Connection, periods: list[Period], by: str | None, as_of: int
) -> list[tuple[Any, ...]]:
    """As `fix_queries.remedy_cells`, read alone (`RemedyCells.rows`)."""
    texts, family = Texts(), RemedyCells(by, as_of)
    read(conn, periods, as_of, [family], texts)
    return family.rows(texts)


def change_texts(
    conn: Connection, periods: list[Period], by: str | None, as_of: int
) -> list[tuple[int, Any, str, str, int]]:
    """As `fix_queries.change_texts`, read alone (`ChangeTexts.rows`)."""
    texts, family = Texts(), ChangeTexts(by, as_of, counted=len(periods))
    read(conn, periods, as_of, [family], texts)
    return family.rows(texts)


class _CauseWeeks:
    blobs: Sequence[str] = ()

    def __init__(self, by: str | None) -> None:
        self.by = by
        self.columns = [cohort.CAUSE_CODE, *_group_column(by)]
        self.found: set[tuple[int, int, int]] = set()

    def add(self, chunk: Chunk) -> None:
        cause = chunk.codes[cohort.CAUSE_CODE]
        present = (chunk.place >= 0) & (cause != 0)
        if not present.any():
            return
        joined = [chunk.place[present], _group(chunk, self.by)[present], cause[present]]
        _, _, first = _cells(joined)
        for row in first.tolist():
            k, g, c = (int(v[row]) for v in joined)
            self.found.add((k, g, c))


def cause_weeks(
    conn: Connection, weeks: list[Period], by: str | None, as_of: int
) -> list[tuple[int, Any, str]]:
    """As `fix_queries.cause_weeks`: (week index, group, root cause) present among the
    complaints first resolved in each of `weeks`."""
    texts, family = Texts(), _CauseWeeks(by)
    read(conn, weeks, as_of, [family], texts)
    found = {(k, texts.values[g], str(texts.values[c])) for k, g, c in family.found}
    return sorted(found, key=lambda row: (row[0], str(row[1]), row[2]))
