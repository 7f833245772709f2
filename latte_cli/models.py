"""latte's tables.

Storage design
--------------
- `customer` is matched by `ref` (the business's customer number), unique when given.
- `complaint` holds the current state of one complaint: the stage due (NULL once resolved),
  the assigned agent, the first and the latest resolution. The state is derived from the
  `event` log, which is append-only: every change to a complaint adds one event and updates the
  complaint row in the same transaction, so replaying the events gives the stored state.
- `stage_record` keeps each LATTE stage once per cycle; a reopening starts a new cycle at
  `take_action`, so the first and the latest resolution both stay on record.
- `followup` is scheduled when a complaint is resolved and filled in when the customer is reached.
- `purchase` is one order (its lines summed), used to tell whether a customer bought again.
- `agent` records presence (available / away) for team routing.
- `legal_hold` exempts one complaint, or every complaint of one customer, from retention and
  forgetting while it is in force (`released_at` NULL).

Every timestamp is stored timezone-aware in UTC. Besides the datetime, the times reports group
and compare on are also stored as integer epoch seconds (`*_epoch`), derived at write time, so a
report over a million complaints never parses a timestamp per row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    ref: str | None = Field(default=None, unique=True, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=200, index=True)
    phone: str | None = Field(default=None, max_length=50)
    created_at: datetime
    # Matching and search keys, written by `latte_cli.identity.keys_of` (revision 0004). Not
    # unique: customers stored before that rule may collide; `latte db check` lists them.
    ref_key: str | None = Field(default=None, index=True)
    email_key: str | None = Field(default=None, index=True)
    phone_key: str | None = Field(default=None, index=True)
    name_key: str | None = Field(default=None, index=True)
    # Set by `latte customer merge` (revision 0007): this record was joined into that customer,
    # which holds its complaints, purchases and follow-ups now; the row stays as a pointer.
    merged_into: int | None = Field(default=None, foreign_key="customer.id")


class Agent(SQLModel, table=True):
    name: str = Field(primary_key=True, max_length=100)
    status: str = Field(default="available", max_length=20)
    updated_at: datetime


class Complaint(SQLModel, table=True):
    __table_args__ = (
        # Covering what a weekly trend by agent reads (revision 0002).
        Index("ix_complaint_opened", "opened_epoch", "assigned_agent"),
        Index("ix_complaint_resolved", "resolved_epoch"),
        Index(
            "ix_complaint_first_resolved", "first_resolved_epoch", "opened_epoch", "assigned_agent"
        ),
        Index("ix_complaint_queue", "stage_due", "assigned_agent", "opened_epoch"),
        Index("ix_complaint_final_due", "stage_due", "final_response_due_epoch"),
        # The report's deadlines and repeat complaints (revision 0011).
        Index("ix_complaint_first_response_due", "first_response_due_epoch"),
        Index("ix_complaint_final_response_due", "final_response_due_epoch"),
        Index("ix_complaint_customer_opened", "customer_id", "opened_epoch", "merged_into"),
        # Covering what the report's deadlines and cohort figures on what to fix read
        # (revision 0014).
        Index(
            "ix_complaint_fix_first_due",
            *("first_response_due_epoch", "opened_epoch", "merged_into", "acknowledged_epoch"),
            # A complaint resolved without recorded stages answered at its resolution.
            *("first_resolved_epoch", "assigned_agent"),
        ),
        Index(
            "ix_complaint_fix_final_due",
            *("final_response_due_epoch", "opened_epoch", "merged_into", "first_resolved_epoch"),
            "assigned_agent",
        ),
        Index(
            "ix_complaint_fix_cohort",
            *("first_resolved_epoch", "opened_epoch", "merged_into", "customer_id", "root_cause"),
            *("assigned_agent", "channel", "category", "location", "id"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    external_id: str | None = Field(default=None, unique=True, max_length=100)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    channel: str = Field(max_length=20)
    category: str = Field(max_length=100)
    location: str | None = Field(default=None, max_length=100)
    severity: str = Field(default="medium", max_length=20)
    summary: str = Field(default="", max_length=500)
    opened_by: str = Field(max_length=100)
    assigned_agent: str | None = Field(default=None, max_length=100, index=True)
    # NULL once resolved: the next LATTE stage that must be recorded.
    stage_due: str | None = Field(default="listen", max_length=20)
    cycle: int = 0
    reopen_count: int = 0
    opened_at: datetime
    opened_epoch: int
    acknowledged_at: datetime | None = None
    acknowledged_epoch: int | None = None
    first_resolved_at: datetime | None = None
    first_resolved_epoch: int | None = None
    resolved_at: datetime | None = None
    resolved_epoch: int | None = None
    # The latest take_action and explain, kept on the complaint for reports and exports.
    action_kind: str | None = Field(default=None, max_length=30)
    root_cause: str | None = Field(default=None, max_length=30)
    updated_at: datetime
    # Set by `latte merge` (revision 0007): a duplicate of that complaint, closed, counted in
    # no report figure (docs/metrics.md, "Merged duplicates").
    merged_into: int | None = Field(default=None, foreign_key="complaint.id", index=True)
    # Fixed when the complaint is opened, from the deadline policy in force (revision 0010,
    # docs/metrics.md "Deadlines"): the rule that matched, the first-response (acknowledge)
    # and final-response (first resolution) due times, and the days between the updates the
    # customer is owed while the complaint is open. NULL: opened before deadlines existed.
    deadline_policy: str | None = Field(default=None, max_length=100)
    first_response_due_epoch: int | None = None
    final_response_due_epoch: int | None = None
    update_every_days: int | None = None
    # The latest update sent to the customer (`latte update`), or the opening before the first.
    last_update_epoch: int | None = None


class StageRecord(SQLModel, table=True):
    __tablename__ = "stage_record"
    __table_args__ = (
        UniqueConstraint("complaint_id", "cycle", "stage"),
        # Covering: a report reads a cohort's stage durations from the index alone (0005).
        Index("ix_stage_record_durations", "complaint_id", "cycle", "stage", "duration_seconds"),
        # Covering: the amounts and "what will change" texts of a cohort's Take action and
        # Explain records (revision 0014).
        Index(
            "ix_stage_record_fixes",
            *("complaint_id", "stage", "completed_at", "action_kind", "amount_cents"),
            "what_will_change",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id")
    cycle: int = 0
    stage: str = Field(max_length=20)
    text: str = ""
    agent: str = Field(max_length=100)
    completed_at: datetime
    # Time spent in this stage, from the previous step to this completion (docs/metrics.md).
    duration_seconds: int
    action_kind: str | None = Field(default=None, max_length=30)
    action_detail: str | None = None
    amount_cents: int | None = None
    options_offered: str | None = None
    root_cause: str | None = Field(default=None, max_length=30)
    what_will_change: str | None = None


class Event(SQLModel, table=True):
    """Append-only: rows are inserted, never deleted; the one update is the erasure of free
    text inside `data` when a customer is forgotten (docs/architecture.md, "Customer data")."""

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id", index=True)
    at: datetime
    agent: str = Field(max_length=100)
    kind: str = Field(max_length=20)
    # JSON object with the event's details (stage, to_agent, note, reason, ...).
    data: str = "{}"


class FollowUp(SQLModel, table=True):
    __tablename__ = "followup"
    __table_args__ = (
        Index("ix_followup_due", "recorded_at", "due_at"),
        # Covering: a report reads a cohort's follow-up answers from the index alone (0005).
        Index(
            "ix_followup_answers",
            *("complaint_id", "recorded_epoch", "nps", "satisfied", "repurchased"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = Field(foreign_key="complaint.id")
    due_at: datetime | None = None
    recorded_at: datetime | None = None
    recorded_epoch: int | None = None
    agent: str | None = Field(default=None, max_length=100)
    reached: bool | None = None
    satisfied: bool | None = None
    nps: int | None = None
    repurchased: bool | None = None
    note: str | None = None


class Purchase(SQLModel, table=True):
    # Covering: a customer's purchases in time order with their amounts (revenue kept,
    # revision 0014).
    __table_args__ = (
        Index("ix_purchase_customer_time", "customer_id", "purchased_epoch", "amount_cents"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_ref: str = Field(unique=True, max_length=100)
    customer_id: int = Field(foreign_key="customer.id")
    purchased_at: datetime
    purchased_epoch: int
    amount_cents: int = 0
    lines: int = 1


class LegalHold(SQLModel, table=True):
    """A legal hold on a complaint or on a customer (exactly one of the two), in force until
    released (docs/architecture.md, "Customer data")."""

    __tablename__ = "legal_hold"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int | None = Field(default=None, foreign_key="complaint.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    reason: str = Field(max_length=1000)
    placed_at: datetime
    placed_by: str = Field(max_length=100)
    released_at: datetime | None = None
    released_by: str | None = Field(default=None, max_length=100)
    release_reason: str | None = Field(default=None, max_length=1000)


class ReportDay(SQLModel, table=True):
    """The report summary (see `latte_cli.summary`): per dimension, value and UTC day, the
    opening seconds and the sorted resolution times, kept at write time."""

    __tablename__ = "report_day"
    __table_args__ = (
        # What a trend's starting backlog sums, without reading the values themselves.
        Index("ix_report_day_counts", "dimension", "day", "opened_n", "resolved_n"),
        # Clustered on the key in SQLite: a trend reads its days in order from few pages.
        {"sqlite_with_rowid": False},
    )

    dimension: str = Field(primary_key=True, max_length=20)
    day: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    # "" stands for no value (no agent, no location).
    value: str = Field(primary_key=True, max_length=100)
    opened_n: int = 0
    opened: bytes = b""
    resolved_n: int = 0
    durations: bytes = b""
    resolved_at: bytes = b""


class ReportChange(SQLModel, table=True):
    """Changes to the complaints' reported columns (-old, +new), written by triggers and
    folded into `report_day` before latte commits."""

    __tablename__ = "report_change"

    id: int | None = Field(default=None, primary_key=True)
    sign: int
    opened_epoch: int
    first_resolved_epoch: int | None = None
    agent: str | None = Field(default=None, max_length=100)
    channel: str | None = Field(default=None, max_length=20)
    category: str | None = Field(default=None, max_length=100)
    location: str | None = Field(default=None, max_length=100)
    # What the deadline summary counts (revision 0018, `latte_cli.deadline_days`).
    acknowledged_epoch: int | None = None
    first_response_due_epoch: int | None = None
    final_response_due_epoch: int | None = None


class ReportDeadlineDay(SQLModel, table=True):
    """The deadline summary (see `latte_cli.deadline_days`): per dimension, value, UTC day of
    the due time and kind, the complaints due, those met and those opened after the day
    ended, kept at write time (revision 0018)."""

    __tablename__ = "report_deadline_day"
    # Clustered on the key in SQLite: a report sums a dimension's range of days.
    __table_args__ = ({"sqlite_with_rowid": False},)

    dimension: str = Field(primary_key=True, max_length=20)
    day: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    # "" stands for no value (no agent, no location).
    value: str = Field(primary_key=True, max_length=100)
    kind: str = Field(primary_key=True, max_length=5)
    due_n: int = 0
    met_n: int = 0
    late_n: int = 0


class ReportCohort(SQLModel, table=True):
    """The cohort summary (see `latte_cli.cohort`): per UTC day, one fixed-size record per
    complaint first resolved that day with what the period figures need, kept at write time
    (revision 0009)."""

    __tablename__ = "report_cohort"
    __table_args__ = ({"sqlite_with_rowid": False},)

    day: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    n: int = 0
    # JSON array of the texts the records' codes point at (agents, channels, ...).
    names: str = "[]"
    records: bytes = b""
    # One (record index, recorded epoch, score) per follow-up score of the day's complaints.
    scores: bytes = b""
    # Per Take action record of any cycle: (complaint, completed epoch, action kind code,
    # cents); per Explain record with a "what will change" text: (complaint, completed epoch,
    # text code) (revision 0015).
    remedies: bytes = b""
    changes: bytes = b""


class ReportOutcome(SQLModel, table=True):
    """Per first-resolved complaint with a customer: the first purchase after the first
    resolution and its amount, kept at write time (revision 0009, `latte_cli.cohort`)."""

    __tablename__ = "report_outcome"
    __table_args__ = (
        # What a report's repurchase outcome and revenue kept read, from the index alone
        # (customer and resolution time since revision 0015).
        Index(
            "ix_report_outcome_bought",
            *("resolved_epoch", "purchased_epoch", "complaint_id"),
            *("customer_id", "resolution_seconds"),
        ),
        # What a report's repeat outcome reads, from the index alone (revision 0015).
        Index("ix_report_outcome_again", "resolved_epoch", "again_epoch", "complaint_id"),
        # What the advice at Take action counts, a category's action kind's year from one
        # range of the index; and its median resolution time, in order (revision 0012).
        Index(
            "ix_report_outcome_advice",
            *("category", "action_kind", "resolved_epoch", "resolution_seconds"),
            *("purchased_epoch", "said_epoch", "again_epoch", "complaint_id"),
        ),
        Index(
            "ix_report_outcome_median",
            *("category", "action_kind", "resolution_seconds", "resolved_epoch", "complaint_id"),
        ),
        # What revenue kept reads, from the index alone: the sums of the complaints whose
        # purchases follow no other complaint, and the others' pairs (revision 0017).
        Index(
            "ix_report_outcome_kept",
            *("kept_shared", "resolved_epoch", "kept_cents", "resolution_seconds"),
            *("purchased_epoch", "customer_id", "complaint_id"),
        ),
    )

    complaint_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    customer_id: int = Field(index=True)
    resolved_epoch: int
    purchased_epoch: int | None = None
    amount_cents: int | None = None
    # For the advice (revision 0012, docs/metrics.md "Advice for the agent"): the complaint's
    # category and action kind, its first resolution time, the first follow-up saying the
    # customer bought again, and the customer's next complaint opened after the resolution.
    category: str | None = Field(default=None, max_length=100)
    action_kind: str | None = Field(default=None, max_length=30)
    resolution_seconds: int | None = None
    said_epoch: int | None = None
    again_epoch: int | None = None
    # For revenue kept (revision 0017, docs/metrics.md "Remedies and revenue kept"), over the
    # default window (`cohort.KEPT_WINDOW`): the cents of the customer's purchases in
    # (resolved, resolved + W], None without one; and whether one of them also follows
    # another complaint of the customer (a report then de-duplicates it from the pairs),
    # None without one. 64-bit: a sum of purchases may pass what one purchase's column holds.
    kept_cents: int | None = Field(default=None, sa_type=BigInteger)
    kept_shared: bool | None = None


class ReportKeptPair(SQLModel, table=True):
    """For revenue kept over the default window (revision 0020, docs/architecture.md
    "Reports over long periods"): per outcome row whose purchases in the window are shared
    with another complaint (`ReportOutcome.kept_shared` true), one row per such purchase in
    (resolved, resolved + W], with its cents. Keyed by customer first: rewritten
    per customer with the outcome rows."""

    __tablename__ = "report_kept_pair"
    __table_args__ = (
        # What a report's shared pairs read, a range of first resolutions from the index
        # alone.
        Index(
            "ix_report_kept_pair_resolved",
            *("resolved_epoch", "complaint_id", "purchase_id", "cents"),
        ),
        {"sqlite_with_rowid": False},
    )

    customer_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    complaint_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    purchase_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    resolved_epoch: int
    cents: int


class ReportQueue(SQLModel, table=True):
    """What changed since the cohort summary was folded: a complaint (with the first
    resolution it had or has) or a customer whose purchases changed; written by triggers."""

    __tablename__ = "report_queue"

    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int | None = None
    resolved_epoch: int | None = None
    customer_id: int | None = None


class ActiveStretch(SQLModel, table=True):
    """Active customers kept at write time (docs/metrics.md, "Complaints per 1,000 active
    customers"; docs/architecture.md, "Active customers"): a customer is active at an end E
    when some purchase p has E - 365 d <= p < E, that is E in the union of (p, p + 365 d]
    over their purchases. One row per stretch (start, end] of that union."""

    __tablename__ = "active_stretch"
    __table_args__ = ({"sqlite_with_rowid": False},)

    customer_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    start_epoch: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    end_epoch: int


class ActiveSlot(SQLModel, table=True):
    """Per quarter of an hour (slot = epoch // 900): the stretches starting in it less those
    ending in it. The active customers at an end on a quarter hour are the sum before it."""

    __tablename__ = "active_slot"
    __table_args__ = ({"sqlite_with_rowid": False},)

    slot: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    change: int = 0


class ActiveQueue(SQLModel, table=True):
    """Customers whose stretches wait to be recomputed (a purchases import queues them page
    by page and recomputes them once at its end)."""

    __tablename__ = "active_queue"
    __table_args__ = ({"sqlite_with_rowid": False},)

    customer_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
