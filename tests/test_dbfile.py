"""A database file that is always whole, reading commands that never create one, and a read-only
database that can still be read (docs/architecture.md, "A file that is always whole")."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from latte_cli import db
from latte_cli.migrations import HEAD, REVISIONS

from .conftest import Latte

LATTE = [sys.executable, "-m", "latte_cli"]


def run(path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """latte as its own process, so that its exit is a real exit."""
    return subprocess.run(
        [*LATTE, "--db", str(path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "LATTE_DB": str(path)},
    )


def ok(path: Path, *args: str) -> str:
    result = run(path, *args)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def copy_counts(path: Path, tmp_path: Path) -> dict[str, object]:
    """Copy the database file alone (no -wal, no -shm), as `cp` would, and read the copy."""
    copy = tmp_path / f"copy-{uuid.uuid4().hex}.db"
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        counts: dict[str, object] = {
            t: raw.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("complaint", "stage_record", "event")
            if t in tables
        }
        if "alembic_version" in tables:
            counts["revision"] = raw.execute("SELECT version_num FROM alembic_version").fetchone()[
                0
            ]
    return counts


def wal_size(path: Path) -> int:
    wal = path.with_name(f"{path.name}-wal")
    return wal.stat().st_size if wal.exists() else 0


NEW = ("new", "--customer", "C-1", "--name", "Ana", "--channel", "phone", "--category", "delivery")


@pytest.mark.sqlite_only
def test_a_copy_of_the_file_alone_holds_every_command(tmp_path: Path) -> None:
    path = tmp_path / "latte.db"
    ok(path, *NEW, "--listen", "My parcel arrived broken.")
    assert wal_size(path) == 0
    assert copy_counts(path, tmp_path) == {
        "complaint": 1,
        "stage_record": 1,
        "event": 2,
        "revision": HEAD,
    }
    ok(path, "step", "1", "acknowledge", "--text", "Sorry about that.")
    assert wal_size(path) == 0
    assert copy_counts(path, tmp_path)["stage_record"] == 2
    source = tmp_path / "in.csv"
    source.write_text(
        "Ticket,Customer,Channel,Category,Description,Created\n"
        "T1,C-2,email,billing,Charged twice,2026-11-02 09:00\n",
        encoding="utf-8",
    )
    ok(path, "import", "complaints", str(source))
    assert wal_size(path) == 0
    assert copy_counts(path, tmp_path)["complaint"] == 2
    ok(path, "hold", "1", "--reason", "case 7")
    ok(path, "customer", "forget", "C-2", "--reason", "request", "--yes")
    assert wal_size(path) == 0
    copy = tmp_path / "after-forget.db"
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as raw:
        assert raw.execute("SELECT reason FROM legal_hold").fetchall() == [("case 7",)]
        assert raw.execute("SELECT summary FROM complaint WHERE id = 2").fetchone() == ("[erased]",)


@pytest.mark.sqlite_only
def test_db_upgrade_leaves_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    older = REVISIONS[REVISIONS.index(HEAD) - 1]
    _at_revision(path, older)
    assert copy_counts(path, tmp_path)["revision"] == older
    ok(path, "db", "upgrade")
    assert wal_size(path) == 0
    assert copy_counts(path, tmp_path)["revision"] == HEAD


@pytest.mark.sqlite_only
def test_a_reader_holding_a_snapshot_neither_blocks_nor_fails_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "latte.db"
    ok(path, *NEW, "--listen", "First.")
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM complaint").fetchone()
        started = time.monotonic()
        result = run(path, "step", "1", "acknowledge", "--text", "Sorry.", timeout=30)
        took = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        assert took < 15  # well under the 15 s busy timeout: the checkpoint did not wait
        reader.execute("COMMIT")
    finally:
        reader.close()
    # The next writing command's exit folds in what the reader kept in the log.
    ok(path, "step", "1", "take_action", "--kind", "other", "--detail", "Apologised.")
    assert wal_size(path) == 0
    assert copy_counts(path, tmp_path)["stage_record"] == 3


def test_checkpoint_is_best_effort(tmp_path: Path) -> None:
    assert db.checkpoint(tmp_path / "missing.db") is False
    assert not (tmp_path / "missing.db").exists()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    assert db.checkpoint(junk) is False


READING = [
    ("list",),
    ("show", "1"),
    ("report", "weekly"),
    ("export", "complaints"),
    ("customer", "show", "C-1"),
    ("customer", "search", "Ana"),
    ("customer", "export", "C-1"),
    ("hold", "--list"),
    ("db", "status"),
    ("db", "check"),
    ("db", "backup", "BACKUP"),
    ("followup", "list"),
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_reading_commands_never_create_a_database(
    command: tuple[str, ...], tmp_path: Path, latte: Latte
) -> None:
    path = tmp_path / "no" / "such" / "latte.db"
    args = [a.replace("BACKUP", str(tmp_path / "backup.db")) for a in command]
    result = latte("--db", str(path), *args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines == [
        f"Error: No database at {path}. Create one with `latte new` (or `latte db upgrade`), "
        "or pass --db with the path of an existing database."
    ]
    assert not (tmp_path / "no").exists()
    assert not (tmp_path / "backup.db").exists()


@pytest.mark.sqlite_only
def test_writing_commands_create_it(tmp_path: Path, latte: Latte) -> None:
    path = tmp_path / "a" / "latte.db"
    latte.ok("--db", str(path), "db", "upgrade")
    assert path.is_file()
    assert "No complaints match." in latte.ok("--db", str(path), "list", "--all").stdout


# Read-only databases --------------------------------------------------------------------------


def _at_revision(path: Path, revision: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    from latte_cli.migrations import alembic_config

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(a writable folder, the same folder mounted read-only): a read-only bind mount, which
    stops root too (chmod does not). Skipped only where mounting is not allowed (not root)."""
    source = tmp_path / "rw"
    source.mkdir()
    target = tmp_path / "ro"
    target.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        again = subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(target)], capture_output=True, check=False
        )
        if again.returncode != 0:
            pytest.skip(f"cannot remount read-only: {again.stderr.decode().strip()}")
        yield source, target
    finally:
        db.dispose_engines()
        subprocess.run(["umount", str(target)], check=False)


def _tables(path: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as raw:
        return {
            t: raw.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("complaint", "stage_record", "event", "customer")
        }


@pytest.mark.sqlite_only
def test_a_read_only_database_can_be_read_and_not_written(
    read_only_mount: tuple[Path, Path], tmp_path: Path, latte: Latte
) -> None:
    source, target = read_only_mount
    ok(source / "latte.db", *NEW, "--listen", "Broken parcel.")
    path = target / "latte.db"
    assert sorted(p.name for p in target.iterdir()) == ["latte.db"]
    assert db._read_only_uri(path).endswith("?mode=ro&immutable=1")
    before = _tables(path)
    for command in READING:
        args = [a.replace("BACKUP", str(tmp_path / "backup.db")) for a in command]
        result = latte("--db", str(path), *args)
        assert result.exit_code == 0, (command, result.output)
    assert "Ana" in latte.ok("--db", str(path), "list").stdout
    assert "C-1" in latte.ok("--db", str(path), "customer", "search", "Ana").stdout
    assert _tables(tmp_path / "backup.db") == before
    for command in (
        ("step", "1", "acknowledge", "--text", "Sorry."),
        (*NEW, "--listen", "Another."),
        ("db", "upgrade"),
        ("reopen", "1", "--reason", "again"),
        ("hold", "1", "--reason", "case"),
        ("customer", "forget", "C-1", "--reason", "request", "--yes"),
    ):
        result = latte("--db", str(path), *command)
        assert result.exit_code == 1, (command, result.output)
        assert result.output.startswith(f"Error: The database {path} is read-only: "), command
        assert len(result.output.strip().splitlines()) == 1
    assert _tables(path) == before
    assert sorted(p.name for p in target.iterdir()) == ["latte.db"]


@pytest.mark.sqlite_only
def test_a_read_only_file_in_a_writable_folder_is_opened_mode_ro(
    read_only_mount: tuple[Path, Path],
) -> None:
    source, target = read_only_mount
    # The -shm file of the mounted folder is writable through the source folder only, so a
    # writable folder is simulated by the source itself: there the URI keeps shared memory.
    ok(source / "latte.db", *NEW, "--listen", "x")
    assert db._read_only_uri(source / "latte.db").endswith("?mode=ro")
    assert db._read_only_uri(target / "latte.db").endswith("?mode=ro&immutable=1")


@pytest.mark.sqlite_only
def test_a_read_only_database_at_an_older_schema_is_refused(
    read_only_mount: tuple[Path, Path], latte: Latte
) -> None:
    source, target = read_only_mount
    older = REVISIONS[REVISIONS.index(HEAD) - 1]
    _at_revision(source / "latte.db", older)
    result = latte("--db", str(target / "latte.db"), "list")
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: The database {target / 'latte.db'} is read-only and at schema revision "
        f"{older} (this latte reads {HEAD}). Copy it to a writable place and run "
        "`latte --db COPY db upgrade` on the copy."
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes through chmod")
@pytest.mark.sqlite_only
def test_a_chmod_read_only_database_as_a_user(tmp_path: Path, latte: Latte) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "latte.db"
    ok(path, *NEW, "--listen", "x")
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        assert "x" in latte.ok("--db", str(path), "list").stdout
        result = latte("--db", str(path), "step", "1", "acknowledge", "--text", "y")
        assert result.exit_code == 1
        assert "is read-only" in result.output
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)


@pytest.mark.sqlite_only
def test_an_analysed_database_gets_statistics_for_what_later_revisions_index(
    tmp_path: Path,
) -> None:
    """A database with SQLite statistics keeps them current through the revisions that add
    indexes (`migrations.helpers.analyse`): without them the planner would weigh a new index
    with no statistics against old ones that have them."""
    from alembic import command
    from sqlalchemy import create_engine

    from latte_cli.migrations import alembic_config

    path = tmp_path / "latte.db"
    ok(path, *NEW, "--listen", "Broken parcel.")
    ok(path, "step", "1", "acknowledge", "--text", "Sorry.")
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    engine.dispose()
    with sqlite3.connect(path) as raw:
        raw.execute("ANALYZE")
        before = {row[0] for row in raw.execute("SELECT idx FROM sqlite_stat1")}
    _at_revision(path, "head")
    with sqlite3.connect(path) as raw:
        analysed = {row[0] for row in raw.execute("SELECT idx FROM sqlite_stat1")}
    added = {"ix_stage_record_durations", "ix_complaint_fix_cohort"}
    assert not added & before
    assert added <= analysed
