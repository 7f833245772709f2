"""The SLA target in calendar hours: how long until it, how far past it, and `list --overdue`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from latte_cli import workflow
from latte_cli.services.complaints import NewComplaint, open_complaint
from latte_cli.services.views import ListFilter, list_complaints

OPENED = datetime(2026, 1, 5, 9, tzinfo=UTC)  # a Monday


def test_before_the_target_time_is_left_and_nothing_is_overdue() -> None:
    now = OPENED + timedelta(hours=20)
    assert workflow.sla_due(OPENED, 24) == OPENED + timedelta(hours=24)
    assert workflow.sla_left(OPENED, now, 24) == timedelta(hours=4)
    assert workflow.overdue_by(OPENED, now, 24) is None


def test_at_the_target_nothing_is_left_and_nothing_is_overdue_yet() -> None:
    now = OPENED + timedelta(hours=24)
    assert workflow.sla_left(OPENED, now, 24) == timedelta(0)
    assert workflow.overdue_by(OPENED, now, 24) is None
    assert workflow.overdue_by(OPENED, now + timedelta(seconds=1), 24) == timedelta(seconds=1)


def test_past_the_target_the_complaint_is_overdue_by_the_difference() -> None:
    now = OPENED + timedelta(hours=30, minutes=15)
    assert workflow.sla_left(OPENED, now, 24) == -timedelta(hours=6, minutes=15)
    assert workflow.overdue_by(OPENED, now, 24) == timedelta(hours=6, minutes=15)
    assert workflow.overdue_by(OPENED, now, 1.5) == timedelta(hours=28, minutes=45)


def test_nights_and_weekends_count_like_any_hour() -> None:
    friday_evening = datetime(2026, 1, 9, 17, tzinfo=UTC)
    monday_morning = datetime(2026, 1, 12, 9, tzinfo=UTC)  # 64 hours later
    assert workflow.overdue_by(friday_evening, monday_morning, 24) == timedelta(hours=40)
    assert workflow.sla_due(friday_evening, 48) == datetime(2026, 1, 11, 17, tzinfo=UTC)


def test_hours_are_elapsed_hours_across_a_daylight_saving_change() -> None:
    lisbon = ZoneInfo("Europe/Lisbon")
    # Clocks go forward at 01:00 on 29 March 2026: 00:30 to 12:30 the same day is 11 hours.
    opened = datetime(2026, 3, 29, 0, 30, tzinfo=lisbon)
    now = datetime(2026, 3, 29, 12, 30, tzinfo=lisbon)
    assert workflow.sla_left(opened, now, 12) == timedelta(hours=1)
    assert workflow.sla_due(opened, 12) == datetime(2026, 3, 29, 12, 30, tzinfo=UTC)
    assert workflow.overdue_by(opened, now + timedelta(hours=3), 12) == timedelta(hours=2)


def test_list_overdue_holds_exactly_the_rows_shown_late(session: Session) -> None:
    now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    ages = [timedelta(hours=h) for h in (1, 23, 24)] + [
        timedelta(hours=24, seconds=1),
        timedelta(hours=25),
        timedelta(days=3),
    ]
    for age in ages:
        new = NewComplaint(channel="phone", category="delivery", listen="Late")
        open_complaint(session, new=new, agent="ana", at=now - age)

    everything = list_complaints(session, ListFilter(sla_hours=24), now=now)
    overdue = list_complaints(session, ListFilter(overdue=True, sla_hours=24), now=now)

    late = {row.id: row.overdue_by(24, now) for row in everything}
    assert [row.id for row in overdue] == [i for i, by in late.items() if by is not None]
    # Oldest first: 3 days, 25 h and 24 h + 1 s are past the target; 24 h exactly is not.
    assert [late[row.id] for row in overdue] == [
        timedelta(days=2),
        timedelta(hours=1),
        timedelta(seconds=1),
    ]
