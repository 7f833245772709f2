"""report summary kept at write time

`report_day` holds per (dimension, value, UTC day) the opening seconds and sorted resolution
times the weekly trend reads; triggers on `complaint` queue every change to the reported
columns in `report_change`, which latte folds into `report_day` before it commits (see
`latte_cli.summary`). The summary is filled from the complaints already stored.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPORTED = (
    "opened_epoch",
    "first_resolved_epoch",
    "assigned_agent",
    "channel",
    "category",
    "location",
)
QUEUED = "sign, opened_epoch, first_resolved_epoch, agent, channel, category, location"


def _values(sign: int, row: str) -> str:
    return (
        f"({sign}, {row}.opened_epoch, {row}.first_resolved_epoch, {row}.assigned_agent, "
        f"{row}.channel, {row}.category, {row}.location)"
    )


def _changed(distinct: str) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in REPORTED)


def _sqlite_triggers() -> list[str]:
    insert = f"INSERT INTO report_change ({QUEUED}) VALUES"
    return [
        f"""CREATE TRIGGER report_change_insert AFTER INSERT ON complaint
        BEGIN {insert} {_values(1, "NEW")}; END""",
        f"""CREATE TRIGGER report_change_update AFTER UPDATE OF {", ".join(REPORTED)}
        ON complaint WHEN {_changed("IS NOT")}
        BEGIN {insert} {_values(-1, "OLD")}, {_values(1, "NEW")}; END""",
        f"""CREATE TRIGGER report_change_delete AFTER DELETE ON complaint
        BEGIN {insert} {_values(-1, "OLD")}; END""",
    ]


def _postgresql_triggers() -> list[str]:
    insert = f"INSERT INTO report_change ({QUEUED}) VALUES"
    return [
        f"""CREATE FUNCTION latte_report_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN {insert} {_values(-1, "OLD")}; END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN {insert} {_values(1, "NEW")}; END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER report_change_insert AFTER INSERT ON complaint
        FOR EACH ROW EXECUTE FUNCTION latte_report_change()""",
        f"""CREATE TRIGGER report_change_update AFTER UPDATE OF {", ".join(REPORTED)}
        ON complaint FOR EACH ROW WHEN ({_changed("IS DISTINCT FROM")})
        EXECUTE FUNCTION latte_report_change()""",
        """CREATE TRIGGER report_change_delete AFTER DELETE ON complaint
        FOR EACH ROW EXECUTE FUNCTION latte_report_change()""",
    ]


def upgrade() -> None:
    op.create_table(
        "report_day",
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("opened_n", sa.Integer(), nullable=False),
        sa.Column("opened", sa.LargeBinary(), nullable=False),
        sa.Column("resolved_n", sa.Integer(), nullable=False),
        sa.Column("durations", sa.LargeBinary(), nullable=False),
        sa.Column("resolved_at", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "day", "value"),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_report_day_counts", "report_day", ["dimension", "day", "opened_n", "resolved_n"]
    )
    op.create_table(
        "report_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sign", sa.Integer(), nullable=False),
        sa.Column("opened_epoch", sa.Integer(), nullable=False),
        sa.Column("first_resolved_epoch", sa.Integer(), nullable=True),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("location", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for statement in _postgresql_triggers() if postgres else _sqlite_triggers():
        op.execute(statement)

    from latte_cli import summary

    summary.rebuild(bind, has_merged=False)


def downgrade() -> None:
    for name in ("report_change_insert", "report_change_update", "report_change_delete"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {name} ON complaint")
        else:
            op.execute(f"DROP TRIGGER {name}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION latte_report_change()")
    op.drop_table("report_change")
    op.drop_table("report_day")
