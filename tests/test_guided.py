"""The guided LATTE conversation, driven headlessly through prompt_toolkit's pipe input.

Keys: "\\r" is Enter; "\\x1b\\r" (Esc then Enter) finishes a multi-line answer; a digit is a
select shortcut; "\\x03" is Ctrl-C. Every test checks the rows written, not only the output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from sqlmodel import Session, col, select

from latte_cli import db
from latte_cli.cli import guided
from latte_cli.cli.prompts import Prompter
from latte_cli.models import Complaint, Customer, FollowUp, StageRecord
from latte_cli.phrases import TITLES
from latte_cli.services.complaints import NewComplaint, open_complaint
from latte_cli.services.customers import CustomerDetails
from latte_cli.workflow import Stage
from tests.conftest import Latte

ENTER = "\r"
FINISH = "\x1b\r"  # Esc then Enter ends a multi-line answer
CTRL_C = "\x03"

# Answers for each part of a new complaint, in the order the flow asks.
NEW_CUSTOMER = [
    ENTER,  # customer search: empty
    "1" + ENTER,  # "New customer"
    "Ana Diaz" + ENTER,  # name
    "C-1" + ENTER,  # ref
    "ana@example.com" + ENTER,  # email
    ENTER,  # phone: none
]
LISTEN = [
    "My parcel arrived broken." + ENTER + "The box was crushed." + FINISH,
    ENTER,  # channel: phone (default)
    "delivery" + ENTER,  # category
    "Lisbon" + ENTER,  # location
    ENTER,  # severity: medium (default)
]
ACKNOWLEDGE = ["1" + ENTER, " Truly." + ENTER]  # first phrase, then edit it
TAKE_ACTION = [
    "1" + ENTER,  # refund
    "5" + ENTER,  # "Write my own", after the four phrases
    "Refunded the parcel" + ENTER,
    "25.50" + ENTER,  # amount
    "n",  # could not have exactly what they asked for
    "Refund" + ENTER + "Replacement next week" + FINISH,  # options offered
]
THANK = ["2" + ENTER, ENTER]
EXPLAIN = [
    "2" + ENTER,  # delivery
    "We now use padded boxes" + ENTER,  # what will change
    "1" + ENTER,
    ENTER,
]
STAGE_KEYS = {
    "listen": LISTEN,
    "acknowledge": ACKNOWLEDGE,
    "take_action": TAKE_ACTION,
    "thank": THANK,
    "explain": EXPLAIN,
}


@pytest.fixture
def pipe(monkeypatch: pytest.MonkeyPatch) -> Iterator[PipeInput]:
    """Pretend stdin is a terminal and answer prompts from a pipe."""
    with create_pipe_input() as pipe_input:
        monkeypatch.setattr("latte_cli.cli.app.stdin_is_terminal", lambda: True)
        monkeypatch.setattr(guided, "make_prompter", lambda: Prompter(pipe_input, DummyOutput()))
        yield pipe_input


def feed(pipe: PipeInput, *parts: list[str]) -> None:
    for keys in parts:
        pipe.send_text("".join(keys))
    pipe.close()  # anything asked beyond these answers meets the end of input


def stages_of(session: Session, complaint_id: int) -> dict[str, StageRecord]:
    """The stages stored, read in a transaction that is ended at once (SQLite locks)."""
    rows = session.exec(
        select(StageRecord)
        .where(StageRecord.complaint_id == complaint_id)
        .order_by(col(StageRecord.id))
        .execution_options(populate_existing=True)
    ).all()
    session.commit()
    return {r.stage: r for r in rows}


def test_happy_path_records_all_five_stages_and_a_followup(
    latte: Latte, pipe: PipeInput, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LATTE_FOLLOWUP_DAYS", "5")
    feed(pipe, NEW_CUSTOMER, LISTEN, ACKNOWLEDGE, TAKE_ACTION, THANK, EXPLAIN)

    result = latte("new")

    assert result.exit_code == 0, result.output
    complaint = session.exec(select(Complaint)).one()
    assert complaint.stage_due is None
    assert (complaint.channel, complaint.category, complaint.location) == (
        "phone",
        "delivery",
        "Lisbon",
    )
    customer = session.get(Customer, complaint.customer_id)
    assert customer is not None
    assert (customer.ref, customer.name, customer.email) == ("C-1", "Ana Diaz", "ana@example.com")
    stages = stages_of(session, complaint.id or 0)
    assert list(stages) == ["listen", "acknowledge", "take_action", "thank", "explain"]
    assert stages["listen"].text == "My parcel arrived broken.\nThe box was crushed."
    # The phrase was filled in with the customer's name and issue, then edited.
    # The first name, and the category rather than the customer's own first-person words.
    assert stages["acknowledge"].text.startswith("I'm sorry, Ana. The delivery problem: that")
    assert stages["acknowledge"].text.endswith("Truly.")
    action = stages["take_action"]
    assert (action.action_kind, action.action_detail, action.amount_cents) == (
        "refund",
        "Refunded the parcel",
        2550,
    )
    assert json.loads(action.options_offered or "[]") == ["Refund", "Replacement next week"]
    assert stages["thank"].text.startswith("Thank you for your patience")
    explain = stages["explain"]
    assert (explain.root_cause, explain.what_will_change) == ("delivery", "We now use padded boxes")
    assert "We now use padded boxes" in explain.text
    followup = session.exec(select(FollowUp)).one()
    assert complaint.resolved_at is not None and followup.due_at is not None
    assert (followup.due_at - complaint.resolved_at).days == 5
    assert "LATTE summary" in result.output
    for title in ("Listen", "Acknowledge", "Take action", "Thank", "Explain", "Total:"):
        assert title in result.output
    assert "latte followup record 1" in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    assert "\x1b[" not in result.output  # NO_COLOR


@pytest.mark.parametrize("stage", ["listen", "acknowledge", "take_action", "thank", "explain"])
@pytest.mark.parametrize("how", ["ctrl-c", "eof"])
def test_interrupt_at_each_stage_keeps_completed_stages_and_resume_finishes(
    latte: Latte, session: Session, monkeypatch: pytest.MonkeyPatch, stage: str, how: str
) -> None:
    order = list(STAGE_KEYS)
    before = order[: order.index(stage)]
    with create_pipe_input() as first:
        monkeypatch.setattr("latte_cli.cli.app.stdin_is_terminal", lambda: True)
        monkeypatch.setattr(guided, "make_prompter", lambda: Prompter(first, DummyOutput()))
        keys = [NEW_CUSTOMER, *(STAGE_KEYS[s] for s in before)]
        # Start answering the interrupted stage, then Ctrl-C (or run out of input).
        partial = STAGE_KEYS[stage][0][:3]
        for part in keys:
            first.send_text("".join(part))
        first.send_text(partial + (CTRL_C if how == "ctrl-c" else ""))
        first.close()
        result = latte("new")

    assert result.exit_code == 130, result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash
    assert len(result.stderr.strip().splitlines()) == 1
    complaint = session.exec(select(Complaint)).first()
    session.commit()
    if stage == "listen":
        assert complaint is None
        assert "nothing was saved" in result.output
        return
    assert complaint is not None and complaint.id is not None
    assert list(stages_of(session, complaint.id)) == before
    assert complaint.stage_due == stage
    assert f"continue with `latte resume {complaint.id}`" in result.output

    with create_pipe_input() as second:
        monkeypatch.setattr(guided, "make_prompter", lambda: Prompter(second, DummyOutput()))
        for part in (STAGE_KEYS[s] for s in order[order.index(stage) :]):
            second.send_text("".join(part))
        second.close()
        resumed = latte("resume", str(complaint.id))

    assert resumed.exit_code == 0, resumed.output
    assert f"Continuing at {TITLES[Stage(stage)]}" in resumed.output
    assert list(stages_of(session, complaint.id)) == order
    assert len(session.exec(select(FollowUp)).all()) == 1


def test_resume_without_id_offers_my_open_complaints(
    latte: Latte, pipe: PipeInput, session: Session
) -> None:
    for words in ("First", "Second"):
        latte.ok("new", "--channel", "email", "--category", "billing", "--listen", words)
    latte.ok("--agent", "sam", "new", "--channel", "chat", "--category", "x", "--listen", "Sam's")
    feed(pipe, ["2" + ENTER], ACKNOWLEDGE, TAKE_ACTION, THANK, EXPLAIN)

    result = latte("resume")

    assert result.exit_code == 0, result.output
    assert "Sam's" not in result.output.split("Which complaint")[0]
    assert list(stages_of(session, 2))[-1] == "explain"
    assert list(stages_of(session, 1)) == ["listen"]


def test_resume_without_id_and_nothing_open(latte: Latte, pipe: PipeInput) -> None:
    pipe.close()
    result = latte.ok("resume")
    assert "no open complaints" in result.output


def test_open_complaint_of_the_customer_is_offered_instead_of_a_duplicate(
    latte: Latte, pipe: PipeInput, session: Session
) -> None:
    latte.ok(
        "new", "--customer", "C-7", "--name", "Rui", "--channel", "phone", "--category",
        "billing", "--listen", "Charged twice",
    )  # fmt: skip
    # Search "C-7" (an exact ref), then take "Continue complaint 1", then finish it.
    feed(pipe, ["C-7" + ENTER, "1" + ENTER], ACKNOWLEDGE, TAKE_ACTION, THANK, EXPLAIN)

    result = latte("new")

    assert result.exit_code == 0, result.output
    assert "Charged twice" in result.output  # the history panel
    assert len(session.exec(select(Complaint)).all()) == 1  # no duplicate
    assert list(stages_of(session, 1))[-1] == "explain"


def test_history_panel_shows_past_complaints_and_a_new_one_can_still_be_opened(
    latte: Latte, pipe: PipeInput, session: Session
) -> None:
    latte.ok(
        "new", "--customer", "C-7", "--name", "Rui Costa", "--channel", "phone",
        "--category", "billing", "--listen", "Charged twice",
    )  # fmt: skip
    # Flags name the customer: no search, but the history is shown and the duplicate offered.
    feed(pipe, ["2" + ENTER], LISTEN, ACKNOWLEDGE[:1])

    result = latte("new", "--customer", "C-7")

    assert result.exit_code == 130
    assert "Charged twice" in result.output
    complaints = session.exec(select(Complaint).order_by(col(Complaint.id))).all()
    assert len(complaints) == 2
    assert complaints[0].customer_id == complaints[1].customer_id


def test_customer_search_completes_by_name(
    latte: Latte, pipe: PipeInput, session: Session, db_url: str
) -> None:
    with db.open_session(db_url) as other:
        open_complaint(
            other,
            new=NewComplaint(
                channel="phone",
                category="billing",
                listen="Old one",
                customer=CustomerDetails(ref="C-9", name="Marta Silva"),
            ),
            agent="ana",
        )
        from latte_cli.services.complaints import StageInput, record_stage

        for stage, given in (
            ("acknowledge", StageInput(text="Sorry")),
            ("take_action", StageInput(action_kind="credit", action_detail="Credit")),
            ("thank", StageInput(text="Thanks")),
            ("explain", StageInput(root_cause="billing", what_will_change="Checks")),
        ):
            record_stage(other, complaint_id=1, stage=stage, given=given, agent="ana")
    # Type part of the name, Tab to the completion (the ref), Enter; then just Listen.
    feed(pipe, ["mart\t" + ENTER], LISTEN)

    result = latte("new")

    assert result.exit_code == 130
    complaint = session.exec(select(Complaint).where(Complaint.id == 2)).one()
    customer = session.get(Customer, complaint.customer_id)
    assert customer is not None and customer.ref == "C-9"
    assert "Old one" in result.output and "credit" in result.output


def test_anonymous_complaint(latte: Latte, pipe: PipeInput, session: Session) -> None:
    feed(pipe, [ENTER, "2" + ENTER], LISTEN)
    result = latte("new")
    assert result.exit_code == 130
    assert session.exec(select(Complaint)).one().customer_id is None


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["new", "--channel", "phone", "--category", "billing"], "--listen"),
        (["new", "--listen", "x"], "--channel, --category"),
        (["step", "1", "explain", "--change", "x"], "--root-cause"),
        (["followup", "record", "1"], "--reached"),
        (["resume", "1"], "latte step 1 explain"),
        (["resume"], "latte step ID STAGE"),
    ],
)
def test_no_terminal_names_the_flag_instead_of_prompting(
    latte: Latte, args: list[str], flag: str
) -> None:
    latte.ok("new", "--channel", "phone", "--category", "billing", "--listen", "x")
    for stage, extra in (
        ("acknowledge", ["--text", "a"]),
        ("take_action", ["--kind", "refund", "--detail", "d"]),
        ("thank", ["--text", "t"]),
    ):
        latte.ok("step", "1", stage, *extra)
    if args[0] == "followup":
        latte.ok("step", "1", "explain", "--root-cause", "delivery", "--change", "c")

    result = latte(*args, input="")

    assert result.exit_code == 1, result.output
    assert flag in result.stderr
    assert isinstance(result.exception, SystemExit)  # a clean refusal, not a crash
    assert len(result.stderr.strip().splitlines()) == 1


def test_edited_phrase_library_is_used(
    latte: Latte, pipe: PipeInput, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited = tmp_path / "phrases.toml"
    edited.write_text(
        '[acknowledge]\nguidance = "Say sorry first."\nphrases = ["Sorry {name}, about {issue}."]\n'
    )
    monkeypatch.setenv("LATTE_PHRASES", str(edited))
    latte.ok(
        "new", "--name", "Jo", "--channel", "phone", "--category", "b", "--listen", "It is late",
        "--summary", "Late",
    )  # fmt: skip
    feed(pipe, ["1" + ENTER, ENTER])

    result = latte("resume", "1")

    assert "Say sorry first." in result.output
    assert stages_of(session, 1)["acknowledge"].text == "Sorry Jo, about Late."


@pytest.mark.parametrize(
    ("style", "name", "summary", "said"),
    [
        ("first", "Ana Díaz", "Lamp arrived broken!", "Sorry Ana, about Lamp arrived broken."),
        ("full", "Díaz, Ana", "Lamp arrived broken", "Sorry Ana Díaz, about Lamp arrived broken."),
        ("none", "Ana Díaz", "My lamp arrived broken", "Sorry, about the lighting problem."),
    ],
)
def test_phrase_name_and_issue_in_the_conversation(
    latte: Latte,
    pipe: PipeInput,
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    style: str,
    name: str,
    summary: str,
    said: str,
) -> None:
    edited = tmp_path / "phrases.toml"
    edited.write_text('[acknowledge]\nphrases = ["Sorry {name}, about {issue}."]\n')
    monkeypatch.setenv("LATTE_PHRASES", str(edited))
    latte.ok("config", "set", "phrase_name", style)
    latte.ok(
        "new", "--name", name, "--channel", "phone", "--category", "lighting",
        "--listen", "It broke", "--summary", summary,
    )  # fmt: skip
    feed(pipe, ["1" + ENTER, ENTER])

    latte("resume", "1")

    assert stages_of(session, 1)["acknowledge"].text == said


def test_a_bad_phrase_name_names_the_variable(
    latte: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("latte_cli.cli.app.stdin_is_terminal", lambda: True)
    monkeypatch.setenv("LATTE_PHRASE_NAME", "nickname")
    latte.ok("new", "--name", "Jo", "--channel", "phone", "--category", "b", "--listen", "Late")
    result = latte("resume", "1")
    assert result.exit_code == 1
    assert "LATTE_PHRASE_NAME='nickname' must be one of first, full, none" in result.output


def test_broken_phrase_library_is_a_clear_error(
    latte: Latte, pipe: PipeInput, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "phrases.toml"
    broken.write_text("[acknowledge\n")
    monkeypatch.setenv("LATTE_PHRASES", str(broken))
    pipe.close()
    result = latte("new")
    assert result.exit_code == 1
    assert "phrase library" in result.output and "LATTE_PHRASES" in result.output


ACTION_LIBRARY = """
[thank]
guidance = "Say what was done."
phrases = ["We did this: {action}. Thanks, {name}."]
"""


def test_action_placeholder_after_take_action_in_the_same_conversation(
    latte: Latte, pipe: PipeInput, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = tmp_path / "phrases.toml"
    library.write_text(ACTION_LIBRARY)
    monkeypatch.setenv("LATTE_PHRASES", str(library))
    latte.ok("new", "--name", "Jo", "--channel", "phone", "--category", "b", "--listen", "Late")
    latte.ok("step", "1", "acknowledge", "--text", "Sorry")
    # refund; the detail (no phrases for take_action here); amount; exactly what they asked.
    feed(pipe, ["1" + ENTER, "Refunded the parcel." + ENTER, "12" + ENTER, "y"],
         ["1" + ENTER, ENTER])  # fmt: skip

    latte("resume", "1")

    assert stages_of(session, 1)["thank"].text == "We did this: Refunded the parcel. Thanks, Jo."


def test_action_placeholder_when_resuming_after_take_action(
    latte: Latte, pipe: PipeInput, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = tmp_path / "phrases.toml"
    library.write_text(ACTION_LIBRARY)
    monkeypatch.setenv("LATTE_PHRASES", str(library))
    latte.ok("new", "--channel", "phone", "--category", "b", "--listen", "Late")
    latte.ok("step", "1", "acknowledge", "--text", "Sorry")
    latte.ok("step", "1", "take_action", "--kind", "refund", "--detail", "Sent a new lamp")
    feed(pipe, ["1" + ENTER, ENTER])

    latte("resume", "1")

    assert stages_of(session, 1)["thank"].text == "We did this: Sent a new lamp. Thanks."


def test_an_owner_with_brackets_is_shown_as_typed(latte: Latte, pipe: PipeInput) -> None:
    latte.ok("--agent", "[/]", "new", "--channel", "phone", "--category", "x", "--listen", "y")
    pipe.close()
    result = latte("resume", "1")
    assert result.exit_code == 130, (result.output, result.exception)
    assert "Note: this complaint is assigned to [/]." in result.output


def test_a_typed_customer_with_brackets_is_shown_as_typed(latte: Latte, pipe: PipeInput) -> None:
    feed(pipe, ["[bold]x[/]" + ENTER])
    result = latte("new")
    assert result.exit_code == 130, (result.output, result.exception)
    assert "No customer matches '[bold]x[/]': creating one." in result.output


def test_resume_shows_the_transfer_note_before_anything_else(
    latte: Latte, pipe: PipeInput, session: Session
) -> None:
    latte.ok("--agent", "sam", "new", "--channel", "phone", "--category", "x", "--listen", "Hi")
    latte.ok("agent", "available")  # ana, the receiver, is known
    latte.ok("--agent", "sam", "transfer", "1", "--to", "ana", "--note", "Call after 5pm")
    feed(pipe, ACKNOWLEDGE)

    result = latte("resume", "1")

    assert result.output.lstrip().startswith("╭─ Transferred to you by sam")
    assert result.output.index("Call after 5pm") < result.output.index("Complaint 1")
    assert list(stages_of(session, 1)) == ["listen", "acknowledge"]


# The prompts themselves: Ctrl-D everywhere, answers wrapped at words, choices shortened ------

CTRL_D = "\x04"


@pytest.mark.parametrize(
    ("keys", "ask"),
    [
        (CTRL_D, lambda p: p.confirm("Reached?")),
        ("2" + CTRL_D, lambda p: p.select("Pick:", [("one", 1), ("two", 2)])),
        ("half typed" + CTRL_D, lambda p: p.text("Name:")),
        ("line one\rline" + CTRL_D, lambda p: p.text("Words:", multiline=True)),
        ("1" + CTRL_D, lambda p: p.phrase("Said:", ["Sorry."])),
    ],
    ids=["confirm", "select", "text", "multiline", "phrase"],
)
def test_ctrl_d_ends_every_prompt_even_with_text_typed(keys: str, ask: object) -> None:
    with create_pipe_input() as pipe_input:
        pipe_input.send_text(keys)
        with pytest.raises(EOFError):
            ask(Prompter(pipe_input, DummyOutput()))  # type: ignore[operator]


LEFT = "\x1b[D"


@pytest.mark.parametrize("multiline", [False, True])
def test_long_answers_with_wide_characters_and_long_words_are_typed_as_given(
    multiline: bool,
) -> None:
    """The word-wrapping display never changes the answer, whatever is typed where."""
    text = "李雷 " * 30 + "x" * 170 + " short words here" * 12 + " Ana María Díaz-Fernández"
    with create_pipe_input() as pipe_input:
        finish = FINISH if multiline else ENTER
        pipe_input.send_text(text + LEFT * 30 + "INSERTED " + LEFT * 200 + "<" + finish)
        answer = Prompter(pipe_input, DummyOutput()).text(
            "What the customer said:", multiline=multiline
        )
    expected = text[: len(text) - 30] + "INSERTED " + text[len(text) - 30 :]
    cut = len(expected) - 30 - 9 - 200 + 9
    assert answer == (expected[:cut] + "<" + expected[cut:]).strip()


def test_choices_too_long_end_in_an_ellipsis_at_a_word() -> None:
    from latte_cli.cli.prompts import shorten

    phrase = "I'm sorry, Ana. The delivery problem: that is not the experience you should have"
    assert shorten(phrase, 100) == phrase
    short = shorten(phrase, 40)
    assert short.endswith("…") and len(short) <= 40
    assert phrase.startswith(short[:-1]) and phrase[len(short) - 1] in " :"  # at a word
    wide = shorten("李雷" * 30, 21)
    assert wide.endswith("…") and sum(2 if c == "李" or c == "雷" else 1 for c in wide) <= 21
