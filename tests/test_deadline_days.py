"""Deadlines kept per day at write time (docs/architecture.md, "Reports over long periods";
docs/metrics.md, "Deadlines in reports"): a report's met / breached / pending, in total and for
every `--by`, over long periods, in whole-hour and half-hour zones, with as-of inside the period
and inside a day, equal a plain-Python count over the complaint rows as stored; and stay equal
after every kind of write that changes them. `latte db check` finds a wrong day row and
`latte db rebuild-summary` repairs it. On both stores."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from latte_cli import db, deadline_days
from latte_cli.deadlines import Deadlines, Policy, Rule, Span, Unit
from latte_cli.reports import fix_queries
from latte_cli.services import complaints as service
from latte_cli.services.customers import CustomerDetails
from latte_cli.services.merge import merge_complaint
from tests.test_reports import epoch_of, generate, write

from .conftest import Latte

H, DAY = 3600, 86_400
ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata")
BYS = (None, "agent", "channel", "category", "location")
STATUSES = ("met", "breached", "pending")
KINDS = ("first", "final")
COLUMNS = (
    "id, opened_epoch, acknowledged_epoch, first_resolved_epoch, first_response_due_epoch, "
    "final_response_due_epoch, merged_into, assigned_agent, channel, category, location"
)
GROUPED = {"agent": 7, "channel": 8, "category": 9, "location": 10}


# The oracle ---------------------------------------------------------------------------------


def complaint_rows(db_url: str) -> list[tuple[Any, ...]]:
    """The complaints as stored, read without latte."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(f"SELECT {COLUMNS} FROM complaint"))]
    engine.dispose()
    return rows


def group_of(row: tuple[Any, ...], by: str | None) -> str:
    if by is None:
        return "(all)"
    return row[GROUPED[by]] or "(none)"


def oracle(
    rows: list[tuple[Any, ...]], start: int, end: int, as_of: int, by: str | None
) -> dict[str, dict[str, dict[str, int]]]:
    """Per group: per kind, the complaints met, breached and pending (docs/metrics.md)."""
    found: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
        _, opened, ack, first, first_due, final_due, merged, *_ = row
        if merged is not None or opened > as_of:
            continue
        for kind, due, done in (
            ("first", first_due, ack if ack is not None else first),
            ("final", final_due, first),
        ):
            if due is None or not start <= due < end:
                continue
            if done is not None and done <= as_of:
                status = "met" if done <= due else "breached"
            else:
                status = "breached" if due < as_of else "pending"
            group = found.setdefault(group_of(row, by), empty())
            group[kind][status] += 1
    return found


def empty() -> dict[str, dict[str, int]]:
    return {kind: dict.fromkeys(STATUSES, 0) for kind in KINDS}


def picked(figures: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {kind: {s: figures["deadlines"][kind][s] for s in STATUSES} for kind in KINDS}


def period(since: str, until: str, zone: str) -> tuple[int, int]:
    end_day = date.fromisoformat(until) + timedelta(days=1)
    return epoch_of(f"{since}T00:00", zone), epoch_of(f"{end_day}T00:00", zone)


def check(
    latte: Latte, db_url: str, *, by: str | None, as_of: str, zone: str = "UTC",
    since: str = "2026-01-01", until: str = "2026-03-31",
) -> dict[str, Any]:  # fmt: skip
    """The report's deadlines, this period and the one before, in total and per group, equal
    the oracle's; returns the oracle's totals of the period."""
    args = ["report", "weekly", "--since", since, "--until", until, "--as-of", as_of]
    args += ["--format", "json", *(["--by", by] if by else [])]
    data = json.loads(latte.ok(*args).stdout)
    rows = complaint_rows(db_url)
    start, end = period(since, until, zone)
    moment = epoch_of(as_of, zone)
    totals: dict[str, Any] = {}
    for key, (lo, hi) in (("figures", (start, end)), ("previous", (2 * start - end, start))):
        want = oracle(rows, lo, hi, moment, None).get("(all)", empty())
        assert picked(data[key]) == want, (key, by, zone, as_of)
        totals[key] = want
        if by is None:
            continue
        wanted = oracle(rows, lo, hi, moment, by)
        got = {g["group"]: picked(g[key]) for g in data["groups"]}
        for group, values in got.items():
            assert values == wanted.get(group, empty()), (key, by, group, zone, as_of)
        left_out = {g: v for g, v in wanted.items() if g not in got and v != empty()}
        assert not left_out, (key, by)
    return totals


def clean(latte: Latte) -> bool:
    return bool(json.loads(latte.ok("db", "check", "--json").stdout)["clean"])


def kept_right(db_url: str) -> bool:
    """The kept days equal a fresh computation (what `latte db check` compares; the long
    scene's rows are written directly, without the event log the rest of the check reads)."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        count, _ = deadline_days.differences(conn)
    engine.dispose()
    return count == 0


# Long periods -------------------------------------------------------------------------------


def store_long(session: Session, seed: int = 5) -> None:
    """Complaints over seven months around the first quarter of 2026 with due times minutes to
    weeks after their opening; a few merged, a few due before they were opened (as an import
    can store), some without due times."""
    rnd = random.Random(seed)
    start, end = epoch_of("2025-09-20T00:00"), epoch_of("2026-04-15T00:00")
    rows, purchases = generate(seed, start, end, n=500)
    write(session, rows, purchases)
    conn = session.connection()
    dues = []
    for row in rows:
        first = rnd.choice([None, 30 * 60, 4 * H, DAY, DAY + 1, 3 * DAY])
        final = rnd.choice([None, DAY, 5 * DAY, 9 * DAY + 7 * H, 20 * DAY])
        if rnd.random() < 0.01:
            first, final = -2 * DAY, -3 * DAY - H  # due before the opening
        dues.append(
            {
                "id": row.id,
                "a": None if first is None else row.opened + first,
                "b": None if final is None else row.opened + final,
            }
        )
    conn.execute(
        text(
            "UPDATE complaint SET first_response_due_epoch = :a, final_response_due_epoch = :b "
            "WHERE id = :id"
        ),
        dues,
    )
    for duplicate in rnd.sample([r.id for r in rows], 12):
        target = duplicate % len(rows) + 1
        conn.execute(
            text("UPDATE complaint SET merged_into = :t WHERE id = :d AND id <> :t"),
            {"t": target, "d": duplicate},
        )
    session.commit()


@pytest.mark.parametrize("zone", ZONES)
def test_long_periods_every_by_every_zone(
    latte: Latte, session: Session, db_url: str, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_long(session)
    monkeypatch.setenv("LATTE_TZ", zone)
    read: list[tuple[int, list[tuple[int, int]]]] = []
    index_counts = fix_queries._index_counts

    def counted(conn: Any, k: int, ranges: list[tuple[int, int]], *args: Any) -> Any:
        read.append((k, ranges))
        return index_counts(conn, k, ranges, *args)

    monkeypatch.setattr(fix_queries, "_index_counts", counted)
    for as_of in ("2026-03-17T13:30", "2026-06-01T00:00"):
        for by in BYS:
            totals = check(latte, db_url, by=by, as_of=as_of, zone=zone)
            # The scene reaches every status (the oracle's own figures).
            assert all(totals["previous"][kind][s] for kind in KINDS for s in STATUSES[:2])
    first = check(latte, db_url, by=None, as_of="2026-03-17T13:30", zone=zone)["figures"]
    assert first["final"]["pending"] and first["first"]["met"]
    # For the previous quarter (before as-of) the complaints were read only for the days cut
    # by the zone's edges and the few days of a complaint due before its opening.
    assert kept_right(db_url)
    seconds = sum(hi - lo for k, ranges in read[-2:] if k == 1 for lo, hi in ranges)
    assert seconds < 12 * DAY, read[-2:]


def test_a_run_of_days_due_before_their_opening_is_read_as_one_range(
    latte: Latte, session: Session, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another system's export stored every complaint of two weeks as due days before it was
    opened: those days cannot come from the kept days, and are read from the complaints as
    one range, not one per day; the figures stay the oracle's."""
    store_long(session, seed=7)
    run_start, run_end = epoch_of("2026-01-05T00:00"), epoch_of("2026-01-21T00:00")
    session.connection().execute(
        text(
            "UPDATE complaint SET first_response_due_epoch = opened_epoch - :a, "
            "final_response_due_epoch = opened_epoch - :b "
            "WHERE opened_epoch >= :lo AND opened_epoch < :hi"
        ),
        {"a": 2 * DAY, "b": 3 * DAY, "lo": run_start, "hi": run_end},
    )
    session.commit()
    read: list[list[tuple[int, int]]] = []
    index_counts = fix_queries._index_counts

    def counted(conn: Any, k: int, ranges: list[tuple[int, int]], *args: Any) -> Any:
        read.append(ranges)
        return index_counts(conn, k, ranges, *args)

    monkeypatch.setattr(fix_queries, "_index_counts", counted)
    for by in (None, "agent"):
        check(latte, db_url, by=by, as_of="2026-06-01T00:00")
    assert kept_right(db_url)
    for ranges in read:
        assert all(a[1] < b[0] for a, b in pairwise(ranges)), ranges
    # The run's due days (two weeks and more) in one range of the current period.
    assert any(hi - lo >= 14 * DAY for lo, hi in read[0]), read[0]


def test_a_period_cut_inside_utc_days_and_an_as_of_on_a_day_edge(
    latte: Latte, session: Session, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Half-hour zone; as-of on the last second of a UTC day and on its end."""
    store_long(session, seed=9)
    monkeypatch.setenv("LATTE_TZ", "Asia/Kolkata")
    for as_of in ("2026-02-11T05:29:59", "2026-02-11T05:30", "2026-01-01T00:00"):
        for by in (None, "location"):
            check(
                latte, db_url, by=by, as_of=as_of, zone="Asia/Kolkata", since="2025-11-15",
                until="2026-02-20",
            )  # fmt: skip


# Writes -------------------------------------------------------------------------------------


def at(day: int, hour: float = 9) -> datetime:
    return datetime(2026, 2, 1, tzinfo=UTC) + timedelta(days=day, hours=hour)


# First response in 4 hours, final response in 5 days (the default policy has no first).
POLICY = '[[rule]]\nname = "default"\nfirst_response = "4h"\nfinal_response = "5d"\n'
DESK = Deadlines(
    Policy("desk", (Rule("default", Span(5, Unit.DAYS), first_response=Span(4, Unit.HOURS)),))
)


def use_policy(tmp_path: Path) -> None:
    """The same policy for latte's commands (the import)."""
    path = tmp_path / "desk.toml"
    path.write_text(POLICY, encoding="utf-8")
    cfg = tmp_path / "config" / "config.toml"
    cfg.parent.mkdir(exist_ok=True)
    cfg.write_text(f'deadlines = "{path}"\n', encoding="utf-8")


def opened(session: Session, day: int, *, agent: str = "ana", location: str = "north") -> int:
    new = service.NewComplaint(
        channel="phone", category="delivery", listen="Late", location=location
    )
    complaint = service.open_complaint(session, new=new, agent=agent, at=at(day), deadlines=DESK)
    return int(complaint.id or 0)


def stage(session: Session, cid: int, name: str, when: datetime) -> None:
    given = service.StageInput(text=f"{name} done")
    if name == "take_action":
        given = service.StageInput(text="Refunded", action_kind="refund", amount="10")
    elif name == "explain":
        given = service.StageInput(
            text="Explained", root_cause="delivery", what_will_change="Sturdier boxes"
        )
    service.record_stage(session, complaint_id=cid, stage=name, given=given, agent="ana", at=when)


def resolve(session: Session, cid: int, when: datetime) -> None:
    for name in ("take_action", "thank", "explain"):
        stage(session, cid, name, when)


AS_OF = "2026-05-01T00:00"


def figures_now(latte: Latte, db_url: str) -> dict[str, Any]:
    for by in (None, "agent", "location"):
        found = check(latte, db_url, by=by, as_of=AS_OF, since="2026-01-15", until="2026-04-15")
    return found["figures"]


def test_every_write_that_moves_a_deadline_moves_the_kept_days(
    latte: Latte, session: Session, db_url: str, tmp_path: Path
) -> None:
    use_policy(tmp_path)
    a, b, c, d = (opened(session, day) for day in (1, 2, 3, 20))
    before = figures_now(latte, db_url)
    assert before["first"]["breached"] == 4  # none acknowledged, all due long before as-of
    stage(session, a, "acknowledge", at(1, 9.5))  # within its first-response time
    stage(session, b, "acknowledge", at(9))  # days late
    after = figures_now(latte, db_url)
    assert after["first"]["met"] == before["first"]["met"] + 1
    resolve(session, a, at(2))
    resolve(session, b, at(60))
    resolved = figures_now(latte, db_url)
    assert resolved["final"] != after["final"]
    service.reopen(session, complaint_id=a, reason="Broke again", agent="ana", at=at(3))
    resolve(session, a, at(4))
    figures_now(latte, db_url)
    service.transfer(session, complaint_id=c, to_agent="ben", note="Over to you", agent="ana")
    figures_now(latte, db_url)
    merge_complaint(session, complaint_id=d, into=c, reason="Same parcel", agent="ana", force=True)
    merged = figures_now(latte, db_url)
    assert sum(merged["first"].values()) == sum(resolved["first"].values()) - 1
    # Imports: complaints with their history, then the same complaint moved to another
    # location and resolved.
    head = "external_id,channel,category,listen,opened_at,acknowledged_at,resolved_at,location\n"
    first = "X1,phone,delivery,Late,2026-02-10T10:00Z,2026-02-10T10:10Z,,south\n"
    later = "X1,phone,delivery,Late,2026-02-10T10:00Z,2026-02-10T10:10Z,2026-03-30T09:00Z,east\n"
    for n, body in enumerate((first, later)):
        path = tmp_path / f"c{n}.csv"
        path.write_text(head + body, encoding="utf-8")
        latte.ok("import", "complaints", str(path))
        imported = figures_now(latte, db_url)
    assert sum(imported["first"].values()) == sum(merged["first"].values()) + 1
    # A complaint deleted (no latte command does: another write path, through latte's
    # session, so that it is folded before the commit).
    with db.open_session(db_url) as other:
        for table in ("stage_record", "event", "followup"):
            other.connection().execute(
                text(f"DELETE FROM {table} WHERE complaint_id = :id"), {"id": b}
            )
        other.connection().execute(text("DELETE FROM complaint WHERE id = :id"), {"id": b})
        other.commit()
    gone = figures_now(latte, db_url)
    assert sum(gone["final"].values()) == sum(imported["final"].values()) - 1
    assert clean(latte)


def test_forgetting_and_retention_change_no_deadline(
    latte: Latte, session: Session, db_url: str, tmp_path: Path
) -> None:
    """Forgetting a customer and the retention purge erase texts and identities, never a time:
    the kept days and the figures stay as they were."""
    use_policy(tmp_path)
    for day, ref in ((1, "C-1"), (2, "C-1"), (3, "C-2")):
        new = service.NewComplaint(
            channel="phone", category="delivery", listen="Late", customer=CustomerDetails(ref=ref)
        )
        cid = service.open_complaint(session, new=new, agent="ana", at=at(day), deadlines=DESK).id
        stage(session, int(cid or 0), "acknowledge", at(day, 10))
        resolve(session, int(cid or 0), at(day + 1))
    before = figures_now(latte, db_url)
    assert sum(before["final"].values()) == 3
    latte.ok("customer", "forget", "C-1", "--reason", "erasure request", "--yes")
    with (tmp_path / "config" / "config.toml").open("a", encoding="utf-8") as config:
        config.write('retention = "30d"\n')
    retained = json.loads(latte.ok("db", "retain", "--json").stdout)
    assert retained["complaint_ids"]
    assert figures_now(latte, db_url) == before
    assert clean(latte)


def test_another_programs_change_falls_back_then_folds(
    latte: Latte, session: Session, db_url: str
) -> None:
    a = opened(session, 1)
    opened(session, 5, agent="ben")
    figures_now(latte, db_url)
    engine = create_engine(db_url)
    with engine.begin() as conn:  # not through latte: the change waits in the queue
        conn.execute(
            text("UPDATE complaint SET first_response_due_epoch = :e WHERE id = :id"),
            {"e": epoch_of("2026-03-20T00:00"), "id": a},
        )
        assert conn.execute(text("SELECT count(*) FROM report_change")).scalar()
    engine.dispose()
    figures_now(latte, db_url)
    assert clean(latte)
    opened(session, 6)  # latte's next write folds the waiting change
    figures_now(latte, db_url)
    assert clean(latte)


def test_db_check_finds_a_wrong_day_and_rebuild_repairs_it(
    latte: Latte, session: Session, db_url: str
) -> None:
    for day in (1, 2, 8):
        opened(session, day, agent="ben")
    assert clean(latte)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        changed = conn.execute(
            text(
                "UPDATE report_deadline_day SET met_n = met_n + 1 "
                "WHERE day = :d AND dimension = 'agent'"
            ),
            {"d": int(at(2).timestamp()) // DAY},
        ).rowcount
    engine.dispose()
    assert changed == 1  # the first response due that day (the final is due five days on)
    result = latte("db", "check")
    assert result.exit_code == 1
    assert "deadline summary: first response due 2026-02-03 (UTC), agent ben" in result.output
    with pytest.raises(AssertionError):
        figures_now(latte, db_url)
    latte.ok("db", "rebuild-summary")
    assert clean(latte)
    figures_now(latte, db_url)


def test_revision_0018_downgrades_and_upgrades_again(
    latte: Latte, session: Session, db_url: str
) -> None:
    """Downgraded, the kept days and the queue's deadline columns are gone and the report
    summary's triggers queue as before; upgraded again, the days are counted afresh."""
    from alembic import command
    from sqlalchemy import inspect

    from latte_cli.migrations import alembic_config

    for day in (1, 2, 8):
        opened(session, day)
    engine = db.get_engine(db_url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0017")
        assert "report_deadline_day" not in inspect(connection).get_table_names()
        columns = {c["name"] for c in inspect(connection).get_columns("report_change")}
        assert not set(deadline_days.CHANGE_COLUMNS) & columns
        connection.execute(text("UPDATE complaint SET first_response_due_epoch = NULL"))
        queued = connection.execute(text("SELECT count(*) FROM report_change")).scalar()
        assert queued == 0  # a due time alone was not watched before 0018
        connection.execute(text("UPDATE complaint SET channel = 'email' WHERE id = 1"))
        assert connection.execute(text("SELECT count(*) FROM report_change")).scalar() == 2
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with engine.connect() as connection:
        assert deadline_days.differences(connection) == (0, [])
        kinds = connection.execute(text("SELECT DISTINCT kind FROM report_deadline_day"))
        assert {k for (k,) in kinds} == {"final"}
