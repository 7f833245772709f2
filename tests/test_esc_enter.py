"""Esc then Enter, which the multi-line questions teach, at a choice or a yes/no question in a
real pseudo-terminal: it answers as Enter does (the pointed choice, the default), never a crash.
"""

from __future__ import annotations

import pexpect
import pytest
from sqlmodel import Session, col, select

from latte_cli.models import Complaint, Customer, StageRecord
from tests.test_pty import ESC_ENTER, answer, spawn

pytestmark = pytest.mark.slow


def test_esc_enter_at_every_choice_takes_the_pointed_one(db_url: str, session: Session) -> None:
    child = spawn(db_url, "new")
    answer(child, "Customer (ref, email or name)", "\r")
    answer(child, "No customer given", ESC_ENTER)  # the first choice: a new customer
    answer(child, "Customer's name", "Rui Costa\r")
    answer(child, "Customer ref", "\r")
    answer(child, "Email", "\r")
    answer(child, "Phone", "\r")
    answer(child, "The customer's words", "Charged twice for one order" + ESC_ENTER)
    answer(child, "Channel", ESC_ENTER)
    answer(child, "Category", "billing\r")
    answer(child, "Location", "\r")
    answer(child, "Severity", ESC_ENTER)
    child.expect_exact("Saved Listen")
    answer(child, "Start from a phrase?", ESC_ENTER)  # the first phrase, then edited
    answer(child, "What you said to acknowledge it", "\r")
    child.expect_exact("Saved Acknowledge")
    answer(child, "Action:", ESC_ENTER)
    answer(child, "Start from a phrase?", ESC_ENTER)
    answer(child, "What exactly was done", "\r")
    answer(child, "Amount", "\r")
    answer(child, "exactly what they asked for", ESC_ENTER)  # the default: yes
    child.expect_exact("Saved Take action")
    answer(child, "Start from a phrase?", ESC_ENTER)
    answer(child, "How you thanked them", "\r")
    child.expect_exact("Saved Thank")
    answer(child, "root cause", ESC_ENTER)
    answer(child, "What will change", "Charges checked twice\r")
    answer(child, "Start from a phrase?", ESC_ENTER)
    answer(child, "What you explained", "\r")
    child.expect_exact("Saved Explain")
    child.expect(pexpect.EOF)
    child.close()
    output = child.before or ""
    assert child.exitstatus == 0, output
    assert "unexpected failure" not in output and "Traceback" not in output

    complaint = session.exec(select(Complaint)).one()
    assert complaint.stage_due is None and complaint.severity == "medium"
    customer = session.get(Customer, complaint.customer_id)
    assert customer is not None and customer.name == "Rui Costa"
    stages = session.exec(
        select(StageRecord)
        .where(StageRecord.complaint_id == complaint.id)
        .order_by(col(StageRecord.id))
    ).all()
    assert [s.stage for s in stages] == ["listen", "acknowledge", "take_action", "thank", "explain"]
    assert all(s.text.strip() for s in stages)


@pytest.mark.parametrize("default", [True, False])
def test_esc_enter_at_a_yes_no_question_is_its_default(default: bool) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from latte_cli.cli.prompts import Prompter

    with create_pipe_input() as keys:
        keys.send_text(ESC_ENTER)
        assert Prompter(keys, DummyOutput()).confirm("Reached?", default=default) is default


def test_esc_enter_then_a_digit_at_a_select_takes_the_pointed_choice() -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from latte_cli.cli.prompts import Prompter

    with create_pipe_input() as keys:
        keys.send_text(ESC_ENTER + "2\r")
        picked = Prompter(keys, DummyOutput()).select("Pick", [("a", "A"), ("b", "B")])
    assert picked == "A"
