"""Active customers kept at write time (revision 0019, `latte_cli.active`): the count a
report reads equals a plain count of the purchases in [end - 365 d, end) known by as-of,
after purchases are added out of order, moved, deleted and forgotten, on both stores, and
while customers wait in the queue (a killed import, another program's changes)."""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, text
from sqlmodel import Session, select

from latte_cli import active, db, summary
from latte_cli.importer import purchases as purchases_importer
from latte_cli.models import Customer, Purchase
from latte_cli.reports import fix_queries
from latte_cli.reports.periods import Period
from latte_cli.services import integrity
from latte_cli.services.customers import write_keys

from .conftest import Latte

DAY = 86_400
YEAR = 365 * DAY
# 2026-01-01 00:00 UTC, an end off the day boundary (a desk in UTC+05:30's midnight), and
# one off the quarter hour (counted from the purchases).
START = 1_767_225_600
ENDS = [START + k * 7 * DAY for k in range(-60, 60, 3)]
ENDS += [START + 37 * DAY - 19_800, START + 51 * DAY + 7]


def plain_active(purchases: list[tuple[int, int]], end: int, as_of: int) -> int:
    """Distinct customers with a purchase in [end - 365 d, end) at or before as-of."""
    return len({c for c, t in purchases if end - YEAR <= t < min(end, as_of + 1)})


def _customers(session: Session, n: int) -> list[int]:
    first = len(session.exec(select(Customer)).all())
    rows = [
        Customer(ref=f"C{first + i}", created_at=datetime(2024, 1, 1, tzinfo=UTC)) for i in range(n)
    ]
    for row in rows:
        write_keys(row)
    session.add_all(rows)
    session.flush()
    return [c.id for c in rows if c.id is not None]


def _buy(session: Session, customer: int, t: int, ref: str) -> None:
    session.add(
        Purchase(
            order_ref=ref,
            customer_id=customer,
            purchased_at=datetime.fromtimestamp(t, UTC),
            purchased_epoch=t,
            amount_cents=100,
        )
    )


def _bought(session: Session) -> list[tuple[int, int]]:
    return [(p.customer_id, p.purchased_epoch) for p in session.exec(select(Purchase)).all()]


def _check_every_end(session: Session) -> None:
    purchases = _bought(session)
    conn = session.connection()
    for end in ENDS:
        period = Period(end - 7 * DAY, end, "")
        far = end + 400 * DAY
        kept = active.at(conn, end)
        assert kept == (None if end % 900 else plain_active(purchases, end, far)), end
        assert fix_queries.active_customers(conn, period, far) == plain_active(purchases, end, far)
        # As-of inside the period, or before it: the purchases after as-of do not count.
        for as_of in (end - 1, end - 3 * DAY, end - 200 * DAY):
            found = fix_queries.active_customers(conn, period, as_of)
            assert found == plain_active(purchases, end, as_of), (end, as_of)
    assert active.differences(conn) == (0, [])


def test_active_customers_match_the_purchases_through_every_change(db_url: str) -> None:
    rng = random.Random(12)
    with db.open_session(db_url) as session:
        customers = _customers(session, 40)
        # Customers with only the edge purchases below.
        edge = _customers(session, 6)
        session.commit()
        ref = iter(range(1_000_000))
        # Later purchases first, then older ones, in separate commits (an import out of order).
        for low, high in ((START, START + 300 * DAY), (START - 500 * DAY, START)):
            for _ in range(120):
                _buy(session, rng.choice(customers), rng.randrange(low, high), f"O{next(ref)}")
            session.commit()
        # The 365-day edges of one end: at end - 365 d counts, at end and before the window
        # does not; two purchases exactly a year apart, and two in the same second.
        end = ENDS[20]
        for customer, t in zip(
            edge,
            (end - YEAR, end, end - YEAR - 1, end - 1, end - YEAR, end - YEAR),
            strict=True,
        ):
            _buy(session, customer, t, f"O{next(ref)}")
        _buy(session, edge[4], end - YEAR + YEAR, f"O{next(ref)}")
        _buy(session, edge[5], end - YEAR, f"O{next(ref)}")
        session.commit()
        _check_every_end(session)

        # Moved to another customer (a merge), moved in time, deleted.
        purchases = session.exec(select(Purchase).order_by(Purchase.id)).all()
        for purchase in purchases[::7]:
            purchase.customer_id = rng.choice(customers)
            session.add(purchase)
        for purchase in purchases[3::11]:
            purchase.purchased_epoch += rng.randrange(-400, 400) * DAY
            purchase.purchased_at = datetime.fromtimestamp(purchase.purchased_epoch, UTC)
            session.add(purchase)
        for purchase in purchases[5::13]:
            session.delete(purchase)
        session.commit()
        _check_every_end(session)

        # Every purchase of one customer deleted, then the customer too.
        gone = customers[-1]
        for purchase in session.exec(select(Purchase).where(Purchase.customer_id == gone)):
            session.delete(purchase)
        session.flush()
        session.delete(session.get(Customer, gone))
        session.commit()
        _check_every_end(session)


def test_forgotten_customers_keep_counting(latte: Latte, db_url: str) -> None:
    with db.open_session(db_url) as session:
        [customer] = _customers(session, 1)
        _buy(session, customer, START - 10 * DAY, "F1")
        session.commit()
    latte.ok("customer", "forget", "C0", "--reason", "erasure request", "--yes")
    with db.open_session(db_url) as session:
        _check_every_end(session)
        assert active.at(session.connection(), START) == 1


def _queued(conn: Connection) -> set[int]:
    return {int(c) for (c,) in conn.execute(text("SELECT customer_id FROM active_queue"))}


def test_changes_written_by_another_program_are_counted_from_the_purchases(db_url: str) -> None:
    with db.open_session(db_url) as session:
        customers = _customers(session, 3)
        _buy(session, customers[0], START - 5 * DAY, "P1")
        _buy(session, customers[1], START - 300 * DAY, "P0")
        session.commit()
    # Written without latte's fold: the purchase trigger queues the customer only. Customer
    # 1's stored stretch (active at START) no longer holds; customer 1 buys again and
    # customer 0's purchase moves out of the year.
    engine = db.get_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO purchase (order_ref, customer_id, purchased_at, purchased_epoch, "
                "amount_cents, lines) VALUES ('P2', :c, :at, :t, 100, 1)"
            ),
            {"c": customers[1], "at": datetime.fromtimestamp(START - DAY, UTC), "t": START - DAY},
        )
        moved = START - 400 * DAY
        conn.execute(
            text(
                "UPDATE purchase SET purchased_epoch = :t, purchased_at = :at "
                "WHERE order_ref = 'P1'"
            ),
            {"t": moved, "at": datetime.fromtimestamp(moved, UTC)},
        )
    with db.open_session(db_url, readonly=True) as session:
        conn = session.connection()
        purchases = _bought(session)
        for end in ENDS:
            expected = plain_active(purchases, end, end + DAY)
            period = Period(end - 7 * DAY, end, "")
            assert fix_queries.active_customers(conn, period, end + DAY) == expected, end
        # db check leaves the queued customers to the next fold rather than call them wrong.
        assert active.differences(conn) == (0, [])
    with db.open_session(db_url) as session:
        _buy(session, customers[2], START - 2 * DAY, "P3")
        session.commit()  # latte's fold takes the other program's changes too
        conn = session.connection()
        assert not _queued(conn)
        assert active.at(conn, START) == 2
        _check_every_end(session)


def test_check_finds_a_wrong_summary_and_rebuild_repairs_it(db_url: str) -> None:
    with db.open_session(db_url) as session:
        customers = _customers(session, 5)
        for i, customer in enumerate(customers):
            _buy(session, customer, START - i * 90 * DAY, f"R{i}")
        session.commit()
        conn = session.connection()
        conn.execute(
            text("UPDATE active_slot SET change = change + 1 WHERE slot = :s"),
            {"s": (START - 90 * DAY) // 900},
        )
        conn.execute(
            text("UPDATE active_stretch SET end_epoch = end_epoch + 1 WHERE customer_id = :c"),
            {"c": customers[0]},
        )
        session.commit()
        count, shown = active.differences(session.connection())
        # Customer 0's stretch and the slot given one more: two differences.
        assert count == 2 and len(shown) == 2
        report = integrity.check_database(session)
        assert report.summary_problems == 2
        assert sum("active customers" in problem for problem in report.problems) == 2
        integrity.rebuild_summary(session)
        _check_every_end(session)
        assert active.differences(session.connection()) == (0, [])


def test_two_writers_buying_for_one_customer_at_once(db_url: str) -> None:
    """On PostgreSQL two transactions add purchases of the same customers and commit at the
    same moment: neither deadlocks, and the changes equal a fresh computation. (SQLite has
    one writer at a time: nothing to race.)"""
    if not db_url.startswith("postgresql"):
        pytest.skip("one writer at a time on SQLite")
    with db.open_session(db_url) as session:
        customers = _customers(session, 3)
        session.commit()
    sessions = [Session(db.get_engine(db_url)) for _ in range(2)]
    for n, writer in enumerate(sessions):
        # Each holds its purchases' foreign-key locks on every customer before committing.
        for i, customer in enumerate(customers):
            _buy(writer, customer, START - (n * 3 + i) * 40 * DAY, f"W{n}-{i}")
        writer.flush()
    failures: list[BaseException] = []

    def commit(writer: Session) -> None:
        try:
            writer.commit()
        except BaseException as error:
            failures.append(error)
        finally:
            writer.close()

    threads = [threading.Thread(target=commit, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures
    with db.open_session(db_url) as session:
        _check_every_end(session)


def test_a_merge_and_an_import_end_recomputing_the_same_customers_do_not_deadlock(
    db_url: str,
) -> None:
    """On PostgreSQL a merge updates its source customer's row, then folds the target, while
    an import's end recomputes both (queued): the import's end skips the customer the merge
    holds (back to the queue), neither waits on the other, and the counts stay exact."""
    if not db_url.startswith("postgresql"):
        pytest.skip("one writer at a time on SQLite")
    with db.open_session(db_url) as session:
        target, source = _customers(session, 2)
        _buy(session, target, START - 10 * DAY, "M1")
        _buy(session, source, START - 20 * DAY, "M2")
        session.commit()
        session.connection().execute(
            text("INSERT INTO active_queue (customer_id) VALUES (:a), (:b)"),
            {"a": target, "b": source},
        )
        session.commit()
    engine = db.get_engine(db_url)
    merge, importer = engine.connect(), engine.connect()
    merging = merge.begin()
    merge.execute(
        text("UPDATE purchase SET customer_id = :t WHERE customer_id = :s"),
        {"t": target, "s": source},
    )
    merge.execute(
        text("UPDATE customer SET merged_into = :t WHERE id = :s"), {"t": target, "s": source}
    )
    failures: list[BaseException] = []

    def import_end() -> None:
        try:
            with importer.begin():
                active.refresh(importer)
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=import_end)
    thread.start()
    thread.join(timeout=2)  # the import's end holds the target (or is done)
    try:
        summary.fold(merge)
        merging.commit()
    except BaseException as error:
        failures.append(error)
        merging.rollback()
    thread.join(timeout=60)
    merge.close()
    importer.close()
    assert not failures
    with db.open_session(db_url) as session:
        _check_every_end(session)
        active.refresh(session.connection())
        session.commit()
        queued = session.connection().execute(text("SELECT count(*) FROM active_queue"))
        assert queued.scalar() == 0
        _check_every_end(session)


def test_purchase_imports_out_of_order(latte: Latte, db_url: str) -> None:
    """`latte import purchases`, later orders first and older ones after (the importer folds
    per page, not per session)."""
    with db.open_session(db_url) as session:
        _customers(session, 8)
        session.commit()
    rng = random.Random(7)

    def orders(first: int, low: int, high: int) -> str:
        rows = "order_ref,customer_ref,purchased_at,amount\n"
        for i in range(first, first + 60):
            moment = datetime.fromtimestamp(rng.randrange(low, high), UTC)
            rows += f"I{i},C{rng.randrange(8)},{moment:%Y-%m-%dT%H:%M:%SZ},5\n"
        return rows

    latte.ok("import", "purchases", "-", input=orders(0, START, START + 200 * DAY))
    latte.ok("import", "purchases", "-", input=orders(100, START - 600 * DAY, START))
    with db.open_session(db_url) as session:
        assert len(_bought(session)) == 120
        _check_every_end(session)


def _orders(rng: random.Random, first: int, low: int, high: int, n: int = 60) -> str:
    rows = "order_ref,customer_ref,purchased_at,amount\n"
    for i in range(first, first + n):
        moment = datetime.fromtimestamp(rng.randrange(low, high), UTC)
        rows += f"I{i},C{rng.randrange(8)},{moment:%Y-%m-%dT%H:%M:%SZ},5\n"
    return rows


def test_a_killed_purchase_import_leaves_its_customers_queued_and_counts_exact(
    latte: Latte, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import killed after its pages were committed, before the recomputation at its end:
    the customers wait in the queue, reports and db check stay exact, and latte's next
    write recomputes them."""
    with db.open_session(db_url) as session:
        _customers(session, 8)
        session.commit()
    rng = random.Random(3)
    latte.ok("import", "purchases", "-", input=_orders(rng, 0, START - 300 * DAY, START))

    def killed(conn: Connection, customers: object = ()) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(active, "refresh", killed)
    result = latte("import", "purchases", "-", input=_orders(rng, 100, START - 600 * DAY, START))
    assert result.exit_code != 0
    monkeypatch.undo()
    db.dispose_engines()  # as the killed process's connection (and its staging tables) ends
    with db.open_session(db_url) as session:
        conn = session.connection()
        assert len(_bought(session)) == 120  # the pages were committed
        assert _queued(conn)
        purchases = _bought(session)
        for end in ENDS:
            period = Period(end - 7 * DAY, end, "")
            expected = plain_active(purchases, end, end + DAY)
            assert fix_queries.active_customers(conn, period, end + DAY) == expected, end
        assert active.differences(conn) == (0, [])
    with db.open_session(db_url) as session:
        _buy(session, 1, START - 3 * DAY, "after-the-kill")
        session.commit()  # latte's next write recomputes the queued customers
        assert not _queued(session.connection())
        _check_every_end(session)


def test_an_import_queues_its_customers_and_recomputes_them_once_at_its_end(
    latte: Latte, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages only queue; one recomputation at the end takes every customer of every page."""
    with db.open_session(db_url) as session:
        _customers(session, 8)
        session.commit()
    calls: list[int] = []
    refresh = active.refresh

    def counted(conn: Connection, customers: Sequence[int] = ()) -> None:
        calls.append(len(_queued(conn)))
        refresh(conn, customers)

    monkeypatch.setattr(active, "refresh", counted)
    monkeypatch.setattr(purchases_importer, "PAGE", 7)
    rows = _orders(random.Random(5), 0, START - 500 * DAY, START + 100 * DAY, 80)
    latte.ok("import", "purchases", "-", input=rows)
    assert calls == [8]
    with db.open_session(db_url) as session:
        _check_every_end(session)


def test_a_complaint_write_recomputes_no_customer(
    latte: Latte, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A complaint's queue row names its customer too: only purchase changes recompute one
    (recomputing on every complaint write locked the customer row on PostgreSQL)."""
    with db.open_session(db_url) as session:
        [customer] = _customers(session, 1)
        _buy(session, customer, START - 10 * DAY, "K1")
        session.commit()
    recomputed: list[list[int]] = []
    refresh = active.refresh

    def recorded(conn: Connection, customers: Sequence[int] = ()) -> None:
        recomputed.append(list(customers))
        refresh(conn, customers)

    monkeypatch.setattr(active, "refresh", recorded)
    base = ("new", "--customer", "C0", "--channel", "phone", "--category", "x")
    latte.ok(*base, "--listen", "Hi")
    assert recomputed and all(not customers for customers in recomputed)
    with db.open_session(db_url) as session:
        _buy(session, customer, START - 5 * DAY, "K2")
        session.commit()
    assert recomputed[-1] == [customer]
