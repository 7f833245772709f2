"""Concurrency benchmark: 8 agent processes working on one database at once, SQLite and PostgreSQL.

Run from the repository (it uses the test suite's agent, tests/concurrency_agent.py):

    python bench/concurrency.py                       # both stores; a throwaway PG cluster
    python bench/concurrency.py --pg-url postgresql+psycopg://user@host/postgres
    python bench/concurrency.py --stores sqlite --agents 8 --ops 300 --mix writer --json

Each agent is its own process doing `--ops` one-transaction operations through latte's services
(the CLI's code path), released together by a barrier; `--mix team` is the concurrency test's
mix (open, step, transfer, next, follow-up, reopen, presence, on the same newest complaints),
`--mix writer` only opens complaints and records stages. The PostgreSQL cluster comes from
tests/pg_cluster.py (Debian's postgresql package; fsync off, like the test suite) unless
--pg-url gives a server, on which a new database is created for the run (the URL's role needs
CREATEDB).

Reported per store: operations per second (all operations tried, over the slowest agent's time),
p50/p99/max latency of one operation, "database is locked" errors, other errors, refusals
(another agent changed the complaint first), and rows kept against the rows the agents
reported writing (complaints, stage records, events): they must be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from latte_cli import db  # noqa: E402
from tests import pg_cluster  # noqa: E402
from tests.concurrency_agent import run_agents  # noqa: E402

NAMES = ["ana", "ben", "caro", "dev", "eli", "fay", "gus", "hana", "ivo", "jo", "kim", "lu"]


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def expected_rows(done: list[dict[str, Any]]) -> dict[str, int]:
    ops = Counter(record["op"] for record in done)
    return {
        "complaint": ops["open"],
        "stage_record": ops["open"] + ops["step"],
        "event": 2 * ops["open"]
        + sum(ops[k] for k in ("step", "transfer", "claim", "followup", "reopen")),
    }


def stored_rows(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
                for table in ("complaint", "stage_record", "event")
            }
    finally:
        engine.dispose()


def run_store(store: str, url: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    db.ensure_schema(url)  # the schema exists before the clock starts
    db.dispose_engines()
    env = {**os.environ, "LATTE_DB": url}
    names = NAMES[: args.agents]
    results = run_agents(
        folder, names=names, ops=args.ops, seed=args.seed, mix=args.mix, env=env, timeout=600
    )
    latencies = [ms for result in results for ms in result["latencies_ms"]]
    errors: Counter[str] = Counter()
    for result in results:
        errors.update(result["errors"])
    done = [record for result in results for record in result["done"]]
    seconds = max(result["seconds"] for result in results)
    return {
        "store": store,
        "agents": len(names),
        "operations": len(latencies),
        "succeeded": len(done),
        "refused": sum(sum(result["refused"].values()) for result in results),
        "seconds": round(seconds, 2),
        "ops_per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.5), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2),
        "locked": errors.get("locked", 0),
        "other_errors": sum(errors.values()) - errors.get("locked", 0),
        "rows_kept": stored_rows(url),
        "rows_expected": expected_rows(done),
    }


def show(row: dict[str, Any]) -> None:
    kept, expected = row["rows_kept"], row["rows_expected"]
    rows = ", ".join(f"{t} {kept[t]:,} of {expected[t]:,}" for t in kept)
    print(
        f"{row['store']:<10} {row['agents']} agents x {row['operations'] // row['agents']} ops: "
        f"{row['ops_per_second']:>7.1f} ops/s  p50 {row['p50_ms']:.1f} ms  "
        f"p99 {row['p99_ms']:.1f} ms  max {row['max_ms']:.0f} ms  "
        f'"database is locked" {row["locked"]}  other errors {row["other_errors"]}  '
        f"refused {row['refused']}\n{'':<11}rows kept: {rows}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--ops", type=int, default=300, help="operations per agent")
    parser.add_argument("--mix", choices=("team", "writer"), default="team")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--pg-url", help="admin URL of a PostgreSQL server to create a db on")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.agents <= len(NAMES):
        parser.error(f"--agents must be 1 to {len(NAMES)}")
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    rows = []
    cluster = None
    with tempfile.TemporaryDirectory(prefix="latte-bench-") as temp:
        folder = Path(temp)
        try:
            for store in stores:
                work = folder / store
                work.mkdir()
                if store == "sqlite":
                    url = f"sqlite:///{folder / 'bench.db'}"
                elif store == "postgresql":
                    admin = args.pg_url
                    if admin is None:
                        if not pg_cluster.available():
                            print("PostgreSQL is not installed: skipped", file=sys.stderr)
                            continue
                        admin = cluster = pg_cluster.start()
                    url = create_database(admin)
                else:
                    parser.error(f"unknown store {store!r}: sqlite or postgresql")
                rows.append(run_store(store, url, args, work))
                if not args.json:
                    show(rows[-1])
        finally:
            if cluster is not None:
                pg_cluster.stop(cluster)
    if args.json:
        print(json.dumps(rows, indent=2))
    bad = [
        r for r in rows if r["locked"] or r["other_errors"] or r["rows_kept"] != r["rows_expected"]
    ]
    return 1 if bad else 0


def create_database(admin_url: str) -> str:
    name = f"latte_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


if __name__ == "__main__":
    sys.exit(main())
