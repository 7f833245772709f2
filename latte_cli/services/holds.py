"""Legal holds: a complaint, or every complaint of a customer, kept as it is.

A hold in force (`released_at` NULL) exempts what it covers from retention (`services/
retention.py`) and refuses `latte customer forget` (`services/privacy.py`). Placing and
releasing a hold are also events in the log of every complaint it covers, so a complaint's
history says when and why it was held (docs/architecture.md, "Customer data").
"""

from __future__ import annotations

import shlex
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from latte_cli import events, identity
from latte_cli.errors import InvalidValue
from latte_cli.models import Complaint, Customer, LegalHold
from latte_cli.services.complaints import get_complaint
from latte_cli.services.customers import get_customer
from latte_cli.services.eventlog import log_event
from latte_cli.timeutil import utcnow

MAX_REASON = 1000
COMPLAINT = "complaint"
CUSTOMER = "customer"


@dataclass(frozen=True)
class Target:
    """What a hold is placed on: one complaint, or one customer (and all their complaints)."""

    scope: str
    complaint_id: int | None
    customer_id: int | None
    label: str  # "complaint 12" / "customer C-104", for messages


@dataclass(frozen=True)
class HoldView:
    id: int
    target: str
    reason: str
    placed_at: datetime
    placed_by: str
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _reason(text: str | None, *, flag: str) -> str:
    reason = (text or "").strip()
    if len(reason) > MAX_REASON:
        raise InvalidValue(f"{flag} is longer than {MAX_REASON} characters. Shorten it.")
    return reason


def find_target(session: Session, given: str) -> Target:
    """A complaint id or a customer ref; `complaint:ID` or `customer:REF` when a bare number
    is both. NotFound / InvalidValue naming the way out otherwise."""
    text = given.strip()
    scope, colon, rest = text.partition(":")
    if colon and scope.lower() in (COMPLAINT, CUSTOMER):
        return _complaint(session, rest) if scope.lower() == COMPLAINT else _customer(session, rest)
    if not text.isdigit():
        return _customer(session, text)
    as_customer = session.exec(
        select(Customer.id).where(col(Customer.ref_key) == identity.clean(text))
    ).first()
    as_complaint = session.get(Complaint, int(text)) if len(text) < 19 else None
    if as_customer is not None and as_complaint is not None:
        raise InvalidValue(
            f"{text} is both a complaint id and a customer ref. Write complaint:{text} or "
            f"customer:{text}."
        )
    return _customer(session, text) if as_customer is not None else _complaint(session, text)


def _complaint(session: Session, text: str) -> Target:
    if not text.strip().isdigit() or len(text.strip()) > 18:
        raise InvalidValue(f"{text!r} is not a complaint id. Give a number, e.g. complaint:12.")
    complaint = get_complaint(session, int(text))
    return Target(COMPLAINT, complaint.id, None, f"complaint {complaint.id}")


def named(customer: Customer) -> str:
    """What names a held customer in messages and `latte hold` commands: its ref, else (a
    customer without one) its email or name, as `latte hold CUSTOMER` finds it."""
    return customer.ref or customer.email or customer.name or f"#{customer.id}"


def _customer(session: Session, ref: str) -> Target:
    customer = get_customer(session, ref.strip())
    return Target(CUSTOMER, None, customer.id, f"customer {named(customer)}")


def _in_force(target: Target) -> ColumnElement[bool]:
    column = LegalHold.complaint_id if target.scope == COMPLAINT else LegalHold.customer_id
    value = target.complaint_id if target.scope == COMPLAINT else target.customer_id
    return (col(column) == value) & col(LegalHold.released_at).is_(None)


def _covered(session: Session, target: Target) -> list[int]:
    """The complaints a hold on `target` covers, for their event logs."""
    if target.complaint_id is not None:
        return [target.complaint_id]
    return [
        cid
        for cid in session.exec(
            select(Complaint.id)
            .where(Complaint.customer_id == target.customer_id)
            .order_by(col(Complaint.id))
        )
        if cid is not None
    ]


def place_hold(session: Session, given: str, *, reason: str, agent: str) -> HoldView:
    """Put `given` (a complaint id or a customer ref) under a legal hold. Commits."""
    text = _reason(reason, flag="--reason")
    if not text:
        raise InvalidValue("--reason is empty: say why the hold is placed (e.g. a case number).")
    target = find_target(session, given)
    existing = session.exec(select(LegalHold).where(_in_force(target))).first()
    if existing is not None:
        raise InvalidValue(
            f"{_sentence(target.label)} is already under hold {existing.id} "
            f"({existing.reason!r}). Release it first with `latte hold {given} --release`."
        )
    now = utcnow()
    hold = LegalHold(
        complaint_id=target.complaint_id,
        customer_id=target.customer_id,
        reason=text,
        placed_at=now,
        placed_by=agent,
    )
    session.add(hold)
    session.flush()
    assert hold.id is not None
    for complaint_id in _covered(session, target):
        details = events.HeldDetails(hold_id=hold.id, scope=target.scope, reason=text)
        log_event(session, complaint_id=complaint_id, at=now, agent=agent, details=details)
    session.commit()
    return _view(hold, target.label)


def release_hold(session: Session, given: str, *, reason: str | None, agent: str) -> HoldView:
    """Release the hold in force on `given`. Commits; InvalidValue if none is."""
    text = _reason(reason, flag="--reason")
    target = find_target(session, given)
    hold = session.exec(select(LegalHold).where(_in_force(target))).first()
    if hold is None:
        raise InvalidValue(
            f"{_sentence(target.label)} is not under a legal hold. List holds with "
            "`latte hold --list`."
        )
    assert hold.id is not None
    now = utcnow()
    hold.released_at, hold.released_by, hold.release_reason = now, agent, text or None
    session.add(hold)
    for complaint_id in _covered(session, target):
        details = events.ReleasedDetails(hold_id=hold.id, scope=target.scope, reason=text)
        log_event(session, complaint_id=complaint_id, at=now, agent=agent, details=details)
    session.commit()
    return _view(hold, target.label)


def list_holds(session: Session, *, released: bool = False) -> list[HoldView]:
    """The holds in force (and the released ones with `released`), oldest first."""
    statement = (
        select(LegalHold, Customer)
        .join(Customer, col(Customer.id) == col(LegalHold.customer_id), isouter=True)
        .order_by(col(LegalHold.id))
    )
    if not released:
        statement = statement.where(col(LegalHold.released_at).is_(None))
    found = []
    for hold, customer in session.exec(statement):
        label = (
            f"complaint {hold.complaint_id}"
            if hold.complaint_id is not None or customer is None
            else f"customer {named(customer)}"
        )
        found.append(_view(hold, label))
    return found


def _view(hold: LegalHold, label: str) -> HoldView:
    assert hold.id is not None
    return HoldView(
        id=hold.id,
        target=label,
        reason=hold.reason,
        placed_at=hold.placed_at,
        placed_by=hold.placed_by,
        released_at=hold.released_at,
        released_by=hold.released_by,
        release_reason=hold.release_reason,
    )


def _on(complaint_ids: Collection[int], customer_ids: Collection[int]) -> ColumnElement[bool]:
    """Holds on any of these complaints or customers (none when both are empty)."""
    return or_(
        col(LegalHold.complaint_id).in_(list(complaint_ids)),
        col(LegalHold.customer_id).in_(list(customer_ids)),
    )


def holds_in_force(
    session: Session, *, complaint_ids: Collection[int] = (), customer_ids: Collection[int] = ()
) -> list[LegalHold]:
    """The holds in force on any of these complaints or customers, oldest first."""
    if not complaint_ids and not customer_ids:
        return []
    statement = select(LegalHold).where(
        _on(complaint_ids, customer_ids), col(LegalHold.released_at).is_(None)
    )
    return list(session.exec(statement.order_by(col(LegalHold.id))))


def erase_reasons(
    session: Session, *, complaint_ids: Collection[int] = (), customer_ids: Collection[int] = ()
) -> int:
    """Replace the reasons of the (released) holds on these complaints or customers by
    `events.ERASED_TEXT`, as a reason may name the person; returns the rows changed."""
    if not complaint_ids and not customer_ids:
        return 0
    changed = 0
    for hold in session.exec(select(LegalHold).where(_on(complaint_ids, customer_ids))):
        hold.reason = events.ERASED_TEXT
        if hold.release_reason:
            hold.release_reason = events.ERASED_TEXT
        session.add(hold)
        changed += 1
    return changed


def covered_customers(session: Session, customer_ids: Collection[int]) -> set[int]:
    """The customers a hold on any of these customers covers: one person's records. That is
    each held customer, the customer it was merged into (followed to the end: a merge moved its
    complaints there), and every customer merged into that one, directly or through another, so
    that a hold placed before or after a merge keeps the same complaints. It is the notion
    `customer forget` refuses by (the customer and its merged duplicates; docs/architecture.md,
    "Customer data")."""
    if not customer_ids:
        return set()
    pointers: dict[int, int] = {
        cid: into
        for cid, into in session.exec(
            select(Customer.id, Customer.merged_into).where(col(Customer.merged_into).is_not(None))
        )
        if cid is not None and into is not None
    }

    def root(customer_id: int) -> int:
        seen = {customer_id}
        while customer_id in pointers and pointers[customer_id] not in seen:
            customer_id = pointers[customer_id]
            seen.add(customer_id)
        return customer_id

    roots = {root(cid) for cid in customer_ids}
    return roots | set(customer_ids) | {cid for cid in pointers if root(cid) in roots}


def refuse_if_held(session: Session, customer: Customer, complaint_ids: Collection[int]) -> None:
    """InvalidValue naming the hold if the customer or one of these complaints is held: a hold
    on any customer of its merged group (`covered_customers`) holds it too, as for retention."""
    assert customer.id is not None
    covered = covered_customers(session, [customer.id])
    held = holds_in_force(session, complaint_ids=complaint_ids, customer_ids=sorted(covered))
    if not held:
        return
    hold = held[0]
    if hold.complaint_id is not None:
        what, release = f"complaint {hold.complaint_id}", f"latte hold {hold.complaint_id}"
    else:
        holder = session.get(Customer, hold.customer_id) or customer
        what, release = f"customer {named(holder)}", f"latte hold {shlex.quote(named(holder))}"
    raise InvalidValue(
        f"{_sentence(what)} is under legal hold {hold.id} ({hold.reason!r}, placed by "
        f"{hold.placed_by}): nothing was erased. Release it first with "
        f"`{release} --release --reason TEXT`."
    )
