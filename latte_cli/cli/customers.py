"""`latte customer`: a customer's history, and finding customers."""

from __future__ import annotations

from typing import Annotated

import typer

from latte_cli.cli import options, render
from latte_cli.cli.app import LatteGroup, app, globals_of

customer_app = typer.Typer(
    cls=LatteGroup, no_args_is_help=True, help="Look up customers and their history: show, search."
)
app.add_typer(customer_app, name="customer")


@customer_app.command("show")
def show_customer(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The customer's ref.")],
    as_json: options.Json = False,
) -> None:
    """Show a customer's complaints with their actions and outcomes, and last purchases.

    Example: latte customer show C-104
    """
    from latte_cli.services.customers import customer_history, get_customer

    g = globals_of(ctx)
    with g.session(readonly=True) as session:
        history = customer_history(session, get_customer(session, ref))
    if as_json:
        render.print_json(render.customer_history_json(history))
    else:
        render.show_customer(history, g.tz)


@customer_app.command("search")
def search_customer(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="Part of a ref, email, name or phone.")],
    limit: Annotated[int, typer.Option(help="At most this many customers.")] = 20,
    as_json: options.Json = False,
) -> None:
    """Find customers by ref, email, name or phone, whatever the case and accents.

    Example: latte customer search diaz
    """
    from latte_cli.services.customers import search_customers

    g = globals_of(ctx)
    with g.session(readonly=True) as session:
        found = search_customers(session, text, limit=limit)
    if as_json:
        render.print_json([render.customer_json(c) for c in found])
    elif not found:
        typer.echo(f"No customer matches {text!r}.")
    else:
        for c in found:
            typer.echo(f"{c.ref or '—'}\t{c.name or '—'}\t{c.email or '—'}\t{c.phone or '—'}")
