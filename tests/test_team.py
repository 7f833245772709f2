"""Team flow: the queue (`latte next`), presence, and transfers with their notes."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from latte_cli import db
from latte_cli.models import Complaint
from latte_cli.services import team
from latte_cli.services.views import replayed_state
from tests.conftest import Latte


def queued(latte: Latte, words: str, *, hours_ago: float) -> int:
    at = (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat()
    result = latte.ok(
        "new", "--queue", "--channel", "phone", "--category", "x", "--listen", words, "--at", at
    )
    return int(result.stdout.strip())


def test_next_takes_the_oldest_unassigned_open_complaint(latte: Latte, session: Session) -> None:
    newer = queued(latte, "newer", hours_ago=1)
    oldest = queued(latte, "oldest", hours_ago=30)
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "mine already")

    first = json.loads(latte.ok("next", "--json").stdout)
    second = json.loads(latte.ok("--agent", "sam", "next", "--json").stdout)
    empty = latte.ok("next")

    assert (first["id"], first["assigned_agent"]) == (oldest, "ana")
    assert (second["id"], second["assigned_agent"]) == (newer, "sam")
    assert "queue is empty" in empty.output
    # The claim is in the event log: replaying it gives the stored assignment.
    state = replayed_state(session, oldest)
    session.commit()
    assert state is not None and state.assigned_agent == "ana"


def test_next_off_a_terminal_prints_how_to_continue(latte: Latte) -> None:
    cid = queued(latte, "waiting", hours_ago=2)
    result = latte.ok("next")
    assert f"Complaint {cid} is yours" in result.output
    assert f"latte resume {cid}" in result.output


def test_two_agents_claiming_at_once_never_share_a_complaint(db_url: str, latte: Latte) -> None:
    ids = {queued(latte, f"c{i}", hours_ago=i) for i in range(12)}
    claims: dict[str, list[int]] = {"ana": [], "sam": [], "lee": []}
    errors: list[BaseException] = []

    def work(agent: str) -> None:
        try:
            with db.open_session(db_url) as session:
                while (complaint := team.claim_next(session, agent=agent)) is not None:
                    claims[agent].append(complaint.id or 0)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(name,)) for name in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    taken = [cid for got in claims.values() for cid in got]
    assert sorted(taken) == sorted(ids)  # each complaint claimed exactly once
    with db.open_session(db_url, readonly=True) as session:
        rows = session.exec(select(Complaint)).all()
        owners = {c.id: c.assigned_agent for c in rows}
    for agent, got in claims.items():
        assert all(owners[cid] == agent for cid in got)


def test_transfer_to_an_away_agent_is_refused_unless_forced(latte: Latte) -> None:
    latte.ok("--agent", "sam", "agent", "away")
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "y")

    refused = latte("transfer", "1", "--to", "sam", "--note", "VIP customer")
    assert refused.exit_code == 1
    assert "sam is away" in refused.output and "--force" in refused.output
    assert json.loads(latte.ok("show", "1", "--json").stdout)["assigned_agent"] == "ana"

    latte.ok("transfer", "1", "--to", "sam", "--note", "VIP customer", "--force")
    assert json.loads(latte.ok("show", "1", "--json").stdout)["assigned_agent"] == "sam"

    latte.ok("--agent", "sam", "agent", "available")
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "z")
    latte.ok("transfer", "2", "--to", "sam", "--note", "Back now")


def test_agent_list_shows_presence_and_load(latte: Latte) -> None:
    latte.ok("--agent", "sam", "agent", "away")
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "y")
    rows = json.loads(latte.ok("agent", "list", "--json").stdout)
    assert rows == [
        {"name": "ana", "status": "available", "open": 1},
        {"name": "sam", "status": "away", "open": 0},
    ]


def test_receiver_sees_the_transfer_note_first_until_they_act(latte: Latte) -> None:
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "Broken screen")
    latte.ok("--agent", "sam", "agent", "available")
    latte.ok("transfer", "1", "--to", "sam", "--note", "Prefers email after 5pm")

    seen = latte.ok("--agent", "sam", "show", "1").stdout
    assert seen.index("Prefers email after 5pm") < seen.index("Complaint 1")
    assert "Transferred to you by ana" in seen
    assert all(len(line) <= 80 for line in seen.splitlines())
    # Others see the transfer in the timeline, but not the panel on top.
    assert "Transferred to you" not in latte.ok("show", "1").stdout

    latte.ok("--agent", "sam", "step", "1", "acknowledge", "--text", "Hello")
    assert "Transferred to you" not in latte.ok("--agent", "sam", "show", "1").stdout


def test_show_counts_down_the_sla_near_and_past_target(latte: Latte) -> None:
    at = (datetime.now(UTC) - timedelta(hours=30)).isoformat()
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "Old", "--at", at)
    assert "SLA: overdue by 6h" in latte.ok("show", "1").stdout
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "New")
    assert "SLA" not in latte.ok("show", "2").stdout


def test_presence_matches_agent_names_whatever_their_case(latte: Latte) -> None:
    latte.ok("--agent", "bob", "agent", "away")
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "y")

    for name in ("BOB", "Bob", " bob "):
        refused = latte("transfer", "1", "--to", name, "--note", "VIP customer")
        assert refused.exit_code == 1, refused.output
        assert "is away" in refused.stderr and "--force" in refused.stderr
    assert json.loads(latte.ok("show", "1", "--json").stdout)["assigned_agent"] == "ana"


def test_transfer_to_the_owner_says_already_assigned_even_when_they_are_away(
    latte: Latte,
) -> None:
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "y")
    latte.ok("agent", "away")  # ana, who holds the complaint

    for name, force in (("ana", []), ("ANA", []), ("ana", ["--force"])):
        result = latte("transfer", "1", "--to", name, "--note", "Mine", *force)
        assert result.exit_code == 1, result.output
        assert "already assigned to ana" in result.stderr
        assert "away" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads(latte.ok("show", "1", "--json").stdout)["assigned_agent"] == "ana"


def test_claiming_from_the_queue_logs_the_same_event_as_a_transfer(
    latte: Latte, session: Session
) -> None:
    from latte_cli.models import Event

    cid = queued(latte, "waiting", hours_ago=1)
    latte.ok("next")
    event = session.exec(
        select(Event).where(Event.complaint_id == cid, Event.kind == "transfer")
    ).one()
    session.commit()
    assert event.agent == "ana"
    assert json.loads(event.data) == {
        "from_agent": None,
        "note": "Taken from the queue.",
        "to_agent": "ana",
    }
