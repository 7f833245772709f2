"""cohort summary and repurchase outcomes kept at write time

`report_cohort` holds per UTC day one fixed-size record per complaint first resolved that day
(what the period figures read: times, first-cycle stage durations, the first reopening and
follow-up answers, the group values) and the day's follow-up scores; `report_outcome` holds,
per first-resolved complaint with a customer, the first purchase after that resolution and
its amount. Triggers on `complaint`, `stage_record`, `followup`, `event` (reopenings) and
`purchase` queue what changed in `report_queue`, which latte folds before it commits (see
`latte_cli.cohort`). Both are filled from the rows already stored.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from latte_cli.events import EventKind

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The complaint columns a cohort record or an outcome is made of (latte_cli.cohort).
REPORTED = (
    "customer_id",
    "opened_epoch",
    "acknowledged_epoch",
    "first_resolved_epoch",
    "assigned_agent",
    "channel",
    "category",
    "location",
    "action_kind",
    "reopen_count",
    "merged_into",
)
QUEUE = "INSERT INTO report_queue (complaint_id, resolved_epoch, customer_id)"
REOPEN = EventKind.REOPEN.value
# (table, name, condition on NEW / OLD rows that matter)
CHILDREN = (
    ("stage_record", "stage", "{row}.cycle = 0"),
    ("followup", "followup", "1 = 1"),
    ("event", "reopen", f"{{row}}.kind = '{REOPEN}'"),
)
TRIGGERS = (
    ("complaint", "cohort_complaint_insert"),
    ("complaint", "cohort_complaint_update"),
    ("complaint", "cohort_complaint_delete"),
    *(
        (t, f"cohort_{name}_{op_}")
        for t, name, _ in CHILDREN
        for op_ in ("insert", "update", "delete")
    ),
    ("purchase", "cohort_purchase_insert"),
    ("purchase", "cohort_purchase_update"),
    ("purchase", "cohort_purchase_delete"),
)


def _complaint(row: str) -> str:
    return f"({row}.id, {row}.first_resolved_epoch, {row}.customer_id)"


def _child(row: str) -> str:
    """The queue row of a child row's complaint, when that complaint is first-resolved."""
    return (
        f"{QUEUE} SELECT id, first_resolved_epoch, NULL FROM complaint "
        f"WHERE id = {row}.complaint_id AND first_resolved_epoch IS NOT NULL"
    )


def _changed(distinct: str) -> str:
    return " OR ".join(f"OLD.{c} {distinct} NEW.{c}" for c in REPORTED)


def _sqlite_triggers() -> list[str]:
    statements = [
        f"""CREATE TRIGGER cohort_complaint_insert AFTER INSERT ON complaint
        BEGIN {QUEUE} VALUES {_complaint("NEW")}; END""",
        f"""CREATE TRIGGER cohort_complaint_update AFTER UPDATE OF {", ".join(REPORTED)}
        ON complaint WHEN {_changed("IS NOT")}
        BEGIN {QUEUE} VALUES {_complaint("OLD")}, {_complaint("NEW")}; END""",
        f"""CREATE TRIGGER cohort_complaint_delete AFTER DELETE ON complaint
        BEGIN {QUEUE} VALUES {_complaint("OLD")}; END""",
    ]
    for table, name, condition in CHILDREN:
        new, old = condition.format(row="NEW"), condition.format(row="OLD")
        statements += [
            f"""CREATE TRIGGER cohort_{name}_insert AFTER INSERT ON {table} WHEN {new}
            BEGIN {_child("NEW")}; END""",
            f"""CREATE TRIGGER cohort_{name}_update AFTER UPDATE ON {table}
            WHEN {new} OR {old} BEGIN {_child("OLD")}; {_child("NEW")}; END""",
            f"""CREATE TRIGGER cohort_{name}_delete AFTER DELETE ON {table} WHEN {old}
            BEGIN {_child("OLD")}; END""",
        ]
    statements += [
        f"""CREATE TRIGGER cohort_purchase_insert AFTER INSERT ON purchase
        BEGIN {QUEUE} VALUES (NULL, NULL, NEW.customer_id); END""",
        f"""CREATE TRIGGER cohort_purchase_update AFTER UPDATE OF customer_id, purchased_epoch,
        amount_cents ON purchase
        BEGIN {QUEUE} VALUES (NULL, NULL, OLD.customer_id), (NULL, NULL, NEW.customer_id); END""",
        f"""CREATE TRIGGER cohort_purchase_delete AFTER DELETE ON purchase
        BEGIN {QUEUE} VALUES (NULL, NULL, OLD.customer_id); END""",
    ]
    return statements


def _postgresql_triggers() -> list[str]:
    statements = [
        f"""CREATE FUNCTION latte_cohort_complaint() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN {QUEUE} VALUES {_complaint("OLD")}; END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN {QUEUE} VALUES {_complaint("NEW")}; END IF;
            RETURN NULL;
        END $$""",
        f"""CREATE FUNCTION latte_cohort_child() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN {_child("OLD")}; END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN {_child("NEW")}; END IF;
            RETURN NULL;
        END $$""",
        f"""CREATE FUNCTION latte_cohort_purchase() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN {QUEUE} VALUES (NULL, NULL, OLD.customer_id);
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN {QUEUE} VALUES (NULL, NULL, NEW.customer_id);
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER cohort_complaint_insert AFTER INSERT ON complaint
        FOR EACH ROW EXECUTE FUNCTION latte_cohort_complaint()""",
        f"""CREATE TRIGGER cohort_complaint_update AFTER UPDATE OF {", ".join(REPORTED)}
        ON complaint FOR EACH ROW WHEN ({_changed("IS DISTINCT FROM")})
        EXECUTE FUNCTION latte_cohort_complaint()""",
        """CREATE TRIGGER cohort_complaint_delete AFTER DELETE ON complaint
        FOR EACH ROW EXECUTE FUNCTION latte_cohort_complaint()""",
    ]
    for table, name, condition in CHILDREN:
        new, old = condition.format(row="NEW"), condition.format(row="OLD")
        run = "FOR EACH ROW WHEN ({}) EXECUTE FUNCTION latte_cohort_child()"
        statements += [
            f"CREATE TRIGGER cohort_{name}_insert AFTER INSERT ON {table} {run.format(new)}",
            f"CREATE TRIGGER cohort_{name}_update AFTER UPDATE ON {table} "
            f"{run.format(f'{new} OR {old}')}",
            f"CREATE TRIGGER cohort_{name}_delete AFTER DELETE ON {table} {run.format(old)}",
        ]
    statements += [
        """CREATE TRIGGER cohort_purchase_insert AFTER INSERT ON purchase
        FOR EACH ROW EXECUTE FUNCTION latte_cohort_purchase()""",
        """CREATE TRIGGER cohort_purchase_update AFTER UPDATE OF customer_id, purchased_epoch,
        amount_cents ON purchase FOR EACH ROW EXECUTE FUNCTION latte_cohort_purchase()""",
        """CREATE TRIGGER cohort_purchase_delete AFTER DELETE ON purchase
        FOR EACH ROW EXECUTE FUNCTION latte_cohort_purchase()""",
    ]
    return statements


def upgrade() -> None:
    op.create_table(
        "report_cohort",
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("names", sa.String(), nullable=False),
        sa.Column("records", sa.LargeBinary(), nullable=False),
        sa.Column("scores", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "report_outcome",
        sa.Column("complaint_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("resolved_epoch", sa.Integer(), nullable=False),
        sa.Column("purchased_epoch", sa.Integer(), nullable=True),
        sa.Column("amount_cents", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("complaint_id"),
    )
    op.create_index("ix_report_outcome_customer_id", "report_outcome", ["customer_id"])
    op.create_index(
        "ix_report_outcome_bought",
        "report_outcome",
        ["resolved_epoch", "purchased_epoch", "complaint_id"],
    )
    op.create_table(
        "report_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=True),
        sa.Column("resolved_epoch", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    for statement in _postgresql_triggers() if postgres else _sqlite_triggers():
        op.execute(statement)

    from latte_cli import cohort

    cohort.rebuild(bind)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
    if postgres:
        for function in ("latte_cohort_complaint", "latte_cohort_child", "latte_cohort_purchase"):
            op.execute(f"DROP FUNCTION {function}()")
    op.drop_table("report_queue")
    op.drop_index("ix_report_outcome_bought", table_name="report_outcome")
    op.drop_index("ix_report_outcome_customer_id", table_name="report_outcome")
    op.drop_table("report_outcome")
    op.drop_table("report_cohort")
