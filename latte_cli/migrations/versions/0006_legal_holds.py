"""legal holds: complaints and customers exempt from retention and forgetting

A hold names one complaint or one customer and is in force until released (`released_at`
NULL); `latte db retain` and `latte customer forget` leave what it covers as it is
(docs/architecture.md, "Customer data").

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "legal_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("reason", AutoString(length=1000), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.Column("placed_by", AutoString(length=100), nullable=False),
        sa.Column("released_at", UTCDateTime(), nullable=True),
        sa.Column("released_by", AutoString(length=100), nullable=True),
        sa.Column("release_reason", AutoString(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_legal_hold_complaint_id", "legal_hold", ["complaint_id"])
    op.create_index("ix_legal_hold_customer_id", "legal_hold", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_legal_hold_customer_id", table_name="legal_hold")
    op.drop_index("ix_legal_hold_complaint_id", table_name="legal_hold")
    op.drop_table("legal_hold")
