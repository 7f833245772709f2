"""A customer's data: forgetting the person while keeping the record, and handing it over.

Forgetting (GDPR Art. 17) removes the customer's identity and every free text of their
complaints, and keeps every time, stage, kind, amount, root cause and purchase figure, so that
no report figure changes and replaying the event log still gives the stored state. The erasure
of one complaint is `erase_complaint`, the one code path for it (docs/architecture.md, "Customer
data"). Exporting (GDPR Art. 15) gathers every stored row about one customer.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, or_
from sqlmodel import Session, SQLModel, col, select

from latte_cli import events, identity
from latte_cli.errors import InvalidValue
from latte_cli.models import Complaint, Customer, Event, FollowUp, Purchase, StageRecord
from latte_cli.services.customers import (
    describe,
    get_customer,
    merged_note,
    merged_root,
    write_keys,
)
from latte_cli.services.eventlog import events_of, log_event
from latte_cli.services.holds import erase_reasons, refuse_if_held
from latte_cli.services.search import rewrite_index
from latte_cli.timeutil import utcnow

ERASED = events.ERASED_TEXT
PSEUDONYM_PREFIX = identity.PSEUDONYM_PREFIX
# 64 random bits: two pseudonyms drawn in different databases are as good as never equal.
PSEUDONYM_BYTES = 8
# The free-text columns of a stage record; every other column is a figure or a code.
STAGE_TEXTS = ("text", "action_detail", "options_offered", "what_will_change")


def new_pseudonym(session: Session) -> str:
    """A ref for a customer being forgotten: random, so that it is unique across databases (an
    export from one imported into another joins no two forgotten people), and derived from
    nothing about the person or the row. Kept for good once given; drawn again in the very
    unlikely case that this database already holds it."""
    while True:
        ref = f"{PSEUDONYM_PREFIX}{secrets.token_hex(PSEUDONYM_BYTES)}"
        taken = session.exec(select(Customer.id).where(col(Customer.ref_key) == ref)).first()
        if taken is None:
            return ref


def is_forgotten(customer: Customer) -> bool:
    return identity.is_pseudonym(customer.ref) and not (
        customer.name or customer.email or customer.phone
    )


def identified(customer: Any = Customer) -> ColumnElement[bool]:
    """SQL for `not is_forgotten` over the customer table (or an alias of it)."""
    return or_(
        col(customer.ref).is_(None),
        ~col(customer.ref).startswith(PSEUDONYM_PREFIX),
        col(customer.name).is_not(None),
        col(customer.email).is_not(None),
        col(customer.phone).is_not(None),
    )


def _erase(value: str | None) -> str | None:
    return ERASED if value else value


def erase_complaint(
    session: Session, complaint: Complaint, *, agent: str, reason: str, at: datetime
) -> int:
    """Replace every free text of one complaint by `ERASED` and log that it was done; returns
    the number of rows changed. Times, stages, kinds, amounts and root causes stay. The caller
    commits."""
    assert complaint.id is not None
    changed = 0
    if complaint.summary:
        complaint.summary = ERASED
        changed += 1
    session.add(complaint)
    records = session.exec(select(StageRecord).where(StageRecord.complaint_id == complaint.id))
    for record in records:
        for name in STAGE_TEXTS:
            setattr(record, name, _erase(getattr(record, name)))
        session.add(record)
        changed += 1
    followups = session.exec(select(FollowUp).where(FollowUp.complaint_id == complaint.id))
    for followup in followups:
        if followup.note:
            followup.note = ERASED
            session.add(followup)
            changed += 1
    # The one rewrite of the append-only log: free text inside its details, kind and times kept.
    for row in events_of(session, complaint.id):
        details = events.decode(row)
        erased = events.without_free_text(details)
        if erased is not details:
            row.data = events.encode(erased)[1]
            session.add(row)
            changed += 1
    changed += erase_reasons(session, complaint_ids=[complaint.id])
    log_event(
        session,
        complaint_id=complaint.id,
        at=at,
        agent=agent,
        details=events.ErasedDetails(reason=reason),
    )
    return changed


@dataclass(frozen=True)
class Forgotten:
    ref: str
    pseudonym: str
    complaints: int
    # The complaints erased, by id (a refused command's kept text of theirs goes too).
    complaint_ids: list[int]
    purchases: int
    # Customers merged into this one, forgotten with it.
    duplicates: int
    rows_changed: int
    # The write-ahead log was emptied after the commit (SQLite; always True elsewhere).
    checkpointed: bool


def secure_delete(session: Session) -> None:
    """On SQLite, overwrite the bytes this transaction frees instead of leaving them in free
    space (docs/architecture.md, "Customer data")."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA secure_delete = ON")


@dataclass(frozen=True)
class ForgottenIdentity:
    pseudonym: str
    purchases: int
    # Customers merged into this one (directly or through another) forgotten with it.
    duplicates: int
    rows_changed: int


def merged_duplicates(session: Session, customer: Customer) -> list[Customer]:
    """Every customer merged into this one, directly or through another, not yet forgotten,
    lowest id first. A merge repoints earlier duplicates at its target (one hop), but the walk
    does not rely on it (docs/architecture.md, "Customer data")."""
    assert customer.id is not None
    seen = {customer.id}
    found: list[Customer] = []
    frontier = [customer.id]
    while frontier:
        rows = session.exec(
            select(Customer)
            .where(col(Customer.merged_into).in_(frontier))
            .order_by(col(Customer.id))
        ).all()
        frontier = []
        for row in rows:
            assert row.id is not None
            if row.id in seen:
                continue
            seen.add(row.id)
            frontier.append(row.id)
            if not is_forgotten(row):
                found.append(row)
    return sorted(found, key=lambda row: row.id or 0)


def _pseudonymise(session: Session, customer: Customer) -> tuple[str, int, int]:
    """Replace one customer row's identity by its pseudonym, its order numbers by derived ones
    and its holds' reasons by the marker; returns (pseudonym, purchases, rows changed)."""
    assert customer.id is not None
    # A pseudonym is kept once given: forgetting one that a merge gave an identity again
    # (`latte db check` names it) erases that identity and leaves the ref.
    new_ref = customer.ref if identity.is_pseudonym(customer.ref) else new_pseudonym(session)
    assert new_ref is not None
    customer.ref, customer.name, customer.email, customer.phone = new_ref, None, None, None
    write_keys(customer)
    session.add(customer)
    purchases = session.exec(
        select(Purchase).where(Purchase.customer_id == customer.id).order_by(col(Purchase.id))
    ).all()
    # An order number identifies the person in the shop's own system: pseudonymised too.
    for purchase in purchases:
        purchase.order_ref = f"{new_ref}-{purchase.id}"
        session.add(purchase)
    changed = 1 + len(purchases) + erase_reasons(session, customer_ids=[customer.id])
    return new_ref, len(purchases), changed


def forget_identity(
    session: Session, customer: Customer, duplicates: list[Customer]
) -> ForgottenIdentity:
    """Replace the identity of the customer and of every customer merged into it
    (`merged_duplicates`, which the caller has checked for holds) by pseudonyms: a duplicate is
    the same person, its row keeps a ref and a name otherwise. The customer's complaints are
    erased by the caller (`erase_complaint`). Does not commit."""
    new_ref, purchases, changed = _pseudonymise(session, customer)
    for duplicate in duplicates:
        _, moved, rows = _pseudonymise(session, duplicate)
        purchases += moved
        changed += rows
    return ForgottenIdentity(new_ref, purchases, len(duplicates), changed)


def refuse_merged_away(session: Session, customer: Customer, ref: str) -> None:
    """InvalidValue for a customer merged into another: its complaints and purchases are the
    other's now, and forgetting the person is forgetting that customer, which erases this one
    with it (docs/architecture.md, "Customer data")."""
    if customer.merged_into is None or is_forgotten(customer):
        return
    target = merged_root(session, customer)
    if is_forgotten(target):
        return  # `latte db check` names it; forgetting the pseudonym finishes it
    raise InvalidValue(
        f"{ref} is customer {describe(customer)}, merged into {describe(target)}: forget "
        f"that customer with `latte customer forget {target.ref or 'REF'}`, which erases "
        f"{customer.ref or ref} with it."
    )


def forget_customer(session: Session, ref: str, *, agent: str, reason: str) -> Forgotten:
    """Erase a customer: identity replaced by a pseudonym (so is that of every customer merged
    into it), every free text of their complaints erased, every figure kept. Commits, then
    empties SQLite's write-ahead log so that the erased text is in no file. NotFound for an
    unknown ref; InvalidValue under a legal hold (on the customer, one of their complaints or
    a duplicate merged into it). Forgetting a customer forgotten before its duplicates went
    with it forgets those duplicates."""
    reason = reason.strip()
    if not reason:
        raise InvalidValue("--reason is empty: say why the customer is forgotten.")
    secure_delete(session)
    customer = get_customer(session, ref)
    assert customer.id is not None
    duplicates = merged_duplicates(session, customer)
    # Forgotten before duplicates went with it: forgetting again finishes the duplicates.
    forgotten = is_forgotten(customer)
    if forgotten and not duplicates:
        raise InvalidValue(f"Customer {ref!r} is already forgotten; nothing to erase.")
    complaints = (
        []
        if forgotten
        else session.exec(
            select(Complaint)
            .where(Complaint.customer_id == customer.id)
            .order_by(col(Complaint.id))
        ).all()
    )
    refuse_if_held(session, customer, [c.id for c in complaints if c.id is not None])
    for duplicate in duplicates:  # a duplicate on hold holds the person: refused as well
        refuse_if_held(session, duplicate, [])
    refuse_merged_away(session, customer, ref)  # after the holds: a hold is the first answer
    now = utcnow()
    identity = forget_identity(session, customer, duplicates)
    changed = identity.rows_changed
    for complaint in complaints:
        changed += erase_complaint(session, complaint, agent=agent, reason=reason, at=now)
    rewrite_index(session)  # no erased word left in the search index's pages
    session.commit()
    return Forgotten(
        ref=ref,
        pseudonym=identity.pseudonym,
        complaints=len(complaints),
        complaint_ids=[c.id for c in complaints if c.id is not None],
        purchases=identity.purchases,
        duplicates=identity.duplicates,
        rows_changed=changed,
        checkpointed=checkpoint(session),
    )


def checkpoint(session: Session) -> bool:
    """After a commit, empty SQLite's write-ahead log (`db.checkpoint`), so that erased bytes
    are in no file; False if readers kept it from completing. True on other databases."""
    from latte_cli.db import busy_timeout_of, sqlite_file
    from latte_cli.db import checkpoint as checkpoint_file

    engine = session.get_bind()
    assert isinstance(engine, Engine)
    path = sqlite_file(engine)
    # Waits for readers up to the busy timeout, as a writer would: the erasure is only complete
    # once the log is empty.
    return True if path is None else checkpoint_file(path, wait_ms=busy_timeout_of(engine))


@dataclass(frozen=True)
class CustomerData:
    """Every stored row about one customer, as plain JSON values, table by table.

    `merged_customers` are the rows of the customers merged into this one (the same person:
    `forget` erases them with it), each keeping the name, email, phone and ref it was known by
    (docs/architecture.md, "Customer data")."""

    customer: dict[str, Any]
    complaints: list[dict[str, Any]]
    stage_records: list[dict[str, Any]]
    events: list[dict[str, Any]]
    followups: list[dict[str, Any]]
    purchases: list[dict[str, Any]]
    merged_customers: list[dict[str, Any]] = field(default_factory=list)
    # For a merged-away customer: the one it was merged into (ref, name) and a one-line note
    # that its data is exported there (docs/architecture.md, "Customer data"); else None.
    merged_into: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "merged_into": self.merged_into,
            "customer": self.customer,
            "merged_customers": self.merged_customers,
            "complaints": self.complaints,
            "stage_records": self.stage_records,
            "events": self.events,
            "followups": self.followups,
            "purchases": self.purchases,
        }


def _plain(row: SQLModel) -> dict[str, Any]:
    """Every column of the row, in the table's order, as JSON values."""
    out: dict[str, Any] = {}
    for column in row.__table__.columns:  # type: ignore[attr-defined]
        value = getattr(row, column.name)
        out[column.name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def customer_data(session: Session, ref: str) -> CustomerData:
    """The subject-access answer: every stored row about the customer with this ref, and the
    identities of the customers merged into it."""
    customer = get_customer(session, ref)
    went = None
    note = merged_note(session, customer, None if identity.clean(ref) == customer.ref_key else ref)
    if note is not None:
        target = merged_root(session, customer)
        went = {"ref": target.ref, "name": target.name, "note": note}
    complaints = session.exec(
        select(Complaint).where(Complaint.customer_id == customer.id).order_by(col(Complaint.id))
    ).all()
    ids = [c.id for c in complaints]

    def rows(model: Any) -> list[dict[str, Any]]:
        if not ids:
            return []
        found = session.exec(
            select(model).where(col(model.complaint_id).in_(ids)).order_by(col(model.id))
        ).all()
        return [_plain(r) for r in found]

    logged = rows(Event)
    for row in logged:
        row["data"] = json.loads(row["data"])
    purchases = session.exec(
        select(Purchase).where(Purchase.customer_id == customer.id).order_by(col(Purchase.id))
    ).all()
    return CustomerData(
        customer=_plain(customer),
        merged_customers=[_plain(m) for m in merged_duplicates(session, customer)],
        complaints=[_plain(c) for c in complaints],
        stage_records=rows(StageRecord),
        events=logged,
        followups=rows(FollowUp),
        purchases=[_plain(p) for p in purchases],
        merged_into=went,
    )
