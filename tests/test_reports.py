"""Report figures against an independent, plain-Python computation over generated rows.

The rows are written with Core inserts (consistent with what the services write: epochs,
stage records, events, follow-ups, purchases); the expected figures are computed here from the
generated Python values with `statistics` and `datetime`, never from the report's code.
"""

from __future__ import annotations

import csv
import io
import json
import random
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel

from latte_cli.reports.stats import Dist, percentile

STAGES = ("listen", "acknowledge", "take_action", "thank", "explain")
AGENTS = ("ana", "sam", "lee")
KINDS = ("refund", "replacement", "repair", "credit")
H = 3600


@dataclass
class Row:
    id: int
    opened: int
    customer: int | None
    agent: str
    channel: str
    category: str
    location: str | None
    stage_times: list[int]  # cycle-0 completions, listen first
    reopen_at: int | None = None
    resolved_again: int | None = None
    action: str | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ack(self) -> int | None:
        return self.stage_times[1] if len(self.stage_times) > 1 else None

    @property
    def first_resolved(self) -> int | None:
        return self.stage_times[4] if len(self.stage_times) == 5 else None


def _dt(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def write(session: Session, rows: list[Row], purchases: list[tuple[int, int]]) -> None:
    """Insert the rows as latte would have stored them."""
    t = SQLModel.metadata.tables
    conn = session.connection()
    now = _dt(max(r.opened for r in rows)) if rows else datetime.now(UTC)
    customers = sorted({r.customer for r in rows if r.customer} | {c for c, _ in purchases})
    if customers:
        conn.execute(
            t["customer"].insert(),
            [{"id": c, "ref": f"C-{c}", "created_at": now} for c in customers],
        )
    complaints, stages, events, followups = [], [], [], []
    for r in rows:
        first = r.first_resolved
        latest = r.resolved_again if r.reopen_at else first
        if r.reopen_at and r.resolved_again is None:
            latest = first  # resolved_at keeps the last resolution while reopened
        due = STAGES[len(r.stage_times)] if len(r.stage_times) < 5 else None
        if r.reopen_at:
            due = None if r.resolved_again else "take_action"
        complaints.append(
            {
                "id": r.id,
                "customer_id": r.customer,
                "channel": r.channel,
                "category": r.category,
                "location": r.location,
                "severity": "medium",
                "summary": "s",
                "opened_by": r.agent,
                "assigned_agent": r.agent,
                "stage_due": due,
                "cycle": 1 if r.reopen_at else 0,
                "reopen_count": 1 if r.reopen_at else 0,
                "opened_at": _dt(r.opened),
                "opened_epoch": r.opened,
                "acknowledged_at": _dt(r.ack) if r.ack else None,
                "acknowledged_epoch": r.ack,
                "first_resolved_at": _dt(first) if first else None,
                "first_resolved_epoch": first,
                "resolved_at": _dt(latest) if latest else None,
                "resolved_epoch": latest,
                "action_kind": r.action,
                "root_cause": "delivery" if first else None,
                "updated_at": now,
            }
        )
        events.append(
            {"complaint_id": r.id, "at": _dt(r.opened), "agent": r.agent, "kind": "opened"}
        )
        previous = r.opened
        for stage, at in zip(STAGES, r.stage_times, strict=False):
            stages.append(
                {
                    "complaint_id": r.id,
                    "cycle": 0,
                    "stage": stage,
                    "agent": r.agent,
                    "completed_at": _dt(at),
                    "duration_seconds": at - previous,
                    "action_kind": r.action if stage == "take_action" else None,
                }
            )
            events.append({"complaint_id": r.id, "at": _dt(at), "agent": r.agent, "kind": "stage"})
            previous = at
        if r.reopen_at:
            events.append(
                {"complaint_id": r.id, "at": _dt(r.reopen_at), "agent": r.agent, "kind": "reopen"}
            )
        for f in r.followups:
            recorded = f["recorded"]
            followups.append(
                {
                    "complaint_id": r.id,
                    "due_at": _dt(first + 3 * 86_400) if first else None,
                    "recorded_at": _dt(recorded) if recorded else None,
                    "recorded_epoch": recorded,
                    "nps": f["nps"],
                    "satisfied": f["satisfied"],
                    "repurchased": f["repurchased"],
                }
            )
    for table, data in (
        ("complaint", complaints),
        ("stage_record", stages),
        ("event", events),
        ("followup", followups),
    ):
        if data:
            conn.execute(t[table].insert(), data)
    if purchases:
        conn.execute(
            t["purchase"].insert(),
            [
                {
                    "order_ref": f"O-{i}",
                    "customer_id": c,
                    "purchased_at": _dt(e),
                    "purchased_epoch": e,
                    "amount_cents": 1000,
                }
                for i, (c, e) in enumerate(purchases)
            ],
        )
    session.commit()


def generate(
    seed: int, start: int, end: int, n: int = 160
) -> tuple[list[Row], list[tuple[int, int]]]:
    """Complaints opened in [start, end): open at every stage, resolved, reopened, without a
    customer; follow-ups with and without scores; purchases before, in and after windows."""
    rnd = random.Random(seed)
    rows: list[Row] = []
    for i in range(1, n + 1):
        opened = rnd.randrange(start, end) // 60 * 60
        times = [opened]
        reached = rnd.choice([1, 2, 3, 5, 5, 5, 5, 5, 5, 5])
        for _ in range(reached - 1):
            times.append(times[-1] + rnd.choice([0, 60, 600, H, 3 * H, 9 * H, 30 * H, 80 * H]))
        row = Row(
            id=i,
            opened=opened,
            customer=rnd.choice([None, *range(1, 25)]),
            agent=rnd.choice(AGENTS),
            channel=rnd.choice(["phone", "email"]),
            category=rnd.choice(["delivery", "billing"]),
            location=rnd.choice([None, "north", "south"]),
            stage_times=times,
            action=rnd.choice(KINDS) if reached >= 3 else None,
        )
        first = row.first_resolved
        if first is not None:
            if rnd.random() < 0.2:
                row.reopen_at = first + rnd.choice([H, 5 * 86_400])
                if rnd.random() < 0.5:
                    row.resolved_again = row.reopen_at + 2 * H
            for _ in range(rnd.choice([0, 1, 1, 2])):
                recorded = rnd.choice([None, first + 2 * 86_400, first + 20 * 86_400])
                row.followups.append(
                    {
                        "recorded": recorded,
                        "nps": rnd.choice([None, *range(11)]) if recorded else None,
                        "satisfied": rnd.choice([True, False, None]) if recorded else None,
                        "repurchased": rnd.choice([True, False, None]) if recorded else None,
                    }
                )
        rows.append(row)
    purchases = [
        (rnd.randrange(1, 25), rnd.randrange(start - 30 * 86_400, end + 120 * 86_400))
        for _ in range(120)
    ]
    return rows, purchases


# The oracle ---------------------------------------------------------------------------------


def p90(values: list[int]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def dist(values: list[int]) -> dict[str, Any]:
    return {
        "n": len(values),
        "median_seconds": statistics.median(values) if values else None,
        "p90_seconds": p90(values),
        "mean_seconds": statistics.fmean(values) if values else None,
    }


def rate(count: int, n: int) -> dict[str, Any]:
    return {"count": count, "n": n, "rate": count / n if n else None}


def expected(
    rows: list[Row],
    purchases: list[tuple[int, int]],
    start: int,
    end: int,
    *,
    as_of: int,
    target_h: float = 24,
    window_d: int = 90,
    clock: Any = None,
) -> dict[str, Any]:
    """Every figure of the period [start, end) as docs/metrics.md defines it."""
    span = clock or (lambda a, b: b - a)
    target, window = target_h * H, window_d * 86_400

    def within(t: int | None) -> bool:
        return t is not None and start <= t < end and t <= as_of

    cohort = [r for r in rows if within(r.first_resolved)]
    res = [span(r.opened, r.first_resolved) for r in cohort]
    moment = min(end - 1, as_of)
    still_open = [
        r
        for r in rows
        if r.opened <= moment and (r.first_resolved is None or r.first_resolved > moment)
    ]
    stage_values: dict[str, list[int]] = {s: [] for s in STAGES}
    for r in cohort:
        previous = r.opened
        for stage, at in zip(STAGES, r.stage_times, strict=True):
            stage_values[stage].append(at - previous)
            previous = at
    # One score per complaint: its latest recorded by as-of (of the same second, the highest).
    scores = [
        max(known)[1]
        for r in cohort
        if (
            known := [
                (f["recorded"], f["nps"])
                for f in r.followups
                if f["recorded"] and f["recorded"] <= as_of and f["nps"] is not None
            ]
        )
    ]
    outcomes = []  # (speed bucket, fast, kind, satisfied, outcome)
    for r in cohort:
        if r.customer is None:
            continue
        resolved = r.first_resolved
        assert resolved is not None
        known = [f for f in r.followups if f["recorded"] and f["recorded"] <= as_of]
        bought = any(
            c == r.customer and resolved < e <= resolved + window and e <= as_of
            for c, e in purchases
        ) or any(f["repurchased"] is True for f in known)
        if bought:
            outcome = "repurchased"
        elif resolved + window <= as_of:
            outcome = "lost"
        else:
            outcome = "pending"
        seconds = span(r.opened, resolved)
        bucket = 0 if seconds < 4 * H else 1 if seconds < 24 * H else 2 if seconds < 72 * H else 3
        satisfied = any(f["satisfied"] is True for f in known)
        outcomes.append((bucket, seconds <= target, r.action or "(none)", satisfied, outcome))

    def tally(chosen: list[tuple[Any, ...]]) -> dict[str, Any]:
        rep = sum(1 for o in chosen if o[4] == "repurchased")
        lost = sum(1 for o in chosen if o[4] == "lost")
        pending = sum(1 for o in chosen if o[4] == "pending")
        return {
            "repurchased": rep,
            "lost": lost,
            "pending": pending,
            "n": rep + lost,
            "rate": rep / (rep + lost) if rep + lost else None,
        }

    def followed(r: Row) -> bool:
        return any(f["recorded"] and f["recorded"] <= as_of for f in r.followups)

    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    kinds = sorted({o[2] for o in outcomes}, key=lambda k: (k not in KINDS, k))
    return {
        "opened": sum(1 for r in rows if within(r.opened)),
        "resolved": len(cohort),
        "open_backlog": len(still_open),
        "overdue": sum(1 for r in still_open if span(r.opened, moment) > target),
        "time_to_acknowledge": dist([span(r.opened, r.ack) for r in cohort if r.ack]),
        "resolution_time": dist(res),
        "within_target": rate(sum(1 for s in res if s <= target), len(res)),
        "stages": {s: dist(v) for s, v in stage_values.items()},
        "reopen_rate": rate(
            sum(1 for r in cohort if r.reopen_at and r.reopen_at <= as_of), len(cohort)
        ),
        "repurchase": tally(outcomes),
        "repurchase_by_speed": {
            label: tally([o for o in outcomes if o[0] == i])
            for i, label in enumerate(("< 4 h", "4-24 h", "1-3 d", "> 3 d"))
        },
        "repurchase_by_action": {k: tally([o for o in outcomes if o[2] == k]) for k in kinds},
        "fast_and_satisfied": tally([o for o in outcomes if o[1] and o[3]]),
        "rest": tally([o for o in outcomes if not (o[1] and o[3])]),
        "nps": {
            "score": 100 * (promoters - detractors) / len(scores) if scores else None,
            "n": len(scores),
            "promoters": promoters,
            "passives": len(scores) - promoters - detractors,
            "detractors": detractors,
        },
        "followup_completion": rate(sum(1 for r in cohort if followed(r)), len(cohort)),
    }


# Deadlines, root causes, repeats, remedies and per 1,000: their own oracle, in
# tests/test_report_fixes.py.
FIX_KEYS = frozenset(
    (
        "deadlines",
        "root_causes",
        "repeat",
        "repeat_by_cause",
        "repeat_by_agent",
        "remedies",
        "per_1000_active",
    )
)


def assert_same(actual: Any, wanted: Any, path: str = "") -> None:
    if isinstance(wanted, dict):
        assert isinstance(actual, dict), path
        if not FIX_KEYS & set(wanted):
            actual = {k: v for k, v in actual.items() if k not in FIX_KEYS}
        assert set(actual) == set(wanted), (path, set(actual) ^ set(wanted))
        for key in wanted:
            assert_same(actual[key], wanted[key], f"{path}.{key}")
    elif isinstance(wanted, float):
        assert actual is not None, path
        assert actual == pytest.approx(wanted, abs=1e-3), path
    else:
        assert actual == wanted, path


def epoch_of(text: str, zone: str = "UTC") -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp())


WEEK_START = epoch_of("2026-11-16T00:00")  # 2026-W47, Monday
WEEK_END = WEEK_START + 7 * 86_400
AS_OF = "2026-11-23T08:00"


def run_json(latte: Any, *args: str) -> dict[str, Any]:
    result = latte.ok("report", *args, "--format", "json")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# Tests --------------------------------------------------------------------------------------


@pytest.fixture
def data(session: Session) -> tuple[list[Row], list[tuple[int, int]]]:
    rows, purchases = generate(7, WEEK_START - 21 * 86_400, WEEK_END)
    write(session, rows, purchases)
    return rows, purchases


def test_every_figure_of_the_week_and_the_previous_week(latte: Any, data: Any) -> None:
    rows, purchases = data
    report = run_json(latte, "weekly", "--week", "2026-W47", "--as-of", AS_OF)
    as_of = epoch_of(AS_OF)
    assert_same(report["figures"], expected(rows, purchases, WEEK_START, WEEK_END, as_of=as_of))
    assert_same(
        report["previous"],
        expected(rows, purchases, WEEK_START - 7 * 86_400, WEEK_START, as_of=as_of),
    )
    assert report["period"]["label"] == "2026-W47"
    assert report["clock"] == "calendar hours"


def test_default_period_is_the_last_full_week_and_pending_counts_are_explained(
    latte: Any, data: Any
) -> None:
    rows, purchases = data
    result = latte.ok("report", "weekly", "--as-of", AS_OF, "--explain")
    wanted = expected(rows, purchases, WEEK_START, WEEK_END, as_of=epoch_of(AS_OF))
    pending = wanted["repurchase"]["pending"]
    assert pending > 0
    text = " ".join(result.stdout.split())
    assert "Weekly report: 2026-W47" in text
    assert (
        f"pending: {pending} complaints whose 90-day window is still open at "
        "2026-11-23 08:00 UTC are not counted as lost" in text
    )
    assert all(len(line) <= 80 for line in result.stdout.splitlines())


def test_by_group_figures_add_up_per_group(latte: Any, data: Any) -> None:
    rows, purchases = data
    as_of = epoch_of(AS_OF)
    for by, attribute in (("agent", "agent"), ("location", "location")):
        report = run_json(latte, "weekly", "--week", "2026-W47", "--as-of", AS_OF, "--by", by)
        groups = {g["group"]: g for g in report["groups"]}
        values = {getattr(r, attribute) for r in rows}
        assert set(groups) == {v or "(none)" for v in values}
        for value in values:
            mine = [r for r in rows if getattr(r, attribute) == value]
            assert_same(
                groups[value or "(none)"]["figures"],
                expected(mine, purchases, WEEK_START, WEEK_END, as_of=as_of),
            )


def test_as_of_in_the_past_sees_the_database_as_it_stood(latte: Any, data: Any) -> None:
    rows, purchases = data
    as_of = "2026-11-19T12:00"  # mid-week: later resolutions, reopenings, follow-ups unseen
    report = run_json(latte, "weekly", "--week", "2026-W47", "--as-of", as_of)
    wanted = expected(rows, purchases, WEEK_START, WEEK_END, as_of=epoch_of(as_of))
    assert_same(report["figures"], wanted)
    later = [r for r in rows if r.first_resolved and r.first_resolved > epoch_of(as_of)]
    assert later, "the data must have complaints resolved after as-of"


def test_custom_range_and_window(latte: Any, data: Any) -> None:
    rows, purchases = data
    start, end = WEEK_START - 14 * 86_400, WEEK_END
    report = run_json(
        latte, "repurchase", "--since", "2026-11-02", "--until", "2026-11-22",
        "--as-of", "2027-06-01", "--window", "30", "--target", "8",
    )  # fmt: skip
    as_of = epoch_of("2027-06-01T00:00")
    wanted = expected(rows, purchases, start, end, as_of=as_of, target_h=8, window_d=30)
    assert_same(report["figures"], wanted)
    assert wanted["repurchase"]["pending"] == 0 and wanted["repurchase"]["lost"] > 0
    assert report["previous_period"]["start"] == _dt(start - (end - start)).isoformat()


def test_a_range_is_named_once_in_the_heading(latte: Any) -> None:
    """A week's heading gives its days in brackets; a range's label is its days already."""
    latte.ok("db", "upgrade")
    args = ("--since", "2026-11-02", "--until", "2026-11-22", "--as-of", AS_OF, "--tz", "UTC")
    for fmt, mark in (("table", ""), ("markdown", "# ")):
        text = latte.ok("report", "repurchase", *args, "--format", fmt).stdout
        assert text.splitlines()[0] == f"{mark}Repurchase outcomes: 2026-11-02..2026-11-22 · UTC"
    text = latte.ok(
        "report", "weekly", "--week", "2026-W47", "--as-of", AS_OF, "--tz", "UTC"
    ).stdout
    assert text.splitlines()[0] == "Weekly report: 2026-W47 (2026-11-16..2026-11-22) · UTC"


def test_all_pending_window_shows_no_rate(latte: Any, data: Any) -> None:
    result = latte.ok("report", "repurchase", "--week", "2026-W47", "--as-of", AS_OF)
    report = run_json(latte, "repurchase", "--week", "2026-W47", "--as-of", AS_OF)
    figures = report["figures"]["repurchase"]
    assert figures["lost"] == 0 and figures["pending"] > 0
    if figures["repurchased"] == 0:
        assert figures["rate"] is None
    line = next(x for x in result.stdout.splitlines() if "pending (not lost)" in x)
    assert str(figures["pending"]) in line


def test_empty_period_shows_dashes_not_zeros(latte: Any, data: Any) -> None:
    result = latte.ok("report", "weekly", "--week", "2025-W10", "--as-of", AS_OF)
    lines = result.stdout.splitlines()
    median = next(x for x in lines if "resolution median" in x)
    assert "—" in median and "0.0 h" not in median
    rate_line = next(x for x in lines if "repurchase rate" in x)
    assert "—" in rate_line and "0.0%" not in rate_line
    report = run_json(latte, "weekly", "--week", "2025-W10", "--as-of", AS_OF)
    assert report["figures"]["resolution_time"]["median_seconds"] is None
    assert report["figures"]["nps"]["score"] is None
    for fmt in ("csv", "markdown", "html"):
        latte.ok("report", "weekly", "--week", "2025-W10", "--format", fmt)


def test_empty_database(latte: Any) -> None:
    latte.ok("db", "upgrade")
    for command in ("weekly", "agents", "repurchase"):
        latte.ok("report", command)
    latte.ok("report", "weekly", "--weeks", "all", "--by", "agent", "--format", "html")


def test_dst_change_weeks_in_the_report_zone(latte: Any, session: Session) -> None:
    zone = "Europe/Paris"  # clocks go back on Sunday 2026-10-25
    monday = epoch_of("2026-10-26T00:00", zone)  # = 2026-10-25T23:00Z
    rows = [
        Row(1, monday - 60, None, "ana", "phone", "x", None, [monday - 60]),  # W43, local Sunday
        Row(2, monday, None, "ana", "phone", "x", None, [monday]),  # W44
        Row(3, epoch_of("2026-10-19T00:30", zone), None, "ana", "phone", "x", None, [0]),
        Row(4, epoch_of("2026-11-01T23:59", zone), None, "ana", "phone", "x", None, [0]),
        Row(5, epoch_of("2026-11-02T00:00", zone), None, "ana", "phone", "x", None, [0]),
    ]
    for r in rows:
        r.stage_times = [r.opened]
    write(session, rows, [])
    report = run_json(
        latte, "weekly", "--week", "2026-W44", "--weeks", "3", "--tz", zone,
        "--as-of", "2026-12-01",
    )  # fmt: skip
    by_week: dict[str, int] = {}
    for r in rows:
        year, week, _ = _dt(r.opened).astimezone(ZoneInfo(zone)).isocalendar()
        by_week[f"{year}-W{week:02d}"] = by_week.get(f"{year}-W{week:02d}", 0) + 1
    trend = {t["week"]: t["opened"] for t in report["trend"]}
    assert trend == {w: by_week.get(w, 0) for w in ("2026-W42", "2026-W43", "2026-W44")}
    assert report["figures"]["opened"] == by_week["2026-W44"] == 2
    assert report["period"]["start"] == _dt(monday).isoformat()


def test_trend_matches_weekly_figures_and_backlog(latte: Any, data: Any) -> None:
    rows, purchases = data
    as_of = epoch_of(AS_OF)
    report = run_json(latte, "weekly", "--week", "2026-W47", "--weeks", "4", "--as-of", AS_OF)
    assert [t["week"] for t in report["trend"]] == [f"2026-W{w}" for w in (44, 45, 46, 47)]
    for i, t in enumerate(report["trend"]):
        start = WEEK_START - (3 - i) * 7 * 86_400
        wanted = expected(rows, purchases, start, start + 7 * 86_400, as_of=as_of)
        assert t["opened"] == wanted["opened"]
        assert t["resolved"] == wanted["resolved"]
        assert t["open_backlog"] == wanted["open_backlog"]
        assert_same(t["resolution_time"], wanted["resolution_time"])
        assert_same(t["within_target"], wanted["within_target"])


def business_seconds(start: int, end: int) -> int:
    """Mon-Fri 09:00-17:00 Europe/Paris, minute by minute (times are whole minutes)."""
    zone = ZoneInfo("Europe/Paris")
    total = 0
    for minute in range(start, end, 60):
        local = _dt(minute).astimezone(zone)
        if local.weekday() < 5 and 9 <= local.hour < 17:
            total += 60
    return total


@pytest.mark.parametrize("rows_at_once", [None, 3])
def test_business_hours_clock(
    latte: Any, session: Session, monkeypatch: Any, rows_at_once: int | None
) -> None:
    """Also with the complaint rows streamed three at a time (`queries.streamed`)."""
    start = epoch_of("2026-10-19T00:00", "Europe/Paris")  # the DST week and the next
    rows, purchases = generate(11, start, start + 14 * 86_400, n=40)
    write(session, rows, purchases)
    if rows_at_once is not None:
        from latte_cli.reports import queries

        monkeypatch.setattr(queries, "ROWS_AT_ONCE", rows_at_once)
    monkeypatch.setenv("LATTE_HOURS", "Mon-Fri 09:00-17:00")
    report = run_json(
        latte, "weekly", "--week", "2026-W44", "--tz", "Europe/Paris", "--as-of", "2027-03-01"
    )
    assert report["clock"] == "business hours (Mon-Fri 09:00-17:00, Europe/Paris)"
    end = epoch_of("2026-11-02T00:00", "Europe/Paris")
    wanted = expected(
        rows,
        purchases,
        epoch_of("2026-10-26T00:00", "Europe/Paris"),
        end,
        as_of=epoch_of("2027-03-01T00:00", "Europe/Paris"),
        clock=business_seconds,
    )
    assert wanted["resolved"] > 5
    for key in ("time_to_acknowledge", "resolution_time", "within_target", "overdue"):
        assert_same(report["figures"][key], wanted[key])
    assert_same(report["figures"]["repurchase_by_speed"], wanted["repurchase_by_speed"])


def test_business_hours_close_on_holidays(latte: Any, session: Session, monkeypatch: Any) -> None:
    """The report's clock skips the `holidays` setting's dates, as the deadlines' does, and
    two groups of one day that overlap count their shared hours once."""
    start = epoch_of("2026-10-19T00:00", "Europe/Paris")
    rows, purchases = generate(13, start, start + 14 * 86_400, n=40)
    write(session, rows, purchases)
    holidays = {date(2026, 10, 27), date(2026, 10, 28)}

    def open_hours(a: int, b: int) -> int:
        zone = ZoneInfo("Europe/Paris")
        return sum(
            60 for minute in range(a, b, 60)
            if _dt(minute).astimezone(zone).date() not in holidays
            and _dt(minute).astimezone(zone).weekday() < 5
            and 9 <= _dt(minute).astimezone(zone).hour < 17
        )  # fmt: skip

    monkeypatch.setenv("LATTE_HOLIDAYS", "2026-10-27, 2026-10-28")
    # Overlapping groups: the same hours as "Mon-Fri 09:00-17:00".
    monkeypatch.setenv("LATTE_HOURS", "Mon-Fri 09:00-13:00; Mon-Fri 12:00-17:00")
    report = run_json(
        latte, "weekly", "--week", "2026-W44", "--tz", "Europe/Paris", "--as-of", "2027-03-01"
    )
    assert report["clock"].endswith("Europe/Paris, 2 holidays)")
    wanted = expected(
        rows,
        purchases,
        epoch_of("2026-10-26T00:00", "Europe/Paris"),
        epoch_of("2026-11-02T00:00", "Europe/Paris"),
        as_of=epoch_of("2027-03-01T00:00", "Europe/Paris"),
        clock=open_hours,
    )
    assert wanted["resolved"] > 5
    for key in ("time_to_acknowledge", "resolution_time", "within_target", "overdue"):
        assert_same(report["figures"][key], wanted[key])
    assert_same(report["figures"]["repurchase_by_speed"], wanted["repurchase_by_speed"])
    monkeypatch.delenv("LATTE_HOLIDAYS")
    without = run_json(
        latte, "weekly", "--week", "2026-W44", "--tz", "Europe/Paris", "--as-of", "2027-03-01"
    )
    assert without["figures"]["resolution_time"] != report["figures"]["resolution_time"]


def test_agents_report_one_row_per_agent(latte: Any, data: Any) -> None:
    rows, _ = data
    report = run_json(latte, "agents", "--week", "2026-W47", "--as-of", AS_OF)
    assert [g["group"] for g in report["groups"]] == sorted({r.agent for r in rows})
    result = latte.ok("report", "agents", "--week", "2026-W47", "--as-of", AS_OF)
    for agent in AGENTS:
        assert any(line.strip("│ ").startswith(agent) for line in result.stdout.splitlines())
    assert all(len(line) <= 80 for line in result.stdout.splitlines())


def test_formats_carry_the_same_figures(latte: Any, data: Any, tmp_path: Any) -> None:
    report = run_json(latte, "weekly", "--week", "2026-W47", "--as-of", AS_OF)
    out = tmp_path / "r.csv"
    latte.ok(
        "report", "weekly", "--week", "2026-W47", "--as-of", AS_OF, "-f", "csv", "-o", str(out)
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    value = next(
        r["value"] for r in rows
        if r["period"] == "2026-W47" and r["group"] == "" and r["figure"] == "resolution_time.n"
    )  # fmt: skip
    assert int(value) == report["figures"]["resolution_time"]["n"]
    md = latte.ok(
        "report", "weekly", "--week", "2026-W47", "--as-of", AS_OF, "-f", "markdown", "--explain"
    ).stdout
    assert "## Speed" in md and "| Figure | This | n | Previous | Change |" in md
    assert "## Definitions" in md
    page = latte.ok("report", "weekly", "--week", "2026-W47", "--as-of", AS_OF, "-f", "html").stdout
    assert page.count("<svg") == 2
    # self-contained: nothing to fetch (XML namespace names are not fetched)
    for fetch in ("<script", "<link", "src=", "url(http", "@import", 'href="http'):
        assert fetch not in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--week", "2026-47"], "--week '2026-47' is not an ISO week"),
        (["--week", "2026-W60"], "is not an ISO week"),
        (["--week", "2025-W53"], "2025 has 52 ISO weeks. Give a week 1-52"),
        (["--since", "0001-01-01", "--until", "9999-12-31"], "--since '0001-01-01' is outside"),
        (["--since", "2026-01-01", "--until", "9999-12-31"], "--until '9999-12-31' is outside"),
        (["--hours", "Mon-Fri 9-5"], "--hours"),
        (["--hours", "Mon-Fri 17:00-09:00"], "opening must be before"),
        (["--tz", "Mars/Base"], "is not a time zone"),
        (["--format", "pdf"], "--format 'pdf' is not one of"),
        (["--by", "colour"], "--by 'colour' is not one of"),
        (["--weeks", "0"], "--weeks '0'"),
        (["--since", "2026-11-10", "--until", "2026-11-01"], "--until must be after --since"),
        (["--since", "2026-11-10", "--as-of", "2026-11-01"], "--since '2026-11-10' is not before"),
        (["--week", "2026-W47", "--since", "2026-11-01"], "either --week or --since"),
        (["--as-of", "yesterday"], "--as-of 'yesterday' is not a date"),
        (["--target", "0"], "must be more than 0 and at most"),
        (["--repeat-days", "0"], "--repeat-days '0' must be a whole number of days from 1"),
        (["--repeat-days", "99999999999999999999"], "--repeat-days '99999999999999999999' must"),
    ],
)
def test_bad_options_are_one_line_errors(latte: Any, args: list[str], message: str) -> None:
    latte.ok("db", "upgrade")
    result = latte("report", "weekly", *args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=60))
def test_percentiles_are_inclusive_interpolation(values: list[int]) -> None:
    ordered = sorted(values)
    d = Dist.of(ordered)
    assert d.median == pytest.approx(statistics.median(values))
    assert d.p90 == pytest.approx(p90(values))
    assert percentile(ordered, 0, 1) == min(values)
    assert percentile(ordered, 1, 1) == max(values)


def test_zone_offsets_in_sql_match_zoneinfo() -> None:
    from latte_cli.reports.periods import offset_changes, week_of

    zone = ZoneInfo("America/New_York")
    start, end = epoch_of("2026-01-01T00:00"), epoch_of("2027-01-01T00:00")
    changes = offset_changes(zone, start, end)
    assert len(changes) == 3  # standard, summer, standard
    rnd = random.Random(3)
    for _ in range(500):
        moment = rnd.randrange(start, end)
        local = _dt(moment).astimezone(zone)
        offset = [o for since, o in changes if since <= moment][-1]
        assert offset == local.utcoffset().total_seconds()  # type: ignore[union-attr]
        year, week, _ = local.isocalendar()
        monday = datetime(1970, 1, 5) + timedelta(weeks=week_of(moment, zone))
        assert monday.isocalendar()[:2] == (year, week)
