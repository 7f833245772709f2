"""The import loop shared by every kind of row: read, validate, reject, write in batches.

Each batch is written with SQLAlchemy Core `executemany` over plain tuples (the DBAPI's own
batch path, no ORM objects) and committed on its own, so a killed import leaves whole batches
and a re-run finds them and counts them as unchanged. `--strict` and `--dry-run` run the same
loop inside one transaction that is committed only if nothing was rejected (strict) or never
(dry run), so their report is exactly what a real run would do.
"""

from __future__ import annotations

import csv
import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from latte_cli import summary, workflow
from latte_cli.db import translate
from latte_cli.importer.fields import (
    Amounts,
    Bad,
    Columns,
    TimeParser,
    check_fields,
    match_columns,
    value_key,
)
from latte_cli.importer.source import Record, Source
from latte_cli.outfiles import OutFile, cannot_write, refuse_unwritable

BATCH_ROWS = 5000
MAX_SHOWN_REJECTS = 20
# Variables per statement stay under SQLite's and PostgreSQL's limits.
IN_CHUNK = 900
IN_SIZES = (1, 8, 64, 300, IN_CHUNK)
IMPORT_CACHE_KIB = 64 * 1024
# Purchases: their writes touch the end of `purchase`'s indexes and the customers' ref index,
# and their grouping sort may use as much memory as the main cache. 64 MiB filled up only in
# bigger databases, so peak RSS grew with the file (107 MiB at 100,000 complaints' purchases,
# 172 MiB at 1,000,000); 8 MiB costs no CPU time measured (docs/architecture.md, "Batch
# import").
PURCHASE_CACHE_KIB = 8 * 1024
# The purchases' staging tables are written in order and read by one scan: a small cache
# does. (A sort, grouping the staged lines, takes up to the main cache again on its own, so
# three caches of 64 MiB went past the 250 MB budget at 500,000 complaints' purchases.)
IMPORT_TEMP_CACHE_KIB = 8 * 1024
UNIX = datetime(1970, 1, 1, tzinfo=UTC)
# New objects between two collections of the cycle collector's youngest generation while
# importing (see `_collector_spared`).
YOUNG_OBJECTS = 50_000
DAY_MICROS = 86_400_000_000
# "00." to "59.": a clock's seconds, as `Store.ts_micros` writes them.
SECONDS = tuple(f"{second:02d}." for second in range(60))


@dataclass(frozen=True)
class ImportOptions:
    kind: str
    path: str
    agent: str
    # (SOURCE, FIELD) pairs from --map; one source column may feed several fields.
    mapping: tuple[tuple[str, str], ...] = ()
    # A profile's (SOURCE, FIELD) pairs: used where the file has the column.
    profile_mapping: tuple[tuple[str, str], ...] = ()
    # --value FIELD:SOURCE=TARGET as {FIELD: {source key: TARGET}} (see fields.value_key).
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    # --set FIELD=VALUE: the value of FIELD where the file has none.
    constants: dict[str, str] = field(default_factory=dict)
    # --allow-dates-from: the earliest date accepted (default fields.EARLIEST).
    earliest: datetime | None = None
    encoding: str | None = None
    format: str | None = None
    date_formats: tuple[str, ...] = ()
    # --decimal-mark: "." or "," in amounts (fields.Amounts).
    decimal_mark: str = "."
    zone: Any = None
    rejects: str | None = None
    strict: bool = False
    dry_run: bool = False
    batch_rows: int = BATCH_ROWS
    # The deadline policy in force (`Settings.deadlines`) fixes imported complaints' due times
    # from their opening (docs/metrics.md, "Deadlines"); None: the standard policy.
    deadlines: Any = None


@dataclass(frozen=True)
class Reject:
    line: int
    column: str
    reason: str


@dataclass
class ImportReport:
    """What an import did. rows = inserted + updated + unchanged + rejected, always (for
    purchases the first three count purchases, not lines: see `lines_accepted`)."""

    kind: str
    source: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    lines_accepted: int | None = None
    unknown_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    rejects_file: str | None = None
    written: bool = False
    dry_run: bool = False
    strict: bool = False
    first_rejects: list[Reject] = field(default_factory=list)


Progress = Callable[[int, int], None]


class Kind(Protocol):
    """One kind of import: complaints, purchases or follow-ups."""

    name: str
    # The SQLite page cache while importing, in KiB (see `_import_cache`).
    cache_kib: int
    aliases: dict[str, tuple[str, ...]]
    # A tuple entry is satisfied by any one of its fields.
    required: tuple[str | tuple[str, ...], ...]
    ignored: tuple[str, ...]

    def parse(self, cells: dict[str, str], run: Run) -> Any: ...

    def key(self, row: Any) -> str | None:
        """What one batch may hold only once; None: any number (purchase lines)."""
        ...

    def write(self, conn: Connection, batch: list[Pending], run: Run) -> None: ...

    def finish(self, conn: Connection, run: Run) -> None: ...


@runtime_checkable
class PositionalKind(Kind, Protocol):
    """A kind that also parses a CSV row straight from its cells (`row_parser`), without a
    dict per row: used when no `--set` or `--value` adjusts the cells."""

    def row_parser(self, positions: dict[str, int], run: Run) -> Callable[[list[str]], Any]:
        """What `parse` gives for a row, from its cells; `positions`: each field's cell."""
        ...


@dataclass(slots=True)
class Pending:
    """A valid row waiting for its batch: the parsed value and the record it came from."""

    row: Any
    record: Record


class Store:
    """How values go to the database without per-value type processing: SQLite stores
    timestamps as text in SQLAlchemy's layout; other databases take aware datetimes."""

    def __init__(self, conn: Connection) -> None:
        self.dialect = conn.dialect
        self.sqlite = conn.dialect.name == "sqlite"
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self._days: dict[int, str] = {}
        # A minute of the day's clock text, "10:00:", made once per minute (at most 1,440).
        self._minutes: dict[int, str] = {}

    def ts(self, moment: datetime | None) -> Any:
        if moment is None or not self.sqlite:
            return moment
        if moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        # SQLAlchemy's SQLite layout, "2026-11-23 10:00:00.000000" (a test pins the equality).
        return moment.isoformat(" ", "microseconds")[:26]

    def ts_micros(self, micros: int) -> Any:
        """`ts` of the time `micros` microseconds after 1970-01-01 UTC, without a datetime on
        SQLite (one per purchase cost more than the rest of writing it): the day's text is
        made once per day."""
        if not self.sqlite:
            return UNIX + timedelta(microseconds=micros)
        day, rest = divmod(micros, DAY_MICROS)
        date = self._days.get(day)
        if date is None:
            date = self._days[day] = (UNIX + timedelta(days=day)).date().isoformat() + " "
        minutes, rest = divmod(rest, 60_000_000)
        second, fraction = divmod(rest, 1_000_000)
        clock = self._minutes.get(minutes)
        if clock is None:
            hour, minute = divmod(minutes, 60)
            clock = self._minutes[minutes] = f"{hour:02d}:{minute:02d}:"
        return date + clock + SECONDS[second] + (f"{fraction:06d}" if fraction else "000000")

    def insert_sql(self, table: str, columns: Sequence[str]) -> str:
        quote = self.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        marks = ", ".join([self.mark] * len(columns))
        return f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})"

    def insert(self, conn: Connection, table: str, columns: Sequence[str], rows: list[Any]) -> None:
        if rows:
            conn.exec_driver_sql(self.insert_sql(table, columns), rows)

    def rows_in(self, conn: Connection, query: str, values: Sequence[Any]) -> Iterator[Any]:
        """The rows of `query` (plain SQL whose `{in}` stands for a list of values) for all
        `values`, a chunk at a time: SQLAlchemy's expanding IN renders each list again for
        every execution, which cost more than the lookup itself. Duplicate values must not
        change the rows (`{in}` is an IN list). Values come back as the
        driver gives them (a timestamp is text on SQLite: compare it with `ts`)."""
        for part in chunks(values):
            # A list's length is one of a few, its last value repeated (the same rows): the
            # driver keeps each distinct statement text prepared, and one per length made
            # memory grow page after page of a purchases import.
            size = next(size for size in IN_SIZES if size >= len(part))
            padded = (*part, *[part[-1]] * (size - len(part)))
            marks = ", ".join([self.mark] * size)
            # All the chunk's rows in one fetch: iterating the result fetched them one by one
            # (a call per customer found, a tenth of a purchases import's page writes).
            yield from conn.exec_driver_sql(query.format(**{"in": marks}), padded).all()


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Rejects:
    """The rejects file: each bad row's original values after where and why, in the input's
    format, so that it can be fixed and imported again. Created on the first reject."""

    def __init__(self, path: Path, source: Source) -> None:
        self.path = path
        self.source = source
        # surrogateescape: a row that was not valid UTF-8 is written back byte for byte.
        self.out = OutFile(path, errors="surrogateescape")
        self.file: IO[str] | None = None
        self.writer: Any = None
        self.keep = [i for i, c in enumerate(source.columns) if not c.startswith("reject_")]

    def add(self, record: Record, reject: Reject) -> None:
        """Write one rejected row; the file is renamed into place by `close` (see outfiles)."""
        try:
            self._add(record, reject)
        except OSError as error:
            self.out.discard()
            raise cannot_write(self.path, error) from None

    def _add(self, record: Record, reject: Reject) -> None:
        if self.file is None:
            self.file = self.out.open()
            if self.source.format == "csv":
                self.writer = csv.writer(self.file)
                header = [self.source.columns[i] for i in self.keep]
                self.writer.writerow(["reject_line", "reject_column", "reject_reason", *header])
        where = [reject.line, reject.column, reject.reason]
        if self.source.format == "csv":
            raw = record.raw if isinstance(record.raw, list) else []
            cells = [raw[i] for i in self.keep if i < len(raw)] + raw[len(self.source.columns) :]
            self.writer.writerow([*where, *cells])
        else:
            raw_obj = record.raw if isinstance(record.raw, dict) else {}
            data = dict(zip(("reject_line", "reject_column", "reject_reason"), where, strict=True))
            data.update({k: v for k, v in raw_obj.items() if not str(k).startswith("reject_")})
            assert self.file is not None
            self.file.write(json.dumps(data, ensure_ascii=False) + "\n")

    def close(self) -> None:
        """Put the rows rejected so far in place, also after an interrupted import: the
        batches before the interruption are saved, and these are their rejects."""
        if self.file is not None:
            self.file = None
            self.out.commit()


def check_rejects(path: Path) -> None:
    """Refuse a --rejects file that cannot be written before anything is imported. The
    default one beside the input is not checked: a clean import from a folder latte may not
    write to needs none."""
    refuse_unwritable(path, "--rejects")


def default_rejects(path: str, fmt: str) -> Path:
    suffix = ".rejects.jsonl" if fmt == "jsonl" else ".rejects.csv"
    if path == "-":
        return Path(f"latte-import{suffix}")
    source = Path(path)
    return source.with_name(source.name.rsplit(".", 1)[0] + suffix)


@dataclass
class Run:
    """The state of one import while it runs."""

    options: ImportOptions
    report: ImportReport
    columns: Columns
    store: Store
    times: TimeParser
    now: datetime
    rejects: Rejects
    # The file's amounts: the decimal mark, and the currency its first amount with one named.
    amounts: Amounts = field(default_factory=Amounts)

    @property
    def importer(self) -> str:
        """Who imported rows without an agent column: the file, never the login that ran it
        (docs/architecture.md, "Batch import")."""
        return f"{workflow.IMPORTED_BY}{Path(self.report.source).name}"[:100]

    def transaction(self, conn: Connection) -> AbstractContextManager[Any]:
        """A transaction per batch, or nothing when the whole import is one transaction."""
        if self.options.strict or self.options.dry_run:
            return nullcontext()
        return conn.begin()

    def reject(self, record: Record, field_name: str | None, reason: str) -> None:
        column = self.columns.by_field.get(field_name, field_name) if field_name else ""
        reject = Reject(record.line, column or "", reason)
        self.report.rejected += 1
        if len(self.report.first_rejects) < MAX_SHOWN_REJECTS:
            self.report.first_rejects.append(reject)
        self.rejects.add(record, reject)


def run_import(
    url: str,
    engine: Engine,
    kind: Kind,
    options: ImportOptions,
    source: Source,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import the opened source; see the module docstring for how it is written."""
    try:
        with _collector_spared():
            return _run(url, engine, kind, options, source, progress, now or datetime.now(UTC))
    except DBAPIError as error:
        raise translate(error, url) from None


@contextmanager
def _collector_spared() -> Iterator[None]:
    """Keep the objects alive before the import (modules, SQLAlchemy's tables and compiled
    statements) out of the cycle collector's full passes: an import allocates a few objects
    per cell, and each full pass walked all of them again (a fifth of a purchases import's
    CPU time; docs/architecture.md, "Batch import"). The youngest generation is collected
    every 50,000 new objects rather than 700: the rows, cells and records an import makes are
    freed by reference counting (they hold no cycles), and each young pass walked the batch's
    waiting rows again (a thirtieth of a purchases import's CPU time)."""
    gc.collect()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _columns_of(source: Source, kind: Kind, options: ImportOptions) -> Columns:
    if source.format == "csv":
        names = source.columns
    else:
        try:
            data = json.loads(source._first)
        except ValueError:
            data = {}
        names = [str(k) for k in data] if isinstance(data, dict) else []
    check_fields(options.values, kind.aliases, "--value")
    check_fields(options.constants, kind.aliases, "--set")
    return match_columns(
        names,
        kind.aliases,
        required=kind.required,
        mapping=options.mapping,
        ignored=kind.ignored,
        constants=options.constants,
        optional=options.profile_mapping,
    )


def _run(
    url: str,
    engine: Engine,
    kind: Kind,
    options: ImportOptions,
    source: Source,
    progress: Progress | None,
    now: datetime,
) -> ImportReport:
    """Import the open source: every record is rejected with its reason or written in a
    batch; see the module docstring for the transactions."""
    columns = _columns_of(source, kind, options)
    report = ImportReport(
        kind=kind.name,
        source=source.name,
        unknown_columns=columns.unknown,
        ignored_columns=columns.ignored,
        dry_run=options.dry_run,
        strict=options.strict,
    )
    rejects_path = (
        Path(options.rejects) if options.rejects else default_rejects(options.path, source.format)
    )
    if options.rejects:
        check_rejects(rejects_path)
    times = TimeParser(options.date_formats, options.zone, now=now, earliest=options.earliest)
    with engine.connect() as conn, _import_cache(conn, kind.cache_kib):
        run = Run(
            options,
            report,
            columns,
            Store(conn),
            times,
            now,
            Rejects(rejects_path, source),
            Amounts(options.decimal_mark),
        )
        try:
            if options.strict or options.dry_run:
                conn.begin()
            _import_records(conn, run, kind=kind, source=source, progress=progress)
            kind.finish(conn, run)
            _end_transaction(conn, run)
        finally:
            run.rejects.close()
            if progress is not None:
                progress(report.rows, source.bytes_read)
    _settle_rejects_file(report, rejects_path, options)
    return report


@contextmanager
def _import_cache(conn: Connection, cache_kib: int) -> Iterator[None]:
    """A bigger SQLite page cache while importing: the UNIQUE indexes outgrow the default
    2 MiB after a few hundred thousand rows. Reset before the connection goes back to the
    pool, after rolling back whatever an interrupted import left open."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql(f"PRAGMA cache_size = -{cache_kib}")
    # The purchases' staging tables live in the temp schema, which has its own cache.
    conn.exec_driver_sql(f"PRAGMA temp.cache_size = -{IMPORT_TEMP_CACHE_KIB}")
    conn.commit()
    try:
        yield
    finally:
        # Interrupted inside a statement (Ctrl-C), SQLAlchemy drops the driver's connection:
        # there is nothing to reset, and a statement on a new one would wait out the busy
        # timeout for the write lock the dropped one holds until the process ends.
        if not conn.invalidated:
            if conn.in_transaction():
                conn.rollback()
            conn.exec_driver_sql("PRAGMA cache_size = -2000")
            conn.exec_driver_sql("PRAGMA temp.cache_size = -2000")
            conn.commit()


class _Batch:
    """Valid rows waiting to be written. A row whose key is already waiting writes the batch
    first, so that one batch never holds two rows for the same key."""

    def __init__(self, conn: Connection, run: Run, kind: Kind) -> None:
        self.conn = conn
        self.run = run
        self.kind = kind
        self.size = run.options.batch_rows
        self.rows: list[Pending] = []
        self.keys: set[str] = set()

    def add(self, pending: Pending, key: str | None) -> None:
        if key is not None:
            if key in self.keys:
                self.flush()
            self.keys.add(key)
        self.rows.append(pending)
        if len(self.rows) >= self.size:
            self.flush()

    def flush(self) -> None:
        """Write the waiting rows and fold them into the report summary, in the batch's own
        transaction (or the import's one transaction)."""
        if not self.rows:
            return
        with self.run.transaction(self.conn):
            self.kind.write(self.conn, self.rows, self.run)
            summary.fold(self.conn)
        self.rows.clear()
        self.keys.clear()


def _import_records(
    conn: Connection, run: Run, *, kind: Kind, source: Source, progress: Progress | None
) -> None:
    """Every record of the source: rejected with its reason, or parsed and batched."""
    report, columns = run.report, run.columns
    cells_of = _csv_cells(source.columns, columns) if source.format == "csv" else None
    batch = _Batch(conn, run, kind)
    constants, value_maps = run.options.constants, run.options.values
    adjust = bool(constants or value_maps)
    row_of = None
    if cells_of is not None and not adjust and isinstance(kind, PositionalKind):
        row_of = kind.row_parser(_positions(source.columns, columns), run)
    # Bound once: this loop runs for every row of the file.
    parse, key, add, reject = kind.parse, kind.key, batch.add, run.reject
    for record in source.records():
        report.rows += 1
        if record.problem:
            reject(record, None, record.problem)
        elif row_of is not None and record.cells is not None:
            try:
                row = row_of(record.cells)
            except Bad as bad:
                reject(record, bad.field, bad.reason)
            else:
                add(Pending(row, record), key(row))
        else:
            if cells_of is None or record.cells is None:
                cells = _json_cells(record, columns, kind, run.options, report)
            else:
                cells = cells_of(record.cells)
            if adjust:
                cells = _adjust(cells, constants, value_maps)
            try:
                row = parse(cells, run)
            except Bad as bad:
                reject(record, bad.field, bad.reason)
            else:
                add(Pending(row, record), key(row))
        if progress is not None and report.rows % 1000 == 0:
            progress(report.rows, source.bytes_read)
    batch.flush()


def _positions(header: list[str], columns: Columns) -> dict[str, int]:
    """Each matched field's cell in a CSV row (a row read without a problem has as many
    cells as the header; of two columns with one name, the last counts)."""
    position = {name: i for i, name in enumerate(header)}
    return {f: position[c] for f, c in columns.by_field.items()}


def _csv_cells(header: list[str], columns: Columns) -> Callable[[list[str]], dict[str, str]]:
    """A CSV row's cells by field, taken by position (see `_positions`)."""
    position = _positions(header, columns)
    names = tuple(position)
    if not names:
        return lambda cells: {}
    take = itemgetter(*position.values())
    if len(names) == 1:
        return lambda cells: {names[0]: take(cells)}
    return lambda cells: dict(zip(names, take(cells)))  # noqa: B905  (`take` gives one each)


def _adjust(
    cells: dict[str, str], constants: dict[str, str], value_maps: dict[str, dict[str, str]]
) -> dict[str, str]:
    """Apply `--set` where a cell is empty, then `--value` to the cells it names."""
    for name, constant in constants.items():
        if not cells.get(name, "").strip():
            cells[name] = constant
    for name, table in value_maps.items():
        cell = cells.get(name)
        if cell:
            target = table.get(value_key(cell))
            if target is not None:
                cells[name] = target
    return cells


def _end_transaction(conn: Connection, run: Run) -> None:
    """Batches were committed as they were written. A strict run's one transaction is
    committed only if nothing was rejected; a dry run's, never."""
    options, report = run.options, run.report
    if not (options.strict or options.dry_run):
        report.written = True
    elif options.dry_run or report.rejected:
        conn.rollback()
    else:
        conn.commit()
        report.written = True


def _settle_rejects_file(report: ImportReport, path: Path, options: ImportOptions) -> None:
    """Name the rejects file in the report, or remove a stale one from an earlier run: it
    would tell a script that rows are still bad. A file named with --rejects is kept."""
    if report.rejected:
        report.rejects_file = str(path)
    elif path.exists() and options.rejects is None:
        path.unlink()


def _json_cells(
    record: Record, columns: Columns, kind: Kind, options: ImportOptions, report: ImportReport
) -> dict[str, str]:
    """A JSON record's cells by field. Each record may have its own keys: new keys are
    matched like the header of a CSV file and reported once if unknown."""
    values = record.values
    cells = {f: values.get(c, "") for f, c in columns.by_field.items()}
    extra = [
        k
        for k in values
        if k not in columns.by_field.values()
        and k not in columns.unknown
        and k not in columns.ignored
    ]
    if extra:
        more = match_columns(
            extra,
            {f: a for f, a in kind.aliases.items() if f not in columns.by_field},
            required=(),
            mapping=(),
            ignored=kind.ignored,
        )
        for f, c in more.by_field.items():
            columns.by_field[f] = c
            cells[f] = values.get(c, "")
        columns.unknown.extend(more.unknown)
        columns.ignored.extend(more.ignored)
        report.unknown_columns = columns.unknown
        report.ignored_columns = columns.ignored
    return cells
