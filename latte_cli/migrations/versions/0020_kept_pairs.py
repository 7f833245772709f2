"""the shared purchases of revenue kept kept at write time

A report's revenue kept sums at write time the complaints whose purchases in the default
window follow no other complaint (revision 0017) and joined the others, about one outcome row
in nine, to their purchases for every report: over the full history a seek per complaint
(docs/architecture.md, "Reports over long periods"). `report_kept_pair` now holds those pairs:
per outcome row with `kept_shared` true, one row (customer, complaint, purchase, first
resolution, cents) per purchase of the customer in (resolved, resolved + W], W the default
window (`cohort.KEPT_WINDOW`).
`ix_report_kept_pair_resolved` holds them by first resolution, so a report reads a period's
pairs as one range of the index. They are rewritten per customer with the outcome rows
(`latte_cli.cohort`), checked by `latte db check` and repaired by `latte db rebuild-summary`.
The table is filled from the outcome rows and the purchases here.

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from latte_cli.migrations.helpers import analyse

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "report_kept_pair"
INDEX = "ix_report_kept_pair_resolved"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("complaint_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("purchase_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("resolved_epoch", sa.Integer(), nullable=False),
        sa.Column("cents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "complaint_id", "purchase_id"),
        sqlite_with_rowid=False,
    )
    from latte_cli import cohort

    cohort.rebuild_pairs(op.get_bind())
    # After the rows: one sort, not an index grown row by row.
    op.create_index(INDEX, TABLE, ["resolved_epoch", "complaint_id", "purchase_id", "cents"])
    analyse([TABLE])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.drop_table(TABLE)
