"""Importing purchases: rows that share an order reference are lines of one purchase.

Lines may be anywhere in the file, so they are first streamed into a temporary staging table
(memory stays flat), then summed per order with SQL in one pass into a second temporary
table, numbered, and written a page of orders at a time by number: new orders inserted,
changed ones updated, the rest counted unchanged. (Paging the grouped staging table itself
by `order_ref > last ... LIMIT` re-sorted every line for every page: quadratic, 0.16x the
floor at 200,000 complaints; docs/architecture.md, "Batch import".) The staging table
lives only as long as the import's connection, so a killed import leaves nothing behind.
Counts: inserted / updated / unchanged are purchases (orders); rejected counts lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    update,
)

from latte_cli import active, summary
from latte_cli.importer import customers
from latte_cli.importer.base import PURCHASE_CACHE_KIB, UNIX, Pending, Run, chunks
from latte_cli.importer.fields import Amounts, Bad, integer, text
from latte_cli.importer.source import Record
from latte_cli.models import Purchase
from latte_cli.timeutil import epoch
from latte_cli.workflow import MAX_CENTS

PAGE = 20_000
ALIASES: dict[str, tuple[str, ...]] = {
    "order_ref": (
        "order",
        "order_id",
        "order_number",
        "order_no",
        "invoice",
        "invoice_id",
        "receipt",
        "transaction_id",
    ),
    "customer_ref": customers.REF_ALIASES,
    "purchased_at": ("date", "order_date", "purchase_date", "created_at", "ordered_at", "time"),
    "amount": ("total", "price", "line_total", "value", "amount_total"),
    "lines": ("line_count", "quantity_lines"),
}

_staging_metadata = MetaData()


def _summed_columns() -> list[Column[Any]]:
    """What a line says about its order, in staging, and what the orders hold once summed."""
    return [
        Column("order_ref", String(100), nullable=False),
        # Microseconds since 1970-01-01 UTC: ordered like the times on every database, and
        # back to a datetime without parsing text.
        Column("purchased_us", BigInteger, nullable=False),
        # 64 bits: an order's lines are each within `workflow.MAX_CENTS`, their sum need not
        # be (an order above it is rejected, not stored).
        Column("amount_cents", BigInteger, nullable=False),
        Column("lines", BigInteger, nullable=False),
    ]


STAGING = Table(
    "latte_import_purchase",
    _staging_metadata,
    # A staged row's first line: the rows' order in the file, and the key that pages them
    # when the file lists each order once (on SQLite the rowid itself).
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("customer_ref", String(100), nullable=False),
    *_summed_columns(),
    Column("count", Integer, nullable=False),
    Column("raw", Text, nullable=False),
    prefixes=["TEMPORARY"],
)
STAGING_COLUMNS = tuple(c.name for c in STAGING.c)
# Created only when some order names two customers, to find their lines: grouping sorts the
# staged rows once without it (an index is a sort too, then a look-up per row).
STAGING_INDEX = f"CREATE INDEX ix_latte_import_purchase_order ON {STAGING.name} (order_ref)"
ORDERS = Table(
    "latte_import_order",
    _staging_metadata,
    Column("n", Integer, primary_key=True, autoincrement=True),
    Column("first_customer", String(100), nullable=False),
    Column("last_customer", String(100), nullable=False),
    *_summed_columns(),
    Column("count", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)
MICROSECOND = timedelta(microseconds=1)
# Microseconds in a second: a time at or after 1970 is `epoch` seconds by floor division.
SECOND = 1_000_000
# The most lines one purchase (an order) may count, each line's `lines` and their sum.
MAX_LINES = 1_000_000
# A staged line's original cells, joined by a separator no cell holds (a cheap join, not
# JSON per line); a line whose cells hold it, or a JSON record, is JSON after RAW_JSON.
# Lines of one order that follow each other are staged as one row (see `_runs`): RAW_RUN,
# their line numbers joined by commas, RAW_RUN again and all their cells, line after line,
# joined by RAW_SEPARATOR (or RAW_RUN, RAW_JSON and JSON where a cell holds RAW_SEPARATOR or
# the lines' cells are not lists of one length).
RAW_SEPARATOR, RAW_JSON, RAW_RUN = "\x1f", "\x1e", "\x1d"


Raw = list[str] | dict[str, Any] | None


def pack_raw(raw: Raw) -> str:
    """A line's original cells as one text for the staging table (see `unpack_raw`)."""
    if isinstance(raw, list) and raw:
        joined = RAW_SEPARATOR.join(raw)
        if joined.count(RAW_SEPARATOR) == len(raw) - 1 and not joined.startswith(
            (RAW_JSON, RAW_RUN)
        ):
            return joined
    return RAW_JSON + json.dumps(raw, ensure_ascii=False)


def unpack_raw(packed: str) -> Raw:
    if packed.startswith(RAW_JSON):
        value: Raw = json.loads(packed[1:])
        return value
    return packed.split(RAW_SEPARATOR)


def pack_lines(numbers: list[int], raws: list[Raw]) -> str:
    """The line numbers and original cells of a staged row: one line as `pack_raw`, several
    (an order's lines that follow each other) as described above (see `unpack_lines`). The
    lines of a CSV file all have the header's number of cells, so a run's cells are joined
    at once, without a call per line."""
    if len(numbers) == 1:
        return pack_raw(raws[0])
    if set(map(type, raws)) == {list}:
        lists: list[list[str]] = raws  # type: ignore[assignment]
        widths = set(map(len, lists))
        if len(widths) == 1 and 0 not in widths:
            joined = RAW_SEPARATOR.join(chain.from_iterable(lists))
            if joined.count(RAW_SEPARATOR) == len(lists) * len(lists[0]) - 1:
                return f"{RAW_RUN}{','.join(map(str, numbers))}{RAW_RUN}{joined}"
    lines = list(zip(numbers, raws, strict=True))
    return RAW_RUN + RAW_JSON + json.dumps(lines, ensure_ascii=False)


def unpack_lines(line: int, packed: str) -> list[tuple[int, Raw]]:
    if packed.startswith(RAW_RUN + RAW_JSON):
        return [(number, raw) for number, raw in json.loads(packed[2:])]
    if packed.startswith(RAW_RUN):
        head, _, body = packed[1:].partition(RAW_RUN)
        numbers = [int(number) for number in head.split(",")]
        cells = body.split(RAW_SEPARATOR)
        width = len(cells) // len(numbers)
        return [(number, cells[i * width : (i + 1) * width]) for i, number in enumerate(numbers)]
    return [(line, unpack_raw(packed))]


def _runs(batch: list[Pending]) -> Iterator[tuple[Any, ...]]:
    """The staging rows of a batch: lines of one order and customer that follow each other
    (how most files list an order) summed into one row, as the floor does, so that staging,
    indexing and grouping handle orders rather than lines (docs/architecture.md, "Batch
    import"). A row is (first line, customer, order, time, amount, lines, line count, raw)."""
    pack = _plain_packer(batch) or pack_lines
    current: list[Any] | None = None
    numbers: list[int] = []
    raws: list[Raw] = []
    for pending in batch:
        customer, order, micros, amount, lines = pending.row
        record = pending.record
        if current is not None and current[2] == order and current[1] == customer:
            if micros < current[3]:
                current[3] = micros
            current[4] += amount
            current[5] += lines
            current[6] += 1
            numbers.append(record.line)
            raws.append(record.raw)
            continue
        if current is not None:
            current.append(pack(numbers, raws))
            yield tuple(current)
        current = [record.line, customer, order, micros, amount, lines, 1]
        numbers = [record.line]
        raws = [record.raw]
    if current is not None:
        current.append(pack(numbers, raws))
        yield tuple(current)


def _plain_packer(batch: list[Pending]) -> Callable[[list[int], list[Raw]], str] | None:
    """`pack_lines` without its checks per row, for a batch of CSV lines (each a list of the
    header's number of cells) none of whose cells holds a separator: one scan of the batch's
    cells instead of a count per staged row. None for any other batch."""
    raws = [pending.record.raw for pending in batch]
    if not all(type(raw) is list and raw for raw in raws):
        return None
    cells = "".join(chain.from_iterable(raws))  # type: ignore[arg-type]
    if RAW_SEPARATOR in cells or RAW_JSON in cells or RAW_RUN in cells:
        return None
    if len(set(map(len, raws))) != 1:  # type: ignore[arg-type]
        return None
    join, chained = RAW_SEPARATOR.join, chain.from_iterable

    def pack(numbers: list[int], raws: list[Raw]) -> str:
        if len(numbers) == 1:
            return join(raws[0])  # type: ignore[arg-type]
        return f"{RAW_RUN}{','.join(map(str, numbers))}{RAW_RUN}{join(chained(raws))}"  # type: ignore[arg-type]

    return pack


class PurchaseKind:
    name: str = "purchases"
    cache_kib: int = PURCHASE_CACHE_KIB
    aliases: dict[str, tuple[str, ...]] = ALIASES
    required: tuple[str | tuple[str, ...], ...] = (
        "order_ref",
        "customer_ref",
        "purchased_at",
        "amount",
    )
    ignored: tuple[str, ...] = ("latte_id",)

    def __init__(self) -> None:
        self.staged = False
        self.last_time: tuple[str | None, int] = (None, 0)
        # Whether every staged row so far names an order after the previous row's: then each
        # order is one staged row, already summed, and the grouping pass is skipped (see
        # `finish`). The lines of the batch's last order wait for the next batch (`held`), so
        # that a run cut by a batch's end is still staged as one row.
        self.ascending = True
        self.last_order: str | None = None
        self.held: list[Pending] = []
        self.accepted = 0
        self.indexed = False

    def key(self, row: tuple[Any, ...]) -> None:
        # Lines sharing an order go to staging together, summed later.
        return None

    def parse(self, c: dict[str, str], run: Run) -> tuple[Any, ...]:
        fields = (c["order_ref"], c["customer_ref"], c["purchased_at"], c["amount"])
        return self._line(*fields, c.get("lines", ""), run.times, run.amounts)

    def row_parser(self, positions: dict[str, int], run: Run) -> Callable[[list[str]], Any]:
        """`parse` from a CSV row's cells, taken by position without a dict (this runs for
        every line; docs/architecture.md, "Batch import")."""
        line, times, amounts = self._line, run.times, run.amounts
        names = ["order_ref", "customer_ref", "purchased_at", "amount"]
        take: Callable[[list[str]], Sequence[str]]
        if "lines" not in positions:
            take = itemgetter(*(positions[name] for name in names))
            return lambda cells: line(*take(cells), "", times, amounts)  # type: ignore[arg-type, call-arg]
        take = itemgetter(*(positions[name] for name in [*names, "lines"]))
        return lambda cells: line(*take(cells), times, amounts)  # type: ignore[call-arg]

    def _line(
        self,
        order: str,
        customer: str,
        when_text: str,
        amount_text: str,
        count: str,
        times: Any,
        amounts: Amounts,
    ) -> tuple[Any, ...]:
        """A line's (customer, order, microseconds, cents, lines), or Bad."""
        # `text`'s checks inline for the common case (a short, non-empty reference).
        order = order.strip()
        if not 0 < len(order) <= 100:
            text(order, "order_ref", limit=100, required=True)  # raises Bad with the reason
        customer = customer.strip()
        if not 0 < len(customer) <= 100:
            text(customer, "customer_ref", limit=100, required=True)  # raises Bad, as above
        last_text, micros = self.last_time
        if when_text != last_text:  # else an order's lines share their time
            when = times(when_text, "purchased_at")
            if when is None:
                raise Bad("purchased_at", "is empty")
            micros = (when - UNIX) // MICROSECOND
            self.last_time = (when_text, micros)
        # The most common layout, 12.50, inline up to nine digits (below the bound) when the
        # decimal mark is a point; anything else goes through `amounts`.
        digits = amount_text[:-3] + amount_text[-2:]
        amount: int | None
        if (
            2 < len(digits) < 10
            and amount_text[-3] == "."
            and digits.isdigit()
            and digits.isascii()
            and amounts.point
        ):
            amount = int(digits)
        else:
            amount = amounts(amount_text, "amount")
            if amount is None:
                raise Bad("amount", "is empty")
        lines = integer(count, "lines", 1, MAX_LINES) or 1 if count else 1
        return (customer, order, micros, amount, lines)

    def write(self, conn: Connection, batch: list[Pending], run: Run) -> None:
        pending = [*self.held, *batch] if self.held else batch
        # Hold the last order's lines back, unless they are the whole batch (an order longer
        # than a batch is staged in several rows, and grouped as any unordered file).
        last = pending[-1].row[1]
        cut = len(pending) - 1
        while cut > 0 and pending[cut - 1].row[1] == last:
            cut -= 1
        self.held = pending[cut:] if cut else []
        self._stage(conn, pending[:cut] if cut else pending, run)

    def _stage(self, conn: Connection, lines: list[Pending], run: Run) -> None:
        if not self.staged:
            for table in (STAGING, ORDERS):
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")
            STAGING.create(conn)
            self.staged = True
        rows = list(_runs(lines))
        if self.ascending:
            previous = self.last_order
            for row in rows:
                order = row[2]
                # An order above the amount or lines bound is rejected by the grouping path.
                if (
                    (previous is not None and order <= previous)
                    or row[4] > MAX_CENTS
                    or row[5] > MAX_LINES
                ):
                    self.ascending = False
                    break
                previous = order
            self.last_order = rows[-1][2]
        self.accepted += len(lines)
        run.store.insert(conn, STAGING.name, STAGING_COLUMNS, rows)

    def finish(self, conn: Connection, run: Run) -> None:
        if self.held:
            with run.transaction(conn):
                self._stage(conn, self.held, run)
            self.held = []
        if not self.staged:
            run.report.lines_accepted = 0  # a purchases import counts lines, even none
            return
        if self.ascending:
            self._write_staged(conn, run)
            return
        with run.transaction(conn):
            ORDERS.create(conn)
            sums = select(
                STAGING.c.order_ref,
                func.min(STAGING.c.customer_ref),
                func.max(STAGING.c.customer_ref),
                func.min(STAGING.c.purchased_us),
                func.sum(STAGING.c.amount_cents),
                func.sum(STAGING.c.lines),
                func.sum(STAGING.c.count),
            ).group_by(STAGING.c.order_ref)
            # Numbered in order_ref order: purchases are inserted in that order, as before.
            sums = sums.order_by(STAGING.c.order_ref)
            names = ["order_ref", "first_customer", "last_customer", "purchased_us"]
            names += ["amount_cents", "lines", "count"]
            conn.execute(ORDERS.insert().from_select(names, sums))
            self._reject_orders(
                conn,
                run,
                ORDERS.c.first_customer != ORDERS.c.last_customer,
                "customer_ref",
                "the lines of order {} name different customers; one order belongs to one customer",
            )
            self._reject_orders(
                conn,
                run,
                ORDERS.c.amount_cents > MAX_CENTS,
                "amount",
                f"the lines of order {{}} add up to more than {MAX_CENTS // 100:,}.00, the "
                "largest amount latte stores; check the amounts",
            )
            self._reject_orders(
                conn,
                run,
                ORDERS.c.lines > MAX_LINES,
                "lines",
                f"the lines of order {{}} count more than {MAX_LINES:,} lines together; "
                "check the lines column",
            )
            total = f"SELECT sum(count) FROM {ORDERS.name}"
            accepted = int(conn.exec_driver_sql(total).scalar() or 0)
        # The page's orders with the purchase stored under each reference, if any: one join
        # instead of an IN list per few hundred orders.
        self._write_pages(
            conn,
            run,
            f"SELECT o.order_ref, o.first_customer, o.purchased_us, o.amount_cents, o.lines, "
            f"o.n, p.id, p.customer_id, p.purchased_at, p.amount_cents, p.lines "
            f"FROM {ORDERS.name} o LEFT JOIN purchase p ON p.order_ref = o.order_ref "
            f"WHERE o.n > {run.store.mark} ORDER BY o.n LIMIT {PAGE}",
        )
        with run.transaction(conn):
            ORDERS.drop(conn)
            STAGING.drop(conn)
        self._reset()
        run.report.lines_accepted = accepted

    def _write_staged(self, conn: Connection, run: Run) -> None:
        """Write the staged rows as they are, a page at a time by first line: each names an
        order no other row names (`ascending`), so each is an order, summed and with one
        customer, in the file's order of references (ascending by code point; the grouping
        path orders by the database's collation, which may differ on PostgreSQL, so new
        purchase ids can follow another order there; docs/architecture.md, "Batch import")."""
        self._write_pages(
            conn,
            run,
            f"SELECT s.order_ref, s.customer_ref, s.purchased_us, s.amount_cents, s.lines, "
            f"s.line, p.id, p.customer_id, p.purchased_at, p.amount_cents, p.lines "
            f"FROM {STAGING.name} s LEFT JOIN purchase p ON p.order_ref = s.order_ref "
            f"WHERE s.line > {run.store.mark} ORDER BY s.line LIMIT {PAGE}",
        )
        with run.transaction(conn):
            STAGING.drop(conn)
        run.report.lines_accepted = self.accepted
        self._reset()

    def _write_pages(self, conn: Connection, run: Run, page_sql: str) -> None:
        """Write the pages `page_sql` gives (its sixth column numbers the rows, its one
        parameter is the last number written), each in its own transaction with its
        repurchase outcomes folded (latte_cli.cohort). The active customers of the pages'
        customers are recomputed once, at the end (latte_cli.active, `deferred`)."""
        last = 0
        with active.deferred(conn):
            while True:
                with run.transaction(conn):
                    page = conn.exec_driver_sql(page_sql, (last,)).all()
                    if not page:
                        break
                    self._write_page(conn, page, run)
                    last = page[-1][5]
                    summary.fold(conn)
        with run.transaction(conn):
            active.refresh(conn)

    def _reset(self) -> None:
        self.staged = False
        self.ascending = True
        self.last_order = None
        self.accepted = 0
        self.indexed = False

    def _reject_orders(
        self, conn: Connection, run: Run, wrong: Any, field: str, reason: str
    ) -> None:
        """Reject every line of the summed orders `wrong` holds for, with `reason` (its `{}`
        the order), and drop those orders."""
        orders = [row[0] for row in conn.execute(select(ORDERS.c.order_ref).where(wrong))]
        if orders and not self.indexed:
            conn.exec_driver_sql(STAGING_INDEX)
            self.indexed = True
        for part in chunks(orders):
            lines = conn.execute(
                select(STAGING.c.line, STAGING.c.order_ref, STAGING.c.raw)
                .where(STAGING.c.order_ref.in_(part))
                .order_by(STAGING.c.line)
            ).all()
            rejected = [
                (number, order, raw)
                for line, order, packed in lines
                for number, raw in unpack_lines(line, packed)
            ]
            for number, order, raw in sorted(rejected, key=itemgetter(0)):
                run.reject(Record(number, {}, None, raw), field, reason.format(order))
            conn.execute(ORDERS.delete().where(ORDERS.c.order_ref.in_(part)))

    def _write_page(self, conn: Connection, page: Sequence[Any], run: Run) -> None:
        """Write one page of summed orders: each row is (order, customer, time, amount,
        lines, n) and the stored purchase's (id, customer, time, amount, lines), all None for a
        new order."""
        table = Purchase.__table__  # type: ignore[attr-defined]
        ids = customers.resolve_refs(conn, list({row[1]: None for row in page}), run)
        ts = run.store.ts_micros
        new = []
        for order, customer, micros, amount, lines, _n, stored_id, *stored in page:
            values = (ids[customer], ts(micros), int(amount), int(lines))
            if stored_id is None:
                new.append((order, values[0], values[1], micros // SECOND, values[2], values[3]))
                continue
            if tuple(stored) == values:
                run.report.unchanged += 1
                continue
            when = UNIX + micros * MICROSECOND
            conn.execute(
                update(table)
                .where(table.c.id == stored_id)
                .values(
                    customer_id=values[0],
                    purchased_at=when,
                    purchased_epoch=epoch(when),
                    amount_cents=values[2],
                    lines=values[3],
                )
            )
            run.report.updated += 1
        run.store.insert(
            conn,
            "purchase",
            (
                "order_ref",
                "customer_id",
                "purchased_at",
                "purchased_epoch",
                "amount_cents",
                "lines",
            ),
            new,
        )
        run.report.inserted += len(new)
