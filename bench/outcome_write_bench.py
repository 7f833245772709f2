"""What recomputing the repurchase outcomes of customers costs a write (the fold's
`cohort._outcomes`: the outcome rows and, since revision 0020, the kept pairs of revenue
kept), on a copy of a large database, in a transaction rolled back at the end.

    python bench/outcome_write_bench.py /tmp/copy-of-bench.db            # 20,000 customers
    python bench/outcome_write_bench.py /tmp/copy-of-bench.db --customers 5000 --repeat 3

Run it with each version of latte's code against a database at that version's revision and
compare the CPU seconds (`time.process_time`). Never point it at a database you cannot lose:
it writes (and rolls back) in it.
"""

from __future__ import annotations

import argparse
import random
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="A SQLite file (a copy).")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from sqlalchemy import create_engine, text

    from latte_cli import cohort

    engine = create_engine(f"sqlite:///{args.database}")
    with engine.connect() as conn:
        everyone = conn.execute(
            text("SELECT DISTINCT customer_id FROM complaint WHERE customer_id IS NOT NULL")
        ).scalars()
        chosen = sorted(random.Random(12).sample(sorted(everyone), args.customers))
        complaints = conn.execute(
            text(
                "SELECT count(*) FROM report_outcome WHERE customer_id IN "
                "(SELECT value FROM json_each(:ids))"
            ),
            {"ids": str(chosen)},
        ).scalar()
    for run in range(args.repeat):
        with engine.connect() as conn:
            transaction = conn.begin()
            start = time.process_time()
            for part in cohort._chunks(chosen, cohort.CUSTOMERS_PER_STATEMENT):
                cohort._outcomes(conn, part)
            spent = time.process_time() - start
            transaction.rollback()
        print(f"run {run + 1}: {args.customers:,} customers, {complaints:,} outcome rows: "
              f"{spent:.2f} CPU s")  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
