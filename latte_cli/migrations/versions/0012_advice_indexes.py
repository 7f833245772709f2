"""indexes for the advice at Take action

The advice (docs/metrics.md, "Advice for the agent") counts, for one category, the complaints
first resolved in the last twelve months by action kind, and for each whether the customer
complained again within 30 days. `ix_complaint_advice` holds, in category and first-resolution
order, every column the count reads from the complaint (customer, merged, opening, action kind,
id), so the category's year is one range of the index and no table row is read;
`ix_complaint_repeat` finds a customer's complaints opened after a moment (the repeat check)
from the index alone. The plain `customer_id` index stays: other lookups use it.

Revision ID: 0012
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADVICE_COLUMNS = [
    "category",
    "first_resolved_epoch",
    "customer_id",
    "merged_into",
    "opened_epoch",
    "action_kind",
    "id",
]
REPEAT_COLUMNS = ["customer_id", "opened_epoch", "merged_into"]


def upgrade() -> None:
    op.create_index("ix_complaint_advice", "complaint", ADVICE_COLUMNS)
    op.create_index("ix_complaint_repeat", "complaint", REPEAT_COLUMNS)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        analysed = bind.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).first()
        if analysed is not None:
            op.execute("ANALYZE ix_complaint_advice")
            op.execute("ANALYZE ix_complaint_repeat")


def downgrade() -> None:
    op.drop_index("ix_complaint_repeat", table_name="complaint")
    op.drop_index("ix_complaint_advice", table_name="complaint")
