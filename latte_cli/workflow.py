"""The LATTE stage rules as pure functions: no database, no I/O.

A complaint's state is a fold over its events. Services ask `apply` whether an event is allowed
(it raises `StageOutOfOrder` or `InvalidValue` if not) and store the event together with the new
state; `replay` rebuilds the state from a stored event log, which is how tests and
`latte db check` prove the two never drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from latte_cli.errors import InvalidValue, StageOutOfOrder
from latte_cli.timeutil import shown


class Stage(StrEnum):
    LISTEN = "listen"
    ACKNOWLEDGE = "acknowledge"
    TAKE_ACTION = "take_action"
    THANK = "thank"
    EXPLAIN = "explain"


STAGES: tuple[Stage, ...] = tuple(Stage)
E = TypeVar("E", bound=StrEnum)
REOPEN_STAGE = Stage.TAKE_ACTION
# The largest amount of money one record holds (a remedy, a purchase line), in cents: they are
# stored in 32-bit integer columns on PostgreSQL, and the sum of two still fits one.
MAX_CENTS = 1_000_000_000
# Who recorded the rows an import brought without an agent: `import:FILE`, a file, never a
# person, so never a known agent to hand a complaint to (docs/architecture.md, "Batch import").
IMPORTED_BY = "import:"


# Channels, severities, action kinds and root causes are data, not code: see
# latte_cli/vocabulary.py (docs/architecture.md, vocabularies).


def parse_choice(enum: type[E], value: str, *, what: str) -> E:
    """`value` as a member of `enum`, or InvalidValue listing the accepted values."""
    normalised = value.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return enum(normalised)
    except ValueError:
        accepted = ", ".join(member.value for member in enum)
        raise InvalidValue(f"{what} {value!r} is not one of: {accepted}.") from None


# Events -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    at: datetime
    # The agent the complaint is assigned to; None leaves it in the queue.
    agent: str | None


@dataclass(frozen=True)
class StageRecorded:
    stage: Stage
    at: datetime
    agent: str


@dataclass(frozen=True)
class Transferred:
    to_agent: str
    at: datetime
    agent: str


@dataclass(frozen=True)
class Reopened:
    at: datetime
    agent: str


@dataclass(frozen=True)
class Resolved:
    """Resolution known without its stages: a complaint imported from a system that only
    recorded when it was resolved. The stages it never recorded stay without times."""

    at: datetime
    agent: str


@dataclass(frozen=True)
class Merged:
    """Closed as a duplicate of complaint `into`: its words and steps are read in the target's
    timeline, and it counts in no report figure (docs/metrics.md, "Merged duplicates")."""

    into: int
    at: datetime
    agent: str


Event = Opened | StageRecorded | Transferred | Reopened | Resolved | Merged


@dataclass(frozen=True)
class State:
    """What the workflow knows about one complaint."""

    opened_at: datetime
    assigned_agent: str | None
    stage_due: Stage | None = Stage.LISTEN
    cycle: int = 0
    first_resolved_at: datetime | None = None
    resolved_at: datetime | None = None
    reopen_count: int = 0
    last_completed_at: datetime | None = None
    # The complaint this one was merged into: terminal, nothing more is recorded on it.
    merged_into: int | None = None

    @property
    def is_resolved(self) -> bool:
        return self.stage_due is None

    @property
    def is_merged(self) -> bool:
        return self.merged_into is not None


def status(stage_due: str | None, merged_into: int | None) -> str:
    """A complaint's status as every view and filter names it (docs/architecture.md, "One
    rule, one place"): `merged` for a duplicate merged into another (closed for good, its
    target carries on), else `open` while a stage is due, else `resolved`."""
    if merged_into is not None:
        return "merged"
    return "open" if stage_due else "resolved"


def next_stage(stage: Stage) -> Stage | None:
    index = STAGES.index(stage)
    return STAGES[index + 1] if index + 1 < len(STAGES) else None


def stages_from(stage: Stage) -> tuple[Stage, ...]:
    """`stage` and the stages after it, in order."""
    return STAGES[STAGES.index(stage) :]


def cycle_stages(cycle: int) -> tuple[Stage, ...]:
    """The stages a cycle records, in order: all of them, or from REOPEN_STAGE after a reopening."""
    return STAGES if cycle == 0 else stages_from(REOPEN_STAGE)


def _refuse_merged(state: State) -> None:
    """A merged complaint is closed for good: its target carries on."""
    if state.merged_into is not None:
        raise StageOutOfOrder(
            f"The complaint was merged into complaint {state.merged_into}: "
            f"work on that one (latte show {state.merged_into})."
        )


def check_stage(state: State, stage: Stage) -> None:
    """Raise StageOutOfOrder unless `stage` is the one due."""
    _refuse_merged(state)
    if state.stage_due is None:
        raise StageOutOfOrder(
            f"The complaint is resolved; {stage.value} cannot be recorded. "
            "Reopen it first with `latte reopen ID --reason TEXT`."
        )
    if stage != state.stage_due:
        done = STAGES.index(stage) < STAGES.index(state.stage_due)
        problem = "was already recorded" if done else "cannot be recorded yet"
        raise StageOutOfOrder(
            f"Stage {stage.value} {problem}: the stage due is {state.stage_due.value}."
        )


def _check_time(state: State, at: datetime) -> None:
    """Refuse a step before the previous one. The commands that take `--at` refuse it first,
    naming the times in the user's zone; the workflow knows no zone, so what reaches this
    (`latte db check` replaying a damaged event log) names them in UTC, with the offset."""
    floor = state.last_completed_at or state.opened_at
    if at < floor:
        raise InvalidValue(
            f"The time {shown(at, UTC)} is before the complaint's previous step "
            f"({shown(floor, UTC)}). Give a later time."
        )


def apply(state: State | None, event: Event) -> State:
    """The state after `event`, or an error saying why the event is not allowed."""
    if isinstance(event, Opened):
        if state is not None:
            raise InvalidValue("The complaint is already open.")
        return State(opened_at=event.at, assigned_agent=event.agent)
    if state is None:
        raise InvalidValue("The complaint has not been opened.")
    _refuse_merged(state)
    if isinstance(event, Merged):
        _check_time(state, event.at)
        # Closed where it stood: its first resolution, if any, stays on record.
        return replace(state, stage_due=None, merged_into=event.into, last_completed_at=event.at)
    if isinstance(event, StageRecorded):
        check_stage(state, event.stage)
        _check_time(state, event.at)
        due = next_stage(event.stage)
        resolved = due is None
        return replace(
            state,
            stage_due=due,
            last_completed_at=event.at,
            resolved_at=event.at if resolved else state.resolved_at,
            first_resolved_at=(state.first_resolved_at or event.at)
            if resolved
            else state.first_resolved_at,
        )
    if isinstance(event, Transferred):
        if event.to_agent == state.assigned_agent:
            raise InvalidValue(f"The complaint is already assigned to {event.to_agent}.")
        return replace(state, assigned_agent=event.to_agent)
    if isinstance(event, Reopened):
        if not state.is_resolved:
            raise StageOutOfOrder(
                "Only a resolved complaint can be reopened; this one is open "
                f"(stage due: {state.stage_due})."
            )
        _check_time(state, event.at)
        return replace(
            state,
            stage_due=REOPEN_STAGE,
            cycle=state.cycle + 1,
            reopen_count=state.reopen_count + 1,
            last_completed_at=event.at,
        )
    if isinstance(event, Resolved):
        if state.is_resolved:
            raise StageOutOfOrder("The complaint is already resolved.")
        _check_time(state, event.at)
        return replace(
            state,
            stage_due=None,
            last_completed_at=event.at,
            resolved_at=event.at,
            first_resolved_at=state.first_resolved_at or event.at,
        )
    raise TypeError(f"unknown event {event!r}")


def stage_duration(state: State, completed_at: datetime) -> timedelta:
    """Time spent in the stage completed at `completed_at` (docs/metrics.md, time per stage).

    `listen` runs from the opening; every later stage from the previous stage's completion
    (after a reopening, from the reopening).
    """
    return completed_at - (state.last_completed_at or state.opened_at)


def replay(events: Iterable[Event]) -> State | None:
    state: State | None = None
    for event in events:
        state = apply(state, event)
    return state


# The SLA target ------------------------------------------------------------------------------
# Counted in calendar hours from the opening: nights, weekends and holidays count like any hour.


def sla_due(opened_at: datetime, target_hours: float) -> datetime:
    """When a complaint opened at `opened_at` reaches the SLA target (in UTC)."""
    return _utc(opened_at) + timedelta(hours=target_hours)


def sla_left(opened_at: datetime, now: datetime, target_hours: float) -> timedelta:
    """Time left until the SLA target: zero at the target, negative past it."""
    return sla_due(opened_at, target_hours) - _utc(now)


def overdue_by(opened_at: datetime, now: datetime, target_hours: float) -> timedelta | None:
    """How far past the SLA target an open complaint is at `now`; None until it is past."""
    left = sla_left(opened_at, now, target_hours)
    return -left if left < timedelta(0) else None


def overdue_cutoff(now: datetime, target_hours: float) -> datetime:
    """Open complaints opened before this moment are past the SLA target at `now`."""
    return _utc(now) - timedelta(hours=target_hours)


def _utc(moment: datetime) -> datetime:
    # Aware times in one zone subtract as wall-clock times; in UTC every hour is an hour, also
    # across a daylight-saving change.
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment


# A complaint opened without a summary takes the first line of the customer's words, cut here:
# `latte new` and `latte import` alike.
DEFAULT_SUMMARY_CHARS = 120


def default_summary(listen: str) -> str:
    """The summary of a complaint opened without one: the first line of the customer's words."""
    return listen.strip().splitlines()[0][:DEFAULT_SUMMARY_CHARS] if listen.strip() else ""
