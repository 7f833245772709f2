"""A future `--at` on `new`, `step`, `reopen` and `update`, a few hours or a year ahead, is
refused with one wording naming it and the current time in the user's zone with their offsets
(README, "Commands"), writing nothing; on both stores."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, func, select

from latte_cli.models import Complaint, Event
from tests.conftest import Latte

PARIS = ZoneInfo("Europe/Paris")
NEW = (
    "new", "--customer", "C-1", "--name", "Ana", "--channel", "phone",
    "--category", "delivery", "--listen", "Broken kettle",
)  # fmt: skip
RESOLVE = (
    ("acknowledge", ("--text", "Sorry")),
    ("take_action", ("--kind", "refund", "--detail", "Done", "--amount", "5")),
    ("thank", ("--text", "Thanks")),
    ("explain", ("--root-cause", "delivery", "--change", "Better boxes")),
)


def in_paris(moment: datetime) -> str:
    text = moment.astimezone(PARIS).strftime("%Y-%m-%d %H:%M %z")
    return f"{text[:-2]}:{text[-2:]}"


def counts(session: Session) -> tuple[int, int]:
    found = (
        session.exec(select(func.count(col(Complaint.id)))).one(),
        session.exec(select(func.count(col(Event.id)))).one(),
    )
    session.rollback()  # no read left open: latte writes to the same file
    return found


@pytest.mark.parametrize("ahead", [timedelta(hours=3), timedelta(days=400)], ids=["hours", "year"])
@pytest.mark.parametrize("command", ["new", "step", "reopen", "update"])
def test_a_future_at_names_it_and_now_in_the_users_zone(
    latte: Latte,
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    ahead: timedelta,
) -> None:
    monkeypatch.setenv("LATTE_TZ", "Europe/Paris")
    latte.ok(*NEW)
    if command == "reopen":
        for stage, args in RESOLVE:
            latte.ok("step", "1", stage, *args)
    at = (datetime.now(UTC) + ahead).replace(second=0, microsecond=0)
    args = {
        "new": NEW,
        "step": ("step", "1", "acknowledge", "--text", "Sorry"),
        "reopen": ("reopen", "1", "--reason", "Broke again"),
        "update": ("update", "1", "--text", "Soon"),
    }[command]
    before = counts(session)

    result = latte(*args, "--at", at.isoformat())

    assert result.exit_code == 1, result.output
    line = result.stderr.strip()
    match = re.fullmatch(
        rf"Error: --at {re.escape(in_paris(at))} is in the future \(it is now "
        r"(\d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d)\)\. Give a past time\.",
        line,
    )
    assert match, line
    now = datetime.now(UTC)
    assert match[1] in {in_paris(now), in_paris(now - timedelta(minutes=1))}
    assert counts(session) == before
