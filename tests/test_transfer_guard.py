"""Transfers that cannot vanish: to an agent latte has never seen (a typo) unless forced, and
never of a resolved or merged complaint."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, select

from latte_cli.models import Event
from latte_cli.services import team
from tests.conftest import Latte

NEW = ("new", "--channel", "phone", "--category", "x", "--listen", "Broken")


def transfers(session: Session) -> int:
    session.expire_all()
    count = len(session.exec(select(Event).where(Event.kind == "transfer")).all())
    session.commit()
    return count


def test_an_agent_latte_never_saw_is_refused_with_the_known_ones(
    latte: Latte, session: Session
) -> None:
    latte.ok(*NEW)
    latte.ok("--agent", "sam", "agent", "away")  # known through presence
    latte.ok("--agent", "lee", *NEW)  # known: holds a complaint
    latte.ok("--agent", "kim", "step", "1", "acknowledge", "--text", "Hi")  # known: a step

    refused = latte("transfer", "1", "--to", "nobody-at-all", "--note", "yours")

    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "Error: latte has never seen an agent called 'nobody-at-all'. Known agents: ana, kim, "
        "lee, sam. Check the name, or pass --force to transfer to a new agent."
    )
    assert transfers(session) == 0
    assert json.loads(latte.ok("show", "1", "--json").stdout)["assigned_agent"] == "ana"
    for known in ("kim", "lee"):
        latte.ok("transfer", "1", "--to", known, "--note", "yours")
    # A new colleague: --force.
    latte.ok("transfer", "1", "--to", "new-hire", "--note", "Welcome", "--force")
    assert json.loads(latte.ok("show", "1", "--json").stdout)["assigned_agent"] == "new-hire"
    assert transfers(session) == 3


def test_the_known_list_stops_at_twenty_then_counts(latte: Latte, session: Session) -> None:
    latte.ok(*NEW)
    for n in range(25):
        latte.ok("--agent", f"agent{n:02d}", "agent", "available")

    refused = latte("transfer", "1", "--to", "agnet07", "--note", "n")

    assert refused.exit_code == 1
    assert "agent00, agent01" in refused.stderr and "agent19 and 6 more." in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    known = team.known_agents(session)
    session.commit()
    assert len(known) == 26 and known[0] == "agent00" and "ana" in known


def test_a_resolved_complaint_is_reopened_first(latte: Latte, session: Session) -> None:
    latte.ok(*NEW)
    latte.ok("--agent", "sam", "agent", "available")
    for stage, args in (
        ("acknowledge", ("--text", "Sorry")),
        ("take_action", ("--kind", "refund", "--detail", "Refunded")),
        ("thank", ("--text", "Thanks")),
        ("explain", ("--root-cause", "delivery", "--change", "Boxes")),
    ):
        latte.ok("step", "1", stage, *args)

    for force in ([], ["--force"]):
        refused = latte("transfer", "1", "--to", "sam", "--note", "n", *force)
        assert refused.exit_code == 1
        assert refused.stderr.strip() == (
            'Error: Complaint 1 is resolved: reopen it first: latte reopen 1 --reason "..."'
        )
    assert transfers(session) == 0
    latte.ok("reopen", "1", "--reason", "Refund never arrived")
    latte.ok("transfer", "1", "--to", "sam", "--note", "n")
    assert transfers(session) == 1


def test_a_merged_complaint_is_not_transferred(latte: Latte, session: Session) -> None:
    latte.ok(*NEW)
    latte.ok(*NEW)
    latte.ok("merge", "2", "--into", "1", "--reason", "Same")
    refused = latte("transfer", "2", "--to", "ana", "--note", "n", "--force")
    assert refused.exit_code == 1 and "merged into complaint 1" in refused.stderr
    assert "latte transfer 1" in refused.stderr
    assert transfers(session) == 0


def test_whoever_transfers_to_themselves_is_known(latte: Latte) -> None:
    latte.ok(*NEW, "--queue")
    latte.ok("--agent", "newcomer", "transfer", "1", "--to", "newcomer", "--note", "mine")
    assert json.loads(latte.ok("show", "1", "--json").stdout)["assigned_agent"] == "newcomer"


def test_an_imports_file_is_no_agent_to_hand_over_to(
    latte: Latte, session: Session, tmp_path: Path
) -> None:
    """Steps imported without an agent are by `import:FILE`: a file, not a person, so neither
    a known agent to transfer to without --force nor one listed as known."""
    path = tmp_path / "desk.csv"
    path.write_text(
        "external_id,customer_ref,channel,category,opened_at,acknowledged_at,listen\n"
        "T-1,C-1,phone,x,2026-01-05T10:00Z,2026-01-05T10:05Z,Late\n"
    )
    latte.ok("import", "complaints", str(path))
    latte.ok(*NEW)
    refused = latte("transfer", "2", "--to", "import:desk.csv", "--note", "yours")
    assert refused.exit_code == 1
    assert "never seen an agent called 'import:desk.csv'" in refused.stderr
    assert "Known agents: ana." in refused.stderr
    assert transfers(session) == 0
    assert "import:" not in " ".join(team.known_agents(session))
