"""Benchmark the advice at Take action and the urgency line at Listen on the bench database.

    cp /work/bench-data/bench-1m.db /tmp/advice-bench.db    # never the original: it upgrades it
    python bench/advice_bench.py --db /tmp/advice-bench.db
    python bench/advice_bench.py --db /tmp/advice-bench.db --pg --plans  # also PostgreSQL

The database is bench/report_bench.py's (1,000,000 complaints over three years in four
categories, 2,000,000 purchases). The run brings it to the newest revision (revision 0012
recomputes the kept outcomes with what the advice reads, and indexes them), then times,
in-process, the advice for one complaint of every category (`services.advice.advise`, as of
the newest first resolution, so the twelve months before it are full: about 70,000
complaints a category) and the urgency line (`services.advice.urgency`), each in its own
read-only session as the guided flow opens one: median wall and CPU time and the worst of
`--runs` after one warm-up, with the number of complaints counted. With `--pg` the same rows
(customers, complaints, follow-ups, purchases and the kept outcomes) are copied into a
throwaway PostgreSQL cluster (tests/pg_cluster.py) with COPY and the triggers off, and the
same is timed there; both stores must count the same complaints. `--plans` prints the query
plans of the counts and of the medians. `--pg-url URL` times only a PostgreSQL database
bench/pg_load.py loaded from a copy at the newest revision (`--db` names that copy):

    python bench/advice_bench.py --db /tmp/my-bench.db --pg-url URL
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SETTINGS = {"months": 12, "min_n": 30, "window_days": 90}
TABLES = ("customer", "complaint", "followup", "purchase", "report_outcome")


def timed(call: Callable[[], Any], runs: int) -> tuple[float, float, float, Any]:
    """(median wall ms, worst wall ms, median CPU ms of this process, the last result) of
    `runs` calls after one warm-up. On SQLite the CPU time includes the database's work (it
    runs in the process): the steadier figure on a shared machine."""
    result = call()
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(times), max(times), statistics.median(cpu), result


def subjects(url: str) -> tuple[datetime, list[tuple[str, int]]]:
    """The as-of time (the newest first resolution) and one complaint per category."""
    from sqlalchemy import text

    from latte_cli.db import open_session

    with open_session(url, readonly=True) as session:
        newest = session.execute(text("SELECT max(first_resolved_epoch) FROM complaint")).scalar()
        rows = session.execute(
            text("SELECT category, max(id) FROM complaint GROUP BY category ORDER BY category")
        ).all()
    return datetime.fromtimestamp(int(newest), UTC), [(c, int(i)) for c, i in rows]


def measure(url: str, runs: int, label: str) -> None:
    from latte_cli.db import open_session
    from latte_cli.services.advice import advise, urgency

    as_of, chosen = subjects(url)
    print(f"{label}: as of {as_of:%Y-%m-%d %H:%M} UTC, median and worst of {runs} runs")
    worst_all = 0.0
    for category, complaint in chosen:

        def advice(complaint: int = complaint) -> Any:
            with open_session(url, readonly=True) as session:
                return advise(session, complaint, as_of=as_of, **SETTINGS)

        def line(category: str = category, complaint: int = complaint) -> Any:
            with open_session(url, readonly=True) as session:
                return urgency(session, category, exclude=complaint, as_of=as_of, **SETTINGS)

        med, worst, cpu, found = timed(advice, runs)
        counted = sum(r.repurchase.n + r.repurchase.pending for r in found.rows)
        print(
            f"  advice  {category:<9} #{complaint:>7}: median {med:5.1f} ms (cpu {cpu:5.1f}), "
            f"worst {worst:5.1f} ms; {len(found.rows)} kinds, {counted:,} complaints"
        )
        med_u, worst_u, cpu_u, line_found = timed(line, runs)
        n = (line_found.fast.n, line_found.slow.n) if line_found else None
        print(
            f"  urgency {category:<9} #{complaint:>7}: median {med_u:5.1f} ms (cpu {cpu_u:5.1f}), "
            f"worst {worst_u:5.1f} ms; n fast, slow {n}"
        )
        worst_all = max(worst_all, worst, worst_u)
    print(f"  worst of all: {worst_all:.1f} ms")


def plans(url: str) -> None:
    """The database's plan of the advice's two kinds of statement: the counts of one
    category's action kind, and the read of its middle resolution times."""
    from sqlalchemy import event

    from latte_cli.db import get_engine, open_session
    from latte_cli.services.advice import advise

    as_of, chosen = subjects(url)
    engine = get_engine(url)
    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        # The first count (sums) and the first median read (in order) of the advice.
        for mark in ("count(", "ORDER BY"):
            if mark in statement and not any(mark in s for s, _ in statements):
                statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    with open_session(url, readonly=True) as session:
        advise(session, chosen[0][1], as_of=as_of, **SETTINGS)
    event.remove(engine, "before_cursor_execute", keep)
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        for statement, parameters in statements:
            print("  plan:")
            for row in conn.exec_driver_sql(prefix + statement, parameters):
                print("    " + " | ".join(str(v) for v in row))


def upgrade(url: str) -> float:
    from latte_cli.db import dispose_engines, ensure_schema

    started = time.perf_counter()
    ensure_schema(url)
    dispose_engines()
    return time.perf_counter() - started


def copy_to_postgres(path: Path, url: str) -> None:
    """The rows the advice reads, copied with COPY and the triggers off (the summaries they
    would queue are copied as they are: `report_outcome`)."""
    import psycopg
    from sqlalchemy.engine import make_url

    source = sqlite3.connect(path)
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as pg:
        pg.execute("SET session_replication_role = replica")
        for table in TABLES:
            columns = [
                r[0]
                for r in pg.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "ORDER BY ordinal_position",
                    (table,),
                )
            ]
            names = ", ".join(columns)
            started = time.perf_counter()
            cursor = source.execute(f"SELECT {names} FROM {table}")
            with pg.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                while rows := cursor.fetchmany(50_000):
                    for row in rows:
                        copy.write_row(row)
            print(f"  copied {table} in {time.perf_counter() - started:.0f} s")
        for table in ("customer", "complaint", "followup", "purchase"):
            pg.execute(
                f"SELECT setval('{table}_id_seq', (SELECT coalesce(max(id), 1) FROM {table}))"
            )
        pg.commit()
        pg.autocommit = True
        pg.execute("VACUUM ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="a copy of the bench database")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--pg", action="store_true", help="also on a throwaway PostgreSQL")
    parser.add_argument("--plans", action="store_true", help="print the query plans")
    parser.add_argument(
        "--pg-url", help="only on this PostgreSQL database, loaded by bench/pg_load.py"
    )
    args = parser.parse_args()
    if args.pg_url:
        measure(args.pg_url, args.runs, "PostgreSQL")
        if args.plans:
            plans(args.pg_url)
        return
    url = f"sqlite:///{args.db}"
    print(f"SQLite: brought to the newest revision in {upgrade(url):.0f} s")
    with sqlite3.connect(args.db) as raw:
        raw.execute("ANALYZE")
    measure(url, args.runs, "SQLite")
    if args.plans:
        plans(url)
    if not args.pg:
        return
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from latte_cli.db import dispose_engines
    from tests import pg_cluster

    admin = pg_cluster.start()
    try:
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.exec_driver_sql('CREATE DATABASE "advice_bench"')
        engine.dispose()
        pg_url = make_url(admin).set(database="advice_bench").render_as_string(hide_password=False)
        print(f"PostgreSQL: schema created in {upgrade(pg_url):.0f} s")
        started = time.perf_counter()
        copy_to_postgres(args.db, pg_url)
        print(f"PostgreSQL: rows copied in {time.perf_counter() - started:.0f} s")
        measure(pg_url, args.runs, "PostgreSQL")
        if args.plans:
            plans(pg_url)
        dispose_engines()
    finally:
        pg_cluster.stop(admin)


if __name__ == "__main__":
    main()
