"""Commands for one complaint's life: new, step, show, list, transfer, reopen, amend, merge."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from latte_cli.cli import options
from latte_cli.cli.app import VocabularyHelp, app, globals_of
from latte_cli.timeutil import parse_moment, parse_when, utcnow

if TYPE_CHECKING:
    from datetime import datetime

    from sqlmodel import Session

    from latte_cli.cli.app import Globals
    from latte_cli.cli.guided import Conversation
    from latte_cli.services.complaints import NewComplaint


@app.command(cls=VocabularyHelp)
def new(
    ctx: typer.Context,
    listen: Annotated[
        str | None,
        typer.Option("--listen", "-l", help="The customer's own words (the Listen stage)."),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="{channel} (or an alias, see the README).")
    ] = None,
    category: Annotated[
        str | None,
        typer.Option(help="What the complaint is about, e.g. delivery, billing, product."),
    ] = None,
    location: Annotated[str | None, typer.Option(help="Branch or department.")] = None,
    severity: Annotated[str | None, typer.Option(help="{severity}. Default: medium.")] = None,
    summary: Annotated[
        str | None, typer.Option(help="One line for lists. Default: the first line of --listen.")
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Customer ref (matched, or created if new).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Customer name.")] = None,
    email: Annotated[str | None, typer.Option(help="Customer email (matched if no ref).")] = None,
    phone: Annotated[str | None, typer.Option(help="Customer phone.")] = None,
    update_customer: Annotated[
        bool,
        typer.Option(
            "--update-customer",
            help="Replace an existing customer's name, email or phone with the ones given "
            "(else the stored ones are kept, with a warning).",
        ),
    ] = False,
    queue: Annotated[
        bool, typer.Option("--queue", help="Leave it unassigned, for `latte next`.")
    ] = False,
    guided: Annotated[
        bool,
        typer.Option(
            "--guided",
            help="Ask for the remaining LATTE stages too (default on a terminal when a value "
            "is missing).",
        ),
    ] = False,
    followup_days: options.FollowupDays = None,
    at: options.At = None,
    edit: options.Edit = False,
    as_json: options.Json = False,
) -> None:
    """Open a complaint and record what the customer said; on a terminal, guide through LATTE.

    Example: latte new --customer C-104 --name "Ana Diaz" --channel phone --category delivery
    --listen "My parcel arrived broken."
    """
    from latte_cli.cli.app import stdin_is_terminal
    from latte_cli.services.complaints import NewComplaint
    from latte_cli.services.customers import CustomerDetails

    g = globals_of(ctx)
    request = NewComplaint(
        channel=channel or "",
        category=category or "",
        listen=listen or "",
        summary=summary or "",
        location=location,
        severity=severity or "",
        customer=CustomerDetails(ref=customer, name=name, email=email, phone=phone),
        assign=not queue,
        update_customer=update_customer,
    )
    opened_at = parse_moment(at, what="--at", assume=g.tz, now=utcnow()) if at else None
    given = (("--channel", channel), ("--category", category), ("--listen", listen or edit))
    missing = [flag for flag, value in given if not value]
    if missing or guided:
        conversation = not as_json and not queue and stdin_is_terminal()
        _guide_new(
            g,
            request,
            opened_at=opened_at,
            missing=missing,
            conversation=conversation,
            followup_days=followup_days,
            edit=edit,
        )
    else:
        _open_new(g, request, opened_at=opened_at, as_json=as_json, edit=edit)


def _guide_new(
    g: Globals,
    request: NewComplaint,
    *,
    opened_at: datetime | None,
    missing: list[str],
    conversation: bool,
    followup_days: int | None,
    edit: bool = False,
) -> None:
    """Ask for what is missing (and, with --guided, the later stages), or say why it can't."""
    from latte_cli.errors import InvalidValue

    if not conversation:
        if not missing:
            raise InvalidValue(
                "--guided asks questions and needs a terminal. Record the stages with "
                "`latte step ID STAGE` instead."
            )
        them = "them as options" if len(missing) > 1 else "it as an option"
        raise InvalidValue(f"Missing {', '.join(missing)}. Pass {them} (see `latte new --help`).")
    from latte_cli.cli import guided as guide
    from latte_cli.services.complaints import check_given

    # Refuse bad values given up front, before an agent spends time answering prompts.
    check_given(
        channel=request.channel or None,
        severity=request.severity or None,
        category=request.category or None,
        location=request.location,
        customer=request.customer,
        summary=request.summary,
    )
    given = guide.Given(
        listen=request.listen or None,
        channel=request.channel or None,
        category=request.category or None,
        location=request.location,
        severity=request.severity or None,
        summary=request.summary or None,
        customer=request.customer,
        opened_at=opened_at,
    )
    if edit:
        given.listen = _edit_text("listen", request.listen)
    days = g.settings(followup_days=followup_days).followup_days
    guide.Conversation(g, guide.make_prompter(), days=days).start(given)


def _open_new(
    g: Globals, request: NewComplaint, *, opened_at: datetime | None, as_json: bool, edit: bool
) -> None:
    """Open the complaint from its flags alone, and say what comes next."""
    from dataclasses import replace

    from latte_cli.cli import render
    from latte_cli.services.complaints import check_given, open_complaint_noting
    from latte_cli.services.customers import customer_of

    if edit:  # a summary that will be refused is refused before the editor opens
        check_given(summary=request.summary)
    listen = (
        _edit_text("listen", request.listen, kept=(g.db_url, "new-listen"))
        if edit
        else request.listen
    )
    request = replace(request, severity=request.severity or "medium", listen=listen)
    with _kept(g, "new-listen", listen, edit, "--listen", "latte new"), g.session() as session:
        opened = open_complaint_noting(
            session,
            new=request,
            agent=g.agent,
            at=opened_at,
            deadlines=g.settings().deadlines,
            zone=g.tz,
        )
        complaint = opened.complaint
        owner = customer_of(session, complaint) if as_json or opened.notes else None
    for note in opened.notes:
        typer.echo(render.detail_note(note, owner), err=True)
    if as_json:
        render.print_json(render.complaint_json(complaint, owner))
        return
    typer.echo(complaint.id)
    render.err_console.print(
        f'Opened complaint {complaint.id}. Next: latte step {complaint.id} acknowledge --text "..."'
    )


@app.command(cls=VocabularyHelp)
def step(
    ctx: typer.Context,
    complaint_id: options.ComplaintId,
    stage: Annotated[
        str,
        typer.Argument(help="acknowledge, take_action, thank or explain: the stage that is due."),
    ],
    text: Annotated[
        str | None, typer.Option("--text", "-t", help="What you said or did at this stage.")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="take_action: {action_kind}."),
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
        typer.Option(help="explain: {root_cause}."),
    ] = None,
    change: Annotated[
        str | None, typer.Option(help="explain: what will change so that it does not happen again.")
    ] = None,
    followup_days: options.FollowupDays = None,
    at: options.At = None,
    edit: options.Edit = False,
    as_json: options.Json = False,
) -> None:
    """Record the LATTE stage that is due on a complaint.

    Example: latte step 12 take_action --kind refund --detail "Refunded the parcel" --amount 25
    """
    from latte_cli.cli import render
    from latte_cli.services.complaints import StageInput, record_stage
    from latte_cli.workflow import Stage, parse_choice

    g = globals_of(ctx)
    # Only explain resolves and schedules a follow-up: the setting is not needed before it.
    chosen = parse_choice(Stage, stage, what="Stage")
    resolves = chosen is Stage.EXPLAIN
    days = g.settings(followup_days=followup_days).followup_days if resolves else None
    # A bad --at is refused before the editor opens: nothing written is lost.
    when = parse_moment(at, what="--at", assume=g.tz, now=utcnow()) if at else None
    kept = f"step-{complaint_id}-{chosen.value}"
    if edit and chosen is Stage.TAKE_ACTION:
        detail = _edit_text(chosen.value, detail, complaint_id, kept=(g.db_url, kept))
    elif edit:
        text = _edit_text(chosen.value, text, complaint_id, kept=(g.db_url, kept))
    given = StageInput(
        text=text,
        action_kind=kind,
        action_detail=detail,
        amount=amount,
        options_offered=tuple(option or ()),
        root_cause=root_cause,
        what_will_change=change,
    )
    advice = _advice_seen(g, complaint_id) if as_json and chosen is Stage.TAKE_ACTION else None
    written = detail if chosen is Stage.TAKE_ACTION else text
    command = f"latte step {complaint_id} {chosen.value}"
    flag = EDIT_WHAT[chosen.value][1]
    with _kept(g, kept, written, edit, flag, command), g.session() as session:
        complaint = record_stage(
            session,
            complaint_id=complaint_id,
            stage=stage,
            given=given,
            agent=g.agent,
            at=when,
            followup_days=days,
            zone=g.tz,
        )
        if as_json:
            answer = _timeline_json(session, complaint_id)
            if advice is not None:
                answer["advice"] = advice
            render.print_json(answer)
            return
    due = complaint.stage_due or "none: resolved"
    typer.echo(f"Recorded {stage} on complaint {complaint_id}. Stage due: {due}.")
    if complaint.stage_due is None:
        typer.echo(f"Follow-up scheduled: record it with `latte followup record {complaint_id}`.")


def _advice_seen(g: Globals, complaint_id: int) -> dict[str, Any]:
    """The advice the guided flow would have shown before the action was chosen, read before
    it is recorded (cli/advise.py)."""
    from latte_cli.cli.advise import advice_for

    with g.session(readonly=True) as session:
        return advice_for(session, complaint_id, g.settings()).as_json()


# --edit on `new` and `step`: what to write per stage, and the option that gives it instead.
EDIT_WHAT = {
    "listen": ("the customer's own words (the Listen stage)", "--listen"),
    "acknowledge": ("what you said to acknowledge the complaint", "--text"),
    "take_action": ("what exactly was done (Take action)", "--detail"),
    "thank": ("how you thanked the customer", "--text"),
    "explain": ("what you explained to the customer", "--text"),
}


def _edit_text(
    stage: str,
    initial: str | None,
    complaint_id: int | None = None,
    *,
    kept: tuple[str, str] | None = None,
) -> str:
    """The stage's text written in the editor (cli/editor.py), from `initial` if given, else
    from the text a refused command left under `kept` (the database's URL and the name)."""
    from latte_cli.cli.editor import compose, kept_text

    what, flag = EDIT_WHAT.get(stage, (f"the {stage} text", "--text"))
    hint = f"Complaint {complaint_id}, stage {stage}." if complaint_id is not None else ""
    initial = initial or (kept_text(*kept) if kept else None) or ""
    return compose(what, initial=initial, instead=flag, hint=hint)


def _kept(g: Globals, name: str, text: str | None, edited: bool, flag: str, command: str) -> Any:
    """A refused `new` or `step` keeps the text written in the editor for its database
    (cli/editor.py)."""
    from latte_cli.cli.editor import kept_if_refused

    return kept_if_refused(g.db_url, name, text, edited=edited, flag=flag, command=command)


def _timeline_json(session: Session, complaint_id: int) -> dict[str, Any]:
    from latte_cli.cli import render
    from latte_cli.services.views import timeline

    return render.timeline_json(timeline(session, complaint_id))


@app.command()
def show(
    ctx: typer.Context,
    complaint_id: options.ComplaintId,
    history: Annotated[
        bool,
        typer.Option("--history", help="Also show each correction: before and after, who and why."),
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Show a complaint's timeline: each stage with who, when and how long it took.

    Example: latte show 12 --history
    """
    from latte_cli.cli import render
    from latte_cli.services.team import unread_transfer
    from latte_cli.services.views import timeline

    g = globals_of(ctx)
    with g.session(readonly=True) as session:
        view = timeline(session, complaint_id, utcnow())
        note = (
            None if as_json else unread_transfer(session, complaint_id=complaint_id, agent=g.agent)
        )
    if as_json:
        render.print_json(render.timeline_json(view))
        return
    from latte_cli.cli.render import show_transfer_note, sla_countdown

    if note is not None:
        show_transfer_note(note, g.tz)
    render.show_timeline(view, g.tz)
    if history:
        render.show_history(view, g.tz)
    if view.complaint.stage_due is not None:
        countdown = sla_countdown(view.complaint.opened_at, utcnow(), g.settings().sla_hours)
        if countdown is not None:
            render.console.print(countdown)
    for line in render.deadline_lines(view.deadline, g.tz):
        render.console.print(line)


@app.command("list", cls=VocabularyHelp)
def list_(
    ctx: typer.Context,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every complaint, open or resolved, anyone's, oldest first (filters apply).",
        ),
    ] = False,
    status: Annotated[
        str | None,
        typer.Option(
            help="open, resolved, merged or all. Default: open; all with --all.",
            show_default=False,
        ),
    ] = None,
    stage: Annotated[str | None, typer.Option(help="Only complaints with this stage due.")] = None,
    agent: Annotated[
        str | None, typer.Option("--assigned", help="Only complaints assigned to this agent.")
    ] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only complaints assigned to me.")] = False,
    customer: Annotated[str | None, typer.Option(help="Only this customer's (ref).")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel: {channel}.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    location: Annotated[str | None, typer.Option(help="Only this location.")] = None,
    since: options.Since = None,
    until: options.Until = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only open complaints past the SLA.")
    ] = False,
    target: options.Target = None,
    due_within: Annotated[
        str | None,
        typer.Option(
            "--due-within",
            metavar="DURATION",
            help="Only open complaints whose final deadline (or first-response deadline, "
            "while not acknowledged) falls within this long from now, e.g. 2d, 8h.",
        ),
    ] = None,
    breached: Annotated[
        bool,
        typer.Option(
            "--breached",
            help="Only complaints that missed a deadline: answered after it, or not yet and "
            "past it.",
        ),
    ] = False,
    update_due: Annotated[
        bool,
        typer.Option("--update-due", help="Only open complaints owing the customer an update."),
    ] = False,
    sort: Annotated[
        str | None,
        typer.Option(
            help="urgent (earliest final deadline first, then SLA order), opened (oldest "
            "first), newest, "
            "resolved or id. Default: urgent; opened with --all.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 50,
    as_json: options.Json = False,
) -> None:
    """List what needs action: open complaints assigned to me or to no one, most urgent first.

    --all lists every complaint instead; --status, --assigned, --mine and --sort replace that
    part of the default, the other filters narrow it.

    Example: latte list --overdue; latte list --all --status resolved --assigned ana
    """
    from datetime import timedelta

    from latte_cli.cli import render
    from latte_cli.deadlines import parse_within
    from latte_cli.services.views import ListFilter, SortKey, Status, complaint_page
    from latte_cli.workflow import parse_choice

    g = globals_of(ctx)
    within = timedelta(seconds=parse_within(due_within)) if due_within else None
    sla_hours = g.settings(sla_hours=target).sla_hours
    needing_action = not every and status is None and agent is None and not mine
    filters = ListFilter(
        status=parse_choice(Status, status or ("all" if every else "open"), what="--status"),
        stage_due=stage,
        agent=g.agent if mine else agent,
        agent_or_unassigned=g.agent if not (every or agent or mine) else None,
        customer_ref=customer,
        channel=channel,
        category=category,
        location=location,
        since=parse_when(since, what="--since", assume=g.tz) if since else None,
        until=parse_when(until, what="--until", assume=g.tz) if until else None,
        overdue=overdue,
        sla_hours=sla_hours,
        due_within=within,
        breached=breached,
        update_due=update_due,
        sort=parse_choice(SortKey, sort or ("opened" if every else "urgent"), what="--sort"),
        limit=limit,
    )
    now = utcnow()
    with g.session(readonly=True) as session:
        page = complaint_page(session, filters, now=now)
    if as_json:
        render.print_json([render.row_json(row) for row in page.rows])
    else:
        render.show_list(
            page.rows,
            g.tz,
            sla_hours=sla_hours,
            now=now,
            total=page.total,
            needing_action=needing_action,
        )


@app.command(cls=VocabularyHelp)
def update(
    ctx: typer.Context,
    complaint: Annotated[
        str, typer.Argument(metavar="ID|REF", help="The complaint's id or external reference.")
    ],
    text: Annotated[str, typer.Option("--text", "-t", help="What you told the customer.")],
    channel: Annotated[str | None, typer.Option(help="How it was sent: {channel}.")] = None,
    at: options.At = None,
    as_json: options.Json = False,
) -> None:
    """Record an update sent to the customer while their complaint is handled (no stage).

    Example: latte update 12 --text "The replacement ships tomorrow" --channel email
    """
    from latte_cli.cli import render
    from latte_cli.services.updates import record_update

    g = globals_of(ctx)
    when = parse_moment(at, what="--at", assume=g.tz, now=utcnow()) if at else None
    with g.session() as session:
        done = record_update(
            session,
            complaint=complaint,
            text=text,
            agent=g.agent,
            channel=channel,
            at=when,
            zone=g.tz,
        )
        assert done.id is not None
        if as_json:
            render.print_json(_timeline_json(session, done.id))
            return
    typer.echo(f"Recorded an update to the customer on complaint {done.id}.")


@app.command()
def transfer(
    ctx: typer.Context,
    complaint_id: options.ComplaintId,
    to: Annotated[str, typer.Option("--to", help="The agent who takes it over.")],
    note: Annotated[str, typer.Option(help="What the next agent needs to know.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Transfer even if the agent is away or latte has never seen them."
        ),
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Hand a complaint to another agent with a note; its history goes with it.

    Example: latte transfer 12 --to sam --note "Customer prefers email after 5pm"
    """
    from latte_cli.cli import render
    from latte_cli.services.team import hand_over

    g = globals_of(ctx)
    with g.session() as session:
        complaint = hand_over(
            session,
            complaint_id=complaint_id,
            to_agent=to,
            note=note,
            agent=g.agent,
            force=force,
        )
        if as_json:
            render.print_json(_timeline_json(session, complaint_id))
            return
    typer.echo(f"Complaint {complaint_id} transferred to {complaint.assigned_agent}.")


@app.command()
def reopen(
    ctx: typer.Context,
    complaint_id: options.ComplaintId,
    reason: Annotated[str, typer.Option(help="Why the complaint is reopened.")],
    at: options.At = None,
    as_json: options.Json = False,
) -> None:
    """Reopen a resolved complaint at take_action; the first resolution stays on record.

    Example: latte reopen 12 --reason "Replacement arrived broken too"
    """
    from latte_cli.cli import render
    from latte_cli.services.complaints import reopen as reopen_complaint

    g = globals_of(ctx)
    when = parse_moment(at, what="--at", assume=g.tz, now=utcnow()) if at else None
    with g.session() as session:
        reopen_complaint(
            session, complaint_id=complaint_id, reason=reason, agent=g.agent, at=when, zone=g.tz
        )
        if as_json:
            render.print_json(_timeline_json(session, complaint_id))
            return
    typer.echo(f"Complaint {complaint_id} reopened. Stage due: take_action.")


@app.command(cls=VocabularyHelp)
def amend(
    ctx: typer.Context,
    complaint_id: options.ComplaintId,
    stage: Annotated[str, typer.Argument(help="The recorded stage to correct.")],
    reason: Annotated[str, typer.Option(help="Why it is corrected (kept in the event log).")],
    text: Annotated[
        str | None, typer.Option("--text", "-t", help="What was said or done at this stage.")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="take_action: {action_kind}.")] = None,
    detail: Annotated[str | None, typer.Option(help="take_action: what exactly was done.")] = None,
    amount: Annotated[
        str | None,
        typer.Option(help='take_action: money refunded or credited, e.g. 12.50 ("" clears it).'),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="take_action: an option offered (repeatable; replaces the options recorded).",
        ),
    ] = None,
    root_cause: Annotated[str | None, typer.Option(help="explain: {root_cause}.")] = None,
    change: Annotated[
        str | None, typer.Option(help="explain: what will change so that it does not recur.")
    ] = None,
    cycle: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Correct the stage of cycle N (1 = before any reopening). "
            "Default: the current cycle.",
            show_default=False,
        ),
    ] = None,
    edit: options.Edit = False,
    as_json: options.Json = False,
) -> None:
    """Correct what a recorded stage says; its time and order stay, the original is kept.

    Example: latte amend 12 explain --root-cause delivery --reason "Picked the wrong cause"
    """
    from latte_cli.cli import render
    from latte_cli.services.amend import Correction, amend_stage, text_to_edit

    g = globals_of(ctx)
    if edit:
        # From what the stage says now, checked before the editor opens (nothing typed is lost
        # to a refusal the database could give first).
        with g.session(readonly=True) as session:
            recorded = text_to_edit(session, complaint_id=complaint_id, stage=stage, cycle=cycle)
        if stage == "take_action":
            detail = _edit_text(stage, detail or recorded, complaint_id)
        else:
            text = _edit_text(stage, text or recorded, complaint_id)
    given = Correction(
        text=text,
        action_kind=kind,
        action_detail=detail,
        amount=amount,
        options_offered=tuple(option) if option else None,
        root_cause=root_cause,
        what_will_change=change,
    )
    with g.session() as session:
        done = amend_stage(
            session,
            complaint_id=complaint_id,
            stage=stage,
            given=given,
            reason=reason,
            agent=g.agent,
            cycle=cycle,
        )
        if as_json:
            render.print_json(_timeline_json(session, complaint_id))
            return
    changed = ", ".join(done.after)
    typer.echo(f"Amended {done.stage.value} on complaint {complaint_id}: {changed}.")


@app.command()
def merge(
    ctx: typer.Context,
    complaint_id: options.ComplaintId,
    into: Annotated[int, typer.Option("--into", metavar="ID", help="The complaint it duplicates.")],
    reason: Annotated[str, typer.Option(help="Why they are one complaint.")],
    force: Annotated[
        bool, typer.Option("--force", help="Merge even if the two are different customers'.")
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Close a duplicate complaint, folding its words and steps into the real one.

    The duplicate leaves the queue and counts once in every report, as the target.

    Example: latte merge 14 --into 12 --reason "Same parcel, called twice"
    """
    from latte_cli.cli import render
    from latte_cli.services.merge import merge_complaint

    g = globals_of(ctx)
    with g.session() as session:
        merge_complaint(
            session,
            complaint_id=complaint_id,
            into=into,
            reason=reason,
            agent=g.agent,
            force=force,
        )
        if as_json:
            render.print_json(_timeline_json(session, into))
            return
    typer.echo(f"Complaint {complaint_id} merged into {into}. See it with `latte show {into}`.")


@app.command()
def resume(
    ctx: typer.Context,
    complaint_id: Annotated[
        int | None,
        typer.Argument(metavar="ID", help="The complaint's id. Default: pick one of mine."),
    ] = None,
    followup_days: options.FollowupDays = None,
) -> None:
    """Continue a complaint at the stage that is due, answering prompts (needs a terminal).

    Example: latte resume 12
    """
    from latte_cli.cli.app import stdin_is_terminal
    from latte_cli.errors import InvalidValue

    g = globals_of(ctx)
    if not stdin_is_terminal():
        due = _refuse_resume(g, complaint_id) if complaint_id is not None else "STAGE"
        target = complaint_id if complaint_id is not None else "ID"
        raise InvalidValue(
            "latte resume asks questions and needs a terminal. Record the stage due with "
            f"`latte step {target} {due} ...` (see `latte show {target}`)."
        )
    from latte_cli.cli import guided as guide

    days = g.settings(followup_days=followup_days).followup_days
    conversation = guide.Conversation(g, guide.make_prompter(), days=days)
    if complaint_id is None:
        complaint_id = _pick_open_complaint(ctx, conversation)
        if complaint_id is None:
            return
    conversation.resume(complaint_id)


def _refuse_resume(g: Globals, complaint_id: int) -> str:
    """What resuming a complaint with nothing due says instead of suggesting `latte step`: a
    merged duplicate names its target, and how to go on with it (`latte reopen` when it is
    resolved) (README, "Exit codes": a refused state change, exit 1), a resolved one says how
    to reopen it; an unknown id is not found. Otherwise the stage due, for the hint."""
    from latte_cli.errors import StageOutOfOrder
    from latte_cli.services.complaints import get_complaint

    with g.session(readonly=True) as session:
        complaint = get_complaint(session, complaint_id)
        into, due = complaint.merged_into, complaint.stage_due
        target_resolved = into is not None and get_complaint(session, into).stage_due is None
    if into is not None:
        go_on = (
            f"Reopen that one with `latte reopen {into} --reason TEXT`."
            if target_resolved
            else f"Resume that one with `latte resume {into}`."
        )
        raise StageOutOfOrder(
            f"Complaint {complaint_id} was merged into complaint {into}: nothing to continue "
            f"here. {go_on}"
        )
    if due is None:
        raise StageOutOfOrder(
            f"Complaint {complaint_id} is resolved: nothing to continue. Reopen it with "
            f"`latte reopen {complaint_id} --reason TEXT`."
        )
    return due


def _pick_open_complaint(ctx: typer.Context, conversation: Conversation) -> int | None:
    from latte_cli.services.views import ListFilter, Status, list_complaints

    g = globals_of(ctx)
    with g.session(readonly=True) as session:
        rows = list_complaints(session, ListFilter(status=Status.OPEN, agent=g.agent, limit=30))
    if not rows:
        typer.echo("You have no open complaints. Take the next one with `latte next`.")
        return None
    choices = [
        (
            f"{row.id}: {row.stage_due} due · {row.customer_name or row.customer_ref or '—'}"
            f" · {row.summary}",  # shortened with "…" to the terminal's width
            row.id,
        )
        for row in rows
    ]
    with conversation.guarded():
        picked: int = conversation.ask.select("Which complaint?", choices)
    return picked
