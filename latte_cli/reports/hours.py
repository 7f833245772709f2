"""Business hours: a weekly schedule such as "Mon-Fri 09:00-17:00", and the working seconds
between two moments in the report's zone (DST-aware: each day's window is a wall-clock time).

A clock may also be given holidays: closed all day, whatever the schedule says. The same clock
adds business time to an instant (`add`, `close_of_business_day`) for the deadlines of
`latte_cli/deadlines.py` (docs/metrics.md, "Deadlines"): one place for business-time arithmetic.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from latte_cli.errors import InvalidValue

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_GROUP = re.compile(r"^\s*([A-Za-z,\- ]+?)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_HINT = 'Give it like "Mon-Fri 09:00-17:00" (groups separated by ";", e.g. "...; Sat 10:00-14:00").'


@dataclass(frozen=True)
class Schedule:
    """Working windows per weekday (0 = Monday), as (open, close) seconds after midnight."""

    text: str
    windows: tuple[tuple[tuple[int, int], ...], ...]
    # Whether groups overlapping on one day were joined (`_union`): hours such a schedule's
    # deadlines counted twice before, so their rule reads as changed (`Deadlines.fingerprint`).
    joined: bool = False

    @property
    def weekly_seconds(self) -> int:
        return sum(close - open_ for day in self.windows for open_, close in day)


def _days(spec: str, text: str) -> list[int]:
    chosen: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        bounds = part.split("-")
        try:
            indexes = [DAYS.index(b[:3]) for b in bounds if b]
        except ValueError:
            indexes = []
        if len(indexes) != len(bounds) or not 1 <= len(indexes) <= 2:
            raise InvalidValue(f"has {part!r}, which is not a day or day range. {_HINT}")
        first, last = indexes[0], indexes[-1]
        if first <= last:
            chosen.extend(range(first, last + 1))
        else:  # a range over the weekend, e.g. Sat-Mon
            chosen.extend([*range(first, 7), *range(last + 1)])
    return chosen


def parse_schedule(text: str) -> Schedule:
    """Parse a schedule, or raise InvalidValue naming the part that is wrong.

    The message continues the schedule's name ("--hours 'Mon 9-5' has ..."): the settings in
    latte_cli/config.py say where the schedule came from.
    """
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    groups = [g for g in text.split(";") if g.strip()]
    if not groups:
        raise InvalidValue(f"is empty. {_HINT}")
    for group in groups:
        match = _GROUP.match(group)
        if not match:
            raise InvalidValue(f"has {group.strip()!r}, which cannot be read. {_HINT}")
        h1, m1, h2, m2 = (int(match[i]) for i in range(2, 6))
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
            raise InvalidValue(f"has {group.strip()!r}, which is not a valid time. {_HINT}")
        open_, close = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if not 0 <= open_ < close <= 86_400:
            raise InvalidValue(
                f"has {group.strip()!r}, where the opening must be before the closing. {_HINT}"
            )
        for day in _days(match[1], text):
            days[day].append((open_, close))
    windows = tuple(_union(d) for d in days)
    overlapped = any(
        sum(c - o for o, c in joined) < sum(c - o for o, c in set(day))
        for joined, day in zip(windows, days, strict=True)
    )
    return Schedule(text=text.strip(), windows=windows, joined=overlapped)


def _union(windows: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """A day's windows in order, those that overlap or touch joined into one: an hour two
    groups both name is worked once ("Mon 09:00-12:00; Mon 11:00-13:00" is Mon 09:00-13:00)."""
    joined: list[tuple[int, int]] = []
    for open_, close in sorted(windows):
        if joined and open_ <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], close))
        else:
            joined.append((open_, close))
    return tuple(joined)


# Business days used when no `hours` schedule is set: a deadline in business days still means
# something (docs/metrics.md, "Deadlines").
DEFAULT_BUSINESS_HOURS = "Mon-Fri 09:00-17:00"
# How far `add` looks for working time before it gives up (a schedule of holidays only).
_MAX_DAYS_AHEAD = 3 * 366


class BusinessClock:
    """Working seconds between two epochs under a schedule, in a zone, closed on holidays."""

    def __init__(
        self, schedule: Schedule, zone: ZoneInfo, holidays: frozenset[date] = frozenset()
    ) -> None:
        self.schedule = schedule
        self.zone = zone
        self.holidays = holidays
        self._windows = lru_cache(maxsize=8192)(self._day_windows)
        self._table: _Windows | None = None

    def _day_windows(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        day = date.fromordinal(ordinal)
        if day in self.holidays:
            return ()
        result = []
        for open_, close in self.schedule.windows[day.weekday()]:
            start = datetime.combine(day, time(0), tzinfo=self.zone) + timedelta(seconds=open_)
            stop = datetime.combine(day, time(0), tzinfo=self.zone) + timedelta(seconds=close)
            result.append((int(start.timestamp()), int(stop.timestamp())))
        return tuple(result)

    def _ordinal(self, moment: int) -> int:
        return datetime.fromtimestamp(moment, UTC).astimezone(self.zone).toordinal()

    def seconds(self, start: int, end: int) -> int:
        """Working seconds in [start, end); 0 if end <= start."""
        if end <= start:
            return 0
        table = self._covering(start, end)
        if table.disjoint:
            return table.upto(end) - table.upto(start)
        return self._seconds_day_by_day(start, end)

    def seconds_of(self, starts: Any, ends: Any) -> Any:
        """`seconds` of each pair of two integer arrays, as an int64 array: the same two
        binary searches, in numpy (a long report's complaints at once; docs/architecture.md,
        "Reports over long periods"), or the loop over the days where windows overlap."""
        import numpy as np

        starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
        found = np.zeros(len(starts), np.int64)
        counted = ends > starts
        if not counted.any():
            return found
        starts, ends = starts[counted], ends[counted]
        table = self._covering(int(starts.min()), int(ends.max()))
        if table.disjoint:
            found[counted] = table.upto_of(ends) - table.upto_of(starts)
        else:
            pairs = zip(starts.tolist(), ends.tolist(), strict=True)
            found[counted] = [self._seconds_day_by_day(a, b) for a, b in pairs]
        return found

    def _covering(self, start: int, end: int) -> _Windows:
        """The table of windows in use if it covers [start, end], else a wider one."""
        table = self._table
        if table is None or not (table.low <= start and end < table.high):
            table = self._table = self._cover(start, end)
        return table

    def _cover(self, start: int, end: int) -> _Windows:
        """The windows of a span of days around [start, end] and the ones already covered,
        with room for more: a report's complaints arrive in time order, a span at a time."""
        first, last = self._ordinal(start), self._ordinal(end)
        if self._table is not None:
            first, last = min(first, self._table.first), max(last, self._table.last)
        room = max(31, (last - first) // 2)
        first, last = first - room, last + room
        windows = [w for ordinal in range(first, last + 1) for w in self._windows(ordinal)]
        return _Windows(first, last, windows, self._midnight(first + 1), self._midnight(last))

    def _midnight(self, ordinal: int) -> int:
        return int(
            datetime.combine(date.fromordinal(ordinal), time(0), tzinfo=self.zone).timestamp()
        )

    def _seconds_day_by_day(self, start: int, end: int) -> int:
        total = 0
        first, last = self._ordinal(start), self._ordinal(end)
        for ordinal in range(first, last + 1):
            for open_, close in self._windows(ordinal):
                low, high = max(open_, start), min(close, end)
                if high > low:
                    total += high - low
        return total

    def add(self, start: int, seconds: int) -> int:
        """The instant `seconds` working seconds after `start` (closed hours and holidays
        skipped); `start` itself when `seconds` is 0."""
        if seconds <= 0:
            return start
        left = seconds
        first = self._ordinal(start)
        for ordinal in range(first, first + _MAX_DAYS_AHEAD):
            for open_, close in self._windows(ordinal):
                low = max(open_, start)
                if close > low:
                    if left <= close - low:
                        return low + left
                    left -= close - low
        raise InvalidValue(
            f"has no working hours in {_MAX_DAYS_AHEAD} days. Check the hours and holidays."
        )

    def close_of_business_day(self, start: int, days: int) -> int:
        """The close of the `days`-th business day after the day `start` falls on (the day of
        receipt does not count): a business day has working hours and is no holiday."""
        counted = 0
        first = self._ordinal(start)
        for ordinal in range(first + 1, first + 1 + _MAX_DAYS_AHEAD):
            windows = self._windows(ordinal)
            if windows:
                counted += 1
                if counted >= days:
                    return max(close for _, close in windows)
        raise InvalidValue(
            f"has no business day in {_MAX_DAYS_AHEAD} days. Check the hours and holidays."
        )


class _Windows:
    """The working windows of the days `first`..`last` in time order, with the working
    seconds before each, so that the working seconds in [a, b) are `upto(b) - upto(a)` (two
    binary searches, not a loop over the days between) for a and b in [low, high): a day
    inside the span at each end, so that every window of the days outside it closes before
    `low` or opens after `high`, whatever the zone's offsets. A day's windows never overlap
    (`parse_schedule` joins them); should two days' windows overlap around a clock change,
    the loop over the days counts them (`disjoint` False)."""

    def __init__(
        self, first: int, last: int, windows: list[tuple[int, int]], low: int, high: int
    ) -> None:
        self.first, self.last, self.low, self.high = first, last, low, high
        self.opens = [open_ for open_, _ in windows]
        self.lengths = [close - open_ for open_, close in windows]
        self.before = list(accumulate(self.lengths, initial=0))
        self.disjoint = all(windows[i][1] <= windows[i + 1][0] for i in range(len(windows) - 1))

    def upto(self, moment: int) -> int:
        """Working seconds of the windows before `moment`, from the span's first window."""
        i = bisect_right(self.opens, moment)
        if not i:
            return 0
        return self.before[i - 1] + min(moment - self.opens[i - 1], self.lengths[i - 1])

    def upto_of(self, moments: Any) -> Any:
        """`upto` of each moment of an int64 array."""
        import numpy as np

        if not self.opens:
            return np.zeros(len(moments), np.int64)
        opens = np.asarray(self.opens, np.int64)
        i = np.searchsorted(opens, moments, "right") - 1
        inside = np.minimum(moments - opens[i], np.asarray(self.lengths, np.int64)[i])
        return np.where(i < 0, 0, np.asarray(self.before, np.int64)[i] + inside)
