"""The report summary: equal to the complaints after every kind of write, and the weekly trend
read from it exact in every zone, at every as-of time, with changes of other programs pending.

The expected trend is computed here in plain Python (`statistics`, `zoneinfo`) from the
generated complaints; of latte's own code only `summary.differences` is used, to compare the
stored summary with a recomputation from the complaint rows.
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from time import monotonic, sleep
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Table, create_engine, delete, func, select
from sqlmodel import Session, SQLModel

from latte_cli import db, summary
from latte_cli.services import complaints as svc
from latte_cli.services import team

from .conftest import Latte
from .test_workflow import FIELDS

DAY = 86_400
TARGET = 24 * 3600  # the default SLA target, in seconds
ZONES = ("UTC", "Europe/Paris", "Asia/Kolkata", "America/St_Johns")
LAST_WEEK, WEEKS = (2026, 49), 10  # the trend: 2026-W40 .. 2026-W49
AFTER = "2027-01-15T00:00:00"  # after every complaint
# An as-of time inside a week, per zone: Paris's is on the Sunday its clocks go back.
MIDWEEK = {
    "UTC": "2026-11-18T13:37:21",
    "Europe/Paris": "2026-10-25T12:00:00",
    "Asia/Kolkata": "2026-11-04T06:15:09",
    "America/St_Johns": "2026-11-11T23:59:59",
}
BEFORE_TREND = ("Asia/Kolkata", "2026-09-20T10:00:00")  # before the trend's first week
# Clock changes: Paris 03:00 CEST -> 02:00 CET, St John's 02:00 NDT -> 01:00 NST.
DST_ENDS = ("2026-10-25T01:00:00", "2026-11-01T04:30:00")  # UTC
DATA_START, DATA_END = "2026-09-07T00:00:00", "2026-12-14T00:00:00"  # UTC, W37 .. W50
AGENTS = ("ana", "sam", "lee", "kim", None)
CHANNELS = ("phone", "email", "chat")
CATEGORIES = ("delivery", "billing")
LOCATIONS = ("north", "south", "east", None)
DURATIONS = (0, 1, 59, 600, 3600, TARGET - 1, TARGET, TARGET + 1, 3 * DAY, 9 * DAY, 30 * DAY)


@dataclass(frozen=True)
class Case:
    """A complaint as the trend sees it (epoch seconds)."""

    id: int
    opened: int
    first: int | None  # first resolution
    agent: str | None
    channel: str
    category: str
    location: str | None


def _dt(moment: int) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def epoch_of(text: str, zone: str = "UTC") -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp())


def complaint_values(case: Case) -> dict[str, Any]:
    """The complaint row as latte stores it (only what a complaint row needs)."""
    first = None if case.first is None else _dt(case.first)
    return {
        "id": case.id,
        "channel": case.channel,
        "category": case.category,
        "location": case.location,
        "severity": "medium",
        "summary": "s",
        "opened_by": case.agent or "ana",
        "assigned_agent": case.agent,
        "stage_due": None if first else "acknowledge",
        "cycle": 0,
        "reopen_count": 0,
        "opened_at": _dt(case.opened),
        "opened_epoch": case.opened,
        "first_resolved_at": first,
        "first_resolved_epoch": case.first,
        "resolved_at": first,
        "resolved_epoch": case.first,
        "updated_at": _dt(case.opened),
    }


def complaint_table() -> Table:
    return SQLModel.metadata.tables["complaint"]


def write(session: Session, cases: list[Case]) -> None:
    """Insert the complaints with Core and commit through the session (which folds them)."""
    session.connection().execute(complaint_table().insert(), [complaint_values(c) for c in cases])
    session.commit()


@contextmanager
def other_program(db_url: str) -> Iterator[Connection]:
    """One transaction of a program that is not latte: a plain engine, no session hook."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def pending_changes(db_url: str) -> int:
    engine = db.get_engine(db_url).execution_options(latte_readonly=True)
    with engine.connect() as connection:
        changes = SQLModel.metadata.tables["report_change"]
        return int(connection.execute(select(func.count()).select_from(changes)).scalar_one())


def differences(db_url: str) -> tuple[int, list[str]]:
    engine = db.get_engine(db_url).execution_options(latte_readonly=True)
    with engine.connect() as connection:
        return summary.differences(connection)


def assert_summary_exact(db_url: str, *, pending: bool = False) -> None:
    """The summary (with what is pending) equals the complaints; nothing pending after a latte
    write, something pending after another program's."""
    assert differences(db_url) == (0, [])
    if pending:
        assert pending_changes(db_url) > 0
    else:
        assert pending_changes(db_url) == 0


# The oracle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Week:
    label: str
    start: int
    end: int


def local_midnight(day: date, zone: str) -> int:
    return int(datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).timestamp())


def trend_weeks(zone: str) -> list[Week]:
    last = date.fromisocalendar(*LAST_WEEK, 1)
    weeks = []
    for back in reversed(range(WEEKS)):
        monday = last - timedelta(weeks=back)
        year, number, _ = monday.isocalendar()
        weeks.append(
            Week(
                f"{year}-W{number:02d}",
                local_midnight(monday, zone),
                local_midnight(monday + timedelta(weeks=1), zone),
            )
        )
    return weeks


@cache
def week_label(moment: int, zone: str) -> str:
    year, number, _ = datetime.fromtimestamp(moment, ZoneInfo(zone)).isocalendar()
    return f"{year}-W{number:02d}"


def distribution(durations: list[int]) -> dict[str, Any]:
    """As the JSON shows it: seconds rounded to 3 decimals, None when there are none."""
    if not durations:
        return {"n": 0, "median_seconds": None, "p90_seconds": None, "mean_seconds": None}
    if len(durations) == 1:
        p90 = float(durations[0])
    else:
        p90 = statistics.quantiles(durations, n=10, method="inclusive")[8]
    return {
        "n": len(durations),
        "median_seconds": round(statistics.median(durations), 3),
        "p90_seconds": round(p90, 3),
        "mean_seconds": round(statistics.fmean(durations), 3),
    }


def expected_row(
    cases: list[Case], week: Week, zone: str, as_of: int, group: str | None
) -> dict[str, Any]:
    """One trend row: counted in the week of the local time, and only up to as-of."""

    def in_week(moment: int) -> bool:
        return moment <= as_of and week_label(moment, zone) == week.label

    durations = sorted(
        c.first - c.opened for c in cases if c.first is not None and in_week(c.first)
    )
    moment = min(week.end - 1, as_of)
    within = sum(1 for d in durations if d <= TARGET)
    return {
        "week": week.label,
        "start": _dt(week.start).isoformat(),
        "group": group,
        "opened": sum(1 for c in cases if in_week(c.opened)),
        "resolved": len(durations),
        "open_backlog": sum(
            1 for c in cases if c.opened <= moment and (c.first is None or c.first > moment)
        ),
        "resolution_time": distribution(durations),
        "within_target": {
            "count": within,
            "n": len(durations),
            "rate": round(within / len(durations), 3) if durations else None,
        },
        # These cases have no customer and no follow-up: no repurchase outcome and no score.
        "repurchase": {"repurchased": 0, "lost": 0, "pending": 0, "n": 0, "rate": None},
        "nps": {"score": None, "n": 0, "promoters": 0, "passives": 0, "detractors": 0},
    }


def label(value: str | None) -> str:
    return "(none)" if value is None else value


def assert_trend(
    latte: Latte, cases: list[Case], zone: str, as_of_text: str, by: str | None
) -> None:
    """Every row of `latte report weekly`'s trend (and group trend) equals the oracle's."""
    args = ["--week", "{}-W{:02d}".format(*LAST_WEEK), "--weeks", str(WEEKS), "--tz", zone]
    args += ["--as-of", as_of_text, *(["--by", by] if by else []), "--format", "json"]
    report = json.loads(latte.ok("report", "weekly", *args).stdout)
    as_of = epoch_of(as_of_text, zone)
    weeks = trend_weeks(zone)
    case = f"{zone} as of {as_of_text} by {by}"
    overall = [row for row in report["trend"] if row["group"] is None]
    assert [row["week"] for row in overall] == [w.label for w in weeks], case
    for row, week in zip(overall, weeks, strict=True):
        assert row == expected_row(cases, week, zone, as_of, None), case
    grouped = [row for row in report["trend"] if row["group"] is not None]
    if by is None:
        assert grouped == [], case
        return
    shown = list(dict.fromkeys(row["group"] for row in grouped))
    values = {label(getattr(c, by)): getattr(c, by) for c in cases}
    assert set(shown) <= set(values), case
    assert len(grouped) == len(shown) * len(weeks), case
    for name, value in values.items():
        mine = [c for c in cases if getattr(c, by) == value]
        wanted = [expected_row(mine, week, zone, as_of, name) for week in weeks]
        if name in shown:
            got = [row for row in grouped if row["group"] == name]
            assert got == wanted, f"{case}, group {name}"
        else:  # a group may be left out only when it has nothing to show
            assert all(w["opened"] == w["resolved"] == w["open_backlog"] == 0 for w in wanted), (
                f"{case}: group {name} missing"
            )


# Generated complaints -----------------------------------------------------------------------


def edges() -> list[int]:
    """Moments where a figure changes hands: every zone's week edges, the clock changes, and
    every as-of time tested."""
    found = {epoch_of(t) for t in DST_ENDS}
    for zone in ZONES:
        monday = date.fromisocalendar(2026, 37, 1)
        for week in range(16):
            found.add(local_midnight(monday + timedelta(weeks=week), zone))
        found.add(epoch_of(MIDWEEK[zone], zone))
        found.add(epoch_of(AFTER, zone))
    found.add(epoch_of(BEFORE_TREND[1], BEFORE_TREND[0]))
    return sorted(found)


def resolution(rnd: random.Random) -> int | None:
    """None (still open) a quarter of the time, else a duration with many repeats."""
    if rnd.random() < 0.25:
        return None
    if rnd.random() < 0.6:
        return rnd.choice(DURATIONS)
    return rnd.randrange(0, 20 * DAY)


def generate(seed: int, first_id: int = 1, n: int = 400) -> list[Case]:
    """Complaints opened at any second between DATA_START and DATA_END, and around each edge:
    opened and first resolved one second before, at, and one second after it."""
    rnd = random.Random(seed)
    cases: list[Case] = []

    def add(opened: int, first: int | None) -> None:
        cases.append(
            Case(
                first_id + len(cases),
                opened,
                first,
                rnd.choice(AGENTS),
                rnd.choice(CHANNELS),
                rnd.choice(CATEGORIES),
                rnd.choice(LOCATIONS),
            )
        )

    start, end = epoch_of(DATA_START), epoch_of(DATA_END)
    for _ in range(n):
        opened = rnd.randrange(start, end)
        duration = resolution(rnd)
        add(opened, None if duration is None else opened + duration)
    if first_id == 1:
        for edge in edges():
            for moment in (edge - 1, edge, edge + 1):
                duration = resolution(rnd)
                add(moment, None if duration is None else moment + duration)
                duration = rnd.choice(DURATIONS)
                add(moment - duration, moment)
    return cases


@pytest.fixture
def generated(session: Session) -> list[Case]:
    cases = generate(20261123)
    write(session, cases)
    return cases


# 1. Every kind of write keeps the summary equal to the complaints ---------------------------


def import_file(latte: Latte, path: Path, rows: list[dict[str, str]]) -> dict[str, Any]:
    columns = ["Ticket", "Channel", "Category", "Location", "Description", "Agent", "Created"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, [*columns, "resolved_at"])
        writer.writeheader()
        writer.writerows(rows)
    report: dict[str, Any] = json.loads(
        latte.ok("import", "complaints", str(path), "--json").stdout
    )
    return report


def tickets(now: datetime, *, changed: bool) -> list[dict[str, str]]:
    """Twelve tickets; `changed`: new agent, channel and location, and the open ones resolved."""
    rows = []
    for i in range(12):
        created = now - timedelta(days=30 - i, seconds=i * 977)
        resolved = created + timedelta(hours=3 * i, seconds=i) if i % 3 else None
        if changed and resolved is None:
            resolved = created + timedelta(days=2, seconds=17 * i)
        rows.append(
            {
                "Ticket": f"T{i}",
                "Channel": ("chat" if changed else "phone") if i % 2 else "email",
                "Category": "delivery",
                "Location": ("" if changed else "north") if i % 4 else "south",
                "Description": f"Problem {i}",
                "Agent": ("lee" if changed else "sam") if i % 5 else "",
                "Created": created.isoformat(),
                "resolved_at": resolved.isoformat() if resolved else "",
            }
        )
    return rows


def test_every_write_keeps_the_summary_equal_to_the_complaints(
    session: Session, latte: Latte, db_url: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    at = now - timedelta(days=10, seconds=13)
    new = svc.NewComplaint(channel="phone", category="delivery", listen="Broken", location="north")
    complaint = svc.open_complaint(session, new=new, agent="ana", at=at)
    assert complaint.id is not None
    cid = complaint.id
    assert_summary_exact(db_url)
    for stage in ("acknowledge", "take_action", "thank", "explain"):
        at += timedelta(hours=7, seconds=11)
        svc.record_stage(session, complaint_id=cid, stage=stage, given=FIELDS, agent="ana", at=at)
        assert_summary_exact(db_url)
    svc.transfer(session, complaint_id=cid, to_agent="sam", note="over to you", agent="ana")
    assert_summary_exact(db_url)
    at += timedelta(days=1)
    svc.reopen(session, complaint_id=cid, reason="again", agent="sam", at=at)
    assert_summary_exact(db_url)
    for stage in ("take_action", "thank", "explain"):
        at += timedelta(hours=5)
        svc.record_stage(session, complaint_id=cid, stage=stage, given=FIELDS, agent="sam", at=at)
        assert_summary_exact(db_url)

    queued = svc.NewComplaint(channel="email", category="billing", listen="Twice", assign=False)
    svc.open_complaint(session, new=queued, agent="ana", at=now - timedelta(days=3))
    assert_summary_exact(db_url)
    claimed = team.claim_next(session, agent="lee")
    assert claimed is not None and claimed.assigned_agent == "lee"
    session.rollback()  # it reads the complaint back: end that transaction, as the CLI would
    assert_summary_exact(db_url)

    first = import_file(latte, tmp_path / "first.csv", tickets(now, changed=False))
    assert (first["inserted"], first["rejected"]) == (12, 0)
    assert_summary_exact(db_url)
    again = import_file(latte, tmp_path / "again.csv", tickets(now, changed=True))
    assert again["rejected"] == 0 and again["updated"] >= 8
    assert_summary_exact(db_url)

    table = complaint_table()
    with other_program(db_url) as connection:
        connection.execute(
            table.update()
            .where(table.c.id == cid)
            .values(assigned_agent="kim", location=None, opened_epoch=table.c.opened_epoch - 61)
        )
        stranger = complaint_values(Case(0, int(at.timestamp()), None, "zoe", "web", "x", "far"))
        del stranger["id"]
        connection.execute(table.insert(), [stranger])
    assert_summary_exact(db_url, pending=True)
    svc.transfer(session, complaint_id=cid, to_agent="ana", note="back", agent="kim")
    assert_summary_exact(db_url)


# 2. The weekly trend read from the summary is exact ----------------------------------------

TREND_CASES = [
    *((zone, MIDWEEK[zone]) for zone in ZONES),
    *((zone, AFTER) for zone in ZONES),
    BEFORE_TREND,
]


@pytest.mark.parametrize(("zone", "as_of"), TREND_CASES)
def test_weekly_trend_from_the_summary_is_exact(
    latte: Latte, db_url: str, generated: list[Case], zone: str, as_of: str
) -> None:
    assert_summary_exact(db_url)
    for by in (None, "agent", "location"):
        assert_trend(latte, generated, zone, as_of, by)


# 3. ... also with another program's changes still pending ----------------------------------


def store_change(connection: Connection, cases: list[Case], new: Case) -> None:
    """Another program's UPDATE of the columns that differ; `cases` follows it."""
    index = next(i for i, c in enumerate(cases) if c.id == new.id)
    old, cases[index] = cases[index], new
    wanted, had = complaint_values(new), complaint_values(old)
    changed = {k: v for k, v in wanted.items() if v != had[k]}
    if not changed:
        return
    table = complaint_table()
    connection.execute(table.update().where(table.c.id == new.id).values(**changed))


def critical_moments() -> list[int]:
    """Where a pending change tests a boundary: in every zone, the second before the trend
    (its starting backlog), the trend's first second, and the mid-week as-of time."""
    found = set()
    for zone in ZONES:
        start = trend_weeks(zone)[0].start
        found |= {start - 1, start, epoch_of(MIDWEEK[zone], zone)}
    return sorted(found)


def pending_writes(connection: Connection, cases: list[Case], twins: tuple[Case, Case]) -> None:
    """Moves, re-timed and undone resolutions, new and deleted complaints (rnd-chosen)."""
    rnd = random.Random(5)
    resolved = [c.id for c in cases if c.first is not None]
    still_open = [c.id for c in cases if c.first is None]

    def now(case_id: int) -> Case:
        return next(c for c in cases if c.id == case_id)

    # Resolved complaints move to another agent, one of them to an agent never seen.
    agents = ("zed", None, "ana", "sam", "lee", "kim")
    for case_id, agent in zip(rnd.sample(resolved, len(agents)), agents, strict=True):
        case = now(case_id)
        store_change(
            connection, cases, replace(case, agent=agent if agent != case.agent else "zed")
        )
    # Equal durations in one (week, agent): one of the twins moves away.
    store_change(connection, cases, replace(now(twins[0].id), agent="sam"))
    # First resolutions re-timed: days earlier or later, onto an edge, or undone.
    for case_id in rnd.sample(resolved, 8):
        case = now(case_id)
        assert case.first is not None
        moved = case.first + rnd.choice((-3, -1, 2, 8)) * DAY + rnd.randrange(DAY)
        store_change(connection, cases, replace(case, first=max(case.opened, moved)))
    edge = edges()
    for case_id in rnd.sample(resolved, 3):
        case = now(case_id)
        store_change(
            connection, cases, replace(case, first=min(e for e in edge if e >= case.opened))
        )
    for case_id in rnd.sample(resolved, 2):
        store_change(connection, cases, replace(now(case_id), first=None))
    # Open complaints resolved, locations changed, one opened earlier.
    for case_id in rnd.sample(still_open, 4):
        case = now(case_id)
        store_change(connection, cases, replace(case, first=case.opened + rnd.choice(DURATIONS)))
    for case_id, location in zip(rnd.sample(resolved, 3), (None, "west", "north"), strict=True):
        store_change(connection, cases, replace(now(case_id), location=location))
    case = now(rnd.choice(resolved))
    store_change(connection, cases, replace(case, opened=case.opened - 5 * DAY - 7))
    # Two changes to one complaint: both pairs stay queued.
    case = now(rnd.choice(resolved))
    store_change(connection, cases, replace(case, agent="kim", location="east"))
    case = now(case.id)
    assert case.first is not None
    store_change(connection, cases, replace(case, first=case.first + 3 * DAY + 1))
    # At the critical moments: complaints stored there move to another agent (taken away
    # there), others are resolved there, and new ones open or are resolved there.
    fresh: list[Case] = []
    next_id = max(c.id for c in cases) + 1
    for moment in critical_moments():
        for case in [c for c in cases if moment in (c.opened, c.first)]:
            store_change(connection, cases, replace(case, agent="zed"))
        earlier = [c.id for c in cases if c.opened <= moment and c.first not in (None, moment)]
        for case_id in rnd.sample(earlier, 2):
            store_change(connection, cases, replace(now(case_id), first=moment))
        fresh += [
            Case(next_id, moment, None, "ana", "phone", "billing", None),
            Case(next_id + 1, moment - 3 * DAY, moment, "sam", "email", "billing", "north"),
            Case(next_id + 2, moment, moment + 7, None, "chat", "delivery", "south"),
        ]
        next_id += 3
    # New complaints and deleted ones.
    fresh += generate(99, first_id=next_id, n=25)
    connection.execute(complaint_table().insert(), [complaint_values(c) for c in fresh])
    cases.extend(fresh)
    table = complaint_table()
    for gone in rnd.sample(cases, 3):
        connection.execute(delete(table).where(table.c.id == gone.id))
        cases.remove(gone)


def changed_by_another_program(
    session: Session, db_url: str, generated: list[Case], zone: str
) -> list[Case]:
    """Two complaints alike (same agent, week and duration) written by latte, then
    `pending_writes` by another program; returns the complaints as they now stand."""
    cases = list(generated)
    opened = epoch_of("2026-11-10T09:00:00", zone)
    twins = (
        Case(100_001, opened, opened + 7200, "ana", "phone", "delivery", "north"),
        Case(100_002, opened + 60, opened + 60 + 7200, "ana", "phone", "delivery", "north"),
    )
    write(session, list(twins))
    cases.extend(twins)
    with other_program(db_url) as connection:
        pending_writes(connection, cases, twins)
    return cases


PENDING_CASES = [
    ("Europe/Paris", MIDWEEK["Europe/Paris"]),
    ("Asia/Kolkata", AFTER),
    ("America/St_Johns", MIDWEEK["America/St_Johns"]),
    ("UTC", MIDWEEK["UTC"]),
]


@pytest.mark.parametrize(("zone", "as_of"), PENDING_CASES)
def test_weekly_trend_is_exact_with_changes_pending(
    latte: Latte, session: Session, db_url: str, generated: list[Case], zone: str, as_of: str
) -> None:
    cases = changed_by_another_program(session, db_url, generated, zone)
    assert_summary_exact(db_url, pending=True)
    for by in (None, "agent", "location"):
        assert_trend(latte, cases, zone, as_of, by)
    # latte's next write folds them; the trend is the same from the summary alone.
    team.set_presence(session, agent="ana", status=team.Presence.AWAY)
    assert_summary_exact(db_url)
    assert_trend(latte, cases, zone, as_of, "agent")


def test_a_report_reads_summary_and_pending_changes_as_of_one_moment(
    latte: Latte, session: Session, db_url: str, generated: list[Case], monkeypatch: Any
) -> None:
    """Another agent's write folds the pending changes while a report runs: the report read
    `report_day` before and `report_change` after it, and must count each change once."""
    cases = changed_by_another_program(session, db_url, generated, "Europe/Paris")
    read_pending = summary.pending

    def folded_meanwhile(connection: Connection) -> list[summary.Change]:
        with db.open_session(db_url) as other:
            team.set_presence(other, agent="lee", status=team.Presence.AWAY)
        return read_pending(connection)

    monkeypatch.setattr(summary, "pending", folded_meanwhile)
    assert_trend(latte, cases, "Europe/Paris", AFTER, "agent")
    assert_summary_exact(db_url)  # the other write did fold them during the report


@pytest.mark.parametrize("folded", [False, True], ids=["pending", "folded"])
def test_a_resolution_before_the_opening_does_not_break_the_trend(
    latte: Latte, session: Session, db_url: str, folded: bool
) -> None:
    """Another system's complaint resolved an hour before it was opened: the report still runs
    and counts its (negative) resolution time, as the period figures do."""
    opened = epoch_of("2026-11-10T09:00:00")
    cases = [
        Case(1, opened, opened + 100, "ana", "phone", "delivery", None),
        Case(2, opened + 5, opened + 55, "ana", "phone", "delivery", None),
    ]
    write(session, cases)
    odd = Case(3, opened, opened - 3600, "ana", "phone", "delivery", None)
    with other_program(db_url) as connection:
        connection.execute(complaint_table().insert(), [complaint_values(odd)])
    cases.append(odd)
    if folded:
        team.set_presence(session, agent="ana", status=team.Presence.AWAY)
    assert_summary_exact(db_url, pending=not folded)
    for by in (None, "agent"):
        assert_trend(latte, cases, "UTC", AFTER, by)


def test_an_empty_value_from_another_program_is_no_value_everywhere(
    latte: Latte, session: Session, db_url: str
) -> None:
    """Another system writes '' for a location: the period's groups and the trend both count
    it under "(none)", with the complaints that have no location."""
    opened = epoch_of("2026-11-10T09:00:00")
    cases = [
        Case(1, opened, opened + 3600, "ana", "phone", "delivery", "north"),
        Case(2, opened + 5, opened + 7200, "ana", "phone", "delivery", None),
        Case(3, opened + 9, None, "ana", "phone", "delivery", "north"),
    ]
    write(session, cases)
    with other_program(db_url) as connection:
        table = complaint_table()
        connection.execute(table.update().where(table.c.id == 1).values(location=""))
    args = ["--week", "2026-W46", "--weeks", "2", "--by", "location", "--as-of", AFTER]
    for folded in (False, True):  # the change pending, then folded by latte's next write
        if folded:
            team.set_presence(session, agent="ana", status=team.Presence.AWAY)
        assert_summary_exact(db_url, pending=not folded)
        report = json.loads(latte.ok("report", "weekly", *args, "--format", "json").stdout)
        (groups_defined,) = [d for d in report["definitions"] if d["figure"] == "groups"]
        assert "or an empty one" in groups_defined["exclusions"]
        groups = {g["group"]: g["figures"] for g in report["groups"]}
        assert set(groups) == {"(none)", "north"}
        assert (groups["(none)"]["opened"], groups["(none)"]["resolved"]) == (2, 2)
        assert (groups["north"]["opened"], groups["north"]["resolved"]) == (1, 0)
        week = {r["group"]: r for r in report["trend"] if r["week"] == "2026-W46"}
        assert set(week) == {None, "(none)", "north"}
        assert (week["(none)"]["opened"], week["(none)"]["resolved"]) == (2, 2)
        assert (week["north"]["opened"], week["north"]["resolved"]) == (1, 0)


# 4. `latte db check` finds a summary that differs; `latte db rebuild-summary` repairs it -----


def tamper_day_row(connection: Connection) -> None:
    days = SQLModel.metadata.tables["report_day"]
    key = connection.execute(
        select(days.c.dimension, days.c.value, days.c.day).order_by(days.c.day).limit(1)
    ).one()
    connection.execute(
        delete(days).where(
            days.c.dimension == key.dimension, days.c.value == key.value, days.c.day == key.day
        )
    )


def tamper_lost_change(connection: Connection) -> None:
    """A complaint changed with the queue emptied afterwards, as with triggers disabled."""
    table = complaint_table()
    first = connection.execute(select(func.min(table.c.id))).scalar_one()
    connection.execute(table.update().where(table.c.id == first).values(category="elsewhere"))
    connection.execute(delete(SQLModel.metadata.tables["report_change"]))


@pytest.mark.parametrize("tamper", [tamper_day_row, tamper_lost_change])
def test_db_check_finds_a_stale_summary_and_rebuild_repairs_it(
    latte: Latte, db_url: str, tmp_path: Path, tamper: Callable[[Connection], None]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    import_file(latte, tmp_path / "tickets.csv", tickets(now, changed=False))
    latte.ok("db", "check")
    with other_program(db_url) as connection:
        tamper(connection)
    assert differences(db_url)[0] > 0

    result = latte("db", "check")
    assert result.exit_code != 0, result.output
    message = result.stderr.strip().splitlines()
    assert len(message) == 1 and "latte db rebuild-summary" in message[0], result.stderr
    assert "Traceback" not in result.output

    latte.ok("db", "rebuild-summary")
    assert_summary_exact(db_url)
    latte.ok("db", "check")


# 5. Concurrent folds on PostgreSQL take the day rows' locks in one order --------------------


def _blockers(watch: Connection, pid: int) -> list[int]:
    return list(watch.exec_driver_sql(f"SELECT unnest(pg_blocking_pids({pid}))").scalars())


def _until_blocked(watch: Connection, pid: int, by: int | None = None) -> None:
    deadline = monotonic() + 10
    while monotonic() < deadline:
        blockers = _blockers(watch, pid)
        if blockers and (by is None or blockers == [by]):
            return
        sleep(0.01)
    raise AssertionError(f"backend {pid} never waited (for {by})")


def test_folds_that_empty_and_refill_a_day_row_do_not_deadlock(
    latte: Latte, session: Session, db_url: str
) -> None:
    """A fold waits for the lock on a day row that another fold then empties; a third fold
    writes that row again. None of them may end in "deadlock detected": the first fold must
    not come back to a row it skipped after it locked the rows that follow it."""
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks between concurrent writers: PostgreSQL only (SQLite has one)")
    opened = epoch_of("2026-11-10T09:00:00")
    # The queue (agent "") holds complaint 1 only; ana has 2 and 3.
    cases = [
        Case(1, opened, None, None, "phone", "delivery", None),
        Case(2, opened + 1, None, "ana", "phone", "delivery", None),
        Case(3, opened + 2, None, "ana", "phone", "delivery", None),
    ]
    write(session, cases)
    table, days = complaint_table(), SQLModel.metadata.tables["report_day"]
    engine = db.get_engine(db_url)

    def lock_row(connection: Connection, value: str) -> None:
        row = (days.c.dimension == "agent") & (days.c.value == value)
        connection.execute(select(days.c.day).where(row).with_for_update()).all()

    def to_queue(connection: Connection, complaint_id: int) -> None:
        with connection.begin():
            statement = table.update().where(table.c.id == complaint_id)
            connection.execute(statement.values(assigned_agent=None))
            summary.fold(connection)

    failures: list[BaseException] = []

    def in_thread(connection: Connection, complaint_id: int) -> threading.Thread:
        def run() -> None:
            try:
                to_queue(connection, complaint_id)
            except BaseException as error:  # reported by the test below
                failures.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    with ExitStack() as stack:
        watch, claimer, holder, first, third = (
            stack.enter_context(engine.connect()) for _ in range(5)
        )
        watch.execution_options(isolation_level="AUTOCOMMIT")
        first_pid, third_pid, holder_pid = (
            c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            for c in (first, third, holder)
        )
        for c in (first, third, holder):
            c.rollback()
        # The claimer (taking complaint 1 from the queue) holds the queue's row in its fold;
        # another transaction holds ana's row.
        claimer.begin()
        lock_row(claimer, "")
        holder.begin()
        lock_row(holder, "ana")
        # Complaint 2 back to the queue: its fold waits for the queue's row.
        threads = [in_thread(first, 2)]
        _until_blocked(watch, first_pid)
        # The claim empties the queue's row and commits; the first fold then waits for ana's.
        claimer.execute(table.update().where(table.c.id == 1).values(assigned_agent="ben"))
        summary.fold(claimer)
        claimer.commit()
        _until_blocked(watch, first_pid, by=holder_pid)
        # Complaint 3 back to the queue: its fold writes the queue's row again, then waits.
        threads.append(in_thread(third, 3))
        _until_blocked(watch, third_pid)
        holder.rollback()
        for thread in threads:
            thread.join(timeout=30)
    assert not failures, failures
    assert_summary_exact(db_url)
    # ana's row is left without entries: no report shows ana.
    cases = [replace(cases[0], agent="ben"), *(replace(c, agent=None) for c in cases[1:])]
    assert_trend(latte, cases, "UTC", AFTER, "agent")
