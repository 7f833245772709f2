"""Folding duplicates together: a complaint into the real one, a customer into another.

A merged complaint is closed in a terminal workflow state (`workflow.Merged`, from a `merged`
event) and points at its target through `complaint.merged_into`; the target's timeline shows
its words and steps, and it counts in no report figure (docs/metrics.md, "Merged
duplicates"). A merged customer stays as a pointer (`customer.merged_into`) whose complaints
and purchases moved to the other record, so that its ref still says where it went.

Two agents may merge crosswise at once (A into B while B goes into A): both lock the rows
involved in one order, lowest id first, so the second waits for the first and is then refused
(its target is merged), instead of each holding one lock and waiting for the other's. SQLite
runs one writer at a time (`BEGIN IMMEDIATE`), so the order matters on PostgreSQL; it is the
same code on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import update
from sqlmodel import Session, SQLModel, col, func, select

from latte_cli import identity, workflow
from latte_cli.errors import InvalidValue, NotFound
from latte_cli.events import CustomerMergedDetails, MergedDetails
from latte_cli.models import Complaint, Customer, Purchase
from latte_cli.services.complaints import _last_step_time, _required, _store_state, state_of
from latte_cli.services.customers import (
    describe,
    get_customer,
    log_on_complaints_of,
    write_keys,
)
from latte_cli.services.eventlog import log_event
from latte_cli.timeutil import utcnow

M = TypeVar("M", bound=SQLModel)


def _lock_in_order(session: Session, model: type[M], ids: Sequence[int]) -> dict[int, M]:
    """The rows of `ids`, each locked for update, lowest id first (see the module's note)."""
    rows: dict[int, M] = {}
    for row_id in sorted(set(ids)):
        row = session.exec(
            select(model)
            .where(model.id == row_id)  # type: ignore[attr-defined]
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()
        if row is not None:
            rows[row_id] = row
    return rows


def merge_complaint(
    session: Session, *, complaint_id: int, into: int, reason: str, agent: str, force: bool = False
) -> Complaint:
    """Close complaint `complaint_id` as a duplicate of `into`; commits.

    Refused into itself, into a merged complaint, for a complaint others were merged into (merge
    the other way), and across customers unless `force`.
    """
    reason = _required(reason, "The reason", "--reason")
    if complaint_id == into:
        raise InvalidValue(
            f"Complaint {complaint_id} cannot be merged into itself. Give the id of the "
            "complaint it duplicates with --into."
        )
    rows = _lock_in_order(session, Complaint, (complaint_id, into))
    for wanted in (complaint_id, into):
        if wanted not in rows:
            raise NotFound(f"No complaint with id {wanted}. List them with `latte list`.")
    duplicate, target = rows[complaint_id], rows[into]
    if duplicate.merged_into is not None:
        raise InvalidValue(
            f"Complaint {complaint_id} was already merged into complaint {duplicate.merged_into}."
        )
    if target.merged_into == complaint_id:
        raise InvalidValue(
            f"Complaint {into} was already merged into complaint {complaint_id}: they are one "
            "complaint already, nothing to merge."
        )
    if target.merged_into is not None:
        raise InvalidValue(
            f"Complaint {into} was itself merged into complaint {target.merged_into}: merge "
            f"into that one (latte merge {complaint_id} --into {target.merged_into})."
        )
    merged_in = session.exec(
        select(Complaint.id)
        .where(Complaint.merged_into == complaint_id)
        .order_by(col(Complaint.id))
    ).all()
    if merged_in:
        listed = ", ".join(str(i) for i in merged_in)
        raise InvalidValue(
            f"Complaint {complaint_id} holds duplicates merged into it ({listed}): merge the "
            f"other way (latte merge {into} --into {complaint_id})."
        )
    if (
        not force
        and duplicate.customer_id is not None
        and target.customer_id is not None
        and duplicate.customer_id != target.customer_id
    ):
        theirs = session.get(Customer, duplicate.customer_id)
        ours = session.get(Customer, target.customer_id)
        raise InvalidValue(
            f"Complaint {complaint_id} is customer {describe(theirs) if theirs else '?'}'s and "
            f"{into} is {describe(ours) if ours else '?'}'s: if they are one person, join them "
            "first with `latte customer merge`; else pass --force."
        )
    previous = _last_step_time(session, duplicate) or duplicate.opened_at
    now = max(utcnow(), previous)  # a step may be recorded a few minutes ahead (--at)
    state = workflow.apply(
        state_of(duplicate, previous), workflow.Merged(into=into, at=now, agent=agent)
    )
    log_event(
        session,
        complaint_id=complaint_id,
        at=now,
        agent=agent,
        details=MergedDetails(into=into, reason=reason),
    )
    _store_state(duplicate, state)
    duplicate.updated_at = now
    session.add(duplicate)
    session.commit()
    return duplicate


@dataclass(frozen=True)
class CustomerMerge:
    source: Customer
    target: Customer
    complaints: int
    purchases: int
    # Details the target lacked, taken from the merged record.
    filled: tuple[str, ...]


def refuse_forgotten(source: Customer, target: Customer) -> None:
    """InvalidValue when either customer was forgotten: its data was erased, and a merge would
    give its pseudonym a real identity again or the forgotten person's record to someone else
    (docs/architecture.md, "Customer data")."""
    if identity.is_pseudonym(target.ref):
        raise InvalidValue(
            f"Customer {target.ref} was forgotten (its data was erased), so no customer can be "
            f"merged into it: {source.ref or 'this customer'} stays a customer of its own."
        )
    if identity.is_pseudonym(source.ref):
        raise InvalidValue(
            f"Customer {source.ref} was forgotten (its data was erased), so it cannot be merged "
            "into another customer: its record stays as it is."
        )


def merge_customer(
    session: Session, *, ref: str, into_ref: str, reason: str, agent: str
) -> CustomerMerge:
    """Join customer `ref` into `into_ref`: its complaints (with their follow-ups) and purchases
    move, details the target lacks are taken over, and `ref` stays as a pointer; commits."""
    reason = _required(reason, "The reason", "--reason")
    found = get_customer(session, ref), get_customer(session, into_ref)
    if found[0].id == found[1].id:
        raise InvalidValue(f"{ref} and {into_ref} are the same customer. Give another --into.")
    rows = _lock_in_order(session, Customer, [c.id or 0 for c in found])
    source, target = rows[found[0].id or 0], rows[found[1].id or 0]
    refuse_forgotten(source, target)
    if source.merged_into is not None:
        went = session.get(Customer, source.merged_into)
        raise InvalidValue(
            f"Customer {ref} was already merged into {describe(went) if went else '?'}."
        )
    if target.merged_into == source.id:
        raise InvalidValue(
            f"Customer {into_ref} was already merged into {ref}: they are one customer "
            "already, nothing to merge."
        )
    if target.merged_into is not None:
        went = session.get(Customer, target.merged_into)
        raise InvalidValue(
            f"Customer {into_ref} was itself merged into {describe(went) if went else '?'}: "
            "merge into that one."
        )
    assert source.id is not None and target.id is not None
    now = utcnow()
    moved = log_on_complaints_of(
        session,
        source,
        CustomerMergedDetails(from_customer=source.id, to_customer=target.id, reason=reason),
        agent=agent,
        at=now,
    )
    session.exec(
        update(Complaint)
        .where(col(Complaint.customer_id) == source.id)
        .values(customer_id=target.id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    purchases = session.exec(
        select(func.count()).select_from(Purchase).where(Purchase.customer_id == source.id)
    ).one()
    session.exec(
        update(Purchase)
        .where(col(Purchase.customer_id) == source.id)
        .values(customer_id=target.id)
        .execution_options(synchronize_session=False)
    )
    # Records merged into the source earlier now point at the target: one hop, always.
    session.exec(
        update(Customer)
        .where(col(Customer.merged_into) == source.id)
        .values(merged_into=target.id)
        .execution_options(synchronize_session=False)
    )
    filled = tuple(
        name
        for name in ("name", "email", "phone")
        if getattr(target, name) is None and getattr(source, name) is not None
    )
    for name in filled:
        setattr(target, name, getattr(source, name))
    write_keys(target)
    source.merged_into = target.id
    # The pointer is found by its ref only: matching by email, phone or name finds the target.
    source.email_key = source.phone_key = source.name_key = None
    session.add_all([source, target])
    session.commit()
    return CustomerMerge(
        source=source,
        target=target,
        complaints=len(moved),
        purchases=int(purchases),
        filled=filled,
    )
