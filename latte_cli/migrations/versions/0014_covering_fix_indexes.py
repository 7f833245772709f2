"""covering indexes for the report's deadlines, root causes, repeats and remedies

A report's figures on what to fix and what it is worth (docs/metrics.md, "Deadlines in
reports", "Root causes", "Repeat complaints", "Remedies and revenue kept") read, for the
complaints due or first resolved in the period, a few columns of each complaint and of its
Take action and Explain records. Through the indexes of revision 0011 every one of those
complaints cost a read of its table row (and of its stage records' rows): over a year of a
million complaints, most of the report's time. These indexes hold every column those queries
read, so they are answered from the indexes alone (docs/architecture.md, "Reports over long
periods"):

- the two due-time indexes of revision 0011 now also hold the opening, the merge, the
  completion the deadline is about and the agent;
- `ix_complaint_cohort_fixes`: the first resolution with what the cohort figures read (merge,
  opening, customer, root cause, agent, channel, category, location);
- `ix_stage_record_fixes`: a complaint's stage records by stage with the completion time,
  action kind, amount and "what will change" text.

Revision ID: 0014
Revises: 0012
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DUE = (
    (
        "ix_complaint_first_response_due",
        ["first_response_due_epoch"],
        ["opened_epoch", "merged_into", "acknowledged_epoch", "assigned_agent"],
    ),
    (
        "ix_complaint_final_response_due",
        ["final_response_due_epoch"],
        ["opened_epoch", "merged_into", "first_resolved_epoch", "assigned_agent"],
    ),
)
COHORT = (
    *("first_resolved_epoch", "merged_into", "opened_epoch", "customer_id", "root_cause"),
    *("assigned_agent", "channel", "category", "location", "id"),
)
STAGES = (
    *("complaint_id", "stage", "completed_at", "action_kind", "amount_cents"),
    "what_will_change",
)


def _analyse(tables: Sequence[str]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    analysed = bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).first()
    if analysed is not None:
        for name in tables:
            op.execute(f"ANALYZE {name}")


def upgrade() -> None:
    for name, due, more in DUE:
        op.drop_index(name, table_name="complaint")
        op.create_index(name, "complaint", [*due, *more])
    op.create_index("ix_complaint_cohort_fixes", "complaint", list(COHORT))
    op.create_index("ix_stage_record_fixes", "stage_record", list(STAGES))
    _analyse(("complaint", "stage_record"))


def downgrade() -> None:
    op.drop_index("ix_stage_record_fixes", table_name="stage_record")
    op.drop_index("ix_complaint_cohort_fixes", table_name="complaint")
    for name, due, _ in reversed(DUE):
        op.drop_index(name, table_name="complaint")
        op.create_index(name, "complaint", due)
