"""Read-only views of complaints: one complaint's timeline, and filtered lists."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session, and_, col, func, or_, select

from latte_cli import config, deadlines, events, vocabulary, workflow
from latte_cli.errors import InvalidValue
from latte_cli.events import (
    HANDOFF_KINDS,
    AmendedDetails,
    CustomerEditedDetails,
    CustomerUpdateDetails,
    EventKind,
    MergedDetails,
    ReopenDetails,
    TransferDetails,
)
from latte_cli.models import Complaint, Customer, Event, StageRecord
from latte_cli.services.complaints import get_complaint
from latte_cli.services.eventlog import events_of
from latte_cli.timeutil import epoch, utcnow
from latte_cli.workflow import Stage


@dataclass(frozen=True)
class StageView:
    stage: str
    cycle: int
    agent: str
    completed_at: datetime
    duration_seconds: int
    text: str
    action_kind: str | None = None
    action_detail: str | None = None
    amount_cents: int | None = None
    options_offered: list[str] | None = None
    root_cause: str | None = None
    what_will_change: str | None = None
    # Corrected after it was recorded (`latte amend`; the original is in `Timeline.history`).
    amended: bool = False
    # A duplicate's stage, shown in the timeline of the complaint it was merged into.
    from_complaint: int | None = None


@dataclass(frozen=True)
class HandOff:
    """A transfer, a reopening or a merge, shown in the timeline between stages."""

    kind: EventKind
    at: datetime
    agent: str
    details: TransferDetails | ReopenDetails | MergedDetails
    from_complaint: int | None = None


@dataclass(frozen=True)
class Change:
    """A correction: of a stage (`amended`) or of the customer's details (`customer_edited`)."""

    kind: EventKind
    at: datetime
    agent: str
    details: AmendedDetails | CustomerEditedDetails
    from_complaint: int | None = None


@dataclass(frozen=True)
class CustomerUpdate:
    """An update sent to the customer (`latte update`), shown in the timeline."""

    at: datetime
    agent: str
    details: CustomerUpdateDetails
    from_complaint: int | None = None


@dataclass(frozen=True)
class Timeline:
    complaint: Complaint
    customer: Customer | None
    stages: list[StageView]
    handoffs: list[HandOff]
    # Corrections, oldest first, with their before and after (`latte show --history`).
    history: list[Change] = field(default_factory=list)
    # Complaints merged into this one: their stages are in `stages`, marked `from_complaint`.
    merged_from: list[int] = field(default_factory=list)
    # Updates sent to the customer, oldest first (the duplicates' too, marked).
    updates: list[CustomerUpdate] = field(default_factory=list)
    # Its deadlines at the time the timeline was read; None if it has none.
    deadline: DeadlineView | None = None

    @property
    def total_seconds(self) -> int | None:
        """Opening to the latest resolution; None while the complaint is open (or reopened)."""
        if self.complaint.stage_due is not None or self.complaint.resolved_at is None:
            return None
        return int((self.complaint.resolved_at - self.complaint.opened_at).total_seconds())

    @property
    def first_resolution_seconds(self) -> int | None:
        """Opening to the first resolution (resolution time, docs/metrics.md), kept if reopened."""
        if self.complaint.first_resolved_at is None:
            return None
        return int((self.complaint.first_resolved_at - self.complaint.opened_at).total_seconds())


def timeline(session: Session, complaint_id: int, now: datetime | None = None) -> Timeline:
    """The complaint's stages, hand-offs, corrections and updates to the customer, with those
    of the duplicates merged into it, each marked with the complaint it came from, and where
    its deadlines stand at `now`."""
    complaint = get_complaint(session, complaint_id)
    customer = session.get(Customer, complaint.customer_id) if complaint.customer_id else None
    merged_from = [
        i
        for i in session.exec(
            select(Complaint.id)
            .where(Complaint.merged_into == complaint_id)
            .order_by(col(Complaint.id))
        ).all()
        if i is not None
    ]
    ids = [complaint_id, *merged_from]
    rows = session.exec(
        select(Event).where(col(Event.complaint_id).in_(ids)).order_by(col(Event.id))
    ).all()
    decoded = [(e, events.decode(e)) for e in rows]
    amended = {
        (e.complaint_id, d.cycle, d.stage.value)
        for e, d in decoded
        if isinstance(d, AmendedDetails)
    }

    def origin(cid: int) -> int | None:
        return None if cid == complaint_id else cid

    records = session.exec(
        select(StageRecord)
        .where(col(StageRecord.complaint_id).in_(ids))
        .order_by(col(StageRecord.completed_at), col(StageRecord.id))
    ).all()
    stages = [
        StageView(
            stage=r.stage,
            cycle=r.cycle,
            agent=r.agent,
            completed_at=r.completed_at,
            duration_seconds=r.duration_seconds,
            text=r.text,
            action_kind=r.action_kind,
            action_detail=r.action_detail,
            amount_cents=r.amount_cents,
            options_offered=json.loads(r.options_offered) if r.options_offered else None,
            root_cause=r.root_cause,
            what_will_change=r.what_will_change,
            amended=(r.complaint_id, r.cycle, r.stage) in amended,
            from_complaint=origin(r.complaint_id),
        )
        for r in records
    ]
    handoffs = [
        HandOff(
            kind=d.kind, at=e.at, agent=e.agent, details=d, from_complaint=origin(e.complaint_id)
        )
        for e, d in decoded
        if e.kind in HANDOFF_KINDS
        and isinstance(d, TransferDetails | ReopenDetails | MergedDetails)
        # A duplicate brings its stages and its merge, not its earlier hand-offs.
        and (e.complaint_id == complaint_id or isinstance(d, MergedDetails))
    ]
    history = [
        Change(
            kind=d.kind, at=e.at, agent=e.agent, details=d, from_complaint=origin(e.complaint_id)
        )
        for e, d in decoded
        if isinstance(d, AmendedDetails)
        or (isinstance(d, CustomerEditedDetails) and e.complaint_id == complaint_id)
    ]
    updates = [
        CustomerUpdate(at=e.at, agent=e.agent, details=d, from_complaint=origin(e.complaint_id))
        for e, d in decoded
        if isinstance(d, CustomerUpdateDetails)
    ]
    return Timeline(
        complaint=complaint,
        customer=customer,
        stages=stages,
        handoffs=handoffs,
        history=history,
        merged_from=merged_from,
        updates=updates,
        deadline=deadline_view(complaint, now or utcnow()),
    )


class Status(StrEnum):
    """The statuses of `workflow.status`, and all of them."""

    OPEN = "open"
    RESOLVED = "resolved"
    MERGED = "merged"
    ALL = "all"


class SortKey(StrEnum):
    URGENT = "urgent"
    OPENED = "opened"
    NEWEST = "newest"
    RESOLVED = "resolved"
    ID = "id"


@dataclass(frozen=True)
class ListFilter:
    status: Status = Status.ALL
    stage_due: str | None = None
    agent: str | None = None
    # Complaints assigned to this agent or to no one: what needs their action.
    agent_or_unassigned: str | None = None
    customer_ref: str | None = None
    channel: str | None = None
    category: str | None = None
    location: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    overdue: bool = False
    sla_hours: float = config.DEFAULT_SLA_HOURS
    # Deadlines (docs/metrics.md, "Deadlines"): due within this long from now (the final
    # response, or the first while not acknowledged), past either, or owing an update.
    due_within: timedelta | None = None
    breached: bool = False
    update_due: bool = False
    sort: SortKey = SortKey.OPENED
    limit: int = 50


@dataclass(frozen=True)
class DeadlineView:
    """A complaint's deadlines as fixed at opening, and where they stand at `now`."""

    rule: str | None
    first_response_due: int | None
    first_response_done: int | None
    final_response_due: int | None
    final_response_done: int | None
    update_every_days: int | None
    last_update: int | None
    next_update_due: int | None
    update_overdue: bool
    now: int

    def standing(self, due: int | None, done: int | None) -> deadlines.Standing | None:
        return None if due is None else deadlines.standing(due, done, self.now)

    def countdown(self, due: int | None, done: int | None) -> str | None:
        return None if due is None else deadlines.countdown(due, done, self.now)

    @property
    def first_response(self) -> str | None:
        return self.countdown(self.first_response_due, self.first_response_done)

    @property
    def final_response(self) -> str | None:
        return self.countdown(self.final_response_due, self.final_response_done)

    @property
    def next_due(self) -> tuple[str, int] | None:
        """The deadline an open complaint works to now: the first response while it is not
        done, else the final one ("first response" or "final response", and its epoch)."""
        if self.final_response_done is not None:
            return None
        first, final = self.first_response_due, self.final_response_due
        if (
            first is not None
            and self.first_response_done is None
            and (final is None or first < final)
        ):
            return "first response", first
        if self.final_response_due is None:
            return None
        return "final response", self.final_response_due


def deadline_view(complaint: Complaint, now: datetime) -> DeadlineView | None:
    """None for a complaint opened before deadlines existed (no due times stored), and for a
    duplicate closed by a merge: it has no deadline, its target carries them (README, `latte
    list`; it counts in no deadline figure either)."""
    if complaint.final_response_due_epoch is None and complaint.update_every_days is None:
        return None
    if complaint.merged_into is not None:
        return None
    at = epoch(now)
    # A complaint resolved without recorded stages (imported) gave its first response when it
    # was resolved (docs/metrics.md, "Deadlines").
    first_done = complaint.acknowledged_epoch or complaint.first_resolved_epoch
    is_open = complaint.stage_due is not None and complaint.merged_into is None
    every = complaint.update_every_days
    return DeadlineView(
        rule=deadlines.rule_label(complaint.deadline_policy),
        first_response_due=complaint.first_response_due_epoch,
        first_response_done=first_done,
        final_response_due=complaint.final_response_due_epoch,
        final_response_done=complaint.first_resolved_epoch,
        update_every_days=every,
        last_update=complaint.last_update_epoch,
        next_update_due=(
            deadlines.update_due_at(every, complaint.opened_epoch, complaint.last_update_epoch)
            if is_open
            else None
        ),
        update_overdue=is_open
        and deadlines.update_overdue(
            every, complaint.opened_epoch, complaint.last_update_epoch, at
        ),
        now=at,
    )


@dataclass(frozen=True)
class ComplaintRow:
    id: int
    external_id: str | None
    customer_ref: str | None
    customer_name: str | None
    channel: str
    category: str
    location: str | None
    severity: str
    summary: str
    assigned_agent: str | None
    stage_due: str | None
    opened_at: datetime
    resolved_at: datetime | None
    action_kind: str | None
    reopen_count: int
    deadline: DeadlineView | None = None
    # The complaint this duplicate was merged into (`latte merge`).
    merged_into: int | None = None

    @property
    def status(self) -> str:
        return workflow.status(self.stage_due, self.merged_into)

    def overdue_by(self, sla_hours: float, now: datetime) -> timedelta | None:
        if self.stage_due is None:
            return None
        return workflow.overdue_by(self.opened_at, now, sla_hours)


def is_open() -> Any:
    """A complaint still needs action: it has a stage due. Written as a range (`> ''`, true of
    every stage name and of no NULL) so that SQLite reads the open complaints from
    `ix_complaint_final_due` instead of scanning the table, as it does for `IS NOT NULL`
    (docs/architecture.md, "Deadlines")."""
    return col(Complaint.stage_due) > ""


def _filtered(statement: Any, filters: ListFilter, now: datetime) -> Any:
    """`statement` (over complaint, joined to customer when `filters` names one) narrowed to
    what `filters` asks for."""
    if filters.status is Status.OPEN or filters.overdue:
        statement = statement.where(is_open())
    elif filters.status is Status.RESOLVED:
        # A merged duplicate has no stage due either (`workflow.status`).
        statement = statement.where(
            col(Complaint.stage_due).is_(None), col(Complaint.merged_into).is_(None)
        )
    elif filters.status is Status.MERGED:
        statement = statement.where(col(Complaint.merged_into).is_not(None))
    if filters.stage_due:
        stage = workflow.parse_choice(Stage, filters.stage_due, what="Stage")
        statement = statement.where(Complaint.stage_due == stage.value)
    if filters.agent:
        statement = statement.where(Complaint.assigned_agent == filters.agent)
    if filters.agent_or_unassigned:
        statement = statement.where(
            or_(
                Complaint.assigned_agent == filters.agent_or_unassigned,
                col(Complaint.assigned_agent).is_(None),
            )
        )
    if filters.customer_ref:
        statement = statement.where(Customer.ref == filters.customer_ref)
    if filters.channel:
        channel = vocabulary.parse("channel", filters.channel)
        statement = statement.where(Complaint.channel == channel)
    if filters.category:
        statement = statement.where(Complaint.category == filters.category.lower())
    if filters.location:
        statement = statement.where(
            func.lower(Complaint.location) == filters.location.strip().lower()
        )
    if filters.since:
        statement = statement.where(Complaint.opened_epoch >= epoch(filters.since))
    if filters.until:
        statement = statement.where(Complaint.opened_epoch < epoch(filters.until))
    if filters.overdue:
        cutoff = epoch(workflow.overdue_cutoff(now, filters.sla_hours))
        statement = statement.where(Complaint.opened_epoch < cutoff)
    return _deadline_filters(statement, filters, epoch(now))


def _deadline_filters(statement: Any, filters: ListFilter, now: int) -> Any:
    """--due-within, --breached, --update-due (docs/metrics.md, "Deadlines")."""
    final_due = col(Complaint.final_response_due_epoch)
    first_due = col(Complaint.first_response_due_epoch)
    resolved = col(Complaint.first_resolved_epoch)
    # The first response: the acknowledgement, else (imported without stages) the resolution.
    first_done = func.coalesce(col(Complaint.acknowledged_epoch), resolved)
    if filters.due_within is not None or filters.breached:
        # A duplicate closed by a merge has no deadline (`deadline_view`).
        statement = statement.where(col(Complaint.merged_into).is_(None))
    if filters.due_within is not None:
        if filters.due_within <= timedelta(0):
            raise InvalidValue("--due-within must be more than 0, e.g. 2d or 8h.")
        horizon = now + int(filters.due_within.total_seconds())
        statement = statement.where(
            or_(
                and_(resolved.is_(None), final_due > now, final_due <= horizon),
                and_(first_done.is_(None), first_due > now, first_due <= horizon),
            )
        )
    if filters.breached:
        statement = statement.where(
            or_(
                and_(final_due.is_not(None), func.coalesce(resolved, now) > final_due),
                and_(first_due.is_not(None), func.coalesce(first_done, now) > first_due),
            )
        )
    if filters.update_due:
        statement = statement.where(
            is_open(),
            col(Complaint.update_every_days).is_not(None),
            func.coalesce(col(Complaint.last_update_epoch), col(Complaint.opened_epoch))
            + col(Complaint.update_every_days) * deadlines.DAY
            <= now,
        )
    return statement


def urgent_order() -> tuple[Any, ...]:
    """What needs action, most urgent first: the earliest final-response deadline, then the
    complaints without one, oldest first (the SLA order: `workflow.sla_due` is the same target
    after every opening). `latte list` and `latte next` (services/team.py) both sort by it."""
    return (
        col(Complaint.final_response_due_epoch).is_(None),
        col(Complaint.final_response_due_epoch),
        col(Complaint.opened_epoch),
        col(Complaint.id),
    )


def list_complaints(
    session: Session, filters: ListFilter, now: datetime | None = None
) -> list[ComplaintRow]:
    if filters.limit < 1:
        raise InvalidValue(f"--limit must be 1 or more, not {filters.limit}.")
    now = now or utcnow()
    statement = select(Complaint, Customer).outerjoin(
        Customer, col(Customer.id) == Complaint.customer_id
    )
    statement = _filtered(statement, filters, now)
    oldest_first = (col(Complaint.opened_epoch), col(Complaint.id))
    order = {
        # Most urgent first: the earliest final deadline (docs/metrics.md, "Deadlines"), then
        # by the SLA, due `sla_hours` after opening for every complaint: the oldest first.
        SortKey.URGENT: urgent_order(),
        SortKey.OPENED: oldest_first,
        SortKey.NEWEST: (col(Complaint.opened_epoch).desc(), col(Complaint.id).desc()),
        SortKey.RESOLVED: (col(Complaint.resolved_epoch).desc().nulls_last(), col(Complaint.id)),
        SortKey.ID: (col(Complaint.id),),
    }[filters.sort]
    statement = statement.order_by(*order).limit(filters.limit)
    return [
        ComplaintRow(
            id=c.id or 0,
            external_id=c.external_id,
            customer_ref=cu.ref if cu else None,
            customer_name=cu.name if cu else None,
            channel=c.channel,
            category=c.category,
            location=c.location,
            severity=c.severity,
            summary=c.summary,
            assigned_agent=c.assigned_agent,
            stage_due=c.stage_due,
            opened_at=c.opened_at,
            resolved_at=c.resolved_at,
            action_kind=c.action_kind,
            reopen_count=c.reopen_count,
            deadline=deadline_view(c, now),
            merged_into=c.merged_into,
        )
        for c, cu in session.exec(statement).all()
    ]


@dataclass(frozen=True)
class ComplaintPage:
    """The rows shown and how many complaints match in all."""

    rows: list[ComplaintRow]
    total: int


def complaint_page(session: Session, filters: ListFilter, now: datetime) -> ComplaintPage:
    """`list_complaints` and the number of complaints that match, for "showing 50 of N"."""
    rows = list_complaints(session, filters, now=now)
    if len(rows) < filters.limit:
        return ComplaintPage(rows=rows, total=len(rows))
    # The customer is joined only to filter by it: joined, every counted complaint's row is
    # read; alone, the open complaints are counted from an index.
    counted = select(func.count()).select_from(Complaint)
    if filters.customer_ref:
        counted = counted.outerjoin(Customer, col(Customer.id) == Complaint.customer_id)
    counted = _filtered(counted, filters, now)
    return ComplaintPage(rows=rows, total=int(session.exec(counted).one()))


def replayed_state(session: Session, complaint_id: int) -> workflow.State | None:
    """The state obtained by replaying the complaint's event log."""
    return workflow.replay(events.workflow_events(events_of(session, complaint_id)))


def known_values(session: Session, column: str, *, limit: int = 200) -> list[str]:
    """Distinct values of a complaint's `category` or `location`, for autocompletion."""
    if column not in ("category", "location"):
        raise ValueError(column)
    attribute = col(getattr(Complaint, column))
    rows = session.exec(select(attribute).where(attribute.is_not(None)).distinct().limit(limit))
    return sorted(str(value) for value in rows if value)
