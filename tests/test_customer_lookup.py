"""`latte customer show` names a customer by ref, email, phone or name through `identity`'s
keys; several matches are chosen from on a terminal and listed elsewhere; Tab completes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pexpect
import pytest
from sqlmodel import Session

from latte_cli.models import Customer
from latte_cli.services.search import customer_history_named

from .conftest import Latte
from .test_pty import spawn

CUSTOMERS = (
    ("C-1", "Zoë O'Brien-Łukasiewicz", "Zoe@Example.org", "+44 (7700) 900-123"),
    (None, "Ana Diaz", "ana.one@example.org", None),
    (None, "ANA  DÍAZ", None, "+33 6 12 34 56 78"),
)


@pytest.fixture
def desk(latte: Latte) -> Latte:
    for ref, name, email, phone in CUSTOMERS:
        given = [("--customer", ref), ("--name", name), ("--email", email), ("--phone", phone)]
        latte.ok(
            "new", *(a for flag, value in given if value for a in (flag, value)),
            "--channel", "phone", "--category", "delivery", "--listen", f"About {name}",
        )  # fmt: skip
    return latte


def shown(latte: Latte, who: str) -> dict[str, object]:
    customer: dict[str, object] = json.loads(latte.ok("customer", "show", who, "--json").stdout)[
        "customer"
    ]
    return customer


@pytest.mark.parametrize(
    "who",
    ["C-1", "zoe@example.ORG", "+447700900123", "+44 7700 900 123", "zoe o'brien-lukasiewicz"],
)
def test_one_customer_by_each_key(desk: Latte, who: str) -> None:
    assert shown(desk, who)["ref"] == "C-1"


def test_a_phone_or_email_shared_by_no_one_else_names_one(desk: Latte) -> None:
    assert shown(desk, "+33612345678")["name"] == "ANA  DÍAZ"
    assert shown(desk, "ANA.ONE@example.org")["name"] == "Ana Diaz"


def test_several_matches_are_listed_without_a_terminal(desk: Latte) -> None:
    result = desk("customer", "show", "ana diaz")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and "Ana Diaz" in lines[0] and "ANA  DÍAZ" in lines[1]
    assert lines[2].startswith("Error: 2 customers match 'ana diaz'")
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_no_match_says_how_to_find_them(desk: Latte) -> None:
    result = desk("customer", "show", "Nobody Atall")
    assert result.exit_code == 1
    assert "latte customer search" in result.stderr


def test_a_chooser_picks_among_several(desk: Latte, session: Session) -> None:
    def second(found: list[Customer]) -> Customer:
        assert [c.name for c in found] == ["Ana Diaz", "ANA  DÍAZ"]
        return found[1]

    history = customer_history_named(session, "Ana Díaz", choose=second)
    assert history.customer.phone == "+33 6 12 34 56 78"


@pytest.mark.slow
def test_a_terminal_asks_which_customer(desk: Latte, db_url: str) -> None:
    child = spawn(db_url, "customer", "show", "Ana Diaz")
    child.expect_exact("2 customers match: which one?")
    child.expect_exact("ANA  DÍAZ")
    child.send("\x1b[B")  # down to the second
    child.send("\r")
    child.expect_exact("+33 6 12 34 56 78")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def complete(db_url: str, typed: str) -> list[str]:
    line = f"latte customer show {typed}"
    result = subprocess.run(
        [sys.executable, "-m", "latte_cli"],
        env={**os.environ, "LATTE_DB": db_url, "_LATTE_COMPLETE": "complete_bash",
             "COMP_WORDS": line, "COMP_CWORD": "3"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [value for value in result.stdout.splitlines() if value]


def test_tab_completes_refs_emails_phones_and_folded_names(desk: Latte, db_url: str) -> None:
    assert complete(db_url, "C-") == ["C-1"]
    # The second Ana by her folded name: the stored "ANA  DÍAZ" does not start with "ana".
    assert complete(db_url, "ana") == ["ana.one@example.org", "ana diaz"]
    assert complete(db_url, "+4477") == ["+447700900123"]
    assert complete(db_url, "zoe") == ["zoe@example.org"]
    assert complete(db_url, "ZOË") == ["ZOË O'Brien-Łukasiewicz"]
    assert complete(db_url, "nobody") == []
    assert shown(desk, "ZOË O'Brien-Łukasiewicz")["ref"] == "C-1"  # what completion gave
