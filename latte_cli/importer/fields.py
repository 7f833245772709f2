"""Cheap per-field parsing for imports, and matching a file's columns to latte's fields.

Each parser takes the cell's text and returns the value or raises `Bad` with a reason that
names the fix. They are hand-written on purpose: a million rows leave no room for a general
validation library's per-row cost (a few microseconds a field is the budget).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from latte_cli.errors import InvalidValue


class Bad(Exception):
    """A cell that cannot be used: `column` is the source column, `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def normalise(name: str) -> str:
    """A column name compared loosely: `Opened At`, `opened-at` and `OPENED_AT` are equal."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lstrip("\ufeff").lower()).strip("_")


@dataclass(frozen=True)
class Columns:
    """Which source column feeds which field, and which columns are not used."""

    by_field: dict[str, str]
    unknown: list[str]
    ignored: list[str]


def match_columns(
    columns: Iterable[str],
    aliases: Mapping[str, tuple[str, ...]],
    *,
    required: Iterable[str],
    mapping: Mapping[str, str],
    ignored: Iterable[str] = (),
) -> Columns:
    """Match columns by name and alias, after `mapping` (SOURCE -> FIELD) from `--map`.

    Raises InvalidValue when a mapping names an unknown field or column, or when a required
    field has no column: every row would be rejected, so the file is refused instead.
    """
    columns = list(columns)
    by_alias = {normalise(alias): f for f, names in aliases.items() for alias in (f, *names)}
    by_field: dict[str, str] = {}
    used: set[str] = set()
    for source, target in mapping.items():
        if target not in aliases:
            raise InvalidValue(
                f"--map {source}={target}: {target!r} is not a field. Fields: {', '.join(aliases)}."
            )
        match = next((c for c in columns if c == source), None) or next(
            (c for c in columns if normalise(c) == normalise(source)), None
        )
        if match is None:
            raise InvalidValue(
                f"--map {source}={target}: the file has no column {source!r}. Columns: "
                f"{', '.join(columns)}."
            )
        by_field[target] = match
        used.add(match)
    skip = {normalise(name) for name in ignored}
    unknown, ignored_found = [], []
    for column in columns:
        if column in used:
            continue
        key = normalise(column)
        found = by_alias.get(key)
        if found is not None and found not in by_field:
            by_field[found] = column
        elif key in skip or key.startswith("reject_"):
            ignored_found.append(column)
        else:
            unknown.append(column)
    missing = [name for name in required if name not in by_field]
    if missing:
        wanted = "; ".join(f"{m} (or {', '.join(aliases[m][:4]) or m})" for m in missing)
        raise InvalidValue(f"The file has no column for {wanted}. Map one with --map COLUMN=FIELD.")
    return Columns(by_field, unknown, ignored_found)


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise InvalidValue(
                f"--map {item!r} is not SOURCE=FIELD, e.g. --map Ticket=external_id."
            )
        mapping[source.strip()] = normalise(target)
    return mapping


# Cells --------------------------------------------------------------------------------------


def text(value: str, field: str, *, limit: int, required: bool = False) -> str | None:
    value = value.strip()
    if not value:
        if required:
            raise Bad(field, "is empty")
        return None
    if len(value) > limit:
        raise Bad(field, f"is {len(value)} characters long; the limit is {limit}")
    return value


def choice(value: str, field: str) -> str:
    """`value` (a value or an alias) in the vocabulary `field` (docs/architecture.md)."""
    from latte_cli import vocabulary

    try:
        return vocabulary.parse(field, value)
    except InvalidValue as error:
        raise Bad(field, error.message) from None


_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "n", "f"})


def boolean(value: str, field: str) -> bool | None:
    key = value.strip().lower()
    if not key:
        return None
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise Bad(field, f"{value!r} is not yes/no (or true/false, 1/0)")


def integer(value: str, field: str, low: int, high: int) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value) if "." in value else int(value)
    except ValueError:
        raise Bad(field, f"{value!r} is not a whole number") from None
    if number != int(number) or not low <= number <= high:
        raise Bad(field, f"{value!r} is not a whole number from {low} to {high}")
    return int(number)


_AMOUNT = re.compile(r"^(\d+)(?:\.(\d{1,2}))?$")


def cents(value: str, field: str) -> int | None:
    """Money as whole cents: 12, 12.5, 12.50; a thousands separator or sign is refused."""
    value = value.strip()
    if not value:
        return None
    match = _AMOUNT.match(value)
    if match is None:
        raise Bad(field, f"{value!r} is not an amount like 12.50 (zero or more, two decimals)")
    whole, frac = match.groups()
    return int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)


class TimeParser:
    """Dates and times: ISO 8601, else the `--date-format` patterns in turn. A time without a
    zone is read in `zone` (None: the local zone). Returns an aware UTC datetime."""

    def __init__(
        self,
        formats: Iterable[str] = (),
        zone: tzinfo | None = None,
        *,
        now: datetime | None = None,
    ) -> None:
        self.formats = tuple(formats)
        self.zone = zone
        self.latest = now

    def __call__(self, value: str, field: str) -> datetime | None:
        value = value.strip()
        if not value:
            return None
        moment = None
        for pattern in self.formats:
            try:
                moment = datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
        if moment is None:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                hint = f" or {' / '.join(self.formats)}" if self.formats else ""
                raise Bad(
                    field,
                    f"{value!r} is not a date (ISO 8601 like 2026-11-23T14:30{hint}; "
                    "pass --date-format for other layouts)",
                ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone) if self.zone else moment.astimezone()
        moment = moment.astimezone(UTC)
        if self.latest is not None and moment > self.latest:
            raise Bad(field, f"{value!r} is in the future")
        return moment
