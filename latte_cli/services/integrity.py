"""`latte db check`: the store's own integrity check plus latte's invariants.

Invariants: every complaint's event log replays to its stored state; stage records match the
stage events one for one and follow the LATTE order within each cycle; the epoch columns equal
their timestamps; a merged complaint points at an existing complaint that is not merged, no
complaint belongs to a merged customer, a customer merged into a forgotten one is forgotten,
and a forgotten customer (a pseudonym ref) holds no name, email or phone;
the report summary equals a recomputation from the complaints; every purchase amount is whole
cents from 0 to `workflow.MAX_CENTS`, as an import writes it; every complaint has exactly one
search document, equal to a fresh build of it (`services/search.py`, `check_index`; on a
read-only SQLite file only the count). Complaints are read in batches, so memory stays flat on
large databases.

Deadlines (docs/metrics.md, "Deadlines") were fixed at opening by the policy then in force, so
a later policy may differ: every complaint's stored due times are checked for consistency (a
readable rule name, due at or after the opening, the last update not before it), and those
whose rule is still in force unchanged (same policy, rule and fingerprint: spans, update
interval and, for business time, the schedule, zone and holidays) are recomputed and must
equal what is stored. `CheckReport.deadlines_recomputed` says how many were.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, or_, select

from latte_cli import active, cohort, deadline_days, summary, workflow
from latte_cli.deadlines import STANDARD_DEADLINES, Deadlines
from latte_cli.errors import LatteError
from latte_cli.events import EventKind, workflow_events
from latte_cli.models import Complaint, Customer, Event, FollowUp, Purchase, StageRecord
from latte_cli.services import search
from latte_cli.services.customers import colliding_customers
from latte_cli.services.privacy import PSEUDONYM_PREFIX, identified
from latte_cli.timeutil import epoch

BATCH = 2000
MAX_REPORTED = 50


@dataclass
class CheckReport:
    store: str
    complaints: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    # Of problem_count, how many are report summary rows (`rebuild_summary` repairs them).
    summary_problems: int = 0
    # Of problem_count, how many are in the search index (`search.rebuild_index` repairs them).
    search_problems: int = 0
    # False when the search documents could not be compared (a read-only SQLite file).
    search_compared: bool = True
    # Complaints with deadlines, and how many of them were recomputed by the rule in force.
    deadlines_checked: int = 0
    deadlines_recomputed: int = 0

    def add(self, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED:
            self.problems.append(message)

    @property
    def problems_shown(self) -> int:
        """How many of `problem_count` are in `problems` (the first `MAX_REPORTED`)."""
        return len(self.problems)

    @property
    def truncated(self) -> bool:
        return self.problem_count > len(self.problems)

    @property
    def clean(self) -> bool:
        return self.problem_count == 0

    @property
    def only_summary(self) -> bool:
        return 0 < self.problem_count == self.summary_problems

    @property
    def only_search(self) -> bool:
        return 0 < self.problem_count == self.search_problems


def _store_check(session: Session, report: CheckReport) -> None:
    if session.get_bind().dialect.name != "sqlite":
        return
    for (line,) in session.execute(text("PRAGMA integrity_check")):
        if line != "ok":
            report.add(f"SQLite integrity_check: {line}")
    for row in session.execute(text("PRAGMA foreign_key_check")):
        report.add(f"SQLite foreign_key_check: table {row[0]} row {row[1]} -> {row[2]}")


def _epoch_matches(moment: datetime | None, stored: int | None) -> bool:
    return (moment is None and stored is None) or (
        moment is not None and stored is not None and epoch(moment) == stored
    )


def _complaint_batches(session: Session) -> Iterator[Sequence[Complaint]]:
    last = 0
    while True:
        batch = session.exec(
            select(Complaint)
            .where(col(Complaint.id) > last)
            .order_by(col(Complaint.id))
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield batch
        last = batch[-1].id or last
        session.expunge_all()


def _check_complaint(
    complaint: Complaint, events: list[Event], records: list[StageRecord], report: CheckReport
) -> None:
    cid = complaint.id
    try:
        state = workflow.replay(workflow_events(events))
    except LatteError as error:
        report.add(f"complaint {cid}: its event log does not replay ({error.message})")
        return
    if state is None:
        report.add(f"complaint {cid}: no 'opened' event")
        return
    stored = (
        complaint.stage_due,
        complaint.assigned_agent,
        complaint.cycle,
        complaint.reopen_count,
        complaint.resolved_at,
        complaint.first_resolved_at,
        complaint.merged_into,
    )
    replayed = (
        state.stage_due.value if state.stage_due else None,
        state.assigned_agent,
        state.cycle,
        state.reopen_count,
        state.resolved_at,
        state.first_resolved_at,
        state.merged_into,
    )
    if stored != replayed:
        report.add(f"complaint {cid}: stored state {stored} differs from its event log {replayed}")
    stage_events = sum(1 for e in events if e.kind == EventKind.STAGE)
    if stage_events != len(records):
        report.add(f"complaint {cid}: {len(records)} stage records but {stage_events} events")
    cycles: dict[int, list[str]] = defaultdict(list)
    for record in records:
        cycles[record.cycle].append(record.stage)
    for cycle, stages in cycles.items():
        expected = [stage.value for stage in workflow.cycle_stages(cycle)]
        if stages != expected[: len(stages)]:
            report.add(f"complaint {cid}: cycle {cycle} stages out of order: {stages}")
    first = complaint.first_resolved_epoch
    if first is not None and first < complaint.opened_epoch:
        report.add(f"complaint {cid}: first resolved before it was opened")
    for name in ("opened", "acknowledged", "first_resolved", "resolved"):
        if not _epoch_matches(
            getattr(complaint, f"{name}_at"), getattr(complaint, f"{name}_epoch")
        ):
            report.add(f"complaint {cid}: {name}_epoch does not match {name}_at")


def _check_deadlines(complaint: Complaint, deadlines: Deadlines, report: CheckReport) -> None:
    cid, opened, rule = complaint.id, complaint.opened_epoch, complaint.deadline_policy
    first, final = complaint.first_response_due_epoch, complaint.final_response_due_epoch
    if rule is None:
        if first is not None or final is not None or complaint.update_every_days is not None:
            report.add(f"complaint {cid}: due times stored without the rule that gave them")
        return
    report.deadlines_checked += 1
    policy, slash, rest = rule.partition("/")
    if not (policy and slash and "#" in rest):
        report.add(f"complaint {cid}: deadline rule {rule!r} cannot be read")
        return
    if final is None:
        report.add(f"complaint {cid}: deadline rule {rule!r} but no final-response due time")
    for name, due in (("first-response", first), ("final-response", final)):
        if due is not None and due < opened:
            report.add(f"complaint {cid}: {name} due before it was opened")
    last = complaint.last_update_epoch
    if last is not None and last < opened:
        report.add(f"complaint {cid}: last update to the customer before it was opened")
    again = deadlines.recomputed(rule, opened)
    if again is None:
        return
    report.deadlines_recomputed += 1
    stored = (first, final, complaint.update_every_days)
    expected = (again.first_response, again.final_response, again.update_every_days)
    if stored != expected:
        report.add(
            f"complaint {cid}: stored deadlines {stored} differ from rule {rule!r} "
            f"recomputed {expected}"
        )


def _check_amounts(session: Session, report: CheckReport) -> None:
    """Every purchase amount is what an import can write: whole cents from 0 to
    `workflow.MAX_CENTS`. SQLite stores whatever a column is given (text, a fraction, a number
    beyond that bound), and reports would fail on it or add it up wrong."""
    from latte_cli.reports.amounts import wrong_amount

    amount = col(Purchase.amount_cents)
    wrong = wrong_amount(amount, session.get_bind().dialect.name)
    for purchase_id, order_ref, value in session.exec(
        select(Purchase.id, Purchase.order_ref, amount).where(wrong).order_by(col(Purchase.id))
    ):
        report.add(
            f"purchase {purchase_id} (order {order_ref}): amount {value!r} is not whole cents "
            f"from 0 to {workflow.MAX_CENTS:,}; correct it, then `latte db rebuild-summary`"
        )


def _check_merges(session: Session, report: CheckReport) -> None:
    """Merged complaints point at an existing complaint that is not merged itself; no
    complaint belongs to a merged customer; merged customers point at a current one, and keep
    no identity once it is forgotten; a forgotten customer holds no identity."""
    target = aliased(Complaint)
    for cid, into, target_id, onward in session.exec(
        select(Complaint.id, Complaint.merged_into, target.id, target.merged_into)
        .outerjoin(target, col(target.id) == Complaint.merged_into)
        .where(col(Complaint.merged_into).is_not(None))
        .where(or_(col(target.id).is_(None), col(target.merged_into).is_not(None)))
        .order_by(col(Complaint.id))
    ):
        problem = "which does not exist" if target_id is None else f"merged into {onward}"
        report.add(f"complaint {cid}: merged into complaint {into}, {problem}")
    for cid, customer_id in session.exec(
        select(Complaint.id, Complaint.customer_id)
        .join(Customer, col(Customer.id) == Complaint.customer_id)
        .where(col(Customer.merged_into).is_not(None))
        .order_by(col(Complaint.id))
    ):
        report.add(f"complaint {cid}: belongs to customer {customer_id}, which was merged")
    other = aliased(Customer)
    for customer_id, into, other_id in session.exec(
        select(Customer.id, Customer.merged_into, other.id)
        .outerjoin(other, col(other.id) == Customer.merged_into)
        .where(col(Customer.merged_into).is_not(None))
        .where(or_(col(other.id).is_(None), col(other.merged_into).is_not(None)))
        .order_by(col(Customer.id))
    ):
        problem = "which does not exist" if other_id is None else "which was merged too"
        report.add(f"customer {customer_id}: merged into customer {into}, {problem}")
    # Forgetting a customer forgets its duplicates (docs/architecture.md, "Customer data").
    for customer_id, pseudonym in session.exec(
        select(Customer.id, other.ref)
        .join(other, col(other.id) == Customer.merged_into)
        .where(identified(Customer), ~identified(other))
        .order_by(col(Customer.id))
    ):
        report.add(
            f"customer {customer_id}: merged into forgotten customer {pseudonym} but keeps its "
            f"identity; run `latte customer forget {pseudonym} --reason TEXT --yes`"
        )
    # A pseudonym with a name, email or phone: a merge or edit gave it an identity again.
    for customer_id, pseudonym in session.exec(
        select(Customer.id, Customer.ref)
        .where(
            col(Customer.ref).startswith(PSEUDONYM_PREFIX),
            or_(
                col(Customer.name).is_not(None),
                col(Customer.email).is_not(None),
                col(Customer.phone).is_not(None),
            ),
        )
        .order_by(col(Customer.id))
    ):
        report.add(
            f"customer {customer_id}: forgotten as {pseudonym} but holds a name, email or "
            f"phone again; erase it with `latte customer forget {pseudonym} --reason TEXT --yes`"
        )


def check_database(session: Session, deadlines: Deadlines = STANDARD_DEADLINES) -> CheckReport:
    """Every invariant of the module docstring; `deadlines` is the policy in force."""
    report = CheckReport(store=session.get_bind().dialect.name)
    _store_check(session, report)
    for batch in _complaint_batches(session):
        ids = [c.id for c in batch]
        events: dict[int, list[Event]] = defaultdict(list)
        for event in session.exec(
            select(Event)
            .where(col(Event.complaint_id).in_(ids))
            .order_by(col(Event.complaint_id), col(Event.id))
        ):
            events[event.complaint_id].append(event)
        records: dict[int, list[StageRecord]] = defaultdict(list)
        for record in session.exec(
            select(StageRecord)
            .where(col(StageRecord.complaint_id).in_(ids))
            .order_by(col(StageRecord.complaint_id), col(StageRecord.cycle), col(StageRecord.id))
        ):
            records[record.complaint_id].append(record)
        for complaint in batch:
            assert complaint.id is not None
            _check_complaint(complaint, events[complaint.id], records[complaint.id], report)
            _check_deadlines(complaint, deadlines, report)
        report.complaints += len(batch)
    for purchase in session.exec(select(Purchase).order_by(col(Purchase.id))):
        if epoch(purchase.purchased_at) != purchase.purchased_epoch:
            report.add(f"purchase {purchase.order_ref}: purchased_epoch does not match")
    _check_amounts(session, report)
    for followup in session.exec(select(FollowUp).where(col(FollowUp.recorded_at).is_not(None))):
        if not _epoch_matches(followup.recorded_at, followup.recorded_epoch):
            report.add(f"follow-up {followup.id}: recorded_epoch does not match recorded_at")
    _check_merges(session, report)
    for collision in colliding_customers(session):
        report.add(
            f"customers {', '.join(map(str, collision.ids))}: the same {collision.kind} "
            f"{collision.key!r} once normalised (not merged automatically)"
        )
    count, shown = summary.differences(session.connection())
    for where in shown:
        report.add(f"report summary: {where} differs from the complaints")
    report.problem_count += count - len(shown)
    # The deadlines kept per day (revision 0018, `deadline_days`).
    wrong, places = deadline_days.differences(session.connection())
    for place in places:
        report.add(f"deadline summary: {place} differs from the complaints")
    report.problem_count += wrong - len(places)
    more, differing = active.differences(session.connection())
    for difference in differing:
        report.add(f"report summary: {difference}")
    report.problem_count += more - len(differing)
    report.summary_problems = count + wrong + more

    def search_problem(message: str) -> None:
        report.add(message)
        report.search_problems += 1

    report.search_compared = search.check_index(session, search_problem)
    return report


def rebuild_summary(session: Session) -> int:
    """Recompute the report summary (day rows, cohort days, repurchase outcomes, the
    deadlines kept per day and the active customers) from the complaints and purchases and
    commit; returns the rows written."""
    conn = session.connection()
    written = (
        summary.rebuild(conn)
        + cohort.rebuild(conn)
        + deadline_days.rebuild(conn)
        + active.rebuild(conn)
    )
    session.commit()
    return written
