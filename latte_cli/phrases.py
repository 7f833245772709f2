"""The phrase library: what the guided conversation suggests saying at each stage.

A TOML file with one section per stage (and one for the follow-up call), each with a line of
guidance and phrases with {placeholders}: {name}, {issue}, {agent}, {days}, {action} and
{change}. The file is passed in; which file is in use is the caller's choice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from latte_cli.errors import InvalidValue
from latte_cli.workflow import Stage

if TYPE_CHECKING:
    from latte_cli.services.views import StageView

PACKAGED_PHRASES = Path(__file__).resolve().parent / "data" / "phrases.toml"
TITLES = {
    Stage.LISTEN: "Listen",
    Stage.ACKNOWLEDGE: "Acknowledge",
    Stage.TAKE_ACTION: "Take action",
    Stage.THANK: "Thank",
    Stage.EXPLAIN: "Explain",
}


@dataclass(frozen=True)
class StageGuide:
    guidance: str
    phrases: tuple[str, ...] = ()


def load_phrases(path: Path) -> dict[str, StageGuide]:
    """Guidance and phrases per section of the phrase file at `path`.

    A file that cannot be read or parsed, or whose phrases are not a list of text, raises
    InvalidValue naming the file and what is wrong with it.
    """
    import tomllib  # here, not at the top: `latte --help` loads this module

    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InvalidValue(
            f"The phrase library {path} cannot be read ({error}). Fix the file."
        ) from None
    return {
        name: _guide(path, name, section)
        for name, section in data.items()
        if isinstance(section, dict)
    }


def _guide(path: Path, name: str, section: dict[str, Any]) -> StageGuide:
    phrases = section.get("phrases", [])
    if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
        raise InvalidValue(
            f"The phrase library {path} is not valid: [{name}] phrases must be a list of "
            'text, like phrases = ["Thank you, {name}."]. Fix the file.'
        )
    return StageGuide(guidance=str(section.get("guidance", "")), phrases=tuple(phrases))


class _KeepUnknown(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


# Without a name, a greeting says "Hello there"; anywhere else the name is left out.
_GREETING_NAME = re.compile(
    r"\b(hello|hi|hey|dear|good (?:morning|afternoon|evening))[ \t]*,?[ \t]*\{name\}",
    re.IGNORECASE,
)


def fill(phrase: str, values: Mapping[str, str]) -> str:
    """The phrase with {placeholders} filled in; unknown ones stay as typed."""
    if not values.get("name", "").strip():
        phrase = _GREETING_NAME.sub(r"\1 there", phrase)
    try:
        text = phrase.format_map(_KeepUnknown(values))
    except (ValueError, IndexError, AttributeError):
        return phrase
    # An empty {name} must not leave "Sorry, ." or "Thank you, , for" behind.
    text = re.sub(r",\s*([.!?,])", r"\1", text)
    return re.sub(r"  +", " ", text).strip()


def action_of(stages: Sequence[StageView]) -> str:
    """What was done at the latest Take action, for {action}: its detail, else its kind."""
    for stage in reversed(stages):
        if stage.stage == Stage.TAKE_ACTION.value:
            return action_text(stage.action_detail, stage.action_kind)
    return ""


def action_text(detail: str | None, kind: str | None) -> str:
    """{action} for a Take action: its detail without the final full stop, else its kind."""
    # Phrases put their own full stop after {action}.
    return (detail or "").strip().rstrip(".") or (kind or "").replace("_", " ")
