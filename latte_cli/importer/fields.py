"""Cheap per-field parsing for imports, and matching a file's columns to latte's fields.

Each parser takes the cell's text and returns the value or raises `Bad` with a reason that
names the fix. They are hand-written on purpose: a million rows leave no room for a general
validation library's per-row cost (a few microseconds a field is the budget).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from latte_cli.errors import InvalidValue
from latte_cli.timeutil import EARLIEST
from latte_cli.workflow import MAX_CENTS


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
    required: Iterable[str | tuple[str, ...]],
    mapping: Iterable[tuple[str, str]],
    ignored: Iterable[str] = (),
    constants: Iterable[str] = (),
    optional: Iterable[tuple[str, str]] = (),
) -> Columns:
    """Match columns by name and alias, after `mapping` ((SOURCE, FIELD) pairs from `--map`;
    one source may feed several fields), then `optional` (a profile's pairs: skipped where
    the file has no such column or a flag maps the field).

    Raises InvalidValue when a mapping names an unknown field or column, or when a required
    field has no column and no constant (`--set`): every row would be rejected, so the file
    is refused instead. A required entry that is a tuple is satisfied by any one of its
    fields.
    """
    columns = list(columns)
    by_alias = {normalise(alias): f for f, names in aliases.items() for alias in (f, *names)}
    by_field: dict[str, str] = {}
    used: set[str] = set()
    for source, target in mapping:
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
    for source, target in optional:
        if target in by_field or target not in aliases:
            continue
        match = next((c for c in columns if c == source), None) or next(
            (c for c in columns if normalise(c) == normalise(source)), None
        )
        if match is not None:
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
    given = set(by_field) | set(constants)
    missing = [
        need
        for need in required
        if not given.intersection((need,) if isinstance(need, str) else need)
    ]
    if missing:
        wanted = "; ".join(_wanted(m, aliases) for m in missing)
        raise InvalidValue(
            f"The file has no column for {wanted}. Map a column with --map COLUMN=FIELD "
            "or give a value for every row with --set FIELD=VALUE."
        )
    return Columns(by_field, unknown, ignored_found)


def _wanted(need: str | tuple[str, ...], aliases: Mapping[str, tuple[str, ...]]) -> str:
    if isinstance(need, tuple):
        return " or ".join(need)
    return f"{need} (or {', '.join(aliases[need][:4]) or need})"


def parse_mapping(items: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """`--map SOURCE=FIELD` items as (SOURCE, FIELD) pairs; a source may appear twice."""
    mapping: list[tuple[str, str]] = []
    for item in items:
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise InvalidValue(
                f"--map {item!r} is not SOURCE=FIELD, e.g. --map Ticket=external_id."
            )
        pair = (source.strip(), normalise(target))
        if pair not in mapping:
            mapping.append(pair)
    return tuple(mapping)


def value_key(value: str) -> str:
    """A source value as `--value` matches it: ignoring case and surrounding spaces."""
    return value.strip().casefold()


def parse_values(items: Iterable[str]) -> dict[str, dict[str, str]]:
    """`--value FIELD:SOURCE=TARGET` items as {FIELD: {source key: TARGET}}."""
    values: dict[str, dict[str, str]] = {}
    for item in items:
        head, sep, target = item.partition("=")
        name, colon, source = head.partition(":")
        if not sep or not colon or not name.strip() or not source.strip():
            raise InvalidValue(
                f"--value {item!r} is not FIELD:SOURCE=TARGET, e.g. --value channel:Fax=letter."
            )
        values.setdefault(normalise(name), {})[value_key(source)] = target.strip()
    return values


def parse_constants(items: Iterable[str]) -> dict[str, str]:
    """`--set FIELD=VALUE` items as {FIELD: VALUE}."""
    constants: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidValue(f"--set {item!r} is not FIELD=VALUE, e.g. --set category=billing.")
        constants[normalise(name)] = value.strip()
    return constants


def check_fields(names: Iterable[str], aliases: Mapping[str, tuple[str, ...]], flag: str) -> None:
    """Refuse `--value`/`--set` for a field this kind does not have."""
    for name in names:
        if name not in aliases:
            raise InvalidValue(
                f"{flag} {name}: {name!r} is not a field. Fields: {', '.join(aliases)}."
            )


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
    """Money as whole cents: 12, 12.5, 12.50, at most `workflow.MAX_CENTS`; a thousands
    separator or sign is refused."""
    found = _cents(value, field)
    if found is not None and found > MAX_CENTS:
        raise Bad(field, f"{value.strip()!r} is more than {MAX_CENTS // 100:,}.00; check it")
    return found


def _cents(value: str, field: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if len(value) > 3 and value[-3] == "." and value.isascii():
        # The most common layout, 12.50, in a few operations (a purchase file has one a line).
        digits = value[:-3] + value[-2:]
        if digits.isdigit():
            return int(digits)
    whole, dot, frac = value.partition(".")
    if whole.isascii() and whole.isdigit() and len(frac) in (0, 1, 2) and (frac or not dot):
        # The common case without the pattern: ASCII digits, then up to two decimals.
        if not frac:
            return int(whole) * 100
        if frac.isascii() and frac.isdigit():
            return int(whole) * 100 + int(frac.ljust(2, "0"))
    match = _AMOUNT.match(value)
    if match is None:
        raise Bad(field, f"{value!r} is not an amount like 12.50 (zero or more, two decimals)")
    whole, frac = match.groups()
    return int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)


# Dates before timeutil.EARLIEST are refused unless `--allow-dates-from` widens it.
FUTURE_SLACK = timedelta(days=1)


class TimeParser:
    """Dates and times: ISO 8601, else the `--date-format` patterns in turn. A time without a
    zone is read in `zone` (None: the local zone). Returns an aware UTC datetime between
    `earliest` and a day after `now`; anything else is `Bad`, never an exception."""

    def __init__(
        self,
        formats: Iterable[str] = (),
        zone: tzinfo | None = None,
        *,
        now: datetime | None = None,
        earliest: datetime | None = None,
    ) -> None:
        self.formats = tuple(formats)
        self.zone = zone
        self.latest = now + FUTURE_SLACK if now is not None else None
        self.earliest = earliest or EARLIEST
        # The last text read and its time: rows in a row often share one (an order's lines).
        self._last: tuple[str, datetime | None] = ("", None)

    def __call__(self, value: str, field: str) -> datetime | None:
        last_text, last_moment = self._last
        if value == last_text:
            return last_moment
        moment = self._parse(value, field)
        self._last = (value, moment)
        return moment

    def _parse(self, value: str, field: str) -> datetime | None:
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
        try:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=self.zone) if self.zone else moment.astimezone()
            moment = moment.astimezone(UTC)
        except (ValueError, OverflowError):
            moment = None
        if moment is None or moment < self.earliest:
            raise Bad(
                field,
                f"{value!r} is before {self.earliest.date().isoformat()}: a placeholder, not "
                "a real date (fix it, or widen with --allow-dates-from)",
            )
        if self.latest is not None and moment > self.latest:
            raise Bad(field, f"{value!r} is in the future")
        return moment
