"""The purchases import's fast paths give what the plain paths give.

Staged runs of an order's lines, the amount's common layout, the read of a file in blocks of
lines: each is checked here against an independent plain-Python computation (docs/architecture.md,
"Batch import").
"""

from __future__ import annotations

import csv
import io
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from latte_cli import db
from latte_cli.importer.fields import Bad, cents
from latte_cli.importer.purchases import pack_lines, unpack_lines
from latte_cli.importer.source import BLOCK, open_source
from latte_cli.models import Customer, Purchase
from latte_cli.workflow import MAX_CENTS

from .conftest import Latte


@pytest.mark.parametrize(
    "lines",
    [
        [(2, ["O1", "C-1", "2026-11-05", "1.00"])],
        [(2, ["O1", "C-1", "x", "1"]), (3, ["O1", "C-1", "y\x1fz", "2"])],
        [(2, ["O1\x1d", "C-1"]), (5, ["O1", "C-1\x1e"])],
        [(7, {"order": "O1"}), (9, ["\x1eO1", ""])],
        [(4, ["", ""]), (5, ["multi\nline", "é"])],
        [(3, ["O1", "C,1", "a"]), (4, ["O1", "C,1", "b"]), (9, ["O1", "C,1", "\x1dc"])],
        [(2, ["O1", "C-1"]), (3, ["O1"])],
        [(2, []), (3, [])],
    ],
)
def test_staged_runs_come_back_with_their_lines_and_cells(lines: list[tuple[int, object]]) -> None:
    numbers, raws = [n for n, _ in lines], [r for _, r in lines]
    assert unpack_lines(lines[0][0], pack_lines(numbers, raws)) == lines  # type: ignore[arg-type]


def _plain_cents(value: str) -> int | None:
    """Money as whole cents, the rule written out: ASCII or Unicode digits, in groups of
    three split by one separator (a comma or a space) or not split, then up to two decimals
    after a dot, at most MAX_CENTS; nothing else (no sign, no currency in these samples)."""
    text = value.strip()
    if not text:
        return None
    whole, dot, frac = text.partition(".")
    if "," in whole and " " in whole:
        raise ValueError(value)
    for separator in (",", " "):
        if separator in whole:
            groups = whole.split(separator)
            if not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:]):
                raise ValueError(value)
            whole = "".join(groups)
    if not whole or not all(c.isdecimal() for c in whole) or len(frac) > 2:
        raise ValueError(value)
    if dot and (not frac or not all(c.isdecimal() for c in frac)):
        raise ValueError(value)
    found = int(whole) * 100 + (int(frac.ljust(2, "0")) if frac else 0)
    if found > MAX_CENTS:
        raise ValueError(value)
    return found


def test_amounts_read_as_the_rule_says() -> None:
    rng = random.Random(5)
    samples = ["12.50", "0.05", "100", "12.5", "1.234", "-1.00", ".50", "1,00.00", " 3.10 ", ""]
    samples += ["١٢.٣٤", "+1.00", "1 .00", "1.0x", "12.", "00.00", "9" * 30 + ".99", "1e3"]
    samples += ["10000000.00", "10000000.01", "9999999.99", "10000000", "10000001"]
    alphabet = "0123456789.-+ ,e٣"
    samples += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))) for _ in range(3000)
    ]
    for value in samples:
        try:
            expected: int | str | None = _plain_cents(value)
        except ValueError:
            expected = "bad"
        try:
            got: int | str | None = cents(value, "amount")
        except Bad:
            got = "bad"
        assert got == expected, value


def _lines_of(data: bytes, tmp_path: Path) -> list[tuple[int, str | None, list[str] | None]]:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    source = open_source(str(path))
    try:
        return [(r.line, r.problem, r.cells) for r in source.records()]
    finally:
        source.close()


def test_blocks_split_lines_at_newlines_only_and_reject_only_a_bad_row(tmp_path: Path) -> None:
    # Rows long enough that the file spans several blocks, a bad byte in one row, characters
    # other splitters take for line ends, a quoted cell over two lines, CRLF endings.
    rows: list[list[str]] = []
    body = io.StringIO()
    writer = csv.writer(body, lineterminator="\r\n")
    writer.writerow(["a", "b"])
    for i in range(3 * BLOCK // 40):
        row = [f"r{i}", f"x\x0cy\x1dz\u2028{'w' * (i % 30)}"]
        if i % 997 == 5:
            row[1] = "two\nlines"
        rows.append(row)
        writer.writerow(row)
    data = bytearray(body.getvalue().encode("utf-8"))
    bad_row = 2000
    marker = f"r{bad_row},".encode()
    at = data.index(marker) + len(marker)
    data[at:at] = b"\xff"
    got = _lines_of(bytes(data), tmp_path)
    # Expected, independently: each row's first line number, counting the newlines before it.
    expected_lines, line = [], 2
    for row in rows:
        expected_lines.append(line)
        line += 1 + row[1].count("\n")
    assert [g[0] for g in got] == expected_lines
    problems = [(i, g[1]) for i, g in enumerate(got) if g[1]]
    assert len(problems) == 1 and problems[0][0] == bad_row
    assert f"line {expected_lines[bad_row]} is not valid" in str(problems[0][1])
    for i, (_, problem, cells) in enumerate(got):
        if not problem:
            assert cells == rows[i]


def test_purchases_summed_across_runs_and_conflicts_rejected_by_line(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    """Lines of an order in runs and scattered; an order naming two customers in one run and
    across runs: sums, counts and rejected lines against a plain computation."""
    rng = random.Random(11)
    lines: list[tuple[str, str, str, str]] = []
    for n in range(400):
        order, customer = f"O{n % 150}", f"C-{(n % 150) % 40}"
        if n % 150 == 7 and n > 300:
            customer = "C-other"  # a later run of O7 names another customer
        amount = f"{rng.randint(0, 500)}.{rng.randint(0, 99):02d}"
        for _ in range(rng.randint(1, 3)):  # a run of lines of one order
            lines.append((order, customer, f"2026-10-{1 + n % 150 // 10:02d}T10:00:00Z", amount))
    lines.insert(10, ("O9", "C-9", "2026-10-01T10:00:00Z", "1.00"))
    lines.insert(11, ("O9", "C-x", "2026-10-01T10:00:00Z", "1.00"))  # conflict inside a run
    text = "order,customer,date,total\n" + "".join(",".join(line) + "\n" for line in lines)
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")

    by_order: dict[str, list[tuple[int, tuple[str, str, str, str]]]] = {}
    for number, line in enumerate(lines, start=2):
        by_order.setdefault(line[0], []).append((number, line))
    split = {o for o, ls in by_order.items() if len({line[1] for _, line in ls}) > 1}
    expected = {
        o: (
            ls[0][1][1],
            sum(int(Decimal(line[3]) * 100) for _, line in ls),
            len(ls),
        )
        for o, ls in by_order.items()
        if o not in split
    }
    rejected_lines = sorted(n for o in split for n, _ in by_order[o])

    result = latte("import", "purchases", str(path), "--json")
    report = json.loads(result.stdout)
    assert report["inserted"] == len(expected)
    assert report["rejected"] == len(rejected_lines)
    assert report["lines_accepted"] == sum(count for _, _, count in expected.values())
    with (tmp_path / "p.rejects.csv").open(encoding="utf-8", newline="") as f:
        rejects = list(csv.reader(f))[1:]
    assert [int(r[0]) for r in rejects] == rejected_lines
    assert [tuple(r[3:]) for r in rejects] == [lines[n - 2] for n in rejected_lines]
    with db.open_session(db_url) as session:
        refs = dict(session.execute(select(Customer.id, Customer.ref)).all())
        stored = {
            p.order_ref: (refs[p.customer_id], p.amount_cents, p.lines)
            for p in session.execute(select(Purchase)).scalars()
        }
    assert stored == expected
    again = json.loads(latte("import", "purchases", str(path), "--json").stdout)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, len(expected))


def test_times_from_microseconds_read_as_from_datetimes() -> None:
    """`Store.ts_micros` (a purchase's time without a datetime) gives what `Store.ts` gives."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import create_engine

    from latte_cli.importer.base import Store

    unix = datetime(1970, 1, 1, tzinfo=UTC)
    rng = random.Random(8)
    samples = [0, -1, 1, 86_400_000_000 - 1, -86_400_000_000, -(68 * 365 * 86_400_000_000)]
    samples += [rng.randint(-(2**61), 2**61) // 1000 for _ in range(5000)]
    with create_engine("sqlite://").connect() as conn:
        store = Store(conn)
        for micros in samples:
            moment = unix + timedelta(microseconds=micros)
            assert store.ts_micros(micros) == store.ts(moment), micros


def test_lookups_by_a_list_find_each_value_once_whatever_its_length() -> None:
    """`Store.rows_in` pads a list to one of a few lengths: the rows found are the same."""
    from sqlalchemy import create_engine

    from latte_cli.importer.base import IN_CHUNK, Store

    with create_engine("sqlite://").connect() as conn:
        conn.exec_driver_sql("CREATE TABLE t (k TEXT, v INTEGER)")
        conn.exec_driver_sql(
            "INSERT INTO t VALUES " + ", ".join(f"('k{i % 700}', {i})" for i in range(1400))
        )
        store = Store(conn)
        query = "SELECT k, count(*), sum(v) FROM t WHERE k IN ({in}) GROUP BY k"
        for n in (1, 2, 7, 8, 9, 63, 65, 299, 301, IN_CHUNK - 1, IN_CHUNK + 1, 2 * IN_CHUNK + 5):
            keys = [f"k{i}" for i in range(0, 3 * n, 3)]
            found = sorted(store.rows_in(conn, query, keys))
            expected = sorted((f"k{i}", 2, i + i + 700) for i in range(0, 3 * n, 3) if i < 700)
            assert found == expected, n
