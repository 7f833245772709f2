"""The LATTE rules: pure functions first, then properties over the real services and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from latte_cli import summary, workflow
from latte_cli.errors import InvalidValue, LatteError, StageOutOfOrder
from latte_cli.models import Complaint, Event, StageRecord
from latte_cli.services import complaints as svc
from latte_cli.services.views import replayed_state
from latte_cli.workflow import STAGES, Stage

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def opened() -> workflow.State:
    return workflow.apply(None, workflow.Opened(at=T0, agent="ana"))


def test_stages_must_follow_in_order() -> None:
    state = opened()
    at = T0
    for stage in STAGES:
        at += timedelta(minutes=5)
        state = workflow.apply(state, workflow.StageRecorded(stage=stage, at=at, agent="ana"))
    assert state.is_resolved
    assert state.first_resolved_at == state.resolved_at == at


def test_skipping_a_stage_names_the_stage_due() -> None:
    state = workflow.apply(opened(), workflow.StageRecorded(Stage.LISTEN, T0, "ana"))
    with pytest.raises(StageOutOfOrder, match="the stage due is acknowledge"):
        workflow.apply(state, workflow.StageRecorded(Stage.THANK, T0, "ana"))


def test_recording_a_stage_twice_is_refused() -> None:
    state = workflow.apply(opened(), workflow.StageRecorded(Stage.LISTEN, T0, "ana"))
    with pytest.raises(StageOutOfOrder, match="already recorded"):
        workflow.apply(state, workflow.StageRecorded(Stage.LISTEN, T0, "ana"))


def test_a_stage_cannot_complete_before_the_previous_one() -> None:
    state = workflow.apply(opened(), workflow.StageRecorded(Stage.LISTEN, T0, "ana"))
    with pytest.raises(InvalidValue, match="before the complaint's previous step"):
        workflow.apply(
            state, workflow.StageRecorded(Stage.ACKNOWLEDGE, T0 - timedelta(seconds=1), "ana")
        )


def test_reopen_keeps_first_resolution_and_returns_to_take_action() -> None:
    state = opened()
    at = T0
    for stage in STAGES:
        at += timedelta(hours=1)
        state = workflow.apply(state, workflow.StageRecorded(stage, at, "ana"))
    first = state.resolved_at
    state = workflow.apply(state, workflow.Reopened(at=at + timedelta(days=1), agent="ana"))
    assert state.stage_due is Stage.TAKE_ACTION and state.cycle == 1 and not state.is_resolved
    for stage in (Stage.TAKE_ACTION, Stage.THANK, Stage.EXPLAIN):
        at += timedelta(days=2)
        state = workflow.apply(state, workflow.StageRecorded(stage, at, "ana"))
    assert state.first_resolved_at == first
    assert state.resolved_at == at
    assert state.reopen_count == 1


def test_only_a_resolved_complaint_can_be_reopened() -> None:
    with pytest.raises(StageOutOfOrder, match="Only a resolved complaint"):
        workflow.apply(opened(), workflow.Reopened(at=T0, agent="ana"))


def test_stage_duration_runs_from_the_previous_step() -> None:
    state = opened()
    assert workflow.stage_duration(state, T0 + timedelta(minutes=2)) == timedelta(minutes=2)
    state = workflow.apply(state, workflow.StageRecorded(Stage.LISTEN, T0, "ana"))
    later = T0 + timedelta(hours=3)
    assert workflow.stage_duration(state, later) == timedelta(hours=3)


def test_parse_choice_lists_accepted_values() -> None:
    assert workflow.parse_choice(Stage, "Take-Action", what="Stage") is Stage.TAKE_ACTION
    with pytest.raises(InvalidValue, match="listen, acknowledge"):
        workflow.parse_choice(Stage, "pigeon", what="Stage")


# Properties over the real services ----------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("step"), st.sampled_from([s.value for s in STAGES])),
        st.tuples(st.just("transfer"), st.sampled_from(["ana", "sam", "lee"])),
        st.tuples(st.just("reopen"), st.just("")),
    ),
    max_size=14,
)

FIELDS = svc.StageInput(
    text="words",
    action_kind="refund",
    action_detail="refunded",
    amount="5",
    root_cause="delivery",
    what_will_change="better boxes",
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_any_sequence_of_operations_leaves_a_valid_replayable_complaint(
    session: Session, ops: list[tuple[str, str]]
) -> None:
    complaint = svc.open_complaint(
        session,
        new=svc.NewComplaint(channel="phone", category="delivery", listen="It broke"),
        agent="ana",
        at=T0,
    )
    assert complaint.id is not None
    cid = complaint.id
    at = T0
    for kind, arg in ops:
        at += timedelta(minutes=7)
        try:
            if kind == "step":
                svc.record_stage(
                    session, complaint_id=cid, stage=arg, given=FIELDS, agent="ana", at=at
                )
            elif kind == "transfer":
                svc.transfer(session, complaint_id=cid, to_agent=arg, note="over", agent="ana")
            else:
                svc.reopen(session, complaint_id=cid, reason="again", agent="ana", at=at)
        except LatteError:
            session.rollback()

    stored = session.exec(select(Complaint).where(Complaint.id == cid)).one()
    session.refresh(stored)
    records = session.exec(
        select(StageRecord).where(StageRecord.complaint_id == cid).order_by(StageRecord.id)
    ).all()
    # Each cycle's stages are a prefix of LATTE (cycle 0) or of take_action..explain (later).
    by_cycle: dict[int, list[str]] = {}
    for record in records:
        by_cycle.setdefault(record.cycle, []).append(record.stage)
    for cycle, stages in by_cycle.items():
        expected = [s.value for s in (STAGES if cycle == 0 else STAGES[2:])]
        assert stages == expected[: len(stages)]
    times = [r.completed_at for r in records]
    assert times == sorted(times)
    # The stored state is exactly what the event log replays to.
    replayed = replayed_state(session, cid)
    assert replayed is not None
    assert (replayed.stage_due.value if replayed.stage_due else None) == stored.stage_due
    assert replayed.assigned_agent == stored.assigned_agent
    assert replayed.cycle == stored.cycle == stored.reopen_count
    assert replayed.resolved_at == stored.resolved_at
    assert replayed.first_resolved_at == stored.first_resolved_at
    assert stored.resolved_epoch == (
        int(stored.resolved_at.timestamp()) if stored.resolved_at else None
    )
    events = session.exec(select(Event).where(Event.complaint_id == cid)).all()
    assert sum(e.kind == "stage" for e in events) == len(records)
    # The report summary followed every change the operations made.
    assert summary.differences(session.connection()) == (0, [])
