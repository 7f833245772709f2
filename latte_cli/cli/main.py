"""Entry point: registers every command module on the app and runs it."""

from __future__ import annotations

import sys

from latte_cli import config
from latte_cli.cli import (  # noqa: F401  (registers commands)
    advise,
    complaints,
    customers,
    database,
    followups,
    hold,
    io,
    reports,
    search,
    settings,
    team,
)
from latte_cli.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    try:
        app(prog_name="latte")
    except Exception as error:  # the last resort: never show a traceback to a user
        if config.debug():
            raise
        print(
            f"Error: unexpected failure ({type(error).__name__}: {error}). "
            "Run again with LATTE_DEBUG=1 to see details, and please report it.",
            file=sys.stderr,
        )
        sys.exit(1)
