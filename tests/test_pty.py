"""End to end in a real pseudo-terminal: a whole complaint typed through the five LATTE stages,
then its follow-up, as an agent would, and the rows checked in the database."""

from __future__ import annotations

import json
import os
import re
import sys

import pexpect
import pytest
from sqlmodel import Session, col, select

from latte_cli.models import Complaint, Customer, FollowUp, StageRecord
from tests.conftest import Latte

pytestmark = pytest.mark.slow
TIMEOUT = 30
ESC_ENTER = "\x1b\r"
SGR = re.compile(r"\x1b\[[0-9;]*m")


def spawn(db_url: str, *args: str) -> pexpect.spawn:
    env = {
        **os.environ,
        "LATTE_DB": db_url,
        "LATTE_AGENT": "ana",
        "LATTE_TZ": "UTC",
        "TERM": "xterm",
        "NO_COLOR": "1",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "COLUMNS": "80",
        "LINES": "40",
    }
    return pexpect.spawn(
        sys.executable,
        ["-m", "latte_cli", *args],
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(40, 80),
    )


def answer(child: pexpect.spawn, prompt: str, keys: str) -> None:
    child.expect_exact(prompt)
    child.send(keys)


def test_a_whole_complaint_and_its_followup_in_a_terminal(db_url: str, session: Session) -> None:
    child = spawn(db_url, "new")
    answer(child, "Customer (ref, email or name)", "\r")
    answer(child, "No customer given", "1\r")
    answer(child, "Customer's name", "Ana Diaz\r")
    answer(child, "Customer ref", "C-1\r")
    answer(child, "Email", "ana@example.com\r")
    answer(child, "Phone", "\r")
    child.expect_exact("1/5 Listen")
    answer(child, "The customer's words", "The parcel arrived crushed." + ESC_ENTER)
    answer(child, "Channel", "\r")
    answer(child, "Category", "delivery\r")
    answer(child, "Location", "Porto\r")
    answer(child, "Severity", "3\r")
    child.expect_exact("Saved Listen")
    child.expect_exact("2/5 Acknowledge")
    answer(child, "Start from a phrase?", "2\r")
    answer(child, "What you said to acknowledge it", "\r")
    child.expect_exact("Saved Acknowledge")
    answer(child, "Action:", "2\r")  # replacement
    answer(child, "Start from a phrase?", "2\r")
    answer(child, "What exactly was done", "\r")
    answer(child, "exactly what they asked for", "n")
    answer(child, "Options you offered", "Replacement" + "\r" + "Refund" + ESC_ENTER)
    child.expect_exact("Saved Take action")
    answer(child, "Start from a phrase?", "1\r")
    answer(child, "How you thanked them", "\r")
    child.expect_exact("Saved Thank")
    answer(child, "root cause", "2\r")
    answer(child, "What will change", "Padded boxes for fragile goods\r")
    answer(child, "Start from a phrase?", "1\r")
    answer(child, "What you explained", "\r")
    child.expect_exact("Saved Explain")
    child.expect_exact("LATTE summary")
    child.expect_exact("latte followup record 1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before

    child = spawn(db_url, "followup", "record", "1")
    answer(child, "reach the customer", "y")
    answer(child, "satisfied", "y")
    answer(child, "recommend us", "9\r")
    answer(child, "bought from us again", "1\r")
    answer(child, "Note", "Loves the new box\r")
    child.expect_exact("recorded")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before

    complaint = session.exec(select(Complaint)).one()
    assert (complaint.channel, complaint.category, complaint.location, complaint.severity) == (
        "phone",
        "delivery",
        "Porto",
        "high",
    )
    assert complaint.stage_due is None and complaint.action_kind == "replacement"
    customer = session.get(Customer, complaint.customer_id)
    assert customer is not None and (customer.ref, customer.name) == ("C-1", "Ana Diaz")
    stages = session.exec(
        select(StageRecord)
        .where(StageRecord.complaint_id == complaint.id)
        .order_by(col(StageRecord.id))
    ).all()
    assert [s.stage for s in stages] == ["listen", "acknowledge", "take_action", "thank", "explain"]
    assert stages[0].text == "The parcel arrived crushed."
    assert "Thank you for telling me, Ana." in stages[1].text
    assert json.loads(stages[2].options_offered or "[]") == ["Replacement", "Refund"]
    assert stages[4].what_will_change == "Padded boxes for fragile goods"
    followup = session.exec(select(FollowUp)).one()
    assert (followup.reached, followup.satisfied, followup.nps, followup.repurchased) == (
        True,
        True,
        9,
        True,
    )
    assert followup.note == "Loves the new box"


def test_ctrl_c_in_a_terminal_exits_130_with_how_to_continue(db_url: str) -> None:
    child = spawn(db_url, "new", "--channel", "phone", "--category", "billing", "--name", "Rui")
    answer(child, "The customer's words", "Charged twice" + ESC_ENTER)
    answer(child, "Location", "\r")
    answer(child, "Severity", "\r")
    child.expect_exact("Saved Listen")
    answer(child, "Start from a phrase?", "\x03")
    child.expect_exact("latte resume 1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in (child.before or "")


@pytest.mark.parametrize("no_color", [True, False])
def test_no_color_in_a_terminal_means_no_escape_sequences(
    latte: Latte, db_url: str, no_color: bool
) -> None:
    latte.ok("new", "--channel", "phone", "--category", "delivery", "--listen", "Late")
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLORTERM")}
    env.update(LATTE_DB=db_url, TERM="xterm-256color", COLUMNS="80", LINES="40")
    if no_color:
        env["NO_COLOR"] = "1"

    output, status = pexpect.run(
        f"{sys.executable} -m latte_cli list",
        env=env,
        encoding="utf-8",
        timeout=TIMEOUT,
        withexitstatus=True,
        dimensions=(40, 80),
    )

    assert status == 0, output
    plain = SGR.sub("", output)
    assert "acknowledge" in plain and "delivery" in plain and "Late" in plain
    if no_color:
        assert not SGR.search(output), repr(output)
    else:
        # A terminal without NO_COLOR does get styles: the stage due is yellow.
        assert SGR.search(output), repr(output)
        assert re.search(r"\x1b\[[0-9;]*33m\s*acknowledge", output), repr(output)
