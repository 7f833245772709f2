"""The business-hours clock's working seconds (docs/metrics.md, "Clocks: calendar and
business hours"): the two binary searches over a span of windows (`hours._Windows`) give
exactly what the loop over the days between the two moments gives, for schedules with
several groups a day (overlapping ones included), closings at 24:00, holidays, and zones
with daylight saving time (Lord Howe's moves by half an hour), in any order of moments."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from latte_cli.reports.hours import BusinessClock, parse_schedule

SCHEDULES = [
    "Mon-Fri 09:00-17:00",
    "Mon-Fri 09:00-12:30; Mon-Fri 13:30-17:00; Sat 10:00-14:00",
    "Mon-Sun 00:00-24:00",
    "Fri-Mon 22:00-24:00; Tue 00:00-06:00",
    "Mon 09:00-12:00; Mon 11:00-13:00; Wed 08:00-18:00",  # overlapping groups
]
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe"]
START = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
SPAN = 3 * 366 * 86_400


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("zone", ZONES)
def test_working_seconds_equal_the_day_by_day_loop(schedule: str, zone: str) -> None:
    rnd = random.Random(f"{schedule} {zone}")
    holidays = frozenset(date(2024, 1, 1) + timedelta(days=rnd.randrange(1100)) for _ in range(30))
    clock = BusinessClock(parse_schedule(schedule), ZoneInfo(zone), holidays)
    day_by_day = BusinessClock(parse_schedule(schedule), ZoneInfo(zone), holidays)
    moments = [START + rnd.randrange(SPAN) for _ in range(300)]
    # Around the daylight-saving changes of 2025 too, to the second.
    moments += [int(datetime(2025, m, d, tzinfo=UTC).timestamp()) + rnd.randrange(-7200, 7200)
                for m, d in ((3, 30), (3, 9), (4, 6), (10, 5), (10, 26), (11, 2))]  # fmt: skip
    pairs = [(a, a + rnd.choice([0, 1, 59, 3600, 86_400, 400_000, 10**7])) for a in moments]
    pairs += [(b, a) for a, b in pairs[:20]]  # end before start: 0
    rnd.shuffle(pairs)
    for a, b in pairs:
        wanted = day_by_day._seconds_day_by_day(a, b) if b > a else 0
        assert clock.seconds(a, b) == wanted, (a, b)
    assert any(clock.seconds(a, b) for a, b in pairs)
    # The same pairs at once, as a report over a long period computes them (`seconds_of`),
    # on a fresh clock and on the one whose table the loop above grew.
    starts, ends = (np.array(side, np.int64) for side in zip(*pairs, strict=True))
    wanted_all = [day_by_day._seconds_day_by_day(a, b) if b > a else 0 for a, b in pairs]
    fresh = BusinessClock(parse_schedule(schedule), ZoneInfo(zone), holidays)
    assert fresh.seconds_of(starts, ends).tolist() == wanted_all
    assert clock.seconds_of(starts, ends).tolist() == wanted_all
    assert fresh.seconds_of(starts[:0], ends[:0]).tolist() == []


def test_working_seconds_of_a_span_without_working_hours() -> None:
    """Holidays over the whole span: no window at all, every pair 0."""
    holidays = frozenset(date(2024, 1, 1) + timedelta(days=d) for d in range(-60, 120))
    clock = BusinessClock(parse_schedule("Mon-Fri 09:00-17:00"), ZoneInfo("UTC"), holidays)
    starts = np.array([START, START + 86_400], np.int64)
    assert clock.seconds_of(starts, starts + 3 * 86_400).tolist() == [0, 0]


def test_groups_that_overlap_or_touch_are_one_stretch_of_hours() -> None:
    """An hour two groups of a day both name is worked once (docs/metrics.md, "Clocks")."""
    split = parse_schedule("Mon 09:00-12:00; Mon 11:00-13:00; Mon 13:00-14:00; Tue 08:00-09:00")
    assert split.windows[0] == ((9 * 3600, 14 * 3600),)
    assert split.windows[1] == ((8 * 3600, 9 * 3600),)
    assert split.weekly_seconds == 6 * 3600
    whole = parse_schedule("Mon 09:00-14:00; Tue 08:00-09:00")
    zone = ZoneInfo("Europe/Paris")
    monday = int(datetime(2026, 11, 2, tzinfo=zone).timestamp())
    for clock in (BusinessClock(split, zone), BusinessClock(whole, zone)):
        assert clock.seconds(monday, monday + 7 * 86_400) == 6 * 3600
        assert clock.add(monday, 5 * 3600) == monday + 14 * 3600
    # Identical groups were always counted once; only a real overlap changes a deadline's rule.
    assert split.joined and not whole.joined
    assert not parse_schedule("Mon 09:00-12:00; Mon 09:00-12:00").joined
