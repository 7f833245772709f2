"""Settings: flag > environment > config file > default, `latte config`, and one zone for all."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import Result

import latte_cli
from latte_cli import config
from latte_cli.errors import InvalidValue

from .conftest import Latte

PACKAGE = Path(latte_cli.__file__).parent


def config_file() -> Path:
    return Path(os.environ["LATTE_CONFIG"])


def shown(latte: Latte, *flags: str) -> dict[str, dict[str, object]]:
    rows = json.loads(latte.ok(*flags, "config", "show", "--json").stdout)
    return {row["key"]: row for row in rows}


def assert_one_line_error(result: Result, *words: str) -> str:
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # a refusal, not a crash
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_precedence_is_flag_then_environment_then_file_then_default(
    latte: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LATTE_AGENT")
    monkeypatch.delenv("LATTE_TZ")
    assert shown(latte)["agent"]["source"] == "default"

    latte.ok("config", "set", "agent", "from-file")
    latte.ok("config", "set", "tz", "Asia/Tokyo")
    row = shown(latte)["agent"]
    assert (row["value"], row["source"], row["from"]) == ("from-file", "file", str(config_file()))

    monkeypatch.setenv("LATTE_AGENT", "from-env")
    row = shown(latte)["agent"]
    assert (row["value"], row["source"], row["from"]) == ("from-env", "env", "LATTE_AGENT")

    row = shown(latte, "--agent", "from-flag")["agent"]
    assert (row["value"], row["source"], row["from"]) == ("from-flag", "flag", "--agent")

    tz = shown(latte)["tz"]
    assert (tz["value"], tz["source"]) == ("Asia/Tokyo", "file")


def test_the_agent_from_the_file_is_the_one_that_acts(
    latte: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LATTE_AGENT")
    latte.ok("config", "set", "agent", "rui")
    latte.ok("new", "--channel", "phone", "--category", "b", "--listen", "Late")
    (row,) = json.loads(latte.ok("list", "--json").stdout)
    assert row["assigned_agent"] == "rui"


def test_config_set_writes_a_file_tomllib_reads_back(latte: Latte) -> None:
    latte.ok("config", "set", "sla_hours", "48")
    latte.ok("config", "set", "hours", "Mon-Fri 09:00-17:00")
    latte.ok("config", "set", "busy_timeout", "0.5")
    data = tomllib.loads(config_file().read_text(encoding="utf-8"))
    assert data == {"sla_hours": 48, "hours": "Mon-Fri 09:00-17:00", "busy_timeout": 0.5}
    assert shown(latte)["sla_hours"]["value"] == 48.0
    assert latte.ok("config", "path").stdout.strip() == str(config_file())


def test_a_path_is_stored_absolute_and_a_shadowing_variable_is_pointed_out(
    latte: Latte, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = latte.ok("config", "set", "db", "team.db")
    assert "LATTE_DB is set in this shell" in result.stderr
    data = tomllib.loads(config_file().read_text(encoding="utf-8"))
    assert data == {"db": str(tmp_path / "team.db")}


@settings(max_examples=60, deadline=None)
@given(name=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and "\x00" not in s))
def test_any_agent_name_survives_the_file(name: str) -> None:
    try:
        config.check("agent", name)
    except InvalidValue:
        return
    environ = {"LATTE_CONFIG": str(Path(os.environ["LATTE_CONFIG"]).with_name("prop.toml"))}
    try:
        config.write_setting("agent", name, environ)
    except InvalidValue as error:  # characters TOML cannot hold are refused, not mangled
        assert "cannot be stored" in error.message
        return
    assert config.Settings.resolve(environ=environ).agent == name.strip()


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("sla_hours", "soon", ["sla_hours", "more than 0"]),
        ("followup_days", "400", ["followup_days", "whole number"]),
        ("tz", "Mars/Olympus", ["tz", "IANA name"]),
        ("hours", "Mon-Fri 9-5", ["hours", "Mon-Fri 09:00-17:00"]),
        ("busy_timeout", "forever", ["busy_timeout", "seconds"]),
        ("phrases", "/no/such/file.toml", ["phrases", "not a file"]),
        ("colour", "blue", ["Unknown setting", "sla_hours"]),
        ("db", "nonsense://", ["db", "cannot store into", "postgresql+psycopg"]),
        ("db", "mysql://u:secret@h/db", ["'mysql://u:***@h/db'", "cannot store into"]),
        ("db", "sqlite:///", ["db", "names no file"]),
    ],
)
def test_a_bad_value_is_refused_and_the_file_is_unchanged(
    latte: Latte, key: str, value: str, words: list[str]
) -> None:
    latte.ok("config", "set", "tz", "Europe/Paris")
    before = config_file().read_bytes()
    assert_one_line_error(latte("config", "set", key, value), *words)
    assert config_file().read_bytes() == before
    assert [p.name for p in config_file().parent.iterdir()] == [config_file().name]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("tz = [\n", ["not valid TOML"]),
        ("colour = 'blue'\n", ["unknown key 'colour'", "Remove"]),
        ("sla_hours = -3\n", ["sla_hours", "-3", "latte config set sla_hours"]),
        ("followup_days = true\n", ["followup_days", "string or a number"]),
    ],
)
def test_a_broken_config_file_is_a_one_line_error_naming_it(
    latte: Latte, content: str, words: list[str]
) -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(content, encoding="utf-8")
    line = assert_one_line_error(latte("list"), *words)
    assert str(config_file()) in line


def test_a_bad_environment_value_names_the_variable(
    latte: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LATTE_BUSY_TIMEOUT", "soon")
    assert_one_line_error(latte("list"), "LATTE_BUSY_TIMEOUT", "Fix or unset")


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_a_database_that_keeps_nothing_is_refused_before_any_write(
    latte: Latte, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    """An in-memory SQLite database is gone when the command ends: a complaint "opened"
    there, with its id printed and exit 0, would be lost without a word."""
    monkeypatch.setenv("LATTE_DB", url)
    result = latte("new", "--channel", "phone", "--category", "x", "--listen", "lost")
    line = assert_one_line_error(result, "LATTE_DB", "names no file", "Fix or unset")
    assert "secret" not in line and result.stdout == ""


def test_a_database_url_is_quoted_without_its_password(
    latte: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LATTE_DB", "oracle://scott:tiger@host/db")
    line = assert_one_line_error(latte("list"), "LATTE_DB", "oracle://", "cannot store into")
    assert "tiger" not in line


def test_a_report_setting_does_not_stop_recording(
    latte: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LATTE_HOURS", "whenever")
    latte.ok("new", "--channel", "phone", "--category", "b", "--listen", "Late")
    assert_one_line_error(latte("report", "weekly"), "LATTE_HOURS")


@pytest.mark.sqlite_only
def test_the_busy_timeout_setting_reaches_sqlite(
    latte: Latte, sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from latte_cli import db

    latte.ok("db", "upgrade")
    db.dispose_engines()
    latte.ok("config", "set", "busy_timeout", "0.25")
    holder = sqlite3.connect(sqlite_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = latte("new", "--channel", "phone", "--category", "b", "--listen", "Late")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_one_line_error(result, "is busy", "0.25 s")


@pytest.mark.parametrize("zone_from", ["TZ", "file"])
def test_show_and_report_agree_on_the_local_zone(
    latte: Latte, monkeypatch: pytest.MonkeyPatch, zone_from: str
) -> None:
    monkeypatch.delenv("LATTE_TZ")
    if zone_from == "TZ":
        monkeypatch.setenv("TZ", "Asia/Kolkata")
    else:
        monkeypatch.setenv("TZ", "UTC")
        latte.ok("config", "set", "tz", "Asia/Kolkata")
    # 19:00 UTC on Sunday is 00:30 on Monday in Kolkata: the first minutes of ISO week 48.
    latte.ok(
        "new", "--channel", "phone", "--category", "b", "--listen", "Late",
        "--at", "2026-11-22T19:00:00+00:00",
    )  # fmt: skip
    assert "2026-11-23 00:30" in latte.ok("show", "1").stdout
    report = json.loads(
        latte.ok("report", "weekly", "--week", "2026-W48", "--format", "json").stdout
    )
    assert report["time_zone"] == "Asia/Kolkata"
    assert report["figures"]["opened"] == 1
    assert shown(latte)["tz"]["value"] == "Asia/Kolkata"


def test_local_zone_reads_tz_then_falls_back_to_a_zone() -> None:
    assert config.local_zone({"TZ": ":America/Lima"}).key == "America/Lima"
    assert config.local_zone({"TZ": "Not/AZone"}).key  # the system's zone, else UTC


ENVIRONMENT = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _environment_reads(path: Path) -> list[int]:
    """Lines of `path` that touch the process environment (os.environ, os.getenv, ...)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute):
            names = {node.attr}
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            names = {alias.name for alias in node.names}
        else:
            continue
        if names & ENVIRONMENT:
            found.append(node.lineno)
    return found


def test_no_module_but_config_reads_the_environment() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 40
    offending = {
        str(path.relative_to(PACKAGE)): lines
        for path in modules
        if path != PACKAGE / "config.py" and (lines := _environment_reads(path))
    }
    assert offending == {}
    assert _environment_reads(PACKAGE / "config.py")  # the check does see a read


def test_help_reads_no_settings_and_imports_none_of_their_libraries(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("this is not toml [", encoding="utf-8")
    probe = (
        "import sys\n"
        "from latte_cli.cli.main import main\n"
        "sys.argv = ['latte', '--help']\n"
        "try:\n    main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tomllib', 'platformdirs', 'zoneinfo', 'getpass')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "LATTE_CONFIG": str(broken)},
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_window_setting_is_the_reports_default_and_the_flag_wins(
    latte: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One repurchase window for the reports and the advice: the `window` setting, which
    `--window` overrides for one report."""
    latte.ok("db", "upgrade")
    week = ("report", "repurchase", "--week", "2026-W10", "--format", "json")
    assert json.loads(latte.ok(*week).stdout)["window_days"] == 90
    monkeypatch.setenv("LATTE_WINDOW", "30")
    assert json.loads(latte.ok(*week).stdout)["window_days"] == 30
    assert json.loads(latte.ok(*week, "--window", "45").stdout)["window_days"] == 45
    refused = latte(*week, "--window", "0")
    assert refused.exit_code == 1
    assert "--window" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
