"""Active customers on PostgreSQL: the count over the purchases against the kept one.

Run by hand from a clone, with PostgreSQL's binaries installed (as for the tests):

    python bench/active_pg_bench.py

Starts a throwaway cluster (tests/pg_cluster.py), writes 250,000 customers and 2,000,000
purchases spread over three years with generate_series, builds the active customers
(`active.rebuild`), times both counts for two period ends, and times recomputing every
customer at once, as a purchases import does at its end (docs/architecture.md, "Active
customers"): wall time, CPU seconds in latte and CPU seconds of the server process serving
the connection (read from /proc: the throwaway cluster runs on this machine).
"""

import os
import sys
import time
from pathlib import Path

from sqlalchemy import Connection, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from active_bench import compare  # the same comparison, timed by the wall clock

from tests import pg_cluster

DAY = 86_400
YEAR = 365 * DAY
START = 1_699_920_000  # a UTC midnight (2023-11-14)
CUSTOMERS = """INSERT INTO customer (id, created_at)
SELECT g, now() FROM generate_series(1, 250000) g"""
PURCHASES = """INSERT INTO purchase
(order_ref, customer_id, purchased_at, purchased_epoch, amount_cents, lines)
SELECT 'O' || g, 1 + (g::bigint * 7919) % 250000, now(),
       :start + ((g::bigint * 104729) % (3 * 365 * 86400))::int, 100, 1
FROM generate_series(1, 2000000) g"""


def server_cpu(conn: Connection) -> float:
    """CPU seconds (user + system) spent so far by the server process of this connection."""
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    url = pg_cluster.start()
    try:
        _run(url)
    finally:
        pg_cluster.stop(url)


def _run(url: str) -> None:
    from latte_cli import active, db

    engine = db.get_engine(url)
    db.upgrade(engine)
    with engine.begin() as c:
        c.execute(text(CUSTOMERS))
        c.execute(text(PURCHASES), {"start": START})
        c.execute(text("DELETE FROM report_queue"))
        cpu, wall = time.process_time(), time.perf_counter()
        active.rebuild(c)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"rebuild: {cpu:.1f} CPU s in latte, {wall:.1f} s wall")
    with engine.connect() as c:
        c.execute(text("ANALYZE"))
        for end in (START + 2 * YEAR, START + 2 * YEAR - 7 * DAY):
            print(compare(c, end, time.perf_counter, "wall"))
    with engine.begin() as c:
        server = server_cpu(c)
        cpu, wall = time.process_time(), time.perf_counter()
        active.refresh(c, range(1, 250_001))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        server = server_cpu(c) - server
        print(
            f"recomputing 250,000 customers: {cpu:.1f} CPU s in latte, {server:.1f} CPU s in "
            f"the server, {wall:.1f} s wall"
        )
        differences, _ = active.differences(c)
        print(f"db check differences after it: {differences}")


if __name__ == "__main__":
    main()
