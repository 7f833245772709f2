"""latte's settings: every value a command uses, and where it came from.

Each setting is resolved once, in this order: a command-line flag, else an environment
variable, else the config file (TOML, `latte config path` shows where), else a default.
`Settings.resolve(flags)` reads the environment and the file once; each value is checked by the
same validator whatever its source (and by `latte config set` before it writes), and is checked
when first used, so a bad report setting never stops an agent from recording a complaint. The
rest of latte receives values from here and never reads the environment itself.

Light on purpose: the CLI imports this module before it knows whether a command needs the
database, so zoneinfo, tomllib, platformdirs and getpass are imported only when a value needs
them (and keys and settings are named tuples, cheaper to define than dataclasses).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from latte_cli.errors import InvalidValue

if TYPE_CHECKING:
    from datetime import date
    from zoneinfo import ZoneInfo

    from latte_cli.deadlines import Deadlines, Policy
    from latte_cli.reports.hours import Schedule

ENV_CONFIG = "LATTE_CONFIG"
ENV_DB = "LATTE_DB"
ENV_AGENT = "LATTE_AGENT"
ENV_TZ = "LATTE_TZ"
ENV_SLA = "LATTE_SLA_HOURS"
ENV_FOLLOWUP_DAYS = "LATTE_FOLLOWUP_DAYS"
ENV_HOURS = "LATTE_HOURS"
ENV_PHRASES = "LATTE_PHRASES"
ENV_BUSY_TIMEOUT = "LATTE_BUSY_TIMEOUT"
ENV_VOCABULARY = "LATTE_VOCABULARY"
ENV_RETENTION = "LATTE_RETENTION"
ENV_RETENTION_BY_CATEGORY = "LATTE_RETENTION_BY_CATEGORY"
ENV_DEADLINES = "LATTE_DEADLINES"
ENV_HOLIDAYS = "LATTE_HOLIDAYS"
# The editor: git's lookup order without git's own GIT_EDITOR (docs/architecture.md, settings).
ENV_VISUAL = "VISUAL"
ENV_EDITOR = "EDITOR"
DEFAULT_EDITOR = "vi"
ENV_PHRASE_NAME = "LATTE_PHRASE_NAME"
PHRASE_NAMES = ("first", "full", "none")
# The advice at Take action (docs/metrics.md, "Advice for the agent").
ENV_ADVICE_MONTHS = "LATTE_ADVICE_MONTHS"
ENV_ADVICE_MIN_N = "LATTE_ADVICE_MIN_N"
ENV_WINDOW = "LATTE_WINDOW"
DEFAULT_ADVICE_MONTHS = 12
DEFAULT_ADVICE_MIN_N = 30
DEFAULT_WINDOW_DAYS = 90

DEFAULT_SLA_HOURS = 24.0
MAX_SLA_HOURS = 24.0 * 366
DEFAULT_FOLLOWUP_DAYS = 3
MAX_FOLLOWUP_DAYS = 365
DEFAULT_BUSY_TIMEOUT = 15.0
LOCAL = "local"


class Source(StrEnum):
    FLAG = "flag"
    ENV = "env"
    FILE = "file"
    DEFAULT = "default"


class Key(NamedTuple):
    """One setting: its name in the config file, its variable, its flag and its validator."""

    name: str
    env: str
    flag: str | None
    validate: Callable[[str], Any]
    default: Callable[[], str]
    numeric: bool = False
    # Variables read, in order, when `env` is not set (the editor: VISUAL, then EDITOR).
    env_also: tuple[str, ...] = ()


class Setting(NamedTuple):
    """A resolved setting: the text as given, its checked value, and where it came from."""

    key: str
    text: str
    value: Any
    source: Source
    origin: str  # the flag, variable or file that gave it; "default" otherwise


# Validators: text in, value out, or ValueError with the reason and an example of a good value.


def _database_url(text: str) -> str:
    value = text.strip()
    if not value:
        raise ValueError("is empty. Give a SQLite file path or a database URL.")
    if "://" in value:
        _check_database_url(value)
        return value
    return f"sqlite:///{Path(value).expanduser().absolute()}"


# The databases latte stores into (docs/architecture.md, "Storage"), by URL scheme, the
# driver after a `+` aside (`postgresql+psycopg`).
BACKENDS = ("sqlite", "postgresql")


def _check_database_url(url: str) -> None:
    """Refuse a URL latte cannot store into, read as text (no SQLAlchemy at start-up): another
    kind of database, or SQLite without a file (`sqlite://`, `sqlite:///`, `:memory:`), whose
    database is gone when the command ends, so every write would succeed and keep nothing."""
    scheme, _, rest = url.partition("://")
    backend = scheme.split("+", 1)[0].lower()
    if backend not in BACKENDS:
        raise ValueError(
            f"uses {scheme}://, which latte cannot store into. Give a SQLite file path or a "
            "postgresql+psycopg://USER@HOST/DATABASE URL."
        )
    database = rest.partition("?")[0].removeprefix("/")
    if backend == "sqlite" and database in ("", ":memory:"):
        raise ValueError(
            "names no file: an in-memory database keeps nothing after the command. Give a "
            "file path."
        )


def _agent(text: str) -> str:
    name = text.strip()
    if not name:
        raise ValueError("is empty. Give the agent's name.")
    if len(name) > 100:
        raise ValueError("is longer than 100 characters. Give a shorter agent name.")
    return name


def parse_time_zone(text: str) -> ZoneInfo:
    """An IANA zone, or the local zone for "local"; ValueError for anything else."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = text.strip()
    if name.lower() == LOCAL:
        return local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            "is not a time zone. Use an IANA name such as Europe/Paris or UTC, or local."
        ) from None


def _sla_hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        hours = float("nan")
    if not 0 < hours <= MAX_SLA_HOURS:  # also refuses nan
        raise ValueError(f"must be more than 0 and at most {MAX_SLA_HOURS:g} hours, e.g. 24.")
    return hours


def _followup_days(text: str) -> int:
    try:
        days = int(text.strip())
    except ValueError:
        days = -1
    if not 0 <= days <= MAX_FOLLOWUP_DAYS:
        raise ValueError(f"must be a whole number of days from 0 to {MAX_FOLLOWUP_DAYS}, e.g. 3.")
    return days


def _hours(text: str) -> Schedule | None:
    from latte_cli.reports.hours import parse_schedule

    if not text.strip():
        return None
    try:
        return parse_schedule(text)
    except InvalidValue as error:
        raise ValueError(error.message) from None


def _phrases(text: str) -> Path | None:
    if not text.strip():
        return None
    path = Path(text.strip()).expanduser()
    if not path.is_file():
        raise ValueError("is not a file. Give the path of a phrase library (TOML).")
    return path


def _busy_timeout(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1
    if not 0 <= seconds <= 3600:
        raise ValueError("is not a number of seconds from 0 to 3600. Give it like 15 or 0.5.")
    return seconds


def _vocabulary(text: str) -> Path | None:
    """The organisation's vocabulary file, checked by loading it (docs/architecture.md)."""
    from latte_cli.vocabulary import load

    if not text.strip():
        return None
    path = Path(text.strip()).expanduser()
    if not path.is_file():
        raise ValueError("is not a file. Give the path of a vocabulary file (TOML).")
    try:
        load(path)
    except InvalidValue as error:
        raise ValueError(error.message.removesuffix(" Fix the file.") + ".") from None
    return path


# Retention (docs/architecture.md, "Customer data"): how long a resolved complaint keeps its
# free text and its customer's identity. A period is whole years, months, weeks and days
# ("6y", "18m", "1y6m", "90d"); "none" keeps forever. `retention` applies to every category
# that `retention_by_category` does not name ("delivery=3y, billing=10y", or a TOML table).

MAX_RETENTION_YEARS = 200
_PERIOD_PART = re.compile(r"(\d{1,5})\s*([ymwd])")
# Keys whose value may be written as a TOML table of text values (`[key]` / `name = "value"`).
TABLE_KEYS = ("retention_by_category",)


class Period(NamedTuple):
    """A retention period: calendar months (years are 12) and days, with the text given."""

    months: int
    days: int
    text: str


def parse_period(text: str) -> Period | None:
    """A retention period; None for "none" (keep forever); ValueError otherwise."""
    value = text.strip().lower().replace(" ", "")
    if value in ("", "none"):
        return None
    parts = _PERIOD_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(
            "is not a retention period. Give whole years, months, weeks or days such as 6y, "
            "18m, 1y6m or 90d, or none to keep forever."
        )
    units = {"y": 0, "m": 0, "w": 0, "d": 0}
    for number, unit in parts:
        units[unit] += int(number)
    months = units["y"] * 12 + units["m"]
    days = units["w"] * 7 + units["d"]
    if months + days == 0 or months + days / 31 > MAX_RETENTION_YEARS * 12:
        raise ValueError(
            f"must be at least a day and at most {MAX_RETENTION_YEARS} years, e.g. 6y."
        )
    return Period(months, days, text.strip())


def _retention_by_category(text: str) -> dict[str, Period | None]:
    periods: dict[str, Period | None] = {}
    for item in filter(None, (part.strip() for part in re.split(r"[,;\n]", text))):
        category, equals, period = item.partition("=")
        category = category.strip().strip('"').lower()
        if not equals or not category:
            raise ValueError(
                f"has {item!r}, not CATEGORY=PERIOD. Give it like delivery=3y, billing=10y."
            )
        if category in periods:
            raise ValueError(f"names the category {category!r} twice. Give each category once.")
        try:
            periods[category] = parse_period(period.strip().strip('"'))
        except ValueError as error:
            raise ValueError(f"gives {category} {period.strip()!r}, which {error}") from None
    return periods


# Deadlines (docs/metrics.md, "Deadlines"): a preset's name, or a policy file (TOML) that may
# extend one; holidays are dates, or a file of them, one a line.

PACKAGED_DEADLINES = Path(__file__).resolve().parent / "data" / "deadlines.toml"


def deadline_presets() -> dict[str, Policy]:
    """The shipped deadline policies by name (`standard` first)."""
    import tomllib

    from latte_cli.deadlines import parse_presets

    with PACKAGED_DEADLINES.open("rb") as handle:
        return parse_presets(tomllib.load(handle), source=str(PACKAGED_DEADLINES))


def _deadlines(text: str) -> Policy:
    import tomllib

    from latte_cli.deadlines import STANDARD, parse_policy

    presets = deadline_presets()
    value = text.strip() or STANDARD
    if value.lower() in presets:
        return presets[value.lower()]
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError(
            f"is neither a preset ({', '.join(presets)}) nor a file. Give a preset's name or "
            "the path of a deadline policy (TOML)."
        )
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"cannot be read as TOML ({error}). Fix the file.") from None
    try:
        return parse_policy(data, name=path.stem, source=str(path), presets=presets)
    except InvalidValue as error:
        raise ValueError(f"is a policy file that cannot be used: {error.message}") from None


def _holidays(text: str) -> frozenset[date]:
    from datetime import date

    value = text.strip()
    where = ""
    if value and not re.match(r"^\d{4}-\d{2}-\d{2}\b", value):
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(
                "is neither a list of dates nor a file. Give dates like 2026-12-25, 2026-12-26 "
                "or the path of a file with one date a line."
            )
        try:
            value = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot be read ({error}). Fix the file's permissions.") from None
        where = f" (in {path})"
        value = "\n".join(line.split("#")[0] for line in value.splitlines())
    days: set[date] = set()
    for item in filter(None, re.split(r"[\s,;]+", value)):
        try:
            days.add(date.fromisoformat(item))
        except ValueError:
            raise ValueError(
                f"has {item!r}{where}, which is not a date. Give dates like 2026-12-25."
            ) from None
    return frozenset(days)


def table_text(table: Mapping[str, object]) -> str:
    """A TOML table of a TABLE_KEYS key as the setting's text ("name=value, name=value")."""
    return ", ".join(f"{name}={value}" for name, value in table.items())


# The writing settings: the editor for --edit and the guided flow's editor key, and how the
# phrase library's {name} addresses the customer (docs/architecture.md, settings).


def _editor(text: str) -> str:
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ValueError(
            f"cannot be read as a command ({error}). Give it like vim or 'code -w'."
        ) from None
    if not words:
        raise ValueError("is empty. Give an editor command, e.g. nano, vim or 'code --wait'.")
    return text.strip()


def _phrase_name(text: str) -> str:
    value = text.strip().lower()
    if value not in PHRASE_NAMES:
        raise ValueError(f"must be one of {', '.join(PHRASE_NAMES)}, e.g. first.")
    return value


def _whole(low: int, high: int, example: int, unit: str) -> Callable[[str], int]:
    def validate(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise ValueError(
                f"must be a whole number of {unit} from {low} to {high}, e.g. {example}."
            )
        return value

    return validate


def default_db_path() -> Path:
    """`latte.db` in the user's data directory (created on first use)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("latte", appauthor=False)) / "latte.db"


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# The keys of the config file, in the order `latte config show` lists them.
KEYS: dict[str, Key] = {
    key.name: key
    for key in (
        Key("db", ENV_DB, "--db", _database_url, lambda: str(default_db_path())),
        Key("agent", ENV_AGENT, "--agent", _agent, _login_name),
        Key("tz", ENV_TZ, "--tz", parse_time_zone, lambda: LOCAL),
        Key("sla_hours", ENV_SLA, "--target", _sla_hours, lambda: f"{DEFAULT_SLA_HOURS:g}",
            numeric=True),
        Key("followup_days", ENV_FOLLOWUP_DAYS, "--followup-days", _followup_days,
            lambda: str(DEFAULT_FOLLOWUP_DAYS), numeric=True),
        Key("hours", ENV_HOURS, "--hours", _hours, lambda: ""),
        Key("phrases", ENV_PHRASES, None, _phrases, lambda: ""),
        Key("busy_timeout", ENV_BUSY_TIMEOUT, None, _busy_timeout,
            lambda: f"{DEFAULT_BUSY_TIMEOUT:g}", numeric=True),
        Key("vocabulary", ENV_VOCABULARY, None, _vocabulary, lambda: ""),
        Key("retention", ENV_RETENTION, None, parse_period, lambda: "none"),
        Key("retention_by_category", ENV_RETENTION_BY_CATEGORY, None, _retention_by_category,
            lambda: ""),
        Key("editor", ENV_VISUAL, None, _editor, lambda: DEFAULT_EDITOR,
            env_also=(ENV_EDITOR,)),
        Key("phrase_name", ENV_PHRASE_NAME, None, _phrase_name, lambda: "first"),
        Key("deadlines", ENV_DEADLINES, None, _deadlines, lambda: "standard"),
        Key("holidays", ENV_HOLIDAYS, None, _holidays, lambda: ""),
        Key("window", ENV_WINDOW, "--window", _whole(1, 3650, 90, "days"),
            lambda: str(DEFAULT_WINDOW_DAYS), numeric=True),
        Key("advice_months", ENV_ADVICE_MONTHS, None, _whole(1, 120, 12, "months"),
            lambda: str(DEFAULT_ADVICE_MONTHS), numeric=True),
        Key("advice_min_n", ENV_ADVICE_MIN_N, None, _whole(1, 1_000_000, 30, "complaints"),
            lambda: str(DEFAULT_ADVICE_MIN_N), numeric=True),
    )
}  # fmt: skip


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The config file: LATTE_CONFIG, else config.toml in the user's config folder."""
    environ = os.environ if environ is None else environ
    given = environ.get(ENV_CONFIG, "").strip()
    if given:
        return Path(given).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("latte", appauthor=False)) / "config.toml"


FILE_FIX = "Fix that line by hand, or move the file away to start again."


def read_config_file(path: Path) -> dict[str, str]:
    """The file's settings as text, or InvalidValue naming the file and the fix.

    A missing file is an empty one. Values must be strings or numbers, keys those of KEYS.
    """
    import tomllib

    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InvalidValue(
            f"The config file {path} cannot be read ({reason}). Fix its permissions, or point "
            f"{ENV_CONFIG} at another file."
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise InvalidValue(
            f"The config file {path} is not valid TOML ({error}). {FILE_FIX}"
        ) from None
    found: dict[str, str] = {}
    for key, value in data.items():
        if key not in KEYS:
            raise InvalidValue(
                f"The config file {path} has an unknown key {key!r}; known keys: "
                f"{', '.join(KEYS)}. Remove or rename that line."
            )
        if (
            key in TABLE_KEYS
            and isinstance(value, dict)
            and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value.values())
        ):
            value = table_text(value)
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidValue(
                f"The config file {path}: {key} must be a string or a number, not "
                f"{type(value).__name__}. {FILE_FIX}"
            )
        found[key] = str(value)
    return found


def _shown(key: str, text: str) -> str:
    """A setting's value as an error message quotes it: a database URL without its password."""
    return repr(redact_url(text) if key == "db" else text)


def _problem(setting: Setting, reason: str) -> InvalidValue:
    shown = _shown(setting.key, setting.text)
    if setting.source is Source.FLAG:
        given = f" {shown}" if setting.text.strip() else ""
        return InvalidValue(f"{setting.origin}{given} {reason}")
    if setting.source is Source.ENV:
        variable = setting.origin
        return InvalidValue(f"{variable}={shown} {reason} Fix or unset {variable}.")
    if setting.source is Source.FILE:
        return InvalidValue(
            f"{setting.key} = {shown} in the config file {setting.origin} {reason} "
            f"Fix it with `latte config set {setting.key} VALUE`."
        )
    return InvalidValue(f"The default {setting.key} {shown} {reason}")


def check(key: str, text: str) -> Any:
    """`text` as a value of setting `key`, or InvalidValue (what `latte config set` runs)."""
    if key not in KEYS:
        raise InvalidValue(f"Unknown setting {key!r}. Choose one of: {', '.join(KEYS)}.")
    try:
        return KEYS[key].validate(text)
    except ValueError as error:
        raise InvalidValue(f"{key} {_shown(key, text)} {error} Nothing was written.") from None


@dataclass(frozen=True)
class Settings:
    """The settings of one command, each checked on first use (see the module docstring)."""

    given: Mapping[str, tuple[str, Source, str]] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        flags: Mapping[str, object | None] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Flag > environment > config file > default for every key (flags: key -> value)."""
        environ = os.environ if environ is None else environ
        path = config_path(environ)
        in_file = read_config_file(path)
        given: dict[str, tuple[str, Source, str]] = {}
        for name, key in KEYS.items():
            if name in in_file:
                given[name] = (in_file[name], Source.FILE, str(path))
            variable = _first_set(environ, key)
            if variable is not None:
                given[name] = (environ[variable], Source.ENV, variable)
        return cls(given).with_flags(**(flags or {}))

    def with_flags(self, **flags: object | None) -> Settings:
        """These settings with a command's own flags on top (None: the flag was not given)."""
        given = dict(self.given)
        for name, value in flags.items():
            if value is not None:
                given[name] = (_flag_text(value), Source.FLAG, KEYS[name].flag or name)
        return Settings(given)

    def setting(self, key: str) -> Setting:
        """The checked setting `key`, with its source; InvalidValue naming the source if bad."""
        text, source, origin = self.given.get(key) or (KEYS[key].default(), Source.DEFAULT, "")
        setting = Setting(key, text, None, source, origin or "default")
        try:
            value = KEYS[key].validate(text)
        except ValueError as error:
            raise _problem(setting, str(error)) from None
        return Setting(key, text, value, source, setting.origin)

    def all(self) -> list[Setting]:
        return [self.setting(key) for key in KEYS]

    @cached_property
    def db_url(self) -> str:
        """The SQLAlchemy URL; a value without a scheme (`name://`) is a SQLite file path."""
        url: str = self.setting("db").value
        return url

    @cached_property
    def agent(self) -> str:
        name: str = self.setting("agent").value
        return name

    @cached_property
    def tz(self) -> ZoneInfo:
        """The zone every command shows and reads times in ("local" resolved, see local_zone)."""
        zone: ZoneInfo = self.setting("tz").value
        return zone

    @cached_property
    def sla_hours(self) -> float:
        hours: float = self.setting("sla_hours").value
        return hours

    @cached_property
    def followup_days(self) -> int:
        days: int = self.setting("followup_days").value
        return days

    @cached_property
    def hours(self) -> Schedule | None:
        """The business-hours schedule, None for calendar hours."""
        schedule: Schedule | None = self.setting("hours").value
        return schedule

    @cached_property
    def phrases(self) -> Path | None:
        """The phrase library file, None for the one latte ships."""
        path: Path | None = self.setting("phrases").value
        return path

    @cached_property
    def busy_timeout(self) -> float:
        """Seconds a SQLite writer waits for the write lock."""
        seconds: float = self.setting("busy_timeout").value
        return seconds

    @cached_property
    def vocabulary(self) -> Path | None:
        """The organisation's vocabulary file, None for the one latte ships."""
        path: Path | None = self.setting("vocabulary").value
        return path

    @cached_property
    def retention(self) -> Period | None:
        """How long resolved complaints keep personal data; None keeps it forever."""
        period: Period | None = self.setting("retention").value
        return period

    @cached_property
    def retention_by_category(self) -> dict[str, Period | None]:
        """Retention periods of the categories that have their own (lower-case names)."""
        periods: dict[str, Period | None] = self.setting("retention_by_category").value
        return periods

    @cached_property
    def editor(self) -> Setting:
        """The editor command, with where it came from (an error names what to change)."""
        return self.setting("editor")

    @cached_property
    def holidays(self) -> frozenset[date]:
        """Days on which business time stands still (deadlines; docs/metrics.md)."""
        days: frozenset[date] = self.setting("holidays").value
        return days

    @cached_property
    def deadlines(self) -> Deadlines:
        """The deadline policy in force, with the business clock it counts on: the `hours`
        schedule (Mon-Fri 09:00-17:00 when none is set), the zone and the holidays."""
        from latte_cli.deadlines import Deadlines
        from latte_cli.reports.hours import DEFAULT_BUSINESS_HOURS, BusinessClock, parse_schedule

        policy: Policy = self.setting("deadlines").value
        if not policy.business:
            return Deadlines(policy)
        schedule = self.hours or parse_schedule(DEFAULT_BUSINESS_HOURS)
        return Deadlines(policy, BusinessClock(schedule, self.tz, self.holidays))

    @cached_property
    def phrase_name(self) -> str:
        """How phrases name the customer: first (name), full (name) or none."""
        style: str = self.setting("phrase_name").value
        return style

    @cached_property
    def window(self) -> int:
        """The repurchase window W in days (docs/metrics.md, Outcomes): reports and advice."""
        days: int = self.setting("window").value
        return days

    @cached_property
    def advice_months(self) -> int:
        """How many months of first resolutions the advice looks back over."""
        months: int = self.setting("advice_months").value
        return months

    @cached_property
    def advice_min_n(self) -> int:
        """The decided outcomes an action kind needs before the advice shows it."""
        n: int = self.setting("advice_min_n").value
        return n


def _flag_text(value: object) -> str:
    """A flag's or a checked value's text: 48 for 48.0, every digit of any other number."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def local_zone(environ: Mapping[str, str] | None = None) -> ZoneInfo:
    """The system's zone as a ZoneInfo: TZ, else the zone /etc/localtime links to, else UTC."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    environ = os.environ if environ is None else environ
    env = environ.get("TZ", "").lstrip(":")
    candidates = [env] if env else []
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for candidate in candidates:
        try:
            return ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`, safe to print or log."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def sla_hours(option: float | None = None) -> float:
    """The SLA resolution target in hours: `--target`, else LATTE_SLA_HOURS, the file, or 24."""
    return Settings.resolve({"sla_hours": option}).sla_hours


def _first_set(environ: Mapping[str, str], key: Key) -> str | None:
    """The first of the key's variables set (not blank) in `environ`."""
    return next((v for v in (key.env, *key.env_also) if environ.get(v, "").strip()), None)


def set_in_environment(key: str) -> str | None:
    """The variable that overrides the file's `key` in this environment, if it is set."""
    return _first_set(os.environ, KEYS[key])


def debug() -> bool:
    """LATTE_DEBUG set: let unexpected errors show their traceback."""
    return bool(os.environ.get("LATTE_DEBUG"))


def no_color() -> bool:
    """NO_COLOR set (https://no-color.org): no escape sequences at all."""
    return os.environ.get("NO_COLOR", "") != ""


def dumb_terminal() -> bool:
    """TERM=dumb: a terminal that cannot draw prompts."""
    return os.environ.get("TERM") == "dumb"


# The config file -----------------------------------------------------------------------------


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _toml_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def toml_line(key: str, text: str) -> str:
    """`key = value` for the file: a number bare, anything else a TOML basic string."""
    if KEYS[key].numeric and _reads_back(f"{key} = {text}", {key: text}):
        return f"{key} = {text}"
    return f'{key} = "{"".join(_toml_char(c) for c in text)}"'


def write_setting(key: str, text: str, environ: Mapping[str, str] | None = None) -> Path:
    """Check `text` for `key` and write it to the config file atomically; returns the file.

    The rest of the file is kept (as its keys and values; comments are not kept). On any
    refusal the file is left as it was.
    """
    value = check(key, text)
    if KEYS[key].numeric:
        text = _flag_text(value)
    elif (
        (key == "db" and "://" not in text)
        or (key in ("phrases", "vocabulary") and value is not None)
        or (key == "deadlines" and text.strip().lower() not in ("", *deadline_presets()))
        or (key == "holidays" and text.strip() and not re.match(r"^\d{4}-", text.strip()))
    ):
        # A path is kept absolute: the file is read from any folder.
        text = str(Path(text.strip()).expanduser().absolute())
    path = config_path(environ)
    values = read_config_file(path)
    values[key] = text
    body = "".join(toml_line(name, values[name]) + "\n" for name in KEYS if name in values)
    if not _reads_back(body, values):
        raise InvalidValue(
            f"{key} {text!r} cannot be stored in a TOML file (it has characters that are not "
            "text). Give it without them; nothing was written."
        )
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("# latte settings; `latte config show` lists them with their source.\n")
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise InvalidValue(
            f"Cannot write the config file {path}: {error.strerror or error}. Point "
            f"{ENV_CONFIG} at a writable file."
        ) from None
    return path


def _reads_back(body: str, values: Mapping[str, str]) -> bool:
    import tomllib

    try:
        read = tomllib.loads(body)
    except tomllib.TOMLDecodeError:
        return False
    return {name: str(value) for name, value in read.items()} == dict(values)
