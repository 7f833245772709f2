"""The locks of the active customers' recomputation on PostgreSQL (`active.refresh`;
docs/architecture.md, "Active customers"): a customer whose row another transaction holds is
put back in the queue, not recomputed, and a later recomputation finishes it."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from latte_cli import active, db, summary

from .test_active_customers import START, YEAR, _buy, _customers, plain_active
from .test_active_refresh import _add, _purchases, _stored, plain_slots, plain_stretches

DAY = 86_400


def _queued(conn: Connection) -> set[int]:
    return {int(c) for (c,) in conn.execute(text("SELECT customer_id FROM active_queue"))}


def test_a_customer_held_elsewhere_is_requeued_and_finished_by_the_next_refresh(
    db_url: str,
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("one writer at a time on SQLite: no customer is held elsewhere")
    with db.open_session(db_url) as session:
        held, free = _customers(session, 2)
        _buy(session, held, START - 200 * DAY, "H0")
        _buy(session, free, START - 300 * DAY, "F0")
        session.commit()  # folded: both customers' stretches written
    engine = db.get_engine(db_url)
    with engine.connect() as conn:
        before, _ = _stored(conn)
        conn.rollback()
        # An import's pages: both customers queued, their stretches not recomputed yet.
        with active.deferred(conn), conn.begin():
            _add(conn, held, START - 100 * DAY, "H1")
            _add(conn, held, START + YEAR + 5, "H2")
            _add(conn, free, START - 10 * DAY, "F1")
            _add(conn, free, START + 2 * YEAR, "F2")
            summary.fold(conn)
        assert _queued(conn) == {held, free}
        conn.commit()
    holder = engine.connect()
    try:
        holding = holder.begin()
        holder.execute(text("SELECT id FROM customer WHERE id = :c FOR UPDATE"), {"c": held})
        with engine.connect() as conn:
            with conn.begin():
                active.refresh(conn)  # the import's end, while `held` is held
            stretches, slots = _stored(conn)
            purchases = _purchases(conn)
            assert _queued(conn) == {held}
            assert {s for s in stretches if s[0] == held} == {s for s in before if s[0] == held}
            expected = plain_stretches([(c, t) for c, t in purchases if c == free])
            assert {s for s in stretches if s[0] == free} == expected
            assert slots == plain_slots(stretches)
            # Reports stay exact meanwhile: the queued customer counts from its purchases.
            for end in (START, START + YEAR + DAY, START + 2 * YEAR + DAY):
                assert active.at(conn, end) == plain_active(purchases, end, end)
        holding.rollback()
    finally:
        holder.close()
    with engine.connect() as conn:
        with conn.begin():
            active.refresh(conn)  # the next recomputation
        stretches, slots = _stored(conn)
        expected = plain_stretches(_purchases(conn))
        assert {s[0] for s in expected} == {held, free}
        assert stretches == expected
        assert slots == plain_slots(expected)
        assert _queued(conn) == set()
