"""`latte list`: by default what needs the agent's action (open, theirs or unassigned), most
urgent first, with how many there are in all; `--all` lists every complaint as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from latte_cli import db, workflow

from .conftest import Latte

ROW_KEYS = {
    "id", "external_id", "customer_ref", "customer_name", "channel", "category", "location",
    "severity", "summary", "status", "stage_due", "assigned_agent", "opened_at", "resolved_at",
    "action_kind", "reopen_count", "deadlines",
}  # fmt: skip


def opened(latte: Latte, hours_ago: float, *extra: str) -> int:
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    return int(
        latte.ok(
            "new", "--channel", "phone", "--category", "delivery", "--listen",
            f"opened {hours_ago}h ago", "--at", at.isoformat(), *extra,
        ).stdout.strip()
    )  # fmt: skip


def resolve(latte: Latte, cid: int) -> None:
    for stage, args in (
        ("acknowledge", ("--text", "Sorry")),
        ("take_action", ("--kind", "refund", "--detail", "Refunded")),
        ("thank", ("--text", "Thanks")),
        ("explain", ("--root-cause", "delivery", "--change", "Nothing")),
    ):
        latte.ok("step", str(cid), stage, *args)


def listed(latte: Latte, *args: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads(latte.ok("list", "--json", *args).stdout)
    return rows


def test_the_default_is_what_needs_my_action_most_urgent_first(latte: Latte) -> None:
    mine_late = opened(latte, 30)
    queued = opened(latte, 2, "--queue")
    theirs = opened(latte, 50)
    latte.ok("transfer", str(theirs), "--to", "sam", "--force", "--note", "yours")
    done = opened(latte, 40)
    resolve(latte, done)
    mine_soon = opened(latte, 10)

    rows = listed(latte)
    assert {r["id"] for r in rows} == {mine_late, queued, mine_soon}
    # Most urgent first, by the one SLA rule: the soonest due (the most overdue) first.
    due = {r["id"]: workflow.sla_due(datetime.fromisoformat(str(r["opened_at"])), 24) for r in rows}
    assert [r["id"] for r in rows] == sorted(due, key=lambda cid: due[cid])
    assert [r["id"] for r in rows] == [mine_late, mine_soon, queued]
    assert all(set(r) == ROW_KEYS for r in rows)  # the JSON rows keep their shape
    # --all: every complaint, anyone's, open or resolved, in the order of opening.
    assert [r["id"] for r in listed(latte, "--all")] == [theirs, done, mine_late, mine_soon, queued]
    # --status and --assigned replace that part of the default.
    assert [r["id"] for r in listed(latte, "--status", "resolved")] == [done]
    assert [r["id"] for r in listed(latte, "--assigned", "sam")] == [theirs]
    assert [r["id"] for r in listed(latte, "--sort", "newest")] == [queued, mine_soon, mine_late]


def test_says_how_many_there_are_when_it_shows_fewer(latte: Latte) -> None:
    for hours in (5, 4, 3):
        opened(latte, hours)
    resolve(latte, 1)
    table = latte.ok("list", "--limit", "1").stdout
    assert "showing 1 of 2 — use --limit or --all" in table
    assert "showing 2 of 3 — use --limit" in latte.ok("list", "--all", "--limit", "2").stdout
    whole = latte.ok("list").stdout
    assert "showing" not in whole and "2 needing action, most urgent first" in whole
    assert len(listed(latte, "--limit", "1")) == 1  # JSON: the rows only


def test_dates_show_the_year_when_it_is_not_this_one(latte: Latte) -> None:
    this_year = opened(latte, 1)
    last_year = opened(latte, 24 * 400)
    table = latte.ok("list", "--all").stdout
    old = datetime.now(UTC) - timedelta(hours=24 * 400)
    line = next(line for line in table.splitlines() if line.strip().startswith(str(last_year)))
    assert old.strftime("%Y-%m-%d") in line
    line = next(line for line in table.splitlines() if line.strip().startswith(str(this_year)))
    assert str(datetime.now(UTC).year) not in line


def test_nothing_to_do_says_so_and_how_to_see_everything(latte: Latte) -> None:
    cid = opened(latte, 1)
    latte.ok("transfer", str(cid), "--to", "sam", "--force", "--note", "yours")
    out = latte.ok("list").stdout
    assert "Nothing needs action" in out and "latte list --all" in out
    assert listed(latte) == []


def _deadlines(db_url: str, ids: list[int]) -> dict[int, tuple[int | None, int]]:
    """Give every third complaint no deadline and the others deadlines out of opening order,
    as a policy change or an older database leaves them; return (final due, opened) by id."""
    with db.get_engine(db_url).begin() as connection:
        for n, cid in enumerate(ids):
            due = None if n % 3 == 0 else 2_000_000_000 - (n % 4) * 3600
            connection.execute(
                text("UPDATE complaint SET final_response_due_epoch = :due WHERE id = :id"),
                {"due": due, "id": cid},
            )
        return {
            row[0]: (row[1], row[2])
            for row in connection.execute(
                text("SELECT id, final_response_due_epoch, opened_epoch FROM complaint")
            )
        }


def test_all_open_most_urgent_first_with_the_count(latte: Latte, db_url: str) -> None:
    """`list --all --status open --sort urgent`: the earliest final deadline first, those
    without one last, oldest first within; "showing N of M" counts every open complaint
    (docs/metrics.md, "Deadlines")."""
    ids = [opened(latte, hours) for hours in (9, 30, 1, 50, 7, 12, 3, 26, 40, 5)]
    resolve(latte, ids[3])
    stored = _deadlines(db_url, ids)
    open_ids = [cid for cid in ids if cid != ids[3]]
    expected = sorted(
        open_ids,
        key=lambda cid: (stored[cid][0] is None, stored[cid][0] or 0, stored[cid][1], cid),
    )
    rows = listed(latte, "--all", "--status", "open", "--sort", "urgent", "--limit", "100")
    assert [r["id"] for r in rows] == expected
    rows = listed(latte, "--all", "--status", "open", "--sort", "urgent", "--limit", "4")
    assert [r["id"] for r in rows] == expected[:4]
    table = latte.ok("list", "--all", "--status", "open", "--sort", "urgent", "--limit", "4")
    assert f"showing 4 of {len(open_ids)} — use --limit" in table.stdout


@pytest.mark.sqlite_only
def test_open_complaints_are_read_from_the_deadline_index(latte: Latte, db_url: str) -> None:
    """On SQLite, the open condition is one `ix_complaint_final_due` can answer, and the count
    of open complaints reads that index alone. (On the million-complaint bench database,
    whose statistics say a fifth is open, `stage_due IS NOT NULL` made SQLite scan the table
    for the urgent list: `bench/deadlines_bench.py` measures it.)"""
    from sqlmodel import Session, func, select

    from latte_cli.models import Complaint
    from latte_cli.services.views import is_open, urgent_order

    opened(latte, 3)
    engine = db.get_engine(db_url)
    with Session(engine) as session:
        for statement, used in (
            (select(Complaint).where(is_open()).order_by(*urgent_order()), ""),
            (select(func.count()).select_from(Complaint).where(is_open()), "COVERING "),
        ):
            compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
            plan = " ".join(
                str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            )
            assert f"USING {used}INDEX ix_complaint_final_due" in plan, plan
