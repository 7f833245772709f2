"""Follow-ups: the call after the fix, scheduled when a complaint is resolved.

A follow-up is *pending* until it is recorded. Resolving a complaint (recording `explain`)
schedules one `followup_days` later in the same transaction as the stage, so a complaint is
never resolved without its follow-up; resolving it again after a reopening moves the pending
follow-up instead of adding a second one. Recording it keeps whether the customer was reached,
satisfied, their NPS answer and whether they bought again (docs/metrics.md).

One follow-up per resolution (docs/metrics.md, "One follow-up per resolution"): a second record
for the same resolution is refused unless the caller asks to replace the answer; then the row
holds the latest answer and the earlier one stays in the event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from latte_cli.errors import InvalidValue, NotFound
from latte_cli.events import FollowUpDetails
from latte_cli.models import Complaint, Customer, FollowUp
from latte_cli.services.eventlog import log_event
from latte_cli.timeutil import epoch, utcnow

DEFAULT_FOLLOWUP_DAYS = 3
MAX_FOLLOWUP_DAYS = 365
# A pending follow-up is overdue once it is this far past its due time.
OVERDUE_AFTER = timedelta(days=1)


def followup_days(days: int | None = None) -> int:
    """Days from resolution to follow-up: the value given (the followup_days setting), else 3."""
    if days is None:
        return DEFAULT_FOLLOWUP_DAYS
    if not 0 <= days <= MAX_FOLLOWUP_DAYS:
        raise InvalidValue(
            f"{days} follow-up days: give a whole number of days from 0 to {MAX_FOLLOWUP_DAYS}."
        )
    return days


def pending_followup(session: Session, complaint_id: int) -> FollowUp | None:
    return session.exec(
        select(FollowUp)
        .where(FollowUp.complaint_id == complaint_id, col(FollowUp.recorded_at).is_(None))
        .order_by(col(FollowUp.id).desc())
    ).first()


def schedule_followup(
    session: Session, *, complaint: Complaint, resolved_at: datetime, days: int, agent: str
) -> FollowUp:
    """Schedule (or move) the complaint's follow-up. Does not commit: the caller's stage does."""
    assert complaint.id is not None
    followup = pending_followup(session, complaint.id) or FollowUp(complaint_id=complaint.id)
    followup.due_at = resolved_at + timedelta(days=days)
    followup.agent = agent
    session.add(followup)
    return followup


class Repurchased(StrEnum):
    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"

    def as_bool(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.value)


@dataclass(frozen=True)
class Outcome:
    """What the follow-up call found out; only `reached` is needed when nobody answered."""

    reached: bool
    satisfied: bool | None = None
    nps: int | None = None
    repurchased: Repurchased = Repurchased.UNKNOWN
    note: str | None = None


def check_nps(nps: int | None) -> int | None:
    if nps is not None and not 0 <= nps <= 10:
        raise InvalidValue(f"NPS {nps} is out of range: give a whole number from 0 to 10.")
    return nps


def check_reached(
    *,
    reached: bool | None,
    satisfied: bool | None = None,
    nps: int | None = None,
    repurchased: Repurchased | None = None,
) -> None:
    """Refuse answers only a reached customer can give when they were not reached."""
    if reached is not False:
        return
    given = [
        flag
        for flag, present in (
            ("--satisfied" if satisfied else "--not-satisfied", satisfied is not None),
            ("--nps", nps is not None),
            ("--repurchased", repurchased not in (None, Repurchased.UNKNOWN)),
        )
        if present
    ]
    if given:
        raise InvalidValue(
            "NPS, satisfied and repurchased need a reached customer; drop "
            f"{' and '.join(given)} or pass --reached."
        )


def resolved_complaint(
    session: Session, complaint_id: int, *, for_update: bool = False
) -> Complaint:
    """The complaint to follow up: it must exist and be resolved."""
    statement = select(Complaint).where(Complaint.id == complaint_id)
    complaint = session.exec(statement.with_for_update() if for_update else statement).first()
    if complaint is None:
        raise NotFound(
            f"No complaint with id {complaint_id}. List follow-ups with `latte followup list`."
        )
    if complaint.stage_due is not None:
        raise InvalidValue(
            f"Complaint {complaint_id} is still open (stage due: {complaint.stage_due}); follow "
            f"up once it is resolved. Continue it with `latte resume {complaint_id}`."
        )
    return complaint


def recorded_followup(session: Session, complaint: Complaint) -> FollowUp | None:
    """The follow-up already recorded for the complaint's latest resolution, if any: one
    recorded at or after that resolution (an earlier one belongs to a resolution before a
    reopening)."""
    assert complaint.id is not None
    statement = select(FollowUp).where(
        FollowUp.complaint_id == complaint.id, col(FollowUp.recorded_at).is_not(None)
    )
    if complaint.resolved_at is not None:
        # Full precision: a reopening and a new resolution may fall in the same second.
        statement = statement.where(col(FollowUp.recorded_at) >= complaint.resolved_at)
    return session.exec(statement.order_by(col(FollowUp.id).desc())).first()


def followup_to_record(
    session: Session, complaint_id: int, *, replace: bool, for_update: bool = False
) -> tuple[Complaint, FollowUp | None]:
    """The resolved complaint whose follow-up is about to be recorded, and the answer already
    recorded for its latest resolution; refused when there is one and `replace` is not set
    (one follow-up per resolution, docs/metrics.md). The guided call checks this before it
    asks anything."""
    complaint = resolved_complaint(session, complaint_id, for_update=for_update)
    if complaint.merged_into is not None:
        # A duplicate counts in no figure: its target's follow-up is the one that counts.
        raise InvalidValue(
            f"Complaint {complaint_id} was merged into complaint {complaint.merged_into}: "
            f"record the follow-up on that one (latte followup record {complaint.merged_into})."
        )
    earlier = recorded_followup(session, complaint)
    if earlier is not None and not replace:
        raise InvalidValue(
            f"Complaint {complaint_id}'s follow-up was already recorded"
            f"{_when(earlier)}. Pass --replace to replace that answer (it stays in the "
            "history)."
        )
    return complaint, earlier


def record_followup(
    session: Session,
    *,
    complaint_id: int,
    outcome: Outcome,
    agent: str,
    replace: bool = False,
) -> FollowUp:
    """Record the follow-up call of a resolved complaint; commits.

    Fills in the pending follow-up, or adds one when there is none. A follow-up already
    recorded for this resolution is refused, or overwritten with `replace`.
    """
    _, earlier = followup_to_record(session, complaint_id, replace=replace, for_update=True)
    check_reached(
        reached=outcome.reached,
        satisfied=outcome.satisfied,
        nps=outcome.nps,
        repurchased=outcome.repurchased,
    )
    if outcome.reached and outcome.satisfied is None:
        raise InvalidValue(
            "Say whether the customer was satisfied: pass --satisfied or --not-satisfied."
        )
    note = (outcome.note or "").strip() or None
    now = utcnow()
    followup = (
        earlier or pending_followup(session, complaint_id) or FollowUp(complaint_id=complaint_id)
    )
    followup.recorded_at = now
    followup.recorded_epoch = epoch(now)
    followup.agent = agent
    followup.reached = outcome.reached
    followup.satisfied = outcome.satisfied if outcome.reached else None
    followup.nps = check_nps(outcome.nps) if outcome.reached else None
    followup.repurchased = outcome.repurchased.as_bool() if outcome.reached else None
    followup.note = note
    session.add(followup)
    log_event(
        session,
        complaint_id=complaint_id,
        at=now,
        agent=agent,
        details=FollowUpDetails(
            reached=followup.reached,
            satisfied=followup.satisfied,
            nps=followup.nps,
            repurchased=followup.repurchased,
        ),
    )
    session.commit()
    return followup


def _when(followup: FollowUp) -> str:
    at = followup.recorded_at
    return f" on {at:%Y-%m-%d %H:%M} UTC" if at is not None else ""


class Due(StrEnum):
    ALL = "all"  # every pending follow-up
    DUE = "due"  # pending and due now (overdue ones included)
    OVERDUE = "overdue"  # pending and more than OVERDUE_AFTER past due


@dataclass(frozen=True)
class FollowUpRow:
    complaint_id: int
    due_at: datetime | None
    assigned_agent: str | None
    customer_ref: str | None
    customer_name: str | None
    customer_phone: str | None
    summary: str

    def late_by(self, now: datetime) -> timedelta | None:
        if self.due_at is None or self.due_at > now:
            return None
        return now - self.due_at


def list_followups(
    session: Session,
    *,
    due: Due = Due.ALL,
    agent: str | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> list[FollowUpRow]:
    """Pending follow-ups, soonest due first; `agent` keeps those of complaints assigned to them.

    Only resolved complaints: a reopened complaint keeps its pending follow-up (moved when it
    is resolved again), but it cannot be recorded until then, so it is not listed.
    """
    now = now or utcnow()
    statement = (
        select(FollowUp, Complaint, Customer)
        .join(Complaint, col(Complaint.id) == FollowUp.complaint_id)
        .outerjoin(Customer, col(Customer.id) == Complaint.customer_id)
        .where(col(FollowUp.recorded_at).is_(None), col(Complaint.stage_due).is_(None))
        # A merged duplicate's customer is called about the complaint it was merged into.
        .where(col(Complaint.merged_into).is_(None))
    )
    if due is Due.DUE:
        statement = statement.where(col(FollowUp.due_at) <= now)
    elif due is Due.OVERDUE:
        statement = statement.where(col(FollowUp.due_at) <= now - OVERDUE_AFTER)
    if agent:
        statement = statement.where(Complaint.assigned_agent == agent)
    statement = statement.order_by(col(FollowUp.due_at), col(FollowUp.id)).limit(limit)
    return [
        FollowUpRow(
            complaint_id=complaint.id or 0,
            due_at=followup.due_at,
            assigned_agent=complaint.assigned_agent,
            customer_ref=customer.ref if customer else None,
            customer_name=customer.name if customer else None,
            customer_phone=customer.phone if customer else None,
            summary=complaint.summary,
        )
        for followup, complaint, customer in session.exec(statement).all()
    ]
