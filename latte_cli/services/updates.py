"""Keeping the customer informed (`latte update`): an update sent to the customer while their
complaint is handled, recorded as a `customer_update` event (no stage) that also moves the
complaint's `last_update_epoch`, from which the next update due is counted
(docs/metrics.md, "Keeping the customer informed").

Refused on a merged duplicate (the complaint kept is the one to update). Allowed on a resolved
complaint, e.g. to record that a refund has arrived: it is in the timeline, and no update is
owed on a resolved complaint either way.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from sqlmodel import Session, select

from latte_cli import vocabulary
from latte_cli.errors import InvalidValue, NotFound
from latte_cli.events import CustomerUpdateDetails
from latte_cli.models import Complaint
from latte_cli.services.complaints import MAX_TEXT, get_complaint
from latte_cli.services.eventlog import log_event
from latte_cli.timeutil import epoch, in_the_future, shown, utcnow


def complaint_id_of(session: Session, given: str) -> int:
    """A complaint's id from its id or its external reference (`external_id`)."""
    text = given.strip()
    if text.isdigit():
        return int(text)
    found = session.exec(select(Complaint.id).where(Complaint.external_id == text)).first()
    if found is None:
        raise NotFound(
            f"No complaint with id or reference {given!r}. Find it with `latte search` or "
            "`latte list --all`."
        )
    return found


def record_update(
    session: Session,
    *,
    complaint: str,
    text: str,
    agent: str,
    channel: str | None = None,
    at: datetime | None = None,
    zone: tzinfo | None = None,
) -> Complaint:
    """Record an update sent to the customer of `complaint` (an id or reference); commits.
    `zone`: the user's, in which a refused `at` is named, as `latte show` gives times."""
    words = (text or "").strip()
    if not words:
        raise InvalidValue('The update is empty. Pass --text "what you told the customer".')
    if len(words) > MAX_TEXT:
        raise InvalidValue(f"The update is longer than {MAX_TEXT} characters. Shorten it.")
    by = vocabulary.parse("channel", channel) if channel and channel.strip() else None
    row = get_complaint(session, complaint_id_of(session, complaint), for_update=True)
    if row.merged_into is not None:
        raise InvalidValue(
            f"Complaint {row.id} was merged into complaint {row.merged_into}. Record the update "
            f"there: latte update {row.merged_into} --text ..."
        )
    now = utcnow()
    when = now if at is None else at
    if when > now + timedelta(minutes=5):
        raise in_the_future(when, now, zone)
    if epoch(when) < row.opened_epoch:
        raise InvalidValue(
            f"The time {shown(when, zone)} is before the complaint was opened "
            f"({shown(row.opened_at, zone)}). Give a later time."
        )
    assert row.id is not None
    log_event(
        session,
        complaint_id=row.id,
        at=when,
        agent=agent,
        details=CustomerUpdateDetails(text=words, channel=by),
    )
    row.last_update_epoch = max(row.last_update_epoch or row.opened_epoch, epoch(when))
    row.updated_at = now
    session.add(row)
    session.commit()
    return row
