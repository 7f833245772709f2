"""The vocabularies: the values a complaint's channel, severity, action kind and root cause take.

Vocabularies are data (docs/architecture.md, "One rule, one place"): the file latte ships
(`data/vocabulary.toml`) extended by an organisation's own file (the `vocabulary` setting) with
more values and more aliases. Every path that reads such a value (flags, prompts, the importer,
reports) goes through `parse` and `label` here, so all of them accept the same words.

The vocabulary is loaded once, on first use: `latte --help` never reads the files. Which
organisation file is in use is the caller's choice (`use`); this module reads no setting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latte_cli.errors import InvalidValue

PACKAGED_VOCABULARY = Path(__file__).resolve().parent / "data" / "vocabulary.toml"
KINDS = ("channel", "severity", "action_kind", "root_cause")
# What an error calls each kind, and the flag that gives it.
WHAT = {
    "channel": "Channel",
    "severity": "Severity",
    "action_kind": "Action kind",
    "root_cause": "Root cause",
}
FLAGS = {
    "channel": "--channel",
    "severity": "--severity",
    "action_kind": "--kind",
    "root_cause": "--root-cause",
}
_VALUE = re.compile(r"[a-z][a-z0-9_]{0,49}")


def normalise(text: str) -> str:
    """The form values and aliases are compared in: case, spaces and hyphens do not matter."""
    return re.sub(r"[\s\-_]+", "_", text.strip().lower()).strip("_")


@dataclass(frozen=True)
class Term:
    value: str
    label: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    terms: Mapping[str, tuple[Term, ...]]
    # Per kind: every value and normalised alias -> its value (an import looks up every row).
    index: Mapping[str, Mapping[str, str]]

    def values(self, kind: str) -> tuple[str, ...]:
        return tuple(term.value for term in self.terms[kind])

    def label(self, kind: str, value: str) -> str:
        """The value's label; a value no longer in the vocabulary is shown as stored."""
        for term in self.terms[kind]:
            if term.value == value:
                return term.label
        return value.replace("_", " ")

    def lookup(self, kind: str, text: str) -> str | None:
        """The value `text` names (a value or an alias), None if it names none."""
        words = self.index[kind]
        return words.get(text) or words.get(normalise(text))

    def parse(self, kind: str, text: str) -> str:
        """The value `text` names, or InvalidValue naming the accepted values and both fixes."""
        value = self.lookup(kind, text)
        if value is not None:
            return value
        what = WHAT[kind]
        accepted = ", ".join(self.values(kind))
        example = self.values(kind)[0]
        raise InvalidValue(
            f"{what} {text!r} is not one of: {accepted}. Use one of them; when importing, map "
            f"it with --value {kind}:{text.strip()}={example}; or add it to the vocabulary "
            "file (`latte config set vocabulary FILE`, see the README)."
        )


def load(extension: Path | None = None) -> Vocabulary:
    """The shipped vocabulary, extended by the organisation's file `extension` if given."""
    terms: dict[str, dict[str, Term]] = {kind: {} for kind in KINDS}
    _extend(terms, PACKAGED_VOCABULARY, _read(PACKAGED_VOCABULARY))
    if extension is not None:
        _extend(terms, extension, _read(extension))
    index = {
        kind: {
            word: term.value
            for term in found.values()
            for word in (term.value, *map(normalise, term.aliases))
        }
        for kind, found in terms.items()
    }
    return Vocabulary({kind: tuple(found.values()) for kind, found in terms.items()}, index)


def _read(path: Path) -> dict[str, Any]:
    import tomllib  # here, not at the top: `latte --help` loads this module's importers

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InvalidValue(
            f"The vocabulary file {path} cannot be read ({error}). Fix the file."
        ) from None


def _bad(path: Path, problem: str) -> InvalidValue:
    return InvalidValue(f"The vocabulary file {path} is not valid: {problem}. Fix the file.")


def _extend(terms: dict[str, dict[str, Term]], path: Path, data: dict[str, Any]) -> None:
    """Add the values and aliases of one file; a value already known gains aliases (and a new
    label), never loses any, so stored values stay valid."""
    for kind, section in data.items():
        if kind not in KINDS or not isinstance(section, dict):
            raise _bad(path, f"[{kind}] is not one of {', '.join(KINDS)}")
        for value, entry in section.items():
            if not _VALUE.fullmatch(value):
                raise _bad(
                    path,
                    f"[{kind}.{value}]: a value is lower-case letters, digits and _, like in_app",
                )
            if not isinstance(entry, dict):
                raise _bad(path, f'[{kind}.{value}] must be a table: label = "…", aliases = […]')
            label = entry.get("label")
            aliases = entry.get("aliases", [])
            if label is not None and not isinstance(label, str):
                raise _bad(path, f"[{kind}.{value}] label must be text")
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise _bad(path, f'[{kind}.{value}] aliases must be a list of text, like ["Fax"]')
            known = terms[kind].get(value)
            if known is None:
                known = Term(value, label or value.replace("_", " ").capitalize())
            merged = known.aliases + tuple(a for a in aliases if a not in known.aliases)
            terms[kind][value] = Term(value, label or known.label, merged)
    for kind, found in terms.items():
        owner: dict[str, str] = {}
        for term in found.values():
            for word in (term.value, *map(normalise, term.aliases)):
                if owner.setdefault(word, term.value) != term.value:
                    raise _bad(
                        path,
                        f"{word!r} names both {owner[word]} and {term.value} in [{kind}]; "
                        "keep it on one of them",
                    )


# The vocabulary in use: loaded once, on first use.
_source: Callable[[], Path | None] = lambda: None  # noqa: E731
_loaded: Vocabulary | None = None


def use(extension: Callable[[], Path | None]) -> None:
    """Use the organisation file `extension()` returns (asked on first use, not now)."""
    global _source, _loaded
    _source, _loaded = extension, None


def current() -> Vocabulary:
    global _loaded
    if _loaded is None:
        _loaded = load(_source())
    return _loaded


def parse(kind: str, text: str) -> str:
    """The value `text` names in vocabulary `kind` (see Vocabulary.parse)."""
    return current().parse(kind, text)


def values(kind: str) -> tuple[str, ...]:
    return current().values(kind)


def label(kind: str, value: str) -> str:
    return current().label(kind, value)


def listing(kind: str) -> str:
    """The values of `kind` as a phrase for help texts: "phone, email … or other"."""
    found = values(kind)
    return ", ".join(found[:-1]) + f" or {found[-1]}" if len(found) > 1 else "".join(found)
