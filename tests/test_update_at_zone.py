"""A refused `latte update --at` (in the future, or before the complaint was opened) names the
times in the user's zone (`--tz`, LATTE_TZ), with their offset, as `latte show` gives them, and
writes nothing; on both stores. The workflow's own refusal, which knows no zone and which only
`latte db check` reaches (on a damaged event log), names them in UTC with the offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from latte_cli.models import Complaint, Event
from tests.conftest import Latte

OPENED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # 10:00 in Paris
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATTE_TZ", "Europe/Paris")


def opened(latte: Latte) -> str:
    return latte.ok(
        "new", "--customer", "C-1", "--name", "Ana Diaz", "--channel", "phone",
        "--category", "delivery", "--listen", "My kettle arrived broken",
        "--at", OPENED.isoformat(),
    ).stdout.strip()  # fmt: skip


def one_line(result: Any) -> str:
    assert result.exit_code == 1, result.output
    lines: list[str] = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def nothing_written(session: Session, cid: str) -> None:
    session.expire_all()
    updates = session.exec(
        select(col(Event.id)).where(Event.complaint_id == int(cid), Event.kind == "customer_update")
    ).all()
    row = session.get(Complaint, int(cid))
    session.commit()
    assert updates == []
    assert row is not None and row.last_update_epoch in (None, row.opened_epoch)


def test_update_at_before_the_opening_names_it_in_the_users_zone(
    latte: Latte, session: Session, paris: None
) -> None:
    cid = opened(latte)

    line = one_line(latte("update", cid, "--text", "Replacement sent", "--at", "2026-11-02T09:30"))

    assert line == (
        "Error: The time 2026-11-02 09:30 +01:00 is before the complaint was opened "
        "(2026-11-02 10:00 +01:00). Give a later time."
    )
    # --tz wins over LATTE_TZ, and an --at with its own offset is named in the user's zone.
    line = one_line(
        latte("--tz", "America/New_York", "update", cid, "--text", "Replacement sent",
              "--at", "2026-11-02T08:30:15Z")
    )  # fmt: skip
    assert line == (
        "Error: The time 2026-11-02 03:30:15 -05:00 is before the complaint was opened "
        "(2026-11-02 04:00 -05:00). Give a later time."
    )
    nothing_written(session, cid)


def test_update_at_a_few_hours_ahead_names_it_in_the_users_zone(
    latte: Latte, session: Session, paris: None
) -> None:
    cid = opened(latte)
    ahead = (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0)
    shown = ahead.astimezone(PARIS).strftime("%Y-%m-%d %H:%M %z")

    line = one_line(latte("update", cid, "--text", "Soon", "--at", ahead.isoformat()))

    assert line.startswith(f"Error: --at {shown[:-2]}:{shown[-2:]} is in the future (it is now ")
    assert line.endswith("). Give a past time.")
    nothing_written(session, cid)


def test_db_check_names_a_step_before_the_previous_one_in_utc_with_the_offset(
    latte: Latte, session: Session, paris: None
) -> None:
    cid = opened(latte)
    latte.ok("step", cid, "acknowledge", "--text", "Sorry", "--at", "2026-11-02T10:00Z")
    # Damage the log: the acknowledgement now comes before the opening.
    last = session.exec(
        select(Event).where(Event.complaint_id == int(cid)).order_by(col(Event.id).desc())
    ).first()
    assert last is not None and last.kind == "stage"
    last.at = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    session.add(last)
    session.commit()

    result = latte("db", "check")

    assert result.exit_code == 1
    assert (
        f"complaint {cid}: its event log does not replay (The time 2026-11-02 08:00 +00:00 is "
        "before the complaint's previous step (2026-11-02 09:00 +00:00). Give a later time.)"
    ) in result.stdout
