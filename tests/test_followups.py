"""Follow-ups: scheduled with explain (flags or guided), listed, and recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from sqlmodel import Session, col, select

from latte_cli.cli import guided
from latte_cli.cli.prompts import Prompter
from latte_cli.models import Complaint, Event, FollowUp
from tests.conftest import Latte


def resolved(latte: Latte, *extra: str, at: datetime | None = None, agent: str = "ana") -> str:
    """A complaint taken through the five stages with flags; returns its id."""
    when = ["--at", at.isoformat()] if at else []
    cid = latte.ok(
        "--agent", agent, "new", "--customer", "C-1", "--name", "Ana", "--channel", "phone",
        "--category", "delivery", "--listen", "Broken", *when,
    ).stdout.strip()  # fmt: skip
    for stage, flags in (
        ("acknowledge", ["--text", "Sorry"]),
        ("take_action", ["--kind", "refund", "--detail", "Refunded"]),
        ("thank", ["--text", "Thanks"]),
        ("explain", ["--root-cause", "delivery", "--change", "Padding", *extra]),
    ):
        latte.ok("--agent", agent, "step", cid, stage, *flags, *when)
    return cid


def followups(session: Session) -> list[FollowUp]:
    rows = list(
        session.exec(
            select(FollowUp).order_by(col(FollowUp.id)).execution_options(populate_existing=True)
        ).all()
    )
    session.commit()
    return rows


def test_explain_with_flags_schedules_a_followup_three_days_later(
    latte: Latte, session: Session
) -> None:
    cid = resolved(latte)
    (followup,) = followups(session)
    complaint = session.get(Complaint, int(cid))
    session.commit()
    assert complaint is not None and complaint.resolved_at is not None
    assert followup.due_at == complaint.resolved_at + timedelta(days=3)
    assert followup.recorded_at is None


@pytest.mark.parametrize(("env", "flag", "days"), [("7", None, 7), ("7", "1", 1), ("0", None, 0)])
def test_followup_days_from_env_and_flag(
    latte: Latte,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    env: str,
    flag: str | None,
    days: int,
) -> None:
    monkeypatch.setenv("LATTE_FOLLOWUP_DAYS", env)
    resolved(latte, *(["--followup-days", flag] if flag else []))
    (followup,) = followups(session)
    complaint = session.exec(select(Complaint)).one()
    session.commit()
    assert complaint.resolved_at is not None and followup.due_at is not None
    assert followup.due_at - complaint.resolved_at == timedelta(days=days)


def test_bad_followup_days_is_refused_and_nothing_is_resolved(
    latte: Latte, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LATTE_FOLLOWUP_DAYS", "soon")
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "y")
    for stage, flags in (
        ("acknowledge", ["--text", "a"]),
        ("take_action", ["--kind", "refund", "--detail", "d"]),
        ("thank", ["--text", "t"]),
    ):
        latte.ok("step", "1", stage, *flags)
    result = latte("step", "1", "explain", "--root-cause", "delivery", "--change", "c")
    assert result.exit_code == 1
    assert "LATTE_FOLLOWUP_DAYS" in result.output and "whole number" in result.output
    complaint = session.exec(select(Complaint)).one()
    session.commit()
    assert complaint.stage_due == "explain"
    assert followups(session) == []


def test_reopen_and_resolve_again_moves_the_pending_followup(
    latte: Latte, session: Session
) -> None:
    cid = resolved(latte)
    latte.ok("reopen", cid, "--reason", "Broke again")
    latte.ok("step", cid, "take_action", "--kind", "replacement", "--detail", "New one")
    latte.ok("step", cid, "thank", "--text", "Thanks")
    latte.ok("step", cid, "explain", "--root-cause", "product_defect", "--change", "QA")
    rows = followups(session)
    complaint = session.get(Complaint, int(cid))
    session.commit()
    assert len(rows) == 1
    assert complaint is not None and complaint.resolved_at is not None
    assert rows[0].due_at == complaint.resolved_at + timedelta(days=3)


def test_list_due_overdue_and_mine(latte: Latte) -> None:
    now = datetime.now(UTC)
    old = resolved(latte, at=now - timedelta(days=6))  # due 3 days ago: overdue
    recent = resolved(latte, at=now - timedelta(days=3, hours=1))  # due an hour ago
    later = resolved(latte, agent="sam")  # due in 3 days

    def ids(*flags: str) -> list[int]:
        rows = json.loads(latte.ok("followup", "list", "--json", *flags).stdout)
        return [row["complaint_id"] for row in rows]

    assert ids() == [int(old), int(recent), int(later)]
    assert ids("--due") == [int(old), int(recent)]
    assert ids("--overdue") == [int(old)]
    assert ids("--mine") == [int(old), int(recent)]
    table = latte.ok("followup", "list").stdout
    assert "late 3d" in table
    assert all(len(line) <= 80 for line in table.splitlines())


def test_record_with_flags(latte: Latte, session: Session) -> None:
    cid = resolved(latte)
    result = latte.ok(
        "followup", "record", cid, "--reached", "--satisfied", "--nps", "9",
        "--repurchased", "yes", "--note", "Happy", "--json",
    )  # fmt: skip
    assert json.loads(result.stdout)["nps"] == 9
    (row,) = followups(session)
    assert (row.reached, row.satisfied, row.nps, row.repurchased, row.note) == (
        True,
        True,
        9,
        True,
        "Happy",
    )
    assert row.recorded_at is not None and row.agent == "ana"
    assert json.loads(latte.ok("followup", "list", "--json").stdout) == []
    kinds = session.exec(select(Event.kind).where(Event.complaint_id == int(cid))).all()
    session.commit()
    assert "followup" in kinds


def test_not_reached_keeps_only_the_attempt(latte: Latte, session: Session) -> None:
    cid = resolved(latte)
    latte.ok("followup", "record", cid, "--not-reached", "--note", "Voicemail")
    (row,) = followups(session)
    assert (row.reached, row.satisfied, row.nps, row.repurchased) == (False, None, None, None)
    assert row.note == "Voicemail" and row.recorded_at is not None


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--nps", "3"], "drop --nps or pass --reached"),
        (["--satisfied"], "drop --satisfied or pass --reached"),
        (["--not-satisfied", "--repurchased", "yes"], "drop --not-satisfied and --repurchased"),
    ],
)
def test_answers_of_a_customer_not_reached_are_refused_not_dropped(
    latte: Latte, session: Session, flags: list[str], named: str
) -> None:
    cid = resolved(latte)
    result = latte("followup", "record", cid, "--not-reached", *flags)
    assert result.exit_code == 1
    assert "NPS, satisfied and repurchased need a reached customer" in result.stderr
    assert named in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    (row,) = followups(session)
    assert row.recorded_at is None


def test_service_refuses_an_nps_without_a_reached_customer(latte: Latte, session: Session) -> None:
    from latte_cli.errors import InvalidValue
    from latte_cli.services.followups import Outcome, record_followup

    cid = int(resolved(latte))
    with pytest.raises(InvalidValue, match="drop --nps"):
        record_followup(
            session, complaint_id=cid, outcome=Outcome(reached=False, nps=3), agent="ana"
        )
    session.rollback()
    assert followups(session)[0].recorded_at is None


def test_a_reopened_complaint_leaves_the_followup_list_until_resolved_again(
    latte: Latte, session: Session
) -> None:
    cid = resolved(latte)

    def listed() -> list[int]:
        rows = json.loads(latte.ok("followup", "list", "--json").stdout)
        return [row["complaint_id"] for row in rows]

    assert listed() == [int(cid)]
    latte.ok("reopen", cid, "--reason", "Broke again")
    assert listed() == []
    assert "No follow-ups match." in latte.ok("followup", "list").stdout
    latte.ok("step", cid, "take_action", "--kind", "replacement", "--detail", "New one")
    latte.ok("step", cid, "thank", "--text", "Thanks")
    assert listed() == []
    latte.ok("step", cid, "explain", "--root-cause", "product_defect", "--change", "QA")
    assert listed() == [int(cid)]
    latte.ok("followup", "record", cid, "--reached", "--satisfied")
    assert listed() == []


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--reached", "--satisfied", "--nps", "11"], "from 0 to 10"),
        (["--reached"], "--satisfied or --not-satisfied"),
        (["--reached", "--satisfied", "--repurchased", "maybe"], "yes, no, unknown"),
    ],
)
def test_record_refuses_bad_values(latte: Latte, flags: list[str], message: str) -> None:
    cid = resolved(latte)
    result = latte("followup", "record", cid, *flags)
    assert result.exit_code == 1
    assert message in result.output


def test_record_on_an_open_complaint_is_refused(latte: Latte) -> None:
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "y")
    result = latte("followup", "record", "1", "--reached", "--satisfied")
    assert result.exit_code == 1
    assert "still open" in result.output and "latte resume 1" in result.output


@pytest.fixture
def pipe(monkeypatch: pytest.MonkeyPatch) -> Iterator[PipeInput]:
    with create_pipe_input() as pipe_input:
        monkeypatch.setattr("latte_cli.cli.app.stdin_is_terminal", lambda: True)
        monkeypatch.setattr(guided, "make_prompter", lambda: Prompter(pipe_input, DummyOutput()))
        yield pipe_input


def test_record_by_answering_prompts(latte: Latte, session: Session, pipe: PipeInput) -> None:
    cid = resolved(latte)
    # reached: y, satisfied: n, NPS 6, repurchased: 2 (no), note.
    pipe.send_text("y" + "n" + "6\r" + "2\r" + "Still unhappy about the wait\r")
    pipe.close()
    result = latte("followup", "record", cid)
    assert result.exit_code == 0, result.output
    assert "Follow-up of complaint 1 (Ana): Broken" in result.output
    assert "Check the fix held" in result.output  # the follow-up guidance
    # The [followup] phrases, filled in with the customer, the agent and the issue (the
    # category: the summary is the customer's own words, never read back to them).
    assert (
        "You can say: Hello Ana, it's ana, calling about your complaint: the delivery problem."
        in " ".join(result.output.split())
    )
    assert "how likely are you to recommend us" in result.output
    (row,) = followups(session)
    assert (row.reached, row.satisfied, row.nps, row.repurchased, row.note) == (
        True,
        False,
        6,
        False,
        "Still unhappy about the wait",
    )


def test_ctrl_c_while_recording_saves_nothing(
    latte: Latte, session: Session, pipe: PipeInput
) -> None:
    cid = resolved(latte)
    pipe.send_text("y" + "\x03")
    pipe.close()
    result = latte("followup", "record", cid)
    assert result.exit_code == 130
    assert f"latte followup record {cid}" in result.output
    (row,) = followups(session)
    assert row.recorded_at is None


class NoQuestions:
    """A prompter that fails the test if anything is asked."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"asked a question ({name}) before checking the complaint")


@pytest.mark.parametrize(("resolve_it", "message"), [(False, "still open"), (None, "No complaint")])
def test_record_at_a_terminal_checks_the_complaint_before_asking(
    latte: Latte, monkeypatch: pytest.MonkeyPatch, resolve_it: bool | None, message: str
) -> None:
    monkeypatch.setattr("latte_cli.cli.app.stdin_is_terminal", lambda: True)
    monkeypatch.setattr(guided, "make_prompter", NoQuestions)
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "y")
    cid = "1" if resolve_it is False else "99"

    result = latte("followup", "record", cid)

    assert result.exit_code == 1, (result.output, result.exception)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_second_guided_record_is_refused_before_asking(
    latte: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One follow-up per resolution: at a terminal the refusal comes before the questions."""
    cid = resolved(latte)
    latte.ok("followup", "record", cid, "--reached", "--satisfied", "--nps", "9")
    monkeypatch.setattr("latte_cli.cli.app.stdin_is_terminal", lambda: True)
    monkeypatch.setattr(guided, "make_prompter", NoQuestions)
    result = latte("followup", "record", cid)
    assert result.exit_code == 1, (result.output, result.exception)
    assert "already recorded" in result.stderr and "--replace" in result.stderr


def test_answering_not_reached_with_an_nps_flag_is_refused_at_once(
    latte: Latte, session: Session, pipe: PipeInput
) -> None:
    cid = resolved(latte)
    pipe.send_text("n")  # not reached; the note is never asked (the input ends here)
    pipe.close()
    result = latte("followup", "record", cid, "--nps", "3")
    assert result.exit_code == 1, result.output
    assert "drop --nps or pass --reached" in result.stderr
    assert followups(session)[0].recorded_at is None


def test_followup_phrases_greet_an_anonymous_customer(latte: Latte, pipe: PipeInput) -> None:
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "Late")
    for stage, flags in (
        ("acknowledge", ["--text", "a"]),
        ("take_action", ["--kind", "refund", "--detail", "d"]),
        ("thank", ["--text", "t"]),
        ("explain", ["--root-cause", "delivery", "--change", "c"]),
    ):
        latte.ok("step", "1", stage, *flags)
    pipe.send_text("n" + "Voicemail\r")
    pipe.close()
    result = latte.ok("followup", "record", "1")
    assert "You can say: Hello there, it's ana, calling about your complaint: the x problem." in (
        " ".join(result.output.split())
    )
    assert "Hello ," not in result.output
