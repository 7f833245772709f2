"""The summary: never cut (a long one is refused, as `latte import` refuses it), and never the
customer's own words read back to them through {issue} when it was left to its default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput
from sqlmodel import Session, col, func, select

from latte_cli.cli import guided
from latte_cli.cli.prompts import Prompter
from latte_cli.models import Complaint, StageRecord
from tests.conftest import Latte

ENTER = "\r"
FINISH = "\x1b\r"
NEW = ("new", "--name", "Zoë Pappas", "--channel", "email", "--category", "delivery")
WORDS = "Το δέμα έφτασε σπασμένο. The kettle arrived smashed 😡\nI want a new one."  # noqa: RUF001
LIBRARY = """
[acknowledge]
phrases = ["I'm sorry, {name}. {issue}: that is not the experience you should have had."]
[explain]
phrases = ["What went wrong: {issue}. What we're changing: {change}."]
"""


@pytest.fixture
def pipe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[PipeInput]:
    library = tmp_path / "phrases.toml"
    library.write_text(LIBRARY, encoding="utf-8")
    monkeypatch.setenv("LATTE_PHRASES", str(library))
    with create_pipe_input() as pipe_input:
        monkeypatch.setattr("latte_cli.cli.app.stdin_is_terminal", lambda: True)
        monkeypatch.setattr(guided, "make_prompter", lambda: Prompter(pipe_input, DummyOutput()))
        yield pipe_input


def said(session: Session, stage: str) -> str:
    row = session.exec(
        select(StageRecord).where(StageRecord.stage == stage).order_by(col(StageRecord.id))
    ).first()
    session.commit()
    assert row is not None
    return row.text


def complaints(session: Session) -> int:
    count = session.exec(select(func.count()).select_from(Complaint)).one()
    session.commit()
    return int(count)


# The summary limit ---------------------------------------------------------------------------


def test_a_summary_over_500_characters_is_refused_and_nothing_written(
    latte: Latte, session: Session
) -> None:
    result = latte(*NEW, "--listen", "Broken", "--summary", "x" * 501)
    assert result.exit_code == 1
    assert "is 501 characters long; the limit is 500" in result.output
    assert "Traceback" not in result.output
    assert complaints(session) == 0


def test_a_summary_of_500_characters_is_kept_whole(latte: Latte, session: Session) -> None:
    latte.ok(*NEW, "--listen", "Broken", "--summary", "y" * 500)
    stored = session.exec(select(Complaint.summary)).one()
    assert stored == "y" * 500


def test_the_guided_flow_refuses_a_long_summary_before_asking(
    latte: Latte, pipe: PipeInput, session: Session
) -> None:
    pipe.close()
    result = latte("new", "--summary", "z" * 501)
    assert result.exit_code == 1
    assert "is 501 characters long; the limit is 500" in result.output
    assert "Customer" not in result.output  # refused before the first question
    assert complaints(session) == 0


def test_with_edit_a_long_summary_is_refused_before_the_editor_opens(
    latte: Latte, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = tmp_path / "opened.txt"
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\ntouch "{opened}"\nprintf "Broken\\n" >> "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("VISUAL", str(editor))
    result = latte(*NEW, "--edit", "--summary", "w" * 501)
    assert result.exit_code == 1
    assert "is 501 characters long; the limit is 500" in result.output
    assert not opened.exists()
    assert complaints(session) == 0


# {issue} and the customer's words ----------------------------------------------------------


def test_a_defaulted_summary_is_not_read_back_at_acknowledge(
    latte: Latte, pipe: PipeInput, session: Session
) -> None:
    latte.ok(*NEW, "--listen", WORDS)
    pipe.send_text("1" + ENTER + ENTER)
    pipe.close()

    latte("resume", "1")

    text = said(session, "acknowledge")
    assert text == (
        "I'm sorry, Zoë. The delivery problem: that is not the experience you should have had."
    )
    assert "kettle" not in text and "σπασμένο" not in text


def test_a_summary_the_agent_wrote_is_used(latte: Latte, pipe: PipeInput, session: Session) -> None:
    latte.ok(*NEW, "--listen", WORDS, "--summary", "Kettle arrived broken")
    pipe.send_text("1" + ENTER + ENTER)
    pipe.close()

    latte("resume", "1")

    assert said(session, "acknowledge") == (
        "I'm sorry, Zoë. Kettle arrived broken: that is not the experience you should have had."
    )


def test_the_whole_guided_flow_never_reads_the_words_back(
    latte: Latte, pipe: PipeInput, session: Session
) -> None:
    pipe.send_text(
        WORDS.replace("\n", ENTER) + FINISH  # Listen
        + "Porto" + ENTER + ENTER  # location; severity: medium
        + "1" + ENTER + ENTER  # Acknowledge: the phrase
        + "1" + ENTER + "New kettle sent" + ENTER + "20" + ENTER + "y"  # refund
        + "Thanks" + ENTER  # Thank (no phrases in this library)
        + "2" + ENTER + "Padded boxes" + ENTER  # root cause; what will change
        + "1" + ENTER + ENTER  # Explain: the phrase
    )  # fmt: skip
    pipe.close()

    result = latte(*NEW)

    assert result.exit_code == 0, result.output
    assert said(session, "acknowledge").startswith("I'm sorry, Zoë. The delivery problem: ")
    assert said(session, "explain") == (
        "What went wrong: the delivery problem. What we're changing: Padded boxes."
    )
