"""deadlines fixed at opening, and the customer updates an open complaint owes

A complaint's first-response and final-response due times are computed once, when it is
opened, from the deadline policy in force (the rule that matched is kept by name), so a later
change of policy never rewrites history; `latte db check` recomputes them from the stored rule.
`update_every_days` is the interval at which the policy asks for an update to the customer
while the complaint is open, and `last_update_epoch` the latest update sent (the opening until
the first). Complaints stored before this revision have no deadlines: they are none of met,
breached or pending (docs/metrics.md, "Deadlines").

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("deadline_policy", sa.String(length=100), "VARCHAR(100)"),
    ("first_response_due_epoch", sa.Integer(), "INTEGER"),
    ("final_response_due_epoch", sa.Integer(), "INTEGER"),
    ("update_every_days", sa.Integer(), "INTEGER"),
    ("last_update_epoch", sa.Integer(), "INTEGER"),
)


def upgrade() -> None:
    for name, type_, sql in COLUMNS:
        if op.get_bind().dialect.name == "sqlite":
            # ALTER TABLE keeps the table (and its triggers); a batch rebuild would drop them.
            op.execute(f"ALTER TABLE complaint ADD COLUMN {name} {sql}")
        else:
            op.add_column("complaint", sa.Column(name, type_, nullable=True))
    # `latte next` and `latte list --due-within` read open complaints by final due time.
    op.create_index(
        "ix_complaint_final_due", "complaint", ["stage_due", "final_response_due_epoch"]
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_final_due", table_name="complaint")
    for name, _, _ in reversed(COLUMNS):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE complaint DROP COLUMN {name}")
        else:
            op.drop_column("complaint", name)
