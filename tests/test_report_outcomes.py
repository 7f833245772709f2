"""The repurchase outcome kept at write time (revision 0009) stays right when purchases arrive,
change or go after the complaints were resolved, and when a complaint is reopened; on both
stores. Expected outcomes are computed here in plain Python from the rows the test wrote
(docs/metrics.md, Outcomes); `latte db check` compares the stored outcomes with a fresh
computation, and `latte db rebuild-summary` repairs them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, text

from .conftest import Latte

DAY = 86_400
WINDOW_DAYS = 30
AS_OF = "2027-06-01T00:00:00"
PERIOD = ("--since", "2026-10-01", "--until", "2026-10-31")
# external id: (customer ref, opened, first resolution), UTC
COMPLAINTS = {
    "X1": ("C-1", "2026-10-01T10:00", "2026-10-01T12:00"),
    "X2": ("C-1", "2026-10-03T09:00", "2026-10-05T09:00"),
    "X3": ("C-2", "2026-10-02T10:00", "2026-10-02T11:00"),
    "X4": ("C-3", "2026-10-02T08:00", "2026-10-04T08:00"),
    "X5": ("", "2026-10-02T08:00", "2026-10-02T09:00"),  # anonymous: no outcome
}


def epoch(moment: str) -> int:
    return int(datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp())


def expected(purchases: dict[str, tuple[str, str, int]]) -> dict[str, int]:
    """The outcome counts of the complaints, and of each the first purchase after its first
    resolution, from the plain definition: bought in (resolved, resolved + W], known by T."""
    counts = {"repurchased": 0, "lost": 0, "pending": 0}
    for customer, _opened, resolved in COMPLAINTS.values():
        if not customer:
            continue
        r = epoch(resolved)
        bought = any(
            who == customer and r < epoch(when) <= r + WINDOW_DAYS * DAY
            for who, when, _ in purchases.values()
        )
        counts["repurchased" if bought else "lost"] += 1  # every window closed by AS_OF
    return counts


def first_purchases(purchases: dict[str, tuple[str, str, int]]) -> dict[str, tuple[int, int]]:
    """Per complaint with a purchase after its first resolution: (that purchase's epoch, its
    amount in cents)."""
    found = {}
    for ref, (customer, _opened, resolved) in COMPLAINTS.items():
        after = sorted(
            (epoch(when), cents)
            for who, when, cents in purchases.values()
            if who == customer and customer and epoch(when) > epoch(resolved)
        )
        if after:
            found[ref] = after[0]
    return found


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def import_purchases(latte: Latte, path: Path, purchases: dict[str, tuple[str, str, int]]) -> None:
    rows = [
        f"{order},{who},{when}Z,{cents / 100:.2f}"
        for order, (who, when, cents) in purchases.items()
    ]
    latte.ok("import", "purchases", str(write_csv(path, "order,customer,date,total", rows)))


def outcome_counts(latte: Latte) -> dict[str, int]:
    report = json.loads(
        latte.ok(
            "report", "repurchase", *PERIOD, "--as-of", AS_OF, "--window", str(WINDOW_DAYS),
            "--tz", "UTC", "--format", "json",
        ).stdout
    )  # fmt: skip
    figures = report["figures"]["repurchase"]
    return {k: figures[k] for k in ("repurchased", "lost", "pending")}


@contextmanager
def other_program(db_url: str) -> Iterator[Connection]:
    """One transaction of a program that is not latte: a plain engine, no session hook."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def stored_first_purchases(db_url: str) -> dict[str, tuple[int, int]]:
    with other_program(db_url) as conn:
        rows = conn.execute(
            text(
                "SELECT c.external_id, o.purchased_epoch, o.amount_cents FROM report_outcome o "
                "JOIN complaint c ON c.id = o.complaint_id WHERE o.purchased_epoch IS NOT NULL"
            )
        ).all()
    return {ref: (int(at), int(cents)) for ref, at, cents in rows}


def assert_right(latte: Latte, db_url: str, purchases: dict[str, Any]) -> None:
    assert outcome_counts(latte) == expected(purchases)
    latte.ok("db", "check")


def test_outcomes_follow_purchases_arriving_changing_and_going(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    rows = [
        f"{ref},{who},phone,delivery,Late,{opened}Z,{resolved}Z"
        for ref, (who, opened, resolved) in COMPLAINTS.items()
    ]
    header = "external_id,customer,channel,category,listen,opened_at,resolved_at"
    latte.ok("import", "complaints", str(write_csv(tmp_path / "c.csv", header, rows)))
    purchases: dict[str, tuple[str, str, int]] = {}
    assert_right(latte, db_url, purchases)
    assert expected(purchases)["lost"] == 4

    # Older purchases (before every resolution) change nothing; then later ones arrive.
    purchases["O1"] = ("C-1", "2026-09-20T10:00", 1000)
    import_purchases(latte, tmp_path / "p1.csv", purchases)
    assert_right(latte, db_url, purchases)
    purchases |= {
        "O2": ("C-2", "2026-10-20T10:00", 2500),
        "O3": ("C-1", "2026-10-04T00:00", 300),
        "O4": ("C-1", "2026-10-04T00:00", 700),  # the same second: the first recorded counts
    }
    import_purchases(latte, tmp_path / "p2.csv", purchases)
    assert_right(latte, db_url, purchases)
    assert stored_first_purchases(db_url) == {
        "X1": (epoch("2026-10-04T00:00"), 300),
        "X3": (epoch("2026-10-20T10:00"), 2500),
    }
    assert first_purchases(purchases)["X3"] == stored_first_purchases(db_url)["X3"]

    # A reopening after the purchase: the outcome stays the first resolution's.
    with other_program(db_url) as conn:
        x1 = conn.execute(text("SELECT id FROM complaint WHERE external_id = 'X1'")).scalar()
    latte.ok("reopen", str(x1), "--reason", "Broken again", "--at", "2026-10-06T10:00:00Z")
    assert_right(latte, db_url, purchases)

    # An order moved out of the window, and a new one.
    purchases["O2"] = ("C-2", "2026-11-20T10:00", 2500)
    purchases["O5"] = ("C-3", "2026-10-10T10:00", 1000)
    import_purchases(latte, tmp_path / "p3.csv", purchases)
    assert_right(latte, db_url, purchases)
    assert stored_first_purchases(db_url)["X4"] == (epoch("2026-10-10T10:00"), 1000)

    # Another program deletes two orders and gives one to another customer: reports and the
    # check see it before latte folds the change, and after.
    with other_program(db_url) as conn:
        conn.execute(text("DELETE FROM purchase WHERE order_ref IN ('O3', 'O4')"))
        conn.execute(
            text(
                "UPDATE purchase SET customer_id = (SELECT id FROM customer WHERE ref = 'C-2') "
                "WHERE order_ref = 'O5'"
            )
        )
    del purchases["O3"], purchases["O4"]
    purchases["O5"] = ("C-2", "2026-10-10T10:00", 1000)
    assert_right(latte, db_url, purchases)
    assert expected(purchases) == {"repurchased": 1, "lost": 3, "pending": 0}
    latte.ok("new", "--customer", "C-9", "--channel", "phone", "--category", "delivery",
             "--listen", "Late")  # fmt: skip
    assert_right(latte, db_url, purchases)
    assert stored_first_purchases(db_url) == {"X3": (epoch("2026-10-10T10:00"), 1000)}


def test_check_finds_a_wrong_outcome_and_rebuild_repairs_it(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    rows = [
        f"{ref},{who},phone,delivery,Late,{opened}Z,{resolved}Z"
        for ref, (who, opened, resolved) in COMPLAINTS.items()
    ]
    header = "external_id,customer,channel,category,listen,opened_at,resolved_at"
    latte.ok("import", "complaints", str(write_csv(tmp_path / "c.csv", header, rows)))
    purchases = {"O1": ("C-2", "2026-10-03T10:00", 1200)}
    import_purchases(latte, tmp_path / "p.csv", purchases)
    with other_program(db_url) as conn:
        conn.execute(text("UPDATE report_outcome SET purchased_epoch = NULL"))
    assert outcome_counts(latte) != expected(purchases)  # the report reads what is stored
    check = latte("db", "check")
    assert check.exit_code == 1
    assert "repurchase outcome of complaint" in check.output
    latte.ok("db", "rebuild-summary")
    assert_right(latte, db_url, purchases)
