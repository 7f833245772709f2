"""Merging: a duplicate complaint into the real one (`latte merge`), a duplicate customer into
another (`latte customer merge`); what they show, what they refuse, that reports count a merged
duplicate nowhere, that `latte db check` verifies them, and that two agents merging crosswise
at once neither deadlock nor both succeed."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from latte_cli import db
from latte_cli.errors import InvalidValue
from latte_cli.models import Complaint, Customer, Event, Purchase
from latte_cli.services import merge
from latte_cli.services.complaints import NewComplaint, open_complaint
from latte_cli.services.customers import CustomerDetails
from tests.conftest import Latte

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
AS_OF = "2027-06-01T00:00:00+00:00"


def opened(latte: Latte, *extra: str, at: datetime = START, words: str = "Parcel broken") -> str:
    return latte.ok(
        "new", "--channel", "phone", "--category", "delivery", "--listen", words,
        "--at", at.isoformat(), *extra,
    ).stdout.strip()  # fmt: skip


def resolve(latte: Latte, cid: str, at: datetime, kind: str = "refund") -> None:
    steps = [
        ("acknowledge", ("--text", "Sorry")),
        ("take_action", ("--kind", kind, "--detail", "Done", "--amount", "10")),
        ("thank", ("--text", "Thanks")),
        ("explain", ("--root-cause", "delivery", "--change", "Better boxes")),
    ]
    for hours, (stage, args) in enumerate(steps, start=1):
        latte.ok("step", cid, stage, *args, "--at", (at + timedelta(hours=hours)).isoformat())


def report(latte: Latte, *extra: str) -> dict[str, Any]:
    data = json.loads(
        latte.ok(
            "report", "weekly", "--week", "2026-W45", "--as-of", AS_OF, "--format", "json", *extra
        ).stdout
    )
    return {key: data[key] for key in ("figures", "previous", "groups", "trend")}


def test_merge_closes_the_duplicate_into_the_targets_timeline(latte: Latte) -> None:
    target = opened(latte, "--customer", "C-1", words="My parcel arrived broken")
    duplicate = opened(
        latte, "--customer", "C-1", "--queue", at=START + timedelta(hours=2), words="Called again"
    )
    latte.ok("step", duplicate, "acknowledge", "--text", "Sorry, twice")

    done = latte.ok("--agent", "sam", "merge", duplicate, "--into", target, "--reason", "Same")
    assert f"Complaint {duplicate} merged into {target}" in done.stdout

    shown = latte.ok("show", target).stdout
    assert f"Duplicates merged into it: #{duplicate}" in shown
    assert f"(from #{duplicate}) Called again" in shown
    assert f"(from #{duplicate}) Sorry, twice" in shown
    data = json.loads(latte.ok("show", target, "--json").stdout)
    assert data["merged_from"] == [int(duplicate)]
    theirs = [s for s in data["stages"] if s["from_complaint"] == int(duplicate)]
    assert [s["stage"] for s in theirs] == ["listen", "acknowledge"]
    [merge_entry] = [h for h in data["handoffs"] if h["kind"] == "merged"]
    assert merge_entry["into"] == int(target) and merge_entry["agent"] == "sam"

    dup = json.loads(latte.ok("show", duplicate, "--json").stdout)
    assert (dup["status"], dup["merged_into"], dup["stage_due"]) == ("merged", int(target), None)
    assert f"merged into {target}" in latte.ok("show", duplicate).stdout
    # Out of the queue and the open list; nothing more is recorded on it.
    assert "queue is empty" in latte.ok("next").output
    listed = json.loads(latte.ok("list", "--status", "open", "--json").stdout)
    assert [row["id"] for row in listed] == [int(target)]
    for args in (
        ("step", duplicate, "take_action", "--kind", "refund", "--detail", "x"),
        ("reopen", duplicate, "--reason", "x"),
        ("transfer", duplicate, "--to", "ana", "--note", "x"),
    ):
        refused = latte(*args)
        assert refused.exit_code == 1 and f"merged into complaint {target}" in refused.stderr
    assert json.loads(latte.ok("db", "check", "--json").stdout)["clean"]


def test_merge_refusals_name_the_way_out_and_write_nothing(latte: Latte, session: Session) -> None:
    one = opened(latte, "--customer", "C-1")
    two = opened(latte, "--customer", "C-1")
    other = opened(latte, "--customer", "C-2")
    latte.ok("merge", two, "--into", one, "--reason", "Same")
    cases = [
        (("merge", one, "--into", one, "--reason", "r"), "cannot be merged into itself"),
        (("merge", other, "--into", two, "--reason", "r"), f"latte merge {other} --into {one}"),
        (("merge", two, "--into", other, "--reason", "r"), "already merged into complaint"),
        # Into the duplicate merged into it: one complaint already, no merge into itself offered.
        (("merge", one, "--into", two, "--reason", "r"), "one complaint already, nothing to"),
        (("merge", one, "--into", other, "--reason", "r"), f"latte merge {other} --into {one}"),
        (("merge", other, "--into", one, "--reason", "r"), "--force"),
        (("merge", other, "--into", "99", "--reason", "r"), "No complaint with id 99"),
        (("merge", other, "--into", one, "--reason", " "), "reason is empty"),
    ]
    for args, message in cases:
        result = latte(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    merged = session.exec(select(Event).where(Event.kind == "merged")).all()
    session.commit()
    assert len(merged) == 1
    # Across customers with --force.
    latte.ok("merge", other, "--into", one, "--reason", "Same parcel", "--force")
    assert json.loads(latte.ok("db", "check", "--json").stdout)["clean"]


def test_a_merged_duplicate_counts_in_no_report_figure(latte: Latte) -> None:
    """The report with the duplicate merged is the report of a database where it never was."""
    latte.ok("--agent", "sam", "agent", "available")
    target = opened(latte, "--customer", "C-1")
    resolve(latte, target, START)
    latte.ok("followup", "record", target, "--reached", "--satisfied", "--nps", "9")
    alone = report(latte)
    alone_by_agent = report(latte, "--by", "agent")

    duplicate = opened(latte, "--customer", "C-1", at=START + timedelta(hours=1))
    resolve(latte, duplicate, START + timedelta(days=2), kind="credit")
    latte.ok(
        "followup", "record", duplicate, "--reached", "--not-satisfied", "--nps", "2",
        "--repurchased", "yes",
    )  # fmt: skip
    opened(latte, "--customer", "C-1", at=START + timedelta(days=3))  # open, in the backlog
    latte.ok("merge", "3", "--into", target, "--reason", "Same")
    with_both = report(latte)
    assert with_both["figures"] != alone["figures"]  # the duplicate counts until merged

    latte.ok("merge", duplicate, "--into", target, "--reason", "Called twice")
    merged = report(latte)
    assert merged == alone
    # Its follow-up would count nowhere: refused, naming the target.
    later = latte("followup", "record", duplicate, "--reached", "--satisfied", "--replace")
    assert later.exit_code == 1 and f"latte followup record {target}" in later.stderr
    assert report(latte) == alone
    assert report(latte, "--by", "agent") == alone_by_agent
    check = json.loads(latte.ok("db", "check", "--json").stdout)
    assert check["clean"], check["problems"]
    # Rebuilding the summary from the complaints gives the same (merged ones left out).
    latte.ok("db", "rebuild-summary")
    assert report(latte) == alone


def test_customer_merge_moves_everything_and_leaves_a_pointer(
    latte: Latte, session: Session
) -> None:
    first = opened(latte, "--customer", "C-1", "--name", "Ana Diaz")
    second = opened(latte, "--customer", "C-2", "--email", "ana@example.com", "--phone", "0161 1")
    resolve(latte, second, START)
    source = session.exec(select(Customer).where(Customer.ref == "C-2")).one()
    session.add(
        Purchase(
            order_ref="O-1",
            customer_id=source.id or 0,
            purchased_at=START + timedelta(days=3),
            purchased_epoch=int((START + timedelta(days=3)).timestamp()),
            amount_cents=1000,
        )
    )
    session.commit()

    done = json.loads(
        latte.ok("customer", "merge", "C-2", "--into", "C-1", "--reason", "Same", "--json").stdout
    )
    assert (done["complaints"], done["purchases"]) == (1, 1)
    assert done["into"]["email"] == "ana@example.com" and done["filled"] == ["email", "phone"]

    session.expire_all()
    owners = dict(session.exec(select(Complaint.id, Complaint.customer_id)).all())
    kept = session.exec(select(Customer).where(Customer.ref == "C-1")).one()
    purchase = session.exec(select(Purchase)).one()
    pointer = session.exec(select(Customer).where(Customer.ref == "C-2")).one()
    moved = session.exec(select(Event).where(Event.kind == "customer_merged")).all()
    session.commit()
    assert set(owners.values()) == {kept.id} and purchase.customer_id == kept.id
    assert pointer.merged_into == kept.id and len(moved) == 1
    assert "Merged into C-1" in latte.ok("customer", "show", "C-2").stdout
    history = json.loads(latte.ok("customer", "show", "C-1", "--json").stdout)
    assert sorted(c["id"] for c in history["complaints"]) == [int(first), int(second)]
    # The old ref, email or phone finds the customer kept.
    for details in (("--customer", "C-2"), ("--email", "ANA@example.com")):
        cid = opened(latte, *details)
        assert json.loads(latte.ok("show", cid, "--json").stdout)["customer"]["ref"] == "C-1"
    # So does an imported row.
    latte.ok("import", "complaints", "-", input=(
        "external_id,customer_ref,customer_email,channel,category,listen,opened_at\n"
        "T1,C-2,new@example.com,phone,delivery,Imported words,2026-11-03T10:00:00Z\n"
    ))  # fmt: skip
    imported = json.loads(latte.ok("list", "--json", "--limit", "100").stdout)
    assert {r["customer_ref"] for r in imported} == {"C-1"}
    refused = latte("customer", "merge", "C-2", "--into", "C-1", "--reason", "again")
    assert refused.exit_code == 1 and "already merged" in refused.stderr
    back = latte("customer", "merge", "C-1", "--into", "C-2", "--reason", "back")
    assert back.exit_code == 1 and "one customer already, nothing to merge" in back.stderr
    assert "merge into that one" not in back.stderr
    same = latte("customer", "merge", "C-1", "--into", "C-1", "--reason", "r")
    assert same.exit_code == 1 and "same customer" in same.stderr
    assert latte("customer", "edit", "C-2", "--name", "X").exit_code == 1
    check = json.loads(latte.ok("db", "check", "--json").stdout)
    assert check["clean"], check["problems"]


def test_db_check_finds_broken_merge_pointers(latte: Latte, session: Session) -> None:
    one, two, three = (opened(latte, "--customer", f"C-{n}") for n in (1, 2, 3))
    latte.ok("merge", two, "--into", one, "--reason", "Same", "--force")
    latte.ok("customer", "merge", "C-3", "--into", "C-1", "--reason", "Same")
    connection = session.connection()
    # Written by another program: a chain, and a complaint given back to the merged customer.
    connection.execute(text(f"UPDATE complaint SET merged_into = {two} WHERE id = {three}"))
    connection.execute(
        text("UPDATE complaint SET customer_id = (SELECT id FROM customer WHERE ref = 'C-3') "
             f"WHERE id = {one}")
    )  # fmt: skip
    session.commit()

    problems = json.loads(latte("db", "check", "--json").stdout)["problems"]

    assert f"complaint {three}: merged into complaint {two}, merged into {one}" in problems
    assert any(p.startswith(f"complaint {one}: belongs to customer") for p in problems)
    assert any(p.startswith(f"complaint {three}: stored state") for p in problems)


def _complaints(session: Session, n: int) -> list[int]:
    ids = []
    for i in range(n):
        new = NewComplaint(
            channel="phone",
            category="delivery",
            listen=f"words {i}",
            customer=CustomerDetails(ref="C-SAME"),
        )
        ids.append(open_complaint(session, new=new, agent="ana").id or 0)
    return ids


def _crosswise(url: str, work: list[tuple[str, list[tuple[Any, ...]]]]) -> list[str]:
    """Run each agent's merges in its own thread, all released together; returns each merge's
    outcome ("ok" or the refusal), and re-raises anything else."""
    barrier = threading.Barrier(len(work))
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run(agent: str, merges: list[tuple[Any, ...]]) -> None:
        try:
            with db.open_session(url) as session:
                barrier.wait(timeout=30)
                for kind, a, b in merges:
                    try:
                        if kind == "complaint":
                            merge.merge_complaint(
                                session, complaint_id=a, into=b, reason="dup", agent=agent
                            )
                        else:
                            merge.merge_customer(
                                session, ref=a, into_ref=b, reason="dup", agent=agent
                            )
                        outcomes.append("ok")
                    except InvalidValue as refusal:
                        session.rollback()
                        outcomes.append(refusal.message)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=item) for item in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return outcomes


def test_two_agents_merging_crosswise_neither_deadlock_nor_both_win(
    db_url: str, latte: Latte, session: Session
) -> None:
    ids = _complaints(session, 16)
    pairs = list(zip(ids[::2], ids[1::2], strict=True))
    for n in range(8):
        latte.ok("new", "--customer", f"A-{n}", "--channel", "phone", "--category", "x",
                 "--listen", "y")  # fmt: skip
        latte.ok("new", "--customer", f"B-{n}", "--channel", "phone", "--category", "x",
                 "--listen", "y")  # fmt: skip
    people = [(f"A-{n}", f"B-{n}") for n in range(8)]
    session.commit()

    outcomes = _crosswise(
        db_url,
        [
            (
                "ana",
                [("complaint", a, b) for a, b in pairs] + [("customer", a, b) for a, b in people],
            ),
            (
                "sam",
                [("complaint", b, a) for a, b in pairs] + [("customer", b, a) for a, b in people],
            ),
        ],
    )

    # Each pair is merged exactly once, one way or the other; the loser was refused.
    assert outcomes.count("ok") == len(pairs) + len(people), outcomes
    refusals = [o for o in outcomes if o != "ok"]
    assert all("merged into" in r for r in refusals), refusals
    session.expire_all()
    merged = session.exec(
        select(Complaint.id, Complaint.merged_into).where(col(Complaint.merged_into).is_not(None))
    ).all()
    pointers = session.exec(
        select(Customer.ref, Customer.merged_into).where(col(Customer.merged_into).is_not(None))
    ).all()
    session.commit()
    assert len(merged) == len(pairs) and len(pointers) == len(people)
    check = json.loads(latte.ok("db", "check", "--json").stdout)
    assert check["clean"], check["problems"]


def test_merge_needs_into_and_reason(latte: Latte) -> None:
    opened(latte)
    assert latte("merge", "1", "--reason", "r").exit_code == 2
    assert latte("merge", "1", "--into", "2").exit_code == 2
