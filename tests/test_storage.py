"""Storage: where the database lives, its settings, and migrations that match the models."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

from latte_cli import config, db
from latte_cli.migrations import HEAD, REVISIONS, alembic_config, include_name

from .conftest import Latte


def test_revision_list_matches_the_migration_files() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    walked = [rev.revision for rev in script.walk_revisions()]
    assert tuple(reversed(walked)) == REVISIONS
    assert script.get_current_head() == HEAD


def test_migrations_and_models_agree(db_url: str) -> None:
    engine = db.ensure_schema(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "render_as_batch": True, "include_name": include_name},
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []


@pytest.mark.sqlite_only
def test_new_database_is_created_0600_with_its_folders(tmp_path: Path, latte: Latte) -> None:
    path = tmp_path / "a" / "b" / "team.db"
    latte.ok("--db", str(path), "db", "upgrade")
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.sqlite_only
def test_default_location_is_the_user_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, latte: Latte
) -> None:
    monkeypatch.delenv("LATTE_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert (
        config.Settings.resolve().db_url == f"sqlite:///{tmp_path / 'xdg' / 'latte' / 'latte.db'}"
    )
    latte.ok("db", "upgrade")
    assert (tmp_path / "xdg" / "latte" / "latte.db").exists()
    assert "No complaints match." in latte.ok("list", "--all").stdout


@pytest.mark.sqlite_only
def test_db_option_wins_over_environment(tmp_path: Path, latte: Latte) -> None:
    latte.ok(
        "--db",
        str(tmp_path / "other.db"),
        "new",
        "--channel",
        "web",
        "--category",
        "x",
        "--listen",
        "hello",
    )
    assert not (tmp_path / "latte.db").exists()
    assert (tmp_path / "other.db").exists()


@pytest.mark.sqlite_only
def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(db_url: str) -> None:
    engine = db.ensure_schema(db_url)
    with engine.connect() as connection:
        pragma = {
            name: connection.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 15000,
        "synchronous": 1,
    }
    # Waiting for the write lock sets the timeout to 0 for a moment; it is back inside.
    with engine.begin() as connection:
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 15000


@pytest.mark.sqlite_only
def test_a_writer_waits_for_the_write_lock_and_then_writes(db_url: str, sqlite_path: Path) -> None:
    engine = db.ensure_schema(db_url)
    holder = sqlite3.connect(sqlite_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, holder.execute, args=("COMMIT",))
    release.start()
    try:
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO agent (name, status, updated_at) VALUES ('ana', 'away', :at)"),
                {"at": "2026-11-23"},
            )
        assert not release.is_alive(), "the writer did not wait for the holder"
    finally:
        release.join()
        holder.close()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM agent")).scalar() == 1


def test_locked_attempts_are_tried_again_until_they_pass_or_time_runs_out() -> None:
    failures = ["database is locked", "database is locked"]
    calls: list[int] = []

    def attempt() -> None:
        calls.append(1)
        if failures:
            raise sqlite3.OperationalError(failures.pop())

    assert db._until_unlocked(attempt, 5000) is True
    assert len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise sqlite3.OperationalError("disk I/O error")

    calls.clear()
    assert db._until_unlocked(broken, 5000) is False
    assert len(calls) == 1  # only "locked" is worth waiting for

    def locked() -> None:
        raise sqlite3.OperationalError("database is locked")

    started = time.monotonic()
    assert db._until_unlocked(locked, 50) is False
    assert time.monotonic() - started >= 0.05


@pytest.mark.sqlite_only
def test_a_new_connection_opens_while_another_process_writes(
    db_url: str, sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connecting only reads the journal mode of a WAL file, so it never needs the write
    lock another process holds."""
    db.ensure_schema(db_url)
    db.dispose_engines()
    writer = sqlite3.connect(sqlite_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO agent (name, status, updated_at) VALUES ('sam', 'away', 'x')")
    try:
        engine = db.get_engine(db_url, busy_timeout_ms=200)
        reader = engine.execution_options(latte_readonly=True)
        with reader.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("SELECT COUNT(*) FROM agent")).scalar() == 0
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_database_is_brought_to_head_on_first_use_and_by_db_upgrade(
    db_url: str, latte: Latte
) -> None:
    result = latte.ok("db", "upgrade")
    assert f"upgraded from revision none to {HEAD}" in result.stdout
    result = latte.ok("db", "upgrade")
    assert f"already at revision {HEAD}" in result.stdout


def test_first_use_creates_the_schema(latte: Latte, db_url: str) -> None:
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "first")
    engine = create_engine(db_url)
    with engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        tables = set(inspect(connection).get_table_names())
    engine.dispose()
    assert version == HEAD
    assert {"complaint", "customer", "stage_record", "event", "followup", "purchase"} <= tables


def test_db_status_reports_revision_location_and_counts(
    latte: Latte, tmp_path: Path, db_url: str
) -> None:
    latte.ok(
        "new",
        "--channel",
        "phone",
        "--category",
        "billing",
        "--listen",
        "charged twice",
        "--customer",
        "C-9",
    )
    data = json.loads(latte.ok("db", "status", "--json").stdout)
    assert data["revision"] == HEAD == data["head"]
    expected = str(tmp_path / "latte.db") if db_url.startswith("sqlite") else db_url
    assert data["location"] == expected
    assert data["counts"]["complaint"] == 1
    assert data["counts"]["customer"] == 1
    assert data["counts"]["stage_record"] == 1
    assert data["counts"]["event"] == 2
    assert "Schema revision: " + HEAD in latte.ok("db", "status").stdout


def test_passwords_in_urls_are_hidden() -> None:
    url = "postgresql+psycopg://latte:s3cr3t@db.example:5432/latte"
    assert config.redact_url(url) == "postgresql+psycopg://latte:***@db.example:5432/latte"
    assert "s3cr3t" not in str(db.translate(RuntimeError(f"failed for {url}"), url))


@pytest.mark.sqlite_only
def test_times_are_stored_in_utc_and_read_back_aware(db_url: str, latte: Latte) -> None:
    latte.ok(
        "--tz",
        "Europe/Paris",
        "new",
        "--channel",
        "web",
        "--category",
        "x",
        "--listen",
        "hi",
        "--at",
        "2026-07-01T10:00",
    )
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as raw:
        stored, epoch = raw.execute("SELECT opened_at, opened_epoch FROM complaint").fetchone()
    assert stored.startswith("2026-07-01 08:00:00")
    assert epoch == datetime(2026, 7, 1, 8, tzinfo=UTC).timestamp()


def test_an_unreachable_server_is_one_line_without_the_password(latte: Latte) -> None:
    url = "postgresql+psycopg://latte:s3cr3t@127.0.0.1:1/latte"
    for args in (("list",), ("db", "status"), ("db", "upgrade")):
        result = latte("--db", url, *args)
        assert result.exit_code == 1
        assert "s3cr3t" not in result.stderr + result.stdout
        assert "latte:***@127.0.0.1:1" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
