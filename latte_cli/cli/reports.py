"""`latte report`: weekly, agents and repurchase reports for supervisors.

Parses options, calls the report service, renders. The report modules (SQLAlchemy, and
matplotlib for HTML) are imported inside the commands so that `latte --help` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer

from latte_cli.cli import options
from latte_cli.cli.app import LatteGroup, app, globals_of
from latte_cli.errors import InvalidValue
from latte_cli.outfiles import destination, writing

report_app = typer.Typer(
    cls=LatteGroup,
    no_args_is_help=True,
    help="Supervisor reports: weekly, agents, repurchase (volume, speed, SLA, stages, NPS).",
)
app.add_typer(report_app, name="report")

FORMATS = ("table", "json", "csv", "markdown", "html")
# Short names --format takes as well, the suffixes --output's file name may use for the same
# format (SUFFIX_FORMATS): `-f md` is what `-o week.md` already means.
FORMAT_ALIASES = {"md": "markdown", "htm": "html"}

Week = Annotated[
    str | None,
    typer.Option(
        metavar="WEEK", help="ISO week, e.g. 2026-W47. Default: the last full week before --as-of."
    ),
]
Since = Annotated[
    str | None,
    typer.Option(metavar="WHEN", help="Start of a custom period (ISO date or time), with --until."),
]
Until = Annotated[
    str | None,
    typer.Option(metavar="WHEN", help="End of the custom period; a date includes that whole day."),
]
Weeks = Annotated[
    str, typer.Option(help="Weeks in the trend, ending with the period's week, or 'all'.")
]
AsOf = Annotated[
    str | None,
    typer.Option(metavar="WHEN", help="Report as the database stood at this time. Default: now."),
]
Window = Annotated[
    int | None,
    typer.Option(
        metavar="DAYS",
        help="Repurchase window in days. Default: $LATTE_WINDOW, the config file, else 90.",
    ),
]
RepeatDays = Annotated[
    int, typer.Option(metavar="DAYS", help="Days after a resolution in which a new one repeats.")
]
Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="table, json, csv, markdown (or md) or html (or htm). Default: from --output's "
        "suffix (.json, .csv, .md, .html), else table.",
    ),
]
# The format a report file's name implies when --format is not given.
SUFFIX_FORMATS = {
    ".json": "json",
    ".csv": "csv",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".txt": "table",
}
Explain = Annotated[
    bool, typer.Option("--explain", help="Print each figure's definition, clock and exclusions.")
]
Detail = Annotated[
    str | None,
    typer.Option(
        metavar="FIGURE[:GROUP]",
        help="List the complaints behind a count, named by its path in --format json's "
        "figures, e.g. repurchase.lost or 'repurchase_by_speed.\"> 3 d\".lost:ana' (with --by).",
    ),
]
DETAIL_FORMATS = ("table", "json", "csv")
# As long as the repurchase window may be (the `window` setting): a window of millions of
# days ran past the dates the database holds and failed as "a number too large".
MAX_REPEAT_DAYS = 3650


@dataclass(frozen=True, kw_only=True)
class Request:
    """What a report command was asked for, as given on the command line."""

    kind: str
    week: str | None = None
    since: str | None = None
    until: str | None = None
    weeks: str = "1"
    by: str | None = None
    tz: str | None = None
    as_of: str | None = None
    target: float | None = None
    window: int | None = None
    repeat_days: int = 30
    hours: str | None = None
    format: str | None = None
    output: str | None = None
    explain: bool = False
    detail: str | None = None


def _output_path(output: str | None) -> str | None:
    """The file to write, or None for stdout (`-o -`)."""
    return None if destination(output) is None else output


def _format_of(r: Request) -> str:
    """--format, else the one the output file's suffix names, else table."""
    if r.format is None:
        suffix = Path(r.output).suffix.lower() if r.output else ""
        return SUFFIX_FORMATS.get(suffix, "table")
    fmt = r.format.strip().lower()
    fmt = FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise InvalidValue(
            f"--format {r.format!r} is not one of: table, json, csv, markdown (or md), "
            "html (or htm)."
        )
    return fmt


def _weeks(text: str) -> int:
    if text.strip().lower() == "all":
        return 0
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 1:
        raise InvalidValue(f"--weeks {text!r} is not a number of weeks. Give e.g. 12, or 'all'.")
    return value


def _run(ctx: typer.Context, r: Request) -> None:
    from latte_cli.reports.amounts import blamed
    from latte_cli.reports.build import Options, build_report
    from latte_cli.reports.periods import EmptyPeriod, choose_span, parse_as_of
    from latte_cli.reports.queries import first_opened, latest_week_with_complaints
    from latte_cli.summary import DIMENSIONS
    from latte_cli.timeutil import epoch, utcnow

    g = globals_of(ctx)
    r = replace(r, output=_output_path(r.output))
    fmt = _format_of(r)
    by = r.by.strip().lower() if r.by else None
    if by is not None and by not in DIMENSIONS:
        raise InvalidValue(f"--by {r.by!r} is not one of: {', '.join(DIMENSIONS)}.")
    if not 1 <= r.repeat_days <= MAX_REPEAT_DAYS:
        raise InvalidValue(
            f"--repeat-days '{r.repeat_days}' must be a whole number of days from 1 to "
            f"{MAX_REPEAT_DAYS}, e.g. 30."
        )
    weeks = _weeks(r.weeks)
    settings = g.settings(tz=r.tz, sla_hours=r.target, hours=r.hours, window=r.window)
    zone = settings.tz
    as_of = parse_as_of(r.as_of, zone, epoch(utcnow()))
    options = Options(
        zone=zone,
        as_of=as_of,
        target_hours=settings.sla_hours,
        window_days=settings.window,
        schedule=settings.hours,
        holidays=settings.holidays if settings.hours else frozenset(),
        by=by,
        repeat_days=r.repeat_days,
    )
    with g.session(readonly=True) as session:
        conn = session.connection()
        first = None
        if weeks == 0:
            from latte_cli.reports.periods import week_of

            oldest = first_opened(conn)
            first = week_of(oldest, zone) if oldest is not None else None
        span = choose_span(
            zone=zone,
            as_of=as_of,
            week=r.week,
            since=r.since,
            until=r.until,
            weeks=weeks,
            first_week=first,
        )
        if r.detail is not None:
            with blamed(conn):  # a purchase amount another program wrote (docs/metrics.md)
                _detail(session, r, fmt, span, options, zone)
            return
        with blamed(conn):
            report = build_report(conn, span, options, kind=r.kind)
        # An empty period, the default one or one asked for by --week or --since, names the
        # latest week with complaints and the command for it, not only dashes (README
        # "Supervisors: reports").
        if report.totals.opened == report.totals.resolved == 0:
            latest = latest_week_with_complaints(conn, as_of=as_of, zone=zone)
            report = replace(report, empty_default=EmptyPeriod(latest))
        details = None
        if fmt == "html" and span.current.end - span.current.start <= DETAIL_LINKS_MAX:
            details = _html_details(session, report, span, options)
    _emit(report, fmt, r.output, r.explain, details)


# The HTML report links its counts to their complaints for periods up to five weeks: the
# drill-down reads the period's rows, which over a year takes about a minute on a million
# complaints (docs/metrics.md, "Drill-down"); `--detail` opens any count of any period.
DETAIL_LINKS_MAX = 35 * 86_400


def _detail(session: Any, r: Request, fmt: str, span: Any, options: Any, zone: Any) -> None:
    """`--detail`: the complaints behind one count (docs/metrics.md, "Drill-down")."""
    from latte_cli.cli import detail_render
    from latte_cli.services.detail import figure_details

    if fmt not in DETAIL_FORMATS:
        raise InvalidValue(f"--detail lists complaints as {', '.join(DETAIL_FORMATS)}, not {fmt}.")
    assert r.detail is not None
    (page,) = figure_details(session, span=span, options=options, figures=[r.detail])
    if fmt == "table":
        if r.output is None:
            detail_render.show(page, zone)
            return
        from rich.console import Console

        with writing(Path(r.output)) as handle:
            console = Console(file=handle, width=80, no_color=True, highlight=False)
            detail_render.show(page, zone, console)
    else:
        text = detail_render.csv_text(page) if fmt == "csv" else rows_text(page)
        if r.output is None:
            typer.echo(text, nl=False)
            return
        with writing(Path(r.output)) as handle:
            handle.write(text)
    typer.echo(f"Wrote the {fmt} list to {r.output}.", err=True)


def rows_text(page: Any) -> str:
    import json

    from latte_cli.cli import detail_render

    return json.dumps(detail_render.rows_json(page), indent=2, ensure_ascii=False) + "\n"


def _html_details(session: Any, report: Any, span: Any, options: Any) -> dict[str, Any]:
    """The complaints behind each count the HTML report links (the first rows of each)."""
    from latte_cli.cli.report_html import DETAIL_ROWS
    from latte_cli.cli.report_links import linked_figures
    from latte_cli.services.detail import figure_details

    figures = linked_figures(report)
    pages = figure_details(
        session,
        span=span,
        options=options,
        figures=figures,
        limit=DETAIL_ROWS,
    )
    return dict(zip(figures, pages, strict=True))


def _emit(report: object, fmt: str, output: str | None, explain: bool, details: Any = None) -> None:
    from latte_cli.cli import report_render as rr
    from latte_cli.reports.build import Report

    assert isinstance(report, Report)
    if fmt == "table":
        from rich.console import Console

        if output is None:
            rr.print_table(report, Console(highlight=False), with_definitions=explain)
            return
        with writing(Path(output)) as handle:
            console = Console(file=handle, width=80, no_color=True, highlight=False)
            rr.print_table(report, console, with_definitions=explain)
        typer.echo(f"Wrote the {fmt} report to {output}.", err=True)
        return
    if fmt == "html":
        from latte_cli.cli.report_html import html_text

        text = html_text(report, details)
    elif fmt == "json":
        text = rr.json_text(report)
    elif fmt == "csv":
        text = rr.csv_text(report)
    else:
        text = rr.markdown(report, with_definitions=explain)
    if output is None:
        typer.echo(text, nl=False)
        return
    with writing(Path(output)) as handle:
        handle.write(text)
    typer.echo(f"Wrote the {fmt} report to {output}.", err=True)


@report_app.command("weekly")
def weekly(
    ctx: typer.Context,
    week: Week = None,
    since: Since = None,
    until: Until = None,
    weeks: Weeks = "8",
    by: options.By = None,
    tz: options.Tz = None,
    as_of: AsOf = None,
    target: options.Target = None,
    window: Window = None,
    repeat_days: RepeatDays = 30,
    hours: options.Hours = None,
    fmt: Format = None,
    output: options.OutputFile = None,
    explain: Explain = False,
    detail: Detail = None,
) -> None:
    """The weekly report: volume, speed, SLA, stages, reopenings, repurchase, NPS and a trend.

    Example: latte report weekly --week 2026-W47 --weeks 12 --by agent --format html -o week.html
    """
    request = Request(
        kind="weekly",
        week=week,
        since=since,
        until=until,
        weeks=weeks,
        by=by,
        tz=tz,
        as_of=as_of,
        target=target,
        window=window,
        repeat_days=repeat_days,
        hours=hours,
        format=fmt,
        output=output,
        explain=explain,
        detail=detail,
    )
    _run(ctx, request)


@report_app.command("agents")
def agents(
    ctx: typer.Context,
    week: Week = None,
    since: Since = None,
    until: Until = None,
    tz: options.Tz = None,
    as_of: AsOf = None,
    target: options.Target = None,
    window: Window = None,
    repeat_days: RepeatDays = 30,
    hours: options.Hours = None,
    fmt: Format = None,
    output: options.OutputFile = None,
    explain: Explain = False,
    detail: Detail = None,
) -> None:
    """One row per agent for coaching: resolved, speed, SLA, reopenings, repurchase, NPS, backlog.

    Example: latte report agents --week 2026-W47
    """
    request = Request(
        kind="agents",
        week=week,
        since=since,
        until=until,
        by="agent",
        tz=tz,
        as_of=as_of,
        target=target,
        window=window,
        repeat_days=repeat_days,
        hours=hours,
        format=fmt,
        output=output,
        explain=explain,
        detail=detail,
    )
    _run(ctx, request)


@report_app.command("repurchase")
def repurchase(
    ctx: typer.Context,
    week: Week = None,
    since: Since = None,
    until: Until = None,
    by: options.By = None,
    tz: options.Tz = None,
    as_of: AsOf = None,
    target: options.Target = None,
    window: Window = None,
    repeat_days: RepeatDays = 30,
    hours: options.Hours = None,
    fmt: Format = None,
    output: options.OutputFile = None,
    explain: Explain = False,
    detail: Detail = None,
) -> None:
    """Repurchase outcomes in detail: overall, by speed, by action, fast and satisfied vs rest.

    Example: latte report repurchase --since 2026-07-01 --until 2026-09-30 --window 90
    """
    request = Request(
        kind="repurchase",
        week=week,
        since=since,
        until=until,
        by=by,
        tz=tz,
        as_of=as_of,
        target=target,
        window=window,
        repeat_days=repeat_days,
        hours=hours,
        format=fmt,
        output=output,
        explain=explain,
        detail=detail,
    )
    _run(ctx, request)
