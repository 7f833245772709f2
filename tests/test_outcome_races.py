"""The repurchase outcome rows and kept pairs when a fold recomputes a customer another part
of the fold or another writer is also recomputing (docs/architecture.md, "Storage", the
repurchase outcomes): a complaint moved to a customer whose part of a large fold comes
first, and two PostgreSQL writers resolving complaints of one customer at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from latte_cli import cohort, db, summary

from .conftest import Latte
from .test_kept_pairs import assert_kept, through_latte
from .test_kept_summed import FIRST, desk  # noqa: F401
from .test_report_outcomes import import_purchases, other_program


def test_a_complaint_moved_to_a_customer_folded_first(
    latte: Latte,
    db_url: str,
    tmp_path: Path,
    desk: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fold of more customers than one statement takes recomputes them part by part: the
    merged customer's complaints reach C-1's part while their rows are still C-4's."""
    import_purchases(latte, tmp_path / "p1.csv", dict(FIRST))
    monkeypatch.setattr(cohort, "CUSTOMERS_PER_STATEMENT", 1)
    latte.ok("customer", "merge", "C-4", "--into", "C-1", "--reason", "Same person")
    assert_kept(db_url)
    with other_program(db_url) as conn:
        assert cohort.differences(conn)[0] == 0


def test_two_writers_resolving_one_customers_complaints(
    latte: Latte,
    db_url: str,
    tmp_path: Path,
    desk: None,  # noqa: F811
) -> None:
    """Each writer's fold cannot see the other's uncommitted resolution: the second to reach
    the customer leaves it queued (reports count from the rows meanwhile), and the next
    write's fold makes the rows right."""
    if not db_url.startswith("postgresql"):
        pytest.skip("one writer at a time on SQLite")
    import_purchases(latte, tmp_path / "p1.csv", dict(FIRST))
    with other_program(db_url) as conn:
        resolved = dict(
            conn.execute(
                text(
                    "SELECT external_id, first_resolved_epoch FROM complaint "
                    "WHERE external_id IN ('X1', 'X2')"
                )
            )
            .tuples()
            .all()
        )
    cleared = "UPDATE complaint SET first_resolved_epoch = NULL WHERE external_id IN ('X1', 'X2')"
    through_latte(db_url, (cleared, {}))
    engine = db.get_engine(db_url)
    first, second = engine.connect(), engine.connect()
    try:
        for conn, external in ((first, "X1"), (second, "X2")):
            conn.begin()
            conn.execute(
                text("UPDATE complaint SET first_resolved_epoch = :at WHERE external_id = :x"),
                {"at": resolved[external], "x": external},
            )
        summary.fold(first)
        summary.fold(second)
        first.commit()
        second.commit()
    finally:
        first.close()
        second.close()
    with engine.connect() as conn:
        assert cohort.pending(conn)  # what reports see: not the kept rows
    through_latte(db_url)  # the next write
    assert_kept(db_url)
    with engine.connect() as conn:
        assert not cohort.pending(conn)
        assert cohort.differences(conn)[0] == 0
