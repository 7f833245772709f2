"""`latte followup`: the calls after a complaint is resolved, and what they found out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from latte_cli.cli import options
from latte_cli.cli.app import LatteGroup, app, globals_of
from latte_cli.timeutil import utcnow

if TYPE_CHECKING:
    from latte_cli.cli.prompts import Prompter
    from latte_cli.services.followups import Outcome, Repurchased

followup_app = typer.Typer(
    cls=LatteGroup, no_args_is_help=True, help="Follow-up calls after a resolution: list, record."
)
app.add_typer(followup_app, name="followup")


@followup_app.command("list")
def list_followups(
    ctx: typer.Context,
    due: Annotated[
        bool, typer.Option("--due", help="Only those due now (overdue included).")
    ] = False,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only those more than a day past due.")
    ] = False,
    mine: Annotated[bool, typer.Option("--mine", help="Only my complaints'.")] = False,
    as_json: options.Json = False,
) -> None:
    """List pending follow-ups, soonest due first.

    Example: latte followup list --due --mine
    """
    from rich.text import Text

    from latte_cli.cli import render
    from latte_cli.services.followups import Due
    from latte_cli.services.followups import list_followups as pending
    from latte_cli.timeutil import format_duration

    g = globals_of(ctx)
    which = Due.OVERDUE if overdue else Due.DUE if due else Due.ALL
    now = utcnow()
    with g.session(readonly=True) as session:
        rows = pending(session, due=which, agent=g.agent if mine else None, now=now)
    if as_json:
        render.print_json(
            [
                {
                    "complaint_id": r.complaint_id,
                    "due_at": render.iso(r.due_at),
                    "assigned_agent": r.assigned_agent,
                    "customer_ref": r.customer_ref,
                    "customer_name": r.customer_name,
                    "customer_phone": r.customer_phone,
                    "summary": r.summary,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        render.console.print("No follow-ups match.")
        return
    # Borderless with fixed columns, like `latte list`, so that it fits 80 columns; "late ..."
    # goes under the due time.
    table = render.narrow_table()
    table.add_column("ID", justify="right", no_wrap=True, width=4)
    table.add_column("Due", width=11, overflow="fold")
    table.add_column("Customer", width=14, overflow="fold")
    table.add_column("Phone", width=13, overflow="fold")
    table.add_column("Agent", width=10, overflow="fold")
    table.add_column("Summary", overflow="fold", ratio=1)
    for row in rows:
        due_text = Text(render.short_when(row.due_at, g.tz))
        late = row.late_by(now)
        if late is not None and late.total_seconds() >= 60:
            due_text.append(f" late {format_duration(late)}", style="red")
        table.add_row(
            str(row.complaint_id),
            due_text,
            render.plain(row.customer_name or row.customer_ref or "—"),
            render.plain(row.customer_phone or "—"),
            render.plain(row.assigned_agent or "—"),
            render.plain(row.summary),
        )
    render.console.print(table)


@followup_app.command("record")
def record(
    ctx: typer.Context,
    complaint_id: options.ComplaintId,
    reached: Annotated[
        bool | None,
        typer.Option("--reached/--not-reached", help="Whether the customer was reached."),
    ] = None,
    satisfied: Annotated[
        bool | None,
        typer.Option("--satisfied/--not-satisfied", help="Whether they are satisfied."),
    ] = None,
    nps: Annotated[
        int | None, typer.Option("--nps", help="How likely to recommend us, 0-10.")
    ] = None,
    repurchased: Annotated[
        str | None,
        typer.Option("--repurchased", help="Bought again since: yes, no or unknown."),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Anything worth keeping.")] = None,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Replace the answer already recorded for this resolution."),
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Record the follow-up call of a resolved complaint; on a terminal, asks what is missing.

    Example: latte followup record 12 --reached --satisfied --nps 9 --repurchased yes
    """
    from latte_cli.cli import render
    from latte_cli.cli.app import stdin_is_terminal
    from latte_cli.errors import InvalidValue
    from latte_cli.services.followups import (
        Outcome,
        Repurchased,
        check_nps,
        check_reached,
        record_followup,
    )
    from latte_cli.workflow import parse_choice

    g = globals_of(ctx)
    bought = parse_choice(Repurchased, repurchased, what="--repurchased") if repurchased else None
    check_nps(nps)
    check_reached(reached=reached, satisfied=satisfied, nps=nps, repurchased=bought)
    needed = reached is None or (reached and satisfied is None)
    if needed and stdin_is_terminal() and not as_json:
        from latte_cli.cli import guided as guide

        conversation = guide.Conversation(g, guide.make_prompter())
        conversation.introduce_followup(complaint_id, replace=replace)
        given = OutcomeGiven(
            reached=reached, satisfied=satisfied, nps=nps, repurchased=bought, note=note
        )
        with conversation.guarded_followup(complaint_id):
            outcome = ask_outcome(conversation.ask, given)
    elif reached is None:
        raise InvalidValue(
            "Missing --reached or --not-reached. Pass it (and --satisfied/--not-satisfied, "
            "--nps, --repurchased, --note) as options."
        )
    else:
        outcome = Outcome(
            reached=reached,
            satisfied=satisfied,
            nps=nps,
            repurchased=bought or Repurchased.UNKNOWN,
            note=note,
        )
    with g.session() as session:
        followup = record_followup(
            session, complaint_id=complaint_id, outcome=outcome, agent=g.agent, replace=replace
        )
    if as_json:
        render.print_json(
            {
                "complaint_id": complaint_id,
                "recorded_at": render.iso(followup.recorded_at),
                "agent": followup.agent,
                "reached": followup.reached,
                "satisfied": followup.satisfied,
                "nps": followup.nps,
                "repurchased": followup.repurchased,
                "note": followup.note,
            }
        )
        return
    typer.echo(f"Follow-up of complaint {complaint_id} recorded.")


# The follow-up questions, asked at a terminal -------------------------------------------------


@dataclass
class OutcomeGiven:
    """What `latte followup record` got as flags: those questions are not asked."""

    reached: bool | None = None
    satisfied: bool | None = None
    nps: int | None = None
    repurchased: Repurchased | None = None
    note: str | None = None


def ask_outcome(ask: Prompter, given: OutcomeGiven) -> Outcome:
    """The follow-up questions not answered by flags."""
    from latte_cli.services.followups import Outcome, Repurchased, check_reached

    reached = given.reached
    if reached is None:
        reached = ask.confirm("Did you reach the customer?")
        check_reached(
            reached=reached,
            satisfied=given.satisfied,
            nps=given.nps,
            repurchased=given.repurchased,
        )
    if not reached:
        note = given.note if given.note is not None else ask.text("Note:", required=False)
        return Outcome(reached=False, note=note)
    satisfied = given.satisfied
    if satisfied is None:
        satisfied = ask.confirm("Is the customer satisfied with how it was resolved?")
    nps = given.nps
    if nps is None:
        nps = ask.optional_int(
            "How likely are they to recommend us, 0-10 (empty if they didn't say):",
            low=0,
            high=10,
        )
    repurchased = given.repurchased or ask.select(
        "Have they bought from us again since?",
        [("yes", Repurchased.YES), ("no", Repurchased.NO), ("unknown", Repurchased.UNKNOWN)],
        default=Repurchased.UNKNOWN,
    )
    note = given.note if given.note is not None else ask.text("Note:", required=False)
    return Outcome(reached=True, satisfied=satisfied, nps=nps, repurchased=repurchased, note=note)
