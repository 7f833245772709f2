"""Team commands: `latte next` takes a complaint from the queue; `latte agent` sets presence."""

from __future__ import annotations

from typing import Annotated

import typer

from latte_cli.cli import options
from latte_cli.cli.app import LatteGroup, app, globals_of

agent_app = typer.Typer(
    cls=LatteGroup,
    no_args_is_help=True,
    help="Presence: mark yourself away or available, list agents: away, available, list.",
)
app.add_typer(agent_app, name="agent")


@app.command("next")
def next_(
    ctx: typer.Context,
    handle: Annotated[
        bool,
        typer.Option(
            "--handle/--no-handle",
            help="On a terminal, continue the complaint right away with prompts.",
        ),
    ] = True,
    as_json: options.Json = False,
) -> None:
    """Take the most urgent unassigned open complaint (earliest deadline) and assign it to me.

    Example: latte next
    """
    from latte_cli.cli import render
    from latte_cli.cli.app import stdin_is_terminal
    from latte_cli.services.customers import customer_of
    from latte_cli.services.team import claim_next
    from latte_cli.services.views import deadline_view
    from latte_cli.timeutil import utcnow

    g = globals_of(ctx)
    with g.session() as session:
        complaint = claim_next(session, agent=g.agent)
        owner = customer_of(session, complaint) if complaint is not None else None
    if complaint is None or complaint.id is None:
        if as_json:
            render.print_json(None)
        render.err_console.print("The queue is empty: no unassigned open complaints.")
        return
    if as_json:
        render.print_json(render.complaint_json(complaint, owner))
        return
    who = (owner.name or owner.ref) if owner else "anonymous"
    typer.echo(f"Complaint {complaint.id} is yours ({who}, {complaint.stage_due} due).")
    deadline = render.deadline_line(deadline_view(complaint, utcnow()))
    if deadline is not None:
        render.console.print(deadline)
    if handle and stdin_is_terminal():
        from latte_cli.cli import guided as guide

        days = g.settings().followup_days
        guide.Conversation(g, guide.make_prompter(), days=days).resume(complaint.id)
    else:
        typer.echo(f"Continue with `latte resume {complaint.id}`.")


def _set(ctx: typer.Context, status: str) -> None:
    from latte_cli.services.team import Presence, set_presence

    g = globals_of(ctx)
    with g.session() as session:
        set_presence(session, agent=g.agent, status=Presence(status))
    hint = " Transfers to you are refused unless forced." if status == "away" else ""
    typer.echo(f"{g.agent} is {status}.{hint}")


@agent_app.command("away")
def away(ctx: typer.Context) -> None:
    """Mark me away: transfers to me are refused unless the sender passes --force.

    Example: latte agent away
    """
    _set(ctx, "away")


@agent_app.command("available")
def available(ctx: typer.Context) -> None:
    """Mark me available again.

    Example: latte agent available
    """
    _set(ctx, "available")


@agent_app.command("list")
def list_agents(
    ctx: typer.Context,
    as_json: options.Json = False,
) -> None:
    """List agents with their presence and how many open complaints each holds.

    Example: latte agent list
    """
    from latte_cli.cli import render
    from latte_cli.services.team import list_agents as agents

    g = globals_of(ctx)
    with g.session(readonly=True) as session:
        rows = agents(session)
    if as_json:
        render.print_json(
            [{"name": r.name, "status": r.status.value, "open": r.open_complaints} for r in rows]
        )
        return
    if not rows:
        typer.echo("No agents yet.")
        return
    table = render.narrow_table()
    table.expand = False
    table.add_column("Agent", max_width=56, overflow="fold")
    table.add_column("Status", no_wrap=True, width=9)
    table.add_column("Open", justify="right", no_wrap=True, width=6)
    for row in rows:
        table.add_row(render.plain(row.name), row.status.value, str(row.open_complaints))
    render.console.print(table)
