"""updates sent to the customer in the search index

A complaint's search document (revision 0008) now also holds the text of its
`customer_update` events, so an agent finds a complaint by what they told the customer
(docs/architecture.md, "The search index"). Updates without text (those an import brings,
which have only a time) change no document.

- SQLite: the views `search_text` / `search_document` gather the `text` of update events with
  the notes and reasons of transfers and reopenings; the triggers on `event` fire for updates
  with text too. Only the documents of complaints that have updates are rewritten: each leaves
  the index through the old view and enters it through the new one.
- PostgreSQL: a complaint's document is built by the new function `latte_search_documents`
  (which `latte db check` calls to compare the stored documents with fresh ones), gathering
  the same texts; `latte_search_refresh` stores what it builds. The statement-level triggers
  on `event` already refresh every complaint a statement touched. The documents of complaints
  with updates are refreshed.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 20_000
# As revision 0008 wrote them: the index holds what this map produced.
FOLDS = {
    "Ł": "l", "ł": "l", "Ø": "o", "ø": "o", "Ǿ": "o", "ǿ": "o", "ß": "ss", "ẞ": "ss",
    "Đ": "d", "đ": "d", "Ħ": "h", "ħ": "h", "Ŧ": "t", "ŧ": "t", "Ĳ": "ij", "ĳ": "ij",
    "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st",
}  # fmt: skip
STAGE_TEXTS = ("text", "action_detail", "options_offered", "what_will_change")
# The events whose details hold text for the document: before and after this revision.
OLD_KINDS = "('transfer', 'reopen')"
NEW_KINDS = "('transfer', 'reopen', 'customer_update')"
OLD_KEYS = ("note", "reason")
NEW_KEYS = ("note", "reason", "text")
UPDATES = "SELECT DISTINCT complaint_id FROM event WHERE kind = 'customer_update'"


def _sqlite_fold(expression: str) -> str:
    for letter, plain in FOLDS.items():
        expression = f"replace({expression}, '{letter}', '{plain}')"
    return expression


def _sqlite_views(kinds: str, keys: tuple[str, ...]) -> list[str]:
    stage_text = " || ' ' || ".join(f"ifnull(s.{c}, '')" for c in STAGE_TEXTS)
    event_text = " || ' ' || ".join(f"ifnull(json_extract(e.data, '$.{k}'), '')" for k in keys)
    words = (
        "c.summary"
        f" || ' ' || ifnull((SELECT group_concat({stage_text}, ' ') FROM stage_record s"
        " WHERE s.complaint_id = c.id), '')"
        f" || ' ' || ifnull((SELECT group_concat({event_text}, ' ') FROM event e"
        f" WHERE e.complaint_id = c.id AND e.kind IN {kinds}), '')"
        " || ' ' || ifnull((SELECT group_concat(f.note, ' ') FROM followup f"
        " WHERE f.complaint_id = c.id), '')"
    )
    customer = (
        "ifnull(cu.name, '') || ' ' || ifnull(cu.email, '') || ' ' || ifnull(cu.phone, '')"
        " || ' ' || ifnull(replace(cu.phone_key, '+', ''), '')"
    )
    return [
        f"""CREATE VIEW search_text AS
        SELECT c.id AS id, c.customer_id AS customer_id, {words} AS words, {customer} AS customer
        FROM complaint c LEFT JOIN customer cu ON cu.id = c.customer_id""",
        f"""CREATE VIEW search_document AS
        SELECT id, customer_id, {_sqlite_fold("words")} AS words,
               {_sqlite_fold("customer")} AS customer
        FROM search_text""",
    ]


def _remove(where: str) -> str:
    return (
        "INSERT INTO search_index (search_index, rowid, words, customer) "
        f"SELECT 'delete', id, words, customer FROM search_document WHERE {where};"
    )


def _add(where: str) -> str:
    return (
        "INSERT INTO search_index (rowid, words, customer) "
        f"SELECT id, words, customer FROM search_document WHERE {where};"
    )


def _event_triggers(new: bool) -> list[str]:
    """The pairs of revision 0008's triggers on `event` (old document out before, new one in
    after); from this revision an update with text counts as well."""
    kinds = NEW_KINDS if new else OLD_KINDS

    def texted(row: str) -> str:
        if not new:
            return f"{row}.kind IN {kinds}"
        return (
            f"({row}.kind IN {OLD_KINDS} OR ({row}.kind = 'customer_update'"
            f" AND ifnull(json_extract({row}.data, '$.text'), '') <> ''))"
        )

    moved = "id IN (OLD.complaint_id, NEW.complaint_id)"
    changed = "OLD.data IS NOT NEW.data OR OLD.complaint_id IS NOT NEW.complaint_id"
    triggers = []
    for name, event, when, before, after in (
        ("insert", "INSERT", texted("NEW"), "id = NEW.complaint_id", "id = NEW.complaint_id"),
        (
            "update",
            "UPDATE OF data, complaint_id",
            f"OLD.kind IN {kinds} AND ({changed})",
            moved,
            moved,
        ),
        ("delete", "DELETE", texted("OLD"), "id = OLD.complaint_id", "id = OLD.complaint_id"),
    ):
        triggers.append(
            f"CREATE TRIGGER search_event_{name}_before BEFORE {event} ON event WHEN {when} "
            f"BEGIN {_remove(before)} END"
        )
        triggers.append(
            f"CREATE TRIGGER search_event_{name}_after AFTER {event} ON event WHEN {when} "
            f"BEGIN {_add(after)} END"
        )
    return triggers


def _postgresql_functions(kinds: str, keys: tuple[str, ...], new: bool) -> list[str]:
    """The refresh of revision 0008, with the texts of `kinds`. From this revision the document
    is built by its own function, `latte_search_documents`, which `latte db check` also calls
    to compare the stored documents with fresh ones."""
    stage_text = ", ".join(f"s.{c}" for c in STAGE_TEXTS)
    event_text = ", ".join(f"e.data::json ->> '{k}'" for k in keys)
    build = f"""SELECT c.id,
                setweight(to_tsvector('simple', latte_search_fold(concat_ws(' ',
                    cu.name, cu.email, cu.phone, replace(cu.phone_key, '+', '')))), 'A')
                || setweight(to_tsvector('simple', latte_search_fold(concat_ws(' ', c.summary,
                    (SELECT string_agg(concat_ws(' ', {stage_text}), ' ' ORDER BY s.id)
                     FROM stage_record s WHERE s.complaint_id = c.id),
                    (SELECT string_agg(concat_ws(' ', {event_text}), ' ' ORDER BY e.id)
                     FROM event e WHERE e.complaint_id = c.id AND e.kind IN {kinds}),
                    (SELECT string_agg(f.note, ' ' ORDER BY f.id)
                     FROM followup f WHERE f.complaint_id = c.id)))), 'B')
            FROM complaint c LEFT JOIN customer cu ON cu.id = c.customer_id
            WHERE c.id = ANY(ids)"""
    if not new:
        return [
            f"""CREATE OR REPLACE FUNCTION latte_search_refresh(ids integer[]) RETURNS void
            LANGUAGE sql AS $$
                INSERT INTO search_index (complaint_id, document)
                {build}
                ON CONFLICT (complaint_id) DO UPDATE SET document = excluded.document
            $$""",
            "DROP FUNCTION latte_search_documents(integer[])",
        ]
    return [
        f"""CREATE FUNCTION latte_search_documents(ids integer[])
        RETURNS TABLE (doc_id integer, doc tsvector) LANGUAGE sql STABLE AS $$
            {build}
        $$""",
        """CREATE OR REPLACE FUNCTION latte_search_refresh(ids integer[]) RETURNS void
        LANGUAGE sql AS $$
            INSERT INTO search_index (complaint_id, document)
            SELECT doc_id, doc FROM latte_search_documents(ids)
            ON CONFLICT (complaint_id) DO UPDATE SET document = excluded.document
        $$""",
    ]


def _batches(bind: sa.Connection) -> list[tuple[int, int]]:
    top = bind.execute(sa.text("SELECT max(complaint_id) FROM event")).scalar() or 0
    return [(low, low + BATCH) for low in range(0, top, BATCH)]


def _switch(new: bool) -> None:
    """Move the index from one definition of the document to the other."""
    bind = op.get_bind()
    kinds, keys = (NEW_KINDS, NEW_KEYS) if new else (OLD_KINDS, OLD_KEYS)
    touched = f"id IN ({UPDATES} AND complaint_id > :low AND complaint_id <= :high)"
    if bind.dialect.name != "sqlite":
        for statement in _postgresql_functions(kinds, keys, new):
            op.execute(statement)
        refresh = f"SELECT latte_search_refresh(ARRAY(SELECT id FROM complaint WHERE {touched}))"
        for low, high in _batches(bind):
            bind.execute(sa.text(refresh), {"low": low, "high": high})
        return
    for name in ("insert", "update", "delete"):
        for when in ("before", "after"):
            op.execute(f"DROP TRIGGER search_event_{name}_{when}")
    for low, high in _batches(bind):
        bind.execute(sa.text(_remove(touched)), {"low": low, "high": high})
    op.execute("DROP VIEW search_document")
    op.execute("DROP VIEW search_text")
    for view in _sqlite_views(kinds, keys):
        op.execute(view)
    for low, high in _batches(bind):
        bind.execute(sa.text(_add(touched)), {"low": low, "high": high})
    for trigger in _event_triggers(new):
        op.execute(trigger)


def upgrade() -> None:
    _switch(new=True)


def downgrade() -> None:
    _switch(new=False)
