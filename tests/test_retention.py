"""Retention and legal holds: `latte db retain` anonymises resolved complaints past their period
and keeps every figure; `latte hold` keeps a complaint or a customer as it is."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from latte_cli import db

from .conftest import Latte
from .test_privacy import _customer_with_everything, _dump, _reports, _subset, as_of_now

# The desk's complaints were resolved in September and October 2026: periods in days back from
# today to fixed days, so that the same complaints are due whenever the test runs. Billing keeps
# for a shorter time (its cutoff falls among its resolutions), service forever.
DAYS = {
    None: (datetime.now(UTC).date() - date(2026, 10, 1)).days,
    "billing": (datetime.now(UTC).date() - date(2026, 9, 8)).days,
    "service": None,
}


def write_config(tmp_path: Path, body: str) -> None:
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(body, encoding="utf-8")


@pytest.fixture
def desk(latte: Latte, tmp_path: Path) -> Latte:
    complaints, purchases, followups = _subset(tmp_path, complaints=120)
    for kind, path in (("complaints", complaints), ("purchases", purchases)):
        latte.ok("import", kind, str(path))
    latte.ok("import", "followups", str(followups))
    words = ("glass teapot", "ring before noon", "teapot cracked again", "liked the teapot")
    _customer_with_everything(latte, "C-TEA-1", "Tabitha Teasdale", "tt@example.org", "1", words)
    write_config(
        tmp_path,
        f'retention = "{DAYS[None]}d"\n\n'
        f'[retention_by_category]\nbilling = "{DAYS["billing"]}d"\nservice = "none"\n',
    )
    return latte


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with db.get_engine(url).connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def _expected_due(url: str, now: datetime) -> set[int]:
    """Resolved complaints whose latest resolution is more than their category's period before
    `now`, by a plain reading of the rows (docs/architecture.md, "Customer data")."""
    due = set()
    for cid, category, resolved_at, stage_due in _rows(
        url, "SELECT id, category, resolved_at, stage_due FROM complaint"
    ):
        if stage_due is not None or resolved_at is None:
            continue
        resolved = datetime.fromisoformat(str(resolved_at))
        resolved = resolved if resolved.tzinfo else resolved.replace(tzinfo=UTC)
        days = DAYS.get(str(category), DAYS[None])
        if days is not None and resolved < now - timedelta(days=days):
            due.add(int(str(cid)))
    return due


def _retain(latte: Latte, url: str, *args: str) -> dict[str, Any]:
    """`latte db retain --json`; what it anonymised or found held must be what was due, and not
    anonymised yet, at some moment while it ran (between the due sets before and after it)."""
    done_before = {
        int(str(cid))
        for (cid,) in _rows(url, "SELECT complaint_id FROM event WHERE kind = 'erased'")
    }
    early = _expected_due(url, datetime.now(UTC)) - done_before
    done: dict[str, Any] = json.loads(latte.ok("db", "retain", *args, "--json").stdout)
    late = _expected_due(url, datetime.now(UTC)) - done_before
    found = set(done["complaint_ids"]) | set(done["held_ids"])
    assert len(done["complaint_ids"]) + len(done["held_ids"]) == len(found)
    assert early <= found <= late, (early ^ found, late ^ found)
    return done


def test_retain_keeps_every_figure_and_respects_holds(desk: Latte, db_url: str) -> None:
    due = _expected_due(db_url, datetime.now(UTC))
    customer_of = {
        int(str(c)): k for c, k in _rows(db_url, "SELECT id, customer_id FROM complaint")
    }
    assert 10 < len(due) < len(customer_of) - 10, len(due)  # some are due, some are not
    categories = dict(_rows(db_url, "SELECT id, category FROM complaint"))
    assert {categories[c] for c in due} >= {"billing", "delivery"}
    assert "service" not in {categories[c] for c in due}
    # A hold on one due complaint, and one on the customer of another.
    held_complaint, *rest = sorted(due)
    held_customer = next(customer_of[c] for c in rest if customer_of[c] is not None)
    (held_ref,) = _rows(db_url, f"SELECT ref FROM customer WHERE id = {held_customer}")[0]
    desk.ok("hold", str(held_complaint), "--reason", "claim 2026/311")
    desk.ok("hold", str(held_ref), "--reason", "regulator review")
    held = {held_complaint} | {c for c in due if customer_of[c] == held_customer}
    summaries_before = dict(_rows(db_url, "SELECT id, summary FROM complaint"))

    as_of = as_of_now()
    before = _reports(desk, as_of)
    done = _retain(desk, db_url)
    assert _reports(desk, as_of) == before
    erased = set(done["complaint_ids"])
    assert set(done["held_ids"]) == held and not erased & held
    assert done["dry_run"] is False and done["checkpointed"] is True

    for cid, summary in _rows(db_url, "SELECT id, summary FROM complaint"):
        wiped = int(str(cid)) in erased and bool(summaries_before[cid])
        assert (summary == "[erased]") == wiped, cid
    for cid, stage_text in _rows(
        db_url, "SELECT complaint_id, text FROM stage_record WHERE text IS NOT NULL AND text != ''"
    ):
        assert (stage_text == "[erased]") == (int(str(cid)) in erased), cid
    # Customers whose every complaint was anonymised lost their identity; no one else did.
    complaints_of: dict[int, set[int]] = {}
    for cid, customer in customer_of.items():
        if customer is not None:
            complaints_of.setdefault(int(str(customer)), set()).add(cid)
    gone = {c for c, mine in complaints_of.items() if mine <= erased}
    assert done["customers"] == len(gone) > 0
    for cid, ref, name, email in _rows(db_url, "SELECT id, ref, name, email FROM customer"):
        forgotten = int(str(cid)) in gone
        assert str(ref).startswith("forgotten-") == forgotten, (cid, ref)
        assert not forgotten or (name, email) == (None, None)
    assert "regulator review" in desk.ok("hold", "--list").stdout
    assert "no problems found" in desk.ok("db", "check").stdout

    # Nothing is anonymised twice; released holds make their complaints due at the next run.
    again = _retain(desk, db_url)
    assert again["complaint_ids"] == [] and set(again["held_ids"]) == held
    desk.ok("hold", str(held_complaint), "--release")
    desk.ok("hold", str(held_ref), "--release", "--reason", "review closed")
    last = _retain(desk, db_url)
    assert set(last["complaint_ids"]) == held and last["held_ids"] == []
    assert last["customers"] >= 1
    assert _reports(desk, as_of) == before
    assert "no problems found" in desk.ok("db", "check").stdout
    # The holds' reasons went with the text: a reason may name the person.
    assert _rows(db_url, "SELECT DISTINCT reason, release_reason FROM legal_hold") in (
        [("[erased]", "[erased]"), ("[erased]", None)],
        [("[erased]", None), ("[erased]", "[erased]")],
    )


def test_a_dry_run_writes_nothing_and_says_what_a_run_would_do(desk: Latte, db_url: str) -> None:
    stored = _dump(db_url)
    tried = json.loads(desk.ok("db", "retain", "--dry-run", "--json").stdout)
    assert _dump(db_url) == stored
    assert tried["dry_run"] is True and tried["complaint_ids"]
    result = desk.ok("db", "retain", "--dry-run")
    assert "would be anonymised" in result.stdout and "nothing was changed" in result.stderr
    assert _dump(db_url) == stored
    done = json.loads(desk.ok("db", "retain", "--json").stdout)
    ran = ("dry_run", "rows_changed", "checkpointed")  # what only a run that writes does
    assert {k: v for k, v in done.items() if k not in ran} == {
        k: v for k, v in tried.items() if k not in ran
    }
    assert _dump(db_url) != stored


@pytest.mark.sqlite_only
def test_retained_text_is_in_no_file(latte: Latte, sqlite_path: Path) -> None:
    def raw() -> bytes:
        wal = sqlite_path.with_name(sqlite_path.name + "-wal")
        return sqlite_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    at = "2025-03-01T10:00:00+00:00"
    cid = latte.ok(
        "new", "--customer", "C-TEA-1", "--name", "Tabitha Teasdale", "--email", "tt@example.org",
        "--channel", "phone", "--category", "delivery", "--listen", "glass teapot", "--at", at,
    ).stdout.strip()  # fmt: skip
    for stage, args in (
        ("acknowledge", ("--text", "sorry Tabitha")),
        ("take_action", ("--kind", "refund", "--detail", "teapot refunded")),
        ("thank", ("--text", "thanks for the teapot")),
        ("explain", ("--root-cause", "delivery", "--change", "padded teapot boxes")),
    ):
        latte.ok("step", cid, stage, *args, "--at", at)
    secrets = [b"Tabitha", b"tt@example.org", b"glass teapot", b"teapot refunded", b"padded"]
    assert all(s in raw() for s in secrets)
    write_config(sqlite_path.parent, 'retention = "1y"\n')
    result = latte.ok("db", "retain")
    assert result.stdout.startswith("1 complaint(s) were anonymised and 1 customer(s) forgotten")
    # Read while latte's connections are still open: closing the last one would checkpoint.
    assert [s for s in secrets if s in raw()] == []


def test_holds_from_the_command_line(desk: Latte, db_url: str) -> None:
    placed = json.loads(desk.ok("hold", "C-TEA-1", "--reason", "case 7", "--json").stdout)
    assert placed["target"] == "customer C-TEA-1" and placed["released_at"] is None
    again = desk("hold", "C-TEA-1", "--reason", "case 8")
    assert again.exit_code == 1
    assert f"already under hold {placed['id']} ('case 7')" in again.stderr
    forget = desk("customer", "forget", "C-TEA-1", "--reason", "request", "--yes")
    assert forget.exit_code == 1
    assert forget.stderr.strip().splitlines() == [
        f"Error: Customer C-TEA-1 is under legal hold {placed['id']} ('case 7', placed by ana): "
        "nothing was erased. Release it first with `latte hold C-TEA-1 --release --reason TEXT`."
    ]
    assert "Tabitha Teasdale" in desk.ok("customer", "show", "C-TEA-1").stdout
    listed = json.loads(desk.ok("hold", "--list", "--json").stdout)
    assert [h["id"] for h in listed] == [placed["id"]]
    assert "case 7" in desk.ok("hold", "--list").stdout
    # The hold is in every covered complaint's log.
    exported = json.loads(desk.ok("customer", "export", "C-TEA-1").stdout)
    held = [e for e in exported["events"] if e["kind"] == "held"]
    assert len(held) == 2 and held[0]["data"] == {
        "hold_id": placed["id"], "scope": "customer", "reason": "case 7"
    }  # fmt: skip
    desk.ok("hold", "C-TEA-1", "--release", "--reason", "case closed")
    assert json.loads(desk.ok("hold", "--list", "--json").stdout) == []
    assert len(json.loads(desk.ok("hold", "--list", "--all", "--json").stdout)) == 1
    assert desk.ok("customer", "forget", "C-TEA-1", "--reason", "request", "--yes")


def test_hold_refusals(desk: Latte, db_url: str) -> None:
    (number_ref,) = _rows(db_url, "SELECT min(id) FROM complaint")[0]
    desk.ok("new", "--customer", str(number_ref), "--channel", "phone", "--category", "x",
            "--listen", "same number as a complaint")  # fmt: skip
    cases = [
        (("hold", "C-NOBODY", "--reason", "r"), 1, "No customer with ref 'C-NOBODY'"),
        (("hold", "999999", "--reason", "r"), 1, "No complaint with id 999999"),
        (("hold", str(number_ref), "--reason", "r"), 1, "is both a complaint id and a customer"),
        (("hold", "C-TEA-1"), 2, "--reason"),
        (("hold", "C-TEA-1", "--reason", "  "), 1, "--reason is empty"),
        (("hold", "C-TEA-1", "--reason", "x" * 1001), 1, "longer than 1000 characters"),
        (("hold", "C-TEA-1", "--release"), 1, "is not under a legal hold"),
        (("hold", "--list", "C-TEA-1"), 2, "--list takes no"),
        (("hold",), 2, "complaint id or a customer ref"),
    ]
    for args, code, message in cases:
        result = desk(*args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    assert desk.ok("hold", f"complaint:{number_ref}", "--reason", "r").exit_code == 0
    assert desk.ok("hold", f"customer:{number_ref}", "--reason", "r").exit_code == 0
    assert len(json.loads(desk.ok("hold", "--list", "--json").stdout)) == 2


def test_retention_settings(latte: Latte, tmp_path: Path) -> None:
    latte.ok("db", "upgrade")
    result = latte("db", "retain")
    assert result.exit_code == 1
    assert "No retention period is set" in result.stderr
    assert "latte config set retention 6y" in result.stderr
    latte.ok("config", "set", "retention", "6y")
    latte.ok("config", "set", "retention_by_category", "Delivery=3y, billing=none")
    shown = {s["key"]: s["value"] for s in json.loads(latte.ok("config", "show", "--json").stdout)}
    assert shown["retention"] == "6y"
    assert shown["retention_by_category"] == "delivery=3y, billing=none"
    assert latte.ok("db", "retain", "--json").exit_code == 0
    write_config(tmp_path, '[retention_by_category]\ndelivery = "18m"\nbilling = "1y6m"\n')
    shown = {s["key"]: s["value"] for s in json.loads(latte.ok("config", "show", "--json").stdout)}
    assert shown["retention_by_category"] == "delivery=18m, billing=1y6m"
    for bad, message in (
        ("6 years", "is not a retention period"),
        ("0d", "at least a day"),
        ("300y", "at most 200 years"),
    ):
        result = latte("config", "set", "retention", bad)
        assert result.exit_code == 1 and message in result.stderr, (bad, result.stderr)
    result = latte("config", "set", "retention_by_category", "delivery")
    assert result.exit_code == 1 and "not CATEGORY=PERIOD" in result.stderr
    write_config(tmp_path, 'retention = "soon"\n')
    result = latte("db", "retain")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "config file" in result.stderr


def test_retain_and_hold_create_no_database(latte: Latte, tmp_path: Path) -> None:
    path = tmp_path / "no" / "latte.db"
    write_config(tmp_path, 'retention = "6y"\n')
    for args in (("db", "retain"), ("db", "retain", "--dry-run"), ("hold", "C-1", "--reason", "r")):
        result = latte("--db", str(path), *args)
        assert result.exit_code == 1 and f"No database at {path}" in result.stderr, args
    assert not (tmp_path / "no").exists()
