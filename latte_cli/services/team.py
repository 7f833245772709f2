"""Working as a team: presence, taking the next complaint from the queue, hand-overs.

`claim_next` is safe when two agents ask at once, on SQLite and PostgreSQL alike: it assigns
with a conditional UPDATE (`... WHERE assigned_agent IS NULL`) and only counts the claim when
exactly one row changed; otherwise another agent was faster and the next candidate is tried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CompoundSelect, literal, union, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from latte_cli import events, workflow
from latte_cli.errors import InvalidValue
from latte_cli.events import EventKind, TransferDetails
from latte_cli.models import Agent, Complaint, Event, StageRecord
from latte_cli.services.complaints import get_complaint, state_of, transfer
from latte_cli.services.eventlog import log_event
from latte_cli.services.views import urgent_order
from latte_cli.timeutil import utcnow

CLAIM_CANDIDATES = 20
# A refused transfer lists at most this many known agents, then how many more there are.
KNOWN_SHOWN = 20


class Presence(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"


def set_presence(session: Session, *, agent: str, status: Presence) -> Agent:
    """Mark an agent available or away; commits."""
    row = session.get(Agent, agent)
    now = utcnow()
    if row is None:
        try:
            with session.begin_nested():
                row = Agent(name=agent, status=status.value, updated_at=now)
                session.add(row)
        except IntegrityError:
            # Another terminal marked the same new agent a moment ago: update their row.
            row = session.get(Agent, agent)
            if row is None:
                raise
    row.status = status.value
    row.updated_at = now
    session.add(row)
    session.commit()
    return row


def presence_of(session: Session, agent: str) -> Presence:
    """An agent never marked is available. Names match whatever their case: BOB is bob."""
    statuses = session.exec(
        select(Agent.status).where(func.lower(Agent.name) == agent.strip().lower())
    ).all()
    return Presence.AWAY if Presence.AWAY.value in statuses else Presence.AVAILABLE


@dataclass(frozen=True)
class AgentRow:
    name: str
    status: Presence
    open_complaints: int


def list_agents(session: Session) -> list[AgentRow]:
    """Every agent who has set a presence or holds an open complaint."""
    counts = dict(
        session.exec(
            select(Complaint.assigned_agent, func.count())
            .where(
                col(Complaint.stage_due).is_not(None), col(Complaint.assigned_agent).is_not(None)
            )
            .group_by(col(Complaint.assigned_agent))
        ).all()
    )
    statuses = {a.name: Presence(a.status) for a in session.exec(select(Agent)).all()}
    names = sorted(set(statuses) | {name for name in counts if name})
    return [
        AgentRow(name, statuses.get(name, Presence.AVAILABLE), int(counts.get(name, 0)))
        for name in names
    ]


def refuse_transfer(complaint: Complaint) -> None:
    """InvalidValue for a complaint that cannot change hands: merged, or resolved (a resolved
    complaint is reopened first, so that its new owner has a stage to record)."""
    if complaint.merged_into is not None:
        raise InvalidValue(
            f"Complaint {complaint.id} was merged into complaint {complaint.merged_into}: "
            f"transfer that one (latte transfer {complaint.merged_into} --to ...)."
        )
    if complaint.stage_due is None:
        raise InvalidValue(
            f"Complaint {complaint.id} is resolved: reopen it first: "
            f'latte reopen {complaint.id} --reason "..."'
        )


def is_known_agent(session: Session, name: str) -> bool:
    """Whether latte has seen this agent: in the agent table (presence, any case), assigned a
    complaint, or the author of a recorded step; never an import's `import:FILE`. The one
    definition of a known agent."""
    if name.startswith(workflow.IMPORTED_BY):
        return False
    checks = (
        select(literal(1)).where(func.lower(Agent.name) == name.lower()),
        select(literal(1)).where(Complaint.assigned_agent == name),
        select(literal(1)).where(StageRecord.agent == name),
    )
    # One at a time, cheapest first: the step authors are looked up only when needed.
    return any(session.exec(check.limit(1)).first() is not None for check in checks)


def known_agents(session: Session) -> list[str]:
    """Every known agent (see `is_known_agent`), sorted."""
    names: CompoundSelect[tuple[str]] = union(
        select(Agent.name),
        select(col(Complaint.assigned_agent)).where(col(Complaint.assigned_agent).is_not(None)),
        select(StageRecord.agent),
    )
    found = {str(n) for (n,) in session.execute(names) if n}
    return sorted((n for n in found if not n.startswith(workflow.IMPORTED_BY)), key=str.lower)


def _unknown_agent(session: Session, name: str) -> InvalidValue:
    known = known_agents(session)
    listed = ", ".join(known[:KNOWN_SHOWN])
    more = f" and {len(known) - KNOWN_SHOWN} more" if len(known) > KNOWN_SHOWN else ""
    who = f"Known agents: {listed}{more}." if known else "latte knows no agent yet."
    return InvalidValue(
        f"latte has never seen an agent called {name!r}. {who} "
        "Check the name, or pass --force to transfer to a new agent."
    )


def hand_over(
    session: Session,
    *,
    complaint_id: int,
    to_agent: str,
    note: str,
    agent: str,
    force: bool = False,
) -> Complaint:
    """Transfer to another agent; refused when they are away or latte has never seen them,
    unless `force`, and for a resolved or merged complaint; commits."""
    name = to_agent.strip()
    # Locked from the checks to the commit: it cannot be resolved or merged in between.
    complaint = get_complaint(session, complaint_id, for_update=True)
    refuse_transfer(complaint)
    owner = complaint.assigned_agent
    if name and owner and name.lower() == owner.lower():
        # Before presence: the owner being away is not the reason nothing happens.
        raise InvalidValue(
            f"Complaint {complaint_id} is already assigned to {owner}. Transfer it to another "
            "agent (see `latte agent list`)."
        )
    # Whoever acts is known: taking a complaint over is no typo.
    if name and not force and name.lower() != agent.lower() and not is_known_agent(session, name):
        raise _unknown_agent(session, name)
    if name and not force and presence_of(session, name) is Presence.AWAY:
        raise InvalidValue(
            f"{name} is away. Transfer to an available agent (see `latte agent list`), "
            "or pass --force to transfer anyway."
        )
    return transfer(session, complaint_id=complaint_id, to_agent=name, note=note, agent=agent)


def claim_next(session: Session, *, agent: str) -> Complaint | None:
    """Assign the most urgent unassigned open complaint to `agent` (the earliest final
    deadline first, `views.urgent_order`); commits.

    Returns None when the queue is empty.
    """
    while True:
        candidates = session.exec(
            select(Complaint)
            .where(col(Complaint.stage_due).is_not(None), col(Complaint.assigned_agent).is_(None))
            .order_by(*urgent_order())
            .limit(CLAIM_CANDIDATES)
        ).all()
        if not candidates:
            session.rollback()
            return None
        for candidate in candidates:
            assert candidate.id is not None
            now = utcnow()
            # The conditional UPDATE below is what makes the claim safe; the workflow decides
            # what the claim changes, as for any transfer.
            state = workflow.apply(
                state_of(candidate), workflow.Transferred(to_agent=agent, at=now, agent=agent)
            )
            claimed = session.exec(
                update(Complaint)
                .where(
                    col(Complaint.id) == candidate.id,
                    col(Complaint.assigned_agent).is_(None),
                    col(Complaint.stage_due).is_not(None),
                )
                .values(assigned_agent=state.assigned_agent, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                continue  # another agent took it between our SELECT and UPDATE
            log_event(
                session,
                complaint_id=candidate.id,
                at=now,
                agent=agent,
                details=TransferDetails(
                    from_agent=None, to_agent=agent, note="Taken from the queue."
                ),
            )
            session.commit()
            complaint = get_complaint(session, candidate.id)
            session.refresh(complaint)
            return complaint
        # Every candidate was taken by others meanwhile: look again.
        session.commit()


@dataclass(frozen=True)
class TransferNote:
    from_agent: str
    at: datetime
    note: str


def unread_transfer(session: Session, *, complaint_id: int, agent: str) -> TransferNote | None:
    """The transfer note `agent` received on this complaint and has not acted on yet.

    A note counts as read once the receiver has recorded a stage after it.
    """
    kinds = (EventKind.TRANSFER.value, EventKind.STAGE.value)
    rows = session.exec(
        select(Event)
        .where(Event.complaint_id == complaint_id, col(Event.kind).in_(kinds))
        .order_by(col(Event.id).desc())
    ).all()
    for row in rows:
        details = events.decode(row)
        if row.agent == agent and isinstance(details, events.StageDetails):
            return None
        if isinstance(details, TransferDetails):
            if details.to_agent != agent or row.agent == agent:
                return None
            return TransferNote(from_agent=row.agent, at=row.at, note=details.note)
    return None
