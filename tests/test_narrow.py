"""At 80 and 100 columns, in a real pseudo-terminal: what latte shows reads cleanly.

The bytes latte writes are replayed into a screen (tests/screen.py), so the checks are on what
a person sees: no word cut at the end of a row, the Listen answer using the whole width, long
phrase choices ending in "…", report headers on one line. Ctrl-D at a select and at a text
prompt ends the flow with exit 130 and keeps the stages already saved.
"""

from __future__ import annotations

import io
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pexpect
import pytest
from sqlmodel import Session, col, select

from latte_cli.cli import guided, prompts
from latte_cli.models import Complaint, StageRecord
from latte_cli.phrases import PACKAGED_PHRASES
from tests.conftest import Latte
from tests.screen import Screen, broken_words

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]
TIMEOUT = 30
ENTER = "\r"
FINISH = "\x1b\r"
CTRL_D = "\x04"
NAME = "Ana María Díaz-Fernández"
WORDS = (
    "The Scandinavian-designed lamp I ordered arrived with a cracked lampshade, a scratched "
    "aluminium base and a disconnected power cable; extraordinarily disappointing considering "
    "the price and the two-week wait."
)


class Terminal:
    """latte in a pseudo-terminal of the given width, with everything it wrote kept."""

    def __init__(
        self, db_url: str, columns: int, *args: str, env: dict[str, str] | None = None
    ) -> None:
        env = {
            **os.environ,
            **(env or {}),
            "LATTE_DB": db_url,
            "LATTE_AGENT": "ana",
            "LATTE_TZ": "UTC",
            "TERM": "xterm",
            "NO_COLOR": "1",
            "PROMPT_TOOLKIT_NO_CPR": "1",
        }
        env.pop("COLUMNS", None)  # the terminal's own size, as a person's terminal has
        env.pop("LINES", None)
        self.columns = columns
        self.log = io.StringIO()
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "latte_cli", *args],
            env=env,
            encoding="utf-8",
            timeout=TIMEOUT,
            dimensions=(24, columns),
        )
        self.child.logfile_read = self.log

    def answer(self, prompt: str, keys: str) -> None:
        self.child.expect_exact(prompt)
        self.child.send(keys)

    def screen(self) -> list[str]:
        screen = Screen(self.columns)
        screen.feed(self.log.getvalue())
        return screen.lines()

    def finish(self) -> int:
        self.child.expect(pexpect.EOF)
        self.child.close()
        status: int = self.child.exitstatus
        return status


def known_words() -> set[str]:
    """Every word latte or the agent could put on screen in these tests."""
    sources = [
        WORDS,
        NAME,
        PACKAGED_PHRASES.read_text(encoding="utf-8"),
        Path(guided.__file__).read_text(encoding="utf-8"),
        Path(prompts.__file__).read_text(encoding="utf-8"),
    ]
    return {w for text in sources for w in re.findall(r"\w+", text) if len(w) > 1}


def between(lines: list[str], start: str, end: str) -> list[str]:
    first = next(i for i, line in enumerate(lines) if start in line)
    last = next(i for i, line in enumerate(lines) if i > first and end in line)
    return lines[first + 1 : last]


@pytest.mark.parametrize("columns", [80, 100])
def test_the_guided_flow_reads_cleanly(db_url: str, session: Session, columns: int) -> None:
    term = Terminal(db_url, columns, "new", "--name", NAME, "--customer", "C-7")
    term.child.expect_exact("1/5 Listen")
    term.answer("The customer's words", WORDS + FINISH)
    term.answer("Channel", ENTER)
    term.answer("Category", "delivery" + ENTER)
    term.answer("Location", ENTER)
    term.answer("Severity", ENTER)
    term.child.expect_exact("Saved Listen")
    term.child.expect_exact("Start from a phrase?")
    term.child.expect_exact("Write my own")
    choices = [line for line in term.screen() if re.match(r"^ (»| ) \d\) ", line)]
    term.child.send("2" + ENTER)
    term.answer("What you said to acknowledge it", ENTER)
    term.child.expect_exact("Saved Acknowledge")
    term.answer("Action:", "1" + ENTER)
    term.answer("Start from a phrase?", "4" + ENTER)
    term.answer("What exactly was done", ENTER)
    term.answer("Amount", "25" + ENTER)
    term.answer("exactly what they asked for", "y")
    term.child.expect_exact("Saved Take action")
    term.answer("Start from a phrase?", "4" + ENTER)
    term.answer("How you thanked them", ENTER)
    term.child.expect_exact("Saved Thank")
    term.answer("root cause", "1" + ENTER)
    term.answer("What will change", "Fragile goods are double-boxed from now on" + ENTER)
    term.answer("Start from a phrase?", "1" + ENTER)
    term.answer("What you explained", ENTER)
    term.child.expect_exact("LATTE summary")
    assert term.finish() == 0

    lines = term.screen()
    assert not broken_words(lines, columns, known_words()), "\n".join(lines)
    # The customer's words fill the rows below the question, each nearly the whole width.
    box = between(lines, "? The customer's words:", "? Channel:")
    assert " ".join(" ".join(box).split()) == WORDS
    assert len(box) >= 2
    assert all(columns - 15 <= len(row) <= columns for row in box[:-1]), box
    # Long phrase choices end in "…" within the width; short ones are whole.
    assert choices and all(len(c) < columns for c in choices)
    assert any(c.endswith("…") for c in choices), choices
    assert any(c.endswith("Write my own") for c in choices), choices
    # Guidance wraps at words too, and is all there.
    guidance = "Name the problem and how it affected them, and apologise for the experience."
    assert guidance in " ".join(" ".join(between(lines, "2/5 Acknowledge", "?")).split())

    complaint = session.exec(select(Complaint)).one()
    assert complaint.stage_due is None
    stages = session.exec(select(StageRecord).order_by(col(StageRecord.id))).all()
    assert stages[0].text == WORDS
    assert stages[1].text.startswith("Thank you for telling me, Ana.")


def stages_saved(session: Session) -> list[str]:
    rows = session.exec(select(StageRecord.stage).order_by(col(StageRecord.id))).all()
    session.commit()
    return list(rows)


@pytest.mark.parametrize(
    ("where", "keys"),
    [
        ("select", ["Start from a phrase?", CTRL_D]),
        ("text", ["What you said to acknowledge it", "I'm so sorry" + CTRL_D]),
    ],
)
def test_ctrl_d_at_a_prompt_exits_130_and_keeps_what_was_saved(
    db_url: str, session: Session, where: str, keys: list[str]
) -> None:
    term = Terminal(
        db_url, 80, "new", "--channel", "phone", "--category", "billing", "--name", "Rui"
    )
    term.answer("The customer's words", "Charged twice" + FINISH)
    term.answer("Location", ENTER)
    term.answer("Severity", ENTER)
    term.child.expect_exact("Saved Listen")
    if where == "text":
        term.answer("Start from a phrase?", "1" + ENTER)
    term.answer(*keys)
    term.child.expect_exact("latte resume 1")
    assert term.finish() == 130
    assert "Traceback" not in term.log.getvalue()
    assert stages_saved(session) == ["listen"]


def agents(latte: Latte, names: list[str]) -> None:
    """Complaints resolved by several agents, some open: every column of the report filled."""
    for number, agent in enumerate(names):
        for _ in range(number + 1):
            cid = latte.ok(
                "--agent", agent, "new", "--customer", f"C-{number}", "--name", "Ana",
                "--channel", "phone", "--category", "delivery", "--listen", "Broken",
            ).stdout.strip()  # fmt: skip
            for stage, flags in (
                ("acknowledge", ["--text", "Sorry"]),
                ("take_action", ["--kind", "refund", "--detail", "Refunded"]),
                ("thank", ["--text", "Thanks"]),
                ("explain", ["--root-cause", "delivery", "--change", "Padding"]),
            ):
                latte.ok("--agent", agent, "step", cid, stage, *flags)
        latte.ok("--agent", agent, "new", "--channel", "email", "--category", "x", "--listen", "y")


LONG_AGENT = "samira.okonkwo-benedetti"


@pytest.mark.parametrize(
    ("columns", "names", "short"),
    [
        (80, ["ana", LONG_AGENT, "kim"], True),
        (100, ["ana", "sam", "kim"], False),
        (100, ["ana", LONG_AGENT, "kim"], True),
    ],
)
def test_report_agents_headers_stay_on_one_line(
    latte: Latte, db_url: str, columns: int, names: list[str], short: bool
) -> None:
    agents(latte, names)
    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    term = Terminal(db_url, columns, "report", "agents", "--since", since)
    assert term.finish() == 0
    lines = term.screen()

    top = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    header, rule = lines[top + 1], lines[top + 2]
    assert rule.startswith("┡"), "\n".join(lines)  # the header is one line
    cells = [c.strip() for c in header.strip("┃").split("┃")]
    if short:
        assert cells == ["Agent", "Res.", "Med.", "p90", "≤tgt", "Reop.", "Rep.", "NPS", "Open"]
        assert any("Res. = Resolved" in line for line in lines)
    else:
        assert cells[1] == "Resolved" and "Repurchased" in cells
        assert not any("Res. = Resolved" in line for line in lines)
    assert all(len(line) <= columns for line in lines)
    words = {"Resolved", "Repurchased", "Reopened", "backlog", "overdue", "brackets"}
    assert not broken_words(lines, columns, words | {"samira", "okonkwo", "benedetti"})
    # A long agent name goes on several lines at its punctuation, never inside a word.
    labels = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    assert all(name in labels for name in names), "\n".join(lines)


@pytest.mark.parametrize("columns", [80, 60])
def test_show_and_a_report_keep_names_and_figures_whole(
    latte: Latte, db_url: str, tmp_path: Path, columns: int
) -> None:
    """An imported agent's name in `latte show`, and every figure of a report, on one row of
    the screen each: at 60 columns the steps and the sections that do not fit are records."""
    source = tmp_path / "cx.csv"
    source.write_text(
        "external_id,customer_ref,channel,category,summary,listen,opened_at,acknowledged_at\n"
        f'X-1,C-1,chat,delivery,Broken,"{WORDS}",2026-01-19T01:30:52Z,2026-01-19T01:34:33Z\n',
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(source))
    agents(latte, ["ana", LONG_AGENT, "kim"])

    term = Terminal(db_url, columns, "show", "1")
    assert term.finish() == 0
    lines = term.screen()
    assert all(len(line) <= columns for line in lines)
    steps = [line for line in lines if re.search(r"(^|│ )(listen|acknowledge)\b", line)]
    assert len(steps) == 2 and all("import:cx.csv" in line for line in steps), "\n".join(lines)
    assert not broken_words(lines, columns, known_words())

    since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    term = Terminal(db_url, columns, "report", "agents", "--since", since)
    assert term.finish() == 0
    lines = term.screen()
    assert all(len(line) <= columns for line in lines)
    # Each agent's resolved count (1, 2, 3 complaints) is whole, in a cell or a record.
    if columns == 60:
        counts = [line.split(": ")[1] for line in lines if line.startswith("  Resolved: ")]
    else:
        cells = [line.split("│")[2].strip() for line in lines if line.startswith("│")]
        counts = [cell for cell in cells if cell][:4]
    assert sorted(counts) == ["0", "1", "2", "3"], "\n".join(lines)  # (none) resolved none
