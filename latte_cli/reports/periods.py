"""Report periods and ISO weeks in a time zone, as integer epochs the database can group on.

Weeks are ISO weeks (Monday 00:00 to Monday 00:00) in the report's zone, DST included. In SQL a
week is `(epoch + offset(epoch) - MONDAY) // WEEK`, where `offset` is a CASE over the zone's
UTC-offset changes in the range (found here with zoneinfo), so no timestamp is parsed per row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, literal

from latte_cli.errors import InvalidValue

DAY = 86_400
WEEK = 7 * DAY
# 1970-01-05 was a Monday: week numbers count whole weeks from it.
MONDAY = 4 * DAY
MAX_WEEKS = 1_000
# The years a report's dates may fall in: a period and the one before it, of the same
# length, stay among the dates Python and the stores can hold.
FIRST_YEAR, LAST_YEAR = 1900, 2200


@dataclass(frozen=True)
class Period:
    """A half-open span of time [start, end) in epoch seconds, with a label for people."""

    start: int
    end: int
    label: str

    def contains(self, moment: int) -> bool:
        return self.start <= moment < self.end


def _offset(zone: ZoneInfo, moment: int) -> int:
    delta = datetime.fromtimestamp(moment, UTC).astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta else 0


def offset_changes(zone: ZoneInfo, start: int, end: int) -> list[tuple[int, int]]:
    """[(from_epoch, offset_seconds), ...] covering [start, end): the first from_epoch is start."""
    changes = [(start, _offset(zone, start))]
    step = 6 * 3600
    probe = start
    while probe < end:
        following = min(probe + step, end)
        if _offset(zone, following) != changes[-1][1]:
            low, high = probe, following  # the change happens in (low, high]
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == changes[-1][1]:
                    low = middle
                else:
                    high = middle
            changes.append((high, _offset(zone, high)))
        probe = following
    return changes


def local_epoch(column: Any, zone: ZoneInfo, start: int, end: int) -> ColumnElement[int]:
    """SQL: the epoch column shifted to wall-clock seconds in `zone` (valid over [start, end))."""
    changes = offset_changes(zone, start, end)
    if len(changes) == 1:
        offset = changes[0][1]
        return column + offset if offset else column  # type: ignore[no-any-return]
    whens = [(column < until, offset) for (_, offset), (until, _) in pairwise(changes)]
    return column + case(*whens, else_=changes[-1][1])  # type: ignore[no-any-return]


def week_of(moment: int, zone: ZoneInfo) -> int:
    """The week number (see MONDAY) of an epoch, in the zone."""
    return (moment + _offset(zone, moment) - MONDAY) // WEEK


def week_monday(week: int) -> date:
    return date(1970, 1, 5) + timedelta(weeks=week)


def local_midnight(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=zone).timestamp())


def week_period(week: int, zone: ZoneInfo) -> Period:
    monday = week_monday(week)
    year, number, _ = monday.isocalendar()
    return Period(
        start=local_midnight(monday, zone),
        end=local_midnight(monday + timedelta(weeks=1), zone),
        label=f"{year}-W{number:02d}",
    )


_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


def parse_week(text: str) -> int:
    """`2026-W47` as a week number, or InvalidValue."""
    match = _WEEK.match(text)
    monday = None
    if match:
        try:
            monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
        except ValueError:
            monday = None
    if monday is None and match and 1 <= int(match[2]) <= 53:
        last = date(int(match[1]), 12, 28).isocalendar().week  # the 28th is in the last week
        raise InvalidValue(
            f"--week {text!r}: {match[1]} has {last} ISO weeks. Give a week 1-{last}, or "
            f"the next year's first (like {int(match[1]) + 1}-W01)."
        )
    if monday is None:
        raise InvalidValue(
            f"--week {text!r} is not an ISO week. Give it like 2026-W47 (year, W, week 1-53)."
        )
    return (monday - date(1970, 1, 5)).days // 7


def _parse_moment(text: str, what: str, zone: ZoneInfo, *, end_of_day: bool) -> int:
    value = text.strip()
    try:
        given = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise InvalidValue(
            f"{what} {text!r} is not a date. Use ISO 8601, for example 2026-11-23 or "
            "2026-11-23T14:30."
        ) from None
    if not FIRST_YEAR <= given.year < LAST_YEAR:
        raise InvalidValue(
            f"{what} {text!r} is outside the dates reports cover. Give a date from "
            f"{FIRST_YEAR}-01-01 to {LAST_YEAR - 1}-12-31."
        )
    if not isinstance(given, datetime):
        return local_midnight(given + timedelta(days=1) if end_of_day else given, zone)
    moment = given if given.tzinfo is not None else given.replace(tzinfo=zone)
    return int(moment.timestamp())


def parse_as_of(text: str | None, zone: ZoneInfo, now: int) -> int:
    if not text:
        return now
    return _parse_moment(text, "--as-of", zone, end_of_day=False)


@dataclass(frozen=True)
class EmptyPeriod:
    """The report's period (the default last full week, or a --week or --since/--until asked
    for) has no complaint opened or first resolved in it.

    `latest` is the latest week with a complaint opened by the as-of time, for the report to
    point at (docs/metrics.md "Times and periods"); None when no complaint was opened by then.
    """

    latest: Period | None


@dataclass(frozen=True)
class Span:
    """The period a report is about, the one before it (for the change), and the trend weeks."""

    current: Period
    previous: Period
    trend_weeks: tuple[int, ...]
    kind: str  # "week" or "range"


def choose_span(
    *,
    zone: ZoneInfo,
    as_of: int,
    week: str | None = None,
    since: str | None = None,
    until: str | None = None,
    weeks: int = 8,
    first_week: int | None = None,
) -> Span:
    """The report's period: `--week`, or `--since`/`--until`, else the last full week before as-of.

    A date-only `--until` includes that whole day. `weeks` is the trend's length ending with the
    period's last week; 0 means all weeks since `first_week` (the oldest complaint's week).
    """
    if week and (since or until):
        raise InvalidValue("Give either --week or --since/--until, not both.")
    if until and not since:
        raise InvalidValue("--until needs --since too, e.g. --since 2026-11-01 --until 2026-11-30.")
    if weeks < 0 or weeks > MAX_WEEKS:
        raise InvalidValue(f"--weeks must be between 1 and {MAX_WEEKS}, or 'all'; not {weeks}.")
    if since:
        start = _parse_moment(since, "--since", zone, end_of_day=False)
        end = _parse_moment(until, "--until", zone, end_of_day=True) if until else as_of + 1
        if end <= start and until is None:
            raise InvalidValue(
                f"--since {since!r} is not before --as-of ({format_moment(as_of, zone)}), "
                "where the period ends without --until. Give an earlier --since, or --until."
            )
        if end <= start:
            raise InvalidValue("--until must be after --since. Swap them or widen the range.")
        label = f"{_day(start, zone)}..{_day(end - 1, zone)}"
        current = Period(start, end, label)
        length = end - start
        previous = Period(
            start - length,
            start,
            f"{_day(start - length, zone)}..{_day(start - 1, zone)}",
        )
        last_week = week_of(end - 1, zone)
        kind = "range"
    else:
        number = parse_week(week) if week else week_of(as_of, zone) - 1
        current = week_period(number, zone)
        previous = week_period(number - 1, zone)
        last_week = number
        kind = "week"
    if weeks == 0:
        first = min(first_week if first_week is not None else last_week, last_week)
        first = max(first, last_week - MAX_WEEKS + 1)
    else:
        first = last_week - weeks + 1
    return Span(current, previous, tuple(range(first, last_week + 1)), kind)


def _day(moment: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(moment, UTC).astimezone(zone).date().isoformat()


def format_moment(moment: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(moment, UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def period_index(column: Any, periods: list[Period]) -> ColumnElement[int]:
    """SQL: which of `periods` (non-overlapping) an epoch column falls in, or NULL."""
    return case(
        *[((column >= p.start) & (column < p.end), literal(i)) for i, p in enumerate(periods)],
        else_=None,
    )
