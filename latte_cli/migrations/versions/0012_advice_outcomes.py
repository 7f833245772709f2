"""what the advice at Take action reads, kept with each repurchase outcome

The advice (docs/metrics.md, "Advice for the agent") counts, for one category and the last
twelve months, per action kind, how many customers bought again and how many complained again.
Computed from the complaint rows that is three look-ups per complaint (the first purchase, a
follow-up saying they bought again, the customer's next complaint): over a second for a
category's year on a million complaints. `report_outcome` (revision 0009, kept at write time by
`latte_cli.cohort`) already holds a row per first-resolved complaint with a customer; it now
also holds the complaint's category, action kind and resolution time, the first follow-up
saying the customer bought again, and the customer's next complaint opened after the
resolution (not a merged duplicate). `ix_report_outcome_advice` holds a category's action
kinds in first-resolution order with every column the count reads, and
`ix_report_outcome_median` the same in resolution-time order, for the median. The rows are
recomputed from the stored complaints.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from latte_cli.migrations.helpers import analyse

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("category", sa.String(length=100), "VARCHAR(100)"),
    ("action_kind", sa.String(length=30), "VARCHAR(30)"),
    ("resolution_seconds", sa.Integer(), "INTEGER"),
    ("said_epoch", sa.Integer(), "INTEGER"),
    ("again_epoch", sa.Integer(), "INTEGER"),
)
ADVICE = (
    "category",
    "action_kind",
    "resolved_epoch",
    "resolution_seconds",
    "purchased_epoch",
    "said_epoch",
    "again_epoch",
    "complaint_id",
)
MEDIAN = ("category", "action_kind", "resolution_seconds", "resolved_epoch", "complaint_id")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, type_, sql in COLUMNS:
        if sqlite:
            op.execute(f"ALTER TABLE report_outcome ADD COLUMN {name} {sql}")
        else:
            op.add_column("report_outcome", sa.Column(name, type_, nullable=True))
    from latte_cli import cohort

    cohort.rebuild_outcomes(op.get_bind())
    op.create_index("ix_report_outcome_advice", "report_outcome", list(ADVICE))
    op.create_index("ix_report_outcome_median", "report_outcome", list(MEDIAN))
    analyse(["report_outcome"])


def downgrade() -> None:
    op.drop_index("ix_report_outcome_median", table_name="report_outcome")
    op.drop_index("ix_report_outcome_advice", table_name="report_outcome")
    for name, _, _ in reversed(COLUMNS):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE report_outcome DROP COLUMN {name}")
        else:
            op.drop_column("report_outcome", name)
