"""The cohort summary and the repurchase outcomes, kept at write time (revision 0009).

A report's period figures are about its **cohort**, the complaints first resolved in the
period (docs/metrics.md). Read from the complaint rows, a year's cohort is a million rows and
their stage records and follow-ups; kept here, it is a few hundred blobs:

- `report_cohort`, per UTC day of first resolution: one fixed-size record (`RECORD`, a `struct`
  layout) per complaint first resolved that day, sorted by id, holding what every period figure
  needs and nothing that depends on the report's settings: the opening, acknowledge and first
  resolution epochs, the first cycle's stage durations, the first reopening, the first follow-up
  recorded, the first one saying the customer bought again and the first saying they were
  satisfied (epochs, so any as-of time can be applied), whether there is a customer, and codes
  into the day's `names` for agent, channel, category, location, action kind and root cause.
  `scores` holds (complaint, recorded epoch, score) per follow-up score. `remedies` holds
  (complaint, completed epoch, action kind code, cents) per Take action stage record of any
  cycle, and `changes` (complaint, completed epoch, text code) per Explain stage record with a
  "what will change" text (revision 0015, docs/architecture.md "Reports over long periods").
  Epochs, not days or buckets: a
  report's zone, as-of time, target, window and speed buckets are applied when it reads them, so
  its figures are exact.
- `report_outcome`, per first-resolved complaint with a customer: the first purchase after
  that resolution and its amount. With it "bought again within W, known by T" is
  `purchased <= resolved + W and purchased <= T` for any W and T (docs/metrics.md, Outcomes).
  It is a row per complaint, not part of the day records, so that a purchase import (which
  touches customers all over the history) rewrites a row per affected complaint, never the
  day blobs. For revenue kept over the default window W (`KEPT_WINDOW`, revision 0017) it
  also holds the cents of the customer's purchases in (resolved, resolved + W] and whether
  one of them also follows another complaint of the customer: a report sums the others'
  cents without reading a purchase (docs/architecture.md, "Reports over long periods").
- `report_kept_pair` (revision 0020), per outcome row where one does: each of those
  purchases with its cents, written from the outcome rows with them, so that a report reads
  the shared complaints' (complaint, purchase) pairs of windows over by as-of as one range
  of an index instead of joining them to the purchases.

Triggers (revision 0009) queue, in `report_queue`, every complaint whose record may have
changed (with the first resolution it had, so its old record is found) and every customer
whose purchases changed; `fold` (called by `summary.fold`, so before latte commits and per
import batch) recomputes exactly those. A complaint merged into another is left out in
`_complaints` (the one condition: it is treated like an absent one).
"""

from __future__ import annotations

import json
import math
import struct
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    Text,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    true,
)
from sqlalchemy import text as sql_text
from sqlmodel import SQLModel

from latte_cli import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from latte_cli.config import DEFAULT_WINDOW_DAYS
from latte_cli.events import EventKind
from latte_cli.workflow import Stage

DAY = 86_400
# The repurchase window `report_outcome.kept_cents` is kept for: the default `--window`.
KEPT_WINDOW = DEFAULT_WINDOW_DAYS * DAY
STAGES = ("listen", "acknowledge", "take_action", "thank", "explain")
TAKE_ACTION, EXPLAIN = Stage.TAKE_ACTION.value, Stage.EXPLAIN.value
CODES = ("assigned_agent", "channel", "category", "location", "action_kind", "root_cause")
DIMENSION_CODE = {"agent": 0, "channel": 1, "category": 2, "location": 3}
ACTION_CODE = 4
CAUSE_CODE = 5
NO_KIND = "(none)"  # a Take action record without an action kind (docs/metrics.md, Remedies)
# Epochs and stage durations are 32-bit integer columns on both stores.
MISSING = -(2**31)  # no acknowledge time, no stage record
NEVER = 2**31 - 1  # no reopening, no such follow-up
# One record: id (int64); opened, resolved, acknowledged (int32 epochs); the five stage
# durations (int32); reopened, followed, said, satisfied (int32 epochs); customer (int8); the
# six codes (int32: the day's names also hold the "what will change" texts). Little-endian,
# packed: `reports.summarised` reads it as a numpy dtype of the same layout. Written with
# `struct`, so a write (which folds) never imports numpy.
RECORD = struct.Struct("<q3i5i4ib6i")
SCORE = struct.Struct("<qii")  # complaint id, recorded epoch, score
REMEDY = struct.Struct("<qiiq")  # complaint id, completed epoch, action kind code, cents
CHANGE = struct.Struct("<qii")  # complaint id, completed epoch, text code
BLOBS = ("records", "scores", "remedies", "changes")
IDS_PER_STATEMENT = 500
# The outcome rows are recomputed for this many customers at a time.
CUSTOMERS_PER_STATEMENT = 5000
# One day's stored columns: names, then the BLOBS.
Day = tuple[str, bytes, bytes, bytes, bytes]
# (id, day, record fields in RECORD order with texts for codes, [(recorded, score), ...],
# [(completed, action kind, cents), ...], [(completed, text), ...])
Fresh = tuple[
    int,
    int,
    tuple[Any, ...],
    list[tuple[int, int]],
    list[tuple[int, str, int]],
    list[tuple[int, str]],
]


def table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


def _chunks(values: Sequence[Any], size: int = IDS_PER_STATEMENT) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _ceil_epoch(moment: datetime) -> int:
    """The smallest whole second at or after `moment` (naive means UTC, as SQLite returns):
    `at <= T` for an integer T holds exactly when this is <= T."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.ceil(moment.timestamp())


def _complaints(condition: ColumnElement[bool]) -> Any:
    c = table("complaint").c
    # The one place a complaint is in or out of the cohort summary: first-resolved and not
    # merged into another (a merged duplicate is in no figure; docs/metrics.md).
    return and_(condition, c.first_resolved_epoch.is_not(None), c.merged_into.is_(None))


def compute(conn: Connection, condition: ColumnElement[bool]) -> list[Fresh]:
    """The records of the first-resolved complaints matching `condition` (on `complaint`),
    computed from their rows, sorted by id."""
    c, s, f, e = (table(n) for n in ("complaint", "stage_record", "followup", "event"))
    wanted = _complaints(condition)
    rows = conn.execute(
        select(
            c.c.id,
            c.c.opened_epoch,
            c.c.first_resolved_epoch,
            c.c.acknowledged_epoch,
            c.c.reopen_count,
            c.c.customer_id,
            *(c.c[name] for name in CODES),
        )
        .where(wanted)
        .order_by(c.c.id)
    ).all()
    if not rows:
        return []
    stages: dict[int, list[int]] = {}
    for cid, stage, seconds in conn.execute(
        select(s.c.complaint_id, s.c.stage, s.c.duration_seconds)
        .select_from(s.join(c, s.c.complaint_id == c.c.id))
        .where(wanted, s.c.cycle == 0)
    ):
        if stage in STAGES:
            stages.setdefault(cid, [MISSING] * len(STAGES))[STAGES.index(stage)] = seconds
    answers: dict[int, list[int]] = {}  # followed, said, satisfied
    scores: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    for cid, recorded, nps, satisfied, repurchased in conn.execute(
        select(f.c.complaint_id, f.c.recorded_epoch, f.c.nps, f.c.satisfied, f.c.repurchased)
        .select_from(f.join(c, f.c.complaint_id == c.c.id))
        .where(wanted, f.c.recorded_epoch.is_not(None))
    ):
        first = answers.setdefault(cid, [NEVER, NEVER, NEVER])
        first[0] = min(first[0], recorded)
        if repurchased:
            first[1] = min(first[1], recorded)
        if satisfied:
            first[2] = min(first[2], recorded)
        if nps is not None:
            scores[cid].append((recorded, nps))
    remedies, changes = _actions(conn, wanted)
    reopened = {
        cid: _ceil_epoch(at)
        for cid, at in conn.execute(
            select(e.c.complaint_id, func.min(e.c.at))
            .select_from(e.join(c, e.c.complaint_id == c.c.id))
            .where(wanted, e.c.kind == EventKind.REOPEN.value)
            .group_by(e.c.complaint_id)
        )
        if at is not None
    }
    found: list[Fresh] = []
    no_answers = [NEVER, NEVER, NEVER]
    for cid, opened, first, acknowledged, reopen_count, customer, *texts in rows:
        record = (
            cid,
            opened,
            first,
            MISSING if acknowledged is None else acknowledged,
            tuple(stages.get(cid, [MISSING] * len(STAGES))),
            reopened.get(cid, NEVER) if reopen_count else NEVER,
            *answers.get(cid, no_answers),
            int(customer is not None),
            tuple(t or None for t in texts),
        )
        found.append(
            (
                cid,
                first // DAY,
                record,
                sorted(scores.get(cid, [])),
                sorted(remedies.get(cid, [])),
                sorted(changes.get(cid, [])),
            )
        )
    return found


def _actions(
    conn: Connection, wanted: ColumnElement[bool]
) -> tuple[dict[int, list[tuple[int, str, int]]], dict[int, list[tuple[int, str]]]]:
    """Per complaint: (completed, action kind, cents) of each Take action stage record and
    (completed, text) of each Explain one with a "what will change" text, of every cycle,
    as `reports.fix_queries` reads them (docs/metrics.md, "Remedies and revenue kept", "Root
    causes"): an empty kind is NO_KIND, no amount is 0, the text trimmed of spaces as SQL's
    `trim` does, an empty one left out."""
    c, s = table("complaint"), table("stage_record")
    remedies: defaultdict[int, list[tuple[int, str, int]]] = defaultdict(list)
    changes: defaultdict[int, list[tuple[int, str]]] = defaultdict(list)
    for cid, stage, completed, kind, cents, text in conn.execute(
        select(
            s.c.complaint_id,
            s.c.stage,
            s.c.completed_at,
            s.c.action_kind,
            s.c.amount_cents,
            s.c.what_will_change,
        )
        .select_from(s.join(c, s.c.complaint_id == c.c.id))
        .where(wanted, s.c.stage.in_((TAKE_ACTION, EXPLAIN)), s.c.completed_at.is_not(None))
    ):
        at = _ceil_epoch(completed)
        if stage == TAKE_ACTION:
            remedies[cid].append((at, kind or NO_KIND, int(cents or 0)))
        elif text is not None and text.strip(" "):
            changes[cid].append((at, text.strip(" ")))
    return remedies, changes


class _Names:
    """A day's `names` and their codes, extended as texts are packed."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.index = {text: i for i, text in enumerate(names)}

    def code(self, text: str | None) -> int:
        if text is None:
            return -1
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.names)
            self.names.append(text)
        return found


def _pack(record: tuple[Any, ...], names: _Names) -> bytes:
    """One record's bytes; its texts become codes into the day's names."""
    codes = [names.code(text) for text in record[-1]]
    cid, opened, first, acknowledged, stages, *times, customer, _texts = record
    return RECORD.pack(cid, opened, first, acknowledged, *stages, *times, customer, *codes)


def _split(blob: bytes, size: int) -> Iterator[tuple[int, bytes]]:
    """(complaint id, bytes) of each fixed-size entry of a blob."""
    for start in range(0, len(blob), size):
        chunk = blob[start : start + size]
        yield int.from_bytes(chunk[:8], "little", signed=True), chunk


def _patched(before: Day | None, gone: set[int], added: Sequence[Fresh]) -> dict[str, Any] | None:
    """A day's columns after taking the `gone` complaints out and putting `added` in, records
    sorted by id; None when it has no complaint left."""
    names = _Names(json.loads(before[0]) if before else [])
    records: dict[int, bytes] = {}
    kept: dict[str, list[bytes]] = {"scores": [], "remedies": [], "changes": []}
    if before:
        records = {c: b for c, b in _split(before[1], RECORD.size) if c not in gone}
        for entries, blob, layout in zip(
            kept.values(), before[2:], (SCORE, REMEDY, CHANGE), strict=True
        ):
            entries.extend(b for c, b in _split(blob, layout.size) if c not in gone)
    if not records and not added:
        return None
    for cid, _day, record, score_list, remedy_list, change_list in added:
        records[cid] = _pack(record, names)
        kept["scores"].extend(SCORE.pack(cid, at, nps) for at, nps in score_list)
        kept["remedies"].extend(
            REMEDY.pack(cid, at, names.code(kind), cents) for at, kind, cents in remedy_list
        )
        kept["changes"].extend(CHANGE.pack(cid, at, names.code(text)) for at, text in change_list)
    if before:
        _compact(names, records, kept)
    return {
        "n": len(records),
        "names": json.dumps(names.names),
        "records": b"".join(records[c] for c in sorted(records)),
        **{name: b"".join(entries) for name, entries in kept.items()},
    }


# Where a code sits: the record's last len(CODES) integers; an entry's third field.
RECORD_CODES = struct.Struct(f"<{len(CODES)}i")
ENTRY_CODE = struct.Struct("<i")
ENTRY_CODE_AT = 12


def _compact(names: _Names, records: dict[int, bytes], kept: dict[str, list[bytes]]) -> None:
    """Drop the names no record or entry of the day uses any more, renumbering the codes: a
    text erased by `customer forget` or retention (a "what will change" text) must not stay
    in the day's names once no complaint has it (docs/architecture.md, "Customer data")."""
    at = RECORD.size - RECORD_CODES.size
    used = {c for b in records.values() for c in RECORD_CODES.unpack_from(b, at)}
    for name in ("remedies", "changes"):
        used.update(ENTRY_CODE.unpack_from(b, ENTRY_CODE_AT)[0] for b in kept[name])
    used.discard(-1)
    if len(used) == len(names.names):
        return
    new = {old: i for i, old in enumerate(sorted(used))}
    names.names[:] = [names.names[old] for old in sorted(used)]
    names.index = {text: i for i, text in enumerate(names.names)}
    for cid, b in records.items():
        codes = (new.get(c, -1) for c in RECORD_CODES.unpack_from(b, at))
        records[cid] = b[:at] + RECORD_CODES.pack(*codes)
    for name in ("remedies", "changes"):
        kept[name] = [
            b[:ENTRY_CODE_AT]
            + ENTRY_CODE.pack(new[ENTRY_CODE.unpack_from(b, ENTRY_CODE_AT)[0]])
            + b[ENTRY_CODE_AT + ENTRY_CODE.size :]
            for b in kept[name]
        ]


def _day(values: dict[str, Any]) -> Day:
    return values["names"], *(values[name] for name in BLOBS)


def encode(fresh: Sequence[Fresh]) -> tuple[int, Day]:
    """(n, (names, records, scores, remedies, changes)) of one day's complaints."""
    values = _patched(None, set(), fresh)
    assert values is not None
    return values["n"], _day(values)


def _canonical(day: Day) -> tuple[Any, ...]:
    """A day's content with codes replaced by their texts, for comparisons."""
    texts = json.loads(day[0])
    layouts = (RECORD, SCORE, REMEDY, CHANGE)
    if any(len(blob) % layout.size for blob, layout in zip(day[1:], layouts, strict=True)):
        return ("broken",)  # a blob cut or overwritten: equal to no computed day

    def text(code: int) -> str | None:
        return None if code < 0 else texts[code]

    width = len(CODES)
    rows = []
    for values in RECORD.iter_unpack(day[1]):
        rows.append((*values[:-width], tuple(text(k) for k in values[-width:])))
    return (
        tuple(rows),
        tuple(sorted(SCORE.iter_unpack(day[2]))),
        tuple(sorted((c, at, text(k), cents) for c, at, k, cents in REMEDY.iter_unpack(day[3]))),
        tuple(sorted((c, at, text(k)) for c, at, k in CHANGE.iter_unpack(day[4]))),
    )


# ---------------------------------------------------------------------------- folding


def fold(conn: Connection) -> int:
    """Recompute what the queued changes touched, in the caller's transaction; returns how
    many queue rows there were."""
    queue = table("report_queue")
    if conn.execute(select(queue.c.id).limit(1)).first() is None:
        return 0
    rows = conn.execute(
        delete(queue).returning(queue.c.complaint_id, queue.c.resolved_epoch, queue.c.customer_id)
    ).all()
    ids = sorted({cid for cid, _, _ in rows if cid is not None})
    days = {first // DAY for cid, first, _ in rows if cid is not None and first is not None}
    c = table("complaint").c
    customers = _with_customers_of(conn, ids, {cust for _, _, cust in rows if cust is not None})
    fresh: list[Fresh] = []
    for part in _chunks(ids):
        fresh.extend(compute(conn, c.id.in_(part)))
    days |= {item[1] for item in fresh}
    if days:
        _patch(conn, sorted(days), set(ids), fresh)
    for part in _chunks(customers, CUSTOMERS_PER_STATEMENT):
        _outcomes(conn, part)
    from latte_cli import active  # the active customers (revision 0019)

    # A customer alone in a row is one whose purchases changed.
    active.fold(conn, {cust for cid, _, cust in rows if cid is None and cust is not None})
    return len(rows)


def _with_customers_of(conn: Connection, ids: Sequence[int], customers: set[int]) -> list[int]:
    """`customers` and those of the complaints `ids`: a follow-up queues its complaint
    alone, and the outcome row holds the first follow-up saying the customer bought again."""
    c = table("complaint").c
    found = set(customers)
    for part in _chunks(ids):
        found.update(
            customer
            for (customer,) in conn.execute(select(c.customer_id).where(c.id.in_(part)))
            if customer is not None
        )
    return sorted(found)


def _patch(conn: Connection, days: list[int], gone: set[int], fresh: list[Fresh]) -> None:
    """Take the queued complaints out of their days and put their fresh records in. On
    PostgreSQL the day rows are created if missing and locked in day order, and an emptied
    row stays (as `summary._apply` explains for `report_day`)."""
    cohort = table("report_cohort")
    postgres = conn.dialect.name == "postgresql"
    by_day: defaultdict[int, list[Fresh]] = defaultdict(list)
    for item in fresh:
        by_day[item[1]].append(item)
    empty = {"n": 0, "names": "[]", **{name: b"" for name in BLOBS}}
    for part in _chunks(days, 300):
        if postgres:
            from sqlalchemy.dialects.postgresql import insert

            conn.execute(
                insert(cohort).values([{"day": d, **empty} for d in part]).on_conflict_do_nothing()
            )
        query = select(cohort.c.day, *_columns(cohort)).where(cohort.c.day.in_(part))
        if postgres:
            query = query.order_by(cohort.c.day).with_for_update()
        stored = {int(row[0]): _stored(row[1:]) for row in conn.execute(query)}
        for day in part:
            before = stored.get(day)
            values = _patched(before, gone, by_day.get(day, []))
            if values is None:
                if before is not None and not postgres:
                    conn.execute(cohort.delete().where(cohort.c.day == day))
                elif before is not None:
                    conn.execute(cohort.update().where(cohort.c.day == day).values(**empty))
            elif before is not None:
                conn.execute(cohort.update().where(cohort.c.day == day).values(**values))
            else:
                conn.execute(cohort.insert().values(day=day, **values))


def _columns(cohort: Table) -> list[Any]:
    return [cohort.c.names, *(cohort.c[name] for name in BLOBS)]


def _stored(row: Sequence[Any]) -> Day:
    """A day's stored columns (names, then the BLOBS) as Python values."""
    return row[0], *(bytes(blob) for blob in row[1:])


def in_window(p: Any, customer: Any, resolved: Any, window: Any) -> ColumnElement[bool]:
    """SQL: purchase `p` (a purchase table's columns) is the customer's and falls in the
    repurchase window of a resolution, (resolved, resolved + window] (docs/metrics.md,
    Outcomes): the one statement of it for the revenue kept, its sums and pairs kept at
    write time and a report's joins."""
    return and_(
        p.customer_id == customer,
        p.purchased_epoch > resolved,
        p.purchased_epoch <= resolved + window,
    )


def _outcome_select(condition: ColumnElement[bool], columns: Sequence[str] | None = None) -> Any:
    """(complaint, customer, first resolution, first purchase after it, its amount; for the
    advice: category, action kind, resolution time, first follow-up saying they bought again,
    the customer's next complaint opened after the resolution) of the first-resolved
    complaints with a customer matching `condition`. Of purchases at the same second, the
    first recorded (lowest id) gives the amount; a merged duplicate is never the next
    complaint (docs/metrics.md, "Advice for the agent")."""
    c, p, f = table("complaint").c, table("purchase").c, table("followup").c
    after = and_(p.customer_id == c.customer_id, p.purchased_epoch > c.first_resolved_epoch)
    first = select(func.min(p.purchased_epoch)).where(after).scalar_subquery()
    amount = (
        select(p.amount_cents)
        .where(after)
        .order_by(p.purchased_epoch, p.id)
        .limit(1)
        .scalar_subquery()
    )
    said = (
        select(func.min(f.recorded_epoch))
        .where(f.complaint_id == c.id, f.repurchased.is_(True))
        .scalar_subquery()
    )
    others = table("complaint").alias("other")
    other = others.c
    window = in_window(p, c.customer_id, c.first_resolved_epoch, KEPT_WINDOW)
    kept = select(func.sum(func.coalesce(p.amount_cents, 0))).where(window).scalar_subquery()
    # A purchase in the window that is also in another counted complaint's window: the
    # report counts it once per figure, from the (complaint, purchase) pairs. NULL without
    # a purchase in the window, so that each kind is one range of `ix_report_outcome_kept`.
    shared = (
        select(literal(1))
        .select_from(table("purchase").join(others, other.customer_id == p.customer_id))
        .where(
            window,
            other.id != c.id,
            other.first_resolved_epoch.is_not(None),
            other.merged_into.is_(None),
            in_window(p, other.customer_id, other.first_resolved_epoch, KEPT_WINDOW),
        )
        .exists()
    )
    again = (
        select(func.min(other.opened_epoch))
        .where(
            other.customer_id == c.customer_id,
            other.opened_epoch > c.first_resolved_epoch,
            other.merged_into.is_(None),
        )
        .scalar_subquery()
    )
    values: dict[str, Any] = {
        "complaint_id": c.id,
        "customer_id": c.customer_id,
        "resolved_epoch": c.first_resolved_epoch,
        "purchased_epoch": first,
        "amount_cents": amount,
        "category": c.category,
        "action_kind": c.action_kind,
        "resolution_seconds": c.first_resolved_epoch - c.opened_epoch,
        "said_epoch": said,
        "again_epoch": again,
        "kept_cents": kept,
        # A purchase in the window is there when the first after the resolution is (one
        # index seek, not the window's sum a second time).
        "kept_shared": case((first <= c.first_resolved_epoch + KEPT_WINDOW, shared), else_=null()),
    }
    return select(*(values[name].label(name) for name in columns or OUTCOME_COLUMNS)).where(
        _complaints(condition), c.customer_id.is_not(None)
    )


OUTCOME_COLUMNS = (
    "complaint_id",
    "customer_id",
    "resolved_epoch",
    "purchased_epoch",
    "amount_cents",
    "category",
    "action_kind",
    "resolution_seconds",
    "said_epoch",
    "again_epoch",
    "kept_cents",
    "kept_shared",
)


PAIR_COLUMNS = ("customer_id", "complaint_id", "purchase_id", "resolved_epoch", "cents")


def _pair_select(outcomes: Any) -> Any:
    """(customer, complaint, purchase, first resolution, cents) of the purchases in
    (resolved, resolved + KEPT_WINDOW] of the rows of `outcomes` (`report_outcome` or a fresh
    computation of it) whose purchases in the window are shared with another complaint
    (`kept_shared`): what a report joined for them (`fix_queries._pairs`), with the same
    cents (docs/architecture.md, "Reports over long periods")."""
    o, p = outcomes.c, table("purchase").c
    window = in_window(p, o.customer_id, o.resolved_epoch, KEPT_WINDOW)
    return (
        select(
            o.customer_id,
            o.complaint_id,
            p.id.label("purchase_id"),
            o.resolved_epoch,
            func.coalesce(p.amount_cents, 0).label("cents"),
        )
        .select_from(outcomes.join(table("purchase"), window))
        .where(o.kept_shared == true())
    )


def _outcomes(conn: Connection, customers: Sequence[int]) -> None:
    """Recompute the outcome rows of these customers' complaints, then their kept pairs
    from them (revision 0020). The list goes to the database as one parameter (a JSON array
    on SQLite, an array on PostgreSQL) and the statements are made once per dialect:
    SQLAlchemy checks each value of a literal `IN` list, building the select cost more than
    running it on a large purchases import (every buyer is queued), and the driver keeps a
    prepared statement per length of an expanded list."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        customers = _claimed(conn, customers)
        if not customers:
            return
    listed = json.dumps(list(customers)) if dialect == "sqlite" else list(customers)
    for statement in _outcome_statements(dialect):
        conn.execute(statement, {"customers": listed})


# The first key of the transaction-level advisory lock on a customer's outcome rows and kept
# pairs (PostgreSQL; the second key is the customer's id).
OUTCOME_LOCK = 7418236


def _claimed(conn: Connection, customers: Sequence[int]) -> list[int]:
    """On PostgreSQL, the customers whose outcome rows this transaction recomputes now: each
    taken with a transaction-level advisory lock, tried, never waited for (a wait could close
    a cycle with another writer's row locks). Two transactions recomputing one customer at
    once would each miss the other's uncommitted change: two first resolutions of one
    customer's complaints, committed together, left `kept_shared` and the pairs wrong with
    nothing queued. A customer another transaction holds goes back to the queue instead;
    the next fold, after that one committed, recomputes it, and until then a report counts
    from the rows (docs/architecture.md, "Storage", the repurchase outcomes)."""
    held = [
        int(customer)
        for (customer,) in conn.exec_driver_sql(
            "SELECT c FROM unnest(CAST(%(customers)s AS int[])) AS c "
            "WHERE NOT pg_try_advisory_xact_lock(%(lock)s, c)",
            {"customers": list(customers), "lock": OUTCOME_LOCK},
        )
    ]
    if not held:
        return list(customers)
    conn.execute(insert(table("report_queue")), [{"customer_id": c} for c in held])
    left = set(held)
    return [c for c in customers if c not in left]


_OUTCOME_STATEMENTS: dict[str, tuple[Any, ...]] = {}


def _upsert(dialect: str, into: Table, columns: Sequence[str], rows: Any, *, keys: int) -> Any:
    """INSERT ... SELECT `rows` into `columns` of `into`, the row of the same key (its first
    `keys` columns) updated instead."""
    from sqlalchemy.dialects import postgresql, sqlite

    flavour = postgresql if dialect == "postgresql" else sqlite
    statement = flavour.insert(into).from_select(list(columns), rows)
    return statement.on_conflict_do_update(
        index_elements=list(columns[:keys]),
        set_={name: statement.excluded[name] for name in columns[keys:]},
    )


def _outcome_statements(dialect: str) -> tuple[Any, ...]:
    """(delete, insert) of the outcome rows of the customers in the `customers` parameter,
    then (delete, insert) of their kept pairs, made from the outcome rows just written."""
    if dialect not in _OUTCOME_STATEMENTS:
        outcome, c = table("report_outcome"), table("complaint").c
        from latte_cli.active import listed as listed_customers

        listed: Any = sql_text(listed_customers(dialect))
        rows = _outcome_select(c.customer_id.in_(listed))
        # Upserts, on both stores: a complaint moved to another customer still has its row
        # under the old one until the old one's part of the fold (SQLite) or until another
        # fold of it commits (PostgreSQL); a plain insert would fail on the key.
        insert = _upsert(dialect, outcome, OUTCOME_COLUMNS, rows, keys=1)
        remove = delete(outcome).where(outcome.c.customer_id.in_(listed))
        kept, pairs = table("report_kept_pair"), outcome.alias("kept_outcome")
        shared = _pair_select(pairs).where(pairs.c.customer_id.in_(listed))
        insert_pairs = _upsert(dialect, kept, PAIR_COLUMNS, shared, keys=3)
        remove_pairs = delete(kept).where(kept.c.customer_id.in_(listed))
        _OUTCOME_STATEMENTS[dialect] = (remove, insert, remove_pairs, insert_pairs)
    return _OUTCOME_STATEMENTS[dialect]


# ---------------------------------------------------------------- rebuild and check

WINDOW_DAYS = 7


def _resolved_range(conn: Connection) -> tuple[int, int] | None:
    c = table("complaint").c
    low, high = conn.execute(
        select(func.min(c.first_resolved_epoch), func.max(c.first_resolved_epoch))
    ).one()
    return None if low is None else (int(low) // DAY, int(high) // DAY)


def expected_days(conn: Connection) -> Iterator[tuple[int, tuple[int, Day]]]:
    """The cohort summary computed afresh, day by day (a week of complaints at a time)."""
    span = _resolved_range(conn)
    if span is None:
        return
    c = table("complaint").c
    for start in range(span[0], span[1] + 1, WINDOW_DAYS):
        lo, hi = start * DAY, (start + WINDOW_DAYS) * DAY
        found = compute(conn, and_(c.first_resolved_epoch >= lo, c.first_resolved_epoch < hi))
        by_day: defaultdict[int, list[Fresh]] = defaultdict(list)
        for item in found:
            by_day[item[1]].append(item)
        for day in sorted(by_day):
            yield day, encode(by_day[day])


def rebuild(conn: Connection) -> int:
    """Recompute the cohort summary and the outcomes from the rows; returns the day rows."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "LOCK TABLE report_queue, report_cohort, report_outcome IN EXCLUSIVE MODE"
        )
    for name in ("report_queue", "report_cohort", "report_outcome"):
        conn.execute(delete(table(name)))
    # A migration before revision 0015 (which runs today's code) fills only the columns its
    # table has; revision 0015 rebuilds it.
    from sqlalchemy import inspect

    have = {column["name"] for column in inspect(conn).get_columns("report_cohort")}
    written = 0
    batch: list[dict[str, Any]] = []
    for day, (n, stored) in expected_days(conn):
        values = dict(zip(("names", *BLOBS), stored, strict=True))
        batch.append({"day": day, "n": n, **{k: v for k, v in values.items() if k in have}})
        if len(batch) >= 100:
            conn.execute(table("report_cohort").insert(), batch)
            written += len(batch)
            batch.clear()
    if batch:
        conn.execute(table("report_cohort").insert(), batch)
        written += len(batch)
    rebuild_outcomes(conn)
    return written


def rebuild_outcomes(conn: Connection) -> None:
    """Recompute every outcome row from the rows. A migration of an older revision (which
    runs today's code) fills only the columns its table has."""
    from sqlalchemy import inspect

    have = {column["name"] for column in inspect(conn).get_columns("report_outcome")}
    columns = [name for name in OUTCOME_COLUMNS if name in have]
    c = table("complaint").c
    conn.execute(delete(table("report_outcome")))
    conn.execute(
        table("report_outcome")
        .insert()
        .from_select(list(columns), _outcome_select(c.id.is_not(None), columns))
    )
    rebuild_pairs(conn)


def rebuild_pairs(conn: Connection) -> None:
    """Recompute every kept pair from the outcome rows (revision 0020; a migration of an
    older revision, which runs today's code, has no table for them)."""
    from sqlalchemy import inspect

    if not inspect(conn).has_table("report_kept_pair"):
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE report_kept_pair IN EXCLUSIVE MODE")
    kept = table("report_kept_pair")
    conn.execute(delete(kept))
    rows = _pair_select(table("report_outcome"))
    conn.execute(kept.insert().from_select(list(PAIR_COLUMNS), rows))


def pending(conn: Connection) -> bool:
    """Whether changes wait in the queue (written by another program since latte's last
    write); reports then compute from the rows."""
    return conn.execute(select(table("report_queue").c.id).limit(1)).first() is not None


def _queued(conn: Connection) -> tuple[list[int], set[int], list[int]]:
    """(complaint ids, their days, customer ids) waiting in the queue."""
    q = table("report_queue").c
    rows = conn.execute(select(q.complaint_id, q.resolved_epoch, q.customer_id)).all()
    ids = sorted({cid for cid, _, _ in rows if cid is not None})
    days = {first // DAY for cid, first, _ in rows if cid is not None and first is not None}
    customers = {customer for _, _, customer in rows if customer is not None}
    return ids, days, _with_customers_of(conn, ids, customers)


def _stored_with_queue(
    conn: Connection,
) -> tuple[dict[int, Day], set[Any], set[Any], set[int]]:
    """The stored day rows, outcome rows and kept pairs with the queued changes applied in
    memory, and the customers queued."""
    cohort = table("report_cohort")
    stored = {
        int(row[0]): _stored(row[1:])
        for row in conn.execute(select(cohort.c.day, *_columns(cohort)).where(cohort.c.n > 0))
    }
    outcome = table("report_outcome").c
    outcomes = {tuple(r) for r in conn.execute(select(*(outcome[n] for n in OUTCOME_COLUMNS)))}
    kept = table("report_kept_pair").c
    pairs = {tuple(r) for r in conn.execute(select(*(kept[n] for n in PAIR_COLUMNS)))}
    ids, days, customers = _queued(conn)
    if not ids and not customers:
        return stored, outcomes, pairs, set()
    c = table("complaint").c
    fresh: list[Fresh] = []
    for part in _chunks(ids):
        fresh.extend(compute(conn, c.id.in_(part)))
    by_day: defaultdict[int, list[Fresh]] = defaultdict(list)
    for item in fresh:
        by_day[item[1]].append(item)
    gone = set(ids)
    for day in days | set(by_day):
        values = _patched(stored.get(day), gone, by_day.get(day, []))
        if values is None:
            stored.pop(day, None)
        else:
            stored[day] = _day(values)
    moved = set(customers)
    outcomes = {row for row in outcomes if row[1] not in moved}
    pairs = {row for row in pairs if row[0] not in moved}
    for part in _chunks(customers):
        fresh_outcomes = _outcome_select(c.customer_id.in_(part))
        outcomes |= {tuple(r) for r in conn.execute(fresh_outcomes)}
        pairs |= {tuple(r) for r in conn.execute(_pair_select(fresh_outcomes.subquery()))}
    return stored, outcomes, pairs, moved


def differences(conn: Connection, limit: int = 5) -> tuple[int, list[str]]:
    """(how many days and outcomes differ from a fresh computation, a few of them); changes
    still queued (written by another program) are applied in memory first."""
    stored, have_outcomes, have_pairs, moved = _stored_with_queue(conn)
    count, shown = 0, list[str]()

    def differ(text: str) -> None:
        nonlocal count
        count += 1
        if len(shown) < limit:
            shown.append(text)

    for day, (_n, want_day) in expected_days(conn):
        have = stored.pop(day, None)
        if have is None or (have != want_day and _canonical(have) != _canonical(want_day)):
            differ(f"cohort of {_date(day)} (UTC)")
    for day in stored:
        differ(f"cohort of {_date(day)} (UTC) (no such complaints)")
    c = table("complaint").c
    want = {tuple(r) for r in conn.execute(_outcome_select(c.id.is_not(None)))}
    for row in sorted(have_outcomes ^ want, key=lambda r: r[0]):
        differ(f"repurchase outcome of complaint {row[0]}")
    # The pairs made afresh from the stored outcome rows (just compared with a fresh
    # computation) and the purchases: the same pairs as from freshly computed outcome rows
    # wherever those agree, for a thirteenth of the cost on 1M complaints. The queued
    # customers' pairs were made from fresh outcome rows above.
    made = conn.execute(_pair_select(table("report_outcome")))
    want = {tuple(r) for r in made if r[0] not in moved}
    want |= {row for row in have_pairs if row[0] in moved}
    for row in sorted(have_pairs ^ want, key=lambda r: (r[1], r[2])):
        differ(f"revenue kept of complaint {row[1]} (purchase {row[2]})")
    return count, shown


def _date(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).date().isoformat()


def records_between(
    conn: Connection,
    first_day: int,
    last_day: int,
    chunk: int = 64,
    blobs: Sequence[str] = ("records", "scores"),
) -> Iterator[list[tuple[Any, ...]]]:
    """The stored day rows first_day..last_day in day order, `chunk` rows at a time, straight
    from the driver (a full history is a thousand rows of blobs): (day, names, *blobs). On
    PostgreSQL through a server-side cursor: the driver would otherwise receive every row
    before the first is read (a full history's blobs, about 100 MB)."""
    assert set(blobs) <= set(BLOBS)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    result = conn.exec_driver_sql(
        f"SELECT day, names, {', '.join(blobs)} FROM report_cohort "
        f"WHERE day >= {mark} AND day <= {mark} AND n > 0 ORDER BY day",
        (first_day, last_day),
        execution_options={"stream_results": True},
    )
    while rows := result.fetchmany(chunk):
        yield [(int(row[0]), row[1], *(bytes(b) for b in row[2:])) for row in rows]


def _first_within(
    conn: Connection, column: str, lo: int, last: int, span: int, as_of: int
) -> str | None:
    """The ids, comma-separated, of the outcome rows first resolved in [lo, last] whose
    `column` (an epoch) falls within `span` seconds of the first resolution and by `as_of`:
    one text from an index of `report_outcome` that leads with the first resolution and
    holds `column`, not a row per complaint."""
    o = table("report_outcome").c
    ids = joined(conn, o.complaint_id)
    condition = and_(
        o.resolved_epoch >= lo,
        o.resolved_epoch <= last,
        o[column] <= o.resolved_epoch + span,
        o[column] <= as_of,
    )
    text: str | None = conn.execute(select(ids).where(condition)).scalar()
    return text


def bought_and_kept(
    conn: Connection, lo: int, last: int, window: int, as_of: int, summed_before: int | None
) -> tuple[str | None, str | None, str | None]:
    """For the outcome rows first resolved in [lo, last], from one pass over the two ranges
    of `ix_report_outcome_kept` that hold those with a purchase within KEPT_WINDOW of the
    first resolution (revision 0017), comma-separated texts: the ids whose customer bought
    again within `window` (at most KEPT_WINDOW) by `as_of`, as `bought` gives them; and with
    `summed_before`, the ids and, in the same order, the `kept_cents` of those first resolved
    before it whose purchases in the window follow no other complaint (`kept_shared` false):
    the revenue kept summed at write time (docs/architecture.md, "Reports over long
    periods"). Plain integers in each text: joining two per row took longer than the pass."""
    assert window <= KEPT_WINDOW
    o = table("report_outcome").c
    resolved = o.resolved_epoch
    bought_now = and_(o.purchased_epoch <= resolved + window, o.purchased_epoch <= as_of)
    aggregates = [joined(conn, o.complaint_id).filter(bought_now)]
    if summed_before is not None:
        alone = and_(o.kept_shared.is_(False), resolved < summed_before)
        aggregates += [joined(conn, o.complaint_id).filter(alone)]
        aggregates += [joined(conn, o.kept_cents).filter(alone)]
    condition = and_(o.kept_shared.in_([False, True]), resolved >= lo, resolved <= last)
    found = conn.execute(select(*aggregates).where(condition)).one()
    if summed_before is None:
        return found[0], None, None
    return found[0], found[1], found[2]


def joined(conn: Connection, values: ColumnElement[Any]) -> ColumnElement[str]:
    """SQL: a group's integers as one comma-separated text (NULLs left out), so that a
    million values cross from the database as a few strings, not a million rows."""
    if conn.dialect.name == "postgresql":
        return func.string_agg(values.cast(Text), ",")
    return func.group_concat(values)


def came_again(conn: Connection, lo: int, last: int, repeat: int, as_of: int) -> str | None:
    """The ids, comma-separated, of the complaints first resolved in [lo, last] whose
    customer opened another complaint (not a merged duplicate) within `repeat` seconds of the
    first resolution, by `as_of` (docs/metrics.md, "Repeat complaints"), from
    `ix_report_outcome_again` (revision 0015)."""
    return _first_within(conn, "again_epoch", lo, last, repeat, as_of)


def bought(conn: Connection, lo: int, last: int, window: int, as_of: int) -> str | None:
    """The ids, comma-separated, of the complaints first resolved in [lo, last] whose
    customer bought again within `window` seconds of the first resolution, by `as_of`
    (docs/metrics.md, Outcomes), from `ix_report_outcome_bought`."""
    return _first_within(conn, "purchased_epoch", lo, last, window, as_of)
