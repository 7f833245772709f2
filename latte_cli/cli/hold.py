"""`latte hold`: legal holds that keep a complaint or a customer out of retention and erasure."""

from __future__ import annotations

from typing import Annotated

import typer

from latte_cli.cli import options
from latte_cli.cli.app import Misused, app, globals_of


@app.command("hold")
def hold(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="ID|REF",
            help="A complaint id or a customer's ref, email, phone or name (complaint:ID / "
            "customer:REF when a number is both).",
            show_default=False,
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why (e.g. a case number); required to place a hold."),
    ] = None,
    release: Annotated[
        bool, typer.Option("--release", help="Release the hold in force instead.")
    ] = False,
    list_holds: Annotated[
        bool, typer.Option("--list", help="List the holds in force (with --all, released too).")
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="With --list: released holds too.")
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Place a legal hold: `latte db retain` and `latte customer forget` leave it as it is.

    Example: latte hold C-104 --reason "claim 2026/311"; latte hold C-104 --release
    """
    from latte_cli.cli import render
    from latte_cli.errors import SeveralCustomers
    from latte_cli.services import holds

    g = globals_of(ctx)
    if list_holds:
        if target is not None or release or reason is not None:
            raise Misused("--list takes no ID|REF, --reason or --release.")
        with g.session(readonly=True) as session:
            found = holds.list_holds(session, released=show_all)
        if as_json:
            render.print_json([render.fields_json(h) for h in found])
        else:
            render.show_holds(found, g.tz)
        return
    if target is None:
        raise Misused("give a complaint id or a customer ref (or --list).")
    if not release and reason is None:
        raise Misused("say why the hold is placed.", param_hint="--reason")
    with g.session(create=False) as session:
        try:
            if release:
                done = holds.release_hold(session, target, reason=reason, agent=g.agent)
            else:
                done = holds.place_hold(session, target, reason=reason or "", agent=g.agent)
        except SeveralCustomers as several:  # listed, then refused, as `customer show` does
            render.show_customer_candidates(several.candidates)
            raise
    if as_json:
        render.print_json(render.fields_json(done))
    elif release:
        typer.echo(f"Released hold {done.id} on {done.target}.")
    else:
        typer.echo(f"Hold {done.id} placed on {done.target}: retention and forget leave it as is.")
