"""`latte db`: schema upgrades and the database's status."""

from __future__ import annotations

from typing import Annotated

import typer

from latte_cli.cli import render
from latte_cli.cli.app import LatteGroup, app, globals_of

db_app = typer.Typer(
    cls=LatteGroup, no_args_is_help=True, help="Look after the database: upgrade, status."
)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Bring the database's schema to this latte's newest revision.

    Example: latte db upgrade
    """
    from latte_cli.config import redact_url
    from latte_cli.db import get_engine, translate
    from latte_cli.db import upgrade as upgrade_schema

    g = globals_of(ctx)
    url = g.db_url
    try:
        before, after = upgrade_schema(get_engine(url))
    except Exception as error:
        from sqlalchemy.exc import DBAPIError

        if isinstance(error, DBAPIError):
            raise translate(error, url) from None
        raise
    where = redact_url(url)
    if before == after:
        typer.echo(f"{where} is already at revision {after}.")
    else:
        typer.echo(f"{where} upgraded from revision {before or 'none'} to {after}.")


@db_app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Show the database's location (password hidden), schema revision and row counts.

    Example: latte db status --json
    """
    from latte_cli.db import status as database_status

    info = database_status(globals_of(ctx).db_url)
    if as_json:
        render.print_json(render.status_json(info))
    else:
        render.show_status(info)
