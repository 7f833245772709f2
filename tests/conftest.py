"""Shared fixtures: every test gets its own fresh database and a fixed, colourless terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner, Result

from latte_cli import db
from latte_cli.cli.main import app


@pytest.fixture(autouse=True)
def latte_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point LATTE_DB at a new SQLite file and fix agent, zone and terminal for each test."""
    url = f"sqlite:///{tmp_path / 'latte.db'}"
    monkeypatch.setenv("LATTE_DB", url)
    monkeypatch.setenv("LATTE_AGENT", "ana")
    monkeypatch.setenv("LATTE_TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("LATTE_DEBUG", raising=False)
    yield url
    db.dispose_engines()
    db._ready.clear()


@pytest.fixture
def db_url(latte_env: str) -> str:
    return latte_env


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
def latte() -> Latte:
    return Latte()
