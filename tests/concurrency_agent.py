"""A scripted latte agent for the concurrency and crash tests and the concurrency benchmark.

    python -m tests.concurrency_agent --name ana --ops 150 --seed 1 --out ana.json [--wait]
        [--warm] [--log ana.log] [--agents ana,ben,...] [--mix team|writer]

Works on the database in LATTE_DB. Every operation is one transaction through the same code path
as the CLI command it stands for: `latte_cli.db.open_session` plus one service call (`latte new`,
`step`, `transfer`, `next`, `followup record`, `reopen`, `agent away/available`). The targets
are picked among the newest complaints, so that agents collide on the same rows.

What the agent did successfully is what the tests compare the database with:
- `--out`: a JSON summary at the end: successful operations, refusals by message, errors by
  kind (`locked`, `unique`, `deadlock`, `database`, `crash`), op latencies in ms.
- `--log`: one JSON line per operation, written right after its commit, for the crash test:
  whatever this file lists was committed before the process was killed.
- `--wait`: print `ready` on stdout once imported, then start on a line from stdin (a barrier,
  so that all agents start together); `--warm`: connect and check the schema before that.

A refusal (StageOutOfOrder, "already assigned", ...) is the normal result of two agents acting
on the same complaint at once; an error is anything else and is a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from sqlmodel import Session, col, select

from latte_cli.db import open_session
from latte_cli.errors import DatabaseError, LatteError
from latte_cli.models import Complaint
from latte_cli.services import complaints, followups, team
from latte_cli.services.customers import CustomerDetails

HOT = 40  # agents pick their targets among this many newest complaints
CUSTOMERS = 25  # shared customer refs: first use of one races between agents
MIXES: dict[str, dict[str, int]] = {
    "team": {
        "open": 26,
        "step": 36,
        "transfer": 8,
        "claim": 10,
        "followup": 8,
        "reopen": 4,
        "presence": 8,
    },
    "writer": {"open": 40, "step": 60},
}
STAGE_INPUT = {
    "acknowledge": complaints.StageInput(text="Sorry about that."),
    "take_action": complaints.StageInput(
        action_kind="refund", action_detail="Refunded", amount="12.50", options_offered=("a",)
    ),
    "thank": complaints.StageInput(text="Thank you for telling us."),
    "explain": complaints.StageInput(root_cause="delivery", what_will_change="Better boxes"),
}


def error_kind(error: BaseException) -> str:
    """The kind of a failure that is not a refusal; every one of them is a bug."""
    message = str(error).lower()
    if "locked" in message or "is busy" in message:
        return "locked"
    if "deadlock" in message:
        return "deadlock"
    if "unique" in message or "duplicate" in message:
        return "unique"
    if "could not serialize" in message:
        return "serialization"
    if isinstance(error, DatabaseError):
        return "database"
    return "crash"


class Agent:
    def __init__(
        self, url: str, name: str, agents: list[str], rng: random.Random, log: TextIO | None
    ) -> None:
        self.url = url
        self.name = name
        self.agents = agents
        self.rng = rng
        self.log = log
        self.done: list[dict[str, Any]] = []
        self.refused: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.tracebacks: list[str] = []
        self.latencies_ms: list[float] = []
        self.empty_queue = 0
        self.serial = 0

    # picking targets: a read-only transaction, as `latte list` would --------------------------

    def _hot(self, *, resolved: bool) -> tuple[int, str | None, str | None] | None:
        # An agent writes: its look-ups may create the database, as a guided `latte new`'s do.
        with open_session(self.url, readonly=True, create=True) as session:
            due = col(Complaint.stage_due)
            rows = session.exec(
                select(Complaint.id, Complaint.stage_due, Complaint.assigned_agent)
                .where(due.is_(None) if resolved else due.is_not(None))
                .order_by(col(Complaint.id).desc())
                .limit(HOT)
            ).all()
        if not rows:
            return None
        cid, stage_due, assigned = self.rng.choice(rows)
        assert cid is not None
        return cid, stage_due, assigned

    # operations: each returns the record of what it did, or None when there was nothing to do --

    def op_open(self, session: Session) -> dict[str, Any] | None:
        self.serial += 1
        roll = self.rng.random()
        if roll < 0.6:
            ref: str | None = f"C-{self.rng.randrange(CUSTOMERS):03d}"
        elif roll < 0.8:
            ref = f"C-{self.name}-{self.serial}"
        else:
            ref = None
        queued = self.rng.random() < 0.5
        new = complaints.NewComplaint(
            channel=self.rng.choice(["phone", "email", "chat"]),
            category=self.rng.choice(["delivery", "billing", "quality"]),
            listen=f"{self.name} #{self.serial}: it arrived broken",
            customer=CustomerDetails(ref=ref, name=f"Customer {ref}" if ref else None),
            assign=not queued,
        )
        complaint = complaints.open_complaint(session, new=new, agent=self.name)
        return {"op": "open", "id": complaint.id, "customer": ref, "queued": queued}

    def op_step(self, session: Session) -> dict[str, Any] | None:
        target = self._hot(resolved=False)
        if target is None:
            return self.op_open(session)
        cid, stage, _ = target
        assert stage is not None
        complaint = complaints.record_stage(
            session, complaint_id=cid, stage=stage, given=STAGE_INPUT[stage], agent=self.name
        )
        return {"op": "step", "id": cid, "stage": stage, "cycle": complaint.cycle}

    def op_transfer(self, session: Session) -> dict[str, Any] | None:
        target = self._hot(resolved=False)
        if target is None:
            return None
        cid, _, assigned = target
        to = self.rng.choice([a for a in self.agents if a != assigned])
        team.hand_over(session, complaint_id=cid, to_agent=to, note="over to you", agent=self.name)
        return {"op": "transfer", "id": cid, "to": to}

    def op_claim(self, session: Session) -> dict[str, Any] | None:
        complaint = team.claim_next(session, agent=self.name)
        if complaint is None:
            self.empty_queue += 1
            return None
        return {"op": "claim", "id": complaint.id}

    def op_followup(self, session: Session) -> dict[str, Any] | None:
        target = self._hot(resolved=True)
        if target is None:
            return None
        outcome = followups.Outcome(
            reached=True,
            satisfied=True,
            nps=self.rng.randrange(11),
            repurchased=followups.Repurchased.YES,
        )
        followups.record_followup(session, complaint_id=target[0], outcome=outcome, agent=self.name)
        return {"op": "followup", "id": target[0]}

    def op_reopen(self, session: Session) -> dict[str, Any] | None:
        target = self._hot(resolved=True)
        if target is None:
            return None
        complaints.reopen(session, complaint_id=target[0], reason="came back", agent=self.name)
        return {"op": "reopen", "id": target[0]}

    def op_presence(self, session: Session) -> dict[str, Any] | None:
        # Agents mark each other (a supervisor's terminal, a second login), so two of them
        # create the same agent row at once.
        who = self.rng.choice(self.agents)
        status = team.Presence.AWAY if self.rng.random() < 0.2 else team.Presence.AVAILABLE
        team.set_presence(session, agent=who, status=status)
        return {"op": "presence", "marked": who, "status": status.value}

    def run_one(self, kind: str) -> None:
        operation: Callable[[Session], dict[str, Any] | None] = getattr(self, f"op_{kind}")
        started = time.perf_counter()
        try:
            with open_session(self.url) as session:
                record = operation(session)
        except LatteError as error:
            if not isinstance(error, DatabaseError):
                self.refused[f"{type(error).__name__}: {_shape(error.message)}"] += 1
                return
            self._error(kind, error_kind(error), error.message)
            return
        except Exception as error:
            self._error(kind, error_kind(error), traceback.format_exc())
            return
        finally:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if record is None:
            return
        record["agent"] = self.name
        self.done.append(record)
        self._write(record)

    def _error(self, op: str, kind: str, message: str) -> None:
        self.errors[kind] += 1
        self.tracebacks.append(f"{op}: {message}")
        self._write({"op": "error", "kind": kind, "during": op, "message": message[-500:]})

    def _write(self, line: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.write(json.dumps(line) + "\n")
            self.log.flush()

    def summary(self) -> dict[str, Any]:
        return {
            "agent": self.name,
            "done": self.done,
            "refused": dict(self.refused),
            "errors": dict(self.errors),
            "tracebacks": self.tracebacks[:5],
            "latencies_ms": self.latencies_ms,
            "empty_queue": self.empty_queue,
        }


def _shape(message: str) -> str:
    """A refusal's message without its ids and names, so that refusals can be counted by kind."""
    words = [w for w in message.split() if not any(ch.isdigit() for ch in w)]
    return " ".join(words)[:80]


# Running a team of agents (used by the tests and bench/concurrency.py) ----------------------

ROOT = Path(__file__).resolve().parent.parent


def agent_command(name: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "tests.concurrency_agent", "--name", name, *options]


def _await_ready(processes: list[subprocess.Popen[str]], deadline: float) -> None:
    """Block until every agent printed `ready` (the barrier), or fail at the deadline."""
    waiting = selectors.DefaultSelector()
    for process in processes:
        assert process.stdout is not None
        waiting.register(process.stdout, selectors.EVENT_READ, process)
    pending = len(processes)
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{pending} agents were not ready in time")
        for key, _ in waiting.select(left):
            line = key.fileobj.readline()  # type: ignore[union-attr]
            waiting.unregister(key.fileobj)
            pending -= 1
            if line.strip() != "ready":
                code = key.data.wait(timeout=10)
                raise RuntimeError(f"an agent exited with {code} before it was ready")


class Team:
    """Agent processes, started at once; `ready()` waits for them at the barrier and `go()`
    releases them together. Use as a context manager: on leaving, any agent still running is
    killed. With `warm`, agents connect and check the schema before they say they are ready.
    """

    def __init__(
        self,
        folder: Path,
        *,
        names: list[str],
        ops: int,
        seed: int,
        mix: str = "team",
        log: bool = False,
        env: dict[str, str] | None = None,
        warm: bool = False,
    ) -> None:
        self.folder = folder
        self.names = names
        self.processes: list[subprocess.Popen[str]] = []
        for index, name in enumerate(names):
            options = ["--ops", str(ops), "--seed", str(seed * 1000 + index), "--wait"]
            options += ["--out", str(folder / f"{name}.json"), "--agents", ",".join(names)]
            options += ["--mix", mix, *(["--log", str(self.log_of(name))] if log else [])]
            options += ["--warm"] if warm else []
            with open(folder / f"{name}.err", "w", encoding="utf-8") as errors:
                self.processes.append(
                    subprocess.Popen(
                        agent_command(name, *options),
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=errors,
                        text=True,
                        cwd=ROOT,
                        env=env,
                    )
                )

    def ready(self, timeout: float = 60.0) -> None:
        """Block until every agent is at the barrier; kills them all if one is not in time."""
        try:
            _await_ready(self.processes, time.monotonic() + timeout)
        except BaseException:
            self.close()
            raise

    def log_of(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def go(self) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()

    def wait(self, timeout: float) -> list[dict[str, Any]]:
        """Wait for every agent to finish; their summaries. Raises if one failed."""
        deadline = time.monotonic() + timeout
        for name, process in zip(self.names, self.processes, strict=True):
            code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
            if code != 0:
                stderr = (self.folder / f"{name}.err").read_text(encoding="utf-8")
                raise RuntimeError(f"agent {name} exited with {code}:\n{stderr[-3000:]}")
        return [
            json.loads((self.folder / f"{name}.json").read_text(encoding="utf-8"))
            for name in self.names
        ]

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()

    def __enter__(self) -> Team:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def run_agents(
    folder: Path,
    *,
    names: list[str],
    ops: int,
    seed: int,
    mix: str = "team",
    timeout: float = 120.0,
    env: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Start one process per agent, release them together, and return their summaries.

    The agents work on the database in LATTE_DB (of `env`, default this process's environment).
    Raises if an agent fails or the whole run takes longer than `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    with Team(folder, names=names, ops=ops, seed=seed, mix=mix, env=env) as team_:
        team_.ready(timeout)
        team_.go()
        return team_.wait(max(0.1, deadline - time.monotonic()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--name", required=True)
    parser.add_argument("--ops", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out")
    parser.add_argument("--log")
    parser.add_argument("--wait", action="store_true")
    parser.add_argument("--warm", action="store_true")
    parser.add_argument("--agents", default="")
    parser.add_argument("--mix", choices=sorted(MIXES), default="team")
    args = parser.parse_args(argv)
    url = os.environ["LATTE_DB"]
    agents = [a for a in args.agents.split(",") if a] or [args.name, "other"]
    if args.name not in agents:
        agents.append(args.name)
    log = open(args.log, "a", encoding="utf-8") if args.log else None  # noqa: SIM115
    agent = Agent(url, args.name, agents, random.Random(args.seed), log)
    mix = MIXES[args.mix]
    kinds = agent.rng.choices(list(mix), weights=list(mix.values()), k=args.ops)
    if args.warm:
        with open_session(url, readonly=True, create=True) as session:
            session.exec(select(Complaint.id).limit(1)).all()
        from latte_cli import vocabulary

        vocabulary.current()  # read once per process, like the CLI's first parsed value
    if args.wait:
        print("ready", flush=True)
        if not sys.stdin.readline():
            return 1
    started = time.perf_counter()
    for kind in kinds:
        agent.run_one(kind)
    result = agent.summary()
    result["seconds"] = time.perf_counter() - started
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
