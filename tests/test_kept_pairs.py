"""The shared purchases of revenue kept, kept at write time (revision 0020, docs/architecture.md
"Reports over long periods"): `report_kept_pair` holds, for every outcome row whose purchases
in the default window also follow another complaint of the customer, one row per such
purchase. On both stores, against a plain-Python computation from the complaint and purchase
rows, while purchases arrive late, are edited and deleted, a complaint is reopened, merged,
forgotten and deleted, another program changes purchases; and a report over a long period
with shared purchases against the plain count.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from latte_cli import db

from .conftest import Latte
from .test_kept_summed import COMPLAINTS, FIRST, desk  # noqa: F401  (the scene's fixture)
from .test_report_outcomes import epoch, import_purchases, other_program, write_csv

DAY = 86_400
WINDOW = 90 * DAY  # the default window, the one kept at write time
Pair = tuple[int, int, int, int, int]  # customer, complaint, purchase, first resolution, cents


def plain_pairs(db_url: str) -> set[Pair]:
    """The pairs from the definition, over the complaint and purchase rows: per complaint
    with a customer, first resolved, not merged into another, its customer's purchases in
    (resolved, resolved + W] when one of them is in another such complaint's window."""
    with other_program(db_url) as conn:
        complaints = conn.execute(
            text(
                "SELECT id, customer_id, first_resolved_epoch FROM complaint WHERE customer_id "
                "IS NOT NULL AND first_resolved_epoch IS NOT NULL AND merged_into IS NULL"
            )
        ).all()
        purchases = conn.execute(
            text("SELECT id, customer_id, purchased_epoch, amount_cents FROM purchase")
        ).all()

    def inside(resolved: int, at: int) -> bool:
        return resolved < at <= resolved + WINDOW

    found: set[Pair] = set()
    for cid, customer, resolved in complaints:
        mine = [p for p in purchases if p[1] == customer and inside(resolved, p[2])]
        shared = any(
            other != cid and who == customer and inside(at, p[2])
            for p in mine
            for other, who, at in complaints
        )
        if shared:
            found |= {(customer, cid, pid, resolved, cents or 0) for pid, _, _, cents in mine}
    return found


def stored_pairs(db_url: str) -> set[Pair]:
    with other_program(db_url) as conn:
        rows = conn.execute(
            text(
                "SELECT customer_id, complaint_id, purchase_id, resolved_epoch, cents "
                "FROM report_kept_pair"
            )
        ).all()
    found = {(a, b, c, d, e) for a, b, c, d, e in rows}
    assert len(found) == len(rows)
    return found


def ids(db_url: str) -> dict[str, int]:
    with other_program(db_url) as conn:
        rows = conn.execute(text("SELECT external_id, id FROM complaint")).tuples().all()
    return dict(rows)


def clean(latte: Latte) -> bool:
    return bool(json.loads(latte.ok("db", "check", "--json").stdout)["clean"])


def assert_kept(db_url: str) -> set[Pair]:
    want = plain_pairs(db_url)
    assert stored_pairs(db_url) == want
    return want


def through_latte(db_url: str, *statements: tuple[str, dict[str, Any]]) -> None:
    """A change no latte command makes, written through latte's session (folded before the
    commit, as latte's own writes are)."""
    with db.open_session(db_url) as session:
        for statement, values in statements:
            session.connection().execute(text(statement), values)
        session.commit()


def test_kept_pairs_follow_every_write(
    latte: Latte,
    db_url: str,
    tmp_path: Path,
    desk: None,  # noqa: F811
) -> None:
    purchases = dict(FIRST)
    import_purchases(latte, tmp_path / "p1.csv", purchases)
    first = assert_kept(db_url)
    # The scene has pairs, from several complaints: X1 and X2 share O2 and O3.
    x = ids(db_url)
    assert {cid for _, cid, *_ in first} >= {x["X1"], x["X2"], x["X8"], x["X9"]}
    assert x["X5"] not in {cid for _, cid, *_ in first}

    # An import of older purchases: O10 follows X5 and X6, which now share it.
    purchases |= {
        "O10": ("C-4", "2026-10-01T00:00", 4_096_001),
        "O14": ("C-3", "2026-07-26T00:00", 500),
    }
    import_purchases(latte, tmp_path / "p2.csv", purchases)
    older = assert_kept(db_url)
    assert x["X5"] in {cid for _, cid, *_ in older}

    # A purchase edited (its amount), then one deleted.
    purchases["O2"] = ("C-1", "2026-07-08T00:00", 7_777)
    import_purchases(latte, tmp_path / "p3.csv", purchases)
    assert (x["X1"], 7_777) in {(cid, cents) for _, cid, _, _, cents in assert_kept(db_url)}
    through_latte(db_url, ("DELETE FROM purchase WHERE order_ref = 'O10'", {}))
    assert x["X5"] not in {cid for _, cid, *_ in assert_kept(db_url)}

    # A purchase before a reopening: the first resolution's window still counts.
    latte.ok("reopen", str(x["X3"]), "--reason", "Broken again", "--at", "2026-08-05T10:00:00Z")
    assert_kept(db_url)
    assert clean(latte)

    # Merged: X2 counts in no figure, so X1's purchases follow no other complaint.
    latte.ok("merge", str(x["X2"]), "--into", str(x["X1"]), "--reason", "The same order")
    merged = assert_kept(db_url)
    assert not {x["X1"], x["X2"]} & {cid for _, cid, *_ in merged}
    assert {x["X8"], x["X9"]} <= {cid for _, cid, *_ in merged}

    # Forgotten: the customer's identity goes (its orders renamed), no pair changes.
    latte.ok("customer", "forget", "C-6", "--reason", "erasure request", "--yes")
    assert assert_kept(db_url) == merged

    # Deleted: X8's purchase O13 no longer follows another complaint.
    through_latte(
        db_url,
        *((f"DELETE FROM {t} WHERE complaint_id = :id", {"id": x["X9"]})
          for t in ("stage_record", "event", "followup")),
        ("DELETE FROM complaint WHERE id = :id", {"id": x["X9"]}),
    )  # fmt: skip
    deleted = assert_kept(db_url)
    assert not {x["X8"], x["X9"]} & {cid for _, cid, *_ in deleted}
    assert clean(latte)


def test_another_programs_change_and_a_wrong_pair_are_found_and_repaired(
    latte: Latte,
    db_url: str,
    tmp_path: Path,
    desk: None,  # noqa: F811
) -> None:
    import_purchases(latte, tmp_path / "p.csv", dict(FIRST))
    assert_kept(db_url)
    # Another program moves an order to another customer and deletes one: the check sees
    # the queued change, the rebuild writes it.
    with other_program(db_url) as conn:
        conn.execute(text("DELETE FROM purchase WHERE order_ref = 'O3'"))
        conn.execute(
            text(
                "UPDATE purchase SET customer_id = (SELECT id FROM customer WHERE ref = 'C-4') "
                "WHERE order_ref = 'O7'"
            )
        )
    assert clean(latte)
    latte.ok("db", "rebuild-summary")
    assert_kept(db_url)
    assert clean(latte)

    # A wrong cents, a pair missing, a pair too many: each found, and repaired.
    for wrong in (
        "UPDATE report_kept_pair SET cents = cents + 1 WHERE purchase_id = "
        "(SELECT min(purchase_id) FROM report_kept_pair)",
        "DELETE FROM report_kept_pair WHERE purchase_id = "
        "(SELECT min(purchase_id) FROM report_kept_pair)",
        "INSERT INTO report_kept_pair SELECT customer_id, complaint_id, purchase_id + 1000, "
        "resolved_epoch, cents FROM report_kept_pair WHERE purchase_id = "
        "(SELECT min(purchase_id) FROM report_kept_pair)",
    ):
        with other_program(db_url) as conn:
            conn.execute(text(wrong))
        check = latte("db", "check")
        assert check.exit_code == 1
        assert "revenue kept of complaint" in check.stdout + check.stderr
        latte.ok("db", "rebuild-summary")
        assert clean(latte)
        assert_kept(db_url)


def test_a_long_period_with_shared_purchases_equals_the_plain_count(
    latte: Latte, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two years of complaints of a few customers, most purchases following two complaints:
    the year's and the two years' revenue kept equal the plain count, each purchase once,
    read from the kept pairs for the windows over by as-of."""
    from latte_cli.reports import fix_queries

    rng = random.Random(20)
    start = epoch("2024-01-01T00:00")
    rows, complaints = [], []
    for n in range(120):
        who = f"C-{n % 9}"
        opened = start + rng.randrange(0, 700) * DAY + rng.randrange(0, DAY)
        resolved = opened + rng.choice((3_600, 7 * 3_600, 2 * DAY, 5 * DAY))
        complaints.append((who, resolved))
        rows.append(f"X{n},{who},email,delivery,Late,{iso(opened)},{iso(resolved)}")
    header = "external_id,customer,channel,category,listen,opened_at,resolved_at"
    latte.ok("import", "complaints", str(write_csv(tmp_path / "c.csv", header, rows)))
    purchases = {
        f"O{n}": (f"C-{n % 9}", iso(start + rng.randrange(0, 800) * DAY)[:-1],
                  rng.randrange(1, 10**6))
        for n in range(300)
    }  # fmt: skip
    import_purchases(latte, tmp_path / "p.csv", purchases)
    assert len(assert_kept(db_url)) > 50  # most purchases follow two complaints
    read: list[Any] = []
    kept_statement = fix_queries._kept_pair_statement

    def counted(conn: Any) -> Any:
        read.append(conn)
        return kept_statement(conn)

    monkeypatch.setattr(fix_queries, "_kept_pair_statement", counted)
    as_of = "2026-06-01T00:00:00"
    for since, until in (("2024-01-01", "2025-12-31"), ("2025-01-01", "2025-12-31")):
        lo, hi = epoch(f"{since}T00:00"), epoch(f"{until}T00:00") + DAY
        counted_purchases = {
            order: cents
            for order, (buyer, when, cents) in purchases.items()
            for who, resolved in complaints
            if who == buyer and lo <= resolved < hi and resolved < epoch(when) <= resolved + WINDOW
            and epoch(when) <= epoch(as_of)
        }  # fmt: skip
        data = json.loads(
            latte.ok(
                "report", "weekly", "--since", since, "--until", until, "--as-of", as_of,
                "--tz", "UTC", "--format", "json",
            ).stdout
        )  # fmt: skip
        assert data["figures"]["remedies"]["revenue_kept_cents"] == sum(counted_purchases.values())
    assert read  # the shared pairs came from the kept rows


def iso(moment: int) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.sqlite_only
def test_the_kept_pairs_are_read_as_one_range_of_their_index(sqlite_path: Path) -> None:
    from latte_cli.reports import fix_queries

    engine = db.ensure_schema(f"sqlite:///{sqlite_path}")
    with engine.connect() as conn:
        statement = fix_queries._kept_pair_statement(conn)
        sql = str(statement.compile(conn, compile_kwargs={"render_postcompile": True}))
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (0, 1)).all()
    engine.dispose()
    assert [str(row[3]) for row in plan] == [
        "SEARCH report_kept_pair USING COVERING INDEX ix_report_kept_pair_resolved "
        "(resolved_epoch>? AND resolved_epoch<?)"
    ]
