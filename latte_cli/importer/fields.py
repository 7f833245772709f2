"""Cheap per-field parsing for imports, and matching a file's columns to latte's fields.

Each parser takes the cell's text and returns the value or raises `Bad` with a reason that
names the fix. They are hand-written on purpose: a million rows leave no room for a general
validation library's per-row cost (a few microseconds a field is the budget).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from latte_cli.decimal_marks import DECIMAL_MARKS
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
    written = ascii_digits(value)
    try:
        number = float(written) if "." in written else int(written)
    except ValueError:
        raise Bad(field, f"{value!r} is not a whole number") from None
    if number != int(number) or not low <= number <= high:
        raise Bad(field, f"{value!r} is not a whole number from {low} to {high}")
    return int(number)


class _AsciiDigits(dict[int, int]):
    """A `str.translate` table, filled as it is used: a decimal digit of any script (Unicode
    category Nd) to its ASCII digit, any other character to itself."""

    def __missing__(self, code: int) -> int:
        char = chr(code)
        found = ord("0") + unicodedata.decimal(char) if char.isdecimal() else code
        self[code] = found
        return found


_DIGITS = _AsciiDigits()


def ascii_digits(value: str) -> str:
    """`value` with its decimal digits of any script (`١٢`, `१२`) as the ASCII digits they
    are: the one rule for amounts, whole numbers and dates (README, "Amounts"). ASCII text
    is returned as it is, at the cost of one check."""
    return value if value.isascii() else value.translate(_DIGITS)


# Amounts ------------------------------------------------------------------------------------

# Thousands separators accepted with either decimal mark, besides the other mark: a space,
# a no-break space, a narrow no-break space and an apostrophe (1'234.50).
SPACE_SEPARATORS = " \u00a0\u202f'"
_MINUS = ("-", "\u2212")
_CODE = re.compile(r"[A-Z]{3}")
# Signs of one currency only, so that `€12` and `EUR 12` are the same currency in a file
# (`$` and `¥` name several and are compared as they are written).
_SIGN_CODES = {"€": "EUR", "£": "GBP", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY"}


def _number(mark: str) -> re.Pattern[str]:
    """An amount's number with `mark` as its decimal mark: digits in groups of three split
    by one separator throughout, or digits without one; then the decimals."""
    groups = re.escape(("," if mark == "." else ".") + SPACE_SEPARATORS)
    return re.compile(
        rf"(?P<whole>\d{{1,3}}(?P<sep>[{groups}])\d{{3}}(?:(?P=sep)\d{{3}})*|\d+)"
        rf"(?:{re.escape(mark)}(?P<frac>\d+))?",
        re.ASCII,
    )


_NUMBERS = {mark: _number(mark) for mark in DECIMAL_MARKS}
_EXAMPLE = {".": "1,234.50", ",": "1.234,50"}


def _split_currency(text: str) -> tuple[str, str | None]:
    """(the number's text, the currency sign or code before or after it, or None)."""
    first, last = text[:1], text[-1:]
    if first and unicodedata.category(first) == "Sc":
        return text[1:].strip(), first
    if last and unicodedata.category(last) == "Sc":
        return text[:-1].strip(), last
    if len(text) > 3 and _CODE.fullmatch(text[:3]):
        return text[3:].strip(), text[:3]
    if len(text) > 3 and _CODE.fullmatch(text[-3:]):
        return text[:-3].strip(), text[-3:]
    return text, None


class Amounts:
    """Money as whole cents, written as other systems write it (README, "Amounts";
    docs/architecture.md, "Batch import"): `12.50`, `1,234.50`, `1 234.50`, `$12.50`,
    `12,50 €` (with decimal mark `,`), `EUR 1.234,50`; digits of any script. At most
    `workflow.MAX_CENTS`, never negative, two decimals at most.

    latte stores no currency, so the first currency a file names fixes it: a row in another
    one is refused. One instance reads one file.
    """

    def __init__(self, decimal_mark: str = ".") -> None:
        self.mark = decimal_mark
        # Whether the plain layout 12.50 reads as it looks (purchases read it inline).
        self.point = decimal_mark == "."
        self.currency: str | None = None
        self._number = _NUMBERS[decimal_mark]

    def __call__(self, value: str, field: str) -> int | None:
        found = self._read(value, field)
        if found is not None and found > MAX_CENTS:
            raise Bad(field, f"{value.strip()!r} is more than {MAX_CENTS // 100:,}.00; check it")
        return found

    def _read(self, value: str, field: str) -> int | None:
        value = value.strip()
        if not value:
            return None
        if value.isascii():
            mark = self.mark
            if len(value) > 3 and value[-3] == mark:
                # The most common layout, 12.50, in a few operations (a purchase file has one
                # a line).
                digits = value[:-3] + value[-2:]
                if digits.isdigit():
                    return int(digits)
            whole, dot, frac = value.partition(mark)
            if whole.isdigit() and len(frac) in (0, 1, 2) and (frac or not dot):
                # ASCII digits, then up to two decimals.
                if not frac:
                    return int(whole) * 100
                if frac.isdigit():
                    return int(whole) * 100 + int(frac.ljust(2, "0"))
        return self._written(value, field)

    def _written(self, value: str, field: str) -> int:
        """Any other layout: digits of other scripts, separators, a currency."""
        text = ascii_digits(value)
        if text.startswith(_MINUS) or (text.startswith("(") and text.endswith(")")):
            raise Bad(field, f"{value!r} is negative: amounts are zero or more")
        text, currency = _split_currency(text)
        if text.startswith(_MINUS):
            raise Bad(field, f"{value!r} is negative: amounts are zero or more")
        match = self._number.fullmatch(text)
        if match is None:
            raise Bad(field, self._unreadable(value, text))
        frac = match["frac"] or ""
        if len(frac) > 2:
            other = "," if self.point else "."
            hint = ""
            if len(frac) == 3 and _NUMBERS[other].fullmatch(text):
                hint = f"; if {self.mark!r} separates thousands here, pass --decimal-mark {other}"
            raise Bad(field, f"{value!r} has more than two decimals{hint}")
        if currency is not None and currency != self.currency:
            if self.currency is None:
                self.currency = currency
            elif _SIGN_CODES.get(currency, currency) != _SIGN_CODES.get(
                self.currency, self.currency
            ):
                raise Bad(
                    field,
                    f"{value!r} is in {currency}, but earlier rows of this file are in "
                    f"{self.currency}: import each currency separately",
                )
        whole = match["whole"]
        if match["sep"]:
            whole = whole.replace(match["sep"], "")
        return int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)

    def _unreadable(self, value: str, text: str) -> str:
        example = _EXAMPLE[self.mark]
        expected = (
            f"expected an amount like 12{self.mark}50 or {example}: decimal mark "
            f"{self.mark!r}, thousands in groups of three"
        )
        other = "," if self.point else "."
        if _NUMBERS[other].fullmatch(text):
            return (
                f"{value!r}: {expected}; if {other!r} is this file's decimal mark, pass "
                f"--decimal-mark {other}"
            )
        return (
            f"{value!r}: {expected}, zero or more, with a currency sign or code such as $ "
            "or EUR before or after"
        )


def cents(value: str, field: str, decimal_mark: str = ".") -> int | None:
    """One amount read on its own, as `Amounts` reads it (no earlier rows: any currency)."""
    return Amounts(decimal_mark)(value, field)


# The directives `datetime.strptime` reads, and those of them that say something of the date.
_DIRECTIVES = frozenset("aAbBcdfGhHIjmMpSuUVwWxXyYzZ%")
_DATE_DIRECTIVES = frozenset("aAbBcdGhjmuUVwWxyY")
_SAMPLE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def date_format_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be a `--date-format`, or None when it can: an unknown directive,
    a `%` at the end, no date directive at all, or a pattern that cannot read back a date
    it writes (`%G` without `%V`)."""
    found = []
    at = pattern.find("%")
    while at != -1:
        directive = pattern[at + 1 : at + 2]
        if not directive:
            return "it ends with a lone % (write %% for a percent sign)"
        if directive not in _DIRECTIVES:
            return f"%{directive} is not a strptime directive"
        found.append(directive)
        at = pattern.find("%", at + 2)
    if not _DATE_DIRECTIVES.intersection(found):
        return "it has no date directive such as %Y, %m or %d"
    try:
        datetime.strptime(_SAMPLE.strftime(pattern), pattern)
    except ValueError as error:
        return f"it cannot read the dates it describes ({error})"
    return None


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
        written = ascii_digits(value)
        moment = None
        for pattern in self.formats:
            try:
                moment = datetime.strptime(written, pattern)
                break
            except ValueError:
                continue
        if moment is None:
            try:
                moment = datetime.fromisoformat(written)
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
