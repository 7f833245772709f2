"""Retention: resolved complaints keep their free text and their customer's identity only for
the retention period (GDPR Art. 5(1)(e)); the record itself, every time, stage, kind, amount
and root cause, stays, so no report figure changes (docs/architecture.md, "Customer data").

`retain` anonymises each complaint whose latest resolution is older than its category's period
through `privacy.erase_complaint`, the one erasure path, and removes the identity of every
customer whose complaints are then all anonymised, and of every customer merged into it, as
`latte customer forget` does. A duplicate merged while open (so never resolved) has no
resolution of its own: it counts from that of the complaint it was merged into. What a legal
hold in force covers is left as it is: a held complaint, every complaint of a held customer or
of a customer merged into or with it (`holds.covered_customers`, the notion `forget` refuses
by), and a duplicate and the complaint it was merged into together, when either is held. A dry
run does all of it in the transaction and rolls it back, so it reports exactly
what a real run would do.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from latte_cli import events
from latte_cli.config import Period
from latte_cli.errors import InvalidValue
from latte_cli.models import Complaint, Customer, Event, LegalHold
from latte_cli.services.customers import merged_root
from latte_cli.services.holds import covered_customers
from latte_cli.services.privacy import (
    checkpoint,
    erase_complaint,
    forget_identity,
    identified,
    is_forgotten,
    merged_duplicates,
    secure_delete,
)
from latte_cli.services.search import rewrite_index
from latte_cli.timeutil import epoch, utcnow


def cutoff(period: Period, now: datetime) -> datetime:
    """The moment `period` before `now`: calendar months back (the 31st becomes the month's
    last day), then days."""
    month_index = now.year * 12 + (now.month - 1) - period.months
    year, month = divmod(month_index, 12)
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return now.replace(year=year, month=month + 1, day=day) - timedelta(days=period.days)


@dataclass(frozen=True)
class Retained:
    dry_run: bool
    # The complaints anonymised (or, in a dry run, that would be), by id.
    complaint_ids: list[int]
    # Customers whose identity was removed because all their complaints are anonymised.
    customers: int
    # Customers merged into those (or into one forgotten earlier) whose identity went with it.
    duplicates: int
    # Complaints past their period but under a legal hold, left as they are.
    held_ids: list[int]
    # Rows changed: none in a dry run, which says what a run would change in `rows_to_change`.
    rows_changed: int
    rows_to_change: int
    # SQLite's write-ahead log was emptied after the commit (always True on other stores);
    # None in a dry run, which writes nothing to empty.
    checkpointed: bool | None


def _due(
    default: Period | None, by_category: Mapping[str, Period | None], now: datetime
) -> ColumnElement[bool]:
    """Resolved complaints, not anonymised yet, resolved before their category's cutoff; a
    duplicate merged before it was resolved counts from its target's resolution (the module's
    docstring)."""
    target = aliased(Complaint)
    target_resolved = (
        select(target.resolved_epoch)
        .where(col(target.id) == col(Complaint.merged_into), col(target.stage_due).is_(None))
        .scalar_subquery()
    )
    own = col(Complaint.resolved_epoch)
    never = and_(own.is_(None), col(Complaint.merged_into).is_not(None))

    def before(moment: datetime) -> ColumnElement[bool]:
        # Its own resolution where it has one (kept apart so that the index on it serves).
        limit = epoch(moment)
        return or_(own < limit, and_(never, target_resolved < limit))

    periods = []
    for category, period in by_category.items():
        if period is not None:
            periods.append(and_(col(Complaint.category) == category, before(cutoff(period, now))))
    if default is not None:
        periods.append(
            and_(
                col(Complaint.category).not_in(list(by_category)),
                before(cutoff(default, now)),
            )
        )
    erased = select(Event.complaint_id).where(Event.kind == events.EventKind.ERASED.value)
    return and_(
        col(Complaint.stage_due).is_(None),
        col(Complaint.id).not_in(erased),
        or_(*periods),
    )


def _held_groups(
    session: Session, complaint_ids: Collection[int], customer_ids: Collection[int]
) -> set[int]:
    """The complaints a hold keeps, as their group: a complaint's own id, or the id of the
    complaint it was merged into. A hold on any complaint of a group keeps the whole group."""
    if not complaint_ids and not customer_ids:
        return set()
    rows = session.exec(
        select(Complaint.id, Complaint.merged_into).where(
            or_(
                col(Complaint.id).in_(list(complaint_ids)),
                col(Complaint.customer_id).in_(list(customer_ids)),
            )
        )
    )
    return {into or cid for cid, into in rows if cid is not None}


def retain(
    session: Session,
    *,
    default: Period | None,
    by_category: Mapping[str, Period | None],
    agent: str,
    dry_run: bool = False,
    now: datetime | None = None,
) -> Retained:
    """Apply the retention periods (see the module docstring). Commits, or rolls back for a dry
    run; InvalidValue when no period is set."""
    if default is None and all(period is None for period in by_category.values()):
        raise InvalidValue(
            "No retention period is set, so nothing is ever due. Set one with "
            "`latte config set retention 6y` (per category: retention_by_category)."
        )
    now = now or utcnow()
    secure_delete(session)
    holds = session.exec(select(LegalHold).where(col(LegalHold.released_at).is_(None))).all()
    held_customers = covered_customers(
        session, {h.customer_id for h in holds if h.customer_id is not None}
    )
    held_groups = _held_groups(
        session, {h.complaint_id for h in holds if h.complaint_id is not None}, held_customers
    )
    due = session.exec(
        select(Complaint).where(_due(default, by_category, now)).order_by(col(Complaint.id))
    ).all()
    erased: list[int] = []
    held: list[int] = []
    changed = 0
    for complaint in due:
        assert complaint.id is not None
        if (complaint.merged_into or complaint.id) in held_groups:
            held.append(complaint.id)
            continue
        period = by_category.get(complaint.category, default)
        assert period is not None  # _due selects only complaints with a period
        reason = f"retention: resolved more than {period.text} ago"
        if complaint.resolved_epoch is None:
            reason = (
                f"retention: merged into complaint {complaint.merged_into}, resolved more "
                f"than {period.text} ago"
            )
        changed += erase_complaint(session, complaint, agent=agent, reason=reason, at=now)
        erased.append(complaint.id)
    session.flush()
    # Customers whose every complaint is now anonymised lose their identity, as in forget.
    not_erased = and_(
        col(Complaint.customer_id) == col(Customer.id),
        col(Complaint.id).not_in(
            select(Event.complaint_id).where(Event.kind == events.EventKind.ERASED.value)
        ),
    )
    customers = session.exec(
        select(Customer)
        .where(
            exists().where(col(Complaint.customer_id) == col(Customer.id)),
            ~exists().where(not_erased),
            identified(),
            col(Customer.id).not_in(held_customers),
        )
        .order_by(col(Customer.id))
    ).all()
    forgotten: list[Customer] = []
    duplicates = 0
    for customer in customers:
        merged = merged_duplicates(session, customer)
        if any(duplicate.id in held_customers for duplicate in merged):
            continue  # a duplicate on hold holds the person, as in forget
        identity = forget_identity(session, customer, merged)
        forgotten.append(customer)
        duplicates += identity.duplicates
        changed += identity.rows_changed
    # Duplicates of a customer forgotten before its duplicates went with it.
    left = session.exec(
        select(Customer)
        .where(col(Customer.merged_into).is_not(None), identified())
        .order_by(col(Customer.id))
    ).all()
    for duplicate in left:
        if duplicate.id not in held_customers and is_forgotten(merged_root(session, duplicate)):
            changed += forget_identity(session, duplicate, []).rows_changed
            duplicates += 1
    whole: bool | None = None
    if dry_run:
        session.rollback()
    else:
        if erased:
            rewrite_index(session)  # no erased word left in the search index's pages
        session.commit()
        whole = checkpoint(session)
    return Retained(
        dry_run=dry_run,
        complaint_ids=erased,
        customers=len(forgotten),
        duplicates=duplicates,
        held_ids=held,
        rows_changed=0 if dry_run else changed,
        rows_to_change=changed,
        checkpointed=whole,
    )
