"""covering indexes for the reports' time columns

The opened and first-resolution indexes also carry what a weekly trend by agent reads
(the opening time and the agent), so a long trend scans an index instead of the table.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_complaint_opened", table_name="complaint")
    op.drop_index("ix_complaint_first_resolved", table_name="complaint")
    op.create_index("ix_complaint_opened", "complaint", ["opened_epoch", "assigned_agent"])
    op.create_index(
        "ix_complaint_first_resolved",
        "complaint",
        ["first_resolved_epoch", "opened_epoch", "assigned_agent"],
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_first_resolved", table_name="complaint")
    op.drop_index("ix_complaint_opened", table_name="complaint")
    op.create_index("ix_complaint_first_resolved", "complaint", ["first_resolved_epoch"])
    op.create_index("ix_complaint_opened", "complaint", ["opened_epoch"])
