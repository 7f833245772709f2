"""Operations: db check, db backup, and upgrading a database that holds data."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from latte_cli import db
from latte_cli.migrations import REVISIONS, alembic_config

from .conftest import Latte

NEW = (
    "new",
    "--channel",
    "phone",
    "--category",
    "delivery",
    "--listen",
    "It broke",
    "--customer",
    "C-1",
)


def resolve(latte: Latte, cid: str) -> None:
    latte.ok("step", cid, "acknowledge", "--text", "sorry")
    latte.ok("step", cid, "take_action", "--kind", "refund", "--detail", "refunded")
    latte.ok("step", cid, "thank", "--text", "thanks")
    latte.ok("step", cid, "explain", "--root-cause", "delivery", "--change", "boxes")


def test_db_check_is_clean_after_normal_work(latte: Latte) -> None:
    latte.ok(*NEW)
    resolve(latte, "1")
    latte.ok("reopen", "1", "--reason", "again")
    latte.ok(*NEW)
    latte.ok("--agent", "sam", "agent", "available")
    latte.ok("transfer", "2", "--to", "sam", "--note", "yours")
    data = json.loads(latte.ok("db", "check", "--json").stdout)
    assert data["clean"] and data["complaints"] == 2 and data["problems"] == []
    assert "no problems found" in latte.ok("db", "check").stdout


def test_db_check_finds_a_state_that_drifted_from_the_event_log(latte: Latte, db_url: str) -> None:
    latte.ok(*NEW)
    latte.ok("step", "1", "acknowledge", "--text", "sorry")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE complaint SET stage_due = 'thank' WHERE id = 1"))
        connection.execute(text("UPDATE complaint SET opened_epoch = opened_epoch + 1"))
    engine.dispose()
    result = latte("db", "check")
    assert result.exit_code == 1
    assert "complaint 1: stored state" in result.stdout
    assert "opened_epoch does not match" in result.stdout
    # The deadlines fixed at opening no longer agree with the shifted opening either.
    assert "last update to the customer before it was opened" in result.stdout
    assert "stored deadlines" in result.stdout and "recomputed" in result.stdout
    assert "has 4 problems" in result.stderr


@pytest.mark.sqlite_only
def test_backup_copies_a_live_database(latte: Latte, tmp_path: Path) -> None:
    latte.ok(*NEW)
    target = tmp_path / "backups" / "copy.db"
    target.parent.mkdir()
    assert "Backed up to" in latte.ok("db", "backup", str(target)).stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT summary FROM complaint").fetchall() == [("It broke",)]
    refused = latte("db", "backup", str(target))
    assert refused.exit_code == 1 and "already exists" in refused.stderr
    data = json.loads(latte.ok("--db", str(target), "db", "check", "--json").stdout)
    assert data["clean"] and data["complaints"] == 1


def test_backup_copies_sqlite_and_points_postgresql_to_pg_dump(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    latte.ok("db", "upgrade")  # backup reads: it never creates the database it copies
    result = latte("db", "backup", str(tmp_path / "x.db"))
    if db_url.startswith("sqlite"):
        assert result.exit_code == 0 and (tmp_path / "x.db").exists()
    else:
        assert result.exit_code == 1 and "pg_dump" in result.stderr
        assert not (tmp_path / "x.db").exists()


def test_upgrading_from_the_first_revision_keeps_the_data(latte: Latte, db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, REVISIONS[0])
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO customer (id, ref, name, created_at) "
                "VALUES (1, 'C-1', 'Ana', '2026-01-05 10:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO complaint (id, customer_id, channel, category, severity, summary, "
                "opened_by, assigned_agent, stage_due, cycle, reopen_count, opened_at, "
                "opened_epoch, updated_at) "
                "VALUES (1, 1, 'phone', 'billing', 'high', 'Charged twice', 'ana', "
                "'ana', 'acknowledge', 0, 0, '2026-01-05 10:00:00', 1767607200, "
                "'2026-01-05 10:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO event (complaint_id, at, agent, kind, data) VALUES "
                "(1, '2026-01-05 10:00:00', 'ana', 'opened', '{\"assigned_agent\": \"ana\"}'), "
                "(1, '2026-01-05 10:00:00', 'ana', 'stage', "
                '\'{"stage": "listen", "cycle": 0}\')'
            )
        )
        connection.execute(
            text(
                "INSERT INTO stage_record (complaint_id, cycle, stage, text, agent, completed_at, "
                "duration_seconds) VALUES (1, 0, 'listen', 'Charged twice', 'ana', "
                "'2026-01-05 10:00:00', 0)"
            )
        )
    engine.dispose()
    db.dispose_engines()
    db._ready.clear()
    latte.ok("db", "upgrade")
    shown = json.loads(latte.ok("show", "1", "--json").stdout)
    assert shown["customer"]["ref"] == "C-1" and shown["summary"] == "Charged twice"
    assert shown["opened_at"].startswith("2026-01-05T10:00:00")
    latte.ok("step", "1", "acknowledge", "--text", "sorry")
    assert json.loads(latte.ok("db", "check", "--json").stdout)["clean"]
