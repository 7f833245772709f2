"""Correcting what a recorded stage says, with the original kept in the event log.

An amendment changes the words, kind, amount, options, root cause or planned change of one
stage record; never its time, agent, duration or place in the order, so the workflow state
and every duration stay as they were. The `amended` event holds the before and after of
exactly the fields that changed, who, when and why. Reports read the stage records and the
complaint's latest action kind and root cause, so they use the corrected values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from latte_cli import vocabulary, workflow
from latte_cli.errors import InvalidValue, NotFound
from latte_cli.events import AmendedDetails, EventKind
from latte_cli.models import Complaint, Event, StageRecord
from latte_cli.services.complaints import MAX_TEXT, _required, get_complaint, parse_amount
from latte_cli.services.eventlog import log_event
from latte_cli.timeutil import utcnow
from latte_cli.workflow import Stage


@dataclass(frozen=True)
class Correction:
    """What an agent wants a recorded stage to say; None leaves a field as it is."""

    text: str | None = None
    action_kind: str | None = None
    action_detail: str | None = None
    # An empty text clears the amount.
    amount: str | None = None
    # Replaces the options offered; None leaves them.
    options_offered: tuple[str, ...] | None = None
    root_cause: str | None = None
    what_will_change: str | None = None


# The free texts a correction can set: never written again on an erased complaint.
FREE_TEXTS = {"text": "--text", "action_detail": "--detail", "what_will_change": "--change",
              "options_offered": "--option"}  # fmt: skip

# Which stage each field belongs to, and the flag that sets it (for refusals).
STAGE_OF_FIELD: dict[str, tuple[Stage, str]] = {
    "action_kind": (Stage.TAKE_ACTION, "--kind"),
    "action_detail": (Stage.TAKE_ACTION, "--detail"),
    "amount": (Stage.TAKE_ACTION, "--amount"),
    "options_offered": (Stage.TAKE_ACTION, "--option"),
    "root_cause": (Stage.EXPLAIN, "--root-cause"),
    "what_will_change": (Stage.EXPLAIN, "--change"),
}


@dataclass(frozen=True)
class Amendment:
    complaint: Complaint
    stage: Stage
    cycle: int
    before: dict[str, Any]
    after: dict[str, Any]


def _options(stored: str | None) -> list[str] | None:
    return json.loads(stored) if stored else None


def _wanted(stage: Stage, given: Correction) -> dict[str, Any]:
    """The stage_record columns the correction sets, parsed and checked."""
    for name, (owner, flag) in STAGE_OF_FIELD.items():
        if getattr(given, name) is not None and stage is not owner:
            raise InvalidValue(f"{flag} applies to {owner.value}, not {stage.value}.")
    wanted: dict[str, Any] = {}
    if given.text is not None:
        wanted["text"] = _required(given.text, f"The {stage.value} text", "--text", MAX_TEXT)
    if given.action_kind is not None:
        wanted["action_kind"] = vocabulary.parse("action_kind", given.action_kind)
    if given.action_detail is not None:
        wanted["action_detail"] = _required(given.action_detail, "The action detail", "--detail")
    if given.amount is not None:
        wanted["amount_cents"] = parse_amount(given.amount)
    if given.options_offered is not None:
        options = [o.strip() for o in given.options_offered if o.strip()]
        wanted["options_offered"] = options or None
    if given.root_cause is not None:
        wanted["root_cause"] = vocabulary.parse("root_cause", given.root_cause)
    if given.what_will_change is not None:
        wanted["what_will_change"] = _required(
            given.what_will_change, "What will change", "--change"
        )
    return wanted


def _keep_together(record: StageRecord, wanted: dict[str, Any]) -> None:
    """Take action's text and detail both say what was done (`latte step` fills one from the
    other; `latte show` shows the detail): `--text` alone corrects the detail too, and
    `--detail` alone the text too when it said the same as the detail."""
    if "text" in wanted and "action_detail" not in wanted:
        wanted["action_detail"] = wanted["text"]
    elif "action_detail" in wanted and "text" not in wanted and record.text == record.action_detail:
        wanted["text"] = wanted["action_detail"]


def _erased(session: Session, complaint_id: int) -> bool:
    """Whether the complaint's free texts were erased (`latte customer forget`, `latte db
    retain`: its `erased` event; docs/architecture.md, "Customer data")."""
    found = select(Event.id).where(
        Event.complaint_id == complaint_id, Event.kind == EventKind.ERASED.value
    )
    return session.exec(found).first() is not None


def _recorded(
    session: Session, complaint: Complaint, stage: Stage, cycle: int | None
) -> tuple[int, StageRecord]:
    """(cycle index, record) of the stage to amend: the current cycle's, or `cycle`'s
    (counted from 1); NotFound when that stage was not recorded."""
    if cycle is not None and not 1 <= cycle <= complaint.cycle + 1:
        raise InvalidValue(
            f"Complaint {complaint.id} has {complaint.cycle + 1} cycle(s): give --cycle from 1 "
            f"to {complaint.cycle + 1}."
        )
    index = complaint.cycle if cycle is None else cycle - 1
    record = session.exec(
        select(StageRecord).where(
            StageRecord.complaint_id == complaint.id,
            StageRecord.cycle == index,
            StageRecord.stage == stage.value,
        )
    ).first()
    if record is None:
        raise NotFound(
            f"Stage {stage.value} was not recorded in cycle {index + 1} of complaint "
            f"{complaint.id}: only recorded stages can be amended (see latte show "
            f"{complaint.id})."
        )
    return index, record


def _refuse_erased(session: Session, complaint_id: int, texts: list[str]) -> None:
    """InvalidValue when free texts (`texts`, their flags) would be written into an erased
    complaint: erased words are not written back."""
    if texts and _erased(session, complaint_id):
        raise InvalidValue(
            f"Complaint {complaint_id} was erased (its customer forgotten, or its retention "
            f"period over): {', '.join(texts)} would write its words again. Correct only "
            "--kind, --amount or --root-cause."
        )


def text_to_edit(
    session: Session, *, complaint_id: int, stage: str, cycle: int | None = None
) -> str:
    """What `latte amend --edit` opens the editor with: the recorded stage's text (take_action:
    its detail). Refused before any editing as `amend_stage` would refuse after it: a stage not
    recorded, an erased complaint."""
    wanted_stage = workflow.parse_choice(Stage, stage, what="Stage")
    complaint = get_complaint(session, complaint_id)
    _, record = _recorded(session, complaint, wanted_stage, cycle)
    take_action = wanted_stage is Stage.TAKE_ACTION
    _refuse_erased(session, complaint_id, ["--detail" if take_action else "--text"])
    return (record.action_detail if take_action else record.text) or ""


def amend_stage(
    session: Session,
    *,
    complaint_id: int,
    stage: str,
    given: Correction,
    reason: str,
    agent: str,
    cycle: int | None = None,
) -> Amendment:
    """Correct a recorded stage of the current cycle (or `cycle`, counted from 1) and commit.

    Refused when the stage was not recorded, a value is not in the vocabulary, or nothing
    changes.
    """
    reason = _required(reason, "The reason", "--reason")
    wanted_stage = workflow.parse_choice(Stage, stage, what="Stage")
    complaint = get_complaint(session, complaint_id, for_update=True)
    index, record = _recorded(session, complaint, wanted_stage, cycle)
    wanted = _wanted(wanted_stage, given)
    _refuse_erased(session, complaint_id, [f for n, f in FREE_TEXTS.items() if n in wanted])
    if wanted_stage is Stage.TAKE_ACTION:
        _keep_together(record, wanted)
    if not wanted:
        raise InvalidValue(
            "Nothing to change: pass --text, or for take_action --kind, --detail, --amount, "
            "--option, for explain --root-cause, --change."
        )
    current: dict[str, Any] = {
        name: _options(record.options_offered)
        if name == "options_offered"
        else getattr(record, name)
        for name in wanted
    }
    before = {name: current[name] for name in wanted if current[name] != wanted[name]}
    after = {name: wanted[name] for name in before}
    if not after:
        raise InvalidValue(
            f"Nothing changes: stage {wanted_stage.value} already says that. Give a different "
            "value."
        )
    for name, value in after.items():
        stored = json.dumps(value) if name == "options_offered" and value else value
        setattr(record, name, stored)
    session.add(record)
    # The complaint keeps the latest take_action's kind and explain's root cause (reports group
    # on them): a correction of the latest one changes them too.
    later = session.exec(
        select(col(StageRecord.id)).where(
            StageRecord.complaint_id == complaint_id,
            StageRecord.stage == wanted_stage.value,
            StageRecord.cycle > index,
        )
    ).first()
    if later is None:
        if "action_kind" in after:
            complaint.action_kind = after["action_kind"]
        if "root_cause" in after:
            complaint.root_cause = after["root_cause"]
    now = utcnow()
    complaint.updated_at = now
    session.add(complaint)
    log_event(
        session,
        complaint_id=complaint_id,
        at=now,
        agent=agent,
        details=AmendedDetails(
            stage=wanted_stage, cycle=index, before=before, after=after, reason=reason
        ),
    )
    session.commit()
    return Amendment(complaint, wanted_stage, index, before, after)
