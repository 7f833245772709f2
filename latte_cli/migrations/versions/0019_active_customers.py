"""active customers kept at write time

The complaints per 1,000 active customers counted the distinct customers with a purchase in
the 365 days before each period's end, a pass over a year of purchases for every report
(docs/metrics.md, "Complaints per 1,000 active customers"). Three tables now keep the answer
(docs/architecture.md, "Active customers", `latte_cli/active.py`):

- `active_stretch` (customer_id, start_epoch, end_epoch): per customer, one row per stretch
  (start, end] of the union of (p, p + 365 d] over their purchases p.
- `active_slot` (slot, change): per quarter of an hour (epoch // 900), the stretches starting
  in it less those ending in it.
- `active_queue` (customer_id): customers whose stretches wait to be recomputed.

They are recomputed by the fold from the customers the purchase triggers of revision 0009
queue; no trigger of their own. The tables are filled from the purchases here.

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from latte_cli.migrations.helpers import analyse

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("active_stretch", "active_slot", "active_queue")


def upgrade() -> None:
    op.create_table(
        "active_stretch",
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("start_epoch", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("end_epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "start_epoch"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "active_slot",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("change", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("slot"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "active_queue",
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
        sqlite_with_rowid=False,
    )
    from latte_cli import active

    active.rebuild(op.get_bind())
    analyse(TABLES)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
