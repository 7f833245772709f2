"""The recomputation at a purchases import's end (`active.refresh`; on PostgreSQL done on the
server, docs/architecture.md, "Active customers"): on both stores the stretches and slots it
writes equal a plain computation of the union of (p, p + 365 d] over each customer's
purchases, for the edge cases: purchases exactly 365 days apart, one second short of it,
purchases in the same second, a customer whose purchases were all deleted, a customer queued
and named twice, purchases before 1970 (slots rounded down)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from latte_cli import active, db, summary

from .test_active_customers import START, YEAR, _buy, _customers

DAY = 86_400


def plain_stretches(purchases: list[tuple[int, int]]) -> set[tuple[int, int, int]]:
    """(customer, start, end) of each stretch: the customer's purchases in time order, each
    interval (t, t + 365 d] merged into the one before when it starts inside it."""
    times: defaultdict[int, list[int]] = defaultdict(list)
    for customer, t in purchases:
        times[customer].append(t)
    found: set[tuple[int, int, int]] = set()
    for customer, moments in times.items():
        moments.sort()
        start, end = moments[0], moments[0] + YEAR
        for t in moments[1:]:
            if t < end:
                end = t + YEAR
            else:
                found.add((customer, start, end))
                start, end = t, t + YEAR
        found.add((customer, start, end))
    return found


def plain_slots(stretches: set[tuple[int, int, int]]) -> dict[int, int]:
    """Per quarter hour (floor of epoch / 900): the stretches starting less those ending."""
    change: Counter[int] = Counter()
    for _, start, end in stretches:
        change[start // 900] += 1
        change[end // 900] -= 1
    return {slot: n for slot, n in change.items() if n}


def _purchases(conn: Connection) -> list[tuple[int, int]]:
    rows = conn.execute(text("SELECT customer_id, purchased_epoch FROM purchase"))
    return [(int(c), int(t)) for c, t in rows]


def _stored(conn: Connection) -> tuple[set[tuple[int, int, int]], dict[int, int]]:
    rows = conn.execute(text("SELECT customer_id, start_epoch, end_epoch FROM active_stretch"))
    slots = conn.execute(text("SELECT slot, change FROM active_slot WHERE change <> 0"))
    return {(int(c), int(s), int(e)) for c, s, e in rows}, {int(s): int(n) for s, n in slots}


def _add(conn: Connection, customer: int, t: int, ref: str) -> None:
    conn.execute(
        text(
            "INSERT INTO purchase (order_ref, customer_id, purchased_at, purchased_epoch, "
            "amount_cents, lines) VALUES (:ref, :c, :at, :t, 100, 1)"
        ),
        {"ref": ref, "c": customer, "at": datetime.fromtimestamp(t, UTC), "t": t},
    )


def test_an_import_end_writes_the_stretches_of_a_plain_computation(db_url: str) -> None:
    with db.open_session(db_url) as session:
        customers = _customers(session, 8)
        apart, short, same, emptied, twice, early, moved, untouched = customers
        # Written and folded as latte writes them, before the import.
        for i, customer in enumerate(customers):
            _buy(session, customer, START - (i + 1) * 50 * DAY, f"B{i}")
        _buy(session, emptied, START - 20 * DAY, "E1")
        _buy(session, moved, START - 30 * DAY, "M1")
        session.commit()
    engine = db.get_engine(db_url)
    with engine.connect() as conn:
        # The import's pages: their folds only queue the customers.
        with active.deferred(conn), conn.begin():
            for n, t in enumerate((START, START + YEAR, START + 2 * YEAR - 1)):
                _add(conn, apart, t, f"A{n}")
            _add(conn, short, START - 100 * DAY + YEAR - 1, "S0")
            for n, t in enumerate((START, START, START, START + YEAR, START + YEAR)):
                _add(conn, same, t, f"T{n}")
            conn.execute(text("DELETE FROM purchase WHERE customer_id = :c"), {"c": emptied})
            _add(conn, twice, START - 10 * DAY, "W0")
            for n, t in enumerate((-1000, -3 * 900 - 1, -YEAR - 1, 1)):
                _add(conn, early, t, f"P{n}")
            conn.execute(
                text("UPDATE purchase SET purchased_epoch = :t WHERE order_ref = 'M1'"),
                {"t": START + 400 * DAY},
            )
            summary.fold(conn)
        queued = {int(c) for (c,) in conn.execute(text("SELECT customer_id FROM active_queue"))}
        assert queued == {apart, short, same, emptied, twice, early, moved}
        conn.commit()
        with conn.begin():
            # The queued customers, one of them named twice more, and one not queued.
            active.refresh(conn, [twice, twice, untouched])
        stretches, slots = _stored(conn)
        expected = plain_stretches(_purchases(conn))
        assert not {s for s in expected if s[0] == emptied}
        # Exactly 365 days apart: two stretches; one second short of it: one.
        assert {s for s in expected if s[0] == apart} == {
            (apart, START - 50 * DAY, START + YEAR),
            (apart, START + YEAR, START + 3 * YEAR - 1),
        }
        assert {s for s in expected if s[0] == short} == {
            (short, START - 100 * DAY, START - 100 * DAY + 2 * YEAR - 1)
        }
        assert stretches == expected
        assert slots == plain_slots(expected)
        assert conn.execute(text("SELECT count(*) FROM active_queue")).scalar() == 0
        assert active.differences(conn) == (0, [])
