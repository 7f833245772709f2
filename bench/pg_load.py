"""Load a SQLite bench database into PostgreSQL fast, for the PostgreSQL benchmarks.

    cp /tmp/speed-bench-0014.db /tmp/my-bench.db      # never the original
    python -m tests.pg_cluster start                   # prints an admin URL, or use your own
    python bench/pg_load.py --db /tmp/my-bench.db --pg-url ADMIN_URL [--database latte_bench]
    python bench/pg_load.py ... --verify --check       # a report and `latte db check` on both

It creates the database `--database` on the server of `--pg-url` (refusing an existing one
unless `--replace`), creates the schema with latte's own migrations (`latte --db URL db
upgrade`), checks that both databases are at the same revision, and copies every table the
two share with `COPY ... FROM STDIN` (psycopg's `cursor.copy`), parents before children (the
foreign keys read from the catalogue), summary tables included (`report_day`,
`report_cohort`, `report_outcome`, ...; blobs as bytea), so that no summary is rebuilt.

The copy runs with `session_replication_role = replica` (the role must be a superuser, as the
test cluster's is): no trigger fires, neither the foreign-key checks nor latte's own, which
would refresh a search document and queue every complaint in `report_queue` row by row for
work the copied summaries already hold; `report_queue` and `report_change` are copied as they
are, and whatever the SQLite database had queued is then folded by latte's own
`summary.fold`. The SQLite source is consistent, and `--check` runs `latte db check` on both
stores (it compares the summaries with a fresh computation) and compares their findings.

Then the id sequences are set past the largest id, the search index is built with latte's own
function (`latte_search_refresh`, in batches, as `latte db rebuild-search` does: its time is
the index's build time, its size `pg_total_relation_size('search_index')`), and the database
is vacuumed and analysed. The URL to pass to `latte --db`, bench/search_bench.py
`--pg-url`, bench/report_bench.py `--pg-url` or bench/advice_bench.py `--pg-url` is printed
last.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SKIPPED = {"alembic_version", "search_index"}  # set by the migrations; built after the copy
PART = 50_000


def database_url(admin: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def connect(url: str) -> Any:
    """A psycopg connection to the database of a SQLAlchemy URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    options: dict[str, Any] = {"dbname": parsed.database, "user": parsed.username}
    if parsed.password:
        options["password"] = parsed.password
    options["host"] = parsed.host or parsed.query.get("host")
    port = parsed.port or parsed.query.get("port")
    if port:
        options["port"] = int(str(port))
    return psycopg.connect(**options)


def create_database(admin: str, name: str, replace: bool) -> str:
    with connect(admin) as connection:
        connection.autocommit = True
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists and not replace:
            raise SystemExit(f"database {name} exists: pass --replace to load it again")
        if exists:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return database_url(admin, name)


def upgrade(url: str) -> None:
    """The schema, by latte's own command."""
    latte = str(Path(sys.executable).parent / "latte")
    subprocess.run([latte, "--db", url, "db", "upgrade"], check=True, stdout=subprocess.DEVNULL)


def ordered_tables(connection: Any) -> list[str]:
    """The tables of the public schema, every table after those its foreign keys name."""
    names = [
        row[0]
        for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
    ]
    parents: dict[str, set[str]] = {name: set() for name in names}
    for child, parent in connection.execute(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
    ):
        if child != parent:
            parents[child].add(parent)
    ordered: list[str] = []
    while parents:
        ready = sorted(name for name, needs in parents.items() if not needs - set(ordered))
        if not ready:
            raise SystemExit(f"the foreign keys form a cycle among {sorted(parents)}")
        ordered += ready
        for name in ready:
            del parents[name]
    return ordered


def columns_of(connection: Any, table: str) -> list[str]:
    return [
        row[0]
        for row in connection.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = %s AND is_generated = 'NEVER' ORDER BY ordinal_position",
            (table,),
        )
    ]


def revision_sqlite(source: sqlite3.Connection) -> str:
    return str(source.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def copy_tables(source: sqlite3.Connection, connection: Any) -> dict[str, int]:
    """Every table both databases hold, in foreign-key order, by COPY; rows per table."""
    in_sqlite = {
        row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    copied: dict[str, int] = {}
    with connection.transaction():
        connection.execute("SET LOCAL session_replication_role = replica")
        for table in ordered_tables(connection):
            if table in SKIPPED:
                continue
            if table not in in_sqlite:
                print(f"  {table}: not in the SQLite database, left empty")
                continue
            columns = columns_of(connection, table)
            have = {row[1] for row in source.execute(f'PRAGMA table_info("{table}")')}
            if set(columns) != have:
                raise SystemExit(
                    f"{table}: the columns differ (only in PostgreSQL: "
                    f"{sorted(set(columns) - have)}, only in SQLite: {sorted(have - set(columns))})"
                )
            started = time.perf_counter()
            quoted = ", ".join(f'"{c}"' for c in columns)
            rows = source.execute(f'SELECT {quoted} FROM "{table}"')
            count = 0
            with connection.cursor().copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
                while part := rows.fetchmany(PART):
                    for row in part:
                        copy.write_row(row)
                    count += len(part)
            copied[table] = count
            print(f"  {table}: {count:,} rows in {time.perf_counter() - started:.1f} s")
    return copied


def reset_sequences(connection: Any) -> None:
    """Every serial column's sequence set past the largest value copied."""
    with connection.transaction():
        for table, column in connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_default LIKE 'nextval(%%'"
        ).fetchall():
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
                f'coalesce((SELECT max("{column}") FROM "{table}"), 0) + 1, false)'
            )


def fold(url: str) -> None:
    """Changes the SQLite database had queued for the summaries and not folded yet (a program
    wrote rows around latte): folded as latte folds them before a commit (`summary.fold`),
    since a report does not read the summaries while something is queued."""
    from latte_cli import summary
    from latte_cli.db import dispose_engines, get_engine

    started = time.perf_counter()
    with get_engine(url).begin() as connection:
        folded = summary.fold(connection)
    dispose_engines()
    took = time.perf_counter() - started
    print(f"folded {folded:,} queued changes into the summaries in {took:.0f} s")


def build_index(url: str) -> tuple[float, float]:
    """The search index built by latte's own function; (client CPU s, wall s)."""
    from latte_cli.db import dispose_engines, open_session
    from latte_cli.services.search import rebuild_index

    cpu, wall = time.process_time(), time.perf_counter()
    with open_session(url) as session:
        rebuild_index(session)
    dispose_engines()
    return time.process_time() - cpu, time.perf_counter() - wall


def without_clock(value: Any) -> Any:
    """A report's JSON without `as_of`, the time it was made."""
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k != "as_of"}
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value


def verify(sqlite_path: Path, url: str, check: bool) -> None:
    """One report as JSON from both stores; with `check`, `latte db check` on both, whose
    findings must be the same (the bench generator writes no `opened` events, so the check
    has findings on the SQLite database already)."""
    latte = str(Path(sys.executable).parent / "latte")
    env = {**os.environ, "LATTE_TZ": "UTC", "NO_COLOR": "1"}
    stores = (f"sqlite:///{sqlite_path}", url)
    report = ["report", "weekly", "--week", "2026-W47", "--format", "json"]
    outputs = []
    for store in stores:
        done = subprocess.run(
            [latte, "--db", store, *report], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(without_clock(json.loads(done.stdout)))
    same = outputs[0] == outputs[1]
    print(f"latte report weekly --week 2026-W47 --format json: {'same' if same else 'DIFFERENT'}")
    if not check:
        return
    found = []
    for store in stores:
        started = time.perf_counter()
        done = subprocess.run(
            [latte, "--db", store, "db", "check"], env=env, capture_output=True, text=True
        )
        # At most a page of findings is listed; the count is in the closing line.
        lines = sorted(done.stdout.strip().splitlines()) + done.stderr.strip().splitlines()[-1:]
        print(
            f"latte db check on {store.split(':')[0]}: exit {done.returncode}, "
            f"{len(lines):,} findings, in {time.perf_counter() - started:.0f} s"
        )
        found.append(lines)
    only_pg = sorted(set(found[1]) - set(found[0]))
    print(f"findings only on PostgreSQL: {len(only_pg)}")
    for line in only_pg[:20]:
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="A SQLite bench copy.")
    parser.add_argument("--pg-url", required=True, help="An admin URL of the server.")
    parser.add_argument("--database", default="latte_bench")
    parser.add_argument("--replace", action="store_true", help="Drop the database first.")
    parser.add_argument(
        "--verify", action="store_true", help="Compare a weekly report on both stores."
    )
    parser.add_argument(
        "--check", action="store_true", help="Also `latte db check` on both (slow at 1M)."
    )
    args = parser.parse_args()
    source = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)

    total = time.perf_counter()
    url = create_database(args.pg_url, args.database, args.replace)
    started = time.perf_counter()
    upgrade(url)
    print(f"schema by `latte db upgrade` in {time.perf_counter() - started:.1f} s")
    with connect(url) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision != revision_sqlite(source):
            raise SystemExit(
                f"PostgreSQL is at revision {revision}, the SQLite database at "
                f"{revision_sqlite(source)}: bring it to {revision} with `latte db upgrade`"
            )
        started = time.perf_counter()
        copied = copy_tables(source, connection)
        print(
            f"copied {sum(copied.values()):,} rows of {len(copied)} tables "
            f"in {time.perf_counter() - started:.0f} s"
        )
        reset_sequences(connection)
        (queued,) = connection.execute("SELECT count(*) FROM report_queue").fetchone()
        print(f"report_queue after the copy: {queued} rows (as in the SQLite database)")
    source.close()
    if queued:
        fold(url)

    cpu, wall = build_index(url)
    with connect(url) as connection:
        (size,) = connection.execute("SELECT pg_total_relation_size('search_index')").fetchone()
        (documents,) = connection.execute("SELECT count(*) FROM search_index").fetchone()
    print(
        f"search index (latte_search_refresh, {documents:,} documents): wall {wall:.0f} s, "
        f"client cpu {cpu:.1f} s, size {size / 2**20:.0f} MiB"
    )
    started = time.perf_counter()
    with connect(url) as connection:
        connection.autocommit = True
        connection.execute("VACUUM (ANALYZE)")
    print(f"VACUUM (ANALYZE) in {time.perf_counter() - started:.0f} s")
    print(f"loaded in {time.perf_counter() - total:.0f} s")
    if args.verify or args.check:
        verify(args.db, url, args.check)
    print(url)


if __name__ == "__main__":
    main()
