"""Benchmark the drill-down (`latte report ... --detail FIGURE`) on the 1M-complaint bench data.

    python bench/detail_bench.py --db /tmp/latte-bench.db [--week 2026-W47] [--runs 3]

Work on a copy of the bench database (see `bench/report_bench.py`, which generates it). For a
week and for the year ending with that week it measures, in-process (a fresh session each
run, median of `--runs`), opening one figure at a time: the time to select the complaints and
read their list rows, and how many there are; then every count the HTML report links at once
(one `Facts` shared); then one `--detail` as a whole process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

FIGURES = (
    "opened",
    "resolved",
    "open_backlog",
    "overdue",
    "within_target.count",
    "reopen_rate.count",
    "repurchase.lost",
    'repurchase_by_speed."> 3 d".pending',
    "fast_and_satisfied.repurchased",
    "nps.promoters",
    "repeat.repeats",
    "deadlines.final.breached",
)


def timed(function: object, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = function()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--week", default="2026-W47")
    parser.add_argument("--as-of", default="2026-12-01")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = f"sqlite:///{args.db}"

    from zoneinfo import ZoneInfo

    from latte_cli import db
    from latte_cli.cli.report_links import linked_figures
    from latte_cli.reports.build import Options, build_report
    from latte_cli.reports.periods import choose_span, parse_as_of, parse_week, week_period
    from latte_cli.services.detail import figure_details

    zone = ZoneInfo("UTC")
    as_of = parse_as_of(args.as_of, zone, int(time.time()))
    options = Options(zone=zone, as_of=as_of)
    week = choose_span(zone=zone, as_of=as_of, week=args.week, weeks=1)
    last = week_period(parse_week(args.week), zone)
    first = week_period(parse_week(args.week) - 51, zone)
    year = choose_span(
        zone=zone,
        as_of=as_of,
        since=_iso(first.start),
        until=_iso(last.end),
        weeks=1,
    )
    print(f"{args.db}: week {args.week}, year {year.current.label}, median of {args.runs}")
    print(f"{'figure':40} {'week s':>8} {'rows':>8} {'year s':>8} {'rows':>8}")
    for figure in FIGURES:
        cells = []
        for span in (week, year):

            def run(span: object = span, figure: str = figure) -> int:
                with db.open_session(url, readonly=True) as session:
                    (page,) = figure_details(session, span=span, options=options, figures=[figure])
                    return page.total

            seconds, total = timed(run, args.runs)
            cells += [f"{seconds:8.3f}", f"{total:8,}"]
        print(f"{figure:40} {' '.join(cells)}")

    for name, span in (("week", week), ("year", year)):

        def every(span: object = span) -> int:
            with db.open_session(url, readonly=True) as session:
                report = build_report(session.connection(), span, options, kind="weekly")  # type: ignore[arg-type]
                figures = linked_figures(report)
                pages = figure_details(
                    session, span=span, options=options, figures=figures, limit=200
                )
                return len(pages)

        seconds, count = timed(every, args.runs)
        print(f"HTML report's {count} linked counts ({name}), report included: {seconds:.2f} s")

    env = dict(os.environ, LATTE_DB=url, LATTE_TZ="UTC")
    command = [
        sys.executable, "-m", "latte_cli", "report", "weekly", "--week", args.week,
        "--as-of", args.as_of, "--detail", "repurchase.lost", "--format", "json",
    ]  # fmt: skip

    def process() -> int:
        done = subprocess.run(command, env=env, capture_output=True, check=True)
        return len(done.stdout)

    seconds, _ = timed(process, args.runs)
    print(f"whole process, --detail repurchase.lost --format json (week): {seconds:.2f} s")
    db.dispose_engines()


def _iso(moment: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S")


if __name__ == "__main__":
    main()
