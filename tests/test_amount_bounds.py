"""Amounts above `workflow.MAX_CENTS` are a per-row reject in imports, as they are refused by
`latte step --amount`, never an import that stops with "unexpected failure" (an amount too
large for the database's integer column). On both stores, against the rows as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from latte_cli.importer.fields import Bad, cents
from latte_cli.workflow import MAX_CENTS

from .conftest import Latte
from .test_report_outcomes import write_csv

LIMIT = f"{MAX_CENTS // 100}.00"
ABOVE = f"{MAX_CENTS // 100}.01"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("12.50", 1250),
        ("7", 700),
        ("0.5", 50),
        (LIMIT, MAX_CENTS),
        (f"{MAX_CENTS // 100}", MAX_CENTS),
    ],
)
def test_amounts_up_to_the_bound_are_read(text: str, expected: int) -> None:
    assert cents(text, "amount") == expected


@pytest.mark.parametrize("text", [ABOVE, "99999999999999999999.00", "1" * 40, f"{MAX_CENTS}"])
def test_amounts_above_the_bound_are_refused_with_the_reason(text: str) -> None:
    with pytest.raises(Bad, match=re.escape("more than 10,000,000.00")):
        cents(text, "amount")


def test_a_purchase_line_above_the_bound_is_one_reject(latte: Latte, tmp_path: Path) -> None:
    rows = [
        "O1,C-1,2026-01-01T00:00:00Z,12.50",
        "O2,C-1,2026-01-02T00:00:00Z,99999999999999999999.00",
        f"O3,C-2,2026-01-03T00:00:00Z,{LIMIT}",
        f"O4,C-2,2026-01-04T00:00:00Z,{ABOVE}",
    ]
    source = write_csv(tmp_path / "p.csv", "order,customer,date,total", rows)
    result = latte("import", "purchases", str(source), "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["inserted"], report["rejected"]) == (2, 2)
    assert {r["line"] for r in report["rejects"]} == {3, 5}
    listed = json.loads(latte.ok("customer", "show", "C-2", "--json").stdout)
    assert [p["amount"] for p in listed["purchases"]] == [MAX_CENTS / 100]


def test_a_remedy_above_the_bound_is_one_reject(latte: Latte, tmp_path: Path) -> None:
    header = (
        "external_id,customer,channel,category,listen,opened_at,acknowledged_at,take_action_at,"
        "action_kind,amount"
    )
    rows = [
        "X1,C-1,email,delivery,Late,2026-01-01T09:00:00Z,2026-01-01T09:10:00Z,2026-01-01T09:30:00Z,refund,12.50",
        f"X2,C-2,email,delivery,Late,2026-01-01T10:00:00Z,2026-01-01T10:10:00Z,2026-01-01T10:30:00Z,refund,{ABOVE}",
    ]
    result = latte(
        "import", "complaints", str(write_csv(tmp_path / "c.csv", header, rows)), "--json"
    )
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["inserted"], report["rejected"]) == (1, 1)
    assert "more than 10,000,000.00" in json.dumps(report["rejects"])


HALF = f"{MAX_CENTS // 200}.00"


@pytest.mark.parametrize("ordered", [True, False], ids=["ordered", "scattered"])
def test_an_order_whose_lines_add_up_above_the_bound_is_rejected_whole(
    latte: Latte, tmp_path: Path, ordered: bool
) -> None:
    # O2's three lines are each at the bound; their sum is above it (and above a 32-bit
    # column). O3's two halves add up to the bound exactly and are stored.
    lines = {
        "O1": ["O1,C-1,2026-01-01T00:00:00Z,12.50"],
        "O2": [f"O2,C-1,2026-01-02T00:00:00Z,{LIMIT}"] * 3,
        "O3": [f"O3,C-2,2026-01-03T00:00:00Z,{HALF}"] * 2,
    }
    if ordered:
        rows = [*lines["O1"], *lines["O2"], *lines["O3"]]
    else:
        rows = [lines["O2"][0], lines["O3"][0], lines["O1"][0], lines["O2"][1]]
        rows += [lines["O3"][1], lines["O2"][2]]
    source = write_csv(tmp_path / "p.csv", "order,customer,date,total", rows)
    result = latte("import", "purchases", str(source), "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["inserted"], report["rejected"]) == (2, 3)
    o2 = {n + 2 for n, row in enumerate(rows) if row.startswith("O2,")}
    assert {r["line"] for r in report["rejects"]} == o2
    assert all("add up to more than 10,000,000.00" in json.dumps(r) for r in report["rejects"])
    amounts = {
        ref: [
            p["amount"]
            for p in json.loads(latte.ok("customer", "show", ref, "--json").stdout)["purchases"]
        ]
        for ref in ("C-1", "C-2")
    }
    assert amounts == {"C-1": [12.5], "C-2": [MAX_CENTS / 100]}


def test_an_order_whose_lines_count_more_than_the_bound_is_rejected_whole(
    latte: Latte, tmp_path: Path
) -> None:
    # Each line may count up to 1,000,000 lines; O2's three together count more (and more
    # than a 32-bit column holds after 2,148 of them).
    rows = [
        "O1,C-1,2026-01-01T00:00:00Z,12.50,2",
        *["O2,C-1,2026-01-02T00:00:00Z,1.00,1000000"] * 3,
        "O3,C-2,2026-01-03T00:00:00Z,3.00,1000000",
    ]
    source = write_csv(tmp_path / "p.csv", "order,customer,date,total,lines", rows)
    result = latte("import", "purchases", str(source), "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["inserted"], report["rejected"]) == (2, 3)
    assert {r["line"] for r in report["rejects"]} == {3, 4, 5}
    assert all("more than 1,000,000 lines" in json.dumps(r) for r in report["rejects"])
