"""Full-text search over complaints, and finding a customer by what an agent knows of them.

The index is the database's own (revision 0008, docs/architecture.md "Storage"): an FTS5 table
on SQLite ranked by bm25, a `tsvector` column with a GIN index on PostgreSQL ranked by
`ts_rank`. One document per complaint holds its summary, every stage text, transfer notes,
reopening reasons, updates sent to the customer (revision 0013) and follow-up notes, and its
customer's name, email and phone. Triggers keep
it current, so every writer (commands, the importer, forgetting, merging) is covered.

A search text is folded as `identity.fold` folds names (case, diacritics, ł, ø, ß) and split
into words at anything that is not a letter or a digit, as both indexes split their text
(each index folds at least the letters with marks a query meets: revisions 0008 and 0021);
every word must occur; a last word ending in `*` (three letters or more) also matches the
words it starts. A text that looks
like a phone number (`identity.search_terms`) also finds the customers whose phone has those
digits, whatever its spaces, dashes or brackets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlmodel import Session, col, select

from latte_cli import events, identity, workflow
from latte_cli.errors import InvalidValue, NotFound, SeveralCustomers
from latte_cli.events import (
    HANDOFF_KINDS,
    CustomerUpdateDetails,
    EventKind,
    ReopenDetails,
    TransferDetails,
)
from latte_cli.models import Complaint, Customer, Event, FollowUp, StageRecord
from latte_cli.services.customers import (
    CustomerHistory,
    customer_history,
    find_customers,
    get_customer,
)
from latte_cli.timeutil import epoch

WORD = re.compile(r"[^\W_]+")
MIN_PREFIX = 3
# Among more matches than this, the most recent this many are ranked (docs/architecture.md).
CANDIDATES = 2000
# PostgreSQL: reading a match through the GIN index costs about this many documents tested
# newest first (bench/search_bench.py; `_tsquery`).
GIN_VISIT = 4
SNIPPET_CHARS = 90
STAGE_TEXTS = ("text", "action_detail", "options_offered", "what_will_change")
# The events whose text is in a document (revisions 0008 and 0013).
TEXT_KINDS = (*HANDOFF_KINDS, EventKind.CUSTOMER_UPDATE)


@dataclass(frozen=True)
class Query:
    """A search text as both indexes read it: folded words, and phone digits if it is one."""

    words: tuple[str, ...]
    phone: str | None
    # The last word ended in `*`: it also matches the words it starts.
    last_is_prefix: bool = False

    @classmethod
    def parse(cls, text: str) -> Query:
        words = tuple(WORD.findall(identity.fold(text) or ""))
        last_is_prefix = text.rstrip().endswith("*")
        terms = identity.search_terms(text)
        phone = terms.phone if terms else None
        if not words and not phone:
            raise InvalidValue(
                f"{text!r} has no word or number to search for. Give a word the customer "
                "or an agent wrote, a name, an email or a phone."
            )
        return cls(words=words, phone=phone, last_is_prefix=last_is_prefix)

    def prefix(self, index: int) -> bool:
        # Only when asked: FTS5 gathers every match of a prefix before ranking, which costs
        # as much as the prefix is common.
        last = index == len(self.words) - 1
        return self.last_is_prefix and last and len(self.words[index]) >= MIN_PREFIX

    def fts5(self) -> str:
        """An FTS5 query: every word (quoted, so no word is an operator), or the phone."""
        words = " AND ".join(
            f'"{word}"' + ("*" if self.prefix(i) else "") for i, word in enumerate(self.words)
        )
        phone = f'"{self.phone}"*' if self.phone else ""
        return f"({words}) OR {phone}" if words and phone else words or phone

    def tsquery(self) -> str:
        """The same query for PostgreSQL's `to_tsquery`."""
        words = " & ".join(
            f"'{word}'" + (":*" if self.prefix(i) else "") for i, word in enumerate(self.words)
        )
        phone = f"'{self.phone}':*" if self.phone else ""
        return f"({words}) | {phone}" if words and phone else words or phone

    def matches(self, word: str) -> bool:
        folded = identity.fold(word) or ""
        return any(
            folded == term or (self.prefix(i) and folded.startswith(term))
            for i, term in enumerate(self.words)
        )


@dataclass(frozen=True)
class SearchFilter:
    text: str
    customer_ref: str | None = None
    status: str = "all"  # open, resolved, merged or all (`workflow.status`)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 20


@dataclass(frozen=True)
class Hit:
    complaint_id: int
    customer_ref: str | None
    customer_name: str | None
    stage_due: str | None
    opened_at: datetime
    # Where the words were found, cut around the first of them; `marks` are the spans of the
    # matching words inside it.
    snippet: str
    marks: tuple[tuple[int, int], ...]
    # The complaint this duplicate was merged into (`latte merge`).
    merged_into: int | None = None

    @property
    def status(self) -> str:
        return workflow.status(self.stage_due, self.merged_into)


def search(session: Session, filters: SearchFilter) -> list[Hit]:
    """The complaints matching `filters.text`, best first (bm25 / ts_rank), with a snippet."""
    if filters.limit < 1:
        raise InvalidValue(f"--limit must be 1 or more, not {filters.limit}.")
    if filters.status not in ("open", "resolved", "merged", "all"):
        raise InvalidValue(
            f"--status {filters.status!r} is not known: use open, resolved, merged or all."
        )
    query = Query.parse(filters.text)
    customer_id = get_customer(session, filters.customer_ref).id if filters.customer_ref else None
    if session.get_bind().dialect.name == "sqlite":
        index = sa.table("search_index", sa.column("rowid"), sa.column("rank"))
        key = index.c.rowid
        match = sa.literal_column("search_index").op("MATCH")(_fts5(session, query))
        best_first: tuple[Any, ...] = (index.c.rank, col(Complaint.id))
    else:
        index = sa.table("search_index", sa.column("complaint_id"), sa.column("document"))
        key = index.c.complaint_id
        tsquery, few = _tsquery(session, query)
        match = index.c.document.op("@@")(tsquery)
        best_first = (sa.func.ts_rank(index.c.document, tsquery).desc(), col(Complaint.id))

    def matching(statement: Any) -> Any:
        statement = statement.join(Complaint, col(Complaint.id) == key).where(match)
        return _narrowed(statement, filters, customer_id)

    # Ranking reads every match's statistics: a word in most complaints would cost seconds.
    # Only the most recent CANDIDATES matches are ranked (all of them when there are fewer).
    if session.get_bind().dialect.name == "sqlite":
        floor = session.exec(
            matching(select(key).select_from(index))
            .order_by(key.desc())
            .offset(CANDIDATES - 1)
            .limit(1)
        ).first()
        statement = matching(select(Complaint, Customer).select_from(index)).outerjoin(
            Customer, col(Customer.id) == Complaint.customer_id
        )
        if floor is not None:
            statement = statement.where(key >= floor)
        statement = statement.order_by(*best_first)
    else:
        matches = select(key).select_from(index).where(match)
        if customer_id is not None or filters.status != "all" or filters.since or filters.until:
            matches = matching(select(key).select_from(index))
        if few:
            every = matches.cte("matches").prefix_with("MATERIALIZED", dialect="postgresql")
            newest: Any = every.c.complaint_id
            recent = select(newest).order_by(newest.desc()).limit(CANDIDATES)
        else:
            recent = matches.order_by(key.desc()).limit(CANDIDATES)
        statement = _ranked_recent(recent, tsquery, filters.limit)
    found = session.exec(statement.limit(filters.limit)).all()
    texts = _texts(session, [c.id or 0 for c, _ in found])
    hits = []
    for complaint, customer in found:
        cid = complaint.id or 0
        written = [complaint.summary, *texts.get(cid, [])]
        person = [customer.name, customer.email, customer.phone] if customer else []
        snippet, marks = _snippet(query, written, [p for p in person if p], customer)
        hits.append(
            Hit(
                complaint_id=cid,
                customer_ref=customer.ref if customer else None,
                customer_name=customer.name if customer else None,
                stage_due=complaint.stage_due,
                opened_at=complaint.opened_at,
                snippet=snippet,
                marks=marks,
                merged_into=complaint.merged_into,
            )
        )
    return hits


def _fts5(session: Session, query: Query) -> str:
    """SQLite: the FTS5 query of `query`; for a phone whose words find no document its digits
    do not (the usual case: the words are the phone's own digit groups), the phone alone.
    bm25 counts every document holding each word of the query before it ranks, and a phone's
    groups (44, 7700) are in nearly every document: that count cost 50 ms on 1,000,000
    complaints. The matches are the same; their order no longer counts those words
    (docs/architecture.md, "The search index")."""
    phone = Query(words=(), phone=query.phone)
    if not (query.phone and query.words):
        return query.fts5()
    words = Query(words=query.words, phone=None, last_is_prefix=query.last_is_prefix)
    more = session.connection().execute(
        sa.text("SELECT 1 FROM search_index WHERE search_index MATCH :q LIMIT 1"),
        {"q": f"({words.fts5()}) NOT {phone.fts5()}"},
    )
    return query.fts5() if more.first() else phone.fts5()


def _tsquery(session: Session, query: Query) -> tuple[Any, bool]:
    """PostgreSQL: the query's `tsquery`, made once by the server, as a value the statement
    holds, and whether its matches are few enough to be read all through the GIN index.

    `to_tsquery(unaccent(...))` in the statement would be run again for every document it
    tests, as `unaccent` may change between rows (it is STABLE): that was 80 % of a search
    that tests 35,000 documents. The newest CANDIDATES matches are found either by testing
    the documents newest first (about CANDIDATES * documents / matches of them) or by reading
    every match through the GIN index, each a visit to a page of the table that costs about
    GIN_VISIT tests; the planner's estimate of the matches chooses (docs/architecture.md, "The
    search index"), as the planner itself counts a test as nearly free. The first round trip
    also sets the transaction's plan settings (`_ranked_recent`)."""
    connection = session.connection()
    made, documents = connection.execute(
        sa.text(
            "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
            "set_config('max_parallel_workers_per_gather', '0', true), "
            "to_tsquery('simple'::regconfig, unaccent(:words))::text, "
            "(SELECT reltuples FROM pg_class WHERE oid = 'search_index'::regclass)"
        ),
        {"words": query.tsquery()},
    ).one()[2:]
    plan = connection.execute(
        sa.text(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM search_index WHERE document @@ CAST(:q AS tsquery)"
        ),
        {"q": made},
    ).scalar_one()
    matches = float(plan[0]["Plan"]["Plan Rows"])
    few = documents > 0 and matches * matches * GIN_VISIT < CANDIDATES * documents
    return sa.cast(sa.literal(made, sa.Text), TSQUERY), few


def _ranked_recent(recent: Any, tsquery: Any, limit: int) -> Any:
    """PostgreSQL: the ids of the most recent CANDIDATES matches, taken once (materialised),
    then ranked by `ts_rank` over their documents, and only the best `limit` joined to their
    complaints and customers (docs/architecture.md, "The search index"). Without a filter
    on the complaint, the index alone is read: every document has its complaint (a foreign
    key). The best way to find the matches depends on how common the words are (the primary
    key backwards for a common word, the GIN index for a rare one), so the plan is made for
    these words (`_tsquery` sets it for the transaction): a connection that prepared the
    statement (psycopg does from its fifth run) would otherwise reuse a plan made for other
    words. No parallel workers: starting them costs more than the 2,000 rows they would
    share, and more still on a busy server."""
    ids = recent.cte("recent").prefix_with("MATERIALIZED", dialect="postgresql")
    documents = sa.table("search_index", sa.column("complaint_id"), sa.column("document"))
    rank = sa.func.ts_rank(documents.c.document, tsquery)
    best = (
        select(ids.c.complaint_id, rank.label("rank"))
        .join_from(ids, documents, documents.c.complaint_id == ids.c.complaint_id)
        .order_by(rank.desc(), ids.c.complaint_id)
        .limit(limit)
        .subquery("best")
    )
    return (
        select(Complaint, Customer)
        .select_from(best)
        .join(Complaint, col(Complaint.id) == best.c.complaint_id)
        .outerjoin(Customer, col(Customer.id) == Complaint.customer_id)
        .order_by(best.c.rank.desc(), col(Complaint.id))
    )


def _narrowed(statement: Any, filters: SearchFilter, customer_id: int | None) -> Any:
    if customer_id is not None:
        statement = statement.where(Complaint.customer_id == customer_id)
    # The statuses of `workflow.status`: a merged duplicate has no stage due either.
    if filters.status == "open":
        statement = statement.where(col(Complaint.stage_due).is_not(None))
    elif filters.status == "resolved":
        statement = statement.where(
            col(Complaint.stage_due).is_(None), col(Complaint.merged_into).is_(None)
        )
    elif filters.status == "merged":
        statement = statement.where(col(Complaint.merged_into).is_not(None))
    if filters.since:
        statement = statement.where(Complaint.opened_epoch >= epoch(filters.since))
    if filters.until:
        statement = statement.where(Complaint.opened_epoch < epoch(filters.until))
    return statement


def _texts(session: Session, ids: list[int]) -> dict[int, list[str]]:
    """The indexed texts of these complaints besides the summary, in the order written."""
    texts: dict[int, list[str]] = {}
    if not ids:
        return texts
    for record in session.exec(
        select(StageRecord)
        .where(col(StageRecord.complaint_id).in_(ids))
        .order_by(col(StageRecord.id))
    ):
        for name in STAGE_TEXTS:
            if value := getattr(record, name):
                texts.setdefault(record.complaint_id, []).append(value)
    for row in session.exec(
        select(Event)
        .where(col(Event.complaint_id).in_(ids), col(Event.kind).in_(TEXT_KINDS))
        .order_by(col(Event.id))
    ):
        details = events.decode(row)
        note = details.note if isinstance(details, TransferDetails) else ""
        note = details.reason if isinstance(details, ReopenDetails) else note
        note = details.text if isinstance(details, CustomerUpdateDetails) else note
        if note:
            texts.setdefault(row.complaint_id, []).append(note)
    for followup in session.exec(
        select(FollowUp)
        .where(col(FollowUp.complaint_id).in_(ids), col(FollowUp.note).is_not(None))
        .order_by(col(FollowUp.id))
    ):
        texts.setdefault(followup.complaint_id, []).append(followup.note or "")
    return texts


def _snippet(
    query: Query, written: list[str], person: list[str], customer: Customer | None
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The first text holding a searched word, cut around it, and the words' spans in it."""
    for text in (*written, *person):
        flat = " ".join(text.split())  # a snippet is one line
        spans = [m.span() for m in WORD.finditer(flat) if query.matches(m.group())]
        if spans:
            return _cut(flat, spans)
    if query.phone and customer and customer.phone:
        return customer.phone, ((0, len(customer.phone)),)
    return (written[0] if written else ""), ()


def _cut(text: str, spans: list[tuple[int, int]]) -> tuple[str, tuple[tuple[int, int], ...]]:
    if len(text) <= SNIPPET_CHARS:
        return text, tuple(spans)
    first = spans[0][0]
    start = max(0, first - SNIPPET_CHARS // 3)
    if start:
        space = text.find(" ", start, first)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", spans[0][1], end)
        end = space if space >= 0 else end
    lead = "…" if start else ""
    shift = len(lead) - start
    marks = tuple((a + shift, b + shift) for a, b in spans if a >= start and b <= end)
    return f"{lead}{text[start:end]}{'…' if end < len(text) else ''}", marks


def rewrite_index(session: Session) -> None:
    """SQLite: merge the whole index into one segment, so that the words of the documents just
    changed are in no page of the file. FTS5 removes a document by writing delete markers into
    a new segment, and the words stay in the older segments until a merge takes in all of them;
    SQLite 3.40 has no `secure-delete` option for FTS5. With `secure_delete` on, the freed pages
    are zeroed. The cost grows with the index (docs/architecture.md, "Customer data"), so only
    forgetting calls it. PostgreSQL replaces a complaint's row whole: nothing to do."""
    session.flush()  # the triggers run: the changed documents are in the index
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("INSERT INTO search_index (search_index) VALUES ('optimize')")


# Finding a customer by what an agent knows of them -------------------------------------------


def complete_customers(session: Session, start: str, *, limit: int = 30) -> list[str]:
    """Tab completion for `latte customer show`: for each customer whose ref, email, phone or
    name starts with `start` (folded as `find_customers` folds it), the value that does."""
    cleaned = identity.clean(start) or ""
    starts: dict[str, str] = {
        "ref": cleaned,
        "email": cleaned.casefold(),
        "name": identity.fold(cleaned) or "",
    }
    phone = identity.phone_key(cleaned)
    if phone and identity.PHONE_LAYOUT.fullmatch(cleaned):
        starts["phone"] = phone
    keys = {"ref": Customer.ref_key, "email": Customer.email_key, "name": Customer.name_key}
    keys["phone"] = Customer.phone_key
    clauses = [
        col(keys[what]).like(_starting(value), escape="\\") for what, value in starts.items()
    ]
    found = session.exec(
        select(Customer).where(sa.or_(*clauses)).order_by(col(Customer.id)).limit(limit)
    ).all()
    values: list[str] = []
    for customer in found:
        for what, folded in starts.items():
            key = getattr(customer, f"{what}_key")
            value = _completion(cleaned, getattr(customer, what), key, folded)
            if value is not None:
                values.append(value)
                break
    return values


def _completion(typed: str, value: str | None, key: str | None, folded: str) -> str | None:
    """What completes `typed` to this value: the value as stored when it starts with what was
    typed, else its key, else what was typed followed by the rest of the value (other case or
    accents); each still names the customer through the keys. None if the key does not fit."""
    if value is None or key is None or not key.startswith(folded):
        return None
    if value.startswith(typed):
        return value
    if key.startswith(typed):
        return key
    guess = typed + value[len(typed) :]
    return guess if identity.fold(guess) == identity.fold(value) else None


def _starting(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def customer_history_named(
    session: Session,
    text: str,
    *,
    choose: Callable[[list[Customer]], Customer] | None = None,
) -> CustomerHistory:
    """The history of the customer `text` names (`find_customers`). When several match,
    `choose` picks one (a prompt on a terminal); without it, SeveralCustomers lists them."""
    found = find_customers(session, text)
    if not found:
        raise NotFound(
            f"No customer has the ref, email, phone or name {text!r}. "
            "Find them with `latte customer search`."
        )
    if len(found) > 1 and choose is None:
        raise SeveralCustomers(
            f"{len(found)} customers match {text!r} (listed above): give a ref, email or "
            "phone that only one of them has.",
            list(found),
        )
    if len(found) == 1 or choose is None:
        return customer_history(session, found[0])
    return customer_history(session, choose(found))


def check_index(session: Session, add: Callable[[str], None], *, batch: int = 2000) -> bool:
    """Report to `add` what is wrong with the search index (`latte db check`); False when the
    documents could not be compared (a read-only SQLite file: FTS5's check is a write
    statement). Found: a complaint without exactly one document, a document of no complaint,
    a document that differs from a fresh build of it (docs/architecture.md, "The search
    index"). SQLite: FTS5's `integrity-check` compares the
    index with the documents the view builds, and the index's own row list (`_docsize`) with
    the complaints; PostgreSQL: every stored `tsvector` with `latte_search_documents`, a batch
    of complaint ids at a time."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        missing, orphans = (
            connection.execute(sa.text(f"SELECT count(*) FROM ({query})")).scalar_one()
            for query in (
                "SELECT id FROM complaint EXCEPT SELECT id FROM search_index_docsize",
                "SELECT id FROM search_index_docsize EXCEPT SELECT id FROM complaint",
            )
        )
        if missing:
            add(f"search index: {missing} complaints have no document")
        if orphans:
            add(f"search index: {orphans} documents belong to no complaint")
        try:
            connection.execute(
                sa.text(
                    "INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 1)"
                )
            )
        except sa.exc.DatabaseError as error:
            reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
            if "readonly" in reason.lower():
                return False
            add(f"search index: it differs from the complaints' documents ({reason})")
        return True
    missing = connection.execute(
        sa.text(
            "SELECT count(*) FROM complaint c "
            "WHERE NOT EXISTS (SELECT 1 FROM search_index s WHERE s.complaint_id = c.id)"
        )
    ).scalar_one()
    if missing:
        add(f"search index: {missing} complaints have no document")
    top = connection.execute(sa.text("SELECT max(id) FROM complaint")).scalar() or 0
    compare = sa.text(
        "SELECT s.complaint_id FROM search_index s "
        "JOIN latte_search_documents(ARRAY(SELECT id FROM complaint "
        "WHERE id > :low AND id <= :high)) d ON d.doc_id = s.complaint_id "
        "WHERE s.document IS DISTINCT FROM d.doc ORDER BY s.complaint_id"
    )
    for low in range(0, top, batch):
        for (complaint_id,) in connection.execute(compare, {"low": low, "high": low + batch}):
            add(f"complaint {complaint_id}: its search document differs from a fresh build")
    return True


def rebuild_index(session: Session, *, batch: int = 20_000) -> int:
    """Build every complaint's search document again from the tables (`latte db
    rebuild-search`) and commit; returns the number of complaints indexed."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.execute(sa.text("INSERT INTO search_index (search_index) VALUES ('rebuild')"))
    else:
        connection.execute(sa.text("DELETE FROM search_index"))
        top = connection.execute(sa.text("SELECT max(id) FROM complaint")).scalar() or 0
        refresh = sa.text(
            "SELECT latte_search_refresh(ARRAY(SELECT id FROM complaint "
            "WHERE id > :low AND id <= :high))"
        )
        for low in range(0, top, batch):
            connection.execute(refresh, {"low": low, "high": low + batch})
    count = int(connection.execute(sa.text("SELECT count(*) FROM complaint")).scalar_one())
    session.commit()
    return count
