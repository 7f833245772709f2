"""`--edit`: text written in a real editor command (a shell script set as VISUAL or EDITOR)."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from latte_cli.cli.editor import database_key, template, without_comments
from latte_cli.models import Complaint, StageRecord
from tests.conftest import Latte

NEW = ("new", "--customer", "C-1", "--name", "Ana Diaz", "--channel", "phone")


def script(tmp_path: Path, name: str, body: str) -> Path:
    """An executable shell script: the editor, called with the file to edit as $1."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """VISUAL: keeps a copy of what it was given (seen.txt), then writes two lines into it."""
    seen = tmp_path / "seen.txt"
    editor = script(
        tmp_path,
        "writer.sh",
        f'cp "$1" "{seen}"\nprintf "The lamp arrived broken.\\nThe box was dry.\\n" >> "$1"\n',
    )
    monkeypatch.setenv("VISUAL", str(editor))
    monkeypatch.delenv("EDITOR", raising=False)
    return seen


def stages(session: Session) -> list[StageRecord]:
    return list(session.exec(select(StageRecord).order_by(col(StageRecord.id))).all())


def test_new_with_edit_takes_the_listen_text_from_the_editor(
    latte: Latte, session: Session, writer: Path
) -> None:
    latte.ok(*NEW, "--category", "delivery", "--edit")

    (listen,) = stages(session)
    # What was typed above the comment lines, without them: the words and their line break.
    assert listen.text == "The lamp arrived broken.\nThe box was dry."
    seen = writer.read_text()
    assert seen.startswith("\n# Write the customer's own words")
    assert "# Lines starting with '#' are left out" in seen
    complaint = session.exec(select(Complaint)).one()
    assert complaint.summary == "The lamp arrived broken."


def test_step_with_edit_starts_from_the_given_text(
    latte: Latte, session: Session, writer: Path
) -> None:
    latte.ok(*NEW, "--category", "delivery", "--listen", "Broken lamp")
    latte.ok("step", "1", "acknowledge", "--text", "I'm sorry.", "--edit")
    latte.ok("step", "1", "take_action", "--kind", "refund", "--edit")

    _, acknowledge, action = stages(session)
    assert acknowledge.text == "I'm sorry.\n\nThe lamp arrived broken.\nThe box was dry."
    assert action.action_detail == "The lamp arrived broken.\nThe box was dry."
    seen = writer.read_text()
    assert "# Write what exactly was done (Take action)" in seen
    assert "# Complaint 1, stage take_action." in seen


def test_amend_with_edit_corrects_the_text_from_the_editor(
    latte: Latte, session: Session, writer: Path
) -> None:
    latte.ok(*NEW, "--category", "delivery", "--listen", "Broken lamp")
    latte.ok("step", "1", "acknowledge", "--text", "Sorry.")
    latte.ok("amend", "1", "acknowledge", "--text", "I'm sorry.", "--edit", "--reason", "typo")

    _, acknowledge = stages(session)
    assert acknowledge.text == "I'm sorry.\n\nThe lamp arrived broken.\nThe box was dry."
    assert "# Complaint 1, stage acknowledge." in writer.read_text()


def test_amend_with_edit_starts_from_what_the_stage_says_and_checks_first(
    latte: Latte, session: Session, writer: Path
) -> None:
    """Without --text the editor opens with the recorded text (take_action: its detail), so a
    correction is not retyped; a stage not recorded is refused before the editor opens."""
    latte.ok(*NEW, "--category", "delivery", "--listen", "Broken lamp")
    latte.ok("step", "1", "acknowledge", "--text", "Sorry.")
    refused = latte("amend", "1", "take_action", "--edit", "--reason", "typo")
    assert refused.exit_code == 1 and "was not recorded" in refused.stderr
    assert not writer.exists()  # the editor never opened: nothing typed was lost
    latte.ok("amend", "1", "acknowledge", "--edit", "--reason", "more")
    _, acknowledge = stages(session)
    assert acknowledge.text == "Sorry.\n\nThe lamp arrived broken.\nThe box was dry."
    assert writer.read_text().startswith("Sorry.\n")


@pytest.mark.sqlite_only
def test_visual_may_carry_arguments_and_wins_over_editor(
    latte: Latte, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    visual = script(tmp_path, "visual.sh", 'printf "%s\\n" "$1" >> "$2"\n')
    editor = script(tmp_path, "editor.sh", 'printf "from EDITOR\\n" >> "$1"\n')
    monkeypatch.setenv("VISUAL", f"{visual} 'from VISUAL'")
    monkeypatch.setenv("EDITOR", str(editor))
    latte.ok(*NEW, "--category", "delivery", "--edit")
    monkeypatch.delenv("VISUAL")
    latte.ok(*NEW, "--category", "billing", "--edit")

    assert [s.text for s in stages(session)] == ["from VISUAL", "from EDITOR"]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (': > "$1"\n', "Cancelled: the text written in the editor is empty"),
        ('printf "# only a comment\\n\\n" > "$1"\n', "Write it again with --edit, or give it"),
        ("exit 3\n", "exited with status 3: nothing was saved. Set VISUAL to"),
    ],
)
def test_an_empty_text_or_a_failing_editor_saves_nothing(
    latte: Latte,
    session: Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    body: str,
    expected: str,
) -> None:
    monkeypatch.setenv("VISUAL", str(script(tmp_path, "editor.sh", body)))
    result = latte(*NEW, "--category", "delivery", "--edit")

    assert result.exit_code == 1, result.output
    assert expected in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert session.exec(select(Complaint)).all() == []
    session.rollback()


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"VISUAL": "/nowhere/editor"}, "Set VISUAL to an editor that works"),
        ({"EDITOR": "/nowhere/editor --wait"}, "Set EDITOR to an editor that works"),
    ],
)
def test_an_editor_that_is_not_there_names_the_variable_to_set(
    latte: Latte,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    named: str,
) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    latte.ok(*NEW, "--category", "delivery", "--listen", "Late")
    result = latte("step", "1", "acknowledge", "--edit")

    assert result.exit_code == 1, result.output
    assert "The editor '/nowhere/editor' was not found." in result.output
    assert named in result.output
    assert len(stages(session)) == 1


@pytest.mark.sqlite_only
def test_the_default_editor_is_vi_and_the_config_file_can_name_another(
    latte: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    def shown() -> tuple[str, str, str]:
        rows = json.loads(latte.ok("config", "show", "--json").output)
        (row,) = [r for r in rows if r["key"] == "editor"]
        return row["value"], row["source"], row["from"]

    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    assert shown() == ("vi", "default", None)
    latte.ok("config", "set", "editor", "nano -R")
    assert shown()[:2] == ("nano -R", "file")
    monkeypatch.setenv("EDITOR", "ed")
    assert shown() == ("ed", "env", "EDITOR")
    monkeypatch.setenv("VISUAL", "vim")
    assert shown() == ("vim", "env", "VISUAL")


def test_template_and_comment_lines() -> None:
    assert template("", ["Write it."]).startswith("\n# Write it.\n# Lines starting with")
    assert template("Hello\n", ["Write it."]).startswith("Hello\n\n# Write it.\n")
    written = "\n\nFirst line  \n# a comment\n\n  indented\n#\n\n"
    assert without_comments(written) == "First line\n\n  indented"


@pytest.mark.slow
def test_ctrl_e_in_a_multiline_answer_opens_the_editor_in_a_terminal(
    db_url: str, session: Session, tmp_path: Path
) -> None:
    """In a real pseudo-terminal: the key is shown; the editor gets the text typed so far and
    what it writes becomes the answer, still editable before Esc Enter saves it."""
    from tests.test_narrow import FINISH, Terminal

    seen = tmp_path / "seen.txt"
    editor = script(
        tmp_path, "writer.sh", f'cp "$1" "{seen}"\nprintf "and the box was crushed.\\n" >> "$1"\n'
    )
    term = Terminal(
        db_url, 80, "new", "--channel", "phone", "--category", "delivery", "--name", "Rui",
        env={"VISUAL": str(editor)},
    )  # fmt: skip
    term.answer("Ctrl-E: open your editor", "The lamp arrived broken")
    term.child.sendcontrol("e")
    term.child.expect_exact("and the box was crushed.")
    term.child.send(" Twice." + FINISH)
    term.answer("Location", "\r")
    term.answer("Severity", "\r")
    term.child.expect_exact("Saved Listen")
    term.child.sendcontrol("c")
    assert term.finish() == 130

    (listen,) = stages(session)
    assert listen.text == "The lamp arrived broken\n\nand the box was crushed. Twice."
    assert seen.read_text().startswith("The lamp arrived broken\n\n# Write the customer's words")


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ('printf "written in the editor\\n" > "$1"\n', "written in the editor, then typed"),
        (': > "$1"\n', "typed first, then typed"),  # an empty text keeps the answer
        ("exit 4\n", "typed first, then typed"),  # a failing editor too, with its reason shown
    ],
)
def test_the_editor_key_in_a_multiline_answer(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    body: str,
    answer: str,
) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from latte_cli.cli.prompts import Prompter

    done = tmp_path / "editor-done"
    editor = script(tmp_path, "editor.sh", f"trap 'touch \"{done}\"' EXIT\n" + body)
    monkeypatch.setenv("VISUAL", str(editor))
    with create_pipe_input() as pipe_input:
        pipe_input.send_text("typed first" + "\x05")  # Ctrl-E

        def type_the_rest() -> None:
            """Once the editor has closed and its text is in, go on typing and finish."""
            deadline = time.monotonic() + 30
            while not done.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)
            pipe_input.send_text(", then typed" + "\x1b\r")

        typist = threading.Thread(target=type_the_rest)
        typist.start()
        written = Prompter(pipe_input, DummyOutput()).text("The customer's words:", multiline=True)
        typist.join()
    assert written == answer
    if "exit 4" in body:
        assert "exited with status 4" in capsys.readouterr().err


@pytest.fixture
def data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's data folder, where a refused command keeps the text written for it."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "latte" / "unsaved"


def test_a_refused_step_keeps_the_text_and_the_next_edit_starts_from_it(
    latte: Latte, session: Session, writer: Path, data_folder: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, db_url: str,
) -> None:  # fmt: skip
    latte.ok(*NEW, "--category", "delivery", "--listen", "Broken lamp")
    latte.ok("step", "1", "acknowledge", "--text", "Sorry")
    refused = latte("step", "1", "take_action", "--kind", "teleport", "--edit")
    assert refused.exit_code == 1
    kept = data_folder / database_key(db_url) / "step-1-take_action.txt"
    assert kept.read_text() == "The lamp arrived broken.\nThe box was dry.\n"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(data_folder.stat().st_mode) == 0o700
    message = " ".join(refused.stderr.split())
    assert "teleport" in message
    assert f"Your text is kept in {kept}" in message
    assert "`latte step 1 take_action --edit` on the same database starts from it" in message
    assert f'--detail "$(cat {kept})"' in message
    assert len(stages(session)) == 2  # nothing half-written
    session.rollback()  # the test's transaction ends: the next command may write

    # The next --edit opens the kept text; saved unchanged, it is recorded and removed.
    seen = tmp_path / "seen-again.txt"
    monkeypatch.setenv("VISUAL", str(script(tmp_path, "keep.sh", f'cp "$1" "{seen}"\n')))
    latte.ok("step", "1", "take_action", "--kind", "refund", "--edit")
    assert seen.read_text().startswith("The lamp arrived broken.\nThe box was dry.\n\n# Write")
    _, _, action = stages(session)
    assert action.action_detail == "The lamp arrived broken.\nThe box was dry."
    assert not kept.exists()


def test_a_refused_new_keeps_the_text_until_it_is_given_again(
    latte: Latte, session: Session, writer: Path, data_folder: Path, db_url: str
) -> None:
    refused = latte(*NEW[:-2], "--channel", "pigeon", "--category", "delivery", "--edit")
    assert refused.exit_code == 1
    kept = data_folder / database_key(db_url) / "new-listen.txt"
    assert f'--listen "$(cat {kept})"' in " ".join(refused.stderr.split())
    assert session.exec(select(Complaint)).all() == []
    session.rollback()
    # A command with another text leaves it; the one given the kept text removes it.
    latte.ok(*NEW, "--category", "delivery", "--listen", "Something else")
    assert kept.exists()
    text = kept.read_text().rstrip("\n")  # as "$(cat PATH)" gives it
    latte.ok(*NEW, "--category", "delivery", "--listen", text)
    assert not kept.exists()
    assert [s.text for s in stages(session)] == ["Something else", text]


def test_a_refusal_without_the_editor_keeps_nothing(
    latte: Latte, data_folder: Path, writer: Path
) -> None:
    latte.ok(*NEW, "--category", "delivery", "--listen", "Broken lamp")
    refused = latte("step", "1", "thank", "--text", "Thanks")  # acknowledge is due
    assert refused.exit_code == 1, refused.output
    assert "kept" not in refused.stderr
    assert not data_folder.exists()
