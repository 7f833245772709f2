"""`latte db check` lists every purchase whose amount no write path allows (whole cents from 0
to `workflow.MAX_CENTS`), and says when its list of problems is cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from latte_cli import db
from latte_cli.workflow import MAX_CENTS

from .conftest import Latte

ORDERS = 70


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with db.get_engine(url).connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def _execute(url: str, *sql: str) -> None:
    with db.get_engine(url).begin() as connection:
        for statement in sql:
            connection.execute(text(statement))


@pytest.fixture
def shop(latte: Latte, tmp_path: Path) -> Latte:
    lines = ["order_ref,customer_ref,purchased_at,amount"]
    lines += [
        f"O-{n:04},C-{n % 7},2026-0{1 + n % 9}-1{n % 10}T10:00:00Z,{n}.{n % 100:02}"
        for n in range(1, ORDERS + 1)
    ]
    path = tmp_path / "purchases.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    latte.ok("import", "purchases", str(path))
    return latte


def _allowed(value: object) -> bool:
    """What an import writes: an integer number of cents from 0 to MAX_CENTS."""
    return type(value) is int and 0 <= value <= MAX_CENTS


def _expected(url: str) -> set[int]:
    return {
        int(str(pid))
        for pid, amount in _rows(url, "SELECT id, amount_cents FROM purchase")
        if not _allowed(amount)
    }


def _listed(stdout: str) -> set[int]:
    return {int(line.split()[1]) for line in stdout.splitlines() if line.startswith("purchase ")}


def test_check_lists_amounts_out_of_bounds(shop: Latte, db_url: str) -> None:
    ids = [int(str(r[0])) for r in _rows(db_url, "SELECT id FROM purchase ORDER BY id")]
    statements = [
        f"UPDATE purchase SET amount_cents = -500 WHERE id = {ids[0]}",
        f"UPDATE purchase SET amount_cents = {MAX_CENTS + 1} WHERE id = {ids[1]}",
        # The bounds themselves are allowed.
        f"UPDATE purchase SET amount_cents = 0 WHERE id = {ids[2]}",
        f"UPDATE purchase SET amount_cents = {MAX_CENTS} WHERE id = {ids[3]}",
    ]
    if db_url.startswith("sqlite"):  # SQLite stores what a column is given
        statements += [
            f"UPDATE purchase SET amount_cents = 9000000000000000000 WHERE id = {ids[4]}",
            f"UPDATE purchase SET amount_cents = 'abc' WHERE id = {ids[5]}",
            f"UPDATE purchase SET amount_cents = 12.5 WHERE id = {ids[6]}",
        ]
    _execute(db_url, *statements)
    expected = _expected(db_url)
    assert len(expected) == (5 if db_url.startswith("sqlite") else 2)
    result = shop("db", "check")
    assert result.exit_code == 1
    assert _listed(result.stdout) == expected
    assert "correct it, then `latte db rebuild-summary`" in result.stdout
    assert f"has {len(expected)} problems" in result.stderr
    assert "Traceback" not in result.output
    data = json.loads(shop("db", "check", "--json").stdout)
    assert data["problem_count"] == len(expected) and data["truncated"] is False


def test_check_says_when_its_list_is_cut(shop: Latte, db_url: str) -> None:
    _execute(db_url, "UPDATE purchase SET amount_cents = -1 WHERE id % 10 != 0")
    expected = _expected(db_url)
    assert len(expected) > 50
    result = shop("db", "check")
    assert result.exit_code == 1
    listed = _listed(result.stdout)
    assert len(listed) == 50 and listed <= expected
    assert f"the first 50 of {len(expected)} problems are listed" in result.stdout
    assert f"the first 50 of {len(expected)} listed on stdout" in result.stderr
    data = json.loads(shop("db", "check", "--json").stdout)
    assert data["problem_count"] == len(expected) and len(data["problems"]) == 50
    assert data["problems_shown"] == 50 and data["truncated"] is True


def test_a_clean_shop_is_clean(shop: Latte, db_url: str) -> None:
    assert _expected(db_url) == set()
    data = json.loads(shop.ok("db", "check", "--json").stdout)
    assert data["clean"] and data["problems_shown"] == 0 and data["truncated"] is False
