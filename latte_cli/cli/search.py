"""`latte search`: find complaints by what customers said, what agents wrote, or who called."""

from __future__ import annotations

from typing import Annotated

import typer

from latte_cli.cli import options
from latte_cli.cli.app import app, globals_of
from latte_cli.timeutil import parse_when, utcnow


@app.command()
def search(
    ctx: typer.Context,
    text: Annotated[
        str, typer.Argument(help="Words the customer or an agent wrote, a name, email or phone.")
    ],
    customer: Annotated[str | None, typer.Option(help="Only this customer's (ref).")] = None,
    status: Annotated[str, typer.Option(help="open, resolved, merged or all.")] = "all",
    since: options.Since = None,
    until: options.Until = None,
    limit: Annotated[int, typer.Option(help="At most this many complaints.")] = 20,
    as_json: options.Json = False,
) -> None:
    """Find complaints by their words, notes and customer, best match first.

    Every word must occur (a last word ending in * also matches the words it starts); case
    and accents do not matter, and a phone number matches whatever its spacing.

    Example: latte search "kettle smashed" --status open
    """
    from latte_cli.cli import render
    from latte_cli.services.search import SearchFilter
    from latte_cli.services.search import search as find

    g = globals_of(ctx)
    filters = SearchFilter(
        text=text,
        customer_ref=customer,
        status=status,
        since=parse_when(since, what="--since", assume=g.tz) if since else None,
        until=parse_when(until, what="--until", assume=g.tz) if until else None,
        limit=limit,
    )
    with g.session(readonly=True) as session:
        hits = find(session, filters)
    if as_json:
        render.print_json([render.hit_json(hit) for hit in hits])
    else:
        render.show_search(hits, g.tz, text=text, now=utcnow())
