"""Customers: matching the person on the phone to their record, and their history."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, or_, select

from latte_cli.errors import InvalidValue, NotFound
from latte_cli.models import Complaint, Customer, FollowUp, Purchase
from latte_cli.timeutil import utcnow


@dataclass(frozen=True)
class CustomerDetails:
    ref: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None

    def is_empty(self) -> bool:
        return not any((self.ref, self.name, self.email, self.phone))


def clean_text(value: str | None, *, limit: int, what: str) -> str | None:
    """`value` stripped, None if blank; InvalidValue if longer than the column allows."""
    value = value.strip() if value else None
    if value and len(value) > limit:
        raise InvalidValue(f"{what} is longer than {limit} characters. Shorten it.")
    return value or None


def check_details(details: CustomerDetails) -> CustomerDetails:
    """The details stripped (blank ones None), or InvalidValue naming the one that is wrong."""
    email = clean_text(details.email, limit=200, what="The customer email")
    if email and "@" not in email:
        raise InvalidValue(f"The email {email!r} has no @. Give an address like ana@example.com.")
    return CustomerDetails(
        ref=clean_text(details.ref, limit=100, what="The customer ref"),
        name=clean_text(details.name, limit=200, what="The customer name"),
        email=email,
        phone=clean_text(details.phone, limit=50, what="The customer phone"),
    )


def find_customer(session: Session, details: CustomerDetails) -> Customer | None:
    """The stored customer the details name: by ref if given, else by email (any case)."""
    if details.ref:
        return session.exec(select(Customer).where(Customer.ref == details.ref.strip())).first()
    if details.email:
        return session.exec(
            select(Customer).where(func.lower(Customer.email) == details.email.strip().lower())
        ).first()
    return None


def customer_of(session: Session, complaint: Complaint) -> Customer | None:
    """The complaint's customer, None for an anonymous complaint."""
    return session.get(Customer, complaint.customer_id) if complaint.customer_id else None


def match_or_create_customer(session: Session, details: CustomerDetails) -> Customer | None:
    """The customer these details name (by ref, else email), created if new.

    Returns None when no details are given: the complaint is anonymous. Details that are given
    fill in fields the stored record lacks; they never overwrite what is already there.
    Does not commit: the caller's transaction owns the change.
    """
    ref, name, email, phone = astuple(check_details(details))
    if not any((ref, name, email, phone)):
        return None
    customer = find_customer(session, CustomerDetails(ref=ref, email=email))
    if customer is None:
        customer = _create(
            session, Customer(ref=ref, name=name, email=email, phone=phone, created_at=utcnow())
        )
    customer.name = customer.name or name
    customer.email = customer.email or email
    customer.phone = customer.phone or phone
    session.add(customer)
    session.flush()
    return customer


def _create(session: Session, customer: Customer) -> Customer:
    """Insert a new customer; if another agent just created the same ref, use theirs."""
    try:
        with session.begin_nested():
            session.add(customer)
    except IntegrityError:
        existing = session.exec(select(Customer).where(Customer.ref == customer.ref)).first()
        if existing is None:
            raise
        return existing
    return customer


def get_customer(session: Session, ref: str) -> Customer:
    customer = session.exec(select(Customer).where(Customer.ref == ref)).first()
    if customer is None:
        raise NotFound(f"No customer with ref {ref!r}. Check it with `latte customer search`.")
    return customer


def search_customers(session: Session, text: str, *, limit: int = 20) -> list[Customer]:
    """Customers whose ref, email or name contains `text` (case-insensitive)."""
    pattern = f"%{text.strip().lower()}%"
    statement = (
        select(Customer)
        .where(
            or_(
                func.lower(Customer.ref).like(pattern),
                func.lower(Customer.email).like(pattern),
                func.lower(Customer.name).like(pattern),
            )
        )
        .order_by(col(Customer.name), col(Customer.id))
        .limit(limit)
    )
    return list(session.exec(statement))


@dataclass(frozen=True)
class PastComplaint:
    id: int
    opened_at: datetime
    category: str
    summary: str
    stage_due: str | None
    action_kind: str | None
    resolved_at: datetime | None
    nps: int | None
    satisfied: bool | None


@dataclass(frozen=True)
class PastPurchase:
    order_ref: str
    purchased_at: datetime
    amount_cents: int


@dataclass(frozen=True)
class CustomerHistory:
    customer: Customer
    complaints: list[PastComplaint]
    purchases: list[PastPurchase]
    last_nps: int | None

    @property
    def open_complaints(self) -> list[PastComplaint]:
        return [c for c in self.complaints if c.stage_due is not None]


def customer_history(
    session: Session, customer: Customer, *, purchases: int = 5
) -> CustomerHistory:
    """Everything an agent should see before the customer speaks, newest first."""
    # Only this customer's follow-ups: grouping the whole table would cost a scan of every
    # follow-up ever recorded each time a customer is looked up.
    latest_followup = (
        select(FollowUp.complaint_id, func.max(FollowUp.id).label("followup_id"))
        .join(Complaint, col(Complaint.id) == FollowUp.complaint_id)
        .where(Complaint.customer_id == customer.id, col(FollowUp.recorded_at).is_not(None))
        .group_by(col(FollowUp.complaint_id))
        .subquery()
    )
    rows = session.exec(
        select(Complaint, FollowUp)
        .outerjoin(latest_followup, latest_followup.c.complaint_id == Complaint.id)
        .outerjoin(FollowUp, col(FollowUp.id) == latest_followup.c.followup_id)
        .where(Complaint.customer_id == customer.id)
        .order_by(col(Complaint.opened_at).desc(), col(Complaint.id).desc())
    ).all()
    complaints = [
        PastComplaint(
            id=complaint.id or 0,
            opened_at=complaint.opened_at,
            category=complaint.category,
            summary=complaint.summary,
            stage_due=complaint.stage_due,
            action_kind=complaint.action_kind,
            resolved_at=complaint.resolved_at,
            nps=followup.nps if followup else None,
            satisfied=followup.satisfied if followup else None,
        )
        for complaint, followup in rows
    ]
    bought = session.exec(
        select(Purchase)
        .where(Purchase.customer_id == customer.id)
        .order_by(col(Purchase.purchased_epoch).desc())
        .limit(purchases)
    ).all()
    last_nps = next((c.nps for c in complaints if c.nps is not None), None)
    return CustomerHistory(
        customer=customer,
        complaints=complaints,
        purchases=[PastPurchase(p.order_ref, p.purchased_at, p.amount_cents) for p in bought],
        last_nps=last_nps,
    )
