"""indexes for the report's deadlines and repeat complaints

A report counts the deadlines that fall due in its period (a range on each due time) and, for
each complaint first resolved in the period, whether its customer opened another complaint
soon after (a range on that customer's openings, merged duplicates left out). Without these
indexes the first reads every complaint and the second every complaint of the customer
(docs/metrics.md, "Deadlines in reports", "Repeat complaints"; docs/architecture.md).

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_complaint_first_response_due", ["first_response_due_epoch"]),
    ("ix_complaint_final_response_due", ["final_response_due_epoch"]),
    # Covering the repeat lookup: customer, opening, merged (no table row read).
    ("ix_complaint_customer_opened", ["customer_id", "opened_epoch", "merged_into"]),
)


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "complaint", columns)


def downgrade() -> None:
    for name, _ in reversed(INDEXES):
        op.drop_index(name, table_name="complaint")
