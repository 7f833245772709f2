"""The `latte` Typer application, its global options, and the one place errors become exit codes.

Command modules register themselves on `app`; they parse options, call one service and render.
Heavy libraries (sqlmodel, alembic, questionary) are imported inside commands, never here, so
that `latte --help` starts fast.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from latte_cli import __version__, config
from latte_cli.errors import Interrupted, LatteError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlmodel import Session


def fail(message: str, code: int) -> typer.Exit:
    """Print one error line on stderr and return the Exit to raise."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


class Misused(typer.BadParameter):
    """A usage error a command finds itself (options that do not go together, one that is
    missing): exit 2, as Click's own (README, "Exit codes")."""


def _is_usage(error: typer.BadParameter) -> bool:
    """A missing argument or option (Click's `MissingParameter`, which Typer does not export
    and, from 0.2x, vendors: found by name), or a `Misused`."""
    return isinstance(error, Misused) or any(
        kind.__name__ == "MissingParameter" for kind in type(error).__mro__
    )


def _not_a_complaint_id(error: typer.BadParameter) -> str | None:
    """One line for a complaint id (an `ID` argument or option) that is not a number, naming
    the value typed and what an id looks like; None for any other value."""
    if error.param is None or error.param.metavar != "ID":
        return None
    errors = getattr(error.__cause__, "errors", None)  # pydantic's, which Typer converts with
    value = errors()[0].get("input") if callable(errors) and errors() else None
    if not isinstance(value, str):
        return None
    hint = error.param.get_error_hint()
    return (
        f"Invalid value for {hint}: {value!r} is not a complaint id. Give its number, e.g. 12 "
        "(`latte list` shows them)"
    )


def _invalid_value(error: typer.BadParameter) -> str:
    """One line for a value Click or Typer could not take (not one of the choices, not a
    number), naming the command's help as the way out."""
    message = _not_a_complaint_id(error) or " ".join(
        error.format_message().replace("Value error, ", "").split()
    )
    command = error.ctx.command_path if error.ctx is not None else "latte"
    return f"{message.rstrip('.')}. See `{command} --help`."


def _without_bool_placeholder(params: list[Any]) -> list[Any]:
    """A flag takes no value: show none in the help (Typer would show `<bool>`)."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


def unwrapped(help_text: str | None) -> str | None:
    """A help text with each paragraph on one line, for rich to wrap at the terminal's width.

    Docstrings are wrapped at 100 columns in the source; rich keeps those line breaks, so at 80
    columns a paragraph broke after a few words (docs/architecture.md, "80 columns").
    """
    if not help_text:
        return help_text
    paragraphs = inspect.cleandoc(help_text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


class VocabularyHelp(TyperCommand):
    """A command whose option help lists vocabulary values: `{channel}` in a help text becomes
    "phone, email … or other", read when the help is shown, so `latte --help` reads no file."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from latte_cli import vocabulary

        try:
            globals_of(ctx).settings()  # the organisation's vocabulary file, if one is set
            fill = {kind: vocabulary.listing(kind) for kind in vocabulary.KINDS}
        except LatteError:  # a broken setting is reported when the command runs, not here
            vocabulary.use(lambda: None)
            fill = {kind: vocabulary.listing(kind) for kind in vocabulary.KINDS}
        for param in self.get_params(ctx):
            help_text = getattr(param, "help", None)
            if isinstance(help_text, str) and "{" in help_text:
                param.help = help_text.format_map(fill)  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)


class LatteGroup(TyperGroup):
    """Turns LatteError and Ctrl-C into a message and the documented exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LatteError as error:
            raise fail(error.message, error.exit_code) from None
        except typer.BadParameter as error:
            if _is_usage(error):
                raise  # Click shows it with the usage, exit 2
            # An invalid value, as latte's own checks refuse one: one line, exit 1 (README,
            # "Exit codes"; Click would exit 2, its code for every bad parameter).
            raise fail(_invalid_value(error), 1) from None
        except (KeyboardInterrupt, typer.Abort):
            raise fail(
                "Interrupted. Everything completed before the interruption is saved.",
                Interrupted.exit_code,
            ) from None

    def get_params(self, ctx: Any) -> list[Any]:
        return _without_bool_placeholder(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            command.help = unwrapped(command.help)
        if command is not None and not isinstance(command, LatteGroup):
            _without_bool_placeholder(command.get_params(ctx))
        return command


app = typer.Typer(
    cls=LatteGroup,
    name="latte",
    help="Handle customer complaints with the LATTE model: Listen, Acknowledge, Take action, "
    "Thank, Explain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class Globals:
    """The global options; settings are resolved when a command first asks, so that `--help`
    reads neither the config file nor the database."""

    db_option: str | None = None
    agent_option: str | None = None
    tz_option: str | None = None
    # A writing command whose reading steps may come first (the guided flow): its reading
    # sessions create a missing database too. Reading commands never create one.
    creates: bool = False
    _base: config.Settings | None = field(default=None, repr=False)

    def settings(self, **command_flags: object | None) -> config.Settings:
        """The settings (see latte_cli/config.py), with this command's own flags on top."""
        if self._base is None:
            self._base = config.Settings.resolve(
                {"db": self.db_option, "agent": self.agent_option, "tz": self.tz_option}
            )
            from latte_cli import vocabulary

            base = self._base
            vocabulary.use(lambda: base.vocabulary)
        return self._base.with_flags(**command_flags) if command_flags else self._base

    @property
    def db_url(self) -> str:
        return self.settings().db_url

    @property
    def busy_timeout_ms(self) -> int:
        return int(self.settings().busy_timeout * 1000)

    @property
    def agent(self) -> str:
        return self.settings().agent

    @property
    def tz(self) -> ZoneInfo:
        return self.settings().tz

    @contextmanager
    def session(self, *, readonly: bool = False, create: bool | None = None) -> Iterator[Session]:
        """One command's session. A missing database is created by writing commands only
        (`create=False`: a writing command that only changes existing rows creates nothing)."""
        from latte_cli.db import open_session

        with open_session(
            self.db_url,
            readonly=readonly,
            busy_timeout_ms=self.busy_timeout_ms,
            create=self.creates or (not readonly if create is None else create),
        ) as session:
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
            metavar="PATH|URL",
            help="Database: a SQLite file path or a URL such as postgresql+psycopg://host/db. "
            "Default: $LATTE_DB, the config file, else latte.db in your data folder.",
            show_default=False,
        ),
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            metavar="NAME",
            help="Who is acting. Default: $LATTE_AGENT, the config file, else your login name.",
            show_default=False,
        ),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            metavar="ZONE",
            help="Time zone to show and read times in (IANA name, or local). Default: "
            "$LATTE_TZ, the config file, else local.",
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
    return sys.stdin.isatty() and not config.dumb_terminal()
