"""Active customers: the count kept at write time against the count over the purchases.

Run by hand on a copy of the bench database (revision 0019 or later), never the original:

    python bench/active_bench.py --db /tmp/copy-of-bench.db [--end 2026-11-23] [--refresh N]

For the week ending at `--end` and the week before, prints both counts (they must agree) and
the CPU milliseconds of each; with `--refresh N`, the CPU seconds of recomputing N customers
at once, as a purchases import does at its end (rolled back) (docs/architecture.md, "Active
customers").
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import Connection, func, select, text

from latte_cli import active, db
from latte_cli.reports.queries import table

DAY = 86_400
YEAR = active.YEAR


def compare(conn: Connection, moment: int, clock: Callable[[], float], unit: str) -> str:
    """Both counts of the active customers at `moment` with the time of each by `clock`
    (milliseconds of `unit`), and whether they differ."""
    p = table("purchase").c
    started = clock()
    counted = conn.execute(
        select(func.count(func.distinct(p.customer_id))).where(
            p.purchased_epoch >= moment - YEAR, p.purchased_epoch < moment
        )
    ).scalar()
    query = clock() - started
    started = clock()
    kept = active.at(conn, moment)
    summary = clock() - started
    return (
        f"end {datetime.fromtimestamp(moment, UTC):%Y-%m-%d %H:%M}: purchases {counted} "
        f"({query * 1000:.1f} ms {unit}), kept {kept} ({summary * 1000:.2f} ms {unit})"
        + ("" if counted == kept else "  DIFFERENT")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite file (a copy, never the original)")
    parser.add_argument("--end", default="2026-11-23", help="the period's end (UTC midnight)")
    parser.add_argument("--refresh", type=int, default=0, help="customers to recompute")
    args = parser.parse_args()
    end = int(datetime.combine(date.fromisoformat(args.end), datetime.min.time(), UTC).timestamp())
    engine = db.get_engine(f"sqlite:///{args.db}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM active_stretch")).scalar()
        slots = conn.execute(text("SELECT count(*) FROM active_slot")).scalar()
        print(f"stretches {rows:,}, slots {slots:,}")
        for moment in (end, end - 7 * DAY):
            print(compare(conn, moment, time.process_time, "CPU"))
        if args.refresh:
            customers = [
                int(c)
                for (c,) in conn.execute(
                    text("SELECT DISTINCT customer_id FROM active_stretch LIMIT :n"),
                    {"n": args.refresh},
                )
            ]
            conn.rollback()
            with conn.begin() as transaction:
                started = time.process_time()
                active.refresh(conn, customers)
                spent = time.process_time() - started
                transaction.rollback()
            print(f"recomputing {len(customers):,} customers: {spent:.2f} CPU s (rolled back)")


if __name__ == "__main__":
    main()
