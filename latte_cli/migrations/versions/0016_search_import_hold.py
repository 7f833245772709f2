"""search documents written once per batch by an import (SQLite)

On SQLite the search index's triggers (revisions 0008 and 0013) rewrite a complaint's
document for each row with text written for it: an imported complaint with five stage texts
had its document built, taken out and built again five times over. An import now holds the
triggers off the complaints it is creating and writes their documents once, at the end of
each batch, from the same view `search_document` (docs/architecture.md, "The search index").

- `search_index_hold` (SQLite only; no model describes it, like the index itself) holds at
  most one row, `after_id`: the largest complaint id before the batch. The triggers that
  add a row to a complaint (the complaint itself, its stage records, its events with text,
  its follow-ups with a note) do nothing for a complaint whose id is above it.
- The importer inserts the row, writes the batch, adds the new complaints' documents with one
  `INSERT ... SELECT` from `search_document` and deletes the row, all in the batch's
  transaction: a batch that fails or is killed rolls the row back with everything else, and
  no other connection ever sees it (SQLite has one writer at a time).

PostgreSQL's triggers are statement-level already: unchanged.

The triggers are rewritten from their stored text, so each keeps what its revision wrote and
gains only the hold's condition.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The triggers that add to a complaint's document when a row is inserted, and the column of
# the inserted row that names the complaint.
HELD = {
    "search_complaint_insert": "id",
    "search_stage_record_insert_before": "complaint_id",
    "search_stage_record_insert_after": "complaint_id",
    "search_event_insert_before": "complaint_id",
    "search_event_insert_after": "complaint_id",
    "search_followup_insert_before": "complaint_id",
    "search_followup_insert_after": "complaint_id",
}


def _unheld(column: str) -> str:
    return f"NOT EXISTS (SELECT 1 FROM search_index_hold WHERE NEW.{column} > after_id)"


def _with_hold(sql: str, column: str) -> str:
    """The trigger's text with the hold's condition joined to its WHEN (or as its WHEN)."""
    head, body = sql.split(" BEGIN ", 1)
    if " WHEN " in head:
        start, condition = head.split(" WHEN ", 1)
        return f"{start} WHEN ({condition.strip()}) AND {_unheld(column)} BEGIN {body}"
    return f"{head.rstrip()} WHEN {_unheld(column)} BEGIN {body}"


def _without_hold(sql: str, column: str) -> str:
    head, body = sql.split(" BEGIN ", 1)
    start, condition = head.split(" WHEN ", 1)
    if condition == _unheld(column):
        return f"{start} BEGIN {body}"
    condition = condition.removesuffix(f" AND {_unheld(column)}")
    return f"{start} WHEN {condition.removeprefix('(').removesuffix(')')} BEGIN {body}"


def _rewrite(change: Callable[[str, str], str]) -> None:
    bind = op.get_bind()
    query = sa.text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN :names"
    ).bindparams(sa.bindparam("names", expanding=True))
    stored = {name: sql for name, sql in bind.execute(query, {"names": list(HELD)})}
    for name, column in HELD.items():
        op.execute(f"DROP TRIGGER {name}")
        op.execute(change(stored[name], column))


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TABLE search_index_hold (after_id INTEGER NOT NULL)")
    _rewrite(_with_hold)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rewrite(_without_hold)
    op.execute("DROP TABLE search_index_hold")
