"""Shared fixtures: every test gets its own fresh database and a fixed, colourless terminal.

Tests that touch storage (through `db_url`, `session` or `latte`) run twice: on a SQLite file and
on a PostgreSQL database of a throwaway cluster (tests/pg_cluster.py), started once per session,
or taken from LATTE_TEST_PG_URL when CI started one. Where PostgreSQL is not installed the
PostgreSQL half is skipped with the reason, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlmodel import Session
from typer.testing import CliRunner, Result

from latte_cli import db
from latte_cli.cli.main import app

from . import pg_cluster

STORES = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" in metafunc.fixturenames:
        sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("store", STORES[:1] if sqlite_only else STORES, indirect=True)


class PostgresServer:
    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    given = os.environ.get("LATTE_TEST_PG_URL")
    if given:
        yield PostgresServer(given)
        return
    if not pg_cluster.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI: .ci/run installs Debian's postgresql")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): SQLite only")
    url = pg_cluster.start()
    server = PostgresServer(url)
    try:
        yield server
    finally:
        server.admin.dispose()
        pg_cluster.stop(url)


@pytest.fixture(autouse=True)
def latte_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point LATTE_DB at a new SQLite file, LATTE_CONFIG at a config file that does not exist
    yet, the user's data folder at a new folder, and fix agent, zone and terminal for each
    test."""
    url = f"sqlite:///{tmp_path / 'latte.db'}"
    monkeypatch.setenv("LATTE_DB", url)
    monkeypatch.setenv("LATTE_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("LATTE_AGENT", "ana")
    monkeypatch.setenv("LATTE_TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    # The user's data folder (the texts a refused command keeps, the default database) is the
    # test's own: a text one test leaves must not reach another's run.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("LATTE_DEBUG", raising=False)
    yield url
    db.dispose_engines()
    db._ready.clear()


@pytest.fixture
def store(request: pytest.FixtureRequest, latte_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database URL of this test's store (parametrised: sqlite, postgresql)."""
    if request.param == "sqlite":
        return latte_env
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    monkeypatch.setenv("LATTE_DB", url)
    return url


@pytest.fixture
def db_url(store: str) -> str:
    return store


@pytest.fixture
def sqlite_path(latte_env: str) -> Path:
    """The SQLite file of a test that is about SQLite itself (mark it sqlite_only)."""
    return Path(latte_env.removeprefix("sqlite:///"))


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    with db.open_session(db_url) as session:
        yield session


class Latte:
    """Runs latte commands in-process, as a user would type them."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(app, list(args), input=input, prog_name="latte")

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
        return result


@pytest.fixture
def latte(db_url: str) -> Latte:
    return Latte()
