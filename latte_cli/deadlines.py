"""Deadline policies: which rule a complaint falls under, and when its responses are due.

A policy is an ordered list of rules; a rule matches on severity, category and channel (a
rule without them matches any complaint), first match wins, and the last rule matches every
complaint. A rule gives a final-response deadline (the first resolution), optionally a
first-response deadline (the acknowledgement) and the days between the updates the customer is
owed while the complaint is open (ISO 10002). Spans are calendar hours, days or weeks
(`36h`, `15d`, `8w`) or business time (`8bh`: working hours of the schedule, `3bd`: the close
of the third business day after the day of receipt), counted by `reports.hours.BusinessClock`
with the holidays skipped.

Each complaint's due times are fixed when it is opened (`Deadlines.fixed_at_opening`) and
stored with the name of the rule that matched (`policy/rule#fingerprint`): the fingerprint
covers the rule's spans and, for business time, the schedule, zone and holidays, so `latte db
check` can tell a rule still in force unchanged (recompute and compare) from one changed since
(only check consistency). docs/metrics.md ("Deadlines") defines met, breached and pending.

Presets are data (`latte_cli/data/deadlines.toml`, read by `config.py`); `standard`, the
default when nothing is configured, is defined here: 24 calendar hours to the final response,
the reports' default resolution target. Pure: no database, no I/O, no CLI libraries.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from latte_cli.errors import InvalidValue

if TYPE_CHECKING:
    from latte_cli.reports.hours import BusinessClock

STANDARD = "standard"
MAX_UPDATE_DAYS = 365
# The longest span a rule may give, in days (a two-year complaint is no deadline).
MAX_SPAN_DAYS = 731
DAY = 86_400
_SPAN = re.compile(r"^(\d{1,5})(h|d|w|bh|bd)$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MATCH_KEYS = ("severity", "category", "channel")
RULE_KEYS = frozenset(
    {"name", *MATCH_KEYS, "first_response", "final_response", "update_every_days"}
)
POLICY_KEYS = frozenset({"name", "description", "extends", "rule", "update_every_days"})
SPAN_HINT = (
    'Give it like "36h", "15d" or "8w" (calendar), "8bh" (business hours) or "3bd" '
    "(the close of the third business day)."
)


class Unit(StrEnum):
    HOURS = "h"
    DAYS = "d"
    WEEKS = "w"
    BUSINESS_HOURS = "bh"
    BUSINESS_DAYS = "bd"


_UNIT_WORDS = {
    Unit.HOURS: "hour",
    Unit.DAYS: "day",
    Unit.WEEKS: "week",
    Unit.BUSINESS_HOURS: "business hour",
    Unit.BUSINESS_DAYS: "business day",
}
_CALENDAR_SECONDS = {Unit.HOURS: 3600, Unit.DAYS: DAY, Unit.WEEKS: 7 * DAY}


@dataclass(frozen=True)
class Span:
    """How long after opening a response is due."""

    amount: int
    unit: Unit

    @property
    def text(self) -> str:
        return f"{self.amount}{self.unit.value}"

    @property
    def business(self) -> bool:
        return self.unit in (Unit.BUSINESS_HOURS, Unit.BUSINESS_DAYS)

    def describe(self) -> str:
        word = _UNIT_WORDS[self.unit]
        return f"{self.amount} {word}{'' if self.amount == 1 else 's'}"


def parse_span(text: object, *, where: str) -> Span:
    """A span ("36h", "3bd"), or InvalidValue naming `where` and the fix."""
    match = _SPAN.match(str(text).strip().lower().replace(" ", ""))
    if not isinstance(text, str) or not match or int(match[1]) == 0:
        raise InvalidValue(f"{where} is {text!r}, not a deadline. {SPAN_HINT}")
    span = Span(int(match[1]), Unit(match[2]))
    days = {"h": 1 / 24, "bh": 1 / 8, "d": 1, "bd": 7 / 5, "w": 7}[span.unit.value]
    if span.amount * days > MAX_SPAN_DAYS:
        raise InvalidValue(f"{where} is {text!r}, longer than two years. Give a shorter one.")
    return span


@dataclass(frozen=True)
class Rule:
    name: str
    final_response: Span
    first_response: Span | None = None
    severities: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    update_every_days: int | None = None

    @property
    def catch_all(self) -> bool:
        return not (self.severities or self.categories or self.channels)

    @property
    def business(self) -> bool:
        return self.final_response.business or bool(
            self.first_response and self.first_response.business
        )

    def matches(self, *, severity: str, category: str, channel: str) -> bool:
        return (
            (not self.severities or severity.lower() in self.severities)
            and (not self.categories or category.lower() in self.categories)
            and (not self.channels or channel.lower() in self.channels)
        )


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[Rule, ...]
    description: str = ""

    def match(self, *, severity: str, category: str, channel: str) -> Rule:
        """The first rule that matches; the last rule matches every complaint."""
        for rule in self.rules:
            if rule.matches(severity=severity, category=category, channel=channel):
                return rule
        return self.rules[-1]

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    @property
    def business(self) -> bool:
        return any(rule.business for rule in self.rules)


STANDARD_POLICY = Policy(
    name=STANDARD,
    description="24 hours to resolve, calendar time (latte's default)",
    rules=(Rule(name="default", final_response=Span(24, Unit.HOURS)),),
)


# Parsing a policy (a TOML table already read) ------------------------------------------------


def _values(raw: object, *, where: str, key: str) -> frozenset[str]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise InvalidValue(
            f"{where} has {key} = {raw!r}. Give a value or a list of values, e.g. "
            f'{key} = ["high", "critical"].'
        )
    return frozenset(v.strip().lower() for v in items)


def _update_days(raw: object, *, where: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_UPDATE_DAYS:
        raise InvalidValue(
            f"{where} has update_every_days = {raw!r}. Give a whole number of days from 1 to "
            f"{MAX_UPDATE_DAYS}, e.g. 7."
        )
    return raw


def _name(raw: object, *, where: str) -> str:
    name = str(raw).strip().lower() if isinstance(raw, str) else ""
    if not _NAME.match(name):
        raise InvalidValue(
            f"{where} has the name {raw!r}. Give one of letters, digits, - and _ (at most 40), "
            "e.g. urgent-billing."
        )
    return name


def parse_rule(data: object, *, where: str, update_every_days: int | None = None) -> Rule:
    """One rule of a policy table; `update_every_days` is the policy's, for rules without."""
    if not isinstance(data, Mapping):
        raise InvalidValue(f"{where} is not a table. Write it as [[rule]] with name = ...")
    unknown = sorted(set(data) - RULE_KEYS)
    if unknown:
        raise InvalidValue(
            f"{where} has the unknown key {unknown[0]!r}; a rule knows "
            f"{', '.join(sorted(RULE_KEYS))}. Remove or rename it."
        )
    if "name" not in data:
        raise InvalidValue(f'{where} has no name. Add name = "..." to it.')
    name = _name(data["name"], where=where)
    where = f"{where} ({name})"
    if "final_response" not in data:
        raise InvalidValue(f'{where} has no final_response. Add one, e.g. final_response = "8w".')
    first = data.get("first_response")
    days = _update_days(data.get("update_every_days"), where=where)
    return Rule(
        name=name,
        final_response=parse_span(data["final_response"], where=f"{where} final_response"),
        first_response=(
            parse_span(first, where=f"{where} first_response") if first is not None else None
        ),
        severities=_values(data.get("severity", []), where=where, key="severity"),
        categories=_values(data.get("category", []), where=where, key="category"),
        channels=_values(data.get("channel", []), where=where, key="channel"),
        update_every_days=days if days is not None else update_every_days,
    )


def parse_policy(
    data: Mapping[str, Any], *, name: str, source: str, presets: Mapping[str, Policy]
) -> Policy:
    """A policy table (a preset's, or a policy file's), or InvalidValue naming the rule and
    the fix. `extends` names a preset whose rules follow this policy's own."""
    unknown = sorted(set(data) - POLICY_KEYS)
    if unknown:
        raise InvalidValue(
            f"{source} has the unknown key {unknown[0]!r}; a policy knows "
            f"{', '.join(sorted(POLICY_KEYS))}. Remove or rename it."
        )
    name = _name(data.get("name", name), where=source)
    every = _update_days(data.get("update_every_days"), where=source)
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise InvalidValue(f"{source}: rules are written [[rule]], one table each. Fix the file.")
    rules = [
        parse_rule(table, where=f"{source} rule {number}", update_every_days=every)
        for number, table in enumerate(tables, start=1)
    ]
    base = data.get("extends")
    if base is not None:
        if not isinstance(base, str) or base.strip().lower() not in presets:
            raise InvalidValue(
                f"{source} extends {base!r}, which is no preset. Choose one of: "
                f"{', '.join(presets)}."
            )
        rules += [
            replace(rule, update_every_days=rule.update_every_days or every)
            for rule in presets[base.strip().lower()].rules
        ]
    if not rules:
        raise InvalidValue(f'{source} has no rules. Add a [[rule]] with final_response = "...".')
    seen: set[str] = set()
    for number, rule in enumerate(rules, start=1):
        if rule.name in seen:
            raise InvalidValue(
                f"{source} has two rules named {rule.name!r}. Give each rule its own name."
            )
        seen.add(rule.name)
        if rule.catch_all and number < len(rules):
            raise InvalidValue(
                f"{source} rule {number} ({rule.name}) matches every complaint, so the rules "
                "after it never apply. Give it a severity, category or channel, or move it last."
            )
    if not rules[-1].catch_all:
        raise InvalidValue(
            f"{source} has no default rule: its last rule ({rules[-1].name}) names a severity, "
            "category or channel. Add a last rule without them, or extend a preset."
        )
    description = data.get("description", "")
    return Policy(name=name, rules=tuple(rules), description=str(description))


def parse_presets(data: Mapping[str, Any], *, source: str) -> dict[str, Policy]:
    """The shipped presets (one table per policy), with `standard` first."""
    presets: dict[str, Policy] = {STANDARD: STANDARD_POLICY}
    for name, table in data.items():
        if not isinstance(table, Mapping):
            raise InvalidValue(f"{source}: {name} is not a policy table.")
        presets[name] = parse_policy(table, name=name, source=f"{source} [{name}]", presets=presets)
    return presets


# Due times -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """What is stored on a complaint when it is opened (revision 0010)."""

    rule: str  # policy/rule#fingerprint
    first_response: int | None
    final_response: int
    update_every_days: int | None


def rule_label(stored: str | None) -> str | None:
    """A stored rule name as people read it: `fca-disp/default`."""
    return stored.partition("#")[0] if stored else None


@dataclass(frozen=True)
class Deadlines:
    """A policy with the business clock that its business-time spans count on."""

    policy: Policy
    clock: BusinessClock | None = None

    def __post_init__(self) -> None:
        if self.policy.business and self.clock is None:
            raise InvalidValue(f"The policy {self.policy.name} counts business time: give hours.")

    def fingerprint(self, rule: Rule) -> str:
        parts: list[object] = [
            rule.final_response.text,
            rule.first_response.text if rule.first_response else None,
            rule.update_every_days,
        ]
        if rule.business and self.clock is not None:
            parts += [
                self.clock.schedule.text,
                self.clock.zone.key,
                sorted(day.isoformat() for day in self.clock.holidays),
            ]
            if self.clock.schedule.joined:
                parts.append("joined")  # the shared hours now count once: another due time
        digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
        return digest[:8]

    def stored_name(self, rule: Rule) -> str:
        return f"{self.policy.name}/{rule.name}#{self.fingerprint(rule)}"

    def due_at(self, span: Span, opened: int) -> int:
        """The due epoch of `span` counted from the opening epoch `opened`."""
        if span.unit in _CALENDAR_SECONDS:
            return opened + span.amount * _CALENDAR_SECONDS[span.unit]
        assert self.clock is not None
        if span.unit is Unit.BUSINESS_HOURS:
            return self.clock.add(opened, span.amount * 3600)
        return self.clock.close_of_business_day(opened, span.amount)

    def due(self, rule: Rule, opened: int) -> Due:
        return Due(
            rule=self.stored_name(rule),
            first_response=(
                self.due_at(rule.first_response, opened) if rule.first_response else None
            ),
            final_response=self.due_at(rule.final_response, opened),
            update_every_days=rule.update_every_days,
        )

    def fixed_at_opening(self, *, severity: str, category: str, channel: str, opened: int) -> Due:
        """The due times of a complaint opened at epoch `opened` (docs/metrics.md)."""
        rule = self.policy.match(severity=severity, category=category, channel=channel)
        return self.due(rule, opened)

    def recomputed(self, stored: str, opened: int) -> Due | None:
        """The due times the stored rule gives today, if that rule is in force unchanged;
        None when the policy or the rule changed since (or the clock it counted on)."""
        policy, _, rest = stored.partition("/")
        name, _, fingerprint = rest.partition("#")
        rule = self.policy.rule(name) if policy == self.policy.name else None
        if rule is None or self.fingerprint(rule) != fingerprint:
            return None
        return self.due(rule, opened)


STANDARD_DEADLINES = Deadlines(STANDARD_POLICY)


# Where a deadline stands ---------------------------------------------------------------------


class Standing(StrEnum):
    """docs/metrics.md, "Deadlines": met, breached or pending at T."""

    MET = "met"
    BREACHED = "breached"
    PENDING = "pending"


def standing(due: int, done: int | None, now: int) -> Standing:
    if done is not None and done <= now:
        return Standing.MET if done <= due else Standing.BREACHED
    return Standing.BREACHED if now > due else Standing.PENDING


def duration_text(seconds: int) -> str:
    """A duration for a countdown: "2 d 4 h", "3 h 5 min", "12 min"."""
    seconds = max(0, seconds)
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


_WITHIN = re.compile(r"^(\d{1,5})(m|h|d|w)$")


def parse_within(text: str, *, what: str = "--due-within") -> int:
    """A look-ahead such as "2d", "8h", "90m" or "1w", in seconds; InvalidValue otherwise."""
    match = _WITHIN.match(text.strip().lower().replace(" ", ""))
    if not match or int(match[1]) == 0:
        raise InvalidValue(f"{what} {text!r} is not a duration. Give it like 2d, 8h, 90m or 1w.")
    return int(match[1]) * {"m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}[match[2]]


def countdown(due: int, done: int | None, now: int) -> str:
    """ "due in 2 d 4 h", "breached 3 h ago"; once done, "met, 2 h early" or "breached by 1 d"."""
    state = standing(due, done, now)
    if done is not None and done <= now:
        if state is Standing.MET:
            return f"met, {duration_text(due - done)} early"
        return f"breached by {duration_text(done - due)}"
    if state is Standing.BREACHED:
        return f"breached {duration_text(now - due)} ago"
    return f"due in {duration_text(due - now)}"


# Keeping the customer informed ----------------------------------------------------------------


def update_due_at(every_days: int | None, opened: int, last_update: int | None) -> int | None:
    """When the next update to the customer is due: `every_days` after the later of the
    opening and the last update; None when the rule asks for none."""
    if not every_days:
        return None
    return max(opened, last_update or opened) + every_days * DAY


def update_overdue(every_days: int | None, opened: int, last_update: int | None, now: int) -> bool:
    """An open complaint is "update due" once its interval has passed."""
    due = update_due_at(every_days, opened, last_update)
    return due is not None and now >= due
