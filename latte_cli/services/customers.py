"""Customers: matching the person on the phone to their record, and their history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, or_, select

from latte_cli import identity
from latte_cli.errors import InvalidValue, NotFound, SeveralCustomers
from latte_cli.events import CustomerEditedDetails, Details
from latte_cli.models import Complaint, Customer, FollowUp, Purchase
from latte_cli.reports.amounts import is_wrong, wrong_amount_error
from latte_cli.services.eventlog import log_event
from latte_cli.timeutil import utcnow

DETAIL_FIELDS = ("ref", "name", "email", "phone")


@dataclass(frozen=True)
class CustomerDetails:
    ref: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None

    def is_empty(self) -> bool:
        return not any((self.ref, self.name, self.email, self.phone))


def clean_text(value: str | None, *, limit: int, what: str) -> str | None:
    """`value` cleaned (`identity.clean`), None if blank; InvalidValue if longer than allowed."""
    value = identity.clean(value)
    if value and len(value) > limit:
        raise InvalidValue(f"{what} is longer than {limit} characters. Shorten it.")
    return value


def check_details(details: CustomerDetails) -> CustomerDetails:
    """The details cleaned (blank ones None), or InvalidValue naming the one that is wrong."""
    email = clean_text(details.email, limit=200, what="The customer email")
    if email and "@" not in email:
        raise InvalidValue(f"The email {email!r} has no @. Give an address like ana@example.com.")
    return CustomerDetails(
        ref=clean_text(details.ref, limit=100, what="The customer ref"),
        name=clean_text(details.name, limit=200, what="The customer name"),
        email=email,
        phone=clean_text(details.phone, limit=50, what="The customer phone"),
    )


def details_keys(details: CustomerDetails) -> identity.Keys:
    return identity.keys_of(
        ref=details.ref, email=details.email, phone=details.phone, name=details.name
    )


def stored_keys(customer: Customer) -> identity.Keys:
    return identity.Keys(
        ref=customer.ref_key,
        email=customer.email_key,
        phone=customer.phone_key,
        name=customer.name_key,
    )


def write_keys(customer: Customer) -> None:
    """Set the customer's matching keys from its details: call after every change to them."""
    keys = identity.keys_of(
        ref=customer.ref, email=customer.email, phone=customer.phone, name=customer.name
    )
    customer.ref_key, customer.email_key = keys.ref, keys.email
    customer.phone_key, customer.name_key = keys.phone, keys.name


def candidates_clause(keys: identity.Keys) -> ColumnElement[bool]:
    """Stored customers the matching rule could pick for `keys` (it then decides among them)."""
    clauses: list[ColumnElement[bool]] = []
    if keys.ref:
        clauses.append(col(Customer.ref_key) == keys.ref)
    if keys.email:
        clauses.append(col(Customer.email_key) == keys.email)
    if keys.by_name_and_phone:
        clauses.append(
            and_(
                _equal_or_null(Customer.name_key, keys.name),
                _equal_or_null(Customer.phone_key, keys.phone),
            )
        )
    return or_(false(), *clauses)


def _equal_or_null(column: str | None, value: str | None) -> ColumnElement[bool]:
    return col(column) == value if value is not None else col(column).is_(None)


def find_customer(session: Session, details: CustomerDetails) -> Customer | None:
    """The stored customer the details name, by the one matching rule (`latte_cli.identity`)."""
    keys = details_keys(details)
    found = session.exec(
        select(Customer).where(candidates_clause(keys)).order_by(col(Customer.id))
    ).all()
    index = identity.CustomerIndex((c.id or 0, stored_keys(c)) for c in found)
    chosen = index.match(keys)
    return next((c for c in found if c.id == chosen), None) if chosen is not None else None


def current_customer(session: Session, customer: Customer) -> Customer:
    """The customer record a new complaint belongs to: `customer`, or the one it was merged
    into (`latte customer merge` leaves a pointer). The row is locked until the commit, so a
    merge running at the same time either waits for this complaint and moves it too, or
    commits first and is followed here (docs/architecture.md, "Storage"). Locked for update,
    not for share: two agents filling in the same customer's details must not both hold a
    share lock and then both wait to write."""
    while True:
        locked = session.exec(
            select(Customer)
            .where(Customer.id == customer.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if locked.merged_into is None:
            return locked
        target = session.get(Customer, locked.merged_into)
        if target is None:
            return locked  # a broken pointer: `latte db check` reports it
        customer = target


def customer_of(session: Session, complaint: Complaint) -> Customer | None:
    """The complaint's customer, None for an anonymous complaint."""
    return session.get(Customer, complaint.customer_id) if complaint.customer_id else None


def match_or_create_customer(session: Session, details: CustomerDetails) -> Customer | None:
    """The customer these details name (`latte_cli.identity`'s rule), created if new.

    Returns None when no details are given: the complaint is anonymous. Details that are given
    fill in fields the stored record lacks; they never overwrite what is already there.
    Does not commit: the caller's transaction owns the change.
    """
    return match_customer(session, details).customer


@dataclass(frozen=True)
class DetailNote:
    """A detail given for an existing customer that differs from the stored one: `kept` (the
    stored value stays), `updated` (replaced, `--update-customer`) or `filled` (was empty)."""

    field: str
    stored: str | None
    given: str
    outcome: str


@dataclass(frozen=True)
class CustomerMatch:
    customer: Customer | None
    notes: tuple[DetailNote, ...] = ()


def _same(field: str, stored: str | None, given: str) -> bool:
    """Whether two values of a detail say the same thing: emails whatever their case, phones
    whatever their layout (`latte_cli.identity`); names and refs as typed."""
    if field == "email":
        return identity.email_key(stored) == identity.email_key(given)
    if field == "phone":
        return identity.phone_key(stored) == identity.phone_key(given)
    return stored == given


def match_customer(
    session: Session, details: CustomerDetails, *, update: bool = False
) -> CustomerMatch:
    """The customer these details name, created if new, and what was done with details that
    differ from the stored ones: an empty stored detail is filled; a different one is kept
    unless `update` (then replaced, refused if the customer would then collide with another).
    Does not commit."""
    details = check_details(details)
    if details.is_empty():
        return CustomerMatch(None)
    customer = find_customer(session, details)
    if customer is None:
        refuse_pseudonym(details.ref)
        created = Customer(**asdict(details), created_at=utcnow())
        customer = _create(session, created)
        if customer is created:
            session.flush()
            return CustomerMatch(customer)
        # Another agent created the same ref a moment ago: theirs, as any stored customer.
    customer = current_customer(session, customer)
    notes: list[DetailNote] = []
    for name in DETAIL_FIELDS:
        given = getattr(details, name)
        stored = getattr(customer, name)
        if given is None or (stored is not None and _same(name, stored, given)):
            continue
        if name == "ref" and stored is not None:
            continue  # reached through a merged customer's ref: the kept record's ref stays
        outcome = "filled" if stored is None else "updated" if update else "kept"
        notes.append(DetailNote(name, stored, given, outcome))
        if outcome != "kept":
            setattr(customer, name, given)
    if identity.is_pseudonym(customer.ref) and any(n.outcome != "kept" for n in notes):
        raise InvalidValue(
            f"Customer {customer.ref} was forgotten (its data was erased), so it takes no "
            "name, email or phone: give the complaint's customer without these details."
        )
    write_keys(customer)
    updated = [n.field for n in notes if n.outcome == "updated"]
    if updated:
        refuse_collision(session, customer, known_as=customer.ref, changed=updated)
    refuse_shared(
        session,
        customer,
        known_as=customer.ref,
        changed=[n.field for n in notes if n.outcome == "filled"],
    )
    session.add(customer)
    session.flush()
    return CustomerMatch(customer, tuple(notes))


def _create(session: Session, customer: Customer) -> Customer:
    """Insert a new customer; if another agent just created the same ref, use theirs."""
    write_keys(customer)
    try:
        with session.begin_nested():
            session.add(customer)
    except IntegrityError:
        existing = session.exec(
            select(Customer).where(col(Customer.ref_key) == customer.ref_key)
        ).first()
        if existing is None or customer.ref_key is None:
            raise
        return existing
    return customer


def find_customers(session: Session, text: str, *, limit: int = 50) -> list[Customer]:
    """The customers `text` names through `identity`'s keys: a ref names its customer alone;
    otherwise every customer with that email, phone (its digits) or name (folded), oldest first.
    """
    cleaned = identity.clean(text)
    if not cleaned:
        return []
    by_ref = session.exec(
        select(Customer).where(col(Customer.ref_key) == cleaned).order_by(col(Customer.id))
    ).all()
    if by_ref:
        return list(by_ref)
    clauses = [col(Customer.name_key) == identity.fold(cleaned)]
    if "@" in cleaned:
        clauses.append(col(Customer.email_key) == identity.email_key(cleaned))
    terms = identity.search_terms(cleaned)
    if terms and terms.phone:
        clauses.append(col(Customer.phone_key) == identity.phone_key(cleaned))
    statement = select(Customer).where(or_(*clauses)).order_by(col(Customer.id)).limit(limit)
    found = list(session.exec(statement).all())
    return found or merged_named(session, cleaned)[:limit]


def merged_named(session: Session, text: str) -> list[Customer]:
    """The merged-away customers whose own email, phone or name `text` is, oldest first.

    A merge clears the duplicate's matching keys (matching finds the kept customer), so these
    are compared on the stored details; asked only when no customer matches, so an unmerged
    customer is never made ambiguous (docs/architecture.md, "Customer data")."""
    email = identity.email_key(text) if "@" in text else None
    terms = identity.search_terms(text)
    phone = identity.phone_key(text) if terms and terms.phone else None
    name = identity.fold(text)
    merged = session.exec(
        select(Customer).where(col(Customer.merged_into).is_not(None)).order_by(col(Customer.id))
    ).all()
    return [
        c
        for c in merged
        if (email is not None and identity.email_key(c.email) == email)
        or (phone is not None and identity.phone_key(c.phone) == phone)
        or (name is not None and identity.fold(c.name) == name)
    ]


def merged_root(session: Session, customer: Customer) -> Customer:
    """The customer this one was merged into, followed to the end (itself if not merged)."""
    seen = {customer.id}
    while customer.merged_into is not None and customer.merged_into not in seen:
        target = session.get(Customer, customer.merged_into)
        if target is None:
            break
        seen.add(target.id)
        customer = target
    return customer


def merged_note(session: Session, customer: Customer, known_as: str | None = None) -> str | None:
    """One line for a merged-away customer: where it went and how to reach its data there
    (docs/architecture.md, "Customer data"); None for a customer not merged."""
    if customer.merged_into is None:
        return None
    target = merged_root(session, customer)
    found = target is not customer  # else the row it names is gone
    where = describe(target) if found else f"#{customer.merged_into}"
    ref = target.ref if found and target.ref else "REF"
    who = (
        f"{known_as} is customer {describe(customer)}"
        if known_as
        else (f"Customer {describe(customer)}")
    )
    return (
        f"{who}, merged into {where}: its complaints, events and purchases are there; "
        f"export them with `latte customer export {ref}`."
    )


def get_customer(session: Session, ref: str) -> Customer:
    """The customer with this ref; when no customer has it, the one customer whose email, phone
    or name it is, found as `latte customer show` finds them (`find_customers`), so that
    a customer without a ref can still be named. SeveralCustomers when that fits several (the
    caller lists them), NotFound when it fits none (docs/architecture.md, "Customer data")."""
    key = identity.clean(ref)
    customer = session.exec(
        select(Customer).where(col(Customer.ref_key) == key).order_by(col(Customer.id))
    ).first()
    if customer is not None:
        return customer
    found = find_customers(session, ref)
    if len(found) > 1:
        raise SeveralCustomers(
            f"{len(found)} customers match {ref!r} (listed above): give a ref, email or phone "
            "that only one of them has.",
            found,
        )
    if not found:
        raise NotFound(
            f"No customer with ref {ref!r}, nor with that email, phone or name. Check it with "
            "`latte customer search`."
        )
    return found[0]


def describe(customer: Customer) -> str:
    """A customer as a person reads it in a message: ref and name, else the id."""
    if customer.ref and customer.name:
        return f"{customer.ref} ({customer.name})"
    return customer.ref or customer.name or f"#{customer.id}"


def refuse_collision(
    session: Session, customer: Customer, *, known_as: str | None, changed: Iterable[str] = ()
) -> None:
    """InvalidValue if the matching rule (`latte_cli.identity`) would take the customer's keys
    for another, unmerged customer: the two are the same person, to be merged instead.

    A correction (`changed`, the details an edit or `--update-customer` replaces) is also
    refused when it gives the customer an email or phone another customer has, even where
    their refs tell them apart: a lookup by it would find both (`refuse_shared`,
    docs/architecture.md, "Customer data")."""
    refuse_shared(session, customer, known_as=known_as, changed=changed)
    keys = stored_keys(customer)
    mine = known_as or "REF"
    with session.no_autoflush:  # the change is checked before it is written
        found = session.exec(
            select(Customer)
            .where(
                candidates_clause(keys),
                Customer.id != customer.id,
                col(Customer.merged_into).is_(None),
            )
            .order_by(col(Customer.id))
        ).all()
    index = identity.CustomerIndex((c.id or 0, stored_keys(c)) for c in found)
    other = next((c for c in found if c.id == index.match(keys)), None)
    if other is not None:
        raise InvalidValue(
            f"Customer {describe(other)} already has these details, so the two would be one "
            f"customer: join them with `latte customer merge {mine} --into {other.ref or 'REF'} "
            '--reason "..."`, or give other details.'
        )


def refuse_shared(
    session: Session, customer: Customer, *, known_as: str | None, changed: Iterable[str]
) -> None:
    """InvalidValue if a changed email or phone of the customer (`changed`: edited, replaced or
    filled in) is another unmerged customer's: one line naming them and the merge."""
    keys = stored_keys(customer)
    for field in ("email", "phone"):
        key = getattr(keys, field)
        if field not in changed or key is None:
            continue
        holder = _holder_of(session, customer, field, key)
        if holder is not None:
            raise InvalidValue(
                f"Customer {describe(holder)} already has the {field} "
                f"{getattr(customer, field)}: if they are one person, join them with "
                f"`latte customer merge {known_as or 'REF'} --into {holder.ref or 'REF'} "
                f'--reason "..."`; else give another {field}.'
            )


def _holder_of(session: Session, customer: Customer, field: str, key: str) -> Customer | None:
    """The first other unmerged customer whose `field` key is `key` (a merged duplicate's keys
    are cleared: a lookup finds the customer kept)."""
    column = col(Customer.email_key) if field == "email" else col(Customer.phone_key)
    with session.no_autoflush:
        return session.exec(
            select(Customer)
            .where(column == key, Customer.id != customer.id, col(Customer.merged_into).is_(None))
            .order_by(col(Customer.id))
        ).first()


def refuse_pseudonym(ref: str | None) -> None:
    """InvalidValue for a new ref that looks like a forgotten customer's pseudonym: such a
    customer would be taken for a forgotten one (`identity.is_pseudonym`)."""
    if identity.is_pseudonym(ref):
        raise InvalidValue(
            f"The ref {ref!r} starts with {identity.PSEUDONYM_PREFIX!r}, which marks forgotten "
            "customers. Give another ref."
        )


def refuse_taken_ref(session: Session, customer: Customer, ref: str | None) -> None:
    """InvalidValue if a merged customer holds `ref`, the customer's new ref: a merged customer
    keeps its ref so that it still says where it went (`refuse_collision` names an unmerged
    one). Called before the change is made."""
    key = identity.clean(ref)
    if key is None:
        return
    other = session.exec(
        select(Customer)
        .where(
            or_(col(Customer.ref) == key, col(Customer.ref_key) == key),
            Customer.id != customer.id,
            col(Customer.merged_into).is_not(None),
        )
        .order_by(col(Customer.id))
    ).first()
    if other is None:
        return
    went = session.get(Customer, other.merged_into) if other.merged_into is not None else None
    where = describe(went) if went else f"#{other.merged_into}"
    raise InvalidValue(
        f"The ref {key!r} exists: customer {describe(other)}, merged into {where}, keeps it so "
        "that it says where it went. Give a ref no one has."
    )


@dataclass(frozen=True)
class CustomerEdit:
    customer: Customer
    before: dict[str, str | None]
    after: dict[str, str | None]
    complaints: int


def edit_customer(
    session: Session, *, ref: str, changes: CustomerDetails, reason: str | None, agent: str
) -> CustomerEdit:
    """Correct a customer's details (a given empty text clears one) and commit.

    The matching keys are derived again (`latte_cli.identity`); a change that would make the
    customer collide with another is refused, naming them. Each of the customer's complaints
    logs a `customer_edited` event with the before and after of the changed details.
    """
    customer = get_customer(session, ref)
    customer = session.exec(
        select(Customer)
        .where(Customer.id == customer.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if customer.merged_into is not None:
        target = session.get(Customer, customer.merged_into)
        where = describe(target) if target else f"#{customer.merged_into}"
        raise InvalidValue(f"Customer {ref} was merged into {where}: edit that customer instead.")
    if identity.is_pseudonym(customer.ref):
        raise InvalidValue(
            f"Customer {customer.ref} was forgotten (its data was erased), so its details "
            "cannot be edited: open a new customer for the person instead."
        )
    given = {f.name: getattr(changes, f.name) for f in fields(changes)}
    if all(value is None for value in given.values()):
        raise InvalidValue("Nothing to change: pass --name, --email, --phone or --ref.")
    cleaned = check_details(changes)  # a given empty text becomes None: cleared
    before: dict[str, str | None] = {}
    after: dict[str, str | None] = {}
    for name in DETAIL_FIELDS:
        if given[name] is None:
            continue
        new = getattr(cleaned, name)
        if new != getattr(customer, name):
            before[name], after[name] = getattr(customer, name), new
    if not after:
        raise InvalidValue(
            f"Nothing changes: customer {ref} already has these details. Give different ones."
        )
    refuse_pseudonym(after.get("ref"))
    refuse_taken_ref(session, customer, after.get("ref"))
    for name, value in after.items():
        setattr(customer, name, value)
    write_keys(customer)
    refuse_collision(session, customer, known_as=ref, changed=after)
    session.add(customer)
    count = log_customer_edit(
        session, customer, before=before, after=after, reason=reason or "", agent=agent
    )
    try:
        session.flush()
    except IntegrityError:
        raise InvalidValue(
            f"Another customer has the ref {customer.ref!r}. Give a ref no one has."
        ) from None
    session.commit()
    return CustomerEdit(customer=customer, before=before, after=after, complaints=count)


def log_customer_edit(
    session: Session,
    customer: Customer,
    *,
    before: dict[str, str | None],
    after: dict[str, str | None],
    reason: str,
    agent: str,
) -> int:
    """Log a `customer_edited` event on each of the customer's complaints (the event log is
    per complaint); returns how many. The caller commits."""
    details = CustomerEditedDetails(
        customer_id=customer.id or 0, before=before, after=after, reason=reason
    )
    return len(log_on_complaints_of(session, customer, details, agent=agent, at=utcnow()))


def log_on_complaints_of(
    session: Session, customer: Customer, details: Details, *, agent: str, at: datetime
) -> list[int]:
    """Log one event on each of the customer's complaints (a customer has no log of their
    own: each complaint's log tells its story); returns their ids. The caller commits."""
    ids = [
        complaint_id
        for complaint_id in session.exec(
            select(Complaint.id)
            .where(Complaint.customer_id == customer.id)
            .order_by(col(Complaint.id))
        ).all()
        if complaint_id is not None
    ]
    for complaint_id in ids:
        log_event(session, complaint_id=complaint_id, at=at, agent=agent, details=details)
    return ids


def search_customers(session: Session, text: str, *, limit: int = 20) -> list[Customer]:
    """Customers whose ref, email, name or phone contains `text`.

    Case is folded for every script and diacritics are folded in names (`identity.fold`), so
    "łuk", "ŁUK" and "zoe" all find "Zoë O'Brien-Łukasiewicz"; a text of digits and phone
    layout (three digits or more) also looks at phone numbers, whatever their spacing.
    """
    terms = identity.search_terms(text)
    if terms is None:
        return []
    clauses = [
        col(Customer.ref_key).ilike(_contains(terms.ref), escape="\\"),
        col(Customer.email_key).like(_contains(terms.email), escape="\\"),
        col(Customer.name_key).like(_contains(terms.name), escape="\\"),
    ]
    if terms.phone:
        clauses.append(col(Customer.phone_key).like(_contains(terms.phone), escape="\\"))
    statement = (
        select(Customer)
        .where(or_(*clauses))
        .order_by(col(Customer.name), col(Customer.id))
        .limit(limit)
    )
    return list(session.exec(statement))


def _contains(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class Collision:
    """Stored customers the matching rule cannot tell apart (never merged automatically)."""

    kind: str
    key: str
    ids: tuple[int, ...]


def colliding_customers(session: Session) -> list[Collision]:
    """Customers sharing a ref key, or an email key where one of them has no ref.

    Customers with different refs may share an address (a family, a shop); the ref tells them
    apart. Rows stored before the keys existed can collide (`C-1` and `C-1` with a zero-width
    space); merging them is a person's decision, so they are only reported.
    """
    found: list[Collision] = []
    for kind, column, ambiguous in (
        ("ref", col(Customer.ref_key), func.count() > 1),
        ("email", col(Customer.email_key), func.count(col(Customer.ref_key)) < func.count()),
    ):
        keys = (
            select(column)
            .where(column.is_not(None))
            .group_by(column)
            .having(func.count() > 1, ambiguous)
            .order_by(column)
        )
        for key in session.exec(keys).all():
            ids = session.exec(
                select(Customer.id).where(column == key).order_by(col(Customer.id))
            ).all()
            found.append(Collision(kind, key or "", tuple(i for i in ids if i is not None)))
    return found


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
    merged_into: int | None = None


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
    # Where a merged customer's complaints and purchases went (`latte customer merge`).
    merged_into: Customer | None = None

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
            merged_into=complaint.merged_into,
        )
        for complaint, followup in rows
    ]
    bought = session.exec(
        select(Purchase)
        .where(Purchase.customer_id == customer.id)
        .order_by(col(Purchase.purchased_epoch).desc())
        .limit(purchases)
    ).all()
    for purchase in bought:
        # Another program's value (text, a fraction) would fail the screen's arithmetic.
        if is_wrong(purchase.amount_cents):
            raise wrong_amount_error(purchase.id or 0, purchase.amount_cents)
    last_nps = next((c.nps for c in complaints if c.nps is not None), None)
    return CustomerHistory(
        customer=customer,
        complaints=complaints,
        purchases=[PastPurchase(p.order_ref, p.purchased_at, p.amount_cents) for p in bought],
        last_nps=last_nps,
        merged_into=session.get(Customer, customer.merged_into) if customer.merged_into else None,
    )
