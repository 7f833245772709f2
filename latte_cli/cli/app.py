"""The `latte` Typer application, its global options, and the one place errors become exit codes.

Command modules register themselves on `app`; they parse options, call one service and render.
Heavy libraries (sqlmodel, alembic, questionary) are imported inside commands, never here, so
that `latte --help` starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from typer.core import TyperGroup

from latte_cli import __version__, config
from latte_cli.errors import Interrupted, LatteError

if TYPE_CHECKING:
    from sqlmodel import Session


def fail(message: str, code: int) -> typer.Exit:
    """Print one error line on stderr and return the Exit to raise."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


class LatteGroup(TyperGroup):
    """Turns LatteError and Ctrl-C into a message and the documented exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LatteError as error:
            raise fail(error.message, error.exit_code) from None
        except (KeyboardInterrupt, typer.Abort):
            raise fail(
                "Interrupted. Everything completed before the interruption is saved.",
                Interrupted.exit_code,
            ) from None


app = typer.Typer(
    cls=LatteGroup,
    name="latte",
    help="Handle customer complaints with the LATTE model: Listen, Acknowledge, Take action, "
    "Thank, Explain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class Globals:
    """The global options, resolved lazily so that `--help` never touches the database."""

    db_option: str | None = None
    agent_option: str | None = None
    tz_option: str | None = None

    @property
    def db_url(self) -> str:
        return config.database_url(self.db_option)

    @property
    def agent(self) -> str:
        return config.agent_name(self.agent_option)

    @property
    def tz(self) -> ZoneInfo | None:
        return config.time_zone(self.tz_option)

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        from latte_cli.db import open_session

        with open_session(self.db_url, readonly=readonly) as session:
            yield session


def globals_of(ctx: typer.Context) -> Globals:
    root = ctx.find_root()
    if not isinstance(root.obj, Globals):
        root.obj = Globals()
    return root.obj


def _version(value: bool) -> None:
    if value:
        typer.echo(f"latte {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database: a SQLite file path or a URL such as postgresql+psycopg://host/db. "
            "Default: $LATTE_DB, else latte.db in your data folder.",
            show_default=False,
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            help="Who is acting. Default: $LATTE_AGENT, else your login name.",
            show_default=False,
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            help="Time zone to show times in (IANA name). Default: $LATTE_TZ, else local.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Handle customer complaints with the LATTE model."""
    ctx.obj = Globals(db_option=db, agent_option=agent, tz_option=tz)


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty() and os.environ.get("TERM") != "dumb"
