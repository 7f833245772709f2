"""Amounts, digits and date layouts as other systems export them (README, "Amounts" and
"Dates"): thousands separators, a currency sign or code, `--decimal-mark` from the flag or a
profile, digits of any script, and `--date-format` patterns refused before anything is read.

Each case states the amount it means in cents; the stored cents are compared with it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from latte_cli import db
from latte_cli.importer import profiles
from latte_cli.importer.fields import Amounts
from latte_cli.models import Complaint, Purchase, StageRecord
from latte_cli.workflow import MAX_CENTS

from .conftest import Latte

ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩"
DEVANAGARI = "०१२३४५६७८९"
NBSP, NNBSP = "\u00a0", "\u202f"

# (as written, the amount meant in cents), with the decimal mark "."
POINT_CASES = [
    ("12", 1200),
    ("12.5", 1250),
    ("12.50", 1250),
    ("1,234.50", 123450),
    ("1,234,567.50", 123456750),
    ("1 234.50", 123450),
    (f"1{NBSP}234.50", 123450),
    (f"1{NNBSP}234.50", 123450),
    ("1'234'567", 123456700),
    ("$12.50", 1250),
    ("$ 12.50", 1250),
    ("12.50$", 1250),
    ("USD 1,234.50", 123450),
    ("1,234.50USD", 123450),
    ("10,000,000.00", MAX_CENTS),
]
# ... and with the decimal mark ","
COMMA_CASES = [
    ("12", 1200),
    ("12,5", 1250),
    ("12,50 €", 1250),
    (f"12,50{NBSP}€", 1250),
    ("€12,50", 1250),
    ("EUR 1.234,50", 123450),
    ("1.234,50EUR", 123450),
    ("1 234,50", 123450),
    (f"1{NNBSP}234{NNBSP}567,5", 123456750),
    ("1.234.567,50", 123456750),
    ("1'234,50", 123450),
]


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue()


def purchases_file(path: Path, amounts: list[str], *, dates: list[str] | None = None) -> Path:
    """One order per amount, O1, O2, ..., for customer C-1 (line n + 1 holds order n)."""
    rows = [
        [f"O{n}", "C-1", (dates or [])[n - 1] if dates else f"2026-01-{n % 28 + 1:02d}", amount]
        for n, amount in enumerate(amounts, start=1)
    ]
    path.write_text(csv_text(["order_ref", "customer_ref", "purchased_at", "amount"], rows))
    return path


def stored_purchases(url: str) -> dict[str, int]:
    with db.open_session(url) as session:
        rows = session.exec(select(Purchase.order_ref, Purchase.amount_cents)).all()
        return {ref: cents for ref, cents in rows}


def report_of(latte: Latte, *args: str) -> tuple[int, dict[str, object]]:
    result = latte("import", *args, "--json")
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def reasons(report: dict[str, object]) -> dict[int, str]:
    return {r["line"]: r["reason"] for r in report["rejects"]}  # type: ignore[attr-defined, index]


def test_purchase_amounts_with_separators_and_currencies_are_read(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    texts = [text for text, _ in POINT_CASES]
    code, report = report_of(latte, "purchases", str(purchases_file(tmp_path / "p.csv", texts)))
    # One currency a file: $ first, so USD rows are refused (see the mixed-currency test).
    usd = {n for n, (text, _) in enumerate(POINT_CASES, start=1) if "USD" in text}
    assert code == 3
    assert (report["inserted"], report["rejected"]) == (len(texts) - len(usd), len(usd))
    expected = {f"O{n}": c for n, (_, c) in enumerate(POINT_CASES, start=1) if n not in usd}
    assert stored_purchases(db_url) == expected


@pytest.mark.sqlite_only
@pytest.mark.parametrize("mark, cases", [(".", POINT_CASES), (",", COMMA_CASES)])
def test_each_layout_is_read_with_its_decimal_mark(
    latte: Latte, db_url: str, tmp_path: Path, mark: str, cases: list[tuple[str, int]]
) -> None:
    for n, (text, want) in enumerate(cases):
        path = purchases_file(tmp_path / f"p{n}.csv", [text])
        code, report = report_of(latte, "purchases", str(path), "--decimal-mark", mark)
        assert (code, report["rejected"]) == (0, 0), (text, report["rejects"])
        # The same order each time: the second and later files update it.
        assert stored_purchases(db_url) == {"O1": want}, text


@pytest.mark.sqlite_only
def test_remedy_amounts_in_a_complaints_file(latte: Latte, db_url: str, tmp_path: Path) -> None:
    header = [
        "external_id", "customer", "channel", "category", "listen", "opened_at",
        "acknowledged_at", "take_action_at", "action_kind", "amount",
    ]  # fmt: skip
    amounts = {"X1": ("1.234,50 €", 123450), "X2": ("EUR 7", 700), "X3": ("0,5", 50)}
    rows = [
        [ext, "C-1", "email", "delivery", "Late", f"2026-01-0{n}T09:00:00Z",
         f"2026-01-0{n}T09:10:00Z", f"2026-01-0{n}T09:30:00Z", "refund", text]
        for n, (ext, (text, _)) in enumerate(amounts.items(), start=1)
    ]  # fmt: skip
    rows.append([*rows[0][:-1], "12.50"])  # a decimal point in a decimal-comma file
    rows[-1][0] = "X4"
    rows.append([*rows[0][:-1], "USD 3,00"])  # another currency
    rows[-1][0] = "X5"
    path = tmp_path / "c.csv"
    path.write_text(csv_text(header, rows))
    code, report = report_of(latte, "complaints", str(path), "--decimal-mark", ",")
    assert code == 3
    assert (report["inserted"], report["rejected"]) == (3, 2), report["rejects"]
    why = reasons(report)
    assert "pass --decimal-mark ." in why[5]
    assert "'USD 3,00' is in USD, but earlier rows of this file are in €" in why[6]
    with db.open_session(db_url) as session:
        rows = session.exec(
            select(Complaint.external_id, StageRecord.amount_cents)
            .join(StageRecord, StageRecord.complaint_id == Complaint.id)
            .where(StageRecord.stage == "take_action")
        ).all()
    stored = {ext: cents for ext, cents in rows}
    assert stored == {ext: want for ext, (_, want) in amounts.items()}


@pytest.mark.sqlite_only
@pytest.mark.parametrize("mark, cases", [(".", POINT_CASES), (",", COMMA_CASES)])
def test_every_layout_as_a_remedy_amount(
    latte: Latte, db_url: str, tmp_path: Path, mark: str, cases: list[tuple[str, int]]
) -> None:
    """The same layouts in a complaints file's `amount`, one complaint each; the opening
    times in Arabic-Indic and Devanagari digits."""
    header = [
        "external_id", "customer", "channel", "category", "listen", "opened_at",
        "acknowledged_at", "take_action_at", "action_kind", "amount",
    ]  # fmt: skip
    rows = []
    for n, (text, _) in enumerate(cases):
        digits = (ARABIC_INDIC, DEVANAGARI, "0123456789")[n % 3]
        opened = _in(digits, f"2026-02-{n + 1:02d}T08:00:00Z")
        rows.append([f"X{n}", "C-1", "email", "delivery", "Late", opened,
                     f"2026-02-{n + 1:02d}T09:00:00Z", f"2026-02-{n + 1:02d}T10:00:00Z",
                     "refund", text])  # fmt: skip
    path = tmp_path / "c.csv"
    path.write_text(csv_text(header, rows))
    code, report = report_of(latte, "complaints", str(path), "--decimal-mark", mark)
    # The file's first currency is $ (with the mark .) or € (with ,): USD rows are refused.
    refused = {n for n, (text, _) in enumerate(cases) if "USD" in text}
    assert code == (3 if refused else 0)
    assert (report["inserted"], report["rejected"]) == (len(cases) - len(refused), len(refused))
    with db.open_session(db_url) as session:
        rows_in = session.exec(
            select(Complaint.external_id, Complaint.opened_at, StageRecord.amount_cents)
            .join(StageRecord, StageRecord.complaint_id == Complaint.id)
            .where(StageRecord.stage == "take_action")
        ).all()
    stored = {ext: (opened.day, cents) for ext, opened, cents in rows_in}
    assert stored == {
        f"X{n}": (n + 1, want) for n, (_, want) in enumerate(cases) if n not in refused
    }


REJECTED = [
    ("1,23", ["expected an amount like 12.50 or 1,234.50", "pass --decimal-mark ,"]),
    ("12,50", ["pass --decimal-mark ,"]),
    ("1 234,50", ["pass --decimal-mark ,"]),
    ("1,2345.00", ["thousands in groups of three"]),
    ("12,34,567.00", ["thousands in groups of three"]),
    ("1,234 567.00", ["thousands in groups of three"]),
    ("-12.50", ["is negative"]),
    ("(12.50)", ["is negative"]),
    ("$-12.50", ["is negative"]),
    ("12.505", ["more than two decimals"]),
    ("10000000.01", ["more than 10,000,000.00"]),
    ("10,000,000.01", ["more than 10,000,000.00"]),
    ("", ["is empty"]),
    ("12.", ["expected an amount"]),
    ("$12.50 USD", ["expected an amount"]),
    ("usd 12.50", ["expected an amount"]),
    ("12 dollars", ["expected an amount"]),
]


@pytest.mark.sqlite_only
def test_rejected_amounts_say_why_and_the_fix(latte: Latte, db_url: str, tmp_path: Path) -> None:
    texts = ["1.00", *(text for text, _ in REJECTED)]
    code, report = report_of(latte, "purchases", str(purchases_file(tmp_path / "p.csv", texts)))
    assert code == 3
    assert (report["inserted"], report["rejected"]) == (1, len(REJECTED))
    why = reasons(report)
    for line, (text, parts) in enumerate(REJECTED, start=3):
        for part in parts:
            assert part in why[line], (text, why[line])
    assert stored_purchases(db_url) == {"O1": 100}


@pytest.mark.sqlite_only
def test_one_currency_a_file(latte: Latte, db_url: str, tmp_path: Path) -> None:
    texts = ["EUR 10.00", "12.00", "EUR 1.50", "€5.00", "USD 1.00", "2.00 EUR", "3$", "£1"]
    code, report = report_of(latte, "purchases", str(purchases_file(tmp_path / "p.csv", texts)))
    assert code == 3
    assert (report["inserted"], report["rejected"]) == (5, 3)
    why = reasons(report)
    assert set(why) == {6, 8, 9}
    assert why[6] == (
        "'USD 1.00' is in USD, but earlier rows of this file are in EUR: import each "
        "currency separately"
    )
    assert "'3$' is in $, but earlier rows of this file are in EUR" in why[8]
    assert "'£1' is in £, but earlier rows of this file are in EUR" in why[9]
    expected = {"O1": 1000, "O2": 1200, "O3": 150, "O4": 500, "O6": 200}
    assert stored_purchases(db_url) == expected
    # The rejected USD row goes in from its own file.
    other = purchases_file(tmp_path / "usd.csv", ["USD 9.99"])
    assert report_of(latte, "purchases", str(other))[0] == 0
    assert stored_purchases(db_url)["O1"] == 999


@pytest.mark.sqlite_only
def test_decimal_mark_from_a_profile_and_the_flag_wins(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    profile = tmp_path / "shop.toml"
    profile.write_text('kind = "purchases"\ndecimal_mark = ","\n')
    comma = purchases_file(tmp_path / "comma.csv", ["1.234,50", "EUR 2,5"])
    saved = tmp_path / "saved.toml"
    code, report = report_of(
        latte, "purchases", str(comma), "--profile", str(profile), "--save-profile", str(saved)
    )
    assert (code, report["inserted"]) == (0, 2)
    assert stored_purchases(db_url) == {"O1": 123450, "O2": 250}
    assert profiles.load(str(saved)).decimal_mark == ","

    point = purchases_file(tmp_path / "point.csv", ["1,234.51", "1.234,50"])
    args = ("purchases", str(point), "--profile", str(profile), "--decimal-mark", ".")
    code, report = report_of(latte, *args)
    assert (code, report["updated"], report["rejected"]) == (3, 1, 1)
    assert "pass --decimal-mark ," in reasons(report)[3]
    assert stored_purchases(db_url) == {"O1": 123451, "O2": 250}

    profile.write_text('decimal_mark = ";"\n')
    result = latte("import", "purchases", str(point), "--profile", str(profile))
    assert result.exit_code == 1 and "decimal_mark ';' is not . or ," in result.stderr
    assert str(profile) in result.stderr


def _in(digits: str, text: str) -> str:
    return text.translate(str.maketrans("0123456789", digits))


@pytest.mark.sqlite_only
@pytest.mark.parametrize("digits", [ARABIC_INDIC, DEVANAGARI])
def test_digits_of_other_scripts_in_amounts_dates_and_whole_numbers(
    latte: Latte, db_url: str, tmp_path: Path, digits: str
) -> None:
    header = ["order_ref", "customer_ref", "purchased_at", "amount", "lines"]
    rows = [
        ["O1", "C-1", _in(digits, "2026-03-04"), _in(digits, "12.50"), _in(digits, "3")],
        ["O2", "C-1", _in(digits, "05/03/2026"), _in(digits, "1,234.05"), "2"],
        ["O3", "C-1", "2026-03-06T10:30", _in(digits, "€7"), _in(digits, "1")],
    ]
    path = tmp_path / "p.csv"
    path.write_text(csv_text(header, rows))
    code, report = report_of(latte, "purchases", str(path), "--date-format", "%d/%m/%Y")
    assert (code, report["inserted"]) == (0, 3), report["rejects"]
    with db.open_session(db_url) as session:
        stored = {
            p.order_ref: (p.purchased_at.strftime("%Y-%m-%d"), p.amount_cents, p.lines)
            for p in session.exec(select(Purchase)).scalars()
        }
    assert stored == {
        "O1": ("2026-03-04", 1250, 3),
        "O2": ("2026-03-05", 123405, 2),
        "O3": ("2026-03-06", 700, 1),
    }


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "pattern, why",
    [
        ("%Q", "%Q is not a strptime directive"),
        ("%d/%m/%", "ends with a lone %"),
        ("%H:%M", "no date directive"),
        ("day %d of %G", "cannot read the dates it describes"),
    ],
)
def test_an_invalid_date_format_is_refused_before_anything_is_read(
    latte: Latte, sqlite_path: Path, tmp_path: Path, pattern: str, why: str
) -> None:
    path = purchases_file(tmp_path / "p.csv", ["1.00"])
    result = latte(
        "import", "purchases", str(path), "--date-format", "%d/%m/%Y", "--date-format", pattern
    )
    assert result.exit_code == 1, result.output
    assert "--date-format" in result.stderr and repr(pattern) in result.stderr
    assert why in " ".join(result.stderr.replace("│", " ").split())
    assert "Traceback" not in result.output
    assert not sqlite_path.exists()
    assert not (tmp_path / "p.rejects.csv").exists()

    profile = tmp_path / "bad.toml"
    profile.write_text(f"date_formats = [{json.dumps(pattern)}]\n")
    result = latte("import", "purchases", str(path), "--profile", str(profile))
    assert result.exit_code == 1, result.output
    assert str(profile) in result.stderr and "date_formats" in result.stderr
    assert repr(pattern) in result.stderr and why in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not sqlite_path.exists()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("typed", ["12,50", "$12.50", "1,234.50"])
def test_step_amount_keeps_the_plain_form_and_names_it(latte: Latte, typed: str) -> None:
    cid = latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "Late").stdout
    cid = cid.strip()
    latte.ok("step", cid, "acknowledge", "--text", "Sorry")
    result = latte("step", cid, "take_action", "--kind", "refund", "--detail", "Refunded",
                   "--amount", typed)  # fmt: skip
    assert result.exit_code == 1
    assert repr(typed) in result.stderr and "like 12.50" in result.stderr


SEPARATORS = {".": ["", ",", " ", NBSP, NNBSP, "'"], ",": ["", ".", " ", NBSP, NNBSP, "'"]}
CURRENCIES = ["", "$", "€", "£", "¥", "₹", "EUR", "USD"]


def _written(cents: int, mark: str, separator: str, digits: str) -> str:
    """`cents` written out by hand: whole part grouped in threes from the right."""
    whole, frac = str(cents // 100), f"{cents % 100:02d}"
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return _in(digits, separator.join(groups) + mark + frac)


@given(
    cents=st.integers(0, MAX_CENTS),
    mark=st.sampled_from([".", ","]),
    pick=st.integers(0, 5),
    currency=st.sampled_from(CURRENCIES),
    before=st.booleans(),
    space=st.sampled_from(["", " ", NBSP]),
    digits=st.sampled_from(["0123456789", ARABIC_INDIC, DEVANAGARI]),
)
def test_any_written_amount_reads_back_as_its_cents(
    cents: int, mark: str, pick: int, currency: str, before: bool, space: str, digits: str
) -> None:
    number = _written(cents, mark, SEPARATORS[mark][pick], digits)
    if currency:
        number = f"{currency}{space}{number}" if before else f"{number}{space}{currency}"
    assert Amounts(mark)(number, "amount") == cents, number


@pytest.mark.sqlite_only
@pytest.mark.parametrize("mark", [".", ","])
def test_jsonl_numbers_are_numbers_whatever_the_decimal_mark(
    latte: Latte, db_url: str, tmp_path: Path, mark: str
) -> None:
    """A JSON number's fraction is after a point: with `--decimal-mark ,` the number 1.234
    is not read as 1,234.00 (three decimals: rejected) and 12.5 is 12.50, as text amounts
    in the file's own layout are read with the mark; a whole number (`"lines": 2.0`) is
    whole with either mark."""
    path = tmp_path / "purchases.jsonl"
    amounts: list[object] = [12.5, 1234.5, 7.0, 1.234, "1.234,50" if mark == "," else "1,234.50"]
    path.write_text(
        "".join(
            json.dumps(
                {"order_ref": f"O{n}", "customer_ref": "C-1", "purchased_at": "2026-01-05",
                 "amount": amount, "lines": 2.0}
            ) + "\n"
            for n, amount in enumerate(amounts, start=1)
        )
    )  # fmt: skip
    code, report = report_of(latte, "purchases", str(path), "--decimal-mark", mark)
    assert (code, report["inserted"], report["rejected"]) == (3, 4, 1)
    assert "more than two decimals" in reasons(report)[4]
    assert stored_purchases(db_url) == {"O1": 1250, "O2": 123450, "O3": 700, "O5": 123450}
