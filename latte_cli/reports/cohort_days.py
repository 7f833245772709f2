"""The cohort summary's day rows, read and decoded once per report (docs/architecture.md,
"Reports over long periods").

A report's cohort figures (`summarised.CohortFigures`), and on what to fix the cohort cells,
remedies, "what will change" texts and recurring causes (`fix_summarised`), all read the same
day rows of `report_cohort` (`latte_cli.cohort`). `read` streams the period's UTC days
32 days at a time, decodes each chunk once (records, codes as text numbers, the entries of
the blobs asked, each joined to its record) and hands it to every figure family asked, so no
day is read or decoded twice and no more than a chunk of decoded days is held at once.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from latte_cli import cohort
from latte_cli.reports.fix_queries import kept_pair_texts, window_over_after
from latte_cli.reports.hours import BusinessClock
from latte_cli.reports.periods import Period

Ints = npt.NDArray[np.int64]
T = TypeVar("T")
DAY = cohort.DAY
# The layouts of `cohort.RECORD`, `cohort.SCORE`, `cohort.REMEDY` and `cohort.CHANGE`
# (packed, little-endian).
RECORD = np.dtype(
    [
        ("id", "<i8"),
        ("opened", "<i4"),
        ("resolved", "<i4"),
        ("acknowledged", "<i4"),
        ("stages", "<i4", (len(cohort.STAGES),)),
        ("reopened", "<i4"),
        ("followed", "<i4"),
        ("said", "<i4"),
        ("satisfied", "<i4"),
        ("customer", "<i1"),
        ("codes", "<i4", (len(cohort.CODES),)),
    ]
)
SCORE = np.dtype([("id", "<i8"), ("recorded", "<i4"), ("nps", "<i4")])
REMEDY = np.dtype([("id", "<i8"), ("completed", "<i4"), ("code", "<i4"), ("cents", "<i8")])
CHANGE = np.dtype([("id", "<i8"), ("completed", "<i4"), ("code", "<i4")])
LAYOUTS = {"scores": SCORE, "remedies": REMEDY, "changes": CHANGE}
assert RECORD.itemsize == cohort.RECORD.size and SCORE.itemsize == cohort.SCORE.size
assert REMEDY.itemsize == cohort.REMEDY.size and CHANGE.itemsize == cohort.CHANGE.size
# The speed buckets' upper limits in seconds (`queries.speed_bucket`).
SPEED_LIMITS = np.array((4 * 3600, 24 * 3600, 72 * 3600), np.int64)
# Days read at a time: a full history's chunk of 64 days holds tens of MB of intermediate
# arrays; 32 days' raised a full history's peak by about 15 MB over 16 days' (to at most
# 217 MB) and saved 2 to 3 % of its CPU time (half the index reads and per-chunk steps).
DAYS = 32


# A complaint id in the bits below a chunk's day index: (day, id) as one sortable integer.
ID_BITS = 43


def _day_of(rows: Sequence[Any], column: int, size: int) -> Ints:
    """Per entry of the blobs in `column` of the chunk's day rows laid end to end: the index
    of its day in the chunk."""
    counts = [len(row[column]) // size for row in rows]
    return np.repeat(np.arange(len(rows), dtype=np.int64), counts)


def _rank(ids: Ints, ranks: Ints | None) -> Ints:
    """The ids themselves, or their positions in the sorted `ranks` (ids too large)."""
    if ranks is None:
        return ids.astype(np.int64)
    return np.searchsorted(ranks, ids).astype(np.int64)


def order_of(key: npt.NDArray[Any], bound: int, *, stable: bool = True) -> Ints:
    """The order of `key` (non-negative integers below `bound`): when they fit in 16 bits,
    numpy's stable sort of them is a radix sort, a fraction of a comparison sort's time (a
    full history's million records); else a comparison sort, stable if asked."""
    if bound <= 1 << 16:
        return np.argsort(key.astype(np.uint16), kind="stable")
    return np.argsort(key, kind="stable" if stable else None)


def integers(text: str | None) -> Ints:
    """Comma-separated integers, in order (parsed in C: no Python int per value)."""
    return np.fromstring(text, dtype=np.int64, sep=",") if text else np.zeros(0, np.int64)


class Texts:
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

    def numbers(self, names: list[str | None], used: Sequence[Ints]) -> Ints:
        """Per position of `names`: its text number, looked up only for the positions in
        `used` (one Python look-up per name a chunk uses, not per code)."""
        marked = np.zeros(len(names), np.bool_)
        for positions in used:
            marked[positions] = True
        table = np.zeros(len(names), np.int64)
        wanted = np.flatnonzero(marked).tolist()
        table[wanted] = [self.of(names[i]) for i in wanted]
        return table


class Columns:
    """Per-record values a family keeps across chunks, written into one array per name sized
    once for the whole read (`Chunk.total`, every record of its days: a bound), not kept as
    a small array per chunk. Small arrays that outlive their chunk sit among the chunk's
    freed buffers and keep the allocator from reusing or returning that memory: a full
    history's report peaked about 100 MB above what it held."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.arrays: dict[str, npt.NDArray[Any]] = {}
        self.used: dict[str, int] = {}

    def add(self, name: str, values: npt.NDArray[Any]) -> None:
        found = self.arrays.get(name)
        n = self.used.get(name, 0)
        if found is None:
            # np.empty: the pages past what is written are never touched.
            found = self.arrays[name] = np.empty(self.size, values.dtype)
        elif np.result_type(found, values) != found.dtype:  # a wider chunk (as concatenating)
            found = self.arrays[name] = found.astype(np.result_type(found, values))
        if n + len(values) > len(found):  # more than the bound (a day's count out of date)
            grown = np.empty(max(2 * len(found), n + len(values)), found.dtype)
            grown[:n] = found[:n]
            found = self.arrays[name] = grown
        found[n : n + len(values)] = values
        self.used[name] = n + len(values)

    def parts(self, name: str) -> list[npt.NDArray[Any]]:
        """What was written under `name`, as a list of one array (none when nothing was)."""
        n = self.used.get(name, 0)
        return [self.arrays[name][:n]] if n else []


@dataclass
class Source:
    """What the outcome look-ups of a chunk need. `summed_before`: the revenue kept summed
    at write time is read with the buyers for the records first resolved before it (None:
    not asked, or another window)."""

    conn: Connection
    as_of: int
    window: int
    repeat: int
    summed_before: int | None = None
    clock: BusinessClock | None = None  # the report's business hours (None: the calendar)

    def look_up(self, name: str, lo: int, last: int) -> Any:
        """The texts of one outcome look-up (`bought`, `again` or `pairs`) of the records
        first resolved in [lo, last]: SQL only, so that `read` can run it in its reading
        thread (`ahead`) while the caller decodes and groups the chunk before."""
        if name == "bought":
            if self.window <= cohort.KEPT_WINDOW:
                return cohort.bought_and_kept(
                    self.conn, lo, last, self.window, self.as_of, self.summed_before
                )
            return cohort.bought(self.conn, lo, last, self.window, self.as_of), None, None
        if name == "again":
            return cohort.came_again(self.conn, lo, last, self.repeat, self.as_of)
        assert name == "pairs"
        return list(
            kept_pair_texts(
                self.conn, lo, last, self.as_of, window=self.window,
                summed_before=self.summed_before,
            )
        )  # fmt: skip


@dataclass
class Chunk:
    """A chunk of days: every record (`place` -1 when in none of the periods or after the
    as-of time), the text numbers of the code columns asked, and per blob asked its entries
    with the index of their record and the text number of their code (None for scores)."""

    lo: int
    last: int
    records: Any
    place: Ints
    source: Source
    total: int  # records in all the days of the read
    codes: dict[int, Ints] = field(default_factory=dict)
    entries: dict[str, tuple[Any, Ints, Ints | None]] = field(default_factory=dict)
    _found: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict)
    _speed: tuple[Ints, Ints] | None = None
    _by_id: tuple[Ints, Ints] | None = None
    _summed: tuple[Ints, Ints] | None = None
    _inside: tuple[npt.NDArray[np.bool_], Any] | None = None
    _pairs: tuple[Ints, Ints, Ints] | None = None
    # The texts of the outcome look-ups already made (`Source.look_up`), by name.
    looked_up: dict[str, Any] = field(default_factory=dict)

    def _look_up(self, name: str) -> Any:
        if name in self.looked_up:
            return self.looked_up.pop(name)
        return self.source.look_up(name, self.lo, self.last)

    def speed(self) -> tuple[Ints, Ints]:
        """Per record: (resolution seconds on the report's clock, speed bucket), computed once
        for every family."""
        if self._speed is None:
            records = self.records
            opened = records["opened"].astype(np.int64)
            resolved = records["resolved"].astype(np.int64)
            clock = self.source.clock
            seconds = resolved - opened if clock is None else clock.seconds_of(opened, resolved)
            bucket = np.searchsorted(SPEED_LIMITS, seconds, "right").astype(np.int64)
            self._speed = (seconds, bucket)
        return self._speed

    def record_of(self, ids: Ints) -> tuple[Ints, npt.NDArray[np.bool_]]:
        """Per complaint id: the index of its record in the chunk, and whether it has one
        (the records' ids sorted once per chunk)."""
        if self._by_id is None:
            order = np.argsort(self.records["id"])  # ids are distinct
            self._by_id = (self.records["id"][order], order)
        ordered, order = self._by_id
        if not len(ordered):
            return np.zeros(len(ids), np.int64), np.zeros(len(ids), np.bool_)
        at = np.minimum(np.searchsorted(ordered, ids), len(ordered) - 1)
        return order[at], ordered[at] == ids

    def bought(self) -> npt.NDArray[np.bool_]:
        """Per record: its customer bought again within the window, by the as-of time (one
        pass over an index of `report_outcome`, shared by every figure family): for a window
        up to `cohort.KEPT_WINDOW`, with the revenue kept summed at write time when asked
        (`summed`), else over `ix_report_outcome_bought`."""
        if "bought" not in self._found:
            text, alone, cents_text = self._look_up("bought")
            if alone is not None:
                ids, cents = integers(alone), integers(cents_text)
                assert len(ids) == len(cents)  # one aggregate's rows, in one order
                at, found = self.record_of(ids)
                self._summed = (at[found], cents[found])
            self._found["bought"] = self.marked(integers(text))
        return self._found["bought"]

    def summed(self) -> tuple[Ints, Ints]:
        """(record index, cents) of the complaints whose revenue kept was summed at write time
        (`cohort.bought_and_kept`, with `Source.summed_before`), read with the buyers."""
        self.bought()
        return self._summed or (np.zeros(0, np.int64), np.zeros(0, np.int64))

    def again(self) -> npt.NDArray[np.bool_]:
        """Per record: its customer complained again within the repeat window, by as-of."""
        if "again" not in self._found:
            self._found["again"] = self.marked(integers(self._look_up("again")))
        return self._found["again"]

    def marked(self, ids: Ints) -> npt.NDArray[np.bool_]:
        """Per record: whether its id is among `ids` (in any order). Each id looked up among
        the records' ids sorted once per chunk (`record_of`), not each record among the ids:
        no sort of the ids and a search per id, not per record."""
        at, found = self.record_of(ids)
        marked = np.zeros(len(self.records), np.bool_)
        marked[at[found]] = True
        return marked

    def pairs(self) -> tuple[Ints, Ints, Ints]:
        """(complaint, purchase id, cents) of the revenue kept pairs of the chunk's range that
        are not summed at write time (`fix_queries.kept_pair_texts`, with the read's window
        and `Source.summed_before`), in one order."""
        if self._pairs is None:
            parts = [[integers(text) for text in three] for three in self._look_up("pairs")]
            if parts:
                cid, pid, cents = (np.concatenate(column) for column in zip(*parts, strict=True))
            else:
                cid = pid = cents = np.zeros(0, np.int64)
            assert len(cid) == len(pid) == len(cents)  # one aggregate's rows, in one order
            self._pairs = (cid, pid, cents)
        return self._pairs

    def inside(self) -> tuple[npt.NDArray[np.bool_], Any]:
        """(per record: in one of the periods, the records that are), computed once for
        every family: the records copied out of the chunk once, not once per family."""
        if self._inside is None:
            inside = self.place >= 0
            # Every record placed (most chunks of a long period): the records themselves.
            self._inside = (inside, self.records if inside.all() else self.records[inside])
        return self._inside


class Family(Protocol):
    """A figure family fed by `read`: the code columns and blobs it needs, and what it does
    with each chunk. One with a true attribute `summed` is handed the revenue kept summed at
    write time (`Chunk.summed`); one with an attribute `lookups` names the chunk's outcome
    look-ups it uses (`Source.look_up`), which `read` makes in its reading thread."""

    @property
    def columns(self) -> Sequence[int]: ...

    @property
    def blobs(self) -> Sequence[str]: ...

    def add(self, chunk: Chunk) -> None: ...


def read(
    conn: Connection,
    periods: Sequence[Period],
    as_of: int,
    families: Sequence[Family],
    texts: Texts,
    *,
    window: int = 0,
    repeat: int = 0,
    clock: BusinessClock | None = None,
) -> None:
    """Stream the days of `periods` (records placed by their first resolution) once, handing
    each decoded chunk to every family in turn; resolution seconds on `clock` when given."""
    columns = sorted({column for family in families for column in family.columns})
    wanted = {blob for family in families for blob in family.blobs}
    blobs = [blob for blob in cohort.BLOBS if blob in wanted and blob != "records"]
    # A family that sums revenue kept (`fix_summarised.KeptRevenue`) asks for the sums kept
    # at write time with the buyers: one pass over the outcome index for both.
    summed = window == cohort.KEPT_WINDOW and any(getattr(f, "summed", False) for f in families)
    summed_before = window_over_after(as_of, window) if summed else None
    source = Source(conn, as_of, window, repeat, summed_before, clock)
    lookups = sorted({name for family in families for name in getattr(family, "lookups", ())})
    for chunk in _chunks(conn, periods, as_of, texts, columns, blobs, source, lookups):
        for family in families:
            family.add(chunk)


def ahead(items: Iterator[T]) -> Iterator[T]:
    """`items`, each produced in a second thread while the caller works on the one before
    (docs/architecture.md, "Reports over long periods": the day rows and the outcome
    look-ups of a chunk of days are read, in SQLite or the server with the interpreter
    released, while the chunk before is decoded and grouped). Only that thread uses the
    connection until `items` is exhausted or the caller stops early, and it has ended when
    this returns: its error is raised here, in the caller's thread."""
    handed: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand((True, item)):
                    return
            hand((False, None))
        except BaseException as error:  # handed to the caller's thread, raised there
            hand((False, error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()  # its cursor, in the thread that opened it

    thread = threading.Thread(target=produce, name="latte-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            more, item = handed.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _chunks(
    conn: Connection,
    periods: Sequence[Period],
    as_of: int,
    texts: Texts,
    columns: Sequence[int],
    blobs: Sequence[str],
    source: Source,
    lookups: Sequence[str] = (),
) -> Iterator[Chunk]:
    order = np.argsort([p.start for p in periods], kind="stable")
    starts = np.array([periods[i].start for i in order], np.int64)
    ends = np.array([periods[i].end for i in order], np.int64)
    lo, last = int(starts.min()), min(int(ends.max()) - 1, as_of)
    if last < lo:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    total = conn.exec_driver_sql(
        f"SELECT coalesce(sum(n), 0) FROM report_cohort WHERE day >= {mark} AND day <= {mark}",
        (lo // DAY, last // DAY),
    ).scalar_one()
    fetched = _fetched(source, lo, last, blobs, lookups)
    for rows, looked_up in ahead(fetched):
        # Every day's names one after the other, each day's followed by no value (its code
        # -1): a code becomes a position in `names` by adding its day's base.
        names: list[str | None] = []
        bases, nones = [], []
        for row in rows:
            bases.append(len(names))
            names += json.loads(row[1])
            names.append(None)
            nones.append(len(names) - 1)
        # The chunk's records and each blob's entries decoded at once, not day by day (a
        # year is 730 days of a few numpy calls each).
        joined = np.frombuffer(b"".join(row[2] for row in rows), RECORD)
        if not len(joined):
            continue
        day_of = _day_of(rows, 2, RECORD.itemsize)
        base_of, none_of = np.array(bases)[day_of], np.array(nones)[day_of]
        stored = joined["codes"][:, list(columns)].astype(np.int64)
        positions = np.where(stored < 0, none_of[:, None], stored + base_of[:, None])
        # Records sorted by (day, id): each entry finds its record by the same key, the id
        # as its rank among the chunk's ids if it does not fit below the day.
        ids = joined["id"]
        ranks = np.unique(ids) if int(ids.max()) >> ID_BITS or int(ids.min()) < 0 else None
        keys = day_of << ID_BITS | _rank(ids, ranks)
        entries: dict[str, tuple[Any, Ints, Ints | None]] = {}
        for i, name in enumerate(blobs, start=3):
            found = np.frombuffer(b"".join(row[i] for row in rows), LAYOUTS[name])
            entry_day = _day_of(rows, i, LAYOUTS[name].itemsize)
            wanted = entry_day << ID_BITS | _rank(found["id"], ranks)
            at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
            known = (keys[at] == wanted) & (ids[at] == found["id"])
            if not known.all():  # not expected: kept out if so
                found, at, entry_day = found[known], at[known], entry_day[known]
            code = None
            if "code" in (LAYOUTS[name].names or ()):
                code = found["code"].astype(np.int64)
                code = np.where(
                    code < 0, np.array(nones)[entry_day], code + np.array(bases)[entry_day]
                )
            entries[name] = (found, at, code)
        used = [positions.ravel()]
        used += [code for _, _, code in entries.values() if code is not None]
        table = texts.numbers(names, used)
        resolved = joined["resolved"].astype(np.int64)
        at_start = np.searchsorted(starts, resolved, "right") - 1
        inside = (at_start >= 0) & (resolved <= last)
        inside &= resolved < ends[np.maximum(at_start, 0)]
        place = np.where(inside, order[np.maximum(at_start, 0)], -1).astype(np.int64)
        chunk = Chunk(
            *_span(rows, lo, last),
            records=joined,
            place=place,
            source=source,
            total=int(total),
            codes={column: table[positions[:, i]] for i, column in enumerate(columns)},
            looked_up=looked_up,
        )
        for name, (found, at, code) in entries.items():
            chunk.entries[name] = (found, at, None if code is None else table[code])
        yield chunk


def _span(rows: Sequence[tuple[Any, ...]], lo: int, last: int) -> tuple[int, int]:
    """The first and last second of a chunk of day rows, within the read's [lo, last]."""
    return max(lo, rows[0][0] * DAY), min(last, rows[-1][0] * DAY + DAY - 1)


def _fetched(
    source: Source, lo: int, last: int, blobs: Sequence[str], lookups: Sequence[str]
) -> Iterator[tuple[list[tuple[Any, ...]], dict[str, Any]]]:
    """The day rows of [lo, last], `DAYS` at a time, each chunk with the texts of its outcome
    look-ups (`Source.look_up`): all that a chunk needs from the database, read in `ahead`'s
    thread."""
    wanted = ("records", *blobs)
    for rows in cohort.records_between(source.conn, lo // DAY, last // DAY, DAYS, wanted):
        first, end = _span(rows, lo, last)
        yield rows, {name: source.look_up(name, first, end) for name in lookups}
