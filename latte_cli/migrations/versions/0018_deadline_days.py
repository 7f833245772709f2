"""deadlines kept per day at write time

A report's deadline figures were a pass over the complaints due in the period and the one
before, per kind: over a year, two million index entries (docs/architecture.md, "Reports
over long periods"). `report_deadline_day` holds per (dimension, value, UTC day of the due
time, kind) the complaints due, those met and those opened after the day ended
(`latte_cli.deadline_days`); a report sums the whole days that ended by its as-of time and
reads only the rest from the complaints.

It rides on the report summary's queue: `report_change` also carries the acknowledgement
and the two due times, and its triggers also fire when those change. The summary is filled
from the complaints already stored.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The complaint columns the report summary holds (revisions 0003 and 0007).
REPORTED = (
    *("opened_epoch", "first_resolved_epoch", "assigned_agent", "channel", "category"),
    *("location", "merged_into"),
)
# ... and those the deadline summary adds.
DEADLINES = ("acknowledged_epoch", "first_response_due_epoch", "final_response_due_epoch")
TRIGGERS = ("report_change_insert", "report_change_update", "report_change_delete")


def _queued(deadlines: bool) -> str:
    columns = "sign, opened_epoch, first_resolved_epoch, agent, channel, category, location"
    return columns + (", " + ", ".join(DEADLINES) if deadlines else "")


def _values(sign: int, row: str, deadlines: bool) -> str:
    values = (
        f"{sign}, {row}.opened_epoch, {row}.first_resolved_epoch, {row}.assigned_agent, "
        f"{row}.channel, {row}.category, {row}.location"
    )
    return values + "".join(f", {row}.{c}" for c in DEADLINES) if deadlines else values


def _watched(deadlines: bool) -> tuple[str, ...]:
    return (*REPORTED, *DEADLINES) if deadlines else REPORTED


def _changed(distinct: str, deadlines: bool) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in _watched(deadlines))


def _sqlite_triggers(deadlines: bool) -> list[str]:
    """A merged complaint's row is never queued (revision 0007)."""
    insert = f"INSERT INTO report_change ({_queued(deadlines)})"
    return [
        f"""CREATE TRIGGER report_change_insert AFTER INSERT ON complaint
        WHEN NEW.merged_into IS NULL
        BEGIN {insert} VALUES ({_values(1, "NEW", deadlines)}); END""",
        f"""CREATE TRIGGER report_change_update AFTER UPDATE OF
        {", ".join(_watched(deadlines))} ON complaint WHEN {_changed("IS NOT", deadlines)}
        BEGIN
            {insert} SELECT {_values(-1, "OLD", deadlines)} WHERE OLD.merged_into IS NULL;
            {insert} SELECT {_values(1, "NEW", deadlines)} WHERE NEW.merged_into IS NULL;
        END""",
        f"""CREATE TRIGGER report_change_delete AFTER DELETE ON complaint
        WHEN OLD.merged_into IS NULL
        BEGIN {insert} VALUES ({_values(-1, "OLD", deadlines)}); END""",
    ]


def _postgresql_triggers(deadlines: bool) -> list[str]:
    insert = f"INSERT INTO report_change ({_queued(deadlines)}) VALUES"
    return [
        f"""CREATE OR REPLACE FUNCTION latte_report_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                IF OLD.merged_into IS NULL THEN
                    {insert} ({_values(-1, "OLD", deadlines)});
                END IF;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                IF NEW.merged_into IS NULL THEN
                    {insert} ({_values(1, "NEW", deadlines)});
                END IF;
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER report_change_insert AFTER INSERT ON complaint
        FOR EACH ROW EXECUTE FUNCTION latte_report_change()""",
        f"""CREATE TRIGGER report_change_update AFTER UPDATE OF
        {", ".join(_watched(deadlines))} ON complaint
        FOR EACH ROW WHEN ({_changed("IS DISTINCT FROM", deadlines)})
        EXECUTE FUNCTION latte_report_change()""",
        """CREATE TRIGGER report_change_delete AFTER DELETE ON complaint
        FOR EACH ROW EXECUTE FUNCTION latte_report_change()""",
    ]


def _replace_triggers(deadlines: bool) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON complaint" if postgres else f"DROP TRIGGER {name}")
    for statement in _postgresql_triggers(deadlines) if postgres else _sqlite_triggers(deadlines):
        op.execute(statement)


def upgrade() -> None:
    for column in DEADLINES:
        # ALTER TABLE, not a batch rebuild (which would drop triggers).
        op.add_column("report_change", sa.Column(column, sa.Integer(), nullable=True))
    op.create_table(
        "report_deadline_day",
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("due_n", sa.Integer(), nullable=False),
        sa.Column("met_n", sa.Integer(), nullable=False),
        sa.Column("late_n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "day", "value", "kind"),
        sqlite_with_rowid=False,
    )
    _replace_triggers(deadlines=True)

    from latte_cli import deadline_days

    # Changes already queued (another program's) carry no due times: the summary is
    # computed from the complaints as they are now, which already holds them.
    deadline_days.rebuild(op.get_bind())


def downgrade() -> None:
    _replace_triggers(deadlines=False)
    op.drop_table("report_deadline_day")
    for column in reversed(DEADLINES):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE report_change DROP COLUMN {column}")
        else:
            op.drop_column("report_change", column)
