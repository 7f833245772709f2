"""Writing to and reading from a complaint's event log, through `latte_cli.events`.

The log is append-only: `log_event` adds a row and nothing deletes one; the one update is the
erasure of free text in a forgotten customer's events (`services/privacy.py`). Every
service that changes a complaint writes here in its own transaction (see
`docs/architecture.md`).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from latte_cli import events
from latte_cli.models import Event


def log_event(
    session: Session, *, complaint_id: int, at: datetime, agent: str, details: events.Details
) -> None:
    """Append one event to the complaint's log; the caller commits."""
    kind, data = events.encode(details)
    session.add(Event(complaint_id=complaint_id, at=at, agent=agent, kind=kind.value, data=data))


def events_of(session: Session, complaint_id: int) -> list[Event]:
    """The complaint's event log, oldest first."""
    return list(
        session.exec(
            select(Event).where(Event.complaint_id == complaint_id).order_by(col(Event.id))
        )
    )
