"""Time the report's deadlines and revenue kept alone, per period length (SQLite, read only).

    cp /tmp/srch2-bench.db /tmp/fix-rows-bench.db   # a copy: never the original
    LATTE_DB=sqlite:////tmp/fix-rows-bench.db latte db upgrade   # revision 0017: the sums
    python bench/fix_rows_bench.py --db /tmp/fix-rows-bench.db [--by agent] [--window 30]

For a week, a quarter, a year and three years (each with the period before it, as a report
reads them), prints the CPU seconds of `fix_queries.deadline_counts` and of revenue kept as a
calendar-clock report reads it: the cohort summary's days read for it alone
(`fix_summarised.KeptRevenue`, with the buyers' pass it shares in a report; the last
column is the days' decoding alone, which a report pays once for every family) and
`fixes._kept` (the counting), from the outcomes kept at write time, with the default 90-day
window (summed at write time; another `--window` reads every pair) and as-of 2026-12-06
(docs/architecture.md, "Reports over long periods"). `--rows` times instead the pairs read
without the days (`fix_queries.kept_pairs`, as a business-hours report reads them). Run it
by hand: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DAY = 86_400


def epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def spans() -> dict[str, tuple[int, int]]:
    return {
        "week": (epoch("2026-11-16"), epoch("2026-11-23")),
        "quarter": (epoch("2025-10-01"), epoch("2026-01-01")),
        "year": (epoch("2025-01-01"), epoch("2026-01-01")),
        "3 years": (epoch("2023-11-27"), epoch("2026-11-23")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a copy of the bench database")
    parser.add_argument("--by", default=None, help="agent, channel, category or location")
    parser.add_argument("--window", type=int, default=90, help="repurchase window, days")
    parser.add_argument("--rows", action="store_true", help="revenue kept without the days")
    args = parser.parse_args()

    from sqlalchemy import create_engine

    import latte_cli.models  # noqa: F401  (the tables)
    from latte_cli.reports import cohort_days
    from latte_cli.reports import fix_queries as fq
    from latte_cli.reports import fixes as fx
    from latte_cli.reports.periods import Period

    as_of = epoch("2026-12-06")
    engine = create_engine(f"sqlite:///file:{args.db}?mode=ro&uri=true")
    head = f"{'period':8} {'deadlines':>10} {'revenue kept':>13} {'of it, the days':>16}"
    print(f"{head}   (CPU s, --by {args.by}, W {args.window} days)")
    with engine.connect() as conn:
        for name, (start, end) in spans().items():
            periods = [Period(start, end, name), Period(2 * start - end, start, "before")]
            began = time.process_time()
            fq.deadline_counts(conn, periods, args.by, as_of)
            deadlines = time.process_time() - began
            settings = fx.Settings(
                periods=(periods[0], periods[1]),
                by=args.by,
                as_of=as_of,
                window=args.window * DAY,
                repeat=30 * DAY,
                clock=None,
                zone=ZoneInfo("UTC"),
                kept=True,
            )
            cells: dict[tuple[int, Any], Any] = defaultdict(fx._Cell)
            began = time.process_time()
            if args.rows:
                fx._kept(conn, settings, periods, cells, None)
            else:
                read = fx.summarised_fixes(settings)
                cohort_days.read(
                    conn, periods, as_of, [read.kept], read.texts,
                    window=settings.window, repeat=settings.repeat,
                )  # fmt: skip
                fx._kept(conn, settings, periods, cells, read)
            kept = time.process_time() - began
            # The days decoded with no family: a report pays it once for every family.
            began = time.process_time()
            if not args.rows:
                cohort_days.read(conn, periods, as_of, [], cohort_days.Texts())
            days = time.process_time() - began
            print(f"{name:8} {deadlines:10.2f} {kept:13.2f} {days:16.2f}")
    engine.dispose()


if __name__ == "__main__":
    main()
