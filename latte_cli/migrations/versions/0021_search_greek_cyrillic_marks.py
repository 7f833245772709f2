"""Greek and Cyrillic letters with marks folded in the search index

A search text is folded by `identity.fold`, which drops every mark: `Δέμα` is searched as
`δεμα`, `Йогурт` as `иогурт`. The index did not fold these letters: SQLite's FTS5
`unicode61` removes the marks of Latin letters only, and PostgreSQL's `unaccent` rules leave
й, ї, ў, ѓ, ќ, ѐ, ѝ alone. A word written with such a letter was found by no search at all,
with or without its marks (docs/architecture.md, "The search index").

Both stores now fold the letters of modern Greek (tonos, dialytika) and of the Cyrillic
alphabets (й, ё, ї, ў, ѓ, ќ, ѐ, ѝ) to their bare letter before indexing, as the query is:

- SQLite: the view `search_document` replaces them as it replaces ł, ø, ß (revision 0008);
  the documents holding one leave the index through the old view and enter it through the
  new one.
- PostgreSQL: `latte_search_fold` translates them after `unaccent`; the documents holding
  one (their stored words still have the letter) are built again.

Revision ID: 0021
Revises: 0020
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 20_000
# As revision 0008 wrote them.
FOLDS = {
    "Ł": "l", "ł": "l", "Ø": "o", "ø": "o", "Ǿ": "o", "ǿ": "o", "ß": "ss", "ẞ": "ss",
    "Đ": "d", "đ": "d", "Ħ": "h", "ħ": "h", "Ŧ": "t", "ŧ": "t", "Ĳ": "ij", "ĳ": "ij",
    "ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st",
}  # fmt: skip
# This revision's letters, each folded to its bare letter (its first in Unicode's canonical
# decomposition, which Unicode never changes); `identity.fold` folds both alike
# (tests/test_search_scripts.py checks it).
GREEK = "ΆΈΉΊΌΎΏΐΪΫάέήίΰϊϋόύώ"
CYRILLIC = "ЙйЁёЇїЎўЃѓЌќЀѐЍѝ"
LETTERS = GREEK + CYRILLIC
MARKED = {letter: unicodedata.normalize("NFD", letter)[0] for letter in LETTERS}
# PostgreSQL: `to_tsvector` lower-cases by the database's LC_CTYPE, which leaves every
# letter outside ASCII as it is in the C locale (a common cluster setting): the capitals of
# Greek and Cyrillic are lower-cased here, final sigma becomes sigma as `str.casefold` does.
CAPITALS = [chr(c) for c in range(0x391, 0x3AA) if c != 0x3A2] + [
    chr(c) for c in range(0x400, 0x430)
]
PG_FOLDS = {
    letter: unicodedata.normalize("NFD", letter)[0].casefold()
    for letter in (*LETTERS, *CAPITALS, "ς")
}
PG_FOLD = "regexp_replace(unaccent(coalesce(value, '')), '[[:punct:]]+', ' ', 'g')"


def _sqlite_fold(expression: str, folds: dict[str, str]) -> str:
    for letter, plain in folds.items():
        expression = f"replace({expression}, '{letter}', '{plain}')"
    return expression


def _sqlite_views(new: bool) -> list[str]:
    """The view `search_document`; from this revision, over one view per alphabet folded,
    as SQLite's parser cannot take more than about 25 nested calls in one expression."""
    if not new:
        return [_sqlite_document(FOLDS, "search_text")]
    greek = {letter: plain for letter, plain in MARKED.items() if letter in GREEK}
    cyrillic = {letter: plain for letter, plain in MARKED.items() if letter in CYRILLIC}
    return [
        _sqlite_document(FOLDS, "search_text", name="search_folded_latin"),
        _sqlite_document(greek, "search_folded_latin", name="search_folded_greek"),
        _sqlite_document(cyrillic, "search_folded_greek"),
    ]


def _sqlite_document(folds: dict[str, str], source: str, name: str = "search_document") -> str:
    return f"""CREATE VIEW {name} AS
        SELECT id, customer_id, {_sqlite_fold("words", folds)} AS words,
               {_sqlite_fold("customer", folds)} AS customer
        FROM {source}"""


def _pg_fold(new: bool) -> str:
    body = PG_FOLD
    if new:
        letters, plain = "".join(PG_FOLDS), "".join(PG_FOLDS.values())
        body = f"translate(lower({PG_FOLD}), '{letters}', '{plain}')"
    return f"""CREATE OR REPLACE FUNCTION latte_search_fold(value text) RETURNS text
        LANGUAGE sql STABLE AS $$ SELECT {body} $$"""


def _switch(new: bool) -> None:
    """Move the documents holding one of the letters from one folding to the other."""
    bind = op.get_bind()
    letters = "".join(MARKED)
    if bind.dialect.name != "sqlite":
        op.execute(_pg_fold(new))
        # Before: the stored words keep the letter, which names the documents to build
        # again. Going back, every document is built again.
        if new:
            kept = "".join(PG_FOLDS)
            touched = f"SELECT complaint_id FROM search_index WHERE document::text ~ '[{kept}]'"
            ids = [row[0] for row in bind.execute(sa.text(touched))]
        else:
            ids = list(bind.execute(sa.text("SELECT id FROM complaint")).scalars())
        refresh = sa.text("SELECT latte_search_refresh(CAST(:ids AS integer[]))")
        for start in range(0, len(ids), BATCH):
            bind.execute(refresh, {"ids": ids[start : start + BATCH]})
        return
    marked = f"words GLOB '*[{letters}]*' OR customer GLOB '*[{letters}]*'"
    bind.execute(
        sa.text(
            "CREATE TEMP TABLE search_marked AS "
            f"SELECT id FROM search_text WHERE {marked} ORDER BY id"
        )
    )
    where = "id IN (SELECT id FROM search_marked)"
    bind.execute(
        sa.text(
            "INSERT INTO search_index (search_index, rowid, words, customer) "
            f"SELECT 'delete', id, words, customer FROM search_document WHERE {where}"
        )
    )
    op.execute("DROP VIEW search_document")
    if not new:
        op.execute("DROP VIEW search_folded_greek")
        op.execute("DROP VIEW search_folded_latin")
    for view in _sqlite_views(new):
        op.execute(view)
    bind.execute(
        sa.text(
            "INSERT INTO search_index (rowid, words, customer) "
            f"SELECT id, words, customer FROM search_document WHERE {where}"
        )
    )
    bind.execute(sa.text("DROP TABLE search_marked"))


def upgrade() -> None:
    _switch(new=True)


def downgrade() -> None:
    _switch(new=False)
