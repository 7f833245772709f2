"""A purchases import into PostgreSQL, end to end, and the share of its end.

Run by hand from a clone, with PostgreSQL's binaries installed (as for the tests):

    python bench/pg_import_bench.py [--customers 100000] [--lines 400000] [--runs 2]

Starts a throwaway cluster (tests/pg_cluster.py) and writes a CSV of `--lines` purchase lines
of `--customers` customers spread over three years. Each run creates a fresh database with
latte's migrations and the customers, then runs `latte import purchases` on the file in this
process, and prints its wall time, the CPU seconds in latte and in the server (every process
of the cluster: the cluster runs on this machine and serves nothing else), and the same three
for the recomputation of the active customers at the import's end (`active.refresh`;
docs/architecture.md, "Active customers"), then checks the active customers against the
purchases (`active.differences`).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests import pg_cluster

START = 1_699_920_000  # a UTC midnight (2023-11-14)
SPREAD = 3 * 365 * 86_400


def server_cpu(postmaster: int) -> float:
    """CPU seconds (user + system) of the cluster: the postmaster, the backends it has reaped
    and the ones still running."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(entry) == postmaster:
            ticks += sum(int(f) for f in fields[11:15])
        elif int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=400_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    admin = pg_cluster.start()
    try:
        _run(admin, args.customers, args.lines, args.runs)
    finally:
        pg_cluster.stop(admin)


def _run(admin: str, customers: int, lines: int, runs: int) -> None:
    from latte_cli import active, db
    from latte_cli.cli.main import app

    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    folder = tempfile.TemporaryDirectory()
    source = Path(folder.name) / "purchases.csv"
    rng = random.Random(9)
    with source.open("w") as out:
        out.write("order_ref,customer_ref,purchased_at,amount\n")
        for i in range(lines):
            moment = datetime.fromtimestamp(START + rng.randrange(SPREAD), UTC)
            out.write(f"O{i},C{rng.randrange(customers)},{moment:%Y-%m-%dT%H:%M:%SZ},5\n")
    refresh = active.refresh
    try:
        for run in range(runs):
            url = _database(engine, admin, f"import_{run}", customers)
            ends: list[tuple[float, float, float]] = []
            active.refresh = _timed(refresh, ends, postmaster)  # type: ignore[assignment]
            wall, cpu, server = time.perf_counter(), time.process_time(), server_cpu(postmaster)
            try:
                app(args=["--db", url, "import", "purchases", str(source)], prog_name="latte")
            except SystemExit as stop:
                if stop.code:
                    raise
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            server = server_cpu(postmaster) - server
            active.refresh = refresh
            with db.get_engine(url).connect() as conn:
                differences, _ = active.differences(conn)
            end = ends[-1]
            print(
                f"import of {lines:,} lines: {wall:.1f} s wall, {cpu:.1f} CPU s in latte, "
                f"{server:.1f} CPU s in the server; its end: {end[0]:.1f} s wall, "
                f"{end[1]:.1f} CPU s in latte, {end[2]:.1f} CPU s in the server; "
                f"db check differences: {differences}",
                flush=True,
            )
            db.dispose_engines()
    finally:
        active.refresh = refresh
        folder.cleanup()


def _database(engine: Engine, admin: str, name: str, customers: int) -> str:
    """A fresh database with latte's schema and `customers` customers C0, C1, ..."""
    from sqlmodel import Session

    from latte_cli import db
    from latte_cli.models import Customer
    from latte_cli.services.customers import write_keys

    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = admin.replace("/postgres?", f"/{name}?")
    target = db.get_engine(url)
    db.upgrade(target)
    with Session(target) as session:
        for i in range(customers):
            customer = Customer(ref=f"C{i}", created_at=datetime(2023, 1, 1, tzinfo=UTC))
            write_keys(customer)
            session.add(customer)
        session.commit()
    return url


def _timed(
    refresh: Callable[[Connection, Sequence[int]], None],
    ends: list[tuple[float, float, float]],
    postmaster: int,
) -> Callable[[Connection, Sequence[int]], None]:
    """`refresh`, recording (wall, CPU in latte, CPU in the server) of the import's end (the
    call with no customers named; a page's fold only queues)."""

    def timed(conn: Connection, customers: Sequence[int] = ()) -> None:
        wall, cpu, server = time.perf_counter(), time.process_time(), server_cpu(postmaster)
        refresh(conn, customers)
        if not customers:
            ends.append(
                (
                    time.perf_counter() - wall,
                    time.process_time() - cpu,
                    server_cpu(postmaster) - server,
                )
            )

    return timed


if __name__ == "__main__":
    main()
