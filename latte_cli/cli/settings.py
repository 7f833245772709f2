"""`latte config`: the settings, where each came from, and the config file that keeps them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from latte_cli import config
from latte_cli.cli import options
from latte_cli.cli.app import LatteGroup, app, globals_of

config_app = typer.Typer(
    cls=LatteGroup,
    no_args_is_help=True,
    help="Settings and the config file: show, set, path.",
)
app.add_typer(config_app, name="config")


def _complete_key(incomplete: str) -> list[str]:
    return [key for key in config.KEYS if key.startswith(incomplete)]


def _shown(setting: config.Setting) -> Any:
    """The value as people and scripts read it: a password hidden, a zone by its name."""
    value = setting.value
    if setting.key == "db":
        return config.redact_url(value)
    if setting.key == "tz":
        return str(value.key)
    if setting.key == "hours":
        return value.text if value is not None else None
    if setting.key == "phrases":
        return str(value) if value is not None else None
    if setting.key == "retention":
        return value.text if value is not None else "none"
    if setting.key == "retention_by_category":
        return ", ".join(f"{name}={p.text if p else 'none'}" for name, p in value.items())
    if setting.key == "deadlines":
        return value.name
    if setting.key == "holidays":
        return ", ".join(sorted(day.isoformat() for day in value))
    return value


def _where(setting: config.Setting) -> str:
    return "" if setting.source is config.Source.DEFAULT else setting.origin


@config_app.command("show")
def show(ctx: typer.Context, as_json: options.Json = False) -> None:
    """Show every setting, its value and where it came from: flag, env, file or default.

    Example: latte config show --json
    """
    from latte_cli.cli import render

    settings = globals_of(ctx).settings().all()
    if as_json:
        render.print_json(
            [
                {
                    "key": s.key,
                    "value": _shown(s),
                    "source": s.source.value,
                    "from": s.origin if s.source is not config.Source.DEFAULT else None,
                }
                for s in settings
            ]
        )
        return
    table = render.narrow_table()
    table.add_column("Key", no_wrap=True)
    table.add_column("Value", overflow="fold")
    table.add_column("Source", no_wrap=True)
    table.add_column("From", overflow="fold")
    for s in settings:
        shown = _shown(s)
        table.add_row(
            s.key,
            render.plain("—" if shown is None else str(shown)),
            s.source.value,
            render.plain(_where(s)),
        )
    render.console.print(table)


@config_app.command("set")
def set_(
    key: Annotated[
        str,
        typer.Argument(
            metavar="KEY",
            help=f"One of: {', '.join(config.KEYS)}.",
            autocompletion=_complete_key,
        ),
    ],
    value: Annotated[str, typer.Argument(metavar="VALUE", help="The new value.")],
) -> None:
    """Check VALUE and write it to the config file for KEY (env vars and flags still win).

    Example: latte config set tz Europe/Paris
    """
    path = config.write_setting(key, value)
    typer.echo(f"Set {key} in {path}.")
    variable = config.set_in_environment(key)
    if variable is not None:
        typer.echo(f"Note: {variable} is set in this shell and takes precedence.", err=True)


@config_app.command("path")
def path() -> None:
    """Print where the config file is (LATTE_CONFIG, else your config folder).

    Example: latte config path
    """
    typer.echo(str(config.config_path()))
