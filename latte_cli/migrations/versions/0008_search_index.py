"""full-text search index over complaints

One document per complaint: its words (summary, every stage text, transfer notes and
reopening reasons, follow-up notes) and its customer (name, email, phone, and the phone's
digits as one token, `identity.phone_key` without the `+`). Both stores case-fold and
accent-fold the same way, and split at the same punctuation:

- SQLite: an FTS5 table `search_index` with external content, the view `search_document`
  (nothing is stored twice), tokenizer `unicode61 remove_diacritics 2`; the letters unicode61
  leaves alone (ł, ø, ß, đ, ligatures, ...) are folded by `replace` in the view, as
  `latte_cli.services.search.fold` folds a query. Triggers on every table a document is built
  from delete the old document before a change (FTS5 needs the indexed values to remove a
  row) and add the new one after it.
- PostgreSQL: a table `search_index(complaint_id, document tsvector)` with a GIN index, the
  text folded by `unaccent` with punctuation turned into spaces and indexed with the `simple`
  configuration; statement-level triggers refresh the documents of the complaints a statement
  touched.

Every writer (the agent's commands, the importer, forgetting, and any program writing the
tables) keeps the index current through the triggers (docs/architecture.md, "Storage").
The index is filled from the stored complaints in batches of complaint ids.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 20_000
# Letters FTS5's unicode61 does not fold, folded as `identity.fold` folds them. Kept here as
# written at this revision: the index holds what this map produced.
FOLDS = {
    "Ł": "l", "ł": "l", "Ø": "o", "ø": "o", "Ǿ": "o", "ǿ": "o", "ß": "ss", "ẞ": "ss",
    "Đ": "d", "đ": "d", "Ħ": "h", "ħ": "h", "Ŧ": "t", "ŧ": "t", "Ĳ": "ij", "ĳ": "ij",
    "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st",
}  # fmt: skip
NOTE_KINDS = "('transfer', 'reopen')"  # the events whose details hold a note or a reason
STAGE_TEXTS = ("text", "action_detail", "options_offered", "what_will_change")


def _sqlite_fold(expression: str) -> str:
    for letter, plain in FOLDS.items():
        expression = f"replace({expression}, '{letter}', '{plain}')"
    return expression


def _sqlite_views() -> list[str]:
    stage_text = " || ' ' || ".join(f"ifnull(s.{c}, '')" for c in STAGE_TEXTS)
    words = (
        "c.summary"
        f" || ' ' || ifnull((SELECT group_concat({stage_text}, ' ') FROM stage_record s"
        " WHERE s.complaint_id = c.id), '')"
        " || ' ' || ifnull((SELECT group_concat(ifnull(json_extract(e.data, '$.note'), '')"
        " || ' ' || ifnull(json_extract(e.data, '$.reason'), ''), ' ') FROM event e"
        f" WHERE e.complaint_id = c.id AND e.kind IN {NOTE_KINDS}), '')"
        " || ' ' || ifnull((SELECT group_concat(f.note, ' ') FROM followup f"
        " WHERE f.complaint_id = c.id), '')"
    )
    customer = (
        "ifnull(cu.name, '') || ' ' || ifnull(cu.email, '') || ' ' || ifnull(cu.phone, '')"
        " || ' ' || ifnull(replace(cu.phone_key, '+', ''), '')"
    )
    # Two views: SQLite's parser cannot take the folding and the gathering in one expression.
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


def _sqlite_triggers() -> list[str]:
    """Pairs of triggers: before a change the old document leaves the index, after it the new
    one enters. Both of a pair carry the same WHEN, so they always fire together."""
    triggers: list[str] = []

    def pair(name: str, event: str, table: str, when: str, before: str, after: str) -> None:
        condition = f"WHEN {when}" if when else ""
        triggers.append(
            f"CREATE TRIGGER search_{name}_before BEFORE {event} ON {table} {condition} "
            f"BEGIN {before} END"
        )
        triggers.append(
            f"CREATE TRIGGER search_{name}_after AFTER {event} ON {table} {condition} "
            f"BEGIN {after} END"
        )

    triggers.append(
        f"CREATE TRIGGER search_complaint_insert AFTER INSERT ON complaint "
        f"BEGIN {_add('id = NEW.id')} END"
    )
    triggers.append(
        f"CREATE TRIGGER search_complaint_delete BEFORE DELETE ON complaint "
        f"BEGIN {_remove('id = OLD.id')} END"
    )
    pair(
        "complaint_update",
        "UPDATE OF summary, customer_id",
        "complaint",
        "OLD.summary IS NOT NEW.summary OR OLD.customer_id IS NOT NEW.customer_id",
        _remove("id = OLD.id"),
        _add("id = NEW.id"),
    )
    moved = "id IN (OLD.complaint_id, NEW.complaint_id)"
    for table, texts, when_insert in (
        # A row without text leaves the document's words as they are: nothing to do (most
        # stage records an importer writes carry only a time).
        (
            "stage_record",
            STAGE_TEXTS,
            " OR ".join(f"ifnull(NEW.{c}, '') <> ''" for c in STAGE_TEXTS),
        ),
        ("event", ("data",), f"NEW.kind IN {NOTE_KINDS}"),
        ("followup", ("note",), "ifnull(NEW.note, '') <> ''"),
    ):
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in (*texts, "complaint_id"))
        kind = f"OLD.kind IN {NOTE_KINDS} AND " if table == "event" else ""
        pair(
            f"{table}_insert",
            "INSERT",
            table,
            when_insert,
            _remove("id = NEW.complaint_id"),
            _add("id = NEW.complaint_id"),
        )
        pair(
            f"{table}_update",
            f"UPDATE OF {', '.join((*texts, 'complaint_id'))}",
            table,
            f"{kind}({changed})",
            _remove(moved),
            _add(moved),
        )
        pair(
            f"{table}_delete",
            "DELETE",
            table,
            when_insert.replace("NEW.", "OLD."),
            _remove("id = OLD.complaint_id"),
            _add("id = OLD.complaint_id"),
        )
    identity = ("name", "email", "phone", "phone_key")
    pair(
        "customer_update",
        f"UPDATE OF {', '.join(identity)}",
        "customer",
        " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in identity),
        _remove("customer_id = OLD.id"),
        _add("customer_id = NEW.id"),
    )
    return triggers


def _postgresql_statements() -> list[str]:
    stage_text = ", ".join(f"s.{c}" for c in STAGE_TEXTS)
    statements = [
        "CREATE EXTENSION IF NOT EXISTS unaccent",
        """CREATE TABLE search_index (
            complaint_id INTEGER PRIMARY KEY REFERENCES complaint (id) ON DELETE CASCADE,
            document TSVECTOR NOT NULL)""",
        "CREATE INDEX ix_search_index_document ON search_index USING gin (document)",
        """CREATE FUNCTION latte_search_fold(value text) RETURNS text LANGUAGE sql STABLE AS $$
            SELECT regexp_replace(unaccent(coalesce(value, '')), '[[:punct:]]+', ' ', 'g')
        $$""",
        f"""CREATE FUNCTION latte_search_refresh(ids integer[]) RETURNS void
        LANGUAGE sql AS $$
            INSERT INTO search_index (complaint_id, document)
            SELECT c.id,
                setweight(to_tsvector('simple', latte_search_fold(concat_ws(' ',
                    cu.name, cu.email, cu.phone, replace(cu.phone_key, '+', '')))), 'A')
                || setweight(to_tsvector('simple', latte_search_fold(concat_ws(' ', c.summary,
                    (SELECT string_agg(concat_ws(' ', {stage_text}), ' ' ORDER BY s.id)
                     FROM stage_record s WHERE s.complaint_id = c.id),
                    (SELECT string_agg(concat_ws(' ', e.data::json ->> 'note',
                            e.data::json ->> 'reason'), ' ' ORDER BY e.id)
                     FROM event e WHERE e.complaint_id = c.id AND e.kind IN {NOTE_KINDS}),
                    (SELECT string_agg(f.note, ' ' ORDER BY f.id)
                     FROM followup f WHERE f.complaint_id = c.id)))), 'B')
            FROM complaint c LEFT JOIN customer cu ON cu.id = c.customer_id
            WHERE c.id = ANY(ids)
            ON CONFLICT (complaint_id) DO UPDATE SET document = excluded.document
        $$""",
        # One function for the tables whose rows belong to a complaint: the complaints of the
        # rows the statement inserted, changed or deleted (old and new owner) are refreshed.
        """CREATE FUNCTION latte_search_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                PERFORM latte_search_refresh(ARRAY(SELECT DISTINCT complaint_id FROM new_rows));
            ELSIF TG_OP = 'UPDATE' THEN
                PERFORM latte_search_refresh(ARRAY(
                    SELECT complaint_id FROM new_rows UNION SELECT complaint_id FROM old_rows));
            ELSE
                PERFORM latte_search_refresh(ARRAY(SELECT DISTINCT complaint_id FROM old_rows));
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE FUNCTION latte_search_complaints() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                PERFORM latte_search_refresh(ARRAY(SELECT id FROM new_rows));
            ELSE
                PERFORM latte_search_refresh(ARRAY(
                    SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
                    WHERE n.summary IS DISTINCT FROM o.summary
                       OR n.customer_id IS DISTINCT FROM o.customer_id));
            END IF;
            RETURN NULL;
        END $$""",
        """CREATE FUNCTION latte_search_customers() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM latte_search_refresh(ARRAY(
                SELECT c.id FROM complaint c
                JOIN new_rows n ON n.id = c.customer_id JOIN old_rows o ON o.id = n.id
                WHERE (n.name, n.email, n.phone, n.phone_key)
                      IS DISTINCT FROM (o.name, o.email, o.phone, o.phone_key)));
            RETURN NULL;
        END $$""",
    ]
    referencing = {
        "INSERT": "REFERENCING NEW TABLE AS new_rows",
        "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "DELETE": "REFERENCING OLD TABLE AS old_rows",
    }
    for table, function, operations in (
        ("complaint", "latte_search_complaints", ("INSERT", "UPDATE")),
        ("customer", "latte_search_customers", ("UPDATE",)),
        ("stage_record", "latte_search_rows", ("INSERT", "UPDATE", "DELETE")),
        ("event", "latte_search_rows", ("INSERT", "UPDATE", "DELETE")),
        ("followup", "latte_search_rows", ("INSERT", "UPDATE", "DELETE")),
    ):
        for operation in operations:
            statements.append(
                f"CREATE TRIGGER search_{table}_{operation.lower()} AFTER {operation} ON {table} "
                f"{referencing[operation]} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    return statements


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for view in _sqlite_views():
            op.execute(view)
        op.execute(
            "CREATE VIRTUAL TABLE search_index USING fts5(words, customer, "
            "content='search_document', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        fill = (
            "INSERT INTO search_index (rowid, words, customer) "
            "SELECT id, words, customer FROM search_document WHERE id > :low AND id <= :high"
        )
    else:
        for statement in _postgresql_statements():
            op.execute(statement)
        fill = (
            "SELECT latte_search_refresh(ARRAY(SELECT id FROM complaint "
            "WHERE id > :low AND id <= :high))"
        )
    # Filled before the triggers exist on SQLite (they would find nothing to delete), by id
    # ranges, so that no statement holds more than a batch of documents.
    top = bind.execute(sa.text("SELECT max(id) FROM complaint")).scalar() or 0
    for low in range(0, top, BATCH):
        bind.execute(sa.text(fill), {"low": low, "high": low + BATCH})
    if bind.dialect.name == "sqlite":
        for trigger in _sqlite_triggers():
            op.execute(trigger)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        names = bind.execute(
            sa.text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name GLOB 'search_*'"
            )
        ).scalars()
        for name in list(names):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE search_index")
        op.execute("DROP VIEW search_document")
        op.execute("DROP VIEW search_text")
        return
    for table, operations in (
        ("complaint", ("insert", "update")),
        ("customer", ("update",)),
        ("stage_record", ("insert", "update", "delete")),
        ("event", ("insert", "update", "delete")),
        ("followup", ("insert", "update", "delete")),
    ):
        for operation in operations:
            op.execute(f"DROP TRIGGER search_{table}_{operation} ON {table}")
    op.execute("DROP TABLE search_index")
    for function in (
        "latte_search_rows()",
        "latte_search_complaints()",
        "latte_search_customers()",
        "latte_search_refresh(integer[])",
        "latte_search_fold(text)",
    ):
        op.execute(f"DROP FUNCTION {function}")
