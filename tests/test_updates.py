"""Keeping the customer informed: `latte update` records a `customer_update` event (no stage),
shown in the timeline, moving when the next update is due; forgetting erases its text."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from .conftest import Latte

DAY = 86_400
POLICY = '[[rule]]\nname = "default"\nfinal_response = "8w"\nupdate_every_days = 2\n'


def _use_policy(tmp_path: Path) -> None:
    path = tmp_path / "informed.toml"
    path.write_text(POLICY, encoding="utf-8")
    cfg = tmp_path / "config" / "config.toml"
    cfg.parent.mkdir(exist_ok=True)
    cfg.write_text(f'deadlines = "{path}"\n', encoding="utf-8")


def _opened(latte: Latte, days_ago: float, *extra: str) -> str:
    at = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat(timespec="seconds")
    return latte.ok(
        "new", "--channel", "phone", "--category", "delivery", "--listen", "Parcel lost",
        "--customer", "C-9", "--name", "Ivy Green", "--at", at, *extra,
    ).stdout.strip()  # fmt: skip


def _column(url: str, cid: str, name: str) -> object:
    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(
            text(f"SELECT {name} FROM complaint WHERE id = :id"), {"id": int(cid)}
        ).scalar()
    engine.dispose()
    return value


def _update_due(latte: Latte) -> list[str]:
    out = latte.ok("list", "--all", "--update-due", "--json").stdout
    return [str(r["id"]) for r in json.loads(out)]


def test_an_update_is_in_the_timeline_and_resets_the_interval(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    _use_policy(tmp_path)
    late, fresh = _opened(latte, 3), _opened(latte, 1)
    assert _update_due(latte) == [late]  # 3 days since opening > 2; 1 day < 2
    listing = latte.ok("list", "--all").stdout
    assert "update due" in listing
    assert "update due" in latte.ok("show", late).stdout
    at = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")
    data = json.loads(
        latte.ok(
            "update", late, "--text", "Carrier is tracing it", "--channel", "e-mail",
            "--at", at, "--json",
        ).stdout
    )  # fmt: skip
    assert [(u["kind"], u["text"], u["channel"], u["agent"]) for u in data["updates"]] == [
        ("customer_update", "Carrier is tracing it", "email", "ana")
    ]
    assert [s["stage"] for s in data["stages"]] == ["listen"]  # not a stage
    assert data["stage_due"] == "acknowledge"
    sent = int(datetime.fromisoformat(at).timestamp())
    assert _column(db_url, late, "last_update_epoch") == sent
    assert (
        data["deadlines"]["next_update_due_at"]
        == datetime.fromtimestamp(sent + 2 * DAY, UTC).isoformat()
    )
    assert _update_due(latte) == []
    shown = latte.ok("show", late).stdout
    assert "update" in shown and "[email] Carrier is tracing it" in shown
    # An earlier update than the last one does not move the interval back.
    older = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    latte.ok("update", late, "--text", "Left a voicemail", "--at", older)
    assert _column(db_url, late, "last_update_epoch") == sent
    assert fresh != late
    assert json.loads(latte.ok("db", "check", "--json").stdout)["clean"]


def test_update_by_reference_and_refusals(latte: Latte, db_url: str, tmp_path: Path) -> None:
    _use_policy(tmp_path)
    source = tmp_path / "c.csv"
    source.write_text(
        "id,opened_at,channel,category,listen\nREF-7,2026-03-02T09:00:00Z,phone,billing,Twice\n",
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(source))
    done = latte.ok("update", "REF-7", "--text", "We found the second charge")
    assert "complaint 1" in done.stdout
    missing = latte("update", "REF-8", "--text", "hello")
    assert missing.exit_code == 1 and "No complaint with id or reference 'REF-8'" in missing.stderr
    empty = latte("update", "1", "--text", "  ")
    assert empty.exit_code == 1 and "The update is empty" in empty.stderr
    early = latte("update", "1", "--text", "x", "--at", "2026-03-01T00:00:00Z")
    assert early.exit_code == 1 and "before the complaint was opened" in early.stderr
    channel = latte("update", "1", "--text", "x", "--channel", "pigeon")
    assert channel.exit_code == 1 and "pigeon" in channel.stderr
    dup = _opened(latte, 0.1)
    latte.ok("merge", dup, "--into", "1", "--reason", "Same charge", "--force")
    merged = latte("update", dup, "--text", "hello")
    assert merged.exit_code == 1 and "merged into complaint 1" in merged.stderr
    assert "latte update 1" in merged.stderr
    # Nothing half-written: one update event in all.
    engine = create_engine(db_url)
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM event WHERE kind = 'customer_update'")
        ).scalar()
    engine.dispose()
    assert count == 1


def test_a_resolved_complaint_takes_an_update_and_owes_none(latte: Latte, tmp_path: Path) -> None:
    _use_policy(tmp_path)
    cid = _opened(latte, 5)
    latte.ok("step", cid, "acknowledge", "--text", "Sorry")
    latte.ok("step", cid, "take_action", "--kind", "refund", "--detail", "Refunded")
    latte.ok("step", cid, "thank", "--text", "Thanks")
    latte.ok("step", cid, "explain", "--root-cause", "delivery", "--change", "New carrier")
    assert _update_due(latte) == []
    latte.ok("update", cid, "--text", "The refund has arrived")
    data = json.loads(latte.ok("show", cid, "--json").stdout)
    assert len(data["updates"]) == 1 and data["deadlines"]["update_due"] is False
    assert data["deadlines"]["final_response"]["status"] == "met"


def test_forgetting_the_customer_erases_the_update_text(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    cid = _opened(latte, 1)
    latte.ok("update", cid, "--text", "Ivy, your parcel is at the depot on Elm Street")
    latte.ok("customer", "forget", "C-9", "--reason", "erasure request", "--yes")
    data = json.loads(latte.ok("show", cid, "--json").stdout)
    assert [u["text"] for u in data["updates"]] == ["[erased]"]
    engine = create_engine(db_url)
    with engine.connect() as conn:
        stored = " ".join(str(d) for (d,) in conn.execute(text("SELECT data FROM event")))
    engine.dispose()
    assert "Elm Street" not in stored


def test_updates_travel_with_an_exported_history(latte: Latte, tmp_path: Path) -> None:
    cid = _opened(latte, 4)
    at = (datetime.now(UTC) - timedelta(days=1)).isoformat(timespec="seconds")
    latte.ok("update", cid, "--text", "Still looking", "--channel", "phone", "--at", at)
    exported = latte.ok("export", "complaints", "--format", "jsonl").stdout
    assert "history" in json.loads(exported.splitlines()[0])
    (tmp_path / "out.jsonl").write_text(exported, encoding="utf-8")
    _use_policy(tmp_path)  # the policy in force at import fixes the deadlines
    fresh = ("--db", str(tmp_path / "fresh.db"))
    latte.ok(*fresh, "import", "complaints", str(tmp_path / "out.jsonl"))
    data = json.loads(latte.ok(*fresh, "show", "1", "--json").stdout)
    assert [(u["text"], u["channel"]) for u in data["updates"]] == [("Still looking", "phone")]
    opened = datetime.fromisoformat(data["opened_at"])
    deadlines = data["deadlines"]
    assert deadlines["rule"] == "informed/default"
    assert deadlines["final_response"]["due_at"] == (opened + timedelta(weeks=8)).isoformat()
    assert deadlines["last_update_at"] == datetime.fromisoformat(at).isoformat()
    assert deadlines["update_due"] is False  # one day since the update, every two days
    assert json.loads(latte.ok(*fresh, "db", "check", "--json").stdout)["clean"]
