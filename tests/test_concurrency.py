"""Eight agents at once on one database: nothing lost, nothing written twice, nothing locked.

Eight processes (tests/concurrency_agent.py) are released together by a barrier and each runs
150 operations, one transaction each, through the same services as the CLI: open complaints
(some into the queue, some for the same new customer), record stages, transfer, `next` claims,
record follow-ups, reopen, and mark agents away or available, mostly on the same few newest
complaints. Each agent reports what it did successfully; the database must hold exactly that.
Runs on SQLite (WAL) and on PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from .concurrency_agent import MIXES, run_agents
from .conftest import Latte

NAMES = ["ana", "ben", "caro", "dev", "eli", "fay", "gus", "hana"]
OPS = 150
QUEUE_NOTE = "Taken from the queue."
# What two agents acting on one complaint at once may legitimately be told.
EXPECTED_REFUSALS = re.compile(
    r"^(StageOutOfOrder: .*"
    r"|InvalidValue: (The complaint|Complaint) is already assigned to .*"
    r"|InvalidValue: \w+ is away\. .*"
    r"|InvalidValue: Complaint is still open .*"
    # One follow-up per resolution: two agents calling the same customer, the second is refused.
    r"|InvalidValue: Complaint follow-up was already recorded .*"
    r"|InvalidValue: latte has never seen an agent called .*"
    r"|InvalidValue: Complaint is resolved: reopen it first: .*)$"
)


def rows(url: str, sql: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(sql)))
    finally:
        engine.dispose()


def expected_events(done: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """(complaint, kind, agent, detail) of every event the agents' successful operations add."""
    events: Counter[tuple[Any, ...]] = Counter()
    for r in done:
        op, cid, agent = r["op"], r.get("id"), r["agent"]
        if op == "open":
            events[(cid, "opened", agent, None)] += 1
            events[(cid, "stage", agent, "listen")] += 1
        elif op == "step":
            events[(cid, "stage", agent, r["stage"])] += 1
        elif op == "transfer":
            events[(cid, "transfer", agent, r["to"])] += 1
        elif op == "claim":
            events[(cid, "transfer", agent, "queue")] += 1
        elif op in ("followup", "reopen"):
            events[(cid, op, agent, None)] += 1
    return events


def stored_events(url: str) -> Counter[tuple[Any, ...]]:
    events: Counter[tuple[Any, ...]] = Counter()
    for cid, kind, agent, data in rows(
        url, "SELECT complaint_id, kind, agent, data FROM event ORDER BY id"
    ):
        details = json.loads(data)
        detail = None
        if kind == "stage":
            detail = details["stage"]
        elif kind == "transfer":
            detail = "queue" if details.get("note") == QUEUE_NOTE else details["to_agent"]
        events[(cid, kind, agent, detail)] += 1
    return events


def test_eight_agents_at_once_lose_and_duplicate_nothing(
    db_url: str, tmp_path: Path, latte: Latte
) -> None:
    results = run_agents(tmp_path, names=NAMES, ops=OPS, seed=20261123, timeout=150)

    errors: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for result in results:
        errors.update(result["errors"])
        refused.update(result["refused"])
    tracebacks = [t for result in results for t in result["tracebacks"]]
    assert errors.get("locked", 0) == 0, f"'database is locked' seen: {tracebacks[:3]}"
    assert not errors, f"errors by kind {dict(errors)}; first: {tracebacks[:3]}"
    unexpected = {m: n for m, n in refused.items() if not EXPECTED_REFUSALS.match(m)}
    assert not unexpected, f"refusals no race explains: {unexpected}"

    done = [record for result in results for record in result["done"]]
    ops = Counter(record["op"] for record in done)
    # The run exercised what it claims to (a seed that never claimed would prove nothing).
    assert set(ops) == set(MIXES["team"]), ops
    assert sum(ops.values()) + sum(refused.values()) > len(NAMES) * OPS * 0.8

    (complaints,) = rows(db_url, "SELECT COUNT(*) FROM complaint")[0]
    (records,) = rows(db_url, "SELECT COUNT(*) FROM stage_record")[0]
    (events,) = rows(db_url, "SELECT COUNT(*) FROM event")[0]
    assert complaints == ops["open"]
    assert records == ops["open"] + ops["step"]
    assert events == (
        2 * ops["open"]
        + ops["step"]
        + ops["transfer"]
        + ops["claim"]
        + ops["followup"]
        + ops["reopen"]
    )
    assert stored_events(db_url) == expected_events(done)

    expected_records = Counter(
        (r["id"], 0, "listen", r["agent"])
        if r["op"] == "open"
        else (r["id"], r["cycle"], r["stage"], r["agent"])
        for r in done
        if r["op"] in ("open", "step")
    )
    stored_records = Counter(
        tuple(row)
        for row in rows(db_url, "SELECT complaint_id, cycle, stage, agent FROM stage_record")
    )
    assert stored_records == expected_records

    claims = Counter(r["id"] for r in done if r["op"] == "claim")
    assert [cid for cid, n in claims.items() if n > 1] == [], "claimed by two agents"
    queued = {r["id"] for r in done if r["op"] == "open" and r["queued"]}
    assert set(claims) <= queued

    (recorded,) = rows(db_url, "SELECT COUNT(*) FROM followup WHERE recorded_at IS NOT NULL")[0]
    assert recorded == ops["followup"]
    twice_pending = rows(
        db_url,
        "SELECT complaint_id FROM followup WHERE recorded_at IS NULL "
        "GROUP BY complaint_id HAVING COUNT(*) > 1",
    )
    assert twice_pending == []

    refs = {r["customer"] for r in done if r["op"] == "open" and r["customer"]}
    assert rows(db_url, "SELECT COUNT(*) FROM customer")[0][0] == len(refs)
    marked = {r["marked"] for r in done if r["op"] == "presence"}
    assert {name for (name,) in rows(db_url, "SELECT name FROM agent")} == marked

    check = json.loads(latte.ok("db", "check", "--json").stdout)
    assert check["clean"], check["problems"]
    assert check["complaints"] == complaints
