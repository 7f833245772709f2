"""The complaints behind a report's count (`latte report ... --detail FIGURE`): the `latte list`
table, JSON and CSV, with the figure's own columns (docs/metrics.md, "Drill-down")."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, tzinfo
from typing import Any

from rich.console import Console

from latte_cli.cli import render
from latte_cli.cli.io import neutralise
from latte_cli.reports.detail import Column
from latte_cli.services.detail import DetailPage
from latte_cli.timeutil import format_duration

# The figure's columns shown in the terminal table (all of them in JSON and CSV): the first
# ones say most (see reports/detail.py), and 80 columns hold the list's own few beside them.
TABLE_FIGURE_COLUMNS = 2


def title(page: DetailPage) -> str:
    d = page.detail
    group = f" ({d.group})" if d.group is not None else ""
    return f"{d.figure}{group} in {d.period.label}: {page.total:,} {d.unit}"


def command(page: DetailPage, base: str) -> str:
    """The command that lists all of a figure's complaints, `base` being the report's own."""
    d = page.detail
    figure = d.figure + (f":{d.group}" if d.group is not None else "")
    return f"{base} --detail '{figure}'"


def _moment(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def cell(column: Column, value: Any, zone: tzinfo | None) -> str:
    """A figure's value as the terminal and the HTML report show it."""
    if value is None:
        return "—"
    if column.kind == "time":
        return render.when(_moment(value), zone)
    if column.kind == "seconds":
        return format_duration(value)
    if column.kind == "cents":
        return render.money(value)
    return str(value)


def cell_time(moment: datetime | None, zone: tzinfo | None) -> str:
    return render.when(moment, zone)


def raw(column: Column, value: Any) -> Any:
    """A figure's value in JSON and CSV: times in ISO 8601, seconds and cents as integers."""
    if column.kind == "time" and value is not None:
        return _moment(value).isoformat()  # type: ignore[union-attr]
    return value


def rows_json(page: DetailPage) -> list[dict[str, Any]]:
    """`latte list --json` rows, each with the figure's columns after the list's."""
    columns = page.detail.columns
    out = []
    for row, member in zip(page.rows, page.detail.members, strict=False):
        own = {c.name: raw(c, v) for c, v in zip(columns, member.values, strict=True)}
        out.append({**render.row_json(row), **own})
    return out


def csv_text(page: DetailPage) -> str:
    data = rows_json(page)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # With no rows, the header still names the id and the figure's columns.
    names = list(data[0]) if data else ["id", *(c.name for c in page.detail.columns)]
    writer.writerow(names)
    for item in data:
        writer.writerow(
            ["" if v is None else neutralise(v) if isinstance(v, str) else v for v in item.values()]
        )
    return out.getvalue()


def heading(column: Column) -> str:
    """A column's name for people: `resolution_seconds` is shown as a duration, "resolution"."""
    name = column.name
    for suffix in ("_seconds", "_cents", "_stage"):
        name = name.removesuffix(suffix)
    return name.replace("_", " ")


def show(page: DetailPage, zone: tzinfo | None, console: Console | None = None) -> None:
    """The list's table (id, opened, customer, agent) with the figure's first columns."""
    console = console or render.console
    console.print(title(page), style="bold")
    if not page.rows:
        console.print("No complaints behind this figure.")
        return
    now = datetime.now(UTC)
    shown = page.detail.columns[:TABLE_FIGURE_COLUMNS]
    table = render.narrow_table()
    table.add_column("ID", justify="right", no_wrap=True)
    table.add_column("Opened", no_wrap=True)
    table.add_column("Customer", overflow="fold", ratio=1, min_width=12)
    table.add_column("Agent", overflow="fold", max_width=10)
    for column in shown:
        table.add_column(heading(column), overflow="fold", justify="right")
    for row, member in zip(page.rows, page.detail.members, strict=False):
        table.add_row(
            str(row.id),
            render.short_when(row.opened_at, zone, now),
            render.plain(row.customer_name or row.customer_ref or "—"),
            render.plain(row.assigned_agent or "—"),
            *[cell(c, v, zone) for c, v in zip(shown, member.values, strict=False)],
        )
    console.print(table)
    rest = page.detail.columns[TABLE_FIGURE_COLUMNS:]
    if rest:
        names = ", ".join(c.name for c in rest)
        console.print(f"More columns ({names}) with --format json or csv.", style="dim")
