"""Benchmark latte's reports on 1,000,000 complaints and 2,000,000 purchase lines.

    pip install duckdb            # the anchor; not a latte dependency
    python bench/report_bench.py --db /tmp/latte-bench.db          # generates it if missing
    python bench/report_bench.py --db /tmp/latte-bench.db --complaints 100000   # a quick run

In one run it measures:
1. `latte report weekly` for one week with a 12-week trend, as a whole process (median of 3),
   and the same report built in-process;
2. the full-history weekly x agent trend (opened, resolved, backlog at the week's end,
   resolution median/p90/mean and share within 24 h, per ISO week and agent, and per week for
   all agents, as the report shows them) in latte against DuckDB computing the same figures
   over the same rows in its own file, and checks that the figures agree. latte reads its
   report summary (revision 0003); the first of the three runs also imports numpy;
3. `latte report weekly`, `agents --by agent` and `repurchase` over a week, a quarter, a year
   and the full history, each as a whole process: wall time (median of `--runs`) and peak RSS
   (the child's own maximum resident set, from `os.wait4`), and CPU time (user + system, the
   steadier figure on a shared machine), each also as a multiple of the one-week report's; the
   weekly report on business hours over a week and a year; beside DuckDB computing the year's
   weekly figures (volume, backlog, resolution and acknowledge percentiles, stage percentiles,
   within target, reopen rate) over the same rows in the same run, as the anchor. latte reads
   the report summary and the cohort summary (revisions 0003 and 0009).

The generator writes consistent rows with sqlite3 `executemany` in one transaction per table:
complaints over three years (only the last three weeks' partly open, 8% reopened; root causes,
first- and final-response due times, remedy amounts and "what will change" texts, so that the
deadline, root-cause, repeat and remedy figures have data), the first cycle's stage records,
follow-ups, purchases, and the `reopen` events (the only events the reports read).

On PostgreSQL, part 3 against a database bench/pg_load.py loaded from the same SQLite copy
(no DuckDB anchor; the server's CPU seconds per report beside the client's, when the server
runs on this machine, as the test cluster does):

    python -m tests.pg_cluster start                                  # prints ADMIN_URL
    python bench/pg_load.py --db /tmp/my-bench.db --pg-url ADMIN_URL  # prints URL
    python bench/report_bench.py --db /tmp/my-bench.db --pg-url URL --runs 3
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DAY, HOUR = 86_400, 3_600
START = int(datetime(2023, 11, 27, tzinfo=UTC).timestamp())  # a Monday
SPAN = 3 * 364 * DAY
AGENTS = [f"agent{i:02d}" for i in range(20)]
CHANNELS = ["phone", "email", "chat", "web"]
CATEGORIES = ["delivery", "billing", "product", "service"]
LOCATIONS = ["north", "south", "east", "west", None]
KINDS = ["refund", "replacement", "repair", "credit", "discount", "explanation_only"]
CAUSES = ["delivery", "delivery", "billing", "product_defect", "service", "communication", "policy"]
CHANGES = ["Better packaging", "Train the team", "Fix the invoice template", "Check stock daily"]
STAGES = ["listen", "acknowledge", "take_action", "thank", "explain"]
GAPS = [0, 300, 900, HOUR, 2 * HOUR, 5 * HOUR, 12 * HOUR, 30 * HOUR, 60 * HOUR, 100 * HOUR]


def stamp(epoch: int) -> str:
    """The text SQLAlchemy stores for a DateTime on SQLite."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.000000")


def generate(path: Path, complaints: int, purchases: int) -> None:
    from latte_cli.db import dispose_engines, ensure_schema

    ensure_schema(f"sqlite:///{path}")
    dispose_engines()
    rnd = random.Random(42)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    customers = complaints // 4
    created = stamp(START)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO customer (id, ref, created_at) VALUES (?, ?, ?)",
        ((i, f"C-{i}", created) for i in range(1, customers + 1)),
    )
    db.commit()
    end = START + SPAN
    batch_c, batch_s, batch_f, batch_e = [], [], [], []

    def flush() -> None:
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO complaint (id, customer_id, channel, category, location, severity, "
            "summary, opened_by, assigned_agent, stage_due, cycle, reopen_count, opened_at, "
            "opened_epoch, acknowledged_at, acknowledged_epoch, first_resolved_at, "
            "first_resolved_epoch, resolved_at, resolved_epoch, action_kind, root_cause, "
            "updated_at, first_response_due_epoch, final_response_due_epoch) "
            "VALUES (?,?,?,?,?,'medium','s',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            batch_c,
        )
        db.executemany(
            "INSERT INTO stage_record (complaint_id, cycle, stage, text, agent, completed_at, "
            "duration_seconds, action_kind, amount_cents, what_will_change) "
            "VALUES (?, 0, ?, '', ?, ?, ?, ?, ?, ?)",
            batch_s,
        )
        db.executemany(
            "INSERT INTO followup (complaint_id, due_at, recorded_at, recorded_epoch, agent, "
            "reached, satisfied, nps, repurchased) VALUES (?,?,?,?,?,?,?,?,?)",
            batch_f,
        )
        db.executemany(
            "INSERT INTO event (complaint_id, at, agent, kind, data) VALUES (?,?,?,'reopen','{}')",
            batch_e,
        )
        db.commit()
        for batch in (batch_c, batch_s, batch_f, batch_e):
            batch.clear()

    # Opened in time order, as a live database is.
    opened_times = sorted(rnd.randrange(START, end) for _ in range(complaints))
    for cid, opened in enumerate(opened_times, start=1):
        agent = rnd.choice(AGENTS)
        # Open complaints are the recent ones, as in a team that keeps up.
        recent = opened > end - 21 * DAY
        reached = rnd.randint(1, 4) if recent and rnd.random() < 0.3 else 5
        times = [opened]
        for _ in range(reached - 1):
            times.append(times[-1] + rnd.choice(GAPS))
        while times[-1] > end:
            times.pop()
        kind = rnd.choice(KINDS) if len(times) >= 3 else None
        ack = times[1] if len(times) > 1 else None
        first = times[4] if len(times) == 5 else None
        reopened = first is not None and rnd.random() < 0.08
        due = None if first else STAGES[len(times)]
        if reopened:
            due = "take_action"
            batch_e.append((cid, stamp(first + 2 * DAY), agent))  # type: ignore[operator]
        customer = rnd.randint(1, customers) if rnd.random() < 0.85 else None
        batch_c.append(
            (cid, customer, rnd.choice(CHANNELS), rnd.choice(CATEGORIES), rnd.choice(LOCATIONS),
             agent, agent, due, int(reopened), int(reopened), stamp(opened), opened,
             stamp(ack) if ack else None, ack, stamp(first) if first else None, first,
             stamp(first) if first else None, first, kind,
             rnd.choice(CAUSES) if first else None, stamp(times[-1]),
             # Deadlines (revision 0010) for four complaints in five.
             opened + 4 * HOUR if cid % 5 else None, opened + 2 * DAY if cid % 5 else None)
        )  # fmt: skip
        amount = rnd.choice([None, 500, 1500, 4999]) if kind else None
        change = rnd.choice(CHANGES)
        previous = opened
        for stage, at in zip(STAGES, times, strict=False):
            batch_s.append(
                (
                    cid,
                    stage,
                    agent,
                    stamp(at),
                    at - previous,
                    kind if stage == "take_action" else None,
                    amount if stage == "take_action" else None,
                    change if stage == "explain" else None,
                )
            )
            previous = at
        if first is not None:
            recorded = first + 3 * DAY if rnd.random() < 0.6 else None
            batch_f.append(
                (cid, stamp(first + 3 * DAY), stamp(recorded) if recorded else None, recorded,
                 agent, recorded is not None, rnd.random() < 0.7 if recorded else None,
                 rnd.randint(0, 10) if recorded else None,
                 rnd.choice([True, False, None]) if recorded else None)
            )  # fmt: skip
        if len(batch_c) >= 50_000:
            flush()
    flush()
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO purchase (order_ref, customer_id, purchased_at, purchased_epoch, "
        "amount_cents, lines) VALUES (?, ?, ?, ?, ?, 1)",
        (
            (f"O-{i}", rnd.randint(1, customers), stamp(e), e, rnd.randint(100, 20_000))
            for i, e in ((i, rnd.randrange(START, end + 90 * DAY)) for i in range(purchases))
        ),
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()
    # The rows went in around latte, so their summaries are computed as `latte db upgrade`
    # does for an existing database (the triggers queued them; rebuilding empties the queues).
    from latte_cli import cohort, summary
    from latte_cli.db import get_engine

    with get_engine(f"sqlite:///{path}").begin() as conn:
        summary.rebuild(conn)
        cohort.rebuild(conn)
    dispose_engines()


def to_duckdb(sqlite_path: Path, duck_path: Path) -> None:
    import duckdb

    if duck_path.exists():
        duck_path.unlink()
    # Streamed: the processes measured later are forked from this one, and on Linux a child's
    # peak RSS starts at its parent's size when it was forked.
    source = sqlite3.connect(sqlite_path)
    cursor = source.execute(
        "SELECT assigned_agent, opened_epoch, first_resolved_epoch FROM complaint"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="", delete=False) as handle:
        writer = csv.writer(handle)
        while rows := cursor.fetchmany(100_000):
            writer.writerows(rows)
    source.close()
    duck = duckdb.connect(str(duck_path))
    duck.execute(
        "CREATE TABLE complaint (assigned_agent VARCHAR, opened_epoch BIGINT, "
        "first_resolved_epoch BIGINT)"
    )
    duck.execute(f"COPY complaint FROM '{handle.name}' (HEADER false, NULLSTR '')")
    os.unlink(handle.name)
    duck.close()


DUCK_TREND = """
WITH c AS (
  SELECT (opened_epoch - 345600) // 604800 AS ow, (first_resolved_epoch - 345600) // 604800 AS rw,
         assigned_agent AS a, first_resolved_epoch - opened_epoch AS d
  FROM complaint),
o AS (SELECT ow AS w, a, count(*) AS opened FROM c GROUP BY GROUPING SETS ((ow, a), (ow))),
r AS (
  SELECT rw AS w, a, count(*) AS resolved, quantile_cont(d, 0.5) AS median,
         quantile_cont(d, 0.9) AS p90, avg(d) AS mean, count(*) FILTER (WHERE d <= 86400) AS within
  FROM c WHERE rw IS NOT NULL GROUP BY GROUPING SETS ((rw, a), (rw))),
j AS (
  SELECT coalesce(o.w, r.w) AS w, coalesce(o.a, r.a) AS a, coalesce(opened, 0) AS opened,
         coalesce(resolved, 0) AS resolved, median, p90, mean, coalesce(within, 0) AS within
  FROM o FULL OUTER JOIN r ON o.w = r.w AND o.a IS NOT DISTINCT FROM r.a)
SELECT w, a, opened, resolved,
       sum(opened - resolved) OVER (PARTITION BY a ORDER BY w) AS backlog,
       median, p90, mean, within
FROM j ORDER BY w, a NULLS FIRST
"""


def duck_trend(duck_path: Path) -> tuple[float, list[tuple[object, ...]]]:
    import duckdb

    duck = duckdb.connect(str(duck_path), read_only=True)
    started = time.perf_counter()
    rows = duck.execute(DUCK_TREND).fetchall()
    took = time.perf_counter() - started
    duck.close()
    return took, rows


def latte_trend(db_url: str, zone: str) -> tuple[float, list[tuple[object, ...]]]:
    from zoneinfo import ZoneInfo

    from latte_cli.db import open_session
    from latte_cli.reports.build import Options, weekly_trend
    from latte_cli.reports.periods import week_of
    from latte_cli.reports.queries import first_opened

    with open_session(db_url, readonly=True) as session:
        conn = session.connection()
        started = time.perf_counter()
        tz = ZoneInfo(zone)
        now = int(time.time())
        oldest = first_opened(conn)
        assert oldest is not None
        weeks = tuple(range(week_of(oldest, tz), week_of(START + SPAN, tz) + 1))
        overall, by_agent = weekly_trend(conn, weeks, Options(zone=tz, as_of=now, by="agent"))
        took = time.perf_counter() - started
    rows = overall + by_agent
    figures = [
        (r.week.label, r.group, r.opened, r.resolved, r.backlog, r.resolution.median,
         r.resolution.p90, r.resolution.mean, r.within_target.count)
        for r in rows
        if r.opened or r.resolved
    ]  # fmt: skip
    return took, figures


def compare(latte_rows: list[tuple[object, ...]], duck_rows: list[tuple[object, ...]]) -> None:
    from latte_cli.reports.periods import week_period

    zone = __import__("zoneinfo").ZoneInfo("UTC")
    duck = {
        (week_period(int(w), zone).label, a): rest  # type: ignore[call-overload]
        for w, a, *rest in duck_rows
    }
    assert len(duck) == len(latte_rows), (len(duck), len(latte_rows))
    for label, agent, *figures in latte_rows:
        other = duck[(label, agent)]
        for mine, theirs in zip(figures, other, strict=True):
            if mine is None or theirs is None:
                assert mine is None and theirs is None, (label, agent, figures, other)
            else:
                assert abs(float(mine) - float(theirs)) < 1e-6, (label, agent, figures, other)  # type: ignore[arg-type]


PERIODS = {
    "week": ["--week", "2026-W47"],
    "quarter": ["--since", "2025-10-01", "--until", "2025-12-31"],
    "year": ["--since", "2025-01-01", "--until", "2025-12-31"],
    "full history": ["--since", "2023-11-27", "--until", "2026-11-22"],
}
REPORTS = {
    "weekly": ["weekly", "--weeks", "12"],
    "agents": ["agents"],  # grouped by agent
    "repurchase": ["repurchase"],
    # Business hours: from the summaries too (docs/architecture.md, "Reports over long periods").
    "weekly hours": ["weekly", "--weeks", "12", "--hours", "Mon-Fri 09:00-17:00"],
}
SKIPPED = {("weekly hours", "quarter")}


def measured_process(args: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one whole process. On a shared machine
    the CPU seconds (user + system) move less than the wall time with other work. The child
    runs under /usr/bin/time: on Linux a process's peak RSS counts what it shared with the
    process it was forked from, so a child of this (larger) process would report too much."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as measured:
        timed = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", measured.name, *args]
        child = subprocess.run(timed, env=env, stdout=subprocess.DEVNULL, check=False)
        if child.returncode:
            raise SystemExit(f"{' '.join(args)} failed with exit code {child.returncode}")
        wall, user, system, peak_kb = measured.read().split()[-4:]
    return float(wall), float(user) + float(system), int(peak_kb) // 1024


def server_clock(url: str) -> Callable[[], float] | None:
    """The CPU seconds the PostgreSQL server's finished processes used so far: the
    postmaster's children's time (/proc/PID/stat `cutime` + `cstime`), which takes in a
    client's backend when it ends. None unless the server runs on this machine and the role
    may read `data_directory` (a superuser, as the test cluster's is)."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options: dict[str, Any] = {"dbname": parsed.database, "user": parsed.username}
    options["host"] = parsed.host or parsed.query.get("host")
    if port := parsed.port or parsed.query.get("port"):
        options["port"] = int(str(port))
    try:
        with psycopg.connect(**options) as connection:
            folder = connection.execute("SHOW data_directory").fetchone()
        pid = int((Path(folder[0]) / "postmaster.pid").read_text().split()[0])
        stat = Path(f"/proc/{pid}/stat")
        stat.read_text()
    except (psycopg.Error, OSError, ValueError, TypeError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")

    def clock() -> float:
        time.sleep(0.2)  # the postmaster collects the backend of the client that just ended
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / ticks

    return clock


def period_matrix(
    latte: str,
    env: dict[str, str],
    runs: int,
    only: list[str],
    server: Callable[[], float] | None = None,
) -> dict[tuple[str, str], tuple[float, float]]:
    """Every report over every period: time and peak RSS, beside the one-week report; with
    `server`, the PostgreSQL server's CPU seconds for the report too."""
    columns = ("wall s", "x week", "CPU s", "x week", "peak MB")
    if server:
        columns += ("server s",)
    print(f"{'report':<13} {'period':<13} " + " ".join(f"{c:>7}" for c in columns))
    times: dict[tuple[str, str], tuple[float, float]] = {}
    for name, report in REPORTS.items():
        if only and name not in only:
            continue
        week_time = week_cpu = 0.0
        for period, flags in PERIODS.items():
            if (name, period) in SKIPPED:
                continue
            args = [latte, "report", *report, *flags]
            samples, served = [], []
            for _ in range(runs):
                before = server() if server else 0.0
                samples.append(measured_process(args, env))
                served.append(server() - before if server else 0.0)
            took = statistics.median(t for t, _, _ in samples)
            cpu = statistics.median(c for _, c, _ in samples)
            peak = max(m for _, _, m in samples)
            week_time, week_cpu = week_time or took, week_cpu or cpu
            times[(name, period)] = (took, cpu)
            on_server = f" {statistics.median(served):>8.2f}" if server else ""
            print(
                f"{name:<13} {period:<13} {took:>7.2f} {took / week_time:>7.1f} "
                f"{cpu:>7.2f} {cpu / week_cpu:>7.1f} {peak:>8}{on_server}"
            )
    return times


DUCK_YEAR = """
WITH c AS (
  SELECT * FROM complaint
  WHERE first_resolved_epoch >= epoch(TIMESTAMPTZ '2025-01-01 00:00:00+00')
    AND first_resolved_epoch < epoch(TIMESTAMPTZ '2026-01-01 00:00:00+00')),
s AS (
  SELECT stage, quantile_cont(duration_seconds, 0.5) AS median,
         quantile_cont(duration_seconds, 0.9) AS p90, avg(duration_seconds) AS mean
  FROM stage_record JOIN c ON c.id = stage_record.complaint_id
  WHERE cycle = 0 GROUP BY stage)
SELECT
  (SELECT count(*) FROM complaint
   WHERE opened_epoch >= epoch(TIMESTAMPTZ '2025-01-01 00:00:00+00')
     AND opened_epoch < epoch(TIMESTAMPTZ '2026-01-01 00:00:00+00')) AS opened,
  (SELECT count(*) FROM complaint
   WHERE opened_epoch < epoch(TIMESTAMPTZ '2026-01-01 00:00:00+00')
     AND coalesce(first_resolved_epoch, 9e18) >= epoch(TIMESTAMPTZ '2026-01-01 00:00:00+00'))
     AS backlog,
  count(*) AS resolved,
  quantile_cont(first_resolved_epoch - opened_epoch, 0.5) AS median,
  quantile_cont(first_resolved_epoch - opened_epoch, 0.9) AS p90,
  quantile_cont(acknowledged_epoch - opened_epoch, 0.5) AS ack_median,
  count(*) FILTER (WHERE first_resolved_epoch - opened_epoch <= 86400) AS within,
  count(*) FILTER (WHERE reopen_count > 0) AS reopened,
  (SELECT list(s ORDER BY stage) FROM s) AS stages
FROM c
"""


def copy_table(sqlite_path: Path, duck: Any, name: str, columns: str) -> None:
    """Copy the named columns of a SQLite table into DuckDB through a CSV file."""
    names = ", ".join(part.split()[0] for part in columns.split(", "))
    source = sqlite3.connect(sqlite_path)
    with tempfile.NamedTemporaryFile("w", suffix=".csv", newline="", delete=False) as handle:
        writer = csv.writer(handle)
        cursor = source.execute(f"SELECT {names} FROM {name}")
        while rows := cursor.fetchmany(100_000):
            writer.writerows(rows)
    source.close()
    duck.execute(f"CREATE TABLE {name} ({columns})")
    duck.execute(f"COPY {name} FROM '{handle.name}' (HEADER false, NULLSTR '')")
    os.unlink(handle.name)


def copy_to_postgres(sqlite_path: Path, url: str) -> None:
    """Copy the generated rows into a PostgreSQL database at `url` and build its summary."""
    from sqlmodel import SQLModel

    from latte_cli import cohort, summary
    from latte_cli.db import dispose_engines, ensure_schema, get_engine

    ensure_schema(url)
    source, target = get_engine(f"sqlite:///{sqlite_path}"), get_engine(url)
    tables = ("customer", "complaint", "stage_record", "followup", "purchase", "event")
    with source.connect() as reading, target.begin() as writing:
        for name in tables:
            table = SQLModel.metadata.tables[name]
            result = reading.execution_options(yield_per=20_000).execute(table.select())
            for part in result.partitions():
                writing.execute(table.insert(), [row._asdict() for row in part])
        summary.rebuild(writing)
        cohort.rebuild(writing)
        writing.exec_driver_sql("ANALYZE")
    dispose_engines()


def duck_year(sqlite_path: Path, duck_path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds DuckDB takes for the year's figures (medians of 3), its own file,
    tables loaded beforehand; CPU counts all of DuckDB's threads."""
    import duckdb

    duck = duckdb.connect(str(duck_path))
    listed = duck.execute("SELECT table_name FROM information_schema.tables").fetchall()
    tables = {name for (name,) in listed}
    if "stage_record" not in tables:
        copy_table(
            sqlite_path, duck, "stage_record",
            "complaint_id BIGINT, cycle INTEGER, stage VARCHAR, duration_seconds BIGINT",
        )  # fmt: skip
        duck.execute("DROP TABLE complaint")
        copy_table(
            sqlite_path, duck, "complaint",
            "id BIGINT, assigned_agent VARCHAR, opened_epoch BIGINT, acknowledged_epoch BIGINT, "
            "first_resolved_epoch BIGINT, reopen_count INTEGER",
        )  # fmt: skip
    times, cpu = [], []
    for _ in range(3):
        started, started_cpu = time.perf_counter(), time.process_time()
        duck.execute(DUCK_YEAR).fetchall()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    duck.close()
    return statistics.median(times), statistics.median(cpu)


def timed_process(args: list[str], env: dict[str, str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("/tmp/latte-bench.db"))
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--purchases", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per report and period")
    parser.add_argument("--matrix-only", action="store_true", help="only part 3")
    parser.add_argument("--only", action="append", default=[], help="part 3 for this report")
    parser.add_argument(
        "--postgres", help="a PostgreSQL URL: copy the data there and run part 3 against it"
    )
    parser.add_argument(
        "--pg-url",
        help="a PostgreSQL database bench/pg_load.py loaded from --db: part 3 against it",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if not args.db.exists():
        started = time.perf_counter()
        generate(args.db, args.complaints, args.purchases)
        print(f"generated {args.complaints:,} complaints and {args.purchases:,} purchase lines "
              f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
    url = f"sqlite:///{args.db}"
    duck_path = args.db.with_suffix(".duckdb")
    latte = str(Path(sys.executable).parent / "latte")
    env = {**os.environ, "LATTE_DB": url, "LATTE_TZ": "UTC", "NO_COLOR": "1"}
    if args.pg_url:
        env["LATTE_DB"] = args.pg_url
        warm(latte, env)
        print(f"on PostgreSQL ({args.pg_url.split('?')[0]}), {args.runs} runs each:")
        period_matrix(latte, env, args.runs, args.only, server_clock(args.pg_url))
        return
    if args.postgres:
        started = time.perf_counter()
        copy_to_postgres(args.db, args.postgres)
        print(f"copied to PostgreSQL in {time.perf_counter() - started:.0f} s")
        env["LATTE_DB"] = args.postgres
    if args.matrix_only or args.postgres:
        matrix(args.db, duck_path, latte, env, args.runs, args.only)
        return
    to_duckdb(args.db, duck_path)

    last_week = datetime.fromtimestamp(START + SPAN - DAY, UTC).isocalendar()
    week = f"{last_week[0]}-W{last_week[1]:02d}"
    weekly = [latte, "report", "weekly", "--week", week, "--weeks", "12"]
    subprocess.run(weekly, env=env, check=True, stdout=subprocess.DEVNULL)  # warm the cache
    process = timed_process(weekly, env)
    paris = timed_process([*weekly, "--tz", "Europe/Paris"], env)
    html = timed_process([*weekly, "--format", "html"], env, runs=1)
    help_time = timed_process([latte, "--help"], env)
    print(f"latte report weekly --week {week} --weeks 12 (process, median of 3): {process:.2f} s")
    print(f"  the same with --tz Europe/Paris: {paris:.2f} s; --format html: {html:.2f} s")
    print(f"  latte --help: {help_time:.2f} s")

    latte_times, duck_times = [], []
    for _ in range(3):
        took, duck_rows = duck_trend(duck_path)
        duck_times.append(took)
        took, latte_rows = latte_trend(url, "UTC")
        latte_times.append(took)
    compare(latte_rows, duck_rows)
    mine, theirs = statistics.median(latte_times), statistics.median(duck_times)
    print(f"full-history weekly x agent trend ({len(latte_rows):,} rows, figures agree): "
          f"latte {mine:.2f} s, DuckDB {theirs:.2f} s, ratio {mine / theirs:.2f}")  # fmt: skip
    paris_took, _ = latte_trend(url, "Europe/Paris")
    print(f"  latte with --tz Europe/Paris (weeks cut inside UTC days): {paris_took:.2f} s")
    matrix(args.db, duck_path, latte, env, args.runs, args.only)


def warm(latte: str, env: dict[str, str]) -> None:
    """One week's report first, so that the timed runs find the database in the cache."""
    subprocess.run(
        [latte, "report", "weekly", *PERIODS["week"]],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def matrix(
    db: Path, duck_path: Path, latte: str, env: dict[str, str], runs: int, only: list[str]
) -> None:
    if not duck_path.exists():
        to_duckdb(db, duck_path)
    warm(latte, env)
    times = period_matrix(latte, env, runs, only)
    anchor, anchor_cpu = duck_year(db, duck_path)
    year, year_cpu = times.get(("weekly", "year"), (float("nan"), float("nan")))
    print(
        f"DuckDB, the year's weekly figures (own file, median of 3): {anchor:.2f} s, "
        f"{anchor_cpu:.2f} CPU s; latte's yearly weekly report (whole process) {year:.2f} s, "
        f"{year_cpu:.2f} CPU s: ratio {year / anchor:.1f} (wall), {year_cpu / anchor_cpu:.1f} (CPU)"
    )


if __name__ == "__main__":
    main()
