"""A JSONL export is a migration: importing it into a fresh database gives every complaint the
same `latte show --json` (ids aside), the same follow-ups and a clean `latte db check`, on
SQLite and PostgreSQL. Histories are generated through the services: transfers with notes,
several reopenings, open and resolved complaints, answered and unanswered follow-ups."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from latte_cli import db
from latte_cli.services import complaints as service
from latte_cli.services.customers import CustomerDetails
from latte_cli.services.followups import Outcome, Repurchased, record_followup
from latte_cli.services.integrity import check_database
from latte_cli.timeutil import utcnow

from .conftest import Latte

AGENTS = ("ana", "ben", "chloe", "dev")
CHANNELS = ("phone", "Postal mail", "E-mail", "Web form", "fax", "in_app", "chat")
KINDS = ("refund", "replacement", "credit", "apology", "escalation", "Store credit")
# As agents give them: some by ref, some only by email or name, some anonymous.
CUSTOMERS = (
    CustomerDetails(ref="C-1", name="Ana Diaz", email="ana@example.org"),
    CustomerDetails(email="ana@example.org"),
    CustomerDetails(ref="C-2", phone="+33 1 23 45 67 89"),
    CustomerDetails(name="Bo Li", email="bo@example.org"),
    CustomerDetails(ref="C-3"),
    CustomerDetails(),
)
CAUSES = ("product_defect", "delivery", "system", "Billing", "customer-error")


def _stage(session: Session, rng: random.Random, complaint_id: int, stage: str, at: Any) -> None:
    given = service.StageInput(text=f"{stage} said {rng.random():.6f}")
    if stage == "take_action":
        given = service.StageInput(
            text="Action taken",
            action_kind=rng.choice(KINDS),
            action_detail=f"Did {rng.randint(1, 999)}",
            amount=rng.choice([None, "12.50", "0.99", "120"]),
            options_offered=tuple(rng.sample(["voucher", "repair", "wait"], rng.randint(0, 2))),
        )
    elif stage == "explain":
        given = service.StageInput(
            text="Explained",
            root_cause=rng.choice(CAUSES),
            what_will_change=f"Change {rng.randint(1, 99)}",
        )
    agent = rng.choice(AGENTS)
    service.record_stage(
        session,
        complaint_id=complaint_id,
        stage=stage,
        given=given,
        agent=agent,
        at=at,
        followup_days=rng.randint(0, 5),
    )


def _transfer(session: Session, rng: random.Random, complaint_id: int) -> None:
    current = service.get_complaint(session, complaint_id).assigned_agent
    to = rng.choice([a for a in AGENTS if a != current])
    note = f"Over to {to}: {rng.random():.4f}"
    service.transfer(
        session, complaint_id=complaint_id, to_agent=to, note=note, agent=rng.choice(AGENTS)
    )


def generate(session: Session, seed: int, count: int) -> list[int]:
    """`count` complaints with random histories, built through the services."""
    rng = random.Random(seed)
    ids = []
    for n in range(count):
        at = utcnow() - timedelta(days=40) + timedelta(hours=7 * n, seconds=rng.randint(0, 9999))
        customer = rng.choice(CUSTOMERS)
        complaint = service.open_complaint(
            session,
            new=service.NewComplaint(
                channel=rng.choice(CHANNELS),
                category=rng.choice(["delivery", "billing", "product"]),
                listen=f"My words {n}\nsecond line",
                location=rng.choice([None, "Paris", "Lyon"]),
                severity=rng.choice(["low", "medium", "high", "Urgent"]),
                customer=customer,
                external_id=f"EXT-{seed}-{n}" if rng.random() < 0.5 else None,
                assign=rng.random() < 0.8,
            ),
            agent=rng.choice(AGENTS),
            at=at,
            listened_at=at + timedelta(seconds=rng.randint(0, 600)),
        )
        assert complaint.id is not None
        ids.append(complaint.id)
        at += timedelta(minutes=15)
        stages = ["acknowledge", "take_action", "thank", "explain"]
        reopenings = rng.choice([0, 0, 1, 2, 3])
        stop = rng.randint(0, len(stages)) if rng.random() < 0.25 else len(stages)
        while True:
            for stage in stages[:stop]:
                if rng.random() < 0.3:
                    _transfer(session, rng, complaint.id)
                at += timedelta(minutes=rng.randint(1, 300), microseconds=rng.randint(0, 999999))
                _stage(session, rng, complaint.id, stage, at)
            if stop < len(stages) or reopenings == 0:
                break
            if rng.random() < 0.5:
                outcome = Outcome(
                    reached=True,
                    satisfied=rng.random() < 0.5,
                    nps=rng.randint(0, 10),
                    repurchased=rng.choice(list(Repurchased)),
                    note=rng.choice([None, "Called back"]),
                )
                record_followup(
                    session,
                    complaint_id=complaint.id,
                    outcome=outcome,
                    agent=rng.choice(AGENTS),
                    replace=True,
                )
            reopenings -= 1
            at += timedelta(hours=rng.randint(1, 48))
            service.reopen(
                session,
                complaint_id=complaint.id,
                reason=f"Came back {reopenings}",
                agent=rng.choice(AGENTS),
                at=at,
            )
            stages = ["take_action", "thank", "explain"]
            stop = rng.randint(0, 3) if rng.random() < 0.2 else 3
        if stop == len(stages) and rng.random() < 0.6:
            reached = rng.random() < 0.7
            outcome = Outcome(reached=True, satisfied=True, nps=9) if reached else Outcome(False)
            # Recorded now, after every simulated resolution: it replaces an earlier cycle's
            # answer (one follow-up per resolution, docs/metrics.md).
            record_followup(
                session,
                complaint_id=complaint.id,
                outcome=outcome,
                agent=rng.choice(AGENTS),
                replace=True,
            )
    return ids


def fresh_database(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> str:
    if db_url.startswith("postgresql"):
        url: str = request.getfixturevalue("postgres_server").create_database()
        return url
    return f"sqlite:///{tmp_path / 'fresh.db'}"


def shown(latte: Latte, url: str, complaint_id: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        latte.ok("--db", url, "show", str(complaint_id), "--json").stdout
    )
    return data


def ids_by_external_id(latte: Latte, url: str) -> dict[str, int]:
    rows = json.loads(latte.ok("--db", url, "list", "--all", "--limit", "10000", "--json").stdout)
    return {row["external_id"]: row["id"] for row in rows}


@pytest.mark.parametrize("seed", [7, 2026])
def test_an_export_imports_into_a_fresh_database_unchanged(
    latte: Latte,
    db_url: str,
    session: Session,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    seed: int,
) -> None:
    ids = generate(session, seed, 24)
    assert check_database(session).clean
    session.rollback()
    first = tmp_path / "first.jsonl"
    latte.ok("--db", db_url, "export", "complaints", "--format", "jsonl", "-o", str(first))
    exported = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()]
    assert sum(e["details"].get("cycle", 0) > 1 for r in exported for e in r["history"]) > 0
    assert any(e["kind"] == "transfer" for r in exported for e in r["history"])

    target = fresh_database(request, db_url, tmp_path)
    result = latte("--db", target, "import", "complaints", str(first), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["inserted"], report["rejected"]) == (len(ids), len(ids), 0)

    mapped = ids_by_external_id(latte, target)
    for record, source_id in zip(exported, ids, strict=True):
        before = shown(latte, db_url, source_id)
        after = shown(latte, target, mapped[record["external_id"]])
        assert after["external_id"] == record["external_id"]
        for key in before.keys() - {"id", "external_id"}:
            assert after[key] == before[key], (record["external_id"], key)
        assert before.keys() == after.keys()

    # Follow-ups and event details too: the target exports the same file, byte for byte.
    second = tmp_path / "second.jsonl"
    latte.ok("--db", target, "export", "complaints", "--format", "jsonl", "-o", str(second))
    assert second.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")

    again = json.loads(
        latte.ok("--db", target, "import", "complaints", str(first), "--json").stdout
    )
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, len(ids))
    third = tmp_path / "third.jsonl"
    latte.ok("--db", target, "export", "complaints", "--format", "jsonl", "-o", str(third))
    assert third.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")
    with db.open_session(target) as check_session:
        assert check_database(check_session).clean


def test_a_broken_history_is_rejected_whole_and_named(
    latte: Latte, db_url: str, session: Session, tmp_path: Path
) -> None:
    generate(session, 3, 3)
    first = tmp_path / "first.jsonl"
    latte.ok("export", "complaints", "--format", "jsonl", "-o", str(first))
    records = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()]
    # Explain recorded before acknowledge breaks the stage order; "telex" the vocabulary.
    assert records[0]["history"][1]["details"] == {"cycle": 0, "stage": "listen"}
    records[0]["history"][1]["details"]["stage"] = "explain"
    records[1]["channel"] = "telex"
    broken = tmp_path / "broken.jsonl"
    broken.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = latte("--db", fresh, "import", "complaints", str(broken), "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["inserted"], report["rejected"]) == (1, 2)
    reasons = [r["reason"] for r in report["rejects"]]
    assert reasons[0].startswith("event 2 (stage): Stage explain cannot be recorded yet")
    assert "Channel 'telex' is not one of" in reasons[1]
    assert len(ids_by_external_id(latte, fresh)) == 1
    with db.open_session(fresh) as check_session:
        assert check_database(check_session).clean


def test_an_export_imports_from_stdin_and_a_dry_run_writes_nothing(
    latte: Latte, db_url: str, session: Session, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Scripts pipe the export into the import: stdin is read as the file would be."""
    ids = generate(session, 11, 6)
    session.rollback()
    first = tmp_path / "first.jsonl"
    latte.ok("--db", db_url, "export", "complaints", "--format", "jsonl", "-o", str(first))
    text = first.read_text(encoding="utf-8")

    missing = tmp_path / "missing.db"
    dry = latte(
        "--db", str(missing), "import", "complaints", "-", "--dry-run", "--json", input=text
    )
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["inserted"] == len(ids) and not missing.exists()

    target = fresh_database(request, db_url, tmp_path)
    result = latte("--db", target, "import", "complaints", "-", "--json", input=text)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["inserted"], report["rejected"]) == (len(ids), len(ids), 0)
    second = tmp_path / "second.jsonl"
    latte.ok("--db", target, "export", "complaints", "--format", "jsonl", "-o", str(second))
    assert second.read_text(encoding="utf-8") == text
