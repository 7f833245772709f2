"""The sample in data/sample: what the generator makes, byte for byte, and it imports cleanly."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from latte_cli import db
from latte_cli.models import Complaint, Purchase

from .conftest import Latte

ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "data" / "sample"


def _rows(name: str) -> list[dict[str, str]]:
    with (SAMPLE / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_generator_is_deterministic_and_made_the_sample(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from generate_sample import generate
    finally:
        sys.path.pop(0)
    generate(tmp_path, 3000, seed=7)
    for name in ("complaints.csv", "purchases.csv", "followups.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_sample_is_varied() -> None:
    complaints = _rows("complaints.csv")
    assert len(complaints) == 3000
    for column in ("agent", "channel", "category", "location", "action_kind"):
        assert len({row[column] for row in complaints if row[column]}) >= 4, column
    assert any("\n" in row["listen"] for row in complaints)  # multi-line quoted text
    assert any(row["resolved_at"] and not row["explain_at"] for row in complaints)
    weeks = {row["opened_at"][:10] for row in complaints}
    assert len(weeks) > 40  # spread over several weeks
    resolved = {
        row["customer_ref"]: row["explain_at"] or row["resolved_at"]
        for row in complaints
        if row["customer_ref"] and (row["explain_at"] or row["resolved_at"])
    }
    repurchases = [
        p
        for p in _rows("purchases.csv")
        if p["purchased_at"] > resolved.get(p["customer_ref"], "~")
    ]
    assert len(repurchases) > 300
    assert {row["nps"] for row in _rows("followups.csv") if row["nps"]} >= {"0", "5", "10"}


def test_sample_imports_with_exact_counts(latte: Latte, db_url: str) -> None:
    reports = {}
    for kind in ("complaints", "purchases", "followups"):
        result = latte("import", kind, str(SAMPLE / f"{kind}.csv"), "--json")
        assert result.exit_code == 0, result.output
        reports[kind] = json.loads(result.stdout)
    complaints, purchases = _rows("complaints.csv"), _rows("purchases.csv")
    assert reports["complaints"]["inserted"] == len(complaints)
    assert reports["purchases"]["inserted"] == len({p["order_ref"] for p in purchases})
    assert reports["purchases"]["lines_accepted"] == len(purchases)
    assert reports["followups"]["inserted"] == len(_rows("followups.csv"))
    assert all(r["rejected"] == 0 and not r["unknown_columns"] for r in reports.values())
    # The stage due, computed here from the times in the file.
    order = ["acknowledged_at", "take_action_at", "thank_at", "explain_at"]
    due_names = ["acknowledge", "take_action", "thank", "explain"]
    expected: Counter[str | None] = Counter()
    for row in complaints:
        done = sum(1 for column in order if row[column])
        resolved = done == 4 or bool(row["resolved_at"])
        expected[None if resolved else due_names[done]] += 1
    cents = sum(round(float(p["amount"]) * 100) for p in purchases)
    with db.open_session(db_url) as session:
        stored = Counter(
            dict(
                session.execute(
                    select(Complaint.stage_due, func.count()).group_by(Complaint.stage_due)
                ).all()
            )
        )
        total = session.execute(select(func.sum(Purchase.amount_cents))).scalar_one()
    assert stored == expected
    assert total == cents
