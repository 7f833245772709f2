"""Time the cohort summary's families read together and read one by one (SQLite, read only).

    cp /tmp/srch2-bench.db /tmp/cohort-read-bench.db   # a copy: never the original
    python bench/cohort_read_bench.py --db /tmp/cohort-read-bench.db [--by agent]

For a week, a quarter, a year and three years (each with the period before it, as a report
reads them), prints the CPU seconds of the report's cohort figures, cohort cells, remedies,
"what will change" texts and revenue kept read from the cohort summary in one pass over its
days (as a report does), then of the same five each reading the days itself (docs/architecture.md,
"Reports over long periods"). Calendar clock, 30-day window, 14-day repeat window, as-of
2026-12-06. Run it by hand: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fix_rows_bench import DAY, epoch, spans  # the same spans as that bench

WINDOW, REPEAT = 30 * DAY, 14 * DAY


def measured(run: Any) -> float:
    """The CPU seconds of `run()`."""
    started = time.process_time()
    run()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a copy of the bench database")
    parser.add_argument("--by", default=None, help="agent, channel, category or location")
    args = parser.parse_args()

    from sqlalchemy import create_engine

    import latte_cli.models  # noqa: F401  (the tables)
    from latte_cli.reports.periods import Period

    as_of = epoch("2026-12-06")
    engine = create_engine(f"sqlite:///file:{args.db}?mode=ro&uri=true")
    print(f"{'period':8} {'together':>9} {'one by one':>11}   (CPU s, --by {args.by})")
    with engine.connect() as conn:
        first, last = spans()["week"]
        together(conn, [Period(first, last, "warm-up")], args.by, as_of)  # imports, caches
        for name, (start, end) in spans().items():
            periods = [Period(start, end, name), Period(2 * start - end, start, "before")]
            a = measured(lambda p=periods: together(conn, p, args.by, as_of))
            b = measured(lambda p=periods: one_by_one(conn, p, args.by, as_of))
            print(f"{name:8} {a:9.2f} {b:11.2f}", flush=True)


def figures(conn: Any, periods: list[Any], by: str | None, as_of: int, read: Any = None) -> None:
    from latte_cli.reports import summarised
    from latte_cli.reports.build import NO_VALUE, _Material

    found: dict[Any, _Material] = {}
    summarised.cohort_figures(
        conn, dict(enumerate(periods)), by=by, as_of=as_of, target=48 * 3600.0, window=WINDOW,
        no_value=NO_VALUE, at=lambda k, g: found.setdefault((k, g), _Material()),
        together=read.families if read else (), texts=read.texts if read else None,
        repeat=REPEAT,
    )  # fmt: skip


def together(conn: Any, periods: list[Any], by: str | None, as_of: int) -> None:
    from latte_cli.reports import cohort_days
    from latte_cli.reports import fix_summarised as fs

    read = fs.fixes(by, as_of, window=WINDOW, repeat=REPEAT, texts=cohort_days.Texts())
    figures(conn, periods, by, as_of, read)
    read.cells.rows(read.texts)
    read.remedies.rows(read.texts)
    read.changes.rows(read.texts)


def one_by_one(conn: Any, periods: list[Any], by: str | None, as_of: int) -> None:
    from latte_cli.reports import fix_summarised as fs

    figures(conn, periods, by, as_of)
    fs.cohort_cells(conn, periods, by, as_of, window=WINDOW, repeat=REPEAT)
    fs.remedy_cells(conn, periods, by, as_of)
    fs.change_texts(conn, periods[:1], by, as_of)
    from latte_cli.reports import cohort_days

    read = fs.fixes(by, as_of, window=WINDOW, repeat=REPEAT, texts=cohort_days.Texts())
    cohort_days.read(conn, periods, as_of, [read.kept], read.texts, window=WINDOW, repeat=REPEAT)


if __name__ == "__main__":
    main()
