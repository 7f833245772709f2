"""covering indexes for the report's deadlines, root causes, repeats and remedies

A report's figures on what to fix and what it is worth (docs/metrics.md, "Deadlines in
reports", "Root causes", "Repeat complaints", "Remedies and revenue kept") read, for the
complaints due or first resolved in the period, a few columns of each complaint, of its Take
action and Explain records and of its customer's purchases. Through the indexes of revision
0011 every one of those complaints cost a read of its table rows: over a year of a million
complaints, most of the report's time. These indexes hold every column those queries read, so
they are answered from the indexes alone (docs/architecture.md, "Reports over long periods"):

- `ix_complaint_fix_first_due`, `ix_complaint_fix_final_due`, `ix_complaint_fix_cohort`: the
  due time or first resolution with what the figures read (opening, merge, completion,
  customer, root cause, agent, channel, category, location). The queries test the merge in
  a form no index answers (`reports.fix_queries`), so SQLite reads the period's range of
  these rather than every unmerged complaint through `ix_complaint_merged_into`, with or
  without statistics;
- `ix_stage_record_fixes`: a complaint's stage records by stage with the completion time,
  action kind, amount and "what will change" text;
- `ix_purchase_customer_time` now also holds the purchase's amount (revenue kept).

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

from alembic import op

from latte_cli.migrations.helpers import analyse

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    (
        "ix_complaint_fix_first_due",
        "complaint",
        [
            "first_response_due_epoch",
            "opened_epoch",
            "merged_into",
            "acknowledged_epoch",
            "first_resolved_epoch",
            "assigned_agent",
        ],
    ),
    (
        "ix_complaint_fix_final_due",
        "complaint",
        [
            "final_response_due_epoch",
            "opened_epoch",
            "merged_into",
            "first_resolved_epoch",
            "assigned_agent",
        ],
    ),
    (
        "ix_complaint_fix_cohort",
        "complaint",
        [
            "first_resolved_epoch",
            "opened_epoch",
            "merged_into",
            "customer_id",
            "root_cause",
            "assigned_agent",
            "channel",
            "category",
            "location",
            "id",
        ],
    ),
    (
        "ix_stage_record_fixes",
        "stage_record",
        [
            "complaint_id",
            "stage",
            "completed_at",
            "action_kind",
            "amount_cents",
            "what_will_change",
        ],
    ),
)
# A customer's purchases in time order, now with their amounts (revenue kept).
PURCHASES = ("ix_purchase_customer_time", ["customer_id", "purchased_epoch"], ["amount_cents"])


def upgrade() -> None:
    for name, table_name, columns in INDEXES:
        op.create_index(name, table_name, columns)
    name, key, more = PURCHASES
    op.drop_index(name, table_name="purchase")
    op.create_index(name, "purchase", [*key, *more])
    analyse(("complaint", "stage_record", "purchase"))


def downgrade() -> None:
    name, key, _ = PURCHASES
    op.drop_index(name, table_name="purchase")
    op.create_index(name, "purchase", key)
    for name, table_name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table_name)
