"""customer matching keys

Adds the keys `latte_cli.identity` matches and searches customers by (`ref_key`, `email_key`,
`phone_key`, `name_key`) and fills them from the stored customers in batches, in Python, so
that SQLite and PostgreSQL get the same keys. None is unique: customers stored before this
revision may now collide (a ref with and without a zero-width space); `latte db check` lists
them and nothing is merged. The unique constraint on the raw `ref` stays.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = ("ref_key", "email_key", "phone_key", "name_key")
BATCH = 2000


def upgrade() -> None:
    for key in KEYS:
        op.add_column("customer", sa.Column(key, sa.String(), nullable=True))
    _backfill(op.get_bind())
    for key in KEYS:
        op.create_index(f"ix_customer_{key}", "customer", [key])


def _backfill(bind: sa.Connection) -> None:
    from latte_cli import identity

    customer = sa.table(
        "customer",
        *(sa.column(name) for name in ("id", "ref", "email", "phone", "name", *KEYS)),
    )
    update = (
        sa.update(customer)
        .where(customer.c.id == sa.bindparam("row_id"))
        .values({key: sa.bindparam(key) for key in KEYS})
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(
                customer.c.id, customer.c.ref, customer.c.email, customer.c.phone, customer.c.name
            )
            .where(customer.c.id > last)
            .order_by(customer.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = []
        for row in rows:
            keys = identity.keys_of(ref=row.ref, email=row.email, phone=row.phone, name=row.name)
            values.append(
                {
                    "row_id": row.id,
                    "ref_key": keys.ref,
                    "email_key": keys.email,
                    "phone_key": keys.phone,
                    "name_key": keys.name,
                }
            )
        bind.execute(update, values)
        last = rows[-1].id


def downgrade() -> None:
    for key in KEYS:
        op.drop_index(f"ix_customer_{key}", table_name="customer")
        op.drop_column("customer", key)
