"""the figures on what to fix kept in the cohort summary

A report's root-cause Pareto, repeat complaints, remedies, "what will change" texts and
recurring causes (docs/metrics.md) read, over a year of a million complaints, several hundred
thousand complaint and stage record rows. The cohort summary (`latte_cli.cohort`, revision
0009) now holds what they need, so they cost what the other period figures cost
(docs/architecture.md, "Reports over long periods"):

- each day record carries the complaint's current root cause as one more code (codes are now
  32-bit: the day's names also hold the "what will change" texts);
- `report_cohort.remedies`: per Take action stage record of any cycle, the complaint, its
  completion epoch, action kind and amount;
- `report_cohort.changes`: per Explain stage record with a "what will change" text, the
  complaint, its completion epoch and the text;
- `ix_report_outcome_again` holds the repeat evidence (the customer's next complaint) in
  first-resolution order, so a period's repeated complaints are one range of an index;
- `ix_report_outcome_bought` also holds the customer and the resolution time, so revenue kept
  reads the complaints that bought again from the index alone (and SQLite, choosing between
  two indexes that start with the first resolution, takes the one that covers the query).

The triggers now also queue a complaint when its root cause changes and when a stage record
of a later cycle at Take action or Explain changes. The summary is rebuilt from the rows.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from latte_cli.migrations.helpers import analyse

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BLOBS = ("remedies", "changes")
AGAIN = ("ix_report_outcome_again", ["resolved_epoch", "again_epoch", "complaint_id"])
BOUGHT = "ix_report_outcome_bought"
BOUGHT_BEFORE = ["resolved_epoch", "purchased_epoch", "complaint_id"]
BOUGHT_NOW = [*BOUGHT_BEFORE, "customer_id", "resolution_seconds"]
# The complaint columns a cohort record or an outcome is made of, as revision 0009 lists them;
# this revision adds the root cause.
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
# Stage records that matter: the first cycle's (durations), and every Take action and Explain.
BEFORE_STAGES = "{row}.cycle = 0"
STAGES = "({row}.cycle = 0 OR {row}.stage IN ('take_action', 'explain'))"


def _complaint(row: str) -> str:
    return f"({row}.id, {row}.first_resolved_epoch, {row}.customer_id)"


def _child(row: str) -> str:
    return (
        f"{QUEUE} SELECT id, first_resolved_epoch, NULL FROM complaint "
        f"WHERE id = {row}.complaint_id AND first_resolved_epoch IS NOT NULL"
    )


def _triggers(postgres: bool, columns: Sequence[str], stages: str) -> list[str]:
    """The complaint update trigger and the stage record triggers, as revision 0009 writes
    them, over `columns` and for the stage records matching `stages`."""
    new, old = stages.format(row="NEW"), stages.format(row="OLD")
    if postgres:
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
        run = "FOR EACH ROW WHEN ({}) EXECUTE FUNCTION latte_cohort_child()"
        return [
            f"""CREATE TRIGGER cohort_complaint_update AFTER UPDATE OF {", ".join(columns)}
            ON complaint FOR EACH ROW WHEN ({changed})
            EXECUTE FUNCTION latte_cohort_complaint()""",
            f"CREATE TRIGGER cohort_stage_insert AFTER INSERT ON stage_record {run.format(new)}",
            f"CREATE TRIGGER cohort_stage_update AFTER UPDATE ON stage_record "
            f"{run.format(f'{new} OR {old}')}",
            f"CREATE TRIGGER cohort_stage_delete AFTER DELETE ON stage_record {run.format(old)}",
        ]
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
    return [
        f"""CREATE TRIGGER cohort_complaint_update AFTER UPDATE OF {", ".join(columns)}
        ON complaint WHEN {changed}
        BEGIN {QUEUE} VALUES {_complaint("OLD")}, {_complaint("NEW")}; END""",
        f"""CREATE TRIGGER cohort_stage_insert AFTER INSERT ON stage_record WHEN {new}
        BEGIN {_child("NEW")}; END""",
        f"""CREATE TRIGGER cohort_stage_update AFTER UPDATE ON stage_record
        WHEN {new} OR {old} BEGIN {_child("OLD")}; {_child("NEW")}; END""",
        f"""CREATE TRIGGER cohort_stage_delete AFTER DELETE ON stage_record WHEN {old}
        BEGIN {_child("OLD")}; END""",
    ]


def _replace_triggers(columns: Sequence[str], stages: str) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, name in (
        ("complaint", "cohort_complaint_update"),
        ("stage_record", "cohort_stage_insert"),
        ("stage_record", "cohort_stage_update"),
        ("stage_record", "cohort_stage_delete"),
    ):
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
    for statement in _triggers(postgres, columns, stages):
        op.execute(statement)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name in BLOBS:
        if sqlite:
            op.execute(f"ALTER TABLE report_cohort ADD COLUMN {name} BLOB NOT NULL DEFAULT x''")
        else:
            op.add_column(
                "report_cohort",
                sa.Column(name, sa.LargeBinary(), nullable=False, server_default=""),
            )
            op.alter_column("report_cohort", name, server_default=None)
    _replace_triggers((*REPORTED, "root_cause"), STAGES)
    from latte_cli import cohort

    cohort.rebuild(op.get_bind())
    op.create_index(AGAIN[0], "report_outcome", AGAIN[1])
    op.drop_index(BOUGHT, table_name="report_outcome")
    op.create_index(BOUGHT, "report_outcome", BOUGHT_NOW)
    analyse(["report_outcome"])


def downgrade() -> None:
    op.drop_index(BOUGHT, table_name="report_outcome")
    op.create_index(BOUGHT, "report_outcome", BOUGHT_BEFORE)
    op.drop_index(AGAIN[0], table_name="report_outcome")
    _replace_triggers(REPORTED, BEFORE_STAGES)
    for name in reversed(BLOBS):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE report_cohort DROP COLUMN {name}")
        else:
            op.drop_column("report_cohort", name)
    # The records of this revision's layout are not those an older latte reads: the days are
    # emptied and every first-resolved complaint queued, so that an older latte computes its
    # reports from the rows until its next write folds them (or `latte db rebuild-summary`).
    op.execute("DELETE FROM report_cohort")
    op.execute(
        f"{QUEUE} SELECT id, first_resolved_epoch, NULL FROM complaint "
        "WHERE first_resolved_epoch IS NOT NULL"
    )
