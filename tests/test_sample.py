"""The sample in data/sample: what the generator makes, byte for byte, and it imports cleanly."""

from __future__ import annotations

import csv
import json
import sys
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from latte_cli import db
from latte_cli.events import EventKind
from latte_cli.models import Complaint, Event, Purchase

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
    days = sorted({row["opened_at"][:10] for row in complaints})
    assert len(days) > 200  # spread over the weeks, not bunched
    first, last = (datetime.fromisoformat(d) for d in (days[0], days[-1]))
    assert last - first >= timedelta(days=274)  # at least nine months
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


def test_sample_has_repeats_causes_and_remedies() -> None:
    """What the root-cause, repeat-complaint and remedy figures need to be non-trivial: causes
    of uneven weight with several "what will change" texts, customers back within 30 days of a
    resolution, remedy amounts on several action kinds (docs/metrics.md)."""
    complaints = _rows("complaints.csv")
    causes = Counter(row["root_cause"] for row in complaints if row["root_cause"])
    assert len(causes) >= 6
    ranked = [n for _, n in causes.most_common()]
    assert ranked[0] >= 3 * ranked[-1]  # a Pareto chart with a head and a tail
    changes: defaultdict[str, set[str]] = defaultdict(set)
    for row in complaints:
        if row["root_cause"]:
            changes[row["root_cause"]].add(row["what_will_change"])
    assert sum(len(texts) > 1 for texts in changes.values()) >= 4
    opened: defaultdict[str, list[datetime]] = defaultdict(list)
    for row in complaints:
        if row["customer_ref"]:
            opened[row["customer_ref"]].append(_moment(row["opened_at"]))
    repeats = 0
    for row in complaints:
        resolved_text = row["explain_at"] or row["resolved_at"]
        if row["customer_ref"] and resolved_text:
            resolved = _moment(resolved_text)
            window = resolved + timedelta(days=30)
            repeats += any(resolved < t <= window for t in opened[row["customer_ref"]])
    assert 150 < repeats < 1500
    with_amount = Counter(row["action_kind"] for row in complaints if row["amount"])
    assert len(with_amount) >= 4


def test_sample_imports_with_exact_counts(latte: Latte, db_url: str) -> None:
    reports = {}
    for kind in ("complaints", "purchases", "followups"):
        result = latte("import", kind, str(SAMPLE / f"{kind}.csv"), "--json")
        assert result.exit_code == 0, result.output
        reports[kind] = json.loads(result.stdout)
    complaints, purchases = _rows("complaints.csv"), _rows("purchases.csv")
    assert [reports[k]["rows"] for k in reports] == [
        len(_rows(f"{k}.csv")) for k in ("complaints", "purchases", "followups")
    ]
    assert reports["complaints"]["rows"] == 3000
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


def test_sample_updates_and_deadlines(latte: Latte, db_url: str) -> None:
    """Updates sent to the customer on some open and some slow complaints, imported as
    `customer_update` events; every complaint's deadlines fixed by the default policy (the
    `standard` rule: first resolution within 24 calendar hours of the opening) and some of them
    breached (docs/metrics.md, "Deadlines"), all counted here from the file."""
    latte.ok("import", "complaints", str(SAMPLE / "complaints.csv"))
    complaints = _rows("complaints.csv")
    expected_updates: Counter[str] = Counter()
    on_open = on_slow = 0
    breached = 0
    as_of = _moment("2026-11-28T00:00:00Z")
    due_by_id: dict[str, int] = {}
    for row in complaints:
        opened = _moment(row["opened_at"])
        due = opened + timedelta(hours=24)
        due_by_id[row["external_id"]] = int(due.timestamp())
        resolved_text = row["explain_at"] or row["resolved_at"]
        done = _moment(resolved_text) if resolved_text else None
        breached += done > due if done else as_of > due
        times = [t for t in row["updates"].split(";") if t]
        if not times:
            continue
        expected_updates[row["external_id"]] = len(times)
        assert all(opened <= _moment(t) for t in times)
        if done is None:
            on_open += 1
        elif done - opened > timedelta(days=1):
            on_slow += 1
    assert on_open >= 20 and on_slow >= 20
    assert sum(expected_updates.values()) > len(expected_updates)  # some have more than one
    assert 0 < breached < len(complaints)
    with db.open_session(db_url) as session:
        stored_updates = Counter(
            dict(
                session.execute(
                    select(Complaint.external_id, func.count())
                    .join(Event, Event.complaint_id == Complaint.id)
                    .where(Event.kind == EventKind.CUSTOMER_UPDATE.value)
                    .group_by(Complaint.external_id)
                ).all()
            )
        )
        stored_due = dict(
            session.execute(select(Complaint.external_id, Complaint.final_response_due_epoch)).all()
        )
        stored_breached = session.execute(
            select(func.count()).where(
                Complaint.final_response_due_epoch.is_not(None),  # type: ignore[union-attr]
                func.coalesce(Complaint.first_resolved_epoch, int(as_of.timestamp()))
                > Complaint.final_response_due_epoch,
            )
        ).scalar_one()
    assert stored_updates == expected_updates
    assert stored_due == due_by_id
    assert stored_breached == breached


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_sample_repurchase_report_shows_lost_customers(latte: Latte) -> None:
    """With the default 90-day window the sample has customers won back and customers lost:
    the report's outcomes equal a plain count over the files (docs/metrics.md)."""
    for kind in ("complaints", "purchases", "followups"):
        latte.ok("import", kind, str(SAMPLE / f"{kind}.csv"))
    as_of = _moment("2026-11-28T00:00:00Z")
    result = latte.ok(
        "report", "repurchase", "--since", "2026-01-01", "--until", "2026-11-27",
        "--as-of", "2026-11-28", "--format", "json",
    )  # fmt: skip
    figures = json.loads(result.stdout)["figures"]
    window = timedelta(days=90)
    bought: dict[str, list[datetime]] = defaultdict(list)
    for p in _rows("purchases.csv"):
        bought[p["customer_ref"]].append(_moment(p["purchased_at"]))
    said_yes = {
        f["complaint_external_id"] for f in _rows("followups.csv") if f["repurchased"] == "yes"
    }
    expected: Counter[str] = Counter()
    for row in _rows("complaints.csv"):
        resolved_text = row["explain_at"] or row["resolved_at"]
        if not (row["customer_ref"] and resolved_text):
            continue
        resolved = _moment(resolved_text)
        end = resolved + window
        if row["external_id"] in said_yes or any(
            resolved < t <= end and t <= as_of for t in bought[row["customer_ref"]]
        ):
            expected["repurchased"] += 1
        elif end <= as_of:
            expected["lost"] += 1
        else:
            expected["pending"] += 1
    outcomes = figures["repurchase"]
    assert {k: outcomes[k] for k in ("repurchased", "lost", "pending")} == dict(expected)
    assert outcomes["lost"] > 100 and outcomes["rate"] < 1
    for bucket, counts in figures["repurchase_by_speed"].items():
        assert counts["lost"] > 0 and counts["rate"] < 1, bucket
