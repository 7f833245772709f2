"""Killing latte mid-write (SIGKILL, no chance to clean up) never damages the database.

Writers: each trial starts two writer processes (tests/concurrency_agent.py, opening complaints
and recording stages on the same newest complaints), releases them together and kills each at
its own random moment. After every kill `latte db check` must be clean, and the database must
hold every operation a writer logged as committed, plus at most the one operation it committed
but had no time to log. The trials run on one database, so each one also starts on what the
previous kills left behind; a last writer then runs to the end and must be counted exactly.

Imports: `latte import complaints -` is killed after being fed a chosen number of rows (before,
around and after its first batch of 5000); the database must be clean and hold whole batches,
and importing the same file again must end with the exact totals.

Deterministic: the kill moments and row counts come from fixed seeds.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from .concurrency_agent import ROOT, Team, run_agents
from .conftest import Latte, PostgresServer

TRIALS = 20
SEED = 20261123
WRITERS = 2
# Kill moments after every writer's first write, in seconds (a write takes a few milliseconds
# on a quiet machine, a hundred or more on a loaded one).
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


def writing(team: Team, timeout: float = 60.0) -> float:
    """The moment every writer of the team has committed (and logged) its first operation.

    Kill moments count from here, not from the release: on a loaded machine a writer's first
    write can take longer than the whole kill window, and a kill before it proves nothing.
    """
    deadline = time.monotonic() + timeout
    while not all(logged(team.log_of(name)) for name in team.names):
        assert time.monotonic() < deadline, "the writers wrote nothing in time"
        for name, process in zip(team.names, team.processes, strict=True):
            assert process.poll() is None, f"{name} ended before its first write"
        time.sleep(0.005)
    return time.monotonic()


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
            if trial + 1 < TRIALS:
                upcoming = cleanup.enter_context(writers(tmp_path, trial + 1))
            released = writing(team)
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


IMPORT_ROWS = 7000  # the importer commits every 5000 rows: one whole batch and a part
IMPORT_BATCH = 5000
# How many rows the killed import has been fed, per trial: before its first batch is full,
# around the first batch's write, and well after it (the pipe and the importer's read buffer
# hold well under 2000 rows, so by then the first batch has been committed).
KILL_AFTER_ROWS = ((500, 4900), (5000, 5800), (IMPORT_ROWS, IMPORT_ROWS))


def complaints_file(path: Path, prefix: str) -> int:
    """A complaints CSV with some history; returns the stage records it should give."""
    stages = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("external_id,channel,category,listen,opened_at,acknowledged_at,"
                  "take_action_at,action_kind,amount,customer_ref\n")  # fmt: skip
        for i in range(IMPORT_ROWS):
            done = i % 3  # stages after listen
            stages += 1 + done
            ack = "2026-10-01T10:00:00Z" if done >= 1 else ""
            action = ("2026-10-01T11:00:00Z", "refund", "12.50") if done >= 2 else ("", "", "")
            out.write(f"{prefix}-{i},phone,delivery,It broke {i},2026-10-01T09:00:00Z,{ack},"
                      f"{','.join(action)},C-{i % 300}\n")  # fmt: skip
    return stages


def killed_import(path: Path, rows_fed: int) -> None:
    """`latte import complaints -` fed the file's first `rows_fed` rows, then killed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "latte_cli", "import", "complaints", "-", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert process.stdin is not None
    try:
        with path.open("rb") as source:
            for line in itertools.islice(source, rows_fed + 1):  # the header and rows_fed rows
                process.stdin.write(line)
            process.stdin.flush()
        assert process.poll() is None, "the import ended before its kill"
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdin.close()


def fresh_store(request: pytest.FixtureRequest, db_url: str, folder: Path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{folder / 'import.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


def test_killed_imports_leave_a_consistent_database_and_a_rerun_completes_them(
    db_url: str, tmp_path: Path, latte: Latte, request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    rng = random.Random(SEED + 1)
    committed_batches = []
    for trial, (low, high) in enumerate(KILL_AFTER_ROWS):
        folder = tmp_path / f"import{trial}"
        folder.mkdir()
        url = fresh_store(request, db_url, folder)
        monkeypatch.setenv("LATTE_DB", url)
        # The database exists before the import starts: a kill before the importer created it
        # would leave none, which `db check`, a reading command, rightly refuses to create.
        latte.ok("db", "upgrade")
        path = folder / "complaints.csv"
        stages = complaints_file(path, f"T{trial}")
        killed_import(path, rng.randint(low, high))
        store = Store(url)
        try:
            report = json.loads(latte.ok("db", "check", "--json").stdout)
            assert report["clean"], (trial, report["problems"])
            (done,) = store.rows("SELECT COUNT(*) FROM complaint")[0]
            assert done in (0, IMPORT_BATCH), f"a killed import left {done} rows: not whole batches"
            committed_batches.append(done // IMPORT_BATCH)

            rerun = json.loads(latte.ok("import", "complaints", str(path), "--json").stdout)
            counts = {k: rerun[k] for k in ("inserted", "updated", "unchanged", "rejected")}
            assert counts == {
                "inserted": IMPORT_ROWS - done, "updated": 0, "unchanged": done, "rejected": 0
            }  # fmt: skip
            assert store.rows("SELECT COUNT(*) FROM complaint")[0][0] == IMPORT_ROWS
            assert store.rows("SELECT COUNT(*) FROM stage_record")[0][0] == stages
            assert store.rows("SELECT COUNT(*) FROM customer")[0][0] == 300
        finally:
            store.engine.dispose()
    assert committed_batches[0] == 0 and committed_batches[-1] == 1, committed_batches
    assert latte.ok("db", "check").exit_code == 0
