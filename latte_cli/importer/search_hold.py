"""Search documents written once per batch for the complaints an import creates (SQLite).

SQLite's search triggers rewrite a complaint's document for every row with text written for
it; an imported complaint comes with its stage records and events in one batch, so its
document would be built once per row. Revision 0016 lets a batch hold the triggers off the
complaints it creates: while `search_index_hold` has a row, the insert triggers do nothing for
complaints above its `after_id`. The batch then adds those complaints' documents with one
statement from the view `search_document` (the same text the triggers add) and deletes the
row, in its own transaction, so a failed or killed batch leaves neither the row nor half its
documents (docs/architecture.md, "The search index").

PostgreSQL's triggers are statement-level already: nothing is held there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

HOLD = "INSERT INTO search_index_hold (after_id) SELECT ifnull(max(id), 0) FROM complaint"
ADD_HELD = (
    "INSERT INTO search_index (rowid, words, customer) "
    "SELECT id, words, customer FROM search_document "
    "WHERE id > (SELECT after_id FROM search_index_hold)"
)
RELEASE = "DELETE FROM search_index_hold"


@contextmanager
def documents_once(conn: Connection) -> Iterator[None]:
    """Inside a transaction: the complaints created in the block get their search documents
    once, when it ends. An exception leaves the hold for the transaction's rollback to undo
    (the caller rolls back: an import never commits after a failed write)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql(HOLD)
    yield
    conn.exec_driver_sql(ADD_HELD)
    conn.exec_driver_sql(RELEASE)
