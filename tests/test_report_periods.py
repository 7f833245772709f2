"""Reports over long periods: a year and more, every --by, business hours, local zones, and the
trend's repurchase and NPS columns, against the plain-Python oracle of test_reports (the
definitions of docs/metrics.md)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session

from tests.test_reports import (
    Row,
    assert_same,
    business_seconds,
    epoch_of,
    expected,
    generate,
    run_json,
    write,
)

ZONE = "America/New_York"  # two DST changes inside the year
DAY = 86_400


@pytest.fixture
def year(session: Session) -> tuple[list[Row], list[tuple[int, int]]]:
    """Complaints over 15 months in a DST zone, purchases around them."""
    start = epoch_of("2025-10-01T00:00", ZONE)
    rows, purchases = generate(23, start, epoch_of("2027-01-15T00:00", ZONE), n=700)
    write(session, rows, purchases)
    return rows, purchases


YEAR = ("--since", "2026-01-01", "--until", "2026-12-31")
AS_OF = "2027-02-01T12:00"


def _span(since: str, until: str) -> tuple[int, int]:
    """The period [start, end) of --since/--until dates in ZONE (the until day included)."""
    return epoch_of(f"{since}T00:00", ZONE), epoch_of(f"{until}T00:00", ZONE) + DAY


@pytest.mark.parametrize("report", ["weekly", "agents", "repurchase"])
def test_a_year_has_every_figure_of_the_plain_computation(
    latte: Any, year: Any, report: str
) -> None:
    rows, purchases = year
    data = run_json(latte, report, *YEAR, "--tz", ZONE, "--as-of", AS_OF)
    start, end = _span("2026-01-01", "2026-12-31")
    as_of = epoch_of(AS_OF, ZONE)
    wanted = expected(rows, purchases, start, end, as_of=as_of)
    assert wanted["resolved"] > 300
    assert_same(data["figures"], wanted)
    previous = expected(rows, purchases, start - (end - start), start, as_of=as_of)
    assert_same(data["previous"], previous)


@pytest.mark.parametrize("by", ["agent", "channel", "category", "location"])
def test_a_year_by_every_dimension(latte: Any, year: Any, by: str) -> None:
    rows, purchases = year
    data = run_json(latte, "weekly", *YEAR, "--tz", ZONE, "--as-of", AS_OF, "--by", by)
    start, end = _span("2026-01-01", "2026-12-31")
    as_of = epoch_of(AS_OF, ZONE)
    groups = {g["group"]: g for g in data["groups"]}
    values = {getattr(r, by) for r in rows}
    assert set(groups) == {v or "(none)" for v in values}
    for value in values:
        mine = [r for r in rows if getattr(r, by) == value]
        assert_same(
            groups[value or "(none)"]["figures"],
            expected(mine, purchases, start, end, as_of=as_of),
        )


def test_the_whole_history_with_an_as_of_inside_it(latte: Any, year: Any) -> None:
    """An as-of time inside the period: later resolutions, reopenings, follow-ups and
    purchases are not known."""
    rows, purchases = year
    as_of = "2026-08-05T15:30"
    data = run_json(
        latte, "repurchase", "--since", "2025-10-01", "--until", "2027-01-14",
        "--tz", ZONE, "--as-of", as_of, "--window", "30",
    )  # fmt: skip
    start, end = _span("2025-10-01", "2027-01-14")
    wanted = expected(rows, purchases, start, end, as_of=epoch_of(as_of, ZONE), window_d=30)
    assert wanted["repurchase"]["pending"] > 0 and wanted["repurchase"]["lost"] > 0
    assert_same(data["figures"], wanted)


def test_a_quarter_on_business_hours(latte: Any, session: Session, monkeypatch: Any) -> None:
    start = epoch_of("2026-09-28T00:00", "Europe/Paris")
    rows, purchases = generate(31, start, start + 13 * 7 * DAY, n=120)
    write(session, rows, purchases)
    monkeypatch.setenv("LATTE_HOURS", "Mon-Fri 09:00-17:00")
    data = run_json(
        latte, "weekly", "--since", "2026-09-28", "--until", "2026-12-27",
        "--tz", "Europe/Paris", "--as-of", "2027-06-01", "--by", "channel",
    )  # fmt: skip
    end = epoch_of("2026-12-28T00:00", "Europe/Paris")
    as_of = epoch_of("2027-06-01T00:00", "Europe/Paris")
    wanted = expected(rows, purchases, start, end, as_of=as_of, clock=business_seconds)
    assert wanted["resolved"] > 40
    assert_same(data["figures"], wanted)
    groups = {g["group"]: g["figures"] for g in data["groups"]}
    for channel in ("phone", "email"):
        mine = [r for r in rows if r.channel == channel]
        wanted = expected(mine, purchases, start, end, as_of=as_of, clock=business_seconds)
        assert_same(groups[channel], wanted)


@pytest.mark.parametrize("by", [None, "location"])
def test_trend_has_repurchase_and_nps_per_week(latte: Any, year: Any, by: str | None) -> None:
    rows, purchases = year
    as_of = "2026-12-20T10:00"  # the last weeks' windows are still open
    extra = ("--by", by) if by else ()
    data = run_json(
        latte, "weekly", "--week", "2026-W50", "--weeks", "20", "--tz", ZONE,
        "--as-of", as_of, "--window", "30", *extra,
    )  # fmt: skip
    monday = epoch_of("2026-12-07T00:00", ZONE)  # 2026-W50
    weeks = [epoch_of(_local_date(monday, i - 19), ZONE) for i in range(20)]
    labels = [_week_label(w) for w in weeks]
    assert [t["week"] for t in data["trend"] if t["group"] is None] == labels
    for t in data["trend"]:
        start = weeks[labels.index(t["week"])]
        end = epoch_of(_local_date(start, 1), ZONE)
        mine = rows if t["group"] is None else [r for r in rows if _group(r, by) == t["group"]]
        wanted = expected(mine, purchases, start, end, as_of=epoch_of(as_of, ZONE), window_d=30)
        assert_same(t["repurchase"], wanted["repurchase"])
        assert_same(t["nps"], wanted["nps"])
    totals = [t for t in data["trend"] if t["group"] is None]
    assert any(t["repurchase"]["pending"] for t in totals)
    assert any(t["repurchase"]["lost"] for t in totals)
    assert any(t["nps"]["n"] for t in totals)


def _group(row: Row, by: str | None) -> str:
    value = getattr(row, by) if by else None
    return value or "(none)"


def _local_date(monday: int, weeks: int) -> str:
    """The local ISO date-time of the Monday `weeks` after `monday` (in ZONE)."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    local = datetime.fromtimestamp(monday, ZoneInfo(ZONE)).date() + timedelta(weeks=weeks)
    return f"{local.isoformat()}T00:00"


def _week_label(start: int) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    year, week, _ = datetime.fromtimestamp(start, ZoneInfo(ZONE)).isocalendar()
    return f"{year}-W{week:02d}"


def test_outcomes_by_week_in_markdown_and_tables(latte: Any, year: Any) -> None:
    result = latte.ok(
        "report", "weekly", "--week", "2026-W50", "--weeks", "3", "--tz", ZONE,
        "--as-of", AS_OF, "--format", "markdown",
    )  # fmt: skip
    lines = result.stdout.splitlines()
    header = lines[lines.index("## Outcomes by week") + 2]
    assert header.startswith("| Week | Repurchased | Lost | Pending | Rate | NPS | n |"), header
    table = latte.ok(
        "report", "weekly", "--week", "2026-W50", "--weeks", "3", "--tz", ZONE,
        "--as-of", AS_OF, "--by", "channel",
    )  # fmt: skip
    assert "Outcomes by week and group" in table.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines())


@pytest.mark.sqlite_only
def test_a_year_reads_the_summaries_not_the_complaint_rows(year: Any, sqlite_path: Any) -> None:
    """A year's report reads the report summary and the cohort summary (revision 0009), and
    of the repurchase outcomes only their covering index: no complaint, stage record,
    follow-up, event or purchase row. Of the figures on what to fix, the root causes, repeats,
    remedies and "what will change" texts read the cohort summary too (revision 0015) and the
    repeat outcomes only `ix_report_outcome_again`: no stage record at all. The deadlines and
    revenue kept (with active customers) still read the complaints and purchases of the
    period, but only through covering indexes (revision 0014), and the outcomes from the rows
    kept at write time (docs/architecture.md, "Reports over long periods")."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import create_engine, event

    from latte_cli.reports.build import Options, build_report
    from latte_cli.reports.periods import Period, Span

    start, end = _span("2026-01-01", "2026-12-31")
    span = Span(Period(start, end, "2026"), Period(2 * start - end, start, "2025"), (), "range")
    engine = create_engine(f"sqlite:///{sqlite_path}")
    statements: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.startswith("EXPLAIN"):
            statements.append((statement, parameters))

    with engine.connect() as conn:
        options = Options(zone=ZoneInfo(ZONE), as_of=end, by="agent")
        build_report(conn, span, options, kind="weekly")
        plans = {
            statement: [
                str(row[3])
                for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            ]
            for statement, parameters in list(statements)
        }
    engine.dispose()
    rows = ("complaint", "stage_record", "followup", "event", "purchase")
    read = {
        sql: plan for sql, plan in plans.items() if any(re.search(rf"\b{t}\b", sql) for t in rows)
    }
    assert read, "the deadlines and revenue kept read the complaints"
    for sql, plan in read.items():
        assert not re.search(r"\b(followup|event|stage_record)\b", sql)
        # only the deadlines (due times) and revenue kept / active customers (purchases, or
        # the sums kept at write time, revision 0017)
        wanted = r"\b(first|final)_response_due_epoch\b|\bpurchase\b|\bkept_cents\b"
        assert re.search(wanted, sql), sql
        steps = [step for step in plan if re.match(r"(SEARCH|SCAN) ", step)]
        for step in steps:
            table_name = step.split()[1]
            if step.startswith("SCAN CONSTANT ROW"):  # a scalar subquery's one row
                continue
            if "active_slot" in sql:  # active customers kept (revision 0019): the slots by
                # their key, the queues of changes not yet folded (few rows), their purchases
                queue = table_name in ("active_queue", "report_queue") or "anon_" in table_name
                assert step.startswith("SEARCH ") or queue, (step, sql)
                continue
            # Revenue kept: the outcomes kept at write time by their index's range, a row (and
            # with --by the complaint's row) only for a first purchase in the window.
            revenue = table_name in ("kept", "complaint") and "kept.resolved_epoch" in sql
            if revenue and "INTEGER PRIMARY KEY" in step:
                continue
            if table_name in ("complaint", "stage_record", "purchase"):
                assert "COVERING INDEX" in step, (step, sql)
            elif revenue:  # or, for the default window, the sums kept (revision 0017)
                kept = "COVERING INDEX ix_report_outcome_kept"
                assert "INDEX ix_report_outcome_bought" in step or kept in step, (step, sql)
            else:  # the outcomes kept at write time, one row per cohort complaint
                assert table_name == "kept" and "INTEGER PRIMARY KEY" in step, (step, sql)
    outcome_plans = [
        " ".join(plan) for sql, plan in plans.items() if "report_outcome" in sql and sql not in read
    ]
    assert outcome_plans
    # The buyers with the sums kept at write time (default window: ix_report_outcome_kept,
    # revision 0017), the repeat evidence, and for a longer window ix_report_outcome_bought.
    buyers = "COVERING INDEX ix_report_outcome_kept"
    covering = (buyers, "COVERING INDEX ix_report_outcome_again")
    also = "COVERING INDEX ix_report_outcome_bought"
    assert all(any(index in plan for index in (*covering, also)) for plan in outcome_plans)
    assert all(any(index in plan for plan in outcome_plans) for index in covering)
    assert any("report_cohort" in sql for sql in plans)


SUMMARY_CASES = [
    # (zone, since, until, as-of, target hours, --by, business hours)
    ("UTC", "2025-10-01", "2027-01-14", "2027-02-01T00:00", 24.0, None, None),
    ("Europe/Paris", "2026-01-01", "2026-12-31", "2026-10-25T02:30", 1.5, "agent", None),
    ("Asia/Kolkata", "2026-03-01", "2026-05-31", "2026-04-17T06:15:09", 24.0, "channel", None),
    ("America/St_Johns", "2026-01-01", "2026-12-31", "2026-11-01T03:59:59", 72.0, "category",
     None),
    (ZONE, "2026-02-10", "2026-11-03", "2027-02-01T12:00", 0.25, "location", None),
    # as-of exactly the target after an open complaint's opening: it is not overdue yet
    ("UTC", "2026-06-01", "2026-12-31", "edge", 0.25, None, None),
    # Business hours: daylight saving changes inside the periods, several groups a day,
    # overlapping groups (the clock's day-by-day loop), an as-of time in closed hours
    ("Europe/Paris", "2026-01-01", "2026-12-31", "2026-10-25T02:30", 24.0, "agent",
     "Mon-Fri 09:00-17:00"),
    ("America/New_York", "2025-10-01", "2027-01-14", "2027-02-01T00:00", 4.0, "channel",
     "Mon-Fri 09:00-12:30; Mon-Fri 13:30-17:00; Sat 10:00-14:00"),
    ("UTC", "2026-02-10", "2026-11-03", "2026-08-01T12:00", 1.5, None,
     "Mon 09:00-12:00; Mon 11:00-13:00; Wed 08:00-18:00"),
    ("Australia/Lord_Howe", "2026-03-01", "2026-10-31", "2026-10-04T01:45", 0.25, "location",
     "Mon-Sun 00:00-24:00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "since", "until", "as_of", "target", "by", "hours"), SUMMARY_CASES
)
def test_the_summaries_give_the_figures_of_the_rows(
    year: Any, db_url: str, zone: str, since: str, until: str, as_of: str, target: float,
    by: str | None, hours: str | None,
) -> None:  # fmt: skip
    """The same report read from the summaries and computed from the complaint rows (which a
    report does while a change of another program waits in the queue) is the same, to the
    last bit: long periods, every --by, periods and as-of times cut inside UTC days, a
    fractional SLA target (the overdue limit inside a second's range), and business hours
    (resolution and acknowledge times, speed buckets and the overdue limit on the clock,
    from the epochs the cohort summary keeps)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from sqlalchemy import create_engine, event, text

    from latte_cli.reports.build import Options, build_report
    from latte_cli.reports.hours import parse_schedule
    from latte_cli.reports.periods import choose_span, parse_as_of

    tz = ZoneInfo(zone)
    if as_of == "edge":
        rows, _ = year
        limit = int(target * 3600)
        start, end = _span(since, until)
        edge = min(
            r.opened + limit
            for r in rows
            if start <= r.opened + limit < end
            and (r.first_resolved is None or r.first_resolved > r.opened + limit)
        )
        as_of = datetime.fromtimestamp(edge, UTC).isoformat()
    moment = parse_as_of(as_of, tz, 0)
    span = choose_span(zone=tz, as_of=moment, since=since, until=until, weeks=8)
    schedule = parse_schedule(hours) if hours else None
    options = Options(
        zone=tz, as_of=moment, target_hours=target, window_days=30, by=by, schedule=schedule
    )
    engine = create_engine(db_url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        reports, read_rows = [], []
        for queued in (False, True):
            statements.clear()
            with engine.begin() as conn:
                if queued:  # another program's change waits: a queue row with nothing in it
                    conn.execute(text("INSERT INTO report_queue (customer_id) VALUES (NULL)"))
                reports.append(build_report(conn, span, options, kind="weekly"))
            # The rows' own look-ups (the stage durations) only when the queue is not empty.
            read_rows.append(any("FROM stage_record" in sql for sql in statements))
    finally:
        engine.dispose()
    from_summaries, from_rows = reports
    assert read_rows == [False, True]
    assert from_summaries.totals.resolved > 0 and from_summaries.totals.backlog > 0
    assert from_summaries.totals.overdue > 0 or hours is None
    assert from_summaries == from_rows
