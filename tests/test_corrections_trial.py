"""What a new user's trial found: `amend take_action --text` corrects what `show` shows, and a
refused `--at` names the times in the user's zone, as `show` gives them; on both stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from latte_cli.models import Event
from tests.conftest import Latte

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def acted(latte: Latte, *action: str) -> str:
    """A complaint with its Take action recorded as `action` (the step's options)."""
    cid = latte.ok(
        "new", "--customer", "C-1", "--name", "Ana Diaz", "--channel", "phone",
        "--category", "delivery", "--listen", "My kettle arrived broken",
        "--at", START.isoformat(),
    ).stdout.strip()  # fmt: skip
    latte.ok("step", cid, "acknowledge", "--text", "Sorry", "--at", "2026-11-02T10:00Z")
    latte.ok("step", cid, "take_action", "--kind", "refund", *action, "--at", "2026-11-02T11:00Z")
    return cid


def take_action(latte: Latte, cid: str) -> dict[str, Any]:
    stages = json.loads(latte.ok("show", cid, "--json").stdout)["stages"]
    found: dict[str, Any] = next(s for s in stages if s["stage"] == "take_action")
    return found


def amended(session: Session, cid: str) -> dict[str, Any]:
    session.expire_all()
    [row] = session.exec(
        select(Event).where(Event.complaint_id == int(cid), Event.kind == "amended")
    ).all()
    session.commit()
    found: dict[str, Any] = json.loads(row.data)
    return found


def search(latte: Latte, words: str) -> list[int]:
    return [hit["id"] for hit in json.loads(latte.ok("search", words, "--json").stdout)]


def test_amend_take_action_text_corrects_what_show_shows(
    latte: Latte, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from latte_cli.cli import render

    # The timeline's What on one line: the console is made once per process, at import.
    monkeypatch.setattr(render.console, "_width", 200)
    cid = acted(latte, "--text", "Refunded the saucepan")

    latte.ok("amend", cid, "take_action", "--text", "Refunded the teapot", "--reason", "typo")

    stage = take_action(latte, cid)
    assert (stage["text"], stage["action_detail"]) == ("Refunded the teapot",) * 2
    assert stage["amended"]
    shown = latte.ok("show", cid).stdout
    assert "[refund] Refunded the teapot" in shown and "saucepan" not in shown
    change = amended(session, cid)
    assert change["before"] == {
        "text": "Refunded the saucepan",
        "action_detail": "Refunded the saucepan",
    }
    assert change["after"] == {
        "text": "Refunded the teapot",
        "action_detail": "Refunded the teapot",
    }
    # The search index follows (its triggers).
    assert search(latte, "teapot") == [int(cid)]
    assert search(latte, "saucepan") == []


def test_amend_take_action_detail_keeps_a_separate_text(latte: Latte, session: Session) -> None:
    cid = acted(latte, "--text", "Phoned her back", "--detail", "Refunded 25")

    latte.ok("amend", cid, "take_action", "--detail", "Refunded 30", "--reason", "typo")

    stage = take_action(latte, cid)
    assert (stage["text"], stage["action_detail"]) == ("Phoned her back", "Refunded 30")
    change = amended(session, cid)
    assert (change["before"], change["after"]) == (
        {"action_detail": "Refunded 25"},
        {"action_detail": "Refunded 30"},
    )


def test_amend_take_action_detail_alone_corrects_the_same_text(latte: Latte) -> None:
    cid = acted(latte, "--detail", "Refunded 25")

    latte.ok("amend", cid, "take_action", "--detail", "Refunded 30", "--reason", "typo")

    stage = take_action(latte, cid)
    assert (stage["text"], stage["action_detail"]) == ("Refunded 30", "Refunded 30")


def test_amend_take_action_text_and_detail_each_their_own(latte: Latte) -> None:
    cid = acted(latte, "--detail", "Refunded 25")

    latte.ok(
        "amend", cid, "take_action", "--text", "Phoned her back", "--detail", "Refunded 30",
        "--reason", "typo",
    )  # fmt: skip

    stage = take_action(latte, cid)
    assert (stage["text"], stage["action_detail"]) == ("Phoned her back", "Refunded 30")


def test_amend_take_action_text_that_changes_nothing_is_refused(latte: Latte) -> None:
    cid = acted(latte, "--detail", "Refunded 25")

    result = latte("amend", cid, "take_action", "--text", "Refunded 25", "--reason", "typo")

    assert result.exit_code == 1
    assert "Nothing changes" in result.stderr


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATTE_TZ", "Europe/Paris")


def one_line(result: Any) -> str:
    assert result.exit_code == 1, result.output
    lines: list[str] = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_step_at_before_the_previous_step_names_it_in_the_users_zone(
    latte: Latte, session: Session, paris: None
) -> None:
    cid = acted(latte, "--detail", "Refunded 25")  # Take action at 11:00 UTC, 12:00 in Paris

    line = one_line(latte("step", cid, "thank", "--text", "Thanks", "--at", "2026-11-02T11:30"))

    assert line == (
        "Error: The time 2026-11-02 11:30 +01:00 is before the complaint's previous step "
        "(2026-11-02 12:00 +01:00). Give a later time."
    )
    # --tz wins over LATTE_TZ, and an --at with its own offset is named in the user's zone.
    line = one_line(
        latte("--tz", "America/New_York", "step", cid, "thank", "--text", "Thanks",
              "--at", "2026-11-02T10:30:15Z")
    )  # fmt: skip
    assert "The time 2026-11-02 05:30:15 -05:00 is before" in line
    assert "(2026-11-02 06:00 -05:00)" in line
    session.expire_all()
    steps = session.exec(
        select(col(Event.id)).where(Event.complaint_id == int(cid), Event.kind == "stage")
    ).all()
    session.commit()
    assert len(steps) == 3  # listen, acknowledge, take_action: nothing written


def test_reopen_at_before_the_resolution_names_it_in_the_users_zone(
    latte: Latte, paris: None
) -> None:
    cid = acted(latte, "--detail", "Refunded 25")
    latte.ok("step", cid, "thank", "--text", "Thanks", "--at", "2026-11-02T12:00Z")
    latte.ok(
        "step", cid, "explain", "--root-cause", "delivery", "--change", "Sturdier boxes",
        "--at", "2026-11-02T13:00Z",
    )  # fmt: skip

    line = one_line(latte("reopen", cid, "--reason", "Broke again", "--at", "2026-11-02T13:30"))

    assert line == (
        "Error: The time 2026-11-02 13:30 +01:00 is before the complaint's previous step "
        "(2026-11-02 14:00 +01:00). Give a later time."
    )
    # A complaint that is not resolved is still told so, whatever its --at.
    other = acted(latte, "--detail", "Refunded 25")
    line = one_line(latte("reopen", other, "--reason", "x", "--at", "2026-11-02T09:30"))
    assert "Only a resolved complaint can be reopened" in line


def test_new_at_a_few_hours_ahead_names_it_in_the_users_zone(latte: Latte, paris: None) -> None:
    ahead = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    shown = ahead.astimezone(PARIS).strftime("%Y-%m-%d %H:%M %z")

    line = one_line(
        latte("new", "--customer", "C-1", "--name", "Ana", "--channel", "phone",
              "--category", "delivery", "--listen", "Broken", "--at", ahead.isoformat())
    )  # fmt: skip

    assert line.startswith(f"Error: --at {shown[:-2]}:{shown[-2:]} is in the future (it is now ")
    assert line.endswith("). Give a past time.")
