"""Killing latte mid-write (SIGKILL, no chance to clean up) never damages the database.

Each trial starts two writer processes (tests/concurrency_agent.py, opening complaints and
recording stages on the same newest complaints), releases them together and kills each at its
own random moment. After every kill `latte db check` must be clean, and the database must hold
every operation a writer logged as committed, plus at most the one operation it committed but
had no time to log. The trials run on one database, so each one also starts on what the
previous kills left behind; a last writer then runs to the end and must be counted exactly.
Deterministic: the kill moments come from a fixed seed.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from .concurrency_agent import Team, run_agents
from .conftest import Latte

TRIALS = 20
SEED = 20261123
WRITERS = 2
# Kill moments after the release, in seconds (the writers are connected by then; a write takes
# a few milliseconds).
KILL_WINDOW = (0.01, 0.4)


def logged(path: Path) -> list[dict[str, Any]]:
    """The operations a writer logged; a line cut short by the kill is not counted."""
    if not path.exists():
        return []
    content = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in content.splitlines(keepends=True) if line.endswith("\n")]


class Store:
    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params))

    def written_by(self, agent: str) -> tuple[set[int], Counter[tuple[Any, ...]], int]:
        """The complaints opened, the stages recorded and the events added by `agent`."""
        opened = {
            cid for (cid,) in self.rows("SELECT id FROM complaint WHERE opened_by = :a", a=agent)
        }
        stages = Counter(
            tuple(row)
            for row in self.rows(
                "SELECT complaint_id, cycle, stage FROM stage_record WHERE agent = :a", a=agent
            )
        )
        (events,) = self.rows("SELECT COUNT(*) FROM event WHERE agent = :a", a=agent)[0]
        return opened, stages, int(events)


def check_writer(store: Store, agent: str, log: list[dict[str, Any]]) -> int:
    """Assert the database holds what `agent` logged plus at most one unlogged operation.

    Returns how many operations it had logged.
    """
    errors = [line for line in log if line["op"] == "error"]
    assert errors == [], f"{agent} saw errors before it was killed: {errors[:3]}"
    done = [line for line in log if line["op"] != "error"]
    logged_opens = {line["id"] for line in done if line["op"] == "open"}
    logged_stages = Counter(
        (line["id"], 0, "listen")
        if line["op"] == "open"
        else (line["id"], line["cycle"], line["stage"])
        for line in done
    )
    opened, stages, events = store.written_by(agent)
    assert logged_opens <= opened, f"{agent}: logged complaints missing from the database"
    assert not logged_stages - stages, f"{agent}: logged stages missing from the database"
    extra_opens = opened - logged_opens
    extra_stages = stages - logged_stages
    # The one operation that may have committed just before the kill, before it was logged:
    # an open (its complaint and its listen stage) or a step (one stage).
    assert len(extra_opens) <= 1 and extra_stages.total() <= 1, (agent, extra_opens, extra_stages)
    if extra_opens:
        assert extra_stages == Counter({(next(iter(extra_opens)), 0, "listen"): 1})
    assert events == len(opened) + stages.total(), f"{agent}: events do not match its writes"
    return len(done)


def writers(tmp_path: Path, trial: int) -> Team:
    """The trial's writers, started (they import while the previous trial runs), not released."""
    folder = tmp_path / f"trial{trial:02d}"
    folder.mkdir()
    names = [f"w{trial:02d}{chr(97 + i)}" for i in range(WRITERS)]
    return Team(
        folder, names=names, ops=100_000, seed=SEED + trial, mix="writer", log=True, warm=True
    )


def test_killed_writers_leave_a_consistent_database(
    db_url: str, tmp_path: Path, latte: Latte
) -> None:
    rng = random.Random(SEED)
    store = Store(db_url)
    killed_mid_run = 0
    logged_total = 0
    with ExitStack() as cleanup:
        cleanup.callback(store.engine.dispose)
        upcoming = cleanup.enter_context(writers(tmp_path, 0))
        for trial in range(TRIALS):
            team = upcoming
            team.ready()
            moments = sorted((rng.uniform(*KILL_WINDOW), i) for i in range(WRITERS))
            team.go()
            released = time.monotonic()
            if trial + 1 < TRIALS:
                upcoming = cleanup.enter_context(writers(tmp_path, trial + 1))
            for moment, index in moments:
                time.sleep(max(0.0, released + moment - time.monotonic()))
                process = team.processes[index]
                assert process.poll() is None, f"{team.names[index]} ended before its kill"
                process.kill()
                process.wait(timeout=10)
            team.close()
            for name in team.names:
                count = check_writer(store, name, logged(team.log_of(name)))
                logged_total += count
                killed_mid_run += count > 0
            report = json.loads(latte.ok("db", "check", "--json").stdout)
            assert report["clean"], (trial, report["problems"])

        # The kills fell during writes, not only before the first one.
        assert killed_mid_run >= TRIALS * WRITERS * 3 // 4, killed_mid_run

        # And the database is as good as new: a writer that is not killed is counted exactly.
        (complaints_before,) = store.rows("SELECT COUNT(*) FROM complaint")[0]
        (records_before,) = store.rows("SELECT COUNT(*) FROM stage_record")[0]
        (final,) = run_agents(tmp_path, names=["final"], ops=60, seed=SEED, mix="writer")
        assert final["errors"] == {}, final["tracebacks"]
        ops = Counter(record["op"] for record in final["done"])
        (complaints,) = store.rows("SELECT COUNT(*) FROM complaint")[0]
        (records,) = store.rows("SELECT COUNT(*) FROM stage_record")[0]
        assert complaints == complaints_before + ops["open"]
        assert records == records_before + ops["open"] + ops["step"]
        assert latte.ok("db", "check").exit_code == 0
