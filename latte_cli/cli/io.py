"""`latte import` and `latte export`: batch files for scripts and other help desks."""

from __future__ import annotations

import csv
import inspect
import json
import sys
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from latte_cli.cli import options
from latte_cli.cli.app import LatteGroup, app, globals_of
from latte_cli.decimal_marks import DecimalMark
from latte_cli.errors import InvalidValue

if TYPE_CHECKING:
    from latte_cli.importer import ImportReport

import_app = typer.Typer(
    cls=LatteGroup,
    no_args_is_help=True,
    help="Import CSV or JSONL files (see README): complaints, purchases, followups.",
)
export_app = typer.Typer(
    cls=LatteGroup,
    no_args_is_help=True,
    help="Export as CSV or JSONL: complaints, purchases, followups.",
)
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")

EXIT_REJECTED = 3
MAX_SHOWN_COLUMNS = 20
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@")
# The kinds whose files hold amounts, read with --decimal-mark (a follow-up has none).
AMOUNT_KINDS = ("complaints", "purchases")


class FileFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


FileArg = Annotated[str, typer.Argument(metavar="FILE", help="CSV or JSONL file; - for stdin.")]
MapOption = Annotated[
    list[str] | None,
    typer.Option("--map", help="SOURCE=FIELD: read column SOURCE as FIELD (repeatable)."),
]
ValueOption = Annotated[
    list[str] | None,
    typer.Option(
        "--value",
        help="FIELD:SOURCE=TARGET: read value SOURCE of FIELD as TARGET, ignoring case "
        "(repeatable).",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="FIELD=VALUE: FIELD's value where the file has none (repeatable)."),
]
AllowDatesOption = Annotated[
    str | None,
    typer.Option(
        "--allow-dates-from",
        metavar="DATE",
        help="Accept dates from DATE on. Default: 1970-01-01 (earlier ones are rejected).",
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="FILE",
        help="TOML file of import options, or a shipped profile's name (zendesk, servicenow, "
        "cfpb). Flags win.",
    ),
]
SaveProfileOption = Annotated[
    str | None,
    typer.Option("--save-profile", metavar="FILE", help="Write this run's options to FILE."),
]
EncodingOption = Annotated[
    str | None, typer.Option(help="The file's encoding. Default: UTF-8 (with or without BOM).")
]
FormatOption = Annotated[
    FileFormat | None,
    typer.Option("--format", help="csv or jsonl. Default: from the name or the content."),
]


def _date_formats(patterns: list[str] | None) -> list[str] | None:
    """Refuse a pattern that cannot read a date before anything is read (an invalid value)."""
    from latte_cli.importer.fields import date_format_problem

    for pattern in patterns or ():
        problem = date_format_problem(pattern)
        if problem:
            raise typer.BadParameter(
                f"{pattern!r}: {problem} (use e.g. %d/%m/%Y).",
                param_hint="--date-format",
            )
    return patterns


DateFormatOption = Annotated[
    list[str] | None,
    typer.Option(
        "--date-format",
        help="strftime pattern for dates that are not ISO 8601, e.g. %m/%d/%Y (repeatable).",
        callback=_date_formats,
    ),
]
DecimalMarkOption = Annotated[
    DecimalMark | None,
    typer.Option(
        "--decimal-mark",
        help="The decimal mark of amounts: . (1,234.50) or , (1.234,50). Default: .",
    ),
]
RejectsOption = Annotated[
    str | None,
    typer.Option(help="Where to write rejected rows. Default: FILE.rejects.csv beside FILE."),
]
StrictFlag = Annotated[bool, typer.Option("--strict", help="Write nothing if any row is bad.")]
DryRunFlag = Annotated[
    bool, typer.Option("--dry-run", help="Write nothing; report what would happen.")
]


def _import(
    ctx: typer.Context,
    *,
    kind: str,
    file: str,
    mapping: list[str] | None,
    value: list[str] | None,
    constant: list[str] | None,
    allow_dates_from: str | None,
    profile: str | None,
    save_profile: str | None,
    encoding: str | None,
    file_format: FileFormat | None,
    date_format: list[str] | None,
    decimal_mark: DecimalMark | None,
    tz: str | None,
    rejects: str | None,
    strict: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    from latte_cli.cli import render
    from latte_cli.importer import ImportOptions, import_file, profiles
    from latte_cli.importer.fields import parse_constants, parse_mapping, parse_values
    from latte_cli.timeutil import EARLIEST_ALLOWED, parse_when

    g = globals_of(ctx)
    chosen = profiles.Profile(
        format=file_format.value if file_format else None,
        encoding=encoding,
        zone=tz,
        date_formats=tuple(date_format or ()),
        decimal_mark=decimal_mark.value if decimal_mark else None,
        allow_dates_from=allow_dates_from,
        mapping=parse_mapping(mapping or ()),
        constants=parse_constants(constant or ()),
        values=parse_values(value or ()),
    )
    if profile:
        loaded = profiles.load(profile)
        if loaded.kind not in (None, kind):
            raise InvalidValue(
                f"--profile {profile} is for {loaded.kind}, not {kind}: "
                f"use latte import {loaded.kind}."
            )
        chosen = profiles.merge(loaded, chosen)
    if kind not in AMOUNT_KINDS:
        # A profile may serve several kinds; its decimal mark is for those with amounts.
        chosen = replace(chosen, decimal_mark=None)
    earliest = None
    if chosen.allow_dates_from:
        earliest = parse_when(chosen.allow_dates_from, what="--allow-dates-from", assume=g.tz)
        if earliest < EARLIEST_ALLOWED:
            raise InvalidValue(
                f"--allow-dates-from {chosen.allow_dates_from}: latte stores dates from "
                "1902-01-01 on. Give a later date."
            )
    options = ImportOptions(
        kind=kind,
        path=file,
        agent=g.agent,
        mapping=chosen.mapping,
        profile_mapping=chosen.profile_mapping,
        values=chosen.values,
        constants=chosen.constants,
        earliest=earliest,
        encoding=chosen.encoding,
        format=chosen.format,
        date_formats=chosen.date_formats,
        decimal_mark=chosen.decimal_mark or ".",
        zone=g.settings(tz=chosen.zone).tz,
        rejects=rejects,
        strict=strict,
        dry_run=dry_run,
        deadlines=g.settings().deadlines if kind == "complaints" else None,
    )
    if save_profile:
        profiles.check_save(save_profile)
    show_progress = render.err_console.is_terminal and not as_json
    if show_progress:
        report = _with_progress(g.db_url, options, file, g.busy_timeout_ms)
    else:
        report = import_file(g.db_url, options, busy_timeout_ms=g.busy_timeout_ms)
    if save_profile:
        profiles.save(replace(chosen, kind=kind), save_profile)
    if as_json:
        render.print_json(report_json(report))
    else:
        _show_report(report)
    if report.rejected:
        raise typer.Exit(EXIT_REJECTED)


def _with_progress(url: str, options: Any, file: str, busy_timeout_ms: int) -> ImportReport:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from latte_cli.cli import render
    from latte_cli.importer import import_file

    size = None if file == "-" else Path(file).stat().st_size
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:,} rows · {task.fields[rate]:,.0f} rows/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=render.err_console, transient=True) as bar:
        task = bar.add_task(f"Importing {options.kind}", total=size, rows=0, rate=0.0)

        def update(rows: int, read: int) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = rows / elapsed if elapsed > 0 else 0.0
            bar.update(task, completed=read, rows=rows, rate=rate)

        return import_file(url, options, progress=update, busy_timeout_ms=busy_timeout_ms)


def report_json(report: ImportReport) -> dict[str, Any]:
    return {
        "kind": report.kind,
        "source": report.source,
        "rows": report.rows,
        "inserted": report.inserted,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "lines_accepted": report.lines_accepted,
        "written": report.written,
        "dry_run": report.dry_run,
        "strict": report.strict,
        "unknown_columns": report.unknown_columns,
        "ignored_columns": report.ignored_columns,
        "rejects_file": report.rejects_file,
        "rejects": [
            {"line": r.line, "column": r.column, "reason": r.reason} for r in report.first_rejects
        ],
    }


def _show_report(report: ImportReport) -> None:
    unit = "purchases" if report.kind == "purchases" else "rows"
    counts = (
        f"{report.inserted} inserted, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.rejected} rejected"
    )
    lines = f" ({report.lines_accepted} lines)" if report.lines_accepted is not None else ""
    if report.dry_run:
        head = f"Dry run, nothing written: {report.rows} rows read; would be {counts}{lines}."
    elif report.strict and not report.written:
        head = (
            f"Strict, nothing written: {report.rejected} of {report.rows} rows rejected "
            f"(else {counts}{lines})."
        )
    else:
        head = f"Imported {report.kind}: {report.rows} rows read; {unit}: {counts}{lines}."
    if not report.rejected and not report.inserted and not report.updated and report.rows:
        head += " Nothing changed: everything was already imported."
    typer.echo(head)
    if report.unknown_columns:
        names = ", ".join(report.unknown_columns[:MAX_SHOWN_COLUMNS])
        more = len(report.unknown_columns) - MAX_SHOWN_COLUMNS
        if more > 0:
            names += f" and {more} more"
        typer.echo(f"Unknown columns, not imported: {names} (map them with --map COLUMN=FIELD).")
    for reject in report.first_rejects:
        where = f"line {reject.line}" + (f", column {reject.column}" if reject.column else "")
        typer.echo(f"  rejected {where}: {reject.reason}", err=True)
    if report.rejected > len(report.first_rejects):
        typer.echo(f"  ... and {report.rejected - len(report.first_rejects)} more", err=True)
    if report.rejects_file:
        typer.echo(f"Rejected rows are in {report.rejects_file}: fix them and import that file.")


def _make_import(kind: str, example: str) -> None:
    def command(
        ctx: typer.Context,
        file: FileArg,
        mapping: MapOption = None,
        value: ValueOption = None,
        constant: SetOption = None,
        allow_dates_from: AllowDatesOption = None,
        profile: ProfileOption = None,
        save_profile: SaveProfileOption = None,
        encoding: EncodingOption = None,
        file_format: FormatOption = None,
        date_format: DateFormatOption = None,
        decimal_mark: DecimalMarkOption = None,
        tz: options.Tz = None,
        rejects: RejectsOption = None,
        strict: StrictFlag = False,
        dry_run: DryRunFlag = False,
        as_json: options.Json = False,
    ) -> None:
        _import(
            ctx,
            kind=kind,
            file=file,
            mapping=mapping,
            value=value,
            constant=constant,
            allow_dates_from=allow_dates_from,
            profile=profile,
            save_profile=save_profile,
            encoding=encoding,
            file_format=file_format,
            date_format=date_format,
            decimal_mark=decimal_mark,
            tz=tz,
            rejects=rejects,
            strict=strict,
            dry_run=dry_run,
            as_json=as_json,
        )

    command.__doc__ = f"Import {kind} from a CSV or JSONL file.\n\nExample: {example}"
    if kind not in AMOUNT_KINDS:
        # typer reads the options from the signature: without the parameter, no option.
        signature = inspect.signature(command, eval_str=True)
        command.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in signature.parameters.values() if p.name != "decimal_mark"]
        )
    import_app.command(kind)(command)


_make_import(
    "complaints",
    "latte import complaints tickets.csv --map Ticket=external_id --date-format %d/%m/%Y "
    "--value channel:Fax=letter --set category=billing",
)
_make_import("purchases", "latte import purchases orders.csv --json")
_make_import("followups", "latte import followups calls.jsonl")


def neutralise(cell: str) -> str:
    """A text cell a spreadsheet would run as a formula, prefixed with an apostrophe.

    Apostrophes already before such a character get one more, so that `latte import`, which
    removes one, reads every cell back exactly.
    """
    if cell.lstrip("'").startswith(FORMULA_START):
        return "'" + cell
    return cell


def _csv_cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column == "amount" and isinstance(value, float):
        return f"{value:.2f}"
    return neutralise(str(value))


def write_export(rows: Any, columns: tuple[str, ...], file_format: FileFormat, out: IO[str]) -> int:
    count = 0
    if file_format is FileFormat.CSV:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(c, row[c]) for c in columns])
            count += 1
    else:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def _export(
    ctx: typer.Context,
    *,
    kind: str,
    file_format: FileFormat,
    since: str | None,
    until: str | None,
    output: str | None,
) -> None:
    from latte_cli.db import reading_engine, translated_errors
    from latte_cli.timeutil import parse_when

    g = globals_of(ctx)
    if output is not None and not output.strip():
        raise InvalidValue("--output is empty: give a file name, or - for stdout.")
    start = parse_when(since, what="--since", assume=g.tz) if since else None
    end = parse_when(until, what="--until", assume=g.tz) if until else None
    with translated_errors(g.db_url):
        engine = reading_engine(g.db_url, busy_timeout_ms=g.busy_timeout_ms)
        _write(engine, kind, file_format, start, end, output)


def _write(
    engine: Any,
    kind: str,
    file_format: FileFormat,
    start: Any,
    end: Any,
    output: str | None,
) -> None:
    from latte_cli.cli import render
    from latte_cli.outfiles import writing
    from latte_cli.services.export import columns_of, export_rows

    with engine.connect() as conn:
        rows = export_rows(
            conn, kind, since=start, until=end, history=file_format is FileFormat.JSONL
        )
        if output is not None and output != "-":
            with writing(Path(output)) as target:
                count = write_export(rows, columns_of(kind), file_format, target)
            render.err_console.print(f"Exported {count} {kind} to {output}.")
        else:
            write_export(rows, columns_of(kind), file_format, sys.stdout)


def _make_export(kind: str) -> None:
    def command(
        ctx: typer.Context,
        file_format: Annotated[FileFormat, typer.Option("--format", help="csv or jsonl.")] = (
            FileFormat.CSV
        ),
        since: options.Since = None,
        until: options.Until = None,
        output: options.OutputFile = None,
    ) -> None:
        _export(ctx, kind=kind, file_format=file_format, since=since, until=until, output=output)

    command.__doc__ = (
        f"Export {kind} as CSV or JSONL; `latte import {kind}` reads the file back.\n\n"
        f"Example: latte export {kind} --format csv --since 2026-11-01 -o {kind}.csv"
    )
    export_app.command(kind)(command)


for _kind in ("complaints", "purchases", "followups"):
    _make_export(_kind)
