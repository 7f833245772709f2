"""Corrections: `latte amend` on a recorded stage, `latte customer edit`, and `latte new` with
details that differ from an existing customer's. The original always stays in the event log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from latte_cli.models import Complaint, Customer, Event, StageRecord
from latte_cli.services.views import replayed_state
from tests.conftest import Latte

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def resolved(
    latte: Latte, *, customer: str = "C-1", name: str = "Ana Diaz", at: datetime = START
) -> str:
    cid = latte.ok(
        "new", "--customer", customer, "--name", name, "--channel", "phone",
        "--category", "delivery", "--listen", "My parcel arrived broken", "--at", at.isoformat(),
    ).stdout.strip()  # fmt: skip
    steps = [
        ("acknowledge", ("--text", "Sorry about that")),
        ("take_action", ("--kind", "refund", "--detail", "Refunded", "--amount", "25")),
        ("thank", ("--text", "Thanks for telling us")),
        ("explain", ("--root-cause", "delivery", "--change", "Sturdier boxes")),
    ]
    for hours, (stage, args) in enumerate(steps, start=1):
        latte.ok("step", cid, stage, *args, "--at", (at + timedelta(hours=hours)).isoformat())
    return cid


def events_of(session: Session, cid: int, kind: str) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.exec(
        select(Event).where(Event.complaint_id == cid, Event.kind == kind).order_by(col(Event.id))
    ).all()
    session.commit()
    return [{"agent": e.agent, **json.loads(e.data)} for e in rows]


def test_amend_changes_what_the_stage_says_and_keeps_the_original(
    latte: Latte, session: Session
) -> None:
    cid = resolved(latte)
    record_before = session.exec(select(StageRecord).where(StageRecord.stage == "explain")).one()
    when, took = record_before.completed_at, record_before.duration_seconds
    session.commit()

    result = latte.ok(
        "--agent", "sam", "amend", cid, "explain", "--root-cause", "product_defect",
        "--reason", "Picked the wrong cause",
    )  # fmt: skip

    assert "root_cause" in result.stdout
    session.expire_all()
    record = session.exec(select(StageRecord).where(StageRecord.stage == "explain")).one()
    complaint = session.exec(select(Complaint)).one()
    session.commit()
    assert record.root_cause == "product_defect" and complaint.root_cause == "product_defect"
    # Never its time, its duration or its place in the order.
    assert (record.completed_at, record.duration_seconds) == (when, took)
    assert record.what_will_change == "Sturdier boxes"
    [amended] = events_of(session, int(cid), "amended")
    assert amended == {
        "agent": "sam",
        "stage": "explain",
        "cycle": 0,
        "before": {"root_cause": "delivery"},
        "after": {"root_cause": "product_defect"},
        "reason": "Picked the wrong cause",
    }
    state = replayed_state(session, int(cid))
    session.commit()
    assert state is not None and state.is_resolved
    assert json.loads(latte.ok("db", "check", "--json").stdout)["clean"]


def test_amend_records_exactly_the_fields_that_changed(latte: Latte, session: Session) -> None:
    cid = resolved(latte)
    latte.ok(
        "amend", cid, "take_action", "--kind", "refund", "--amount", "30", "--option", "voucher",
        "--option", "replacement", "--reason", "Typed the wrong amount",
    )  # fmt: skip
    [amended] = events_of(session, int(cid), "amended")
    # The kind was given but did not change: it is not in the event.
    assert amended["before"] == {"amount_cents": 2500, "options_offered": None}
    assert amended["after"] == {"amount_cents": 3000, "options_offered": ["voucher", "replacement"]}

    latte.ok("amend", cid, "take_action", "--amount", "", "--reason", "No refund after all")
    session.expire_all()
    record = session.exec(select(StageRecord).where(StageRecord.stage == "take_action")).one()
    session.commit()
    assert record.amount_cents is None


def test_amend_refusals_are_one_line_and_write_nothing(latte: Latte, session: Session) -> None:
    cid = resolved(latte)
    open_one = latte.ok(
        "new", "--channel", "phone", "--category", "x", "--listen", "Still waiting"
    ).stdout.strip()
    cases = [
        (("amend", cid, "explain", "--root-cause", "delivery", "--reason", "r"), "Nothing changes"),
        (("amend", cid, "explain", "--root-cause", "gremlins", "--reason", "r"), "gremlins"),
        (("amend", cid, "listen", "--kind", "refund", "--reason", "r"), "--kind applies to"),
        (("amend", open_one, "thank", "--text", "Thanks", "--reason", "r"), "was not recorded"),
        (("amend", cid, "explain", "--reason", "r"), "Nothing to change"),
        (("amend", cid, "explain", "--root-cause", "other", "--reason", " "), "reason is empty"),
        (("amend", cid, "thank", "--text", "x", "--cycle", "2", "--reason", "r"), "--cycle"),
        (("amend", "99", "thank", "--text", "x", "--reason", "r"), "No complaint with id 99"),
    ]
    for args, message in cases:
        result = latte(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.output
    assert events_of(session, int(cid), "amended") == []
    assert latte("amend", cid, "explain", "--root-cause", "other").exit_code == 2  # no --reason


def test_amend_an_earlier_cycle_leaves_the_current_values(latte: Latte, session: Session) -> None:
    cid = resolved(latte)
    latte.ok("reopen", cid, "--reason", "Refund never arrived")
    latte.ok("step", cid, "take_action", "--kind", "replacement", "--detail", "Sent a new one")
    latte.ok("amend", cid, "take_action", "--kind", "credit", "--cycle", "1", "--reason", "r")
    session.expire_all()
    complaint = session.exec(select(Complaint)).one()
    kinds = session.exec(
        select(StageRecord.cycle, StageRecord.action_kind)
        .where(StageRecord.stage == "take_action")
        .order_by(col(StageRecord.cycle))
    ).all()
    session.commit()
    assert kinds == [(0, "credit"), (1, "replacement")]
    assert complaint.action_kind == "replacement"  # the latest take_action is unchanged

    latte.ok("amend", cid, "take_action", "--kind", "repair", "--reason", "r")  # current cycle
    session.expire_all()
    complaint = session.exec(select(Complaint)).one()
    session.commit()
    assert complaint.action_kind == "repair"


def test_show_marks_amended_steps_and_history_shows_before_and_after(latte: Latte) -> None:
    cid = resolved(latte)
    latte.ok(
        "--agent", "sam", "amend", cid, "acknowledge", "--text", "Sorry, Ana", "--reason", "Name it"
    )

    shown = latte.ok("show", cid).stdout
    line = next(row for row in shown.splitlines() if "acknowledge" in row)
    assert "(amended)" in line and "Sorry, Ana" in line
    assert "Sorry about that" not in shown  # the timeline shows current values
    assert "Corrections" not in shown

    history = latte.ok("show", cid, "--history").stdout
    assert "acknowledge · reason: Name it" in history and "sam" in history
    assert "text: Sorry about that → Sorry, Ana" in history
    assert all(len(row) <= 80 for row in history.splitlines())

    data = json.loads(latte.ok("show", cid, "--json").stdout)
    marks = {s["stage"]: s["amended"] for s in data["stages"]}
    assert marks == {
        "listen": False,
        "acknowledge": True,
        "take_action": False,
        "thank": False,
        "explain": False,
    }
    [change] = data["history"]
    assert change["kind"] == "amended" and change["agent"] == "sam"
    assert change["before"] == {"text": "Sorry about that"}
    assert change["after"] == {"text": "Sorry, Ana"}


def repurchase_by_action(latte: Latte) -> dict[str, Any]:
    report = json.loads(
        latte.ok(
            "report", "weekly", "--week", "2026-W45", "--as-of", "2027-06-01", "--format", "json"
        ).stdout
    )
    return {k: v for k, v in report["figures"]["repurchase_by_action"].items() if v["n"]}


def test_amending_the_kind_moves_the_repurchase_by_kind_figure(latte: Latte) -> None:
    first = resolved(latte, customer="C-1")
    resolved(latte, customer="C-2", name="Bo Li")
    before = repurchase_by_action(latte)
    assert set(before) == {"refund"} and before["refund"]["n"] == 2

    latte.ok("amend", first, "take_action", "--kind", "replacement", "--reason", "It was a swap")

    after = repurchase_by_action(latte)
    assert set(after) == {"refund", "replacement"}
    assert after["refund"]["n"] == 1 and after["replacement"]["n"] == 1


def test_customer_edit_rederives_the_keys_and_logs_on_each_complaint(
    latte: Latte, session: Session
) -> None:
    first = resolved(latte)
    second = resolved(latte, at=START + timedelta(days=1))
    result = latte.ok(
        "customer", "edit", "C-1", "--name", "Ana Díaz", "--email", "ana@example.com",
        "--reason", "Typed without the accent",
    )  # fmt: skip
    assert "name: Ana Diaz → Ana Díaz" in result.stdout

    session.expire_all()
    customer = session.exec(select(Customer)).one()
    session.commit()
    assert (customer.name, customer.name_key) == ("Ana Díaz", "ana diaz")
    assert customer.email_key == "ana@example.com"
    for cid in (first, second):
        [edited] = events_of(session, int(cid), "customer_edited")
        assert edited["before"] == {"name": "Ana Diaz", "email": None}
        assert edited["after"] == {"name": "Ana Díaz", "email": "ana@example.com"}
        assert edited["reason"] == "Typed without the accent"
    # The new email matches the customer now, whatever its case.
    third = latte.ok(
        "new", "--email", "ANA@example.com", "--channel", "phone", "--category", "x",
        "--listen", "Hello again",
    ).stdout.strip()  # fmt: skip
    assert json.loads(latte.ok("show", third, "--json").stdout)["customer"]["ref"] == "C-1"
    # No reason is fine; nothing changing is not.
    latte.ok("customer", "edit", "C-1", "--phone", "0161 496 0000")
    same = latte("customer", "edit", "C-1", "--phone", "0161 496 0000")
    assert same.exit_code == 1 and "Nothing changes" in same.stderr


def test_customer_edit_refuses_a_collision_naming_the_other_and_merge(
    latte: Latte, session: Session
) -> None:
    resolved(latte, customer="C-1", name="Ana Diaz")
    resolved(latte, customer="C-2", name="Bo Li")
    latte.ok("customer", "edit", "C-1", "--email", "shared@example.com")

    for args in (("--ref", "C-1"), ("--ref", " C-1\u200b")):
        refused = latte("customer", "edit", "C-2", *args)
        assert refused.exit_code == 1, refused.output
        assert "C-1 (Ana Diaz)" in refused.stderr
        assert "latte customer merge C-2 --into C-1" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    session.expire_all()
    stored = session.exec(select(Customer.ref).order_by(col(Customer.id))).all()
    session.commit()
    assert stored == ["C-1", "C-2"]
    missing = latte("customer", "edit", "C-9", "--name", "X")
    assert missing.exit_code == 1 and "No customer with ref 'C-9'" in missing.stderr


def test_new_with_other_details_warns_and_keeps_them_unless_asked(
    latte: Latte, session: Session
) -> None:
    resolved(latte, name="Ana Diaz")
    base = ("new", "--customer", "C-1", "--channel", "phone", "--category", "x", "--listen", "Hi")

    kept = latte.ok(*base, "--name", "Anna Diaz", "--email", "ana@example.com")
    warnings = kept.stderr.strip().splitlines()
    assert any(w.startswith("Warning: customer C-1's name is stored as Ana Diaz") for w in warnings)
    assert "--update-customer" in kept.stderr
    assert "Customer C-1 had no email: stored ana@example.com." in warnings
    session.expire_all()
    customer = session.exec(select(Customer)).one()
    session.commit()
    assert (customer.name, customer.email) == ("Ana Diaz", "ana@example.com")

    # The same email in another case is not a difference.
    same = latte.ok(*base, "--email", "ANA@EXAMPLE.COM")
    assert "Warning" not in same.stderr

    updated = latte.ok(*base, "--name", "Anna Diaz", "--update-customer")
    assert "name changed from Ana Diaz to Anna Diaz" in updated.stderr
    session.expire_all()
    customer = session.exec(select(Customer)).one()
    session.commit()
    assert (customer.name, customer.name_key) == ("Anna Diaz", "anna diaz")
    edits = events_of(session, 1, "customer_edited")
    assert [e["after"] for e in edits] == [{"name": "Anna Diaz"}]
