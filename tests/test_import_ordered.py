"""A purchases file that lists each order once, in ascending order, is written from its staged
rows without the grouping pass (docs/architecture.md, "Batch import"). Ordered, grouped and
scattered files must give the same database, checked against a plain-Python computation, with
rejects in the middle of an order's lines, runs cut at a batch's end, dry runs and strict runs.
"""

from __future__ import annotations

import csv
import itertools
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from latte_cli import db
from latte_cli.importer import ImportOptions, ImportReport, import_file
from latte_cli.importer.base import Pending
from latte_cli.importer.fields import Amounts, Bad, TimeParser, cents
from latte_cli.importer.purchases import PurchaseKind, _runs, unpack_lines
from latte_cli.importer.source import Record
from latte_cli.models import Customer, Purchase

Line = tuple[str, str, str, str]
START = datetime(2026, 9, 1, tzinfo=UTC)


def _orders(seed: int, count: int, long_order: bool = False) -> list[list[Line]]:
    """Orders with one to four lines each (one of 20 lines if `long_order`), their lines'
    times a few seconds apart (some with fractions of a second), and a few bad lines: an
    amount with a comma, a date that is not one, among an order's good lines."""
    rng = random.Random(seed)
    orders = []
    for n in range(count):
        order, customer = f"O{n:05d}", f"C-{rng.randint(1, 30)}"
        when = START + timedelta(seconds=rng.randint(0, 80 * 86_400))
        size = 20 if long_order and n == count // 2 else rng.randint(1, 4)
        lines = []
        for i in range(size):
            moment = when + timedelta(seconds=rng.choice([0, 0, 3]), microseconds=i * 250_000)
            text = moment.isoformat().replace("+00:00", "Z")
            amount = f"{rng.randint(0, 300)}.{rng.randint(0, 99):02d}"
            if rng.random() < 0.04:
                amount = "12,50"  # rejected: a comma
            elif rng.random() < 0.02:
                text = "soon"  # rejected: not a date
            lines.append((order, customer, text, amount))
        orders.append(lines)
    return orders


def _layout(orders: list[list[Line]], how: str, seed: int) -> list[Line]:
    rng = random.Random(seed)
    if how == "ordered":
        return [line for lines in orders for line in lines]
    if how == "grouped":  # each order's lines together, the orders in no order
        shuffled = orders[:]
        rng.shuffle(shuffled)
        return [line for lines in shuffled for line in lines]
    scattered = [line for lines in orders for line in lines]
    rng.shuffle(scattered)
    return scattered


def _plain_rule(line: Line) -> tuple[datetime, int] | None:
    """A line's time and cents by the rules written out; None for a rejected line."""
    _, _, text, amount = line
    whole, dot, frac = amount.partition(".")
    if not (whole.isdigit() and dot and len(frac) == 2 and frac.isdigit()):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(UTC), int(whole) * 100 + int(frac)


def _expected(lines: list[Line]) -> tuple[dict[str, tuple[str, datetime, int, int]], list[int]]:
    """Each order's (customer, earliest time, cents, lines) and the numbers of rejected lines."""
    sums: dict[str, list[Any]] = {}
    rejected = []
    for number, line in enumerate(lines, start=2):
        value = _plain_rule(line)
        if value is None:
            rejected.append(number)
            continue
        moment, amount = value
        got = sums.setdefault(line[0], [line[1], moment, 0, 0])
        got[1] = min(got[1], moment)
        got[2] += amount
        got[3] += 1
    return {order: (c, t, a, n) for order, (c, t, a, n) in sums.items()}, rejected


def _write(path: Path, lines: list[Line]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["order_ref", "customer_ref", "purchased_at", "amount"])
        writer.writerows(lines)


def _stored(url: str) -> dict[str, tuple[str, datetime, int, int]]:
    with db.open_session(url) as session:
        refs = dict(session.execute(select(Customer.id, Customer.ref)).tuples().all())
        stored = {}
        for p in session.execute(select(Purchase)).scalars():
            moment = p.purchased_at
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
            assert p.purchased_epoch == int(moment.timestamp()) // 1
            stored[p.order_ref] = (
                refs[p.customer_id],
                moment.astimezone(UTC),
                p.amount_cents,
                p.lines,
            )
    return stored


def _import(
    url: str, path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> tuple[ImportReport, bool]:
    """The report, and whether the staged rows were written without the grouping pass."""
    calls: list[bool] = []
    write_staged = PurchaseKind._write_staged

    def spy(self: PurchaseKind, *args: Any) -> None:
        calls.append(True)
        write_staged(self, *args)

    monkeypatch.setattr(PurchaseKind, "_write_staged", spy)
    report = import_file(
        url, ImportOptions(kind="purchases", path=str(path), agent="test", **options)
    )
    return report, bool(calls)


@pytest.mark.parametrize(
    ("how", "batch_rows", "long_order", "ungrouped"),
    [
        ("ordered", 5000, False, False),
        ("ordered", 7, False, False),  # runs cut at a batch's end are held for the next
        ("ordered", 7, True, True),  # an order longer than a batch: staged twice, grouped
        ("grouped", 7, False, True),
        ("scattered", 7, False, True),
    ],
)
def test_ordered_grouped_and_scattered_files_give_the_same_database(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    batch_rows: int,
    long_order: bool,
    ungrouped: bool,
) -> None:
    lines = _layout(_orders(5, 120, long_order), how, seed=9)
    expected, rejected = _expected(lines)
    assert rejected and len(expected) > 100  # the data holds what the test is about
    path = tmp_path / "p.csv"
    _write(path, lines)

    report, fast = _import(db_url, path, monkeypatch, batch_rows=batch_rows)
    assert fast is not ungrouped
    assert (report.inserted, report.updated, report.unchanged) == (len(expected), 0, 0)
    assert report.rejected == len(rejected)
    assert report.lines_accepted == sum(n for *_, n in expected.values())
    assert report.rows == len(lines)
    assert _stored(db_url) == expected
    with (tmp_path / "p.rejects.csv").open(encoding="utf-8", newline="") as f:
        rejects = list(csv.reader(f))[1:]
    assert [int(r[0]) for r in rejects] == rejected
    assert [tuple(r[3:]) for r in rejects] == [lines[n - 2] for n in rejected]

    # Again: nothing changes. Then one order's amount changes: one purchase updated.
    again, _ = _import(db_url, path, monkeypatch, batch_rows=batch_rows)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(expected))
    changed_order = next(iter(expected))
    first = next(
        i for i, line in enumerate(lines) if line[0] == changed_order and _plain_rule(line)
    )
    order, customer, when, amount = lines[first]
    lines[first] = (
        order,
        customer,
        when,
        f"{int(amount.split('.')[0]) + 1}.{amount.split('.')[1]}",
    )
    _write(path, lines)
    third, _ = _import(db_url, path, monkeypatch, batch_rows=batch_rows)
    assert (third.inserted, third.updated, third.unchanged) == (0, 1, len(expected) - 1)
    assert _stored(db_url) == _expected(lines)[0]


@pytest.mark.parametrize("mode", ["dry_run", "strict"])
def test_an_ordered_file_in_one_transaction_writes_nothing_when_it_must_not(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """A dry run reports what a real run does and writes nothing; a strict run with a bad line
    writes nothing, and without one writes everything."""
    lines = _layout(_orders(6, 60), "ordered", seed=1)
    expected, rejected = _expected(lines)
    assert rejected
    path = tmp_path / "p.csv"
    _write(path, lines)
    report, fast = _import(db_url, path, monkeypatch, batch_rows=7, **{mode: True})
    assert fast
    assert (report.inserted, report.rejected) == (len(expected), len(rejected))
    assert not report.written
    assert _stored(db_url) == {}
    if mode == "strict":
        good = [line for line in lines if _plain_rule(line)]
        _write(path, good)
        report, fast = _import(db_url, path, monkeypatch, batch_rows=7, strict=True)
        assert fast and report.written and report.rejected == 0
        assert _stored(db_url) == _expected(good)[0]


def test_the_inline_amount_reads_as_cents_does() -> None:
    """Every amount of up to five characters from digits, dots, signs, spaces, a comma, a
    letter and a non-ASCII digit: the purchase line's inline layout gives what `cents`
    gives, value or refusal."""
    kind = PurchaseKind()
    times = TimeParser()
    alphabet = ["", ".", "0", "1", "5", "\u0663", " ", "-", "a", ","]
    for size in range(6):
        for cells in itertools.product(alphabet, repeat=size):
            value = "".join(cells)
            try:
                want = cents(value, "amount")
            except Bad:
                want = None
            try:
                when = "2026-01-01T00:00:00Z"
                got = kind._line("O1", "C-1", when, value, "", times, Amounts())[3]
            except Bad:
                got = None
            assert got == want, value


@pytest.mark.parametrize("special", ["", "\x1f", "\x1e", "\x1d"])
def test_staged_rows_give_back_each_line_and_its_cells(special: str) -> None:
    """A batch's staged rows (runs of an order's lines packed without per-row checks when no
    cell holds a separator, with them otherwise) unpack to the batch's lines, in order, and
    sum each run as a plain loop does."""
    rng = random.Random(len(special))
    batch = []
    number = 2
    for n in range(300):
        order, customer = f"O{n // 2}", f"C-{rng.randint(1, 3)}"
        for _ in range(rng.randint(1, 3)):
            cells = [order, customer, f"t{number}", f"{rng.randint(0, 9)}.00"]
            if special and rng.random() < 0.01:
                cells[2] = f"a{special}b"
            values = (customer, order, rng.randint(0, 10**9), rng.randint(0, 999), 1)
            batch.append(Pending(values, Record(number, {}, None, cells, cells)))
            number += rng.choice([1, 1, 2])  # a rejected or blank line between, now and then
    staged = list(_runs(batch))
    assert [line for row in staged for line in unpack_lines(row[0], row[7])] == [
        (p.record.line, p.record.raw) for p in batch
    ]
    plain: list[list[Any]] = []
    for p in batch:
        customer, order, micros, amount, lines = p.row
        if plain and plain[-1][1:3] == [customer, order]:
            last = plain[-1]
            last[3], last[4], last[5], last[6] = (
                min(last[3], micros),
                last[4] + amount,
                last[5] + lines,
                last[6] + 1,
            )
        else:
            plain.append([p.record.line, customer, order, micros, amount, lines, 1])
    assert [list(row[:7]) for row in staged] == plain


def test_an_order_naming_two_customers_in_an_ordered_file_is_rejected_whole(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One order belongs to one customer: an ordered file whose order names two goes the
    grouping way, and every line of that order is rejected with the reason; the rest is
    imported as from a file without it."""
    orders = _orders(7, 40)
    split = orders[20]
    good_lines = [line for line in split if _plain_rule(line)]
    assert len(good_lines) >= 1
    order = split[0][0]
    split.append((order, "C-999", split[0][2], "1.00"))
    lines = _layout(orders, "ordered", seed=1)
    path = tmp_path / "p.csv"
    _write(path, lines)

    report, fast = _import(db_url, path, monkeypatch, batch_rows=7)
    without = [line for line in lines if line[0] != order]
    expected, _ = _expected(without)
    assert not fast
    assert _stored(db_url) == expected
    with (tmp_path / "p.rejects.csv").open(encoding="utf-8", newline="") as f:
        rejects = list(csv.reader(f))[1:]
    split_numbers = [n for n, line in enumerate(lines, start=2) if line[0] == order]
    bad_elsewhere = [
        n for n, line in enumerate(lines, start=2) if line[0] != order and not _plain_rule(line)
    ]
    # Every line of the split order is rejected, each bad one for its own reason.
    assert sorted(int(r[0]) for r in rejects) == sorted([*bad_elsewhere, *split_numbers])
    assert report.rejected == len(rejects)
    reasons = {int(r[0]): r[2] for r in rejects}
    assert all(
        "one order belongs to one customer" in reasons[n]
        for n in split_numbers
        if _plain_rule(lines[n - 2])
    )
