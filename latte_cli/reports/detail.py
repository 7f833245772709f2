"""Drill-down: the complaints behind one count of a report (docs/metrics.md, "Drill-down").

A report computes its figures from the summaries kept at write time; this module selects the
complaints behind a count from the complaint rows, by the same definitions (cohort = first
resolved in the period by the as-of time, merged duplicates left out, the business-hours clock
when one is set, pending against lost by the window, ...). tests/test_detail.py proves that
both give the same number for every count of the report's JSON.

A figure is named by its dotted path under `figures` in the report's JSON (`repurchase.lost`,
`repurchase_by_speed."> 3 d".lost`), optionally prefixed by `previous.` for the period before.
Each population (the period's openings, its cohort, the backlog, the deadlines due) is read
once per `Facts` and the figures are filters over it, so an HTML report opens every count for
the price of a few queries.
"""

from __future__ import annotations

import difflib
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, select

from latte_cli.errors import InvalidValue
from latte_cli.events import EventKind
from latte_cli.reports import queries as q
from latte_cli.reports.build import NO_VALUE, STAGES, Options
from latte_cli.reports.periods import Period

OUTCOME_KEYS = ("repurchased", "lost", "pending", "n")
REPEAT_KEYS = ("repeats", "not_repeated", "pending", "n")
DEADLINE_KEYS = ("met", "breached", "pending", "n")
NPS_KEYS = ("promoters", "passives", "detractors", "n")
DEADLINE_KINDS = ("first", "final")
# Leaves of the report's JSON that are not counts of complaints: values, shares, money.
# A root cause's previous count is `previous.root_causes.<cause>.count`, its change a
# difference, and active customers are customers.
VALUE_KEYS = frozenset(
    {"median_seconds", "p90_seconds", "mean_seconds", "rate", "score", "share", "value"}
    | {"previous_count", "change", "active_customers"}
)
VALUE_SUFFIXES = ("_cents", "_seconds", "_rate", "_share", "_per_unit")


def is_count(path: Sequence[str], value: object) -> bool:
    """Whether a leaf of the report's JSON counts complaints (or, for NPS, follow-up scores)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    name = path[-1]
    return name not in VALUE_KEYS and not name.endswith(VALUE_SUFFIXES)


# The figures that can be opened, for help and for near matches; <...> stands for any value.
CATALOGUE = (
    "opened",
    "resolved",
    "open_backlog",
    "overdue",
    "time_to_acknowledge.n",
    "resolution_time.n",
    *(f"stages.{s}.n" for s in STAGES),
    "within_target.count",
    "within_target.n",
    "reopen_rate.count",
    "reopen_rate.n",
    "followup_completion.count",
    "followup_completion.n",
    *(f"repurchase.{k}" for k in OUTCOME_KEYS),
    *(f'repurchase_by_speed."{label}".{k}' for label in q.SPEED_BUCKETS for k in OUTCOME_KEYS),
    *(f"repurchase_by_action.<kind>.{k}" for k in OUTCOME_KEYS),
    *(f"fast_and_satisfied.{k}" for k in OUTCOME_KEYS),
    *(f"rest.{k}" for k in OUTCOME_KEYS),
    *(f"nps.{k}" for k in NPS_KEYS),
    *(f"deadlines.{d}.{k}" for d in DEADLINE_KINDS for k in DEADLINE_KEYS),
    *(f"repeat.{k}" for k in REPEAT_KEYS),
    *(f"repeat_by_cause.<cause>.{k}" for k in REPEAT_KEYS),
    *(f"repeat_by_agent.<agent>.{k}" for k in REPEAT_KEYS),
    "root_causes.<cause>.count",
    "root_causes.<cause>.resolution_time.n",
    *(f"root_causes.<cause>.repurchase.{k}" for k in OUTCOME_KEYS),
    *(f"root_causes.<cause>.repeat.{k}" for k in REPEAT_KEYS),
    "remedies.by_action.<kind>.complaints",
    *(f'remedies.by_speed."{label}".complaints' for label in q.SPEED_BUCKETS),
    "per_1000_active.opened",
)


@dataclass(frozen=True)
class Column:
    """A figure's own column: `kind` says how to show it (time, seconds, cents, text, number)."""

    name: str
    kind: str


class Member(NamedTuple):
    """One complaint behind a count, with the values of the figure's columns (a tuple: a
    year's figures hold hundreds of thousands)."""

    complaint_id: int
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Detail:
    figure: str
    group: str | None
    period: Period
    columns: tuple[Column, ...]
    members: tuple[Member, ...]
    # What a row is: a complaint, or for NPS a follow-up score (a complaint may give two).
    unit: str = "complaints"


@dataclass(frozen=True)
class FigureName:
    path: tuple[str, ...]
    group: str | None
    previous: bool = False

    @property
    def text(self) -> str:
        return ".".join(quoted_key(p) for p in self.path)


def quoted_key(key: str) -> str:
    """A key as `--detail` writes it: as it is when it is a name, else in double quotes with
    backslashes before quotes and backslashes inside (a group may hold any character)."""
    if key.isidentifier():
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_figure(text: str) -> FigureName:
    """`repurchase_by_speed."> 3 d".lost:north` into its path and group; double quotes keep
    dots, colons and spaces inside one key, and a backslash inside them the next character."""
    parts: list[str] = []
    current, quoted, group, escaped = "", False, None, False
    for i, char in enumerate(text):
        if escaped:
            current, escaped = current + char, False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        elif char == ":" and not quoted:
            group = _unquoted(text[i + 1 :].strip())
            break
        else:
            current += char
    parts.append(current)
    path = tuple(p.strip() for p in parts)
    if quoted or not all(path) or group == "":
        raise InvalidValue(
            f"--detail {text!r} is not a figure name. Give a dotted path from the report's JSON "
            'figures, e.g. repurchase.lost or repurchase_by_speed."> 3 d".lost:GROUP.'
        )
    previous = path[0] == "previous" and len(path) > 1
    return FigureName(path=path[1:] if previous else path, group=group, previous=previous)


def _unquoted(group: str) -> str:
    """A group as given after the colon: as it is, or inside double quotes (as `quoted_key`
    writes it)."""
    if len(group) < 2 or not (group.startswith('"') and group.endswith('"')):
        return group
    inner, escaped, found = group[1:-1], False, ""
    for char in inner:
        if escaped or char != "\\":
            found, escaped = found + char, False
        else:
            escaped = True
    return found


def _dt(moment: int | None) -> datetime | None:
    return None if moment is None else datetime.fromtimestamp(moment, UTC)


def _epoch(value: Any) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp())
    return int(value)


@dataclass(slots=True)
class Case:
    """What the figures need to know about one complaint of a population."""

    id: int
    group: str
    customer: int | None
    opened: int
    acknowledged: int | None
    resolved: int | None
    action: str
    # None when no root cause is recorded: such a complaint is under no cause's figures, so a
    # cause stored as "(none)" is its own (docs/metrics.md, "Comparisons, groups and trends").
    cause: str | None
    agent: str
    due: int | None = None


class Facts:
    """The populations of one period, each read on first use (see the module docstring)."""

    def __init__(
        self,
        conn: Connection,
        period: Period,
        options: Options,
    ) -> None:
        self.conn = conn
        self.period = period
        self.options = options
        self.repeat_seconds = options.repeat_days * 86_400
        self.clock = options.business_clock()

    def span(self, start: int, end: int) -> int:
        """Duration on the report's clock (docs/metrics.md, "Clocks")."""
        return self.clock.seconds(start, end) if self.clock else end - start

    # Populations -----------------------------------------------------------------------------

    def _cases(self, *where: Any, due: Any = None) -> list[Case]:
        c = q.table("complaint").c
        columns = [
            c.id,
            q.group_column(self.options.by),
            c.customer_id,
            c.opened_epoch,
            c.acknowledged_epoch,
            c.first_resolved_epoch,
            c.action_kind,
            c.root_cause,
            c.assigned_agent,
        ]
        query = select(*columns, due if due is not None else c.id).where(*where, q.counted())
        cases = [
            Case(
                id=int(i),
                group=q.label(g),
                customer=cu,
                opened=int(o),
                acknowledged=a,
                resolved=r,
                action=q.label(k or None),
                cause=rc or None,
                agent=q.label(ag or None),
                due=d if due is not None else None,
            )
            for i, g, cu, o, a, r, k, rc, ag, d in self.conn.execute(query).fetchall()
        ]
        # Sorted here: ORDER BY id made SQLite walk the whole table in id order instead of
        # the epoch index's range.
        return sorted(cases, key=lambda case: case.id)

    def _in_period(self, column: Any) -> Any:
        p, as_of = self.period, self.options.as_of
        return and_(column >= p.start, column < p.end, column <= as_of)

    @cached_property
    def opened(self) -> list[Case]:
        return self._cases(self._in_period(q.table("complaint").c.opened_epoch))

    @cached_property
    def cohort(self) -> list[Case]:
        """Complaints first resolved in the period, by the as-of time."""
        return self._cases(self._cohort())

    def _cohort(self) -> Any:
        return self._in_period(q.table("complaint").c.first_resolved_epoch)

    @cached_property
    def moment(self) -> int:
        """When the backlog is taken: the period's last second, or the as-of time if earlier."""
        return min(self.period.end - 1, self.options.as_of)

    @cached_property
    def backlog(self) -> list[Case]:
        c = q.table("complaint").c
        m = self.moment
        # As `queries.open_at`: two ranges of the first-resolution index (still open; resolved
        # later), `+ 0` keeping the planner off the opening index, which covers nearly all.
        opened = (c.opened_epoch + 0) <= m
        cases = self._cases(c.first_resolved_epoch.is_(None), opened)
        cases += self._cases(c.first_resolved_epoch > m, opened)
        return sorted(cases, key=lambda case: case.id)

    def due(self, kind: str) -> list[Case]:
        """Complaints whose `kind` deadline falls in the period: the deadlines' cohort, kept in
        this one function (docs/metrics.md, Deadlines)."""
        found = self.__dict__.setdefault("_due", {})
        if kind not in found:
            c = q.table("complaint").c
            column = c.first_response_due_epoch if kind == "first" else c.final_response_due_epoch
            p = self.period
            found[kind] = self._cases(column >= p.start, column < p.end, due=column)
        cases: list[Case] = found[kind]
        return cases

    # What is known about the cohort by the as-of time ---------------------------------------

    def _joined(self, *columns: Any, source: Any, where: Iterable[Any] = ()) -> list[Any]:
        query = select(*columns).select_from(source).where(self._cohort(), q.counted(), *where)
        return list(self.conn.execute(query).fetchall())

    @cached_property
    def reopened(self) -> dict[int, int]:
        """Cohort complaint id: its first reopening at or before the as-of time."""
        c, e = q.table("complaint"), q.table("event")
        rows = self._joined(
            c.c.id,
            e.c.at,
            source=e.join(c, e.c.complaint_id == c.c.id),
            where=(
                c.c.reopen_count > 0,
                e.c.kind == EventKind.REOPEN.value,
                e.c.at <= datetime.fromtimestamp(self.options.as_of, UTC),
            ),
        )
        found: dict[int, int] = {}
        for i, at in rows:
            found[int(i)] = min(_epoch(at), found.get(int(i), _epoch(at)))
        return found

    @cached_property
    def followups(self) -> dict[int, list[tuple[int, int | None, bool | None, bool | None]]]:
        """Cohort complaint id: its follow-ups recorded by the as-of time (recorded, score,
        satisfied, bought again), oldest first."""
        c, f = q.table("complaint"), q.table("followup")
        rows = self._joined(
            f.c.complaint_id,
            f.c.recorded_epoch,
            f.c.nps,
            f.c.satisfied,
            f.c.repurchased,
            f.c.id,
            source=f.join(c, f.c.complaint_id == c.c.id),
            where=(f.c.recorded_epoch <= self.options.as_of,),
        )
        found: dict[int, list[tuple[int, int | None, bool | None, bool | None]]] = {}
        for cid, recorded, nps, sat, bought, _ in sorted(rows, key=lambda r: (r[1], r[5])):
            found.setdefault(int(cid), []).append((int(recorded), nps, sat, bought))
        return found

    @cached_property
    def stages(self) -> dict[int, dict[str, int]]:
        """Cohort complaint id: the first cycle's stage durations (calendar seconds)."""
        c, s = q.table("complaint"), q.table("stage_record")
        rows = self._joined(
            s.c.complaint_id,
            s.c.stage,
            s.c.duration_seconds,
            source=s.join(c, s.c.complaint_id == c.c.id),
            where=(s.c.cycle == 0,),
        )
        found: dict[int, dict[str, int]] = {}
        for cid, stage, seconds in rows:
            found.setdefault(int(cid), {})[stage] = int(seconds)
        return found

    @cached_property
    def amounts(self) -> dict[int, int]:
        """Cohort complaint id: the amounts recorded at Take action (current values), summed."""
        c, s = q.table("complaint"), q.table("stage_record")
        rows = self._joined(
            s.c.complaint_id,
            s.c.amount_cents,
            source=s.join(c, s.c.complaint_id == c.c.id),
            where=(s.c.stage == "take_action", s.c.amount_cents.is_not(None)),
        )
        found: dict[int, int] = {}
        for cid, cents in rows:
            found[int(cid)] = found.get(int(cid), 0) + int(cents)
        return found

    @cached_property
    def remedy_kinds(self) -> dict[int, set[str]]:
        """Cohort complaint id: the action kinds of its Take action records completed by the
        as-of time (current values; a reopened complaint may have several)."""
        c, s = q.table("complaint"), q.table("stage_record")
        rows = self._joined(
            s.c.complaint_id,
            s.c.action_kind,
            source=s.join(c, s.c.complaint_id == c.c.id),
            where=(s.c.stage == "take_action", s.c.completed_at <= _dt(self.options.as_of)),
        )
        found: dict[int, set[str]] = {}
        for cid, kind in rows:
            found.setdefault(int(cid), set()).add(kind or NO_VALUE)
        return found

    @cached_property
    def bought(self) -> dict[int, tuple[int, int]]:
        """Cohort complaint id: the customer's first purchase in (resolved, resolved + W],
        known by the as-of time (epoch, amount in cents)."""
        c, p = q.table("complaint"), q.table("purchase")
        resolved = c.c.first_resolved_epoch
        rows = self._joined(
            c.c.id,
            p.c.purchased_epoch,
            p.c.amount_cents,
            source=p.join(c, p.c.customer_id == c.c.customer_id),
            where=(
                p.c.purchased_epoch > resolved,
                p.c.purchased_epoch <= resolved + self.options.window_seconds,
                p.c.purchased_epoch <= self.options.as_of,
            ),
        )
        found: dict[int, tuple[int, int]] = {}
        for cid, at, cents in sorted(rows, key=lambda r: (r[0], r[1])):
            found.setdefault(int(cid), (int(at), int(cents or 0)))
        return found

    @cached_property
    def repeats(self) -> dict[int, tuple[int, int]]:
        """Cohort complaint id: the same customer's first other complaint opened in
        (resolved, resolved + R], known by the as-of time, not a merged duplicate (id, epoch)."""
        c = q.table("complaint")
        o = c.alias("other")
        resolved = c.c.first_resolved_epoch
        rows = self._joined(
            c.c.id,
            o.c.id,
            o.c.opened_epoch,
            source=o.join(c, o.c.customer_id == c.c.customer_id),
            where=(
                o.c.id != c.c.id,
                o.c.merged_into.is_(None),
                o.c.opened_epoch > resolved,
                o.c.opened_epoch <= resolved + self.repeat_seconds,
                o.c.opened_epoch <= self.options.as_of,
            ),
        )
        found: dict[int, tuple[int, int]] = {}
        for cid, other, at in sorted(rows, key=lambda r: (r[0], r[2], r[1])):
            found.setdefault(int(cid), (int(other), int(at)))
        return found

    @cached_property
    def resolution(self) -> dict[int, int]:
        """Cohort complaint id: its resolution time on the report's clock."""
        return {c.id: self.span(c.opened, _int(c.resolved)) for c in self.cohort}

    @cached_property
    def outcomes(self) -> list[tuple[Case, int, bool, str, tuple[Any, ...]]]:
        """Per cohort complaint with a customer (docs/metrics.md, Outcomes): its resolution
        time, whether a follow-up said satisfied, its outcome, and the outcome's columns
        (see `_outcomes`); computed once for every breakdown."""
        o = self.options
        found = []
        for c in self.cohort:
            if c.customer is None:
                continue
            resolved = _int(c.resolved)
            known = self.followups.get(c.id, [])
            purchase = self.bought.get(c.id)
            end = resolved + o.window_seconds
            if purchase or any(f[3] is True for f in known):
                outcome = "repurchased"
            elif end <= o.as_of:
                outcome = "lost"
            else:
                outcome = "pending"
            seconds = self.resolution[c.id]
            satisfied = any(f[2] is True for f in known)
            at, cents = purchase if purchase else (None, None)
            values = (seconds, outcome, end, at, cents, resolved)
            found.append((c, seconds, satisfied, outcome, values))
        return found


# Figures ------------------------------------------------------------------------------------

Rows = list[Member]
Selection = tuple[tuple[Column, ...], Rows]

RESOLVED = (Column("resolution_seconds", "seconds"), Column("first_resolved_at", "time"))


def _resolution(facts: Facts, cases: list[Case]) -> Selection:
    rows = [Member(c.id, (facts.resolution[c.id], c.resolved)) for c in cases]
    return RESOLVED, rows


def _int(value: int | None) -> int:
    assert value is not None
    return value


def _outcomes(facts: Facts, wanted: Callable[[Case, int, bool], bool], key: str) -> Selection:
    """The cohort's repurchase outcomes (docs/metrics.md, Outcomes): `wanted(case, seconds,
    satisfied)` picks the complaints of a breakdown, `key` the outcome (n: repurchased + lost)."""
    rows: Rows = [
        Member(c.id, values)
        for c, seconds, satisfied, outcome, values in facts.outcomes
        if wanted(c, seconds, satisfied)
        and (outcome == key or (key == "n" and outcome != "pending"))
    ]
    columns = (
        Column("resolution_seconds", "seconds"),
        Column("outcome", "text"),
        Column("window_end", "time"),
        Column("bought_at", "time"),
        Column("purchase_cents", "cents"),
        Column("first_resolved_at", "time"),
    )
    return columns, rows


def _repeat(facts: Facts, wanted: Callable[[Case], bool], key: str) -> Selection:
    """The cohort's repeat complaints (docs/metrics.md, Repeat complaints)."""
    rows: Rows = []
    for c in facts.cohort:
        if c.customer is None or not wanted(c):
            continue
        end = _int(c.resolved) + facts.repeat_seconds
        found = facts.repeats.get(c.id)
        if found:
            outcome = "repeats"
        elif end <= facts.options.as_of:
            outcome = "not_repeated"
        else:
            outcome = "pending"
        if outcome == key or (key == "n" and outcome != "pending"):
            other, at = found if found else (None, None)
            cause = c.cause or NO_VALUE
            rows.append(Member(c.id, (outcome, end, other, at, c.resolved, cause)))
    columns = (
        Column("repeat", "text"),
        Column("repeat_window_end", "time"),
        Column("next_complaint", "number"),
        Column("next_opened_at", "time"),
        Column("first_resolved_at", "time"),
        Column("root_cause", "text"),
    )
    return columns, rows


def _deadline(facts: Facts, kind: str, key: str) -> Selection:
    """Met, breached or pending deadlines due in the period (docs/metrics.md, Deadlines):
    first response = acknowledge (the resolution for a complaint resolved without recorded
    stages), final response = first resolution."""
    as_of = facts.options.as_of
    rows: Rows = []
    for c in facts.due(kind):
        due = _int(c.due)
        done = c.resolved
        if kind == "first" and c.acknowledged is not None:
            done = c.acknowledged
        if done is not None and done > as_of:
            done = None
        if done is not None:
            outcome = "met" if done <= due else "breached"
        else:
            outcome = "breached" if as_of > due else "pending"
        if outcome == key or (key == "n" and outcome != "pending"):
            rows.append(Member(c.id, (due, done, outcome)))
    columns = (Column("due_at", "time"), Column("completed_at", "time"), Column("deadline", "text"))
    return columns, rows


def _nps(facts: Facts, key: str) -> Selection:
    """Each complaint's latest score recorded by the as-of time, once (of scores in the same
    second, the highest; docs/metrics.md, "One follow-up per resolution")."""
    rows: Rows = []
    for c in facts.cohort:
        scored = [
            (at, score) for at, score, _, _ in facts.followups.get(c.id, []) if score is not None
        ]
        if not scored:
            continue
        recorded, score = max(scored)
        kind = "promoters" if score >= 9 else "detractors" if score <= 6 else "passives"
        if key in (kind, "n"):
            rows.append(Member(c.id, (recorded, score)))
    return (Column("recorded_at", "time"), Column("score", "number")), rows


def _backlog(facts: Facts, overdue: bool) -> Selection:
    m, target = facts.moment, facts.options.target_seconds
    rows: Rows = []
    for c in facts.backlog:
        age = facts.span(c.opened, m)
        if not overdue or age > target:
            rows.append(Member(c.id, (age, m)))
    return (Column("age_seconds", "seconds"), Column("open_at", "time")), rows


def _cohort_where(facts: Facts, wanted: Callable[[Case], bool], *columns: Column) -> Selection:
    """Cohort complaints `wanted` picks, with their resolution and `columns` (see `_value`)."""
    values = [_value(facts, column.name) for column in columns]
    resolution = facts.resolution
    rows: Rows = [
        Member(c.id, (*(value(c) for value in values), resolution[c.id], c.resolved))
        for c in facts.cohort
        if wanted(c)
    ]
    return (*columns, *RESOLVED), rows


def _value(facts: Facts, name: str) -> Callable[[Case], Any]:
    """How a cohort figure's own column is read for one complaint."""
    if name == "acknowledge_seconds":
        return lambda c: facts.span(c.opened, _int(c.acknowledged))
    if name == "reopened_at":
        return lambda c: facts.reopened.get(c.id)
    if name == "followed_up_at":
        return lambda c: facts.followups[c.id][0][0] if c.id in facts.followups else None
    if name == "root_cause":
        return lambda c: c.cause or NO_VALUE
    if name == "remedy_cents":
        return lambda c: facts.amounts.get(c.id)
    if name.endswith("_stage_seconds"):
        stage = name.removesuffix("_stage_seconds")
        return lambda c: facts.stages.get(c.id, {}).get(stage)
    raise ValueError(name)


SPEED = {label: i for i, label in enumerate(q.SPEED_BUCKETS)}


def _select(facts: Facts, path: tuple[str, ...]) -> Selection | None:
    """The complaints behind the figure at `path`, or None when `path` names no count."""
    target = facts.options.target_seconds
    every: Callable[[Case], bool] = lambda c: True  # noqa: E731
    match path:
        case ("opened",) | ("per_1000_active", "opened"):
            return (Column("opened_at", "time"),), [Member(c.id, (c.opened,)) for c in facts.opened]
        case ("resolved",) | ("resolution_time", "n") | ("within_target", "n"):
            return _resolution(facts, facts.cohort)
        case ("reopen_rate", "n") | ("followup_completion", "n"):
            return _resolution(facts, facts.cohort)
        case ("open_backlog",):
            return _backlog(facts, overdue=False)
        case ("overdue",):
            return _backlog(facts, overdue=True)
        case ("time_to_acknowledge", "n"):
            ack = Column("acknowledge_seconds", "seconds")
            return _cohort_where(facts, lambda c: c.acknowledged is not None, ack)
        case ("within_target", "count"):
            return _cohort_where(facts, lambda c: facts.resolution[c.id] <= target)
        case ("stages", stage, "n") if stage in STAGES:
            column = Column(f"{stage}_stage_seconds", "seconds")
            return _cohort_where(facts, lambda c: stage in facts.stages.get(c.id, {}), column)
        case ("reopen_rate", "count"):
            column = Column("reopened_at", "time")
            return _cohort_where(facts, lambda c: c.id in facts.reopened, column)
        case ("followup_completion", "count"):
            column = Column("followed_up_at", "time")
            return _cohort_where(facts, lambda c: c.id in facts.followups, column)
        case ("repurchase", key) if key in OUTCOME_KEYS:
            return _outcomes(facts, lambda c, s, sat: True, key)
        case ("repurchase_by_speed", label, key) if label in SPEED and key in OUTCOME_KEYS:
            bucket = SPEED[label]
            return _outcomes(
                facts, lambda c, s, sat: bisect_right(q.SPEED_LIMITS, s) == bucket, key
            )
        case ("repurchase_by_action", kind, key) if key in OUTCOME_KEYS:
            return _outcomes(facts, lambda c, s, sat: c.action == kind, key)
        case ("fast_and_satisfied", key) if key in OUTCOME_KEYS:
            return _outcomes(facts, lambda c, s, sat: s <= target and sat, key)
        case ("rest", key) if key in OUTCOME_KEYS:
            return _outcomes(facts, lambda c, s, sat: not (s <= target and sat), key)
        case ("nps", key) if key in NPS_KEYS:
            return _nps(facts, key)
        case ("deadlines", kind, key) if kind in DEADLINE_KINDS and key in DEADLINE_KEYS:
            return _deadline(facts, kind, key)
        case ("repeat", key) if key in REPEAT_KEYS:
            return _repeat(facts, every, key)
        case ("repeat_by_cause", cause, key) if key in REPEAT_KEYS:
            return _repeat(facts, lambda c: c.cause == cause, key)
        case ("repeat_by_agent", agent, key) if key in REPEAT_KEYS:
            return _repeat(facts, lambda c: c.agent == agent, key)
        case ("root_causes", cause, "count") | ("root_causes", cause, "resolution_time", "n"):
            return _cohort_where(facts, lambda c: c.cause == cause, Column("root_cause", "text"))
        case ("root_causes", cause, "repurchase", key) if key in OUTCOME_KEYS:
            return _outcomes(facts, lambda c, s, sat: c.cause == cause, key)
        case ("root_causes", cause, "repeat", key) if key in REPEAT_KEYS:
            return _repeat(facts, lambda c: c.cause == cause, key)
        case ("remedies", "by_action", kind, "complaints"):
            # A complaint with a Take action of that kind (recorded by T), as the cost counts.
            columns = (Column("remedy_cents", "cents"),)
            kinds = facts.remedy_kinds
            return _cohort_where(facts, lambda c: kind in kinds.get(c.id, ()), *columns)
        case ("remedies", "by_speed", label, "complaints") if label in SPEED:
            bucket, resolution = SPEED[label], facts.resolution
            columns = (Column("remedy_cents", "cents"),)
            return _cohort_where(
                facts,
                lambda c: bisect_right(q.SPEED_LIMITS, resolution[c.id]) == bucket,
                *columns,
            )
    return None


def detail(facts: Facts, name: FigureName) -> Detail:
    """The complaints behind the figure `name` of `facts`' period (and group), as many as the
    report counts (docs/metrics.md, "Drill-down")."""
    found = _select(facts, name.path)
    if found is None:
        raise InvalidValue(_unknown(name))
    columns, rows = found
    if name.group is not None:
        if facts.options.by is None:
            raise InvalidValue(
                f"--detail {name.text}:{name.group} names a group: add --by "
                "agent|channel|category|location."
            )
        chosen = _group_ids(facts, name.path, name.group)
        rows = [m for m in rows if m.complaint_id in chosen]
    members = tuple(rows)
    return Detail(
        figure=name.text,
        group=name.group,
        period=facts.period,
        columns=columns,
        members=members,
        unit="complaints",
    )


def _group_ids(facts: Facts, path: tuple[str, ...], group: str) -> set[int]:
    """The ids of the population behind `path` that belong to `group`; a group no complaint
    has is an error naming the near ones."""
    if path in (("opened",), ("per_1000_active", "opened")):
        population = facts.opened
    elif path in (("open_backlog",), ("overdue",)):
        population = facts.backlog
    elif path[0] == "deadlines":
        population = facts.due(path[1])
    else:
        population = facts.cohort
    chosen = {c.id for c in population if c.group == group}
    if not chosen and not _group_exists(facts, group):
        raise InvalidValue(_unknown_group(facts, group))
    return chosen


# At most this many groups are listed when a group is not found.
LISTED_GROUPS = 10


def _unknown_group(facts: Facts, group: str) -> str:
    """No complaint in `group`: every group when there are few, else the closest spellings,
    said to be the closest (docs/metrics.md, "Drill-down")."""
    by = facts.options.by
    known = _group_values(facts)
    start = f"No complaint has {by} {group!r}."
    if not known:
        return f"{start} No complaint has any {by} yet: give a figure without :GROUP."
    if len(known) <= LISTED_GROUPS:
        return f"{start} Give one of: {', '.join(known)}."
    near = difflib.get_close_matches(group, known, n=5, cutoff=0.4)
    shown = ", ".join(near or known[:LISTED_GROUPS])
    which = "closest" if near else f"first {LISTED_GROUPS}"
    return (
        f"{start} Give one of the {len(known)} groups the report shows with --by {by} "
        f"(the {which}: {shown})."
    )


def _group_exists(facts: Facts, group: str) -> bool:
    """Whether any complaint is in `group` (a group with no complaint in a figure counts 0);
    `group` is a label as the report shows it (`queries.label`)."""
    stored = q.labelled(group)
    if q.label(stored) != group:
        return False  # no value is shown as that
    value = q.group_column(facts.options.by)
    match = value.is_(None) if stored is None else value == stored
    query = select(q.table("complaint").c.id).where(match).limit(1)
    return facts.conn.execute(query).first() is not None


def _group_values(facts: Facts) -> list[str]:
    """The labels of every group a complaint is in, as the report sorts them (no value last)."""
    value = q.group_column(facts.options.by)
    found = facts.conn.execute(select(value).distinct()).scalars()
    return [q.label(v) for v in sorted(found, key=lambda v: (v is None, str(v)))]


def _unknown(name: FigureName) -> str:
    text = name.text
    path = name.path
    if path and (path[-1] in VALUE_KEYS or path[-1].endswith(VALUE_SUFFIXES)):
        return (
            f"--detail {text} is not a count of complaints (a median, a rate or an amount). "
            "Counts that can be opened: opened, resolved, open_backlog, overdue, the n and "
            "count of a figure, and outcome counts such as repurchase.lost."
        )
    generic = ".".join("<kind>" if i and p not in _KNOWN_KEYS else p for i, p in enumerate(path))
    near = difflib.get_close_matches(text, CATALOGUE, n=4, cutoff=0.5) or difflib.get_close_matches(
        generic, CATALOGUE, n=4, cutoff=0.5
    )
    listed = near or [c for c in CATALOGUE if "." not in c] + ["repurchase.lost", "..."]
    return f"--detail {text} is not a figure that can be opened. Try: {', '.join(listed)}."


_KNOWN_KEYS = frozenset(
    {*OUTCOME_KEYS, *REPEAT_KEYS, *DEADLINE_KEYS, *NPS_KEYS, "count", "complaints", "by_action"}
)
