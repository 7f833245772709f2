"""Deadline policies (docs/metrics.md, "Deadlines"): parsing, business-time arithmetic against
a minute-by-minute count, due times fixed at opening, `list --due-within/--breached`, `next`,
and `latte db check`. Expected values come from plain Python over the stored opening times."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text

from latte_cli import config, deadlines
from latte_cli.deadlines import Deadlines, Span, Unit, parse_policy
from latte_cli.errors import InvalidValue
from latte_cli.reports.hours import BusinessClock, parse_schedule

from .conftest import Latte

LONDON = ZoneInfo("Europe/London")
HOLIDAYS = frozenset({date(2026, 3, 27), date(2026, 3, 30), date(2026, 12, 25)})
SCHEDULE = "Mon-Fri 09:00-17:00; Sat 10:00-12:30"
HOUR, DAY = 3600, 86_400


def _open_at(moment: datetime) -> bool:
    """Is the schedule open in the minute starting at `moment` (London wall clock)?"""
    local = moment.astimezone(LONDON)
    if local.date() in HOLIDAYS:
        return False
    minutes = local.hour * 60 + local.minute
    if local.weekday() < 5:
        return 9 * 60 <= minutes < 17 * 60
    return local.weekday() == 5 and 10 * 60 <= minutes < 12 * 60 + 30


def _added_by_counting(start: datetime, hours: int) -> datetime:
    """Walk minute by minute, counting open minutes, until `hours` of them have passed."""
    moment, left = start, hours * 60
    while True:
        if _open_at(moment):
            left -= 1
            if left == 0:
                return moment + timedelta(minutes=1)
        moment += timedelta(minutes=1)


def _close_by_counting(start: datetime, days: int) -> datetime:
    day = start.astimezone(LONDON).date()
    while days:
        day += timedelta(days=1)
        if day not in HOLIDAYS and day.weekday() < 6:
            days -= 1
    close = time(17) if day.weekday() < 5 else time(12, 30)
    return datetime.combine(day, close, tzinfo=LONDON)


def test_business_time_addition_matches_a_minute_by_minute_count() -> None:
    clock = BusinessClock(parse_schedule(SCHEDULE), LONDON, HOLIDAYS)
    rng = random.Random(13)
    # Around Easter 2026 (holidays on Good Friday and Easter Monday, the clocks change on
    # 29 March) and Christmas.
    starts = [
        datetime(2026, 3, 20, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 20 * 1440))
        for _ in range(12)
    ]
    starts += [datetime(2026, 12, 23, 16, 59, tzinfo=UTC), datetime(2026, 3, 28, 12, 0, tzinfo=UTC)]
    for start in starts:
        opened = int(start.timestamp())
        for hours in (1, 8, 20):
            expected = _added_by_counting(start.replace(second=0, microsecond=0), hours)
            assert clock.add(opened - start.second, hours * HOUR) == int(expected.timestamp())
        for days in (1, 3, 15):
            expected = _close_by_counting(start, days)
            assert clock.close_of_business_day(opened, days) == int(expected.timestamp())
    assert clock.add(12345, 0) == 12345


def test_a_schedule_closed_for_ever_is_refused_not_looped() -> None:
    every_day = frozenset(date(2026, 1, 1) + timedelta(days=n) for n in range(4 * 366))
    clock = BusinessClock(parse_schedule("Mon-Fri 09:00-17:00"), UTC, every_day)
    with pytest.raises(InvalidValue, match="no working hours"):
        clock.add(int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()), HOUR)


PRESETS = config.deadline_presets()


def test_presets_follow_the_rules_they_cite() -> None:
    assert list(PRESETS) == ["standard", "fca-disp", "fca-disp-payments", "cfpb"]
    clock = BusinessClock(parse_schedule("Mon-Fri 09:00-17:00"), LONDON, HOLIDAYS)
    opened_at = datetime(2026, 3, 26, 15, 0, tzinfo=LONDON)  # a Thursday, before Easter
    opened = int(opened_at.timestamp())

    def due(name: str) -> deadlines.Due:
        return Deadlines(PRESETS[name], clock).fixed_at_opening(
            severity="medium", category="billing", channel="phone", opened=opened
        )

    # Third business day after receipt: Fri 27 and Mon 30 are holidays, so Tue, Wed, Thu.
    third = int(datetime(2026, 4, 2, 17, 0, tzinfo=LONDON).timestamp())
    fca = due("fca-disp")
    assert (fca.first_response, fca.final_response) == (third, opened + 56 * DAY)
    assert fca.rule.startswith("fca-disp/default#")
    payments = due("fca-disp-payments")
    # 15 business days: 31 Mar .. 20 Apr skipping weekends (Good Friday, Easter Monday before).
    business_days = [
        d
        for d in (date(2026, 3, 26) + timedelta(days=n) for n in range(1, 40))
        if d.weekday() < 5 and d not in HOLIDAYS
    ]
    fifteenth = datetime.combine(business_days[14], time(17), tzinfo=LONDON)
    assert payments.final_response == int(fifteenth.timestamp())
    cfpb = due("cfpb")
    assert (cfpb.first_response, cfpb.final_response) == (opened + 15 * DAY, opened + 60 * DAY)
    standard = deadlines.STANDARD_DEADLINES.fixed_at_opening(
        severity="high", category="x", channel="email", opened=opened
    )
    assert (standard.first_response, standard.final_response) == (None, opened + 24 * HOUR)


POLICY: dict[str, Any] = {
    "name": "desk",
    "update_every_days": 3,
    "rule": [
        {"name": "urgent", "severity": ["high", "critical"], "final_response": "24h"},
        {
            "name": "billing",
            "category": "billing",
            "channel": ["phone", "email"],
            "first_response": "4h",
            "final_response": "72h",
            "update_every_days": 1,
        },
        {"name": "default", "first_response": "2d", "final_response": "10d"},
    ],
}


def test_the_first_matching_rule_wins_and_the_default_is_last() -> None:
    policy = parse_policy(POLICY, name="x", source="desk.toml", presets=PRESETS)
    assert policy.name == "desk"

    def rule(severity: str, category: str, channel: str) -> str:
        return policy.match(severity=severity, category=category, channel=channel).name

    assert rule("critical", "billing", "phone") == "urgent"
    assert rule("medium", "Billing", "email") == "billing"
    assert rule("medium", "billing", "letter") == "default"
    assert rule("low", "delivery", "phone") == "default"
    assert policy.rule("billing") is not None and policy.rule("billing").update_every_days == 1
    assert policy.rule("default") is not None and policy.rule("default").update_every_days == 3
    assert policy.rule("urgent").final_response == Span(24, Unit.HOURS)  # type: ignore[union-attr]


def test_a_policy_extends_a_preset_with_rules_before_it() -> None:
    data = {
        "extends": "fca-disp",
        "rule": [{"name": "vip", "severity": "critical", "final_response": "5bd"}],
    }
    policy = parse_policy(data, name="ours", source="ours.toml", presets=PRESETS)
    assert [r.name for r in policy.rules] == ["vip", "default"]
    assert policy.rules[1] == PRESETS["fca-disp"].rules[0]
    assert policy.name == "ours" and policy.business


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"rule": [{"name": "a", "final_response": "8 weeks"}]},
            r"rule 1 \(a\) final_response is '8 weeks', not a deadline\. Give it like",
        ),
        ({"rule": [{"name": "a"}]}, r"rule 1 \(a\) has no final_response\. Add one"),
        ({"rule": [{"final_response": "8w"}]}, r"rule 1 has no name"),
        (
            {"rule": [{"name": "a", "final_response": "8w", "priority": 1}]},
            r"rule 1 has the unknown key 'priority'",
        ),
        (
            {"rule": [{"name": "a", "severity": "high", "final_response": "8w"}]},
            r"has no default rule: its last rule \(a\) names a severity",
        ),
        (
            {
                "rule": [
                    {"name": "a", "final_response": "8w"},
                    {"name": "b", "channel": "phone", "final_response": "2d"},
                ]
            },
            r"rule 1 \(a\) matches every complaint, so the rules after it never apply",
        ),
        (
            {
                "rule": [
                    {"name": "a", "channel": "phone", "final_response": "8w"},
                    {"name": "a", "final_response": "1d"},
                ]
            },
            r"two rules named 'a'",
        ),
        ({"extends": "fca"}, r"extends 'fca', which is no preset\. Choose one of: standard"),
        (
            {"rule": [{"name": "a", "final_response": "8w", "update_every_days": 0}]},
            r"update_every_days = 0\. Give a whole number of days from 1",
        ),
        ({"rule": [{"name": "a", "final_response": "9999w"}]}, r"longer than two years"),
        ({}, r"has no rules"),
    ],
)
def test_a_bad_policy_names_the_rule_and_the_fix(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        parse_policy(data, name="p", source="p.toml", presets=PRESETS)


def test_countdowns_and_standing() -> None:
    now = 1_000_000
    assert deadlines.countdown(now + 2 * DAY + 4 * HOUR + 59, None, now) == "due in 2 d 4 h"
    assert deadlines.countdown(now - 3 * HOUR, None, now) == "breached 3 h ago"
    assert deadlines.countdown(now - 10, now - 2 * HOUR - 10, now) == "met, 2 h early"
    assert deadlines.countdown(now - DAY, now - 60, now) == "breached by 23 h 59 min"
    assert deadlines.standing(now, now, now) is deadlines.Standing.MET
    assert deadlines.standing(now, None, now) is deadlines.Standing.PENDING
    assert deadlines.standing(now - 1, None, now) is deadlines.Standing.BREACHED
    # Completed after T is not known at T.
    assert deadlines.standing(now + 5, now + 10, now) is deadlines.Standing.PENDING


def test_settings_read_presets_files_and_holidays(tmp_path: Path) -> None:
    assert config.check("deadlines", "cfpb").name == "cfpb"
    assert config.Settings.resolve(environ={}).deadlines.policy.name == "standard"
    policy = tmp_path / "desk.toml"
    policy.write_text(
        'extends = "cfpb"\n[[rule]]\nname = "x"\nchannel = "phone"\nfinal_response = "3bd"\n',
        encoding="utf-8",
    )
    assert [r.name for r in config.check("deadlines", str(policy)).rules] == ["x", "default"]
    policy.write_text('[[rule]]\nname = "x"\nfinal_response = "soon"\n', encoding="utf-8")
    with pytest.raises(InvalidValue, match=r"desk.toml rule 1 \(x\) final_response is 'soon'"):
        config.check("deadlines", str(policy))
    with pytest.raises(InvalidValue, match="neither a preset"):
        config.check("deadlines", "fca")
    days = tmp_path / "holidays.txt"
    days.write_text("# UK 2026\n2026-12-25\n2026-12-28  # boxing day, moved\n", encoding="utf-8")
    assert config.check("holidays", str(days)) == {date(2026, 12, 25), date(2026, 12, 28)}
    assert config.check("holidays", "2026-01-01, 2026-04-03") == {
        date(2026, 1, 1),
        date(2026, 4, 3),
    }
    with pytest.raises(InvalidValue, match="'2026-13-01', which is not a date"):
        config.check("holidays", "2026-12-25, 2026-13-01")


# Storage: both stores, through the commands -------------------------------------------------

DESK = """
name = "desk"
update_every_days = 3

[[rule]]
name = "urgent"
severity = ["high", "critical"]
final_response = "24h"

[[rule]]
name = "billing"
category = "billing"
first_response = "4h"
final_response = "72h"
update_every_days = 1

[[rule]]
name = "default"
first_response = "2d"
final_response = "10d"
"""
# What the file says, written again here: (severity, category) -> (first, final, update days).
SPANS = {
    "urgent": (None, 24 * HOUR, 3),
    "billing": (4 * HOUR, 72 * HOUR, 1),
    "default": (2 * DAY, 10 * DAY, 3),
}


def _rule_of(severity: str, category: str) -> str:
    if severity in ("high", "critical"):
        return "urgent"
    return "billing" if category == "billing" else "default"


def _use_policy(tmp_path: Path, body: str = DESK) -> None:
    path = tmp_path / "desk.toml"
    path.write_text(body, encoding="utf-8")
    cfg = tmp_path / "config" / "config.toml"
    cfg.parent.mkdir(exist_ok=True)
    cfg.write_text(f'deadlines = "{path}"\n', encoding="utf-8")


# (hours ago, severity, category, queued)
OPENINGS = [
    (30, "medium", "delivery", False),
    (70, "medium", "billing", False),
    (3, "medium", "billing", True),
    (20, "high", "product", True),
    (300, "low", "delivery", False),
    (1, "critical", "billing", False),
    (230, "medium", "service", False),
    (90, "medium", "delivery", True),
]


def _open_all(latte: Latte) -> list[int]:
    ids = []
    for hours, severity, category, queued in OPENINGS:
        at = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="seconds")
        extra = ["--queue"] if queued else []
        result = latte.ok(
            "new",
            "--channel",
            "phone",
            "--category",
            category,
            "--severity",
            severity,
            "--listen",
            f"{category} problem",
            "--at",
            at,
            *extra,
        )
        ids.append(int(result.stdout.strip()))
    return ids


def _rows(url: str) -> dict[int, dict[str, Any]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text(
                    "SELECT id, severity, category, opened_epoch, acknowledged_epoch, "
                    "first_resolved_epoch, stage_due, deadline_policy, first_response_due_epoch, "
                    "final_response_due_epoch, update_every_days, last_update_epoch FROM complaint"
                )
            )
            .mappings()
            .all()
        )
    engine.dispose()
    return {int(r["id"]): dict(r) for r in rows}


def test_due_times_are_fixed_at_opening_and_kept(latte: Latte, db_url: str, tmp_path: Path) -> None:
    _use_policy(tmp_path)
    ids = _open_all(latte)
    rows = _rows(db_url)
    for cid in ids:
        row = rows[cid]
        rule = _rule_of(row["severity"], row["category"])
        first, final, every = SPANS[rule]
        opened = row["opened_epoch"]
        assert row["deadline_policy"].partition("#")[0] == f"desk/{rule}"
        assert row["first_response_due_epoch"] == (None if first is None else opened + first)
        assert row["final_response_due_epoch"] == opened + final
        assert row["update_every_days"] == every
        assert row["last_update_epoch"] == opened
    check = json.loads(latte.ok("db", "check", "--json").stdout)
    assert check["clean"] and check["deadlines_recomputed"] == len(ids)
    # A later policy does not rewrite history; db check then checks consistency only.
    _use_policy(tmp_path, DESK.replace('"72h"', '"96h"'))
    assert _rows(db_url) == rows
    check = json.loads(latte.ok("db", "check", "--json").stdout)
    billing = sum(1 for r in rows.values() if _rule_of(r["severity"], r["category"]) == "billing")
    assert check["clean"] and check["deadlines_recomputed"] == len(ids) - billing
    # A due time changed behind latte's back is found.
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE complaint SET final_response_due_epoch = "
                "final_response_due_epoch + 60 WHERE id = :id"
            ),
            {"id": ids[0]},
        )
        conn.execute(
            text("UPDATE complaint SET first_response_due_epoch = opened_epoch - 1 WHERE id = :id"),
            {"id": ids[1]},
        )
    engine.dispose()
    result = latte("db", "check")
    assert result.exit_code == 1
    assert f"complaint {ids[0]}: stored deadlines" in result.stdout
    assert f"complaint {ids[1]}: first-response due before it was opened" in result.stdout


def test_list_due_within_breached_and_next(latte: Latte, db_url: str, tmp_path: Path) -> None:
    _use_policy(tmp_path)
    ids = _open_all(latte)
    latte.ok("step", str(ids[1]), "acknowledge", "--text", "Sorry")
    now = int(datetime.now(UTC).timestamp())
    rows = _rows(db_url)

    def listed(*args: str) -> list[int]:
        out = latte.ok("list", "--all", "--status", "open", "--limit", "100", "--json", *args)
        return sorted(r["id"] for r in json.loads(out.stdout))

    def pending_first(r: dict[str, Any]) -> bool:
        return r["acknowledged_epoch"] is None and r["first_response_due_epoch"] is not None

    horizon = now + 2 * DAY
    expected = sorted(
        cid
        for cid, r in rows.items()
        if now < r["final_response_due_epoch"] <= horizon
        or (pending_first(r) and now < r["first_response_due_epoch"] <= horizon)
    )
    assert expected and listed("--due-within", "2d") == expected

    def late(due: int | None, done: int | None) -> bool:
        # docs/metrics.md: completed after the due time, or not completed and past it.
        return due is not None and (done > due if done is not None else now > due)

    breached = sorted(
        cid
        for cid, r in rows.items()
        if late(r["final_response_due_epoch"], r["first_resolved_epoch"])
        or late(r["first_response_due_epoch"], r["acknowledged_epoch"])
    )
    assert breached and listed("--breached") == breached
    assert set(breached) != set(rows)  # the filter can fail
    # Update due: the interval has passed since the opening (no update sent yet).
    owing = sorted(
        cid for cid, r in rows.items() if r["opened_epoch"] + r["update_every_days"] * DAY <= now
    )
    assert owing and listed("--update-due") == owing
    bad = latte("list", "--due-within", "soon")
    assert bad.exit_code == 1 and "--due-within 'soon' is not a duration" in bad.stderr
    # `next` takes the queued complaint with the earliest final deadline, not the oldest.
    queued = [cid for cid, (_, _, _, q) in zip(ids, OPENINGS, strict=True) if q]
    order = sorted(queued, key=lambda c: rows[c]["final_response_due_epoch"])
    assert order[0] != min(queued, key=lambda c: rows[c]["opened_epoch"])
    claimed = [json.loads(latte.ok("next", "--json").stdout)["id"] for _ in queued]
    assert claimed == order


def test_show_counts_down_and_says_met_or_breached(latte: Latte, tmp_path: Path) -> None:
    _use_policy(tmp_path)
    # Half-way between whole hours: the countdowns are not at a boundary.
    at = (datetime.now(UTC) - timedelta(hours=5.5)).isoformat(timespec="seconds")
    cid = latte.ok(
        "new", "--channel", "phone", "--category", "billing", "--listen", "Twice", "--at", at
    ).stdout.strip()
    shown = latte.ok("show", cid).stdout
    assert "Deadlines (desk/billing):" in shown
    assert "First response: due" in shown
    assert "breached 1 h 29 min ago" in shown or "breached 1 h 30 min ago" in shown
    assert "Final response: due" in shown and "due in 2 d 18 h" in shown
    assert "Customer updates: every 1 d" in shown
    assert max(len(line) for line in shown.splitlines()) <= 80
    latte.ok("step", cid, "acknowledge", "--text", "Sorry about that")
    data = json.loads(latte.ok("show", cid, "--json").stdout)["deadlines"]
    assert data["rule"] == "desk/billing"
    assert data["first_response"]["status"] == "breached"
    assert data["first_response"]["countdown"].startswith("breached by 1 h")
    assert data["final_response"]["status"] == "pending"
    assert data["update_every_days"] == 1 and data["update_due"] is False


def test_import_fixes_deadlines_from_each_rows_opening(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    _use_policy(tmp_path)
    source = tmp_path / "old.csv"
    source.write_text(
        "id,opened_at,channel,category,severity,listen,acknowledged_at,updates\n"
        "T-1,2026-03-02T09:00:00Z,phone,billing,medium,Twice,2026-03-02T15:00:00Z,"
        "2026-03-03T10:00:00Z;2026-03-02T12:00:00Z\n"
        "T-2,2026-03-04T09:00:00Z,email,delivery,high,Late,,\n"
        "T-3,2026-03-05T09:00:00Z,email,delivery,low,Late,,2026-03-01T00:00:00Z\n",
        encoding="utf-8",
    )
    result = latte("import", "complaints", str(source), "--json")
    assert result.exit_code == 3  # T-3's update is before its opening
    assert "before opened_at" in json.dumps(json.loads(result.stdout))
    rows = {r["deadline_policy"].partition("#")[0]: r for r in _rows(db_url).values()}
    billing, urgent = rows["desk/billing"], rows["desk/urgent"]
    opened = int(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp())
    assert billing["first_response_due_epoch"] == opened + 4 * HOUR
    assert billing["final_response_due_epoch"] == opened + 72 * HOUR
    assert billing["last_update_epoch"] == int(datetime(2026, 3, 3, 10, tzinfo=UTC).timestamp())
    assert urgent["final_response_due_epoch"] == opened + 2 * DAY + 24 * HOUR
    shown = json.loads(latte.ok("show", str(billing["id"]), "--json").stdout)
    assert [u["at"][:16] for u in shown["updates"]] == ["2026-03-02T12:00", "2026-03-03T10:00"]
    assert json.loads(latte.ok("db", "check", "--json").stdout)["clean"]


def test_the_guided_flows_line_names_the_deadline_worked_to() -> None:
    from latte_cli.cli import render
    from latte_cli.models import Complaint
    from latte_cli.services.views import deadline_view

    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    opened = int((now - timedelta(days=4)).timestamp())
    complaint = Complaint(
        channel="phone", category="billing", opened_by="ana", opened_at=now, updated_at=now,
        opened_epoch=opened, stage_due="acknowledge", deadline_policy="desk/billing#0",
        first_response_due_epoch=opened + 5 * DAY, final_response_due_epoch=opened + 9 * DAY,
        update_every_days=3, last_update_epoch=opened,
    )  # fmt: skip
    line = render.deadline_line(deadline_view(complaint, now))
    assert line is not None
    assert line.plain == "Deadline: First response due in 1 d · update to the customer due"
    complaint.acknowledged_epoch = opened + DAY
    complaint.last_update_epoch = opened + 2 * DAY
    line = render.deadline_line(deadline_view(complaint, now))
    assert line is not None and line.plain == "Deadline: Final response due in 5 d"
    complaint.deadline_policy = complaint.final_response_due_epoch = None
    complaint.first_response_due_epoch = complaint.update_every_days = None
    assert render.deadline_line(deadline_view(complaint, now)) is None


def test_config_set_keeps_policy_and_holiday_files_absolute(
    latte: Latte, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "desk.toml").write_text(DESK, encoding="utf-8")
    (tmp_path / "days.txt").write_text("2026-12-25\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    latte.ok("config", "set", "deadlines", "desk.toml")
    latte.ok("config", "set", "holidays", "days.txt")
    shown = {r["key"]: r["value"] for r in json.loads(latte.ok("config", "show", "--json").stdout)}
    assert (shown["deadlines"], shown["holidays"]) == ("desk", "2026-12-25")
    written = (tmp_path / "config" / "config.toml").read_text(encoding="utf-8")
    assert f'deadlines = "{tmp_path / "desk.toml"}"' in written
    assert f'holidays = "{tmp_path / "days.txt"}"' in written
    latte.ok("config", "set", "deadlines", "FCA-DISP")
    bad = latte("config", "set", "deadlines", "fca")
    assert bad.exit_code == 1 and "neither a preset" in bad.stderr


def test_a_merged_duplicate_has_no_deadline(latte: Latte, tmp_path: Path) -> None:
    """A duplicate closed by `latte merge` shows no deadline and is in no deadline filter of
    `latte list` (README, `latte list`); its target keeps its own."""
    _use_policy(tmp_path)
    late = (datetime.now(UTC) - timedelta(hours=5.5)).isoformat(timespec="seconds")
    where = ("--customer", "C-1", "--channel", "phone", "--category", "billing", "--at", late)
    opened = [
        latte.ok("new", *where, "--listen", words).stdout.strip()
        for words in ("Charged twice", "Charged twice, again")
    ]
    target, duplicate = opened
    latte.ok("merge", duplicate, "--into", target, "--reason", "same charge")

    def listed(*args: str) -> list[str]:
        out = latte.ok("list", "--all", "--status", "all", "--json", *args).stdout
        return sorted(str(r["id"]) for r in json.loads(out))

    assert listed() == sorted(opened)  # the filters below can fail
    assert listed("--breached") == [target]
    assert listed("--due-within", "3d") == [target]
    assert json.loads(latte.ok("show", duplicate, "--json").stdout)["deadlines"] is None
    assert "Deadlines" not in latte.ok("show", duplicate).stdout
    assert json.loads(latte.ok("show", target, "--json").stdout)["deadlines"] is not None
