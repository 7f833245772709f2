"""`latte advise`: what kept customers like this one, per action kind; and how the advice
and the urgency line read in the guided flow (docs/metrics.md, "Advice for the agent")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Annotated, Any

import typer

from latte_cli.cli import options
from latte_cli.cli.app import app, globals_of
from latte_cli.timeutil import parse_moment, utcnow

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Group
    from rich.table import Table
    from rich.text import Text
    from sqlmodel import Session

    from latte_cli.advice import ActionAdvice, Advice, Rate, Urgency
    from latte_cli.cli.app import Globals
    from latte_cli.config import Settings

AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="WHEN",
        help="Advise as the database stood then (ISO 8601, in --tz). Default: now.",
        show_default=False,
    ),
]


@app.command()
def advise(
    ctx: typer.Context,
    complaint_id: options.ComplaintId,
    as_of: AsOf = None,
    as_json: options.Json = False,
) -> None:
    """What kept customers with complaints like this one, per action kind.

    Example: latte advise 12 --json
    """
    from latte_cli.cli import render

    g = globals_of(ctx)
    moment = parse_moment(as_of, what="--as-of", assume=g.tz, now=utcnow()) if as_of else None
    with g.session(readonly=True) as session:
        found = advice_for(session, complaint_id, g.settings(), as_of=moment)
    if as_json:
        render.print_json(found.as_json())
    else:
        show_advice(found, g.tz)


def advice_for(
    session: Session, complaint_id: int, settings: Settings, *, as_of: datetime | None = None
) -> Advice:
    """The one service call, with the settings it needs (`step --json` makes it too)."""
    from latte_cli.services.advice import advise as compute

    return compute(
        session,
        complaint_id,
        as_of=as_of,
        months=settings.advice_months,
        min_n=settings.advice_min_n,
        window_days=settings.window,
    )


def urgency_for(
    session: Session, category: str, exclude: int | None, settings: Settings
) -> Urgency | None:
    from latte_cli.services.advice import urgency

    return urgency(
        session,
        category,
        exclude=exclude,
        months=settings.advice_months,
        min_n=settings.advice_min_n,
        window_days=settings.window,
    )


class Ahead:
    """The advice or the urgency line computed in a thread while the agent answers the
    questions before it (the guided flow), so that showing it adds no wait to the stage; its
    own read-only session. `result()` waits for it if it is not done yet."""

    def __init__(self, g: Globals, compute: Callable[[Session, Settings], Any]) -> None:
        from concurrent.futures import ThreadPoolExecutor

        def run() -> Any:
            with g.session(readonly=True) as session:
                return compute(session, g.settings())

        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="latte-advice")
        self.future = executor.submit(run)
        executor.shutdown(wait=False)

    def result(self) -> Any:
        return self.future.result()


def advice_ahead(g: Globals, complaint_id: int) -> Ahead:
    return Ahead(g, lambda session, settings: advice_for(session, complaint_id, settings))


def urgency_ahead(g: Globals, category: str) -> Ahead:
    return Ahead(g, lambda session, settings: urgency_for(session, category, None, settings))


def show_ahead(ahead: Ahead, zone: tzinfo | None) -> None:
    """Show what was computed ahead: the advice table, the urgency line, or nothing (not
    enough data); a bad advice setting is one line and never stops the flow."""
    from rich.text import Text

    from latte_cli.advice import Advice
    from latte_cli.cli import render
    from latte_cli.errors import InvalidValue

    try:
        found = ahead.result()
    except InvalidValue as error:
        render.console.print(Text(f"No advice: {error.message}"))
        return
    if isinstance(found, Advice):
        show_advice(found, zone)
    elif found is not None:
        render.console.print(urgency_text(found))


# How it reads --------------------------------------------------------------------------------


def _moment(epoch: int, zone: tzinfo | None) -> str:
    from latte_cli.cli import render

    return render.when(datetime.fromtimestamp(epoch, UTC), zone)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _interval(rate: Rate) -> str:
    found = rate.interval
    if found is None:
        return "—"
    return f"{found[0] * 100:.0f}-{found[1] * 100:.0f}%"


def duration(seconds: float | None) -> str:
    """A resolution time the way an agent says it: minutes, hours, then days."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def advice_heading(advice: Advice, zone: tzinfo | None) -> str:
    """The one line that says what was compared, over which outcome window, as of when."""
    s = advice.scope
    who = "complaints of every category" if advice.fallback else f"{advice.category} complaints"
    period = f"resolved in the {s.months} months to {_moment(s.as_of, zone)}"
    if not advice.rows:
        among = who
        if advice.fallback:
            among = f"{advice.category} complaints, nor among any category's,"
        return (
            f"Advice: not enough history yet: no action kind has {s.min_n} known outcomes "
            f"among {among} {period}."
        )
    fewer = f" (too few {advice.category} ones)" if advice.fallback else ""
    pending = sum(r.repurchase.pending for r in advice.rows)
    return (
        f"What kept customers: {who}{fewer} {period}; bought again within {s.window_days} "
        f"days ({pending:,} still in their window, not counted)."
    )


# A row whose Take action has no action kind (imported history): shown as this, never as if
# "(none)" were an action; `--json` keeps "(none)" (docs/metrics.md, "Advice for the agent").
NO_ACTION = "no action recorded"


@dataclass(frozen=True)
class _Figure:
    header: str
    cell: str
    n: int | None  # the n it is computed from; None: the figure before it's (the 95% range)


def _action(row: ActionAdvice) -> str:
    from latte_cli.cli import render
    from latte_cli.services.advice import NO_KIND

    return NO_ACTION if row.action_kind == NO_KIND else render.visible(row.action_kind)


def _figures(advice: Advice, row: ActionAdvice) -> list[_Figure]:
    """A row's figures, each with the n it is computed from: the repurchase rate (and its
    range) counts decided outcomes, the median every complaint, the repeat rate its own
    decided outcomes."""
    repeat = percent(row.repeat.rate) if row.repeat.n >= advice.scope.min_n else "—"
    return [
        _Figure("bought again", percent(row.repurchase.rate), row.repurchase.n),
        _Figure("95% range", _interval(row.repurchase), None),
        _Figure("median time", duration(row.median_seconds), row.median_n),
        _Figure(f"repeat ≤{advice.scope.repeat_days} d", repeat, row.repeat.n),
    ]


def _cells(advice: Advice) -> tuple[list[str], list[list[str]]]:
    """The headers and each row's cells: the action, then each n beside the figures it
    counts."""
    headers, rows = ["action"], []
    for row in advice.rows:
        # The same headers for every row: each row has the same figures.
        headers, cells = ["action"], [_action(row)]
        for figure in _figures(advice, row):
            if figure.n is not None:
                headers.append("n")
                cells.append(f"{figure.n:,}")
            headers.append(figure.header)
            cells.append(figure.cell)
        rows.append(cells)
    return headers, rows


def advice_table(advice: Advice, width: int) -> Table | Group:
    """The advice as a table, or, where the table would not fit `width`, one record per
    action kind with each figure under its full header: no figure or its n is ever dropped
    (docs/architecture.md, "80 columns")."""
    from rich.cells import cell_len
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    from latte_cli.cli import render

    headers, rows = _cells(advice)
    widths = [max(cell_len(c) for c in column) for column in zip(headers, *rows, strict=True)]
    # No borders: a space either side of each cell except the table's outer edges.
    if sum(widths) + 2 * (len(widths) - 1) <= width:
        table = render.narrow_table()
        table.expand = False
        for index, header in enumerate(headers):
            justify: Any = "left" if index == 0 else "right"
            table.add_column(header, justify=justify, no_wrap=True)
        for cells in rows:
            table.add_row(*cells)
        return table
    records: list[Any] = []
    for row in advice.rows:
        # The action's line carries the repurchase rate's n, the figures after it their own.
        records.append(Text(f"{_action(row)} (n {row.repurchase.n:,})", style="bold"))
        for index, figure in enumerate(_figures(advice, row)):
            n = f" (n {figure.n:,})" if index and figure.n is not None else ""
            records.append(Padding(Text(f"{figure.header}: {figure.cell}{n}"), (0, 0, 0, 2)))
    return Group(*records)


def show_advice(advice: Advice, zone: tzinfo | None) -> None:
    from rich.text import Text

    from latte_cli.cli import render

    render.console.print(Text(advice_heading(advice, zone)))
    if advice.rows:
        render.console.print(advice_table(advice, render.console.width))


def _rate_text(rate: Rate) -> str:
    return f"{percent(rate.rate)} ({_interval(rate)}, n {rate.n:,})"


def urgency_text(found: Urgency) -> Text:
    """The line at Listen: what speed did to repurchase for this category."""
    from rich.text import Text

    return Text(
        f"Speed matters for {found.category}: {_rate_text(found.fast)} bought again when "
        f"resolved within 4 h, {_rate_text(found.slow)} after 3 days or more "
        f"({found.scope.window_days}-day window)."
    )
