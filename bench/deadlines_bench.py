"""Benchmark what reads deadlines on the 1,000,000-complaint bench database (SQLite).

    cp /work/bench-data/bench-1m.db /tmp/deadlines-bench.db   # never the original: this writes
    python bench/deadlines_bench.py --db /tmp/deadlines-bench.db

The bench database was generated without deadlines, so the run first gives every complaint
that has none the due times a three-rule policy would (high/critical: 24 h; billing: first
response 4 h, final 72 h, an update every day; the rest: 2 d and 10 d, an update every 3
days), computed from its opening in SQL, and leaves a tenth of the open complaints unassigned
(the queue). It then times, through the services in-process (median of 5 after a warm-up,
CPU and wall): `list` (what needs action, most urgent first), `list --due-within 2d`,
`list --breached`, `list --update-due`, `list --all --status open --sort urgent`, beside the
oldest-first order `urgent` was before deadlines, and the query `latte next` runs (20
candidates, earliest final deadline first), with its SQLite plan.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FILL = """
UPDATE complaint SET
  deadline_policy = CASE
    WHEN severity IN ('high', 'critical') THEN 'bench/urgent#0'
    WHEN category = 'billing' THEN 'bench/billing#0' ELSE 'bench/default#0' END,
  first_response_due_epoch = CASE
    WHEN severity IN ('high', 'critical') THEN NULL
    WHEN category = 'billing' THEN opened_epoch + 4 * 3600
    ELSE opened_epoch + 2 * 86400 END,
  final_response_due_epoch = opened_epoch + CASE
    WHEN severity IN ('high', 'critical') THEN 86400
    WHEN category = 'billing' THEN 3 * 86400 ELSE 10 * 86400 END,
  update_every_days = CASE
    WHEN severity IN ('high', 'critical') THEN NULL
    WHEN category = 'billing' THEN 1 ELSE 3 END,
  last_update_epoch = opened_epoch
WHERE deadline_policy IS NULL
"""
QUEUE = "UPDATE complaint SET assigned_agent = NULL WHERE stage_due IS NOT NULL AND id % 10 = 0"


def _timed(run: Any, repeat: int = 5) -> tuple[float, float, Any]:
    run()
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, type=Path)
    args = parser.parse_args()
    from sqlalchemy import text
    from sqlmodel import col, select

    from latte_cli import db
    from latte_cli.models import Complaint
    from latte_cli.services.views import ListFilter, SortKey, Status, complaint_page, urgent_order
    from latte_cli.timeutil import utcnow

    url = f"sqlite:///{args.db}"
    db.ensure_schema(url)
    with db.open_session(url) as session:
        started = time.perf_counter()
        filled = session.execute(text(FILL)).rowcount  # type: ignore[attr-defined]
        queued = session.execute(text(QUEUE)).rowcount  # type: ignore[attr-defined]
        session.commit()
        print(
            f"filled deadlines of {filled:,} complaints, {queued:,} queued "
            f"({time.perf_counter() - started:.1f} s)"
        )
        agent = session.execute(
            text(
                "SELECT assigned_agent FROM complaint WHERE stage_due IS NOT NULL AND "
                "assigned_agent IS NOT NULL GROUP BY assigned_agent ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar()
        # The newest opening, as "now": the bench's complaints are in its past.
        latest = session.execute(text("SELECT max(opened_epoch) FROM complaint")).scalar()
    now = utcnow().fromtimestamp(int(latest), utcnow().tzinfo)
    mine = {"status": Status.OPEN, "agent_or_unassigned": agent, "sort": SortKey.URGENT}
    cases = {
        "list (needs action)": ListFilter(**mine),
        "list --due-within 2d": ListFilter(**mine, due_within=timedelta(days=2)),
        "list --breached": ListFilter(**mine, breached=True),
        "list --update-due": ListFilter(**mine, update_due=True),
        "list (needs action), oldest first (before)": ListFilter(
            **{**mine, "sort": SortKey.OPENED}
        ),
        "list --all --status open --sort opened": ListFilter(
            status=Status.OPEN, sort=SortKey.OPENED
        ),
        "list --all --status open --sort urgent": ListFilter(
            status=Status.OPEN, sort=SortKey.URGENT
        ),
    }
    print(f"agent {agent!r}, now = {now.isoformat()}")
    with db.open_session(url) as session:
        for name, filters in cases.items():
            wall, cpu, page = _timed(lambda f=filters: complaint_page(session, f, now))
            print(
                f"{name:40} {wall * 1000:8.1f} ms wall {cpu * 1000:8.1f} ms CPU  "
                f"{len(page.rows)} shown of {page.total:,}"
            )
        claim = (
            select(Complaint.id)
            .where(col(Complaint.stage_due).is_not(None), col(Complaint.assigned_agent).is_(None))
            .order_by(*urgent_order())
            .limit(20)
        )
        wall, cpu, _ = _timed(lambda: session.exec(claim).all())
        print(f"{'next (candidates)':40} {wall * 1000:8.1f} ms wall {cpu * 1000:8.1f} ms CPU")
        compiled = claim.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")):
            print("   plan:", row[-1])


if __name__ == "__main__":
    main()
