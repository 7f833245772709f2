"""`latte import`: counts, rejects, strict and dry runs, history, idempotence.

The contract is in docs/architecture.md ("Batch import").
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from latte_cli import db, workflow
from latte_cli.events import workflow_events
from latte_cli.models import Complaint, Customer, Event, FollowUp, Purchase, StageRecord
from latte_cli.services.eventlog import events_of
from latte_cli.services.integrity import check_database

from .conftest import Latte

HEADER = (
    "Ticket,Customer,Name,Email,Channel,Category,Location,Severity,Subject,Description,Agent,"
    "Created,acknowledged_at,take_action_at,thank_at,explain_at,resolved_at,action_kind,"
    "action_detail,amount,Extra\n"
)
ROWS = [
    'T1,C-1,Ana,ana@x.org,phone,delivery,Paris,high,Broken parcel,"My parcel\narrived broken",'
    "sam,2026-11-01T10:00:00Z,2026-11-01T10:05:00Z,2026-11-01T11:00:00Z,2026-11-01T11:01:00Z,"
    "2026-11-01T11:02:00Z,,refund,Refunded,25.00,x\n",
    "T2,,,,email,billing,,,,Charged twice,,2026-11-02 09:00,,,,,2026-11-03 09:00,,,,y\n",
    "T3,C-2,,,chat,product,Lyon,low,,Bad,bob,2026-11-02 09:00,2026-11-01 09:00,,,,,,,,z\n",
    "T4,C-3,,,pigeon,product,Lyon,low,,Bad,bob,2026-11-02 09:00,,,,,,,,,z\n",
    "\n",
    "T5,C-1,,,web,product,,,,Still waiting,,2026-11-04 08:00,2026-11-04 08:30,,,,,,,,z\n",
]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def counts(result_output: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(result_output)
    return data


def consistent(url: str) -> None:
    """Every complaint replays to its stored state; the integrity check is clean."""
    with db.open_session(url) as session:
        report = check_database(session)
        assert report.clean, report.problems
        for complaint in session.exec(select(Complaint)).scalars().all():
            assert complaint.id is not None
            state = workflow.replay(workflow_events(events_of(session, complaint.id)))
            assert state is not None
            assert (state.stage_due.value if state.stage_due else None) == complaint.stage_due


def test_import_counts_rejects_and_history(latte: Latte, db_url: str, tmp_path: Path) -> None:
    source = write(tmp_path / "tickets.csv", HEADER + "".join(ROWS))
    result = latte("import", "complaints", str(source), "--json")
    assert result.exit_code == 3, result.output
    report = counts(result.stdout)
    assert (report["rows"], report["inserted"], report["rejected"]) == (5, 3, 2)
    assert report["unknown_columns"] == ["Extra"]
    assert [(r["line"], r["column"]) for r in report["rejects"]] == [  # type: ignore[attr-defined]
        (5, "acknowledged_at"),
        (6, "Channel"),
    ]
    rejects = list(csv.DictReader((tmp_path / "tickets.rejects.csv").open(encoding="utf-8")))
    assert [r["Ticket"] for r in rejects] == ["T3", "T4"]
    assert rejects[1]["Channel"] == "pigeon" and rejects[1]["reject_line"] == "6"
    consistent(db_url)
    with db.open_session(db_url) as session:
        t1 = session.exec(select(Complaint).where(Complaint.external_id == "T1")).one()[0]
        assert t1.stage_due is None and t1.assigned_agent == "sam"
        assert t1.resolved_at == datetime(2026, 11, 1, 11, 2, tzinfo=UTC)
        assert t1.acknowledged_epoch == int(datetime(2026, 11, 1, 10, 5, tzinfo=UTC).timestamp())
        records = (
            session.exec(
                select(StageRecord)
                .where(StageRecord.complaint_id == t1.id)
                .order_by(StageRecord.id)
            )
            .scalars()
            .all()
        )
        assert [r.duration_seconds for r in records] == [0, 300, 3300, 60, 60]
        assert records[2].amount_cents == 2500 and records[0].text == "My parcel\narrived broken"
        t2 = session.exec(select(Complaint).where(Complaint.external_id == "T2")).one()[0]
        # Only resolved_at: resolved, no stage after listen recorded, unassigned, anonymous.
        assert t2.stage_due is None and t2.assigned_agent is None and t2.customer_id is None
        assert (
            len(session.exec(select(StageRecord).where(StageRecord.complaint_id == t2.id)).all())
            == 1
        )
        kinds = [
            e.kind for e in session.exec(select(Event).where(Event.complaint_id == t2.id)).scalars()
        ]
        assert kinds == ["opened", "stage", "resolved"]
        t5 = session.exec(select(Complaint).where(Complaint.external_id == "T5")).one()[0]
        assert t5.stage_due == "take_action" and t5.customer_id == t1.customer_id
    # The same file again changes nothing and says so; rejects are rejected again.
    again = counts(latte("import", "complaints", str(source), "--json").stdout)
    assert (again["inserted"], again["updated"], again["unchanged"], again["rejected"]) == (
        0,
        0,
        3,
        2,
    )
    # Fix the rejects file and import it: the rows go in, the rejects file disappears.
    fixed = (tmp_path / "tickets.rejects.csv").read_text(encoding="utf-8")
    fixed = fixed.replace("2026-11-02 09:00,2026-11-01 09:00", "2026-11-02 09:00,2026-11-02 10:00")
    fixed = fixed.replace(",pigeon,", ",phone,")
    write(tmp_path / "fixed.csv", fixed)
    result = latte("import", "complaints", str(tmp_path / "fixed.csv"), "--json")
    assert result.exit_code == 0, result.output
    assert counts(result.stdout)["inserted"] == 2
    assert counts(result.stdout)["unknown_columns"] == ["Extra"]
    consistent(db_url)


def test_strict_and_dry_run_write_nothing(latte: Latte, db_url: str, tmp_path: Path) -> None:
    source = write(tmp_path / "t.csv", HEADER + "".join(ROWS))
    dry = latte("import", "complaints", str(source), "--dry-run", "--json")
    strict = latte("import", "complaints", str(source), "--strict", "--json")
    for result in (dry, strict):
        assert result.exit_code == 3
        report = counts(result.stdout)
        assert (report["inserted"], report["rejected"], report["written"]) == (3, 2, False)
    with db.open_session(db_url) as session:
        assert session.exec(select(func.count()).select_from(Complaint)).one()[0] == 0
    good = write(tmp_path / "good.csv", HEADER + ROWS[0] + ROWS[1])
    result = latte("import", "complaints", str(good), "--strict", "--json")
    assert result.exit_code == 0 and counts(result.stdout)["written"] is True
    assert not (tmp_path / "good.rejects.csv").exists()


def test_new_stages_are_appended_and_changes_updated(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    head = "external_id,channel,category,listen,opened_at,acknowledged_at,take_action_at,"
    head += "action_kind,resolved_at,location\n"
    first = "A,phone,delivery,Late,2026-11-01T10:00Z,2026-11-01T10:10Z,,,,Paris\n"
    later = "A,phone,delivery,Late,2026-11-01T10:00Z,2026-11-01T10:10Z,2026-11-01T12:00Z,"
    later += "repair,2026-11-02T09:00Z,Lyon\n"
    clash = "A,phone,delivery,Late,2026-11-01T10:00Z,2026-11-01T10:20Z,,,,Lyon\n"
    latte.ok("import", "complaints", str(write(tmp_path / "a.csv", head + first)))
    result = latte("import", "complaints", str(write(tmp_path / "b.csv", head + later)), "--json")
    assert counts(result.stdout)["updated"] == 1, result.output
    with db.open_session(db_url) as session:
        a = session.exec(select(Complaint)).one()[0]
        assert (a.stage_due, a.location, a.action_kind) == (None, "Lyon", "repair")
        assert a.resolved_at == datetime(2026, 11, 2, 9, tzinfo=UTC)
    consistent(db_url)
    result = latte("import", "complaints", str(write(tmp_path / "c.csv", head + clash)), "--json")
    assert result.exit_code == 3
    assert counts(result.stdout)["rejects"][0]["column"] == "acknowledge fields"  # type: ignore[index]


def test_map_date_format_tz_and_stdin(latte: Latte, db_url: str, tmp_path: Path) -> None:
    text = "\ufeffCase;Kanal;Kategorie;Text;Datum\nK1;phone;billing;Zu viel;03/11/2026 14:30\n"
    result = latte(
        "import", "complaints", "-", "--map", "Case=external_id", "--map", "Kanal=channel",
        "--map", "Kategorie=category", "--map", "Text=listen", "--map", "Datum=opened_at",
        "--date-format", "%d/%m/%Y %H:%M", "--tz", "Europe/Berlin", "--json",
        input=text,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with db.open_session(db_url) as session:
        k1 = session.exec(select(Complaint)).one()[0]
        assert k1.opened_at == datetime(2026, 11, 3, 13, 30, tzinfo=UTC)
    missing = latte("import", "complaints", "-", input="Case,Text\nK1,x\n")
    assert missing.exit_code == 1 and "external_id" in missing.output


def test_purchases_lines_add_up_and_followups(latte: Latte, db_url: str, tmp_path: Path) -> None:
    orders = (
        "order,customer,date,total\nO1,C-1,2026-11-05T10:00Z,10.00\nO2,C-2,2026-11-05T11:00Z,5\n"
    )
    orders += "O1,C-1,2026-11-05T10:00Z,2.50\nO3,C-1,2026-11-06,1\nO3,C-9,2026-11-06,1\n"
    result = latte("import", "purchases", str(write(tmp_path / "o.csv", orders)), "--json")
    report = counts(result.stdout)
    assert result.exit_code == 3
    assert (report["inserted"], report["rejected"], report["lines_accepted"]) == (2, 2, 3)
    with db.open_session(db_url) as session:
        o1 = session.exec(select(Purchase).where(Purchase.order_ref == "O1")).one()[0]
        assert (o1.amount_cents, o1.lines) == (1250, 2)
        assert session.exec(select(func.count()).select_from(Customer)).one()[0] == 2
    again = counts(latte("import", "purchases", str(tmp_path / "o.csv"), "--json").stdout)
    assert (again["inserted"], again["unchanged"]) == (0, 2)
    complaints = "external_id,channel,category,listen,opened_at,resolved_at\n"
    complaints += "X1,phone,delivery,Late,2026-11-01T10:00Z,2026-11-01T12:00Z\n"
    complaints += "X2,phone,delivery,Late,2026-11-01T10:00Z,\n"
    latte.ok("import", "complaints", str(write(tmp_path / "c.csv", complaints)))
    calls = (
        '{"external_id": "X1", "recorded_at": "2026-11-04T10:00Z", "nps": 9, "satisfied": true}\n'
    )
    calls += '{"external_id": "X2", "recorded_at": "2026-11-04T10:00Z", "reached": false}\n'
    calls += '{"external_id": "X9", "recorded_at": "2026-11-04T10:00Z", "reached": false}\n'
    calls += '{"external_id": "X1", "recorded_at": "2026-11-05T10:00Z", "nps": 11}\n'
    result = latte("import", "followups", str(write(tmp_path / "f.jsonl", calls)), "--json")
    report = counts(result.stdout)
    assert (report["inserted"], report["rejected"]) == (1, 3), result.output
    rejects = [json.loads(line) for line in (tmp_path / "f.rejects.jsonl").open()]
    assert sorted(r["reject_line"] for r in rejects) == [2, 3, 4]
    with db.open_session(db_url) as session:
        followup = session.exec(select(FollowUp)).one()[0]
        assert (followup.nps, followup.satisfied, followup.reached) == (9, True, True)
    consistent(db_url)


def test_sqlite_timestamps_match_sqlalchemys_layout() -> None:
    from sqlalchemy.dialects import sqlite

    from latte_cli.importer.base import Store

    class FakeConnection:
        dialect = sqlite.dialect()

    store = Store(FakeConnection())  # type: ignore[arg-type]
    process = Complaint.__table__.c.opened_at.type._cached_bind_processor(  # type: ignore[attr-defined]
        FakeConnection.dialect
    )
    for moment in (
        datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC),
        datetime.fromisoformat("2026-03-29T01:30:00.123456+02:00"),
    ):
        assert store.ts(moment) == process(moment)


def test_each_stage_is_credited_to_its_own_agent(latte: Latte, db_url: str, tmp_path: Path) -> None:
    """Per-stage agent columns credit each stage; an empty one falls back to the row's agent,
    and a row without either to the file (docs/architecture.md, "Batch import")."""
    text = (
        "external_id,channel,category,listen,agent,opened_at,listen_by,acknowledged_at,"
        "first_response_by,take_action_at,action_kind,take_action_by,thank_at,thank_by,"
        "explain_at,explain_by,resolved_at\n"
        "A1,phone,billing,Charged twice,sam,2026-11-01T10:00Z,lee,2026-11-01T10:05Z,kim,"
        "2026-11-01T11:00Z,refund,raj,2026-11-01T11:01Z,,2026-11-01T11:02Z,eva,\n"
        "A2,email,billing,Charged twice,,2026-11-02T10:00Z,,2026-11-02T10:05Z,kim,,,,,,,,\n"
        "A3,email,billing,Late,,2026-11-02T10:00Z,,,,,,,,,,mia,2026-11-03T10:00Z\n"
    )
    result = latte("import", "complaints", str(write(tmp_path / "staged.csv", text)), "--json")
    assert result.exit_code == 0, result.output
    assert (counts(result.stdout)["inserted"], counts(result.stdout)["unknown_columns"]) == (3, [])
    expected = {
        "A1": {"opened": "lee", "listen": "lee", "acknowledge": "kim", "take_action": "raj",
               "thank": "sam", "explain": "eva"},
        "A2": {"opened": "import:staged.csv", "listen": "import:staged.csv",
               "acknowledge": "kim"},
        "A3": {"opened": "import:staged.csv", "listen": "import:staged.csv", "resolved": "mia"},
    }  # fmt: skip
    with db.open_session(db_url) as session:
        for external_id, wanted in expected.items():
            complaint = session.exec(
                select(Complaint).where(Complaint.external_id == external_id)
            ).one()[0]
            assert complaint.opened_by == wanted["opened"]
            by_event = {}
            for event in session.exec(
                select(Event).where(Event.complaint_id == complaint.id).order_by(Event.id)
            ).scalars():
                details = json.loads(event.data)
                by_event[details.get("stage", event.kind)] = event.agent
            assert by_event == wanted, external_id
            records = session.exec(
                select(StageRecord.stage, StageRecord.agent).where(
                    StageRecord.complaint_id == complaint.id
                )
            ).all()
            assert {stage: agent for stage, agent in records} == {
                k: v for k, v in wanted.items() if k not in ("opened", "resolved")
            }
    consistent(db_url)
    again = latte("import", "complaints", str(tmp_path / "staged.csv"), "--json")
    assert counts(again.stdout)["unchanged"] == 3, again.output


def test_every_kind_reads_stdin_credited_to_stdin(
    latte: Latte, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    complaints = (
        "external_id,channel,category,listen,opened_at,resolved_at\n"
        "S1,phone,delivery,Late,2026-11-01T10:00Z,2026-11-01T12:00Z\n"
        "S2,telex,delivery,Late,2026-11-01T10:00Z,\n"
    )
    result = latte("import", "complaints", "-", "--json", input=complaints)
    assert result.exit_code == 3, result.output
    report = counts(result.stdout)
    assert (report["rows"], report["inserted"], report["rejected"]) == (2, 1, 1)
    assert report["rejects_file"] == "latte-import.rejects.csv"
    rejected = (tmp_path / "latte-import.rejects.csv").read_text(encoding="utf-8")
    assert rejected.splitlines()[1].endswith("S2,telex,delivery,Late,2026-11-01T10:00Z,")
    orders = (
        "order_ref,customer_ref,purchased_at,amount\nO1,C-1,2026-11-05,10\nO1,C-1,2026-11-05,2\n"
    )
    result = latte("import", "purchases", "-", "--json", input=orders)
    assert result.exit_code == 0, result.output
    assert (counts(result.stdout)["inserted"], counts(result.stdout)["lines_accepted"]) == (1, 2)
    calls = '{"external_id": "S1", "recorded_at": "2026-11-04T10:00Z", "nps": 9}\n'
    result = latte("import", "followups", "-", "--json", input=calls)
    assert result.exit_code == 0, result.output
    assert counts(result.stdout)["inserted"] == 1
    with db.open_session(db_url) as session:
        opened_by = session.exec(select(Complaint.opened_by)).scalars().all()
        agents = set(session.exec(select(Event.agent)).scalars())
        followup = session.exec(select(FollowUp.agent)).scalars().one()
        assert session.exec(select(Purchase.amount_cents)).scalars().one() == 1200
    assert opened_by == ["import:stdin"] and agents == {"import:stdin"}
    assert followup == "import:stdin"


def test_purchase_customers_are_matched_by_the_identity_rule(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    """Purchases name customers by ref alone; they are matched as `identity.CustomerIndex`
    matches such details (the same ref, lowest id first), new refs creating one customer."""
    from latte_cli import identity

    people = "external_id,customer_ref,customer_email,channel,category,listen,opened_at\n"
    people += "P1,C-1,ana@x.org,phone,billing,Late,2026-11-01T10:00Z\n"
    people += "P2,C-2,,phone,billing,Late,2026-11-01T10:00Z\n"
    people += "P3,,bo@x.org,phone,billing,Late,2026-11-01T10:00Z\n"
    latte.ok("import", "complaints", str(write(tmp_path / "people.csv", people)))
    with db.open_session(db_url) as session:
        # A second customer with the key C-1, as older data may hold: the first one wins.
        session.add(Customer(ref="C-1 ", ref_key="C-1", name="Other", created_at=datetime.now(UTC)))
        session.commit()
        stored = session.exec(select(Customer)).scalars().all()
        index = identity.CustomerIndex(
            (c.id, identity.Keys(c.ref_key, c.email_key, c.phone_key, c.name_key))
            for c in sorted(stored, key=lambda c: c.id or 0)
        )
        known = len(stored)
    refs = ["C-1", "C-2\u200b", " C-3 ", "C-3", "bo@x.org"]
    orders = "order_ref,customer_ref,purchased_at,amount\n"
    orders += "".join(f'O{i},"{ref}",2026-11-05,1\n' for i, ref in enumerate(refs))
    result = latte("import", "purchases", str(write(tmp_path / "o.csv", orders)), "--json")
    assert counts(result.stdout)["inserted"] == len(refs), result.output
    with db.open_session(db_url) as session:
        owner = dict(session.exec(select(Purchase.order_ref, Purchase.customer_id)).all())
        customers = {c.id: c for c in session.exec(select(Customer)).scalars().all()}
    for i, ref in enumerate(refs[:2]):
        assert owner[f"O{i}"] == index.match(
            identity.keys_of(ref=ref, email=None, phone=None, name=None)
        )
    assert index.match(identity.keys_of(ref="C-3", email=None, phone=None, name=None)) is None
    assert owner["O2"] == owner["O3"] and customers[owner["O2"]].ref == "C-3"
    # An email in the ref column is a ref: it never matches the customer with that email.
    assert customers[owner["O4"]].ref == "bo@x.org" and customers[owner["O4"]].email is None
    assert len(customers) == known + 2


def test_staged_purchase_cells_come_back_as_they_were() -> None:
    """The rejects file gets a conflicting order's lines back from the staging table."""
    from latte_cli.importer.purchases import pack_raw, unpack_raw

    for raw in (["O1", "C-1"], [""], [], ["\x1eO1", "x"], ["a\x1fb", "c"], {"order": "O1"}):
        assert unpack_raw(pack_raw(raw)) == raw


def test_an_action_without_its_stage_time_names_the_column_given(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    """A row with an amount (or a detail) but no action kind nor take_action_at is rejected
    naming the column it has, not one the file lacks."""
    head = "external_id,opened_at,channel,category,listen,resolved_at,amount\n"
    row = "AM-1,2026-05-04T10:00:00Z,phone,delivery,Broken,2026-05-04T12:00:00Z,12.50\n"
    result = latte("import", "complaints", str(write(tmp_path / "am.csv", head + row)), "--json")
    assert result.exit_code == 3, result.output
    (reject,) = counts(result.stdout)["rejects"]  # type: ignore[misc]
    assert (reject["line"], reject["column"]) == (2, "amount")
    assert "take_action_at" in reject["reason"]


def test_a_purchases_import_with_no_line_accepted_counts_zero_lines(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    text = "order_ref,customer_ref,purchased_at,amount\nO1,C-1,2026-01-01T00:00:00Z,abc\n"
    result = latte("import", "purchases", str(write(tmp_path / "bad.csv", text)), "--json")
    assert result.exit_code == 3, result.output
    report = counts(result.stdout)
    assert (report["rejected"], report["lines_accepted"]) == (1, 0)


def test_a_follow_up_before_the_first_resolution_is_rejected(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    """A follow-up answers a resolution: one dated before the complaint was first resolved
    (here before it was even opened) answers none."""
    head = "external_id,opened_at,channel,category,listen,resolved_at\n"
    row = "CX-1,2026-05-04T10:00:00Z,phone,delivery,Broken,2026-05-04T12:00:00Z\n"
    latte.ok("import", "complaints", str(write(tmp_path / "c.csv", head + row)))
    calls = (
        "complaint_external_id,recorded_at,nps,repurchased\n"
        "CX-1,2026-05-03T10:00:00Z,9,yes\n"
        "CX-1,2026-05-04T11:59:59Z,8,yes\n"
        "CX-1,2026-05-06T10:00:00Z,7,no\n"
    )
    result = latte("import", "followups", str(write(tmp_path / "f.csv", calls)), "--json")
    assert result.exit_code == 3, result.output
    report = counts(result.stdout)
    assert (report["inserted"], report["rejected"]) == (1, 2)
    assert [(r["line"], r["column"]) for r in report["rejects"]] == [  # type: ignore[attr-defined]
        (2, "recorded_at"),
        (3, "recorded_at"),
    ]
    with db.open_session(db_url) as session:
        (kept,) = session.exec(select(FollowUp)).all()
        assert kept[0].nps == 7
