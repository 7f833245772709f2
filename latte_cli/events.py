"""The event log's one contract: what kinds of event there are and how their details are stored.

Every change to a complaint appends a row to the `event` table: `kind` names what happened and
`data` holds the details as a JSON object (see `docs/architecture.md`). This module alone turns
typed details into that pair (`encode`) and back (`decode`), in the spirit of django-helpdesk's
`TicketChange(field, old_value, new_value)`: one frozen dataclass per kind. `workflow_events`
turns stored rows into `workflow` events, so that replaying the log rebuilds a complaint's state.

The stored strings are those latte has always written, so existing databases read unchanged.
Adding a kind: add its `EventKind` member and a details dataclass with `kind`, `from_data`
and `to_workflow`, and list it in `DETAILS`. No other module compares kinds with strings.

Pure: no database, no I/O, no CLI libraries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, ClassVar, Protocol, get_args

from latte_cli import workflow
from latte_cli.errors import InvalidValue
from latte_cli.workflow import Stage


class EventKind(StrEnum):
    OPENED = "opened"
    STAGE = "stage"
    TRANSFER = "transfer"
    REOPEN = "reopen"
    # Resolved without its stages: only an import from a system that recorded no stages.
    RESOLVED = "resolved"
    FOLLOWUP = "followup"
    # Descriptive fields changed by a re-import.
    UPDATED = "updated"
    # The customer's identity and every free text of the complaint were erased (`latte customer
    # forget`, retention): the details say why, never what was erased (docs/architecture.md).
    ERASED = "erased"
    # A legal hold placed on the complaint or its customer, and its release: retention and
    # forgetting leave a held complaint as it is (docs/architecture.md, "Customer data").
    HELD = "held"
    RELEASED = "released"
    # What a recorded stage says was corrected (`latte amend`): before and after of the
    # changed fields, and why. The stage keeps its time and place in the order.
    AMENDED = "amended"
    # Closed as a duplicate of another complaint (`latte merge`): a terminal state.
    MERGED = "merged"
    # The complaint's customer's details were corrected (`latte customer edit`).
    CUSTOMER_EDITED = "customer_edited"
    # The complaint moved to another customer record (`latte customer merge`).
    CUSTOMER_MERGED = "customer_merged"
    # An update sent to the customer while the complaint is handled (`latte update`; ISO
    # 10002 asks that the customer be kept informed): no stage, shown in the timeline.
    CUSTOMER_UPDATE = "customer_update"


# The kinds that complete a step of the workflow: the next step may not be earlier.
STEP_KINDS: tuple[EventKind, ...] = (EventKind.STAGE, EventKind.RESOLVED, EventKind.REOPEN)
# The kinds a complaint's timeline shows between its stages.
HANDOFF_KINDS: tuple[EventKind, ...] = (EventKind.TRANSFER, EventKind.REOPEN, EventKind.MERGED)

# A details field with this metadata is left out of the JSON while it is None, as latte
# has always written it.
OMIT_IF_NONE = {"omit_if_none": True}


class StoredEvent(Protocol):
    """An event row as read from the database (the `Event` model or a result row)."""

    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def agent(self) -> str: ...
    @property
    def data(self) -> str: ...


@dataclass(frozen=True)
class OpenedDetails:
    # None leaves the complaint unassigned, in the queue for `latte next`.
    assigned_agent: str | None
    source: str | None = field(default=None, metadata=OMIT_IF_NONE)
    kind: ClassVar[EventKind] = EventKind.OPENED

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> OpenedDetails:
        return cls(assigned_agent=data.get("assigned_agent", row.agent), source=data.get("source"))

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event:
        return workflow.Opened(at=at, agent=self.assigned_agent)


@dataclass(frozen=True)
class StageDetails:
    stage: Stage
    cycle: int
    kind: ClassVar[EventKind] = EventKind.STAGE

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> StageDetails:
        return cls(stage=Stage(data["stage"]), cycle=int(data["cycle"]))

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event:
        return workflow.StageRecorded(stage=self.stage, at=at, agent=agent)


@dataclass(frozen=True)
class TransferDetails:
    from_agent: str | None
    to_agent: str
    note: str
    kind: ClassVar[EventKind] = EventKind.TRANSFER

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> TransferDetails:
        return cls(
            from_agent=data.get("from_agent"), to_agent=data["to_agent"], note=data.get("note", "")
        )

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event:
        return workflow.Transferred(to_agent=self.to_agent, at=at, agent=agent)


@dataclass(frozen=True)
class ReopenDetails:
    reason: str
    cycle: int
    kind: ClassVar[EventKind] = EventKind.REOPEN

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> ReopenDetails:
        return cls(reason=data.get("reason", ""), cycle=int(data["cycle"]))

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event:
        return workflow.Reopened(at=at, agent=agent)


@dataclass(frozen=True)
class ResolvedDetails:
    kind: ClassVar[EventKind] = EventKind.RESOLVED

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> ResolvedDetails:
        return cls()

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event:
        return workflow.Resolved(at=at, agent=agent)


@dataclass(frozen=True)
class FollowUpDetails:
    reached: bool | None
    satisfied: bool | None = None
    nps: int | None = None
    repurchased: bool | None = None
    kind: ClassVar[EventKind] = EventKind.FOLLOWUP

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> FollowUpDetails:
        return cls(
            reached=data.get("reached"),
            satisfied=data.get("satisfied"),
            nps=data.get("nps"),
            repurchased=data.get("repurchased"),
        )

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event | None:
        return None  # the call after the fix changes no stage


@dataclass(frozen=True)
class UpdatedDetails:
    changed: tuple[str, ...]
    source: str | None = field(default=None, metadata=OMIT_IF_NONE)
    kind: ClassVar[EventKind] = EventKind.UPDATED

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> UpdatedDetails:
        return cls(changed=tuple(data.get("changed", ())), source=data.get("source"))

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event | None:
        return None  # descriptive fields only


@dataclass(frozen=True)
class ErasedDetails:
    reason: str
    kind: ClassVar[EventKind] = EventKind.ERASED

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> ErasedDetails:
        return cls(reason=data.get("reason", ""))

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event | None:
        return None  # the record keeps its stages and times


@dataclass(frozen=True)
class HeldDetails:
    hold_id: int
    # "complaint" or "customer": what the hold was placed on.
    scope: str
    reason: str
    kind: ClassVar[EventKind] = EventKind.HELD

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> HeldDetails:
        return cls(hold_id=int(data["hold_id"]), scope=data["scope"], reason=data.get("reason", ""))

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event | None:
        return None  # a hold changes no stage


@dataclass(frozen=True)
class ReleasedDetails:
    hold_id: int
    scope: str
    reason: str
    kind: ClassVar[EventKind] = EventKind.RELEASED

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> ReleasedDetails:
        return cls(hold_id=int(data["hold_id"]), scope=data["scope"], reason=data.get("reason", ""))

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event | None:
        return None


@dataclass(frozen=True)
class AmendedDetails:
    stage: Stage
    cycle: int
    # Only the fields that changed, by their stage_record column names; amounts in cents.
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    reason: str
    kind: ClassVar[EventKind] = EventKind.AMENDED

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> AmendedDetails:
        return cls(
            stage=Stage(data["stage"]),
            cycle=int(data["cycle"]),
            before=dict(data["before"]),
            after=dict(data["after"]),
            reason=data.get("reason", ""),
        )

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event | None:
        return None  # the stage keeps its time and its place in the order


@dataclass(frozen=True)
class MergedDetails:
    into: int
    reason: str
    kind: ClassVar[EventKind] = EventKind.MERGED

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> MergedDetails:
        return cls(into=int(data["into"]), reason=data.get("reason", ""))

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event:
        return workflow.Merged(into=self.into, at=at, agent=agent)


@dataclass(frozen=True)
class CustomerEditedDetails:
    customer_id: int
    # Only the fields that changed: ref, name, email, phone.
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    reason: str
    kind: ClassVar[EventKind] = EventKind.CUSTOMER_EDITED

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> CustomerEditedDetails:
        return cls(
            customer_id=int(data["customer_id"]),
            before=dict(data["before"]),
            after=dict(data["after"]),
            reason=data.get("reason", ""),
        )

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event | None:
        return None  # descriptive fields only


@dataclass(frozen=True)
class CustomerMergedDetails:
    from_customer: int
    to_customer: int
    reason: str
    kind: ClassVar[EventKind] = EventKind.CUSTOMER_MERGED

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> CustomerMergedDetails:
        return cls(
            from_customer=int(data["from_customer"]),
            to_customer=int(data["to_customer"]),
            reason=data.get("reason", ""),
        )

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event | None:
        return None  # the complaint's state is unchanged


@dataclass(frozen=True)
class CustomerUpdateDetails:
    text: str
    # The channel the update went by (a vocabulary value), None when not said.
    channel: str | None = None
    kind: ClassVar[EventKind] = EventKind.CUSTOMER_UPDATE

    @classmethod
    def from_data(cls, data: Mapping[str, Any], row: StoredEvent) -> CustomerUpdateDetails:
        return cls(text=data.get("text", ""), channel=data.get("channel"))

    def to_workflow(self, at: datetime, agent: str) -> workflow.Event | None:
        return None  # keeping the customer informed changes no stage


# Every kind's details, listed once: the type `Details` and the table `DETAILS` both follow.
Details = (
    OpenedDetails
    | StageDetails
    | TransferDetails
    | ReopenDetails
    | ResolvedDetails
    | FollowUpDetails
    | UpdatedDetails
    | ErasedDetails
    | HeldDetails
    | ReleasedDetails
    | AmendedDetails
    | MergedDetails
    | CustomerEditedDetails
    | CustomerMergedDetails
    | CustomerUpdateDetails
)
DETAILS: dict[EventKind, type[Details]] = {cls.kind: cls for cls in get_args(Details)}
assert set(DETAILS) == set(EventKind), "every EventKind needs its details class in Details"

# What erased free text reads as, in every column and event detail it sat in.
ERASED_TEXT = "[erased]"


def without_free_text(details: Details) -> Details:
    """The details with the free text people wrote (transfer notes, reopening reasons, the
    reasons of legal holds, updates sent to the customer) replaced by `ERASED_TEXT`; kinds,
    stages, agents and cycles are kept, so replay is unchanged."""
    if isinstance(details, TransferDetails) and details.note:
        return replace(details, note=ERASED_TEXT)
    if isinstance(details, ReopenDetails | HeldDetails | ReleasedDetails) and details.reason:
        return replace(details, reason=ERASED_TEXT)
    if isinstance(details, AmendedDetails | CustomerEditedDetails):
        return replace(
            details,
            before=_erased_texts(details.before),
            after=_erased_texts(details.after),
            reason=ERASED_TEXT if details.reason else details.reason,
        )
    if isinstance(details, MergedDetails | CustomerMergedDetails) and details.reason:
        return replace(details, reason=ERASED_TEXT)
    if isinstance(details, CustomerUpdateDetails) and details.text:
        return replace(details, text=ERASED_TEXT)
    return details


# Amended stage fields that are not free text: kept by an erasure, as the stage row keeps them.
NOT_FREE_TEXT = frozenset({"action_kind", "amount_cents", "root_cause"})


def _erased_texts(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value if name in NOT_FREE_TEXT or value is None else ERASED_TEXT
        for name, value in values.items()
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def as_data(details: Details) -> dict[str, Any]:
    """The details as the JSON object stored in the `data` column."""
    return {
        f.name: _plain(getattr(details, f.name))
        for f in fields(details)
        if not (f.metadata.get("omit_if_none") and getattr(details, f.name) is None)
    }


def encode(details: Details) -> tuple[EventKind, str]:
    """The `kind` and `data` columns of an event row with these details."""
    return details.kind, json.dumps(as_data(details), sort_keys=True)


def decode(row: StoredEvent) -> Details:
    """The typed details of a stored event; InvalidValue if its kind or data is unknown."""
    try:
        kind = EventKind(row.kind)
    except ValueError:
        known = ", ".join(k.value for k in EventKind)
        raise InvalidValue(
            f"The event log holds an event of unknown kind {row.kind!r} (known: {known}). "
            "It was written by a newer latte or another program; upgrade latte to read it."
        ) from None
    try:
        data = json.loads(row.data)
        return DETAILS[kind].from_data(data, row)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise InvalidValue(
            f"The details of a {kind.value!r} event cannot be read ({error!r}): {row.data!r}."
        ) from None


def workflow_event(row: StoredEvent) -> workflow.Event | None:
    """The workflow event a stored row stands for; None if it changes no workflow state."""
    return decode(row).to_workflow(row.at, row.agent)


def workflow_events(rows: Iterable[StoredEvent]) -> list[workflow.Event]:
    """The stored event log as workflow events, for `workflow.replay`."""
    return [event for row in rows if (event := workflow_event(row)) is not None]
