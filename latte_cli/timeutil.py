"""Time helpers: everything is stored in UTC and shown in the user's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

from latte_cli.errors import InvalidValue


def utcnow() -> datetime:
    return datetime.now(UTC)


def epoch(moment: datetime) -> int:
    """Whole seconds since 1970-01-01 UTC: the cheap-to-group form reports use."""
    return int(moment.timestamp())


def as_utc(moment: datetime, assume: tzinfo | None = None) -> datetime:
    """An aware UTC datetime; a naive one is read in `assume` (default: the local zone)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=assume) if assume else moment.astimezone()
    return moment.astimezone(UTC)


def parse_when(text: str, *, what: str, assume: tzinfo | None = None) -> datetime:
    """Parse an ISO 8601 date or date-time given by a user; raise InvalidValue if it isn't one."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(
            f"{what} {text!r} is not a date. Use ISO 8601, for example 2026-11-23 or "
            "2026-11-23T14:30."
        ) from None
    try:
        return as_utc(moment, assume)
    except (ValueError, OverflowError):
        raise InvalidValue(
            f"{what} {text!r} is out of range. Give a real date, for example 2026-11-23."
        ) from None


# The earliest moment a user or an import may record (docs/architecture.md, "Batch import"):
# a year 1 or 1900 date is a placeholder, not history.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# `--allow-dates-from` goes no further back: the epoch columns are 32-bit on PostgreSQL.
EARLIEST_ALLOWED = datetime(1902, 1, 1, tzinfo=UTC)


def parse_moment(text: str, *, what: str, assume: tzinfo | None, now: datetime) -> datetime:
    """An `--at` moment: a date as `parse_when` reads it, from 1970-01-01 to a day after
    `now`; anything else is one InvalidValue naming the flag."""
    moment = parse_when(text, what=what, assume=assume)
    if moment < EARLIEST:
        raise InvalidValue(
            f"{what} {text!r} is before 1970-01-01: a placeholder, not a real date. "
            "Give the real date."
        )
    if moment > now + timedelta(days=1):
        raise in_the_future(moment, now, assume, what)
    return moment


def in_the_future(
    moment: datetime, now: datetime, zone: tzinfo | None, what: str = "--at"
) -> InvalidValue:
    """The refusal of a time in the future (`--at` on new, step, reopen and update, `--as-of`):
    one wording naming it and the current time in the user's zone, with their offsets (README,
    "Commands"), the current time to the minute."""
    current = now.replace(second=0, microsecond=0)
    return InvalidValue(
        f"{what} {shown(moment, zone)} is in the future (it is now {shown(current, zone)}). "
        "Give a past time."
    )


def local(moment: datetime, zone: tzinfo | None) -> datetime:
    return moment.astimezone(zone) if zone else moment.astimezone()


def shown(moment: datetime, zone: tzinfo | None) -> str:
    """A moment as an error names it: in the user's zone (`--tz`, LATTE_TZ, config `tz`), as
    `latte show` gives it, with its offset: "2026-11-23 14:30 +01:00" (seconds when any)."""
    at = local(moment, zone)
    offset = at.strftime("%z")
    clock = "%Y-%m-%d %H:%M:%S" if at.second else "%Y-%m-%d %H:%M"
    return f"{at.strftime(clock)} {offset[:3]}:{offset[3:5]}"


def format_duration(delta: timedelta | float | None) -> str:
    """A short human duration: 45s, 12m, 3h 05m, 2d 4h."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{sign}{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{sign}{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{sign}{days}d {hours}h"
