"""Every mistake: one clear line, the documented exit code, no traceback, nothing half-written."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from .conftest import Latte

NEW = ("new", "--channel", "phone", "--category", "delivery", "--listen", "It broke")


def assert_refused(result: object, code: int, *needles: str) -> str:
    exit_code = result.exit_code  # type: ignore[attr-defined]
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert exit_code == code, (exit_code, stderr)
    # An exception other than SystemExit is what a user would have seen as a traceback.
    assert isinstance(result.exception, SystemExit), result.exception  # type: ignore[attr-defined]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in stderr, stderr
    return stderr


def counts(db_url: str) -> tuple[int, ...]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return tuple(
                connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
                for table in ("customer", "complaint", "stage_record", "event")
            )
    finally:
        engine.dispose()


def test_unknown_complaint_id(latte: Latte) -> None:
    latte.ok("db", "upgrade")  # an existing, empty database: a missing one is refused first
    for args in (
        ("show", "42"),
        ("step", "42", "acknowledge", "--text", "x"),
        ("transfer", "42", "--to", "sam", "--note", "n"),
        ("reopen", "42", "--reason", "r"),
    ):
        assert_refused(latte(*args), 1, "No complaint with id 42", "latte list")


def test_unknown_customer(latte: Latte) -> None:
    latte.ok("db", "upgrade")
    assert_refused(
        latte("customer", "show", "C-404"),
        1,
        "No customer has the ref, email, phone or name 'C-404'",
    )


def test_stage_out_of_order_names_the_stage_due(latte: Latte, db_url: str) -> None:
    latte.ok(*NEW)
    before = counts(db_url)
    assert_refused(
        latte("step", "1", "thank", "--text", "thanks"), 1, "the stage due is acknowledge"
    )
    assert_refused(latte("step", "1", "listen", "--text", "again"), 1, "already recorded")
    assert counts(db_url) == before


def test_stage_on_a_resolved_complaint_says_to_reopen(latte: Latte) -> None:
    latte.ok(*NEW)
    latte.ok("step", "1", "acknowledge", "--text", "sorry")
    latte.ok("step", "1", "take_action", "--kind", "repair", "--detail", "fixed")
    latte.ok("step", "1", "thank", "--text", "thanks")
    latte.ok("step", "1", "explain", "--root-cause", "product_defect", "--change", "QA")
    assert_refused(latte("step", "1", "thank", "--text", "x"), 1, "latte reopen")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--kind", "bribe", "--detail", "x"), "Action kind 'bribe' is not one of: refund"),
        (("--kind", "refund", "--detail", "x", "--amount", "-5"), "must be zero or more"),
        (("--kind", "refund", "--detail", "x", "--amount", "ten"), "is not a number"),
        (("--kind", "refund", "--detail", "x", "--amount", "1.234"), "more than two decimals"),
        # What Decimal would read besides a typed amount: an exponent, underscores, NaN.
        (("--kind", "refund", "--detail", "x", "--amount", "1e3"), "is not a number"),
        (("--kind", "refund", "--detail", "x", "--amount", "1_000"), "is not a number"),
        (("--kind", "refund", "--detail", "x", "--amount", "NaN"), "is not a number"),
        (("--kind", "refund"), "Pass --detail"),
        (("--kind", "refund", "--detail", "x", "--at", "yesterday"), "--at 'yesterday' is not"),
        (("--kind", "refund", "--detail", "x", "--at", "2999-01-01"), "in the future"),
    ],
)
def test_invalid_values_are_refused_and_nothing_is_written(
    latte: Latte, db_url: str, args: tuple[str, ...], needle: str
) -> None:
    latte.ok(*NEW)
    latte.ok("step", "1", "acknowledge", "--text", "sorry")
    before = counts(db_url)
    assert_refused(latte("step", "1", "take_action", *args), 1, needle)
    assert counts(db_url) == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--channel", "pigeon", "--category", "x", "--listen", "y"), "Channel 'pigeon'"),
        (
            ("--channel", "web", "--category", "x", "--listen", "y", "--severity", "huge"),
            "Severity 'huge'",
        ),
        (("--channel", "web", "--category", "x", "--listen", "y", "--email", "nope"), "has no @"),
        (("--channel", "web", "--category", "x"), "Missing --listen"),
        (("--channel", "web", "--category", "x", "--listen", "   "), "Pass --listen"),
    ],
)
def test_invalid_new_complaints_write_nothing(
    latte: Latte, db_url: str, args: tuple[str, ...], needle: str
) -> None:
    latte.ok("db", "upgrade")
    assert_refused(latte("new", *args, "--customer", "C-1"), 1, needle)
    assert counts(db_url) == (0, 0, 0, 0)


def test_bad_list_values(latte: Latte) -> None:
    latte.ok("db", "upgrade")
    assert_refused(latte("list", "--status", "maybe"), 1, "--status 'maybe' is not one of")
    assert_refused(latte("list", "--since", "13/45/2026"), 1, "--since '13/45/2026' is not a date")
    assert_refused(latte("list", "--stage", "dance"), 1, "Stage 'dance'")
    assert_refused(latte("list", "--limit", "0"), 1, "--limit must be 1 or more")
    assert_refused(
        latte("--tz", "Mars/Olympus", "list"), 1, "--tz 'Mars/Olympus' is not a time zone"
    )


def test_usage_errors_exit_2(latte: Latte) -> None:
    assert latte("list", "--bogus").exit_code == 2
    assert latte("step", "1").exit_code == 2
    assert latte("hold").exit_code == 2  # a command's own usage error (`app.Misused`)


@pytest.mark.parametrize(
    "args, needle, command",
    [
        (("step", "one", "thank"), "Invalid value for 'ID'", "latte step"),
        (
            ("export", "complaints", "--format", "xml"),
            "'xml' is not one of 'csv', 'jsonl'",
            "latte export complaints",
        ),
        (
            ("import", "purchases", "x.csv", "--decimal-mark", ";"),
            "';' is not one of '.', ','",
            "latte import purchases",
        ),
    ],
)
def test_a_value_click_cannot_take_is_an_invalid_value(
    latte: Latte, args: tuple[str, ...], needle: str, command: str
) -> None:
    """Not a choice, not a number: exit 1 and one line naming the command's help (README,
    "Exit codes"), as latte's own checks refuse a value, not Click's usage box and exit 2."""
    result = latte(*args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], lines
    assert lines[0].endswith(f"See `{command} --help`."), lines


@pytest.mark.sqlite_only
def test_database_path_not_writable(tmp_path: Path, latte: Latte) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    assert_refused(
        latte("--db", str(blocker / "latte.db"), "db", "upgrade"),
        1,
        "Cannot create the database file",
        "--db",
    )
    assert_refused(latte("--db", str(tmp_path), "list"), 1, "is a folder")


@pytest.mark.sqlite_only
def test_a_file_that_is_not_a_database(tmp_path: Path, latte: Latte) -> None:
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"these are my notes, not a database\n" * 200)
    assert_refused(latte("--db", str(junk), "list"), 1, "is not a latte database")
    assert junk.read_bytes().startswith(b"these are my notes")


@pytest.mark.sqlite_only
def test_a_sqlite_database_that_is_not_latte_s(tmp_path: Path, latte: Latte) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE invoices (id INTEGER)")
    assert_refused(
        latte("--db", str(other), "list"), 1, "is not a latte database", "no latte schema"
    )
    with sqlite3.connect(other) as raw:
        tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["invoices"]


def test_a_database_from_a_newer_latte(latte: Latte, db_url: str) -> None:
    latte.ok("db", "upgrade")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    from latte_cli import db

    db.dispose_engines()
    db._ready.clear()
    assert_refused(latte("list"), 1, "written by a newer latte", "Upgrade latte")


@pytest.mark.sqlite_only
def test_a_locked_database(latte: Latte, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    latte.ok(*NEW)
    monkeypatch.setenv("LATTE_BUSY_TIMEOUT", "0.2")
    from latte_cli import db

    db.dispose_engines()
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        stderr = assert_refused(
            latte("step", "1", "acknowledge", "--text", "sorry"), 1, "is busy", "Try again"
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "locked" in stderr
    assert latte.ok("show", "1", "--json").stdout.count('"stage": "acknowledge"') == 0


@pytest.mark.usefixtures("db_url")
def test_unexpected_errors_never_show_a_traceback(
    latte: Latte, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from latte_cli.cli import main as entry
    from latte_cli.services import views

    latte.ok("db", "upgrade")

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(views, "list_complaints", boom)
    monkeypatch.setattr("sys.argv", ["latte", "list"])
    with pytest.raises(SystemExit) as exit_info:
        entry.main()
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "disk on fire" in err and "LATTE_DEBUG=1" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            (
                "step",
                "1",
                "take_action",
                "--kind",
                "refund",
                "--detail",
                "x",
                "--amount",
                "1" + "0" * 20,
            ),
            "more than 10,000,000",
        ),
        (
            ("step", "1", "take_action", "--kind", "refund", "--detail", "x", "--amount", "NaN"),
            "is not a number",
        ),
        (("show", "99999999999999999999"), "too large"),
        (("list", "--limit", "99999999999999999999"), "too large"),
        (("list", "--target", "nan"), "must be more than 0 and at most"),
        (("list", "--target", "inf", "--overdue"), "must be more than 0 and at most"),
        (("list", "--channel", "pigeon"), "Channel 'pigeon'"),
        (("--db", "", "list"), "--db is empty"),
        (("report", "weekly", "--target", "nan"), "must be more than 0 and at most"),
    ],
)
def test_out_of_range_values_are_refused_plainly(
    latte: Latte, args: tuple[str, ...], needle: str
) -> None:
    latte.ok(*NEW)
    latte.ok("step", "1", "acknowledge", "--text", "sorry")
    assert_refused(latte(*args), 1, needle)


def test_guided_new_refuses_a_bad_flag_before_asking_anything(
    latte: Latte, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    latte.ok("db", "upgrade")
    monkeypatch.setattr("latte_cli.cli.app.stdin_is_terminal", lambda: True)
    for args, needle in (
        (("--channel", "bogus", "--category", "billing"), "Channel 'bogus'"),
        (("--severity", "huge"), "Severity 'huge'"),
        (("--email", "nope", "--channel", "web"), "has no @"),
        (("--category", "x" * 101), "longer than 100"),
    ):
        assert_refused(latte("new", *args, input=""), 1, needle)
    assert counts(db_url) == (0, 0, 0, 0)


@pytest.mark.sqlite_only
def test_readers_do_not_wait_for_a_writer(
    latte: Latte, sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    latte.ok(*NEW)
    from latte_cli import db

    db.dispose_engines()
    db._ready.clear()
    monkeypatch.setenv("LATTE_BUSY_TIMEOUT", "0.2")
    writer = sqlite3.connect(sqlite_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE complaint SET summary = 'being changed'")
    try:
        assert latte.ok("list", "--json").stdout.count('"id": 1') == 1
        assert latte.ok("show", "1").exit_code == 0
        assert latte.ok("db", "status").exit_code == 0
        refused = latte("step", "1", "acknowledge", "--text", "sorry")
        assert refused.exit_code == 1 and "is busy" in refused.stderr
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_the_sla_target_comes_from_the_environment(
    latte: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    latte.ok(*NEW, "--at", (datetime.now(UTC) - timedelta(hours=30)).isoformat())
    assert json.loads(latte.ok("list", "--overdue", "--json").stdout) != []
    monkeypatch.setenv("LATTE_SLA_HOURS", "48")
    assert json.loads(latte.ok("list", "--overdue", "--json").stdout) == []
    assert json.loads(latte.ok("list", "--overdue", "--target", "12", "--json").stdout) != []
    monkeypatch.setenv("LATTE_SLA_HOURS", "soon")
    assert_refused(latte("list"), 1, "LATTE_SLA_HOURS")
