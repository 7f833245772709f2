"""Import profiles: the options of `latte import` kept in a TOML file (docs/architecture.md,
"Batch import"). A profile says what the flags say; flags given on the command line win.

    kind = "complaints"
    format = "csv"            # or "jsonl"
    encoding = "utf-8"
    zone = "UTC"
    date_formats = ["%m/%d/%Y"]
    decimal_mark = ","        # amounts like 1.234,50
    allow_dates_from = "1990-01-01"

    [map]                     # SOURCE column = FIELD, or a list of fields
    "Complaint ID" = "external_id"
    "Issue" = ["summary", "category"]

    [set]                     # FIELD = VALUE where the file has none
    severity = "medium"

    [values.channel]          # FIELD: SOURCE value = TARGET value (case and spaces ignored)
    "Postal mail" = "other"

A profile named without a path (`--profile cfpb`) is one shipped in latte_cli/data/profiles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latte_cli import outfiles
from latte_cli.decimal_marks import DECIMAL_MARKS
from latte_cli.errors import InvalidValue
from latte_cli.importer.fields import date_format_problem, normalise, value_key

SHIPPED = Path(__file__).resolve().parent.parent / "data" / "profiles"
KEYS = frozenset(
    {
        "kind",
        "format",
        "encoding",
        "zone",
        "date_formats",
        "decimal_mark",
        "allow_dates_from",
        "map",
        "set",
        "values",
    }
)


@dataclass
class Profile:
    """The options a profile gives; empty ones leave the defaults."""

    kind: str | None = None
    format: str | None = None
    encoding: str | None = None
    zone: str | None = None
    date_formats: tuple[str, ...] = ()
    decimal_mark: str | None = None
    allow_dates_from: str | None = None
    mapping: tuple[tuple[str, str], ...] = ()
    # The loaded profile's pairs, used where the file has the column (see `merge`).
    profile_mapping: tuple[tuple[str, str], ...] = ()
    constants: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)


def shipped_names() -> list[str]:
    return sorted(p.stem for p in SHIPPED.glob("*.toml"))


def find(name: str) -> Path:
    """The profile file `name`: a path, else a shipped profile of that name."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = SHIPPED / f"{path.stem if path.suffix == '.toml' else name}.toml"
    if "/" not in name and shipped.is_file():
        return shipped
    raise InvalidValue(
        f"--profile {name}: no such file, and no shipped profile of that name. "
        f"Shipped: {', '.join(shipped_names())}."
    )


def load(name: str) -> Profile:
    """Read a profile; a file that is not one raises InvalidValue naming what is wrong."""
    import tomllib  # here, not at the top: `latte --help` loads the CLI modules

    path = find(name)
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidValue(f"The profile {path} cannot be read ({error}). Fix the file.") from None
    return _profile(path, data)


def _bad(path: Path, what: str) -> InvalidValue:
    return InvalidValue(f"The profile {path}: {what}. Fix the file.")


def _text(path: Path, data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad(path, f"{key} must be a text")
    return value.strip()


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _bad(path, f"[{key}] must be a table")
    return value


def _profile(path: Path, data: dict[str, Any]) -> Profile:
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise _bad(path, f"unknown key {unknown[0]!r} (keys: {', '.join(sorted(KEYS))})")
    formats = data.get("date_formats", [])
    if not isinstance(formats, list) or not all(isinstance(f, str) and f for f in formats):
        raise _bad(path, "date_formats must be a list of strftime patterns")
    for pattern in formats:
        problem = date_format_problem(pattern)
        if problem:
            raise _bad(path, f"date_formats {pattern!r} cannot be used: {problem}")
    mapping: list[tuple[str, str]] = []
    for source, targets in _table(path, data, "map").items():
        for target in targets if isinstance(targets, list) else [targets]:
            if not isinstance(target, str) or not target.strip():
                raise _bad(path, f"[map] {source!r} must name a field or a list of fields")
            mapping.append((source, normalise(target)))
    constants: dict[str, str] = {}
    for name, value in _table(path, data, "set").items():
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
            raise _bad(path, f"[set] {name} must be a text")
        constants[normalise(name)] = str(value).strip()
    values: dict[str, dict[str, str]] = {}
    for name, table in _table(path, data, "values").items():
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise _bad(path, f"[values.{name}] must be a table of SOURCE = TARGET texts")
        values[normalise(name)] = {value_key(k): v.strip() for k, v in table.items()}
    mark = _text(path, data, "decimal_mark")
    if mark not in (None, *DECIMAL_MARKS):
        raise _bad(path, f"decimal_mark {mark!r} is not {' or '.join(DECIMAL_MARKS)}")
    fmt = _text(path, data, "format")
    if fmt not in (None, "csv", "jsonl"):
        raise _bad(path, f"format {fmt!r} is not csv or jsonl")
    return Profile(
        kind=_text(path, data, "kind"),
        format=fmt,
        encoding=_text(path, data, "encoding"),
        zone=_text(path, data, "zone"),
        date_formats=tuple(formats),
        decimal_mark=mark,
        allow_dates_from=_text(path, data, "allow_dates_from"),
        mapping=tuple(mapping),
        constants=constants,
        values=values,
    )


def merge(base: Profile, flags: Profile) -> Profile:
    """The profile's options with the command line's on top: a field mapped, set or
    value-mapped by a flag takes the flag's; a scalar given by a flag replaces the profile's.
    The profile's maps are kept apart: a column they name may be missing from a file."""
    flag_fields = {target for _, target in flags.mapping}
    values = {name: dict(table) for name, table in base.values.items()}
    for name, table in flags.values.items():
        values.setdefault(name, {}).update(table)
    return Profile(
        kind=flags.kind or base.kind,
        format=flags.format or base.format,
        encoding=flags.encoding or base.encoding,
        zone=flags.zone or base.zone,
        date_formats=flags.date_formats or base.date_formats,
        decimal_mark=flags.decimal_mark or base.decimal_mark,
        allow_dates_from=flags.allow_dates_from or base.allow_dates_from,
        mapping=flags.mapping,
        profile_mapping=tuple(p for p in base.mapping if p[1] not in flag_fields),
        constants={**base.constants, **flags.constants},
        values=values,
    )


def dumps(profile: Profile) -> str:
    """The profile as TOML that `load` reads back to the same options."""

    def q(text: str) -> str:
        # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
        return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")

    lines = ["# A latte import profile: latte import KIND FILE --profile THIS_FILE"]
    for key in ("kind", "format", "encoding", "zone", "decimal_mark", "allow_dates_from"):
        value = getattr(profile, key)
        if value:
            lines.append(f"{key} = {q(value)}")
    if profile.date_formats:
        lines.append(f"date_formats = [{', '.join(q(f) for f in profile.date_formats)}]")
    grouped: dict[str, list[str]] = {}
    for source, target in (*profile.profile_mapping, *profile.mapping):
        grouped.setdefault(source, []).append(target)
    if grouped:
        lines += ["", "[map]"]
        for source, targets in grouped.items():
            value = q(targets[0]) if len(targets) == 1 else f"[{', '.join(map(q, targets))}]"
            lines.append(f"{q(source)} = {value}")
    if profile.constants:
        lines += ["", "[set]"]
        lines += [f"{q(k)} = {q(v)}" for k, v in profile.constants.items()]
    for name, table in profile.values.items():
        lines += ["", f"[values.{q(name)}]"]
        lines += [f"{q(k)} = {q(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def check_save(path: str) -> None:
    """Refuse a --save-profile file that cannot be written before anything is imported (the
    profile is written after the import)."""
    outfiles.refuse_unwritable(Path(path), "--save-profile")


def save(profile: Profile, path: str) -> None:
    """Write the profile whole or not at all, as latte writes every file it hands over
    (`outfiles`): a failed write keeps the previous profile."""
    with outfiles.writing(Path(path)) as file:
        file.write(dumps(profile))
