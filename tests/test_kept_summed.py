"""Revenue kept summed at write time (revision 0017, docs/metrics.md "Remedies and revenue
kept"): for the default window, `report_outcome` keeps each complaint's purchases in the
window and whether one of them follows another complaint of the customer; a report adds up
the others and reads pairs only for those. On both stores, against a plain-Python computation
of the definition, while purchases arrive late, a purchase follows two complaints, a complaint
is reopened after a purchase, another program changes purchases, and at the window's edges.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from latte_cli.workflow import MAX_CENTS

from .conftest import Latte
from .test_report_outcomes import epoch, import_purchases, other_program, write_csv

DAY = 86_400
H = 3600
WINDOW = 90 * DAY  # the default window, the one kept at write time
AS_OF = "2026-11-15T00:00:00"
PERIOD = ("--since", "2026-07-01", "--until", "2026-09-30")
START, END = epoch("2026-07-01T00:00"), epoch("2026-10-01T00:00")
SPEEDS = ("< 4 h", "4-24 h", "1-3 d", "> 3 d")
# external id: (customer ref, channel, opened, first resolution), UTC
COMPLAINTS = {
    "X1": ("C-1", "email", "2026-07-02T10:00", "2026-07-02T12:00"),
    "X2": ("C-1", "phone", "2026-07-05T09:00", "2026-07-06T09:00"),
    "X3": ("C-2", "email", "2026-07-10T08:00", "2026-07-10T15:00"),
    "X4": ("C-3", "web", "2026-07-20T08:00", "2026-07-25T08:00"),
    "X5": ("C-4", "phone", "2026-08-01T08:00", "2026-08-01T09:00"),
    "X6": ("C-4", "email", "2026-09-20T08:00", "2026-09-21T08:00"),  # window ends after T
    "X7": ("C-5", "web", "2026-09-01T08:00", "2026-09-02T08:00"),  # window ends after T
    "X8": ("C-6", "chat", "2026-06-20T08:00", "2026-06-21T08:00"),  # the period before
    "X9": ("C-6", "chat", "2026-07-03T08:00", "2026-07-03T09:00"),
    "X10": ("", "email", "2026-07-04T08:00", "2026-07-04T09:00"),  # no customer
    "X11": ("C-7", "letter", "2026-08-05T08:00", "2026-08-05T10:00"),  # a channel summed only
    "X12": ("C-8", "email", "2026-08-16T20:00", "2026-08-17T00:00"),  # resolved at T - W
}
# order: (customer ref, when, cents)
FIRST = {
    "O1": ("C-1", "2026-07-02T12:00", 1_001),  # at X1's resolution: after no resolution
    "O2": ("C-1", "2026-07-08T00:00", 2_003),  # after X1 and X2: counted once
    "O3": ("C-1", "2026-09-30T12:00", 4_007),  # exactly X1's resolution + W, in X2's too
    "O4": ("C-1", "2026-10-04T09:00:01", 8_009),  # a second after X2's window
    "O5": ("C-2", "2026-08-01T00:00", 16_001),
    "O6": ("C-2", "2026-10-08T15:00:01", 32_003),  # a second after X3's window
    "O7": ("C-3", "2026-08-10T00:00", 64_007),
    "O8": ("C-3", "2026-09-01T00:00", 128_009),
    "O9": ("C-4", "2026-08-15T00:00", 256_001),  # X5's alone
    "O11": ("C-5", "2026-11-15T00:00", 512_003),  # at as-of: known
    "O12": ("C-5", "2026-11-20T00:00", 1_024_001),  # after as-of: not known
    "O13": ("C-6", "2026-07-10T00:00", 2_048_003),  # after X8 and X9
    "O15": ("C-7", "2026-08-20T00:00", 8_192_003),
    "O16": ("C-3", "2026-10-23T08:00", 16_384_001),  # exactly X4's resolution + W
    "O17": ("C-8", "2026-08-17T00:00", 32_768_003),  # at X12's resolution
    "O18": ("C-8", "2026-11-15T00:00", 65_536_001),  # X12's resolution + W, at as-of
}


def speed(opened: str, resolved: str) -> str:
    seconds = epoch(resolved) - epoch(opened)
    return SPEEDS[sum(seconds >= limit for limit in (4 * H, 24 * H, 72 * H))]


def in_window(resolved: str, when: str, window: int) -> bool:
    return epoch(resolved) < epoch(when) <= epoch(resolved) + window


def oracle(purchases: dict[str, Any], window: int, by: bool) -> dict[str, Any]:
    """Per group (or "(all)"): revenue kept and by speed, each purchase once per figure."""
    cohort = {
        ref: row
        for ref, row in COMPLAINTS.items()
        if row[0] and START <= epoch(row[3]) < END and epoch(row[3]) <= epoch(AS_OF)
    }

    def kept(refs: list[str]) -> int:
        counted = {
            order: cents
            for order, (who, when, cents) in purchases.items()
            for ref in refs
            if who == COMPLAINTS[ref][0] and in_window(COMPLAINTS[ref][3], when, window)
            and epoch(when) <= epoch(AS_OF)
        }  # fmt: skip
        return sum(counted.values())

    groups = sorted({row[1] for row in cohort.values()}) if by else ["(all)"]
    found = {}
    for group in groups:
        refs = [ref for ref, row in cohort.items() if not by or row[1] == group]
        found[group] = {
            "kept": kept(refs),
            "by_speed": {
                s: kept([r for r in refs if speed(*COMPLAINTS[r][2:]) == s]) for s in SPEEDS
            },
        }
    return found


def stored_oracle(
    purchases: dict[str, Any], merged: frozenset[str] = frozenset()
) -> dict[str, tuple[int | None, bool | None]]:
    """Per complaint with a customer, not a merged duplicate: (cents in its default window,
    whether one of those purchases is also in another such complaint's window), both None
    without a purchase there."""
    found: dict[str, tuple[int | None, bool | None]] = {}
    counted = {ref: row for ref, row in COMPLAINTS.items() if ref not in merged}
    for ref, (who, _, _, resolved) in counted.items():
        if not who:
            continue
        mine = [
            (order, cents)
            for order, (buyer, when, cents) in purchases.items()
            if buyer == who and in_window(resolved, when, WINDOW)
        ]
        shared = any(
            other != ref and row[0] == who and in_window(row[3], purchases[order][1], WINDOW)
            for order, _ in mine
            for other, row in counted.items()
        )
        found[ref] = (sum(c for _, c in mine), shared) if mine else (None, None)
    return found


def stored(db_url: str) -> dict[str, tuple[int | None, bool | None]]:
    with other_program(db_url) as conn:
        rows = conn.execute(
            text(
                "SELECT c.external_id, o.kept_cents, o.kept_shared FROM report_outcome o "
                "JOIN complaint c ON c.id = o.complaint_id"
            )
        ).all()
    # SQLite gives 0/1 for a boolean: bool() for those, None (no purchase) kept as it is.
    return {ref: (cents, None if shared is None else bool(shared)) for ref, cents, shared in rows}


def report(latte: Latte, window_days: int, by: bool) -> dict[str, Any]:
    args = ["report", "weekly", *PERIOD, "--as-of", AS_OF, "--window", str(window_days),
            "--tz", "UTC", "--format", "json"]  # fmt: skip
    if by:
        args += ["--by", "channel"]
    data: dict[str, Any] = json.loads(latte.ok(*args).stdout)
    return data


def pick(figures: dict[str, Any]) -> dict[str, Any]:
    remedies = figures["remedies"]
    return {
        "kept": remedies["revenue_kept_cents"],
        "by_speed": {s: remedies["by_speed"][s]["revenue_kept_cents"] for s in SPEEDS},
    }


def assert_right(latte: Latte, purchases: dict[str, Any]) -> None:
    for days in (90, 30):
        data = report(latte, days, by=False)
        assert pick(data["figures"]) == oracle(purchases, days * DAY, by=False)["(all)"], days
        data = report(latte, days, by=True)
        wanted = oracle(purchases, days * DAY, by=True)
        got = {g["group"]: pick(g["figures"]) for g in data["groups"]}
        assert got == {g: wanted[g] for g in got}, days
        assert not any(v["kept"] for g, v in wanted.items() if g not in got), days


@pytest.fixture
def desk(latte: Latte, tmp_path: Path) -> None:
    rows = [
        f"{ref},{who},{channel},delivery,Late,{opened}Z,{resolved}Z"
        for ref, (who, channel, opened, resolved) in COMPLAINTS.items()
    ]
    header = "external_id,customer,channel,category,listen,opened_at,resolved_at"
    latte.ok("import", "complaints", str(write_csv(tmp_path / "c.csv", header, rows)))


def test_revenue_kept_summed_follows_late_purchases_and_a_reopening(
    latte: Latte, db_url: str, tmp_path: Path, desk: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from latte_cli import cohort

    summed: list[Any] = []
    read_sums = cohort.bought_and_kept

    def counted(*args: Any, **kwargs: Any) -> Any:
        found = read_sums(*args, **kwargs)
        summed.append(found[2])  # the cents of the complaints summed at write time
        return found

    monkeypatch.setattr(cohort, "bought_and_kept", counted)
    purchases = dict(FIRST)
    import_purchases(latte, tmp_path / "p1.csv", purchases)
    assert stored(db_url) == stored_oracle(purchases)
    assert_right(latte, purchases)
    latte.ok("db", "check")
    # The scene reaches what it is meant to: both paths, and the edges.
    kept = stored_oracle(purchases)
    assert not kept["X5"][1] and not kept["X4"][1] and kept["X1"][1] and kept["X9"][1]
    assert kept["X12"] == (65_536_001, False)
    # Cents summed at write time, some of them not 0
    assert any(text and any(int(c) for c in text.split(",")) for text in summed)
    total = oracle(purchases, WINDOW, by=False)["(all)"]["kept"]
    found = 2_003 + 4_007 + 16_001 + 64_007 + 128_009 + 256_001 + 512_003 + 2_048_003
    assert total == found + 8_192_003 + 16_384_001 + 65_536_001

    # An import of older purchases: one follows X5 and X6 (X5 was summed alone), one X4.
    purchases |= {
        "O10": ("C-4", "2026-10-01T00:00", 4_096_001),
        "O14": ("C-3", "2026-07-26T00:00", 500),
    }
    import_purchases(latte, tmp_path / "p2.csv", purchases)
    assert stored(db_url) == stored_oracle(purchases)
    assert stored(db_url)["X5"][1]
    assert_right(latte, purchases)

    # A reopening after a purchase: the first resolution's window still counts.
    with other_program(db_url) as conn:
        x3 = conn.execute(text("SELECT id FROM complaint WHERE external_id = 'X3'")).scalar()
    latte.ok("reopen", str(x3), "--reason", "Broken again", "--at", "2026-08-05T10:00:00Z")
    assert stored(db_url) == stored_oracle(purchases)
    assert_right(latte, purchases)
    latte.ok("db", "check")


def test_another_programs_change_is_counted_and_a_wrong_sum_is_found_and_repaired(
    latte: Latte, db_url: str, tmp_path: Path, desk: None
) -> None:
    purchases = dict(FIRST)
    import_purchases(latte, tmp_path / "p1.csv", purchases)
    # Another program moves an order and deletes one: reports and the check see it before
    # latte folds the change.
    with other_program(db_url) as conn:
        conn.execute(text("DELETE FROM purchase WHERE order_ref = 'O2'"))
        conn.execute(
            text(
                "UPDATE purchase SET customer_id = (SELECT id FROM customer WHERE ref = 'C-4') "
                "WHERE order_ref = 'O7'"
            )
        )
    del purchases["O2"]
    purchases["O7"] = ("C-4", "2026-08-10T00:00", 64_007)
    assert_right(latte, purchases)
    latte.ok("db", "check")
    latte.ok("new", "--customer", "C-9", "--channel", "phone", "--category", "delivery",
             "--listen", "Late")  # fmt: skip
    assert stored(db_url) == stored_oracle(purchases)
    assert_right(latte, purchases)

    with other_program(db_url) as conn:
        conn.execute(text("UPDATE report_outcome SET kept_cents = kept_cents + 1"))
    check = latte("db", "check")
    assert check.exit_code == 1
    latte.ok("db", "rebuild-summary")
    latte.ok("db", "check")
    assert stored(db_url) == stored_oracle(purchases)
    assert_right(latte, purchases)


def test_a_group_value_the_summary_does_not_list_changes_nothing(
    latte: Latte, tmp_path: Path, desk: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `--by`, a complaint's value missing from the report summary's list (another
    program's) does not matter to revenue kept: each complaint's group comes from its day
    record in the cohort summary, for the sums and the shared pairs alike, and nothing is
    read from the rows. The one value left out ("letter") is only in the sums."""
    from latte_cli.reports import fix_queries

    purchases = dict(FIRST)
    import_purchases(latte, tmp_path / "p1.csv", purchases)
    from_rows: list[Any] = []
    read_rows = fix_queries.kept_purchases

    def counted(*args: Any, **kwargs: Any) -> Any:
        from_rows.append(args)
        return read_rows(*args, **kwargs)

    monkeypatch.setattr(fix_queries, "kept_purchases", counted)
    listed = ["chat", "email", "phone", "web"]
    monkeypatch.setattr(fix_queries, "group_values", lambda conn, by: listed)
    data = report(latte, 90, by=True)
    wanted = oracle(purchases, WINDOW, by=True)
    assert {g["group"]: pick(g["figures"]) for g in data["groups"]} == wanted
    assert not from_rows


def test_a_window_sum_past_what_one_purchase_holds_is_kept(
    latte: Latte, db_url: str, tmp_path: Path, desk: None
) -> None:
    """Each purchase is within the amounts' bound; their sum over X5's window is not within
    a 32-bit column (PostgreSQL's integer would refuse it, and with it the fold of every
    write for the customer)."""
    purchases = dict(FIRST) | {
        "O9": ("C-4", "2026-08-15T00:00", MAX_CENTS),
        "O19": ("C-4", "2026-08-16T00:00", MAX_CENTS),
        "O20": ("C-4", "2026-08-17T00:00", MAX_CENTS - 1),
    }
    import_purchases(latte, tmp_path / "p.csv", purchases)
    assert stored(db_url)["X5"] == (3 * MAX_CENTS - 1, False)
    assert stored(db_url) == stored_oracle(purchases)
    assert_right(latte, purchases)
    latte.ok("db", "check")


def test_a_merged_duplicate_shares_no_purchase(
    latte: Latte, db_url: str, tmp_path: Path, desk: None
) -> None:
    """X1 and X2 (one customer) share O2 and O3; once X2 is merged into X1 it counts in no
    figure, so X1's purchases follow no other complaint and are summed."""
    purchases = dict(FIRST)
    import_purchases(latte, tmp_path / "p.csv", purchases)
    assert stored(db_url)["X1"] == (2_003 + 4_007, True)
    with other_program(db_url) as conn:
        ids = dict(conn.execute(text("SELECT external_id, id FROM complaint")).tuples().all())
    latte.ok("merge", str(ids["X2"]), "--into", str(ids["X1"]), "--reason", "The same order")
    found = stored(db_url)
    assert "X2" not in found
    assert found == stored_oracle(purchases, merged=frozenset({"X2"}))
    assert found["X1"] == (2_003 + 4_007, False)
    latte.ok("db", "check")
