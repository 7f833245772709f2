"""covering indexes for the reports' per-complaint lookups

A report over a long period looks up, for every complaint of its cohort, the first cycle's
stage durations and the follow-ups recorded by the as-of time (docs/metrics.md, Speed and
Outcomes). Through the plain `complaint_id` indexes each lookup also read the table row; these
indexes carry the columns the reports read, so the lookups stay in the index. Each replaces
the `complaint_id` index of its table (a prefix of it), so a write maintains as many indexes
as before. On SQLite the new indexes are analysed, so the planner prefers them over the
unique (complaint_id, cycle, stage) index once the database has statistics.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

from latte_cli.migrations.helpers import analyse

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGE_COLUMNS = ["complaint_id", "cycle", "stage", "duration_seconds"]
FOLLOWUP_COLUMNS = ["complaint_id", "recorded_epoch", "nps", "satisfied", "repurchased"]


def upgrade() -> None:
    op.create_index("ix_stage_record_durations", "stage_record", STAGE_COLUMNS)
    op.drop_index("ix_stage_record_complaint_id", table_name="stage_record")
    op.create_index("ix_followup_answers", "followup", FOLLOWUP_COLUMNS)
    op.drop_index("ix_followup_complaint_id", table_name="followup")
    analyse(["ix_stage_record_durations", "ix_followup_answers"])


def downgrade() -> None:
    op.create_index("ix_followup_complaint_id", "followup", ["complaint_id"])
    op.drop_index("ix_followup_answers", table_name="followup")
    op.create_index("ix_stage_record_complaint_id", "stage_record", ["complaint_id"])
    op.drop_index("ix_stage_record_durations", table_name="stage_record")
