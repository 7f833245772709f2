"""revenue kept summed at write time for the default window

A report's revenue kept joined every cohort complaint that bought again with its purchases in
the window: over a year of a million complaints, about 130,000 complaints and a seek each
(docs/architecture.md, "Reports over long periods"). `report_outcome` now also holds, for the
default repurchase window W (`cohort.KEPT_WINDOW`):

- `kept_cents`: the cents of the customer's purchases in (resolved, resolved + W], NULL
  without one;
- `kept_shared`: whether one of those purchases is also in the window of another counted
  complaint of the customer (the report de-duplicates those from the pairs), NULL without a
  purchase in the window;

and `ix_report_outcome_kept` holds them by `kept_shared` and then first resolution, so the
complaints whose purchases follow no other complaint are summed from one range of an index
(joined to the complaint for its group with `--by`), and the others' pairs read from
another. They are kept right by the same recomputation per customer as the first purchase
after the resolution (`latte_cli.cohort`), checked by `latte db check` and repaired by
`latte db rebuild-summary`. The outcome rows are recomputed.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from latte_cli.migrations.helpers import analyse

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_report_outcome_kept"
INDEXED = [
    *("kept_shared", "resolved_epoch", "kept_cents", "resolution_seconds"),
    *("purchased_epoch", "customer_id", "complaint_id"),
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # ALTER TABLE, not a batch rebuild: a rebuild would drop the table's triggers.
        op.execute("ALTER TABLE report_outcome ADD COLUMN kept_cents BIGINT")
        op.execute("ALTER TABLE report_outcome ADD COLUMN kept_shared BOOLEAN")
    else:
        op.add_column("report_outcome", sa.Column("kept_cents", sa.BigInteger(), nullable=True))
        op.add_column("report_outcome", sa.Column("kept_shared", sa.Boolean(), nullable=True))
    from latte_cli import cohort

    cohort.rebuild_outcomes(op.get_bind())
    op.create_index(INDEX, "report_outcome", INDEXED)
    analyse(["report_outcome"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="report_outcome")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE report_outcome DROP COLUMN kept_shared")
        op.execute("ALTER TABLE report_outcome DROP COLUMN kept_cents")
    else:
        op.drop_column("report_outcome", "kept_shared")
        op.drop_column("report_outcome", "kept_cents")
