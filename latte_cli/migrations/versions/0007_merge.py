"""merged complaints and customers

`complaint.merged_into` marks a duplicate closed by `latte merge` and names the complaint it
was merged into; `customer.merged_into` marks a customer record joined into another by
`latte customer merge`, kept as a pointer. A merged complaint counts in no report figure
(docs/metrics.md, "Merged duplicates"): the report summary's triggers queue a complaint's
entries only while it is not merged, so merging one takes its entries out of `report_day`
like a deletion would. No stored complaint is merged yet, so the summary stays as it is.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The complaint columns the report summary holds (revision 0003).
REPORTED = (
    "opened_epoch",
    "first_resolved_epoch",
    "assigned_agent",
    "channel",
    "category",
    "location",
)
QUEUED = "sign, opened_epoch, first_resolved_epoch, agent, channel, category, location"
TRIGGERS = ("report_change_insert", "report_change_update", "report_change_delete")


def _values(sign: int, row: str) -> str:
    return (
        f"{sign}, {row}.opened_epoch, {row}.first_resolved_epoch, {row}.assigned_agent, "
        f"{row}.channel, {row}.category, {row}.location"
    )


def _changed(distinct: str, watched: Sequence[str]) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in watched)


def _sqlite_triggers(merged: bool) -> list[str]:
    """The summary triggers; with `merged`, a merged complaint's row is never queued."""
    insert = f"INSERT INTO report_change ({QUEUED})"
    watched = (*REPORTED, "merged_into") if merged else REPORTED
    if not merged:
        return [
            f"""CREATE TRIGGER report_change_insert AFTER INSERT ON complaint
            BEGIN {insert} VALUES ({_values(1, "NEW")}); END""",
            f"""CREATE TRIGGER report_change_update AFTER UPDATE OF {", ".join(watched)}
            ON complaint WHEN {_changed("IS NOT", watched)}
            BEGIN {insert} VALUES ({_values(-1, "OLD")}), ({_values(1, "NEW")}); END""",
            f"""CREATE TRIGGER report_change_delete AFTER DELETE ON complaint
            BEGIN {insert} VALUES ({_values(-1, "OLD")}); END""",
        ]
    return [
        f"""CREATE TRIGGER report_change_insert AFTER INSERT ON complaint
        WHEN NEW.merged_into IS NULL
        BEGIN {insert} VALUES ({_values(1, "NEW")}); END""",
        f"""CREATE TRIGGER report_change_update AFTER UPDATE OF {", ".join(watched)}
        ON complaint WHEN {_changed("IS NOT", watched)}
        BEGIN
            {insert} SELECT {_values(-1, "OLD")} WHERE OLD.merged_into IS NULL;
            {insert} SELECT {_values(1, "NEW")} WHERE NEW.merged_into IS NULL;
        END""",
        f"""CREATE TRIGGER report_change_delete AFTER DELETE ON complaint
        WHEN OLD.merged_into IS NULL
        BEGIN {insert} VALUES ({_values(-1, "OLD")}); END""",
    ]


def _postgresql_triggers(merged: bool) -> list[str]:
    insert = f"INSERT INTO report_change ({QUEUED}) VALUES"
    watched = (*REPORTED, "merged_into") if merged else REPORTED
    old = "OLD.merged_into IS NULL" if merged else "TRUE"
    new = "NEW.merged_into IS NULL" if merged else "TRUE"
    return [
        f"""CREATE OR REPLACE FUNCTION latte_report_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                IF {old} THEN {insert} ({_values(-1, "OLD")}); END IF;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                IF {new} THEN {insert} ({_values(1, "NEW")}); END IF;
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER report_change_insert AFTER INSERT ON complaint
        FOR EACH ROW EXECUTE FUNCTION latte_report_change()""",
        f"""CREATE TRIGGER report_change_update AFTER UPDATE OF {", ".join(watched)}
        ON complaint FOR EACH ROW WHEN ({_changed("IS DISTINCT FROM", watched)})
        EXECUTE FUNCTION latte_report_change()""",
        """CREATE TRIGGER report_change_delete AFTER DELETE ON complaint
        FOR EACH ROW EXECUTE FUNCTION latte_report_change()""",
    ]


def _replace_triggers(merged: bool) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON complaint" if postgres else f"DROP TRIGGER {name}")
    for statement in _postgresql_triggers(merged) if postgres else _sqlite_triggers(merged):
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # ALTER TABLE keeps the table (and its triggers); a batch rebuild would drop them.
        op.execute("ALTER TABLE complaint ADD COLUMN merged_into INTEGER REFERENCES complaint (id)")
        op.execute("ALTER TABLE customer ADD COLUMN merged_into INTEGER REFERENCES customer (id)")
    else:
        op.add_column("complaint", sa.Column("merged_into", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "complaint_merged_into_fkey", "complaint", "complaint", ["merged_into"], ["id"]
        )
        op.add_column("customer", sa.Column("merged_into", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "customer_merged_into_fkey", "customer", "customer", ["merged_into"], ["id"]
        )
    op.create_index("ix_complaint_merged_into", "complaint", ["merged_into"])
    _replace_triggers(merged=True)


def downgrade() -> None:
    _replace_triggers(merged=False)
    op.drop_index("ix_complaint_merged_into", table_name="complaint")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE customer DROP COLUMN merged_into")
        op.execute("ALTER TABLE complaint DROP COLUMN merged_into")
    else:
        op.drop_constraint("customer_merged_into_fkey", "customer", type_="foreignkey")
        op.drop_column("customer", "merged_into")
        op.drop_constraint("complaint_merged_into_fkey", "complaint", type_="foreignkey")
        op.drop_column("complaint", "merged_into")
