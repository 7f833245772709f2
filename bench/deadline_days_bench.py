"""The report's deadline figures from the days kept at write time against the pass over the
complaints they replace, on a copy of the bench database (SQLite; read only).

    cp /tmp/int4-bench.db /tmp/mine-bench.db && latte --db sqlite:////tmp/mine-bench.db db upgrade
    python bench/deadline_days_bench.py --db /tmp/mine-bench.db

For a week, a quarter, a year and the full history (each with the period before it), every
`--by` and three zones (UTC, America/Los_Angeles, Asia/Kolkata), with as-of after the period
and inside its last week: `fix_queries.deadline_counts` (the kept days and the rest from the
complaints) must give the same counts as `fix_queries._index_counts` over the whole periods
(what every report computed before revision 0018). Prints the CPU seconds of each, the
median of 3 runs after a warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PERIODS = {
    "week": ("2026-11-16", "2026-11-22"),
    "quarter": ("2025-10-01", "2025-12-31"),
    "year": ("2025-01-01", "2025-12-31"),
    "full": ("2023-11-27", "2026-11-22"),
}
ZONES = ("UTC", "America/Los_Angeles", "Asia/Kolkata")
BYS = (None, "agent", "channel", "category", "location")


def _cpu(run: Any) -> tuple[float, Any]:
    run()
    times, result = [], None
    for _ in range(3):
        start = time.process_time()
        result = run()
        times.append(time.process_time() - start)
    return statistics.median(times), result


def _summed(rows: list[tuple[int, Any, str, int, int]]) -> Counter[tuple[Any, ...]]:
    found: Counter[tuple[Any, ...]] = Counter()
    for k, group, name, status, n in rows:
        found[(k, group, name, status)] += n
    return +found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--quick", action="store_true", help="UTC and no --by only")
    args = parser.parse_args()
    from latte_cli import db
    from latte_cli.reports import fix_queries as fq
    from latte_cli.reports.periods import choose_span

    url = f"sqlite:///{args.db}"
    engine = db.ensure_schema(url)
    zones = ZONES[:1] if args.quick else ZONES
    bys = BYS[:1] if args.quick else BYS
    with engine.connect() as conn:
        for zone_name in zones:
            zone = ZoneInfo(zone_name)
            for label, (since, until) in PERIODS.items():
                for as_of_text in ("2026-12-01T00:00", f"{until}T17:45"):
                    as_of = int(
                        __import__("datetime").datetime.fromisoformat(as_of_text)
                        .replace(tzinfo=zone).timestamp()
                    )  # fmt: skip
                    span = choose_span(zone=zone, as_of=as_of, since=since, until=until)
                    periods = [span.current, span.previous]
                    for by in bys:
                        kept_cpu, kept = _cpu(
                            lambda p=periods, b=by, t=as_of: fq.deadline_counts(conn, p, b, t)
                        )
                        rows_cpu, rows = _cpu(
                            lambda p=periods, b=by, t=as_of: [
                                row
                                for k, one in enumerate(p)
                                for row in fq._index_counts(conn, k, [(one.start, one.end)], b, t)
                            ]
                        )
                        same = _summed(kept) == _summed(rows)
                        print(
                            f"{zone_name:20} {label:8} as-of {as_of_text:17} by {by or '-':9} "
                            f"kept {kept_cpu:6.3f} s  rows {rows_cpu:6.3f} s  "
                            f"{'same' if same else 'DIFFERENT'}",
                            flush=True,
                        )
                        if not same:
                            sys.exit(1)


if __name__ == "__main__":
    main()
