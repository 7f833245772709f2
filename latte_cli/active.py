"""Active customers kept at write time (revision 0019; docs/metrics.md, "Complaints per 1,000
active customers"; docs/architecture.md, "Active customers").

A customer is active at an end E when some purchase p of theirs has E - 365 d <= p < E, that
is when E lies in the union of (p, p + 365 d] over their purchases. Three tables keep it:

- `active_stretch`: one row per stretch (start, end] of that union, per customer. A purchase
  365 days or more after the one before starts a new stretch.
- `active_slot`: per quarter of an hour (slot = epoch // 900), the stretches starting in it
  less those ending in it. The active customers at an end on a quarter hour (every local
  midnight of every zone) are the sum of the slots before it: one range of a small table,
  whatever the number of purchases.
- `active_queue`: the customers whose stretches wait to be recomputed.

The purchase triggers of revision 0009 queue the customer in `report_queue`; the fold
(`cohort.fold`) passes them to `fold`, which recomputes their stretches (and any queued
ones) before the commit. A purchases import only queues them, page by page, and recomputes
them once at its end (`deferred`), so a customer bought from on every page is recomputed once.
A report reads the slots and corrects them for the customers still queued (a killed import,
another program's changes): their stored stretches out, a count of their purchases in.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select, union
from sqlalchemy import text as sql_text
from sqlmodel import SQLModel

from latte_cli import models  # noqa: F401  (registers the tables on SQLModel.metadata)

# A customer is active for 365 days after each purchase (docs/metrics.md, "Complaints per
# 1,000 active customers"): the one place the window is written.
YEAR = 365 * 86_400
SLOT = 900
ROWS_PER_INSERT = 10_000
# Set on a connection while a purchases import writes its pages (see `deferred`).
DEFERRED = "latte_active_deferred"


def table(name: str) -> Table:
    return SQLModel.metadata.tables[name]


# The stretches of the listed customers, in SQL: what `rebuild` writes and `latte db check`
# compares with, a computation independent of the fold's (`stretches`). A row starts a
# stretch when the purchase before is a year or more earlier, ends one when the purchase after
# is a year or more later (of tied rows only the first can start and only the last can end,
# whatever their order); a starting row that does not also end its stretch is followed, among
# such rows, by the one that does.
FRESH = """
WITH ordered AS (
    SELECT customer_id AS c, purchased_epoch AS t,
           lag(purchased_epoch) OVER w AS before, lead(purchased_epoch) OVER w AS after
    FROM purchase WHERE customer_id IN ({listed})
    WINDOW w AS (PARTITION BY customer_id ORDER BY purchased_epoch)
), edges AS (
    SELECT c, t, before IS NULL OR t - before >= :year AS starts,
           after IS NULL OR after - t >= :year AS ends
    FROM ordered WHERE before IS NULL OR t - before >= :year OR after IS NULL OR after - t >= :year
), paired AS (
    SELECT c, t, starts,
           CASE WHEN ends THEN t ELSE lead(t) OVER (PARTITION BY c ORDER BY t, ends) END AS last
    FROM edges
)
SELECT c, t, last + :year FROM paired WHERE starts
"""


def listed(dialect: str) -> str:
    """A select of the customers in the `:customers` parameter: the list crosses as one
    parameter (a JSON text on SQLite, an array on PostgreSQL; see `cohort._outcomes`)."""
    if dialect == "postgresql":
        return "SELECT unnest(CAST(:customers AS bigint[]))"
    return "SELECT value FROM json_each(:customers)"


def _parameter(conn: Connection, customers: Sequence[int]) -> Any:
    return list(customers) if conn.dialect.name == "postgresql" else json.dumps(list(customers))


def fold(conn: Connection, customers: Iterable[int]) -> None:
    """Recompute the stretches of these customers (whose purchases changed) and of the queued
    ones, in the caller's transaction; during a purchases import only queue them."""
    wanted = sorted(set(customers))
    if conn.info.get(DEFERRED):
        _queue(conn, wanted)
    else:
        refresh(conn, wanted)


def _queue(conn: Connection, customers: Sequence[int]) -> None:
    if customers:
        # WHERE true: SQLite's parser needs it before ON CONFLICT after a SELECT.
        statement = f"INSERT INTO active_queue (customer_id) {listed(conn.dialect.name)} "
        statement += "WHERE true ON CONFLICT DO NOTHING"
        conn.execute(sql_text(statement), {"customers": _parameter(conn, customers)})


@contextmanager
def deferred(conn: Connection) -> Iterator[None]:
    """While a purchases import writes its pages: its folds queue the customers instead of
    recomputing them page after page; the import calls `refresh` once at its end. Each page
    commits its queue rows with its purchases, so a killed import leaves them queued."""
    conn.info[DEFERRED] = True
    try:
        yield
    finally:
        conn.info.pop(DEFERRED, None)


def refresh(conn: Connection, customers: Sequence[int] = ()) -> None:
    """Recompute the stretches of these customers and of every queued one, in one pass: their
    old stretches deleted (taken out of the slots) and the fresh ones written from their
    purchases. On PostgreSQL the server does the work (`_recompute_on_server`); on SQLite the
    purchases are read through the driver's cursor in customer and time order (one range of
    `ix_purchase_customer_time` each) and the stretches computed here (`stretches`): an
    import's end recomputes tens of thousands of customers, and rows built for each would
    cost more than the work."""
    cursor = conn.connection.cursor()
    if conn.dialect.name == "postgresql":
        taken = _claim(conn, cursor, customers)
        if taken:
            _recompute_on_server(cursor, taken)
        return
    # One writer at a time: the queue cannot change under the statements below, which read
    # it where it lies (no list of tens of thousands crossing into Python and back).
    _queue(conn, sorted(set(customers)))
    cursor.execute("SELECT 1 FROM active_queue LIMIT 1")
    if cursor.fetchone() is None:
        return
    customers_sql = "SELECT customer_id FROM active_queue"
    cursor.execute(
        f"DELETE FROM active_stretch WHERE customer_id IN ({customers_sql}) "
        "RETURNING start_epoch, end_epoch"
    )
    old = cursor.fetchall()
    slots = Counter(end // SLOT for _, end in old)
    slots.subtract(Counter(start // SLOT for start, _ in old))
    cursor.execute(
        f"SELECT customer_id, purchased_epoch FROM purchase WHERE customer_id IN ({customers_sql}) "
        "ORDER BY customer_id, purchased_epoch"
    )
    fresh = stretches(cursor)
    slots.update(Counter(start // SLOT for _, start, _ in fresh))
    slots.subtract(Counter(end // SLOT for _, _, end in fresh))
    insert = "INSERT INTO active_stretch (customer_id, start_epoch, end_epoch) VALUES (?, ?, ?)"
    cursor.executemany(insert, fresh)
    cursor.execute("DELETE FROM active_queue")
    cursor.executemany(
        "INSERT INTO active_slot (slot, change) VALUES (?, ?) ON CONFLICT (slot) "
        "DO UPDATE SET change = active_slot.change + excluded.change",
        [(slot, n) for slot, n in slots.items() if n],
    )


def _claim(conn: Connection, cursor: Any, customers: Sequence[int]) -> list[int]:
    """On PostgreSQL, the customers to recompute: these and the queued ones, claimed, less the
    ones another transaction holds (back to the queue)."""
    # Concurrent writers: the customers are claimed (DELETE ... RETURNING) and passed as one
    # fixed list, so that another writer's queue rows committed meanwhile are not
    # half-recomputed here.
    taken: set[int] = set(customers)
    cursor.execute("SELECT 1 FROM active_queue LIMIT 1")
    if cursor.fetchone() is not None:
        cursor.execute("DELETE FROM active_queue RETURNING customer_id")
        taken.update(c for (c,) in cursor.fetchall())
    if not taken:
        return []
    # Two writers recomputing one customer would both move its stretches' slots, so the
    # customer rows are locked: FOR NO KEY UPDATE, as a purchase's foreign key holds FOR KEY
    # SHARE on its customer (FOR UPDATE would wait for the other writer's purchase). SKIP
    # LOCKED: waiting for a customer another transaction holds (a merge updates its source
    # customer, then folds the target) could close a cycle. A customer held elsewhere goes
    # back to the queue for the next recomputation; meanwhile reports correct for it
    # (docs/architecture.md, "Active customers").
    # Locked first: when every customer is, none exists that is held elsewhere (an import's
    # end, as a rule), and the second look-up is spared.
    wanted = sorted(taken)
    these = "SELECT id FROM customer WHERE id = ANY(CAST(%s AS bigint[]))"
    cursor.execute(f"{these} FOR NO KEY UPDATE SKIP LOCKED", (wanted,))
    locked = {c for (c,) in cursor.fetchall()}
    if len(locked) == len(wanted):
        return wanted
    cursor.execute(these, (wanted,))
    held_elsewhere = {c for (c,) in cursor.fetchall()} - locked
    if held_elsewhere:
        _queue(conn, sorted(held_elsewhere))
        wanted = sorted(taken - held_elsewhere)
    return wanted


# The slot (epoch // 900, rounded down as Python's // is) of an epoch column, in SQL.
SLOT_OF = f"CASE WHEN {{0}} >= 0 THEN {{0}} / {SLOT} ELSE -(({SLOT - 1} - {{0}}) / {SLOT}) END"

# The fresh stretches of the customers in the array `%(customers)s`, written, and the slot
# changes of the old ones (`%(slots)s`, `%(changes)s`) and of the fresh ones summed and
# upserted, in one statement on the server. Islands: a purchase starts a stretch when it is
# the customer's first or comes a year or more after the one before (`lag`); a running count
# of the starts numbers each purchase's stretch, which runs from its first purchase to a
# year after its last. Of purchases in the same second only one can start a stretch, which
# one depends on the order the server gives them; the count runs over peers (the default
# frame, RANGE), so all of them get the same number whatever that order. The slot rows are
# upserted in slot order: concurrent recomputations take their locks in one order.
RECOMPUTE = f"""
WITH marked AS (
    SELECT customer_id, purchased_epoch AS t,
           CASE WHEN purchased_epoch - lag(purchased_epoch) OVER w < %(year)s
                THEN 0 ELSE 1 END AS starts
    FROM purchase WHERE customer_id = ANY(CAST(%(customers)s AS bigint[]))
    WINDOW w AS (PARTITION BY customer_id ORDER BY purchased_epoch)
), numbered AS (
    SELECT customer_id, t,
           sum(starts) OVER (PARTITION BY customer_id ORDER BY t) AS k
    FROM marked
), fresh AS (
    INSERT INTO active_stretch (customer_id, start_epoch, end_epoch)
    SELECT customer_id, min(t), max(t) + %(year)s FROM numbered GROUP BY customer_id, k
    RETURNING start_epoch, end_epoch
), changes (slot, change) AS (
    SELECT {SLOT_OF.format("start_epoch")}, 1 FROM fresh
    UNION ALL SELECT {SLOT_OF.format("end_epoch")}, -1 FROM fresh
    UNION ALL SELECT * FROM unnest(CAST(%(slots)s AS bigint[]), CAST(%(changes)s AS int[]))
)
INSERT INTO active_slot (slot, change)
SELECT slot, sum(change) FROM changes GROUP BY slot HAVING sum(change) <> 0 ORDER BY slot
ON CONFLICT (slot) DO UPDATE SET change = active_slot.change + excluded.change
"""


def _recompute_on_server(cursor: Any, customers: list[int]) -> None:
    """Recompute these customers' stretches on PostgreSQL in two statements: their old
    stretches deleted, with the slot changes taking them out summed (one row back), then
    `RECOMPUTE`. Two statements, as a fresh stretch may have an old one's key: within one
    statement the insert could run before the delete."""
    cursor.execute(
        f"""WITH old AS (
            DELETE FROM active_stretch WHERE customer_id = ANY(CAST(%(customers)s AS bigint[]))
            RETURNING start_epoch, end_epoch
        ), changes (slot, change) AS (
            SELECT {SLOT_OF.format("end_epoch")}, 1 FROM old
            UNION ALL SELECT {SLOT_OF.format("start_epoch")}, -1 FROM old
        ), summed AS (
            SELECT slot, sum(change) AS change FROM changes GROUP BY slot
        )
        SELECT coalesce(array_agg(slot), '{{}}'), coalesce(array_agg(change), '{{}}')
        FROM summed WHERE change <> 0""",
        {"customers": customers},
    )
    slots, changes = cursor.fetchone()
    cursor.execute(
        RECOMPUTE, {"customers": customers, "year": YEAR, "slots": slots, "changes": changes}
    )


def stretches(rows: Iterable[Sequence[Any]] | Any) -> list[tuple[int, int, int]]:
    """(customer, start, end) of each stretch, from (customer, purchase time) rows sorted by
    customer and time: a purchase 365 days or more after the one before starts a new stretch,
    which ends 365 days after its last purchase."""
    found: list[tuple[int, int, int]] = []
    customer: int | None = None
    start = last = 0
    for cid, t in rows:
        if cid != customer or t - last >= YEAR:
            if customer is not None:
                found.append((customer, start, last + YEAR))
            customer, start = cid, t
        last = t
    if customer is not None:
        found.append((customer, start, last + YEAR))
    return found


def rebuild(conn: Connection) -> int:
    """Recompute the three tables from the purchases; returns the stretch rows written."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "LOCK TABLE active_queue, active_stretch, active_slot IN EXCLUSIVE MODE"
        )
    stretch, slot_table = table("active_stretch"), table("active_slot")
    for name in ("active_queue", "active_stretch", "active_slot"):
        conn.execute(delete(table(name)))
    slots: defaultdict[int, int] = defaultdict(int)
    batch: list[dict[str, int]] = []
    written = 0
    for customer, start, end in _expected(conn):
        batch.append({"customer_id": customer, "start_epoch": start, "end_epoch": end})
        slots[start // SLOT] += 1
        slots[end // SLOT] -= 1
        if len(batch) >= ROWS_PER_INSERT:
            conn.execute(stretch.insert(), batch)
            written += len(batch)
            batch.clear()
    if batch:
        conn.execute(stretch.insert(), batch)
        written += len(batch)
    rows = [{"slot": s, "change": n} for s, n in sorted(slots.items()) if n]
    for start in range(0, len(rows), ROWS_PER_INSERT):
        conn.execute(slot_table.insert(), rows[start : start + ROWS_PER_INSERT])
    return written


def _expected(conn: Connection) -> Iterator[tuple[int, int, int]]:
    """(customer, start, end) of every customer's stretches, computed afresh in SQL from the
    purchases (`FRESH`), in customer order."""
    query = FRESH.format(listed="SELECT id FROM customer") + " ORDER BY c, t"
    rows = conn.execute(sql_text(query).execution_options(yield_per=50_000), {"year": YEAR})
    for customer, start, end in rows:
        yield int(customer), int(start), int(end)


def _per_customer(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[int, list[tuple[int, int]]]]:
    """(customer, [(start, end), ...]) from rows sorted by customer."""
    customer: int | None = None
    found: list[tuple[int, int]] = []
    for cid, start, end in rows:
        if cid != customer:
            if customer is not None:
                yield customer, found
            customer, found = int(cid), []
        found.append((int(start), int(end)))
    if customer is not None:
        yield customer, found


def _queued() -> Any:
    """A select of the customers whose stored stretches may be stale: queued here, or queued
    by another program's purchase change not folded yet."""
    q, r = table("active_queue").c, table("report_queue").c
    purchases = select(r.customer_id).where(r.complaint_id.is_(None), r.customer_id.is_not(None))
    return union(select(q.customer_id), purchases)


def differences(conn: Connection, limit: int = 5) -> tuple[int, list[str]]:
    """(how many customers' stretches and slots differ from a fresh computation, a few). Both
    sides are read in customer order and compared one customer at a time. A queued customer
    is left out (the next fold recomputes them; reports correct for them meanwhile): their
    stored stretches stand in for the fresh ones."""
    stretch, slot_table = table("active_stretch").c, table("active_slot").c
    queued = {int(cid) for (cid,) in conn.execute(_queued())}
    slots: defaultdict[int, int] = defaultdict(int)
    wanted = _per_customer(_expected(conn))
    stored = _per_customer(
        conn.execute(
            select(stretch.customer_id, stretch.start_epoch, stretch.end_epoch)
            .order_by(stretch.customer_id, stretch.start_epoch)
            .execution_options(yield_per=50_000)
        )
    )
    shown: list[str] = []
    count = 0

    def compare(customer: int, fresh: list[tuple[int, int]], kept: list[tuple[int, int]]) -> None:
        nonlocal count
        if customer in queued:
            fresh = kept
        for start, end in kept:
            slots[start // SLOT] += 1
            slots[end // SLOT] -= 1
        if fresh != kept:
            count += 1
            if len(shown) < limit:
                shown.append(f"active customers of customer {customer} differ from purchases")

    want, have = next(wanted, None), next(stored, None)
    while want is not None or have is not None:
        if have is None or (want is not None and want[0] < have[0]):
            assert want is not None
            compare(want[0], want[1], [])
            want = next(wanted, None)
        elif want is None or have[0] < want[0]:
            compare(have[0], [], have[1])
            have = next(stored, None)
        else:
            compare(want[0], want[1], have[1])
            want, have = next(wanted, None), next(stored, None)
    kept = {s: n for s, n in conn.execute(select(slot_table.slot, slot_table.change)) if n}
    computed = {s: n for s, n in slots.items() if n}
    for slot in sorted(set(kept) | set(computed)):
        if kept.get(slot) != computed.get(slot):
            count += 1
            if len(shown) < limit:
                when = datetime.fromtimestamp(slot * SLOT, UTC).strftime("%Y-%m-%d %H:%M")
                shown.append(f"active customers changing at {when} UTC differ from purchases")
    return count, shown


def at(conn: Connection, end: int) -> int | None:
    """The active customers at `end` (purchases in [end - 365 d, end)) from the summary, or
    None when `end` is not on a quarter hour. The customers still queued are counted from
    their purchases instead of their stored stretches."""
    if end % SLOT:
        return None
    s, st, p = table("active_slot").c, table("active_stretch").c, table("purchase").c
    queued = _queued().subquery()
    kept = select(func.coalesce(func.sum(s.change), 0)).where(s.slot < end // SLOT)
    stale = select(func.count()).where(
        st.customer_id.in_(select(queued.c.customer_id)), st.start_epoch < end, st.end_epoch >= end
    )
    fresh = select(func.count(func.distinct(p.customer_id))).where(
        p.customer_id.in_(select(queued.c.customer_id)),
        p.purchased_epoch >= end - YEAR,
        p.purchased_epoch < end,
    )
    found = select(kept.scalar_subquery() - stale.scalar_subquery() + fresh.scalar_subquery())
    return int(conn.execute(found).scalar() or 0)
