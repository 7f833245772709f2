"""Retention and legal holds across merges: a hold on a customer keeps the complaints of every
customer merged into or with it, placed before or after the merge, as `customer forget` already
refuses; a duplicate merged while open counts from the resolution of the complaint it was
merged into, and a duplicate and its target are held together (docs/architecture.md, "Customer
data")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from latte_cli import db

from .conftest import Latte
from .test_retention import write_config

OLD = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
RECENT = datetime(2026, 1, 25, 10, 0, tzinfo=UTC)


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with db.get_engine(url).connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def _summary(url: str, cid: str) -> object:
    return _rows(url, f"SELECT summary FROM complaint WHERE id = {int(cid)}")[0][0]


def _open(latte: Latte, ref: str, name: str, words: str, at: datetime) -> str:
    return latte.ok(
        "new", "--customer", ref, "--name", name, "--channel", "phone",
        "--category", "product", "--listen", words, "--at", at.isoformat(),
    ).stdout.strip()  # fmt: skip


def _resolve(latte: Latte, cid: str, at: datetime) -> None:
    steps = [
        ("acknowledge", ("--text", "Sorry")),
        ("take_action", ("--kind", "refund", "--detail", "Refunded", "--amount", "10")),
        ("thank", ("--text", "Thanks")),
        ("explain", ("--root-cause", "product_defect", "--change", "Better checks")),
    ]
    for hours, (stage, args) in enumerate(steps, start=1):
        latte.ok("step", cid, stage, *args, "--at", (at + timedelta(hours=hours)).isoformat())


def _retain(latte: Latte, tmp_path: Path, period: str) -> dict[str, Any]:
    write_config(tmp_path, f'retention = "{period}"\n')
    done: dict[str, Any] = json.loads(latte.ok("db", "retain", "--json").stdout)
    return done


def _merged_people(latte: Latte) -> tuple[str, str]:
    """C-001075's old resolved complaint and D-1's fresh open one, before any merge."""
    old = _open(latte, "C-001075", "David Nash", "old words of the litigation", OLD)
    _resolve(latte, old, OLD)
    fresh = _open(latte, "D-1", "David N", "fresh words", datetime.now(UTC) - timedelta(days=1))
    return old, fresh


def test_a_customer_hold_placed_before_a_merge_still_holds(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    old, _ = _merged_people(latte)
    latte.ok("hold", "C-001075", "--reason", "litigation pending")
    latte.ok("customer", "merge", "C-001075", "--into", "D-1", "--reason", "same")
    done = _retain(latte, tmp_path, "300d")
    assert done["complaint_ids"] == [] and done["held_ids"] == [int(old)]
    assert done["customers"] == 0 and done["duplicates"] == 0
    assert _summary(db_url, old) == "old words of the litigation"
    refs = {str(r) for (r,) in _rows(db_url, "SELECT ref FROM customer")}
    assert refs == {"C-001075", "D-1"}
    # Forget refuses for the same hold: one notion of what a hold covers.
    forget = latte("customer", "forget", "D-1", "--reason", "x", "--yes")
    assert forget.exit_code == 1 and "under legal hold" in forget.stderr
    latte.ok("hold", "C-001075", "--release", "--reason", "settled")
    assert _retain(latte, tmp_path, "300d")["complaint_ids"] == [int(old)]


def test_a_customer_hold_placed_after_a_merge_holds_both_records(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    old, _ = _merged_people(latte)
    # The record merged into D-1 also had an old complaint of its own under D-1's ref.
    other = _open(latte, "D-1", "David N", "second old words", OLD + timedelta(days=2))
    _resolve(latte, other, OLD + timedelta(days=2))
    latte.ok("customer", "merge", "C-001075", "--into", "D-1", "--reason", "same")
    latte.ok("hold", "C-001075", "--reason", "litigation pending")
    done = _retain(latte, tmp_path, "300d")
    assert done["complaint_ids"] == []
    assert sorted(done["held_ids"]) == sorted([int(old), int(other)])
    assert _summary(db_url, old) == "old words of the litigation"
    assert _summary(db_url, other) == "second old words"
    # A hold on the customer merged into keeps the duplicate record's identity too.
    latte.ok("hold", "C-001075", "--release")
    latte.ok("hold", "D-1", "--reason", "regulator review")
    done = _retain(latte, tmp_path, "300d")
    assert done["complaint_ids"] == [] and len(done["held_ids"]) == 2


def test_a_duplicate_merged_while_open_goes_with_its_target(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    target = _open(latte, "C-001111", "Mary Q", "target words", OLD)
    _resolve(latte, target, OLD)
    duplicate = _open(latte, "C-001111", "Mary Q", "dup words kept forever", RECENT)
    latte.ok("merge", duplicate, "--into", target, "--reason", "dup")
    done = _retain(latte, tmp_path, "1d")
    assert done["complaint_ids"] == [int(target), int(duplicate)] and done["held_ids"] == []
    assert _summary(db_url, duplicate) == "[erased]"
    assert done["customers"] == 1  # every complaint of C-001111 is anonymised now
    found = latte.ok("search", "kept forever", "--status", "all").stdout
    assert found.startswith("Nothing matches")
    reasons = _rows(
        db_url, f"SELECT data FROM event WHERE kind = 'erased' AND complaint_id = {duplicate}"
    )
    assert f"merged into complaint {target}" in str(reasons[0][0])
    assert "no problems found" in latte.ok("db", "check").stdout
    assert _retain(latte, tmp_path, "1d")["complaint_ids"] == []


def test_a_duplicate_of_an_open_complaint_is_not_due(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    target = _open(latte, "C-001111", "Mary Q", "target words", OLD)
    duplicate = _open(latte, "C-001111", "Mary Q", "dup words", RECENT)
    latte.ok("merge", duplicate, "--into", target, "--reason", "dup")
    done = _retain(latte, tmp_path, "1d")
    assert done["complaint_ids"] == [] and done["held_ids"] == []
    assert _summary(db_url, duplicate) == "dup words"


def test_a_hold_on_a_duplicate_or_its_target_keeps_both(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    target = _open(latte, "C-001111", "Mary Q", "target words", OLD)
    _resolve(latte, target, OLD)
    duplicate = _open(latte, "C-001111", "Mary Q", "dup words", RECENT)
    latte.ok("merge", duplicate, "--into", target, "--reason", "dup")
    for held in (target, duplicate):
        latte.ok("hold", f"complaint:{held}", "--reason", "claim 7")
        done = _retain(latte, tmp_path, "1d")
        assert done["complaint_ids"] == [], held
        assert done["held_ids"] == [int(target), int(duplicate)], held
        assert (_summary(db_url, target), _summary(db_url, duplicate)) == (
            "target words",
            "dup words",
        )
        latte.ok("hold", f"complaint:{held}", "--release")
    latte.ok("hold", "C-001111", "--reason", "customer hold")
    assert _retain(latte, tmp_path, "1d")["held_ids"] == [int(target), int(duplicate)]


def test_forget_of_a_merged_away_customer_is_held_by_its_targets_hold(
    latte: Latte, db_url: str
) -> None:
    """A hold on the customer a duplicate was merged into covers the duplicate's record too:
    forgetting the duplicate is refused, naming the hold, and nothing is erased."""
    _merged_people(latte)
    latte.ok("customer", "merge", "C-001075", "--into", "D-1", "--reason", "same")
    latte.ok("hold", "D-1", "--reason", "litigation pending")
    refused = latte("customer", "forget", "C-001075", "--reason", "x", "--yes")
    assert refused.exit_code == 1, refused.output
    assert "Customer D-1 is under legal hold" in refused.stderr
    assert "latte hold D-1 --release" in refused.stderr
    names = {str(n) for (n,) in _rows(db_url, "SELECT name FROM customer")}
    assert names == {"David Nash", "David N"}
