"""Opening complaints and moving them through the LATTE stages.

Each public function is one transaction: it checks the change against the workflow rules,
updates the complaint, appends to the event log, and commits, or changes nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlmodel import Session, col, select

from latte_cli import vocabulary, workflow
from latte_cli.deadlines import STANDARD_DEADLINES, Deadlines
from latte_cli.errors import InvalidValue, NotFound
from latte_cli.events import (
    STEP_KINDS,
    OpenedDetails,
    ReopenDetails,
    StageDetails,
    TransferDetails,
)
from latte_cli.importer.fields import ascii_digits
from latte_cli.models import Complaint, Customer, Event, StageRecord
from latte_cli.services import followups
from latte_cli.services.customers import (
    CustomerDetails,
    DetailNote,
    check_details,
    clean_text,
    current_customer,
    log_customer_edit,
    match_customer,
)
from latte_cli.services.eventlog import log_event
from latte_cli.timeutil import epoch, in_the_future, shown, utcnow
from latte_cli.workflow import Stage, default_summary

# The customer's words and stage texts; the same limit as `latte import` (docs/architecture.md,
# "Batch import").
MAX_TEXT = 1_000_000
# A summary is one line for lists: the same limit as `latte import`'s summary column.
MAX_SUMMARY = 500
MAX_AMOUNT = Decimal(workflow.MAX_CENTS) / 100
# An amount as a person types it: digits, and a point with decimals (12, 12.5, 12.50, .5).
_PLAIN = re.compile(r"\d+(?:\.\d*)?|\.\d+", re.ASCII)


def parse_amount(text: str | None) -> int | None:
    """A money amount as whole cents, typed as 12.50 (digits of any script): refuses
    negatives, more than two decimals, and what `Decimal` reads besides (`1e3`, `1_000`)."""
    if text is None or str(text).strip() == "":
        return None
    written = ascii_digits(str(text).strip())
    if written.startswith("-") and _PLAIN.fullmatch(written[1:]):
        raise InvalidValue(f"The amount {text!r} must be zero or more. Give it like 12.50.")
    if not _PLAIN.fullmatch(written):
        raise InvalidValue(f"The amount {text!r} is not a number. Give it like 12.50.")
    try:
        value = Decimal(written)
    except InvalidOperation:  # the pattern admits only what Decimal reads; kept for safety
        raise InvalidValue(f"The amount {text!r} is not a number. Give it like 12.50.") from None
    if value < 0:
        raise InvalidValue(f"The amount {text!r} must be zero or more. Give it like 12.50.")
    if value > MAX_AMOUNT:
        raise InvalidValue(
            f"The amount {text!r} is more than {MAX_AMOUNT:,}. Check it; give it like 12.50."
        )
    cents = value * 100
    if cents != cents.to_integral_value():
        raise InvalidValue(f"The amount {text!r} has more than two decimals. Give it like 12.50.")
    return int(cents)


def _required(value: str | None, what: str, flag: str, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidValue(f"{what} is empty. Pass {flag} TEXT.")
    if len(value) > limit:
        raise InvalidValue(f"{what} is longer than {limit} characters. Shorten it.")
    return value


def _summary(value: str | None) -> str:
    """The summary the agent gave, stripped; InvalidValue if longer than MAX_SUMMARY (never cut:
    `latte import` refuses it too)."""
    value = (value or "").strip()
    if len(value) > MAX_SUMMARY:
        raise InvalidValue(
            f"The summary is {len(value)} characters long; the limit is {MAX_SUMMARY}. "
            "Shorten --summary."
        )
    return value


def agent_summary(summary: str | None, listen: str | None) -> str | None:
    """`summary` when the agent wrote it; None when it is `default_summary` of `listen`, the
    customer's own words, which phrases never read back to them (docs/architecture.md, "One
    rule, one place")."""
    if not summary or (listen is not None and summary == default_summary(listen)):
        return None
    return summary


def _at(at: datetime | None, now: datetime, zone: tzinfo | None = None) -> datetime:
    """`at` (an `--at` time), else now; refused in the future. `zone` is the user's, in which
    the refusal names the time."""
    if at is None:
        return now
    if at > now + timedelta(minutes=5):
        raise in_the_future(at, now, zone)
    return at


def _after_previous(at: datetime, previous: datetime, zone: tzinfo | None) -> None:
    """Refuse an `--at` time before the complaint's previous step, naming both in the user's
    zone (the workflow refuses it too, but knows no zone)."""
    if at < previous:
        raise InvalidValue(
            f"The time {shown(at, zone)} is before the complaint's previous step "
            f"({shown(previous, zone)}). Give a later time."
        )


def state_of(complaint: Complaint, last_step_at: datetime | None = None) -> workflow.State:
    """The workflow state stored on a complaint row (`last_step_at`: see _last_step_time)."""
    return workflow.State(
        opened_at=complaint.opened_at,
        assigned_agent=complaint.assigned_agent,
        stage_due=Stage(complaint.stage_due) if complaint.stage_due else None,
        cycle=complaint.cycle,
        first_resolved_at=complaint.first_resolved_at,
        resolved_at=complaint.resolved_at,
        reopen_count=complaint.reopen_count,
        last_completed_at=last_step_at,
        merged_into=complaint.merged_into,
    )


def _store_state(complaint: Complaint, state: workflow.State) -> None:
    complaint.stage_due = state.stage_due.value if state.stage_due else None
    complaint.assigned_agent = state.assigned_agent
    complaint.cycle = state.cycle
    complaint.reopen_count = state.reopen_count
    complaint.first_resolved_at = state.first_resolved_at
    complaint.first_resolved_epoch = (
        epoch(state.first_resolved_at) if state.first_resolved_at else None
    )
    complaint.resolved_at = state.resolved_at
    complaint.resolved_epoch = epoch(state.resolved_at) if state.resolved_at else None
    complaint.merged_into = state.merged_into


def get_complaint(session: Session, complaint_id: int, *, for_update: bool = False) -> Complaint:
    statement = select(Complaint).where(Complaint.id == complaint_id)
    if for_update:
        statement = statement.with_for_update()
    complaint = session.exec(statement).first()
    if complaint is None:
        raise NotFound(f"No complaint with id {complaint_id}. List them with `latte list`.")
    return complaint


def _last_step_time(session: Session, complaint: Complaint) -> datetime | None:
    """The latest stage, resolution or reopening: the next step may not be earlier."""
    return session.exec(
        select(Event.at)
        .where(
            Event.complaint_id == complaint.id,
            col(Event.kind).in_([kind.value for kind in STEP_KINDS]),
        )
        .order_by(col(Event.id).desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class NewComplaint:
    channel: str
    category: str
    listen: str
    summary: str = ""
    location: str | None = None
    severity: str = "medium"
    customer: CustomerDetails = field(default_factory=CustomerDetails)
    external_id: str | None = None
    # False leaves the complaint in the queue, unassigned, for `latte next`.
    assign: bool = True
    # An existing customer picked by id (the guided flow's search); overrides `customer`.
    customer_id: int | None = None
    # Details that differ from an existing customer's replace them (else they are kept).
    update_customer: bool = False


def check_given(
    *,
    channel: str | None = None,
    severity: str | None = None,
    category: str | None = None,
    location: str | None = None,
    customer: CustomerDetails | None = None,
    summary: str | None = None,
) -> None:
    """Refuse bad values given up front, before an agent spends time answering prompts."""
    _summary(summary)
    if channel:
        vocabulary.parse("channel", channel)
    if severity:
        vocabulary.parse("severity", severity)
    if category:
        _required(category, "The category", "--category", limit=100)
    clean_text(location, limit=100, what="The location")
    if customer is not None:
        check_details(customer)


def open_complaint(
    session: Session,
    *,
    new: NewComplaint,
    agent: str,
    at: datetime | None = None,
    listened_at: datetime | None = None,
    deadlines: Deadlines = STANDARD_DEADLINES,
) -> Complaint:
    """Open a complaint with the customer's own words (the Listen stage) and commit it.

    `listened_at` is when the agent finished listening (default: the opening time), so that a
    guided conversation records how long Listen took. Its deadlines are fixed now, by
    `deadlines` (the policy in force, `Settings.deadlines`).
    """
    return open_complaint_noting(
        session, new=new, agent=agent, at=at, listened_at=listened_at, deadlines=deadlines
    ).complaint


def fix_deadlines(complaint: Complaint, deadlines: Deadlines) -> None:
    """Store the complaint's due times, fixed at its opening by the policy in force
    (docs/metrics.md, "Deadlines"); a later change of policy leaves them as they are."""
    due = deadlines.fixed_at_opening(
        severity=complaint.severity,
        category=complaint.category,
        channel=complaint.channel,
        opened=complaint.opened_epoch,
    )
    complaint.deadline_policy = due.rule
    complaint.first_response_due_epoch = due.first_response
    complaint.final_response_due_epoch = due.final_response
    complaint.update_every_days = due.update_every_days
    complaint.last_update_epoch = complaint.opened_epoch


@dataclass(frozen=True)
class Opened:
    complaint: Complaint
    # Customer details given that differ from the stored ones, and what was done with them.
    notes: tuple[DetailNote, ...] = ()


def open_complaint_noting(
    session: Session,
    *,
    new: NewComplaint,
    agent: str,
    at: datetime | None = None,
    listened_at: datetime | None = None,
    deadlines: Deadlines = STANDARD_DEADLINES,
    zone: tzinfo | None = None,
) -> Opened:
    """`open_complaint`, also saying which given customer details differ from the stored ones
    (kept, or replaced with `update_customer`; an empty one is filled). `zone`: the user's,
    in which a refused `at` is named."""
    now = utcnow()
    opened_at = _at(at, now, zone)
    heard_at = max(_at(listened_at, now), opened_at) if listened_at else opened_at
    channel = vocabulary.parse("channel", new.channel)
    severity = vocabulary.parse("severity", new.severity)
    category = _required(new.category, "The category", "--category", limit=100).lower()
    listen = _required(new.listen, "The customer's words (Listen)", "--listen")
    summary = _summary(new.summary) or default_summary(listen)
    customer: Customer | None
    notes: tuple[DetailNote, ...] = ()
    if new.customer_id is not None:
        customer = session.get(Customer, new.customer_id)
        if customer is None:
            raise NotFound(
                f"No customer with id {new.customer_id}. Search with `latte customer search`."
            )
        customer = current_customer(session, customer)
    else:
        matched = match_customer(session, new.customer, update=new.update_customer)
        customer, notes = matched.customer, matched.notes
    assignee = agent if new.assign else None
    state = workflow.apply(None, workflow.Opened(at=opened_at, agent=assignee))
    complaint = Complaint(
        external_id=new.external_id,
        customer_id=customer.id if customer else None,
        channel=channel,
        category=category,
        location=clean_text(new.location, limit=100, what="The location"),
        severity=severity,
        summary=summary,
        opened_by=agent,
        opened_at=opened_at,
        opened_epoch=epoch(opened_at),
        updated_at=now,
    )
    _store_state(complaint, state)
    fix_deadlines(complaint, deadlines)
    session.add(complaint)
    session.flush()
    assert complaint.id is not None
    log_event(
        session,
        complaint_id=complaint.id,
        at=opened_at,
        agent=agent,
        details=OpenedDetails(assigned_agent=state.assigned_agent),
    )
    _record(
        session,
        complaint,
        state,
        Stage.LISTEN,
        agent=agent,
        at=heard_at,
        text=listen,
    )
    updated = [n for n in notes if n.outcome == "updated"]
    if customer is not None and updated:
        log_customer_edit(
            session,
            customer,
            before={n.field: n.stored for n in updated},
            after={n.field: n.given for n in updated},
            reason="latte new --update-customer",
            agent=agent,
        )
    session.commit()
    return Opened(complaint, notes)


@dataclass(frozen=True)
class StageInput:
    """What an agent records for a stage; the fields that apply depend on the stage."""

    text: str | None = None
    action_kind: str | None = None
    action_detail: str | None = None
    amount: str | None = None
    options_offered: tuple[str, ...] = ()
    root_cause: str | None = None
    what_will_change: str | None = None


def _stage_fields(stage: Stage, given: StageInput) -> dict[str, Any]:
    if stage is Stage.TAKE_ACTION:
        kind = vocabulary.parse(
            "action_kind", _required(given.action_kind, "The action kind", "--kind")
        )
        detail = _required(given.action_detail or given.text, "The action detail", "--detail")
        options = [o.strip() for o in given.options_offered if o.strip()]
        return {
            "text": (given.text or detail).strip(),
            "action_kind": kind,
            "action_detail": detail,
            "amount_cents": parse_amount(given.amount),
            "options_offered": json.dumps(options) if options else None,
        }
    if stage is Stage.EXPLAIN:
        cause = vocabulary.parse(
            "root_cause", _required(given.root_cause, "The root cause", "--root-cause")
        )
        change = _required(given.what_will_change, "What will change", "--change")
        return {
            "text": (given.text or change).strip(),
            "root_cause": cause,
            "what_will_change": change,
        }
    return {"text": _required(given.text, f"The {stage.value} text", "--text")}


def _record(
    session: Session,
    complaint: Complaint,
    state: workflow.State,
    stage: Stage,
    *,
    agent: str,
    at: datetime,
    **fields: Any,
) -> workflow.State:
    new_state = workflow.apply(state, workflow.StageRecorded(stage=stage, at=at, agent=agent))
    assert complaint.id is not None
    record = StageRecord(
        complaint_id=complaint.id,
        cycle=state.cycle,
        stage=stage.value,
        agent=agent,
        completed_at=at,
        duration_seconds=int(workflow.stage_duration(state, at).total_seconds()),
        **fields,
    )
    session.add(record)
    if stage is Stage.ACKNOWLEDGE and complaint.acknowledged_at is None:
        complaint.acknowledged_at = at
        complaint.acknowledged_epoch = epoch(at)
    if stage is Stage.TAKE_ACTION:
        complaint.action_kind = fields["action_kind"]
    if stage is Stage.EXPLAIN:
        complaint.root_cause = fields["root_cause"]
    _store_state(complaint, new_state)
    complaint.updated_at = utcnow()
    session.add(complaint)
    log_event(
        session,
        complaint_id=complaint.id,
        at=at,
        agent=agent,
        details=StageDetails(stage=stage, cycle=state.cycle),
    )
    return new_state


def record_stage(
    session: Session,
    *,
    complaint_id: int,
    stage: str,
    given: StageInput,
    agent: str,
    at: datetime | None = None,
    followup_days: int | None = None,
    zone: tzinfo | None = None,
) -> Complaint:
    """Record the stage that is due, or refuse naming the stage that is due; commits.

    Recording `explain` resolves the complaint and schedules its follow-up `followup_days`
    later (default: LATTE_FOLLOWUP_DAYS, else 3) in the same transaction. `zone`: the user's,
    in which a refused `at` is named.
    """
    wanted = workflow.parse_choice(Stage, stage, what="Stage")
    complaint = get_complaint(session, complaint_id, for_update=True)
    previous = _last_step_time(session, complaint) or complaint.opened_at
    state = state_of(complaint, previous)
    workflow.check_stage(state, wanted)
    fields = _stage_fields(wanted, given)
    when = _at(at, utcnow(), zone)
    _after_previous(when, previous, zone)
    new_state = _record(session, complaint, state, wanted, agent=agent, at=when, **fields)
    if new_state.is_resolved:
        days = followups.followup_days(followup_days)
        followups.schedule_followup(
            session, complaint=complaint, resolved_at=when, days=days, agent=agent
        )
    session.commit()
    return complaint


def transfer(
    session: Session, *, complaint_id: int, to_agent: str, note: str, agent: str
) -> Complaint:
    """Hand the complaint to another agent with a note; commits."""
    to_agent = _required(to_agent, "The receiving agent", "--to", limit=100)
    note = _required(note, "The transfer note", "--note")
    complaint = get_complaint(session, complaint_id, for_update=True)
    now = utcnow()
    state = workflow.apply(
        state_of(complaint), workflow.Transferred(to_agent=to_agent, at=now, agent=agent)
    )
    log_event(
        session,
        complaint_id=complaint_id,
        at=now,
        agent=agent,
        details=TransferDetails(from_agent=complaint.assigned_agent, to_agent=to_agent, note=note),
    )
    _store_state(complaint, state)
    complaint.updated_at = now
    session.add(complaint)
    session.commit()
    return complaint


def reopen(
    session: Session,
    *,
    complaint_id: int,
    reason: str,
    agent: str,
    at: datetime | None = None,
    zone: tzinfo | None = None,
) -> Complaint:
    """Put a resolved complaint back to take_action; the first resolution stays on record.
    `zone`: the user's, in which a refused `at` is named."""
    reason = _required(reason, "The reason", "--reason")
    complaint = get_complaint(session, complaint_id, for_update=True)
    when = _at(at, utcnow(), zone)
    previous = _last_step_time(session, complaint) or complaint.opened_at
    state = state_of(complaint, previous)
    if state.is_resolved and not state.is_merged:  # else the workflow names what is wrong
        _after_previous(when, previous, zone)
    state = workflow.apply(state, workflow.Reopened(at=when, agent=agent))
    log_event(
        session,
        complaint_id=complaint_id,
        at=when,
        agent=agent,
        details=ReopenDetails(reason=reason, cycle=state.cycle),
    )
    _store_state(complaint, state)
    complaint.updated_at = utcnow()
    session.add(complaint)
    session.commit()
    return complaint
