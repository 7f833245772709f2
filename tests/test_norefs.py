"""A customer without a ref is named by email, phone or name in `latte customer export`,
`latte customer forget` and `latte hold`, as in `latte customer show`; `forget` refuses a
missing database instead of creating it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from latte_cli import db

from .conftest import Latte

NAME, EMAIL = "Noref Person", "noref@example.com"
WORDS = "kettle whistles in a minor key"


def _noref(latte: Latte, name: str = NAME, email: str = EMAIL) -> str:
    """A complaint of a customer created without a ref; returns the complaint id."""
    cid = latte.ok(
        "new", "--name", name, "--email", email, "--channel", "web", "--category", "website",
        "--listen", WORDS,
    ).stdout.strip()  # fmt: skip
    return cid


def _customers(db_url: str) -> list[tuple[str | None, str | None, str | None]]:
    with db.get_engine(db_url).connect() as c:
        rows = c.execute(text("SELECT ref, name, email FROM customer ORDER BY id")).all()
    return [(r[0], r[1], r[2]) for r in rows]


def test_export_finds_a_customer_without_a_ref_by_email(latte: Latte, db_url: str) -> None:
    _noref(latte)
    assert _customers(db_url) == [(None, NAME, EMAIL)]
    data = json.loads(latte.ok("customer", "export", EMAIL).stdout)
    assert data["customer"]["name"] == NAME and data["customer"]["ref"] is None
    assert len(data["complaints"]) == 1 and WORDS in json.dumps(data)
    by_name = json.loads(latte.ok("customer", "export", NAME).stdout)
    assert by_name["customer"]["email"] == EMAIL


def test_forget_erases_a_customer_without_a_ref(latte: Latte, db_url: str) -> None:
    cid = _noref(latte)
    result = latte.ok("customer", "forget", EMAIL, "--reason", "erasure request", "--yes")
    assert f"Forgot customer {EMAIL}" in result.stdout
    ((ref, name, email),) = _customers(db_url)
    assert name is None and email is None and ref is not None and ref.startswith("forgotten-")
    shown = latte.ok("show", cid, "--json").stdout
    assert WORDS not in shown and NAME not in shown
    assert latte("customer", "show", EMAIL).exit_code == 1


def test_hold_on_a_customer_without_a_ref(latte: Latte, db_url: str) -> None:
    _noref(latte)
    placed = latte.ok("hold", EMAIL, "--reason", "claim 2026/311").stdout
    assert f"customer {EMAIL}" in placed and "None" not in placed
    listed = latte.ok("hold", "--list", "--json").stdout
    assert len(json.loads(listed)) == 1 and EMAIL in listed and "None" not in listed
    refused = latte("customer", "forget", EMAIL, "--reason", "erasure request", "--yes")
    assert refused.exit_code == 1 and "hold" in refused.stderr
    assert f"latte hold {EMAIL} --release" in refused.stderr
    assert _customers(db_url) == [(None, NAME, EMAIL)]
    latte.ok("hold", EMAIL, "--release")
    assert json.loads(latte.ok("hold", "--list", "--json").stdout) == []


def test_a_ref_still_names_the_customer(latte: Latte, db_url: str) -> None:
    latte.ok("new", "--customer", "C-77", "--name", "Ref Person", "--email", "r@example.com",
             "--channel", "web", "--category", "website", "--listen", WORDS)  # fmt: skip
    assert json.loads(latte.ok("customer", "export", "C-77").stdout)["customer"]["ref"] == "C-77"
    latte.ok("hold", "C-77", "--reason", "r")
    latte.ok("hold", "C-77", "--release")
    result = latte.ok("customer", "forget", "C-77", "--reason", "request", "--yes")
    assert "Forgot customer C-77" in result.stdout
    missing = latte("customer", "export", "C-NOBODY")
    assert missing.exit_code == 1 and "No customer with ref 'C-NOBODY'" in missing.stderr


def test_a_name_several_customers_share_is_refused(latte: Latte, db_url: str) -> None:
    _noref(latte, email="first@example.com")
    _noref(latte, email="second@example.com")
    for args in (
        ("customer", "export", NAME),
        ("customer", "forget", NAME, "--reason", "request", "--yes"),
        ("hold", NAME, "--reason", "claim"),
    ):
        result = latte(*args)
        assert result.exit_code == 1, (args, result.output)
        assert "2 customers match" in result.stderr
        assert "first@example.com" in result.stderr and "second@example.com" in result.stderr
        assert "Traceback" not in result.output
    assert [c[1:] for c in _customers(db_url)] == [
        (NAME, "first@example.com"),
        (NAME, "second@example.com"),
    ]
    assert json.loads(latte.ok("hold", "--list", "--json").stdout) == []


@pytest.mark.sqlite_only
def test_forget_and_export_leave_a_missing_database_missing(latte: Latte, tmp_path: Path) -> None:
    missing = tmp_path / "x" / "nope.db"
    for args in (
        ("customer", "forget", "X", "--reason", "r", "--yes"),
        ("customer", "export", "X"),
    ):
        result = latte("--db", str(missing), *args)
        assert result.exit_code == 1, (args, result.output)
        assert "No database at" in result.stderr
        assert not missing.exists() and not missing.parent.exists()


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_on_a_terminal_forget_asks_for_what_was_given(latte: Latte, db_url: str) -> None:
    import pexpect

    from tests.test_pty import spawn

    _noref(latte)
    child = spawn(db_url, "customer", "forget", EMAIL, "--reason", "erasure request")
    child.expect_exact(f"Type '{EMAIL}' to confirm")
    child.send("C-WRONG\r")
    child.expect_exact("Not confirmed: nothing was erased.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert _customers(db_url) == [(None, NAME, EMAIL)]
    child = spawn(db_url, "customer", "forget", EMAIL, "--reason", "erasure request")
    child.expect_exact(f"Type '{EMAIL}' to confirm")
    child.send(f"{EMAIL}\r")
    child.expect_exact(f"Forgot customer {EMAIL}")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert _customers(db_url)[0][1:] == (None, None)
