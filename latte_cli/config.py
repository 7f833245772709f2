"""Where latte's settings come from: command-line options first, then environment variables.

Light on purpose: the CLI reads these before it knows whether a command needs the database.
"""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from latte_cli.errors import InvalidValue

ENV_DB = "LATTE_DB"
ENV_AGENT = "LATTE_AGENT"
ENV_TZ = "LATTE_TZ"
ENV_SLA = "LATTE_SLA_HOURS"
DEFAULT_SLA_HOURS = 24.0
MAX_SLA_HOURS = 24.0 * 366


def default_db_path() -> Path:
    """`latte.db` in the user's data directory (created on first use)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("latte", appauthor=False)) / "latte.db"


def database_url(option: str | None = None) -> str:
    """The SQLAlchemy URL to use: `--db`, else `LATTE_DB`, else the default SQLite file.

    A value without a scheme (`name://`) is a path to a SQLite file.
    """
    if option is not None and not option.strip():
        raise InvalidValue("--db is empty. Give a SQLite file path or a database URL.")
    value = option or os.environ.get(ENV_DB) or str(default_db_path())
    if "://" in value:
        return value
    path = Path(value).expanduser().absolute()
    return f"sqlite:///{path}"


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, safe to print or log."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def agent_name(option: str | None = None) -> str:
    """Who is acting: `--agent`, else `LATTE_AGENT`, else the operating-system login name."""
    name = option or os.environ.get(ENV_AGENT)
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    name = name.strip()
    if not name:
        raise InvalidValue("The agent name is empty. Pass --agent NAME or set LATTE_AGENT.")
    if len(name) > 100:
        raise InvalidValue("The agent name is longer than 100 characters. Pass a shorter --agent.")
    return name


def time_zone(option: str | None = None) -> ZoneInfo | None:
    """The zone to show times in: `--tz`, else `LATTE_TZ`, else None (the system's local zone)."""
    name = option or os.environ.get(ENV_TZ)
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue(
            f"Unknown time zone {name!r}. Use an IANA name such as Europe/Paris or UTC."
        ) from None


def sla_hours(option: float | None = None) -> float:
    """The SLA resolution target in hours: `--target`, else `LATTE_SLA_HOURS`, else 24."""
    value: float | str | None = option
    if value is None:
        value = os.environ.get(ENV_SLA) or DEFAULT_SLA_HOURS
    try:
        hours = float(value)
    except ValueError:
        hours = float("nan")
    if not 0 < hours <= MAX_SLA_HOURS:  # also refuses nan
        raise InvalidValue(
            f"The SLA target {value!r} must be more than 0 and at most {MAX_SLA_HOURS:g} hours. "
            f"Fix --target or {ENV_SLA}."
        )
    return hours
