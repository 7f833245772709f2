"""Commands for one complaint's life: new, step, show, list, transfer, reopen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from latte_cli.cli import render
from latte_cli.cli.app import app, globals_of
from latte_cli.timeutil import parse_when, utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="When it happened (ISO 8601, your time zone). Default: now.",
        show_default=False,
    ),
]


@app.command()
def new(
    ctx: typer.Context,
    listen: Annotated[
        str | None,
        typer.Option("--listen", "-l", help="The customer's own words (the Listen stage)."),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="phone, email, chat, in_person, social, web or other.")
    ] = None,
    category: Annotated[
        str | None,
        typer.Option(help="What the complaint is about, e.g. delivery, billing, product."),
    ] = None,
    location: Annotated[str | None, typer.Option(help="Branch or department.")] = None,
    severity: Annotated[str, typer.Option(help="low, medium, high or critical.")] = "medium",
    summary: Annotated[
        str | None, typer.Option(help="One line for lists. Default: the first line of --listen.")
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Customer ref (matched, or created if new).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Customer name.")] = None,
    email: Annotated[str | None, typer.Option(help="Customer email (matched if no ref).")] = None,
    phone: Annotated[str | None, typer.Option(help="Customer phone.")] = None,
    at: AtOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Open a complaint and record what the customer said.

    Example: latte new --customer C-104 --name "Ana Diaz" --channel phone --category delivery
    --listen "My parcel arrived broken."
    """
    from latte_cli.services.complaints import NewComplaint, open_complaint
    from latte_cli.services.customers import CustomerDetails

    g = globals_of(ctx)
    missing = [
        flag
        for flag, value in (("--channel", channel), ("--category", category), ("--listen", listen))
        if not value
    ]
    if missing:
        from latte_cli.errors import InvalidValue

        raise InvalidValue(
            f"Missing {', '.join(missing)}. Pass them as options (see `latte new --help`)."
        )
    request = NewComplaint(
        channel=channel or "",
        category=category or "",
        listen=listen or "",
        summary=summary or "",
        location=location,
        severity=severity,
        customer=CustomerDetails(ref=customer, name=name, email=email, phone=phone),
    )
    when = parse_when(at, what="--at", assume=g.tz) if at else None
    with g.session() as session:
        complaint = open_complaint(session, new=request, agent=g.agent, at=when)
        if as_json:
            from latte_cli.models import Customer

            owner = session.get(Customer, complaint.customer_id) if complaint.customer_id else None
            render.print_json(render.complaint_json(complaint, owner))
            return
    typer.echo(complaint.id)
    render.err_console.print(
        f'Opened complaint {complaint.id}. Next: latte step {complaint.id} acknowledge --text "..."'
    )


@app.command()
def step(
    ctx: typer.Context,
    complaint_id: Annotated[int, typer.Argument(metavar="ID", help="The complaint's id.")],
    stage: Annotated[
        str,
        typer.Argument(help="acknowledge, take_action, thank or explain: the stage that is due."),
    ],
    text: Annotated[
        str | None, typer.Option("--text", "-t", help="What you said or did at this stage.")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="take_action: refund, replacement, repair, credit, discount, escalation, "
            "explanation_only or other."
        ),
    ] = None,
    detail: Annotated[str | None, typer.Option(help="take_action: what exactly was done.")] = None,
    amount: Annotated[
        str | None, typer.Option(help="take_action: money refunded or credited, e.g. 12.50.")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", help="take_action: an option offered to the customer (repeatable)."
        ),
    ] = None,
    root_cause: Annotated[
        str | None,
        typer.Option(
            help="explain: product_defect, delivery, billing, service, policy, communication, "
            "customer_error or other."
        ),
    ] = None,
    change: Annotated[
        str | None, typer.Option(help="explain: what will change so that it does not happen again.")
    ] = None,
    at: AtOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record the LATTE stage that is due on a complaint.

    Example: latte step 12 take_action --kind refund --detail "Refunded the parcel" --amount 25
    """
    from latte_cli.services.complaints import StageInput, record_stage

    g = globals_of(ctx)
    given = StageInput(
        text=text,
        action_kind=kind,
        action_detail=detail,
        amount=amount,
        options_offered=tuple(option or ()),
        root_cause=root_cause,
        what_will_change=change,
    )
    when = parse_when(at, what="--at", assume=g.tz) if at else None
    with g.session() as session:
        complaint = record_stage(
            session, complaint_id=complaint_id, stage=stage, given=given, agent=g.agent, at=when
        )
        if as_json:
            render.print_json(_timeline_json(session, complaint_id))
            return
    due = complaint.stage_due or "none: resolved"
    typer.echo(f"Recorded {stage} on complaint {complaint_id}. Stage due: {due}.")


def _timeline_json(session: Session, complaint_id: int) -> dict[str, Any]:
    from latte_cli.services.views import timeline

    return render.timeline_json(timeline(session, complaint_id))


@app.command()
def show(
    ctx: typer.Context,
    complaint_id: Annotated[int, typer.Argument(metavar="ID", help="The complaint's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a complaint's timeline: each stage with who, when and how long it took.

    Example: latte show 12
    """
    from latte_cli.services.views import timeline

    g = globals_of(ctx)
    with g.session(readonly=True) as session:
        view = timeline(session, complaint_id)
    if as_json:
        render.print_json(render.timeline_json(view))
    else:
        render.show_timeline(view, g.tz)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="open, resolved or all.")] = "all",
    stage: Annotated[str | None, typer.Option(help="Only complaints with this stage due.")] = None,
    agent: Annotated[
        str | None, typer.Option("--assigned", help="Only complaints assigned to this agent.")
    ] = None,
    mine: Annotated[bool, typer.Option(help="Only complaints assigned to me.")] = False,
    customer: Annotated[str | None, typer.Option(help="Only this customer's (ref).")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    location: Annotated[str | None, typer.Option(help="Only this location.")] = None,
    since: Annotated[str | None, typer.Option(help="Opened at or after (ISO date).")] = None,
    until: Annotated[str | None, typer.Option(help="Opened before (ISO date).")] = None,
    overdue: Annotated[bool, typer.Option(help="Only open complaints past the SLA.")] = False,
    target: Annotated[float, typer.Option(help="SLA resolution target in hours.")] = 24.0,
    sort: Annotated[
        str, typer.Option(help="opened (oldest first), newest, resolved or id.")
    ] = "opened",
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List complaints, filtered and sorted.

    Example: latte list --status open --overdue --assigned ana
    """
    from latte_cli.services.views import ListFilter, SortKey, Status, list_complaints
    from latte_cli.workflow import parse_choice

    g = globals_of(ctx)
    if target <= 0:
        from latte_cli.errors import InvalidValue

        raise InvalidValue(f"--target must be more than 0 hours, not {target}.")
    filters = ListFilter(
        status=parse_choice(Status, status, what="--status"),
        stage_due=stage,
        agent=g.agent if mine else agent,
        customer_ref=customer,
        channel=channel,
        category=category,
        location=location,
        since=parse_when(since, what="--since", assume=g.tz) if since else None,
        until=parse_when(until, what="--until", assume=g.tz) if until else None,
        overdue=overdue,
        sla_hours=target,
        sort=parse_choice(SortKey, sort, what="--sort"),
        limit=limit,
    )
    now = utcnow()
    with g.session(readonly=True) as session:
        rows = list_complaints(session, filters, now=now)
    if as_json:
        render.print_json([render.row_json(row) for row in rows])
    else:
        render.show_list(rows, g.tz, sla_hours=target, now=now)


@app.command()
def transfer(
    ctx: typer.Context,
    complaint_id: Annotated[int, typer.Argument(metavar="ID", help="The complaint's id.")],
    to: Annotated[str, typer.Option("--to", help="The agent who takes it over.")],
    note: Annotated[str, typer.Option(help="What the next agent needs to know.")],
    as_json: JsonFlag = False,
) -> None:
    """Hand a complaint to another agent with a note; its history goes with it.

    Example: latte transfer 12 --to sam --note "Customer prefers email after 5pm"
    """
    from latte_cli.services.complaints import transfer as transfer_complaint

    g = globals_of(ctx)
    with g.session() as session:
        complaint = transfer_complaint(
            session, complaint_id=complaint_id, to_agent=to, note=note, agent=g.agent
        )
        if as_json:
            render.print_json(_timeline_json(session, complaint_id))
            return
    typer.echo(f"Complaint {complaint_id} transferred to {complaint.assigned_agent}.")


@app.command()
def reopen(
    ctx: typer.Context,
    complaint_id: Annotated[int, typer.Argument(metavar="ID", help="The complaint's id.")],
    reason: Annotated[str, typer.Option(help="Why the complaint is reopened.")],
    at: AtOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Reopen a resolved complaint at take_action; the first resolution stays on record.

    Example: latte reopen 12 --reason "Replacement arrived broken too"
    """
    from latte_cli.services.complaints import reopen as reopen_complaint

    g = globals_of(ctx)
    when = parse_when(at, what="--at", assume=g.tz) if at else None
    with g.session() as session:
        reopen_complaint(session, complaint_id=complaint_id, reason=reason, agent=g.agent, at=when)
        if as_json:
            render.print_json(_timeline_json(session, complaint_id))
            return
    typer.echo(f"Complaint {complaint_id} reopened. Stage due: take_action.")
