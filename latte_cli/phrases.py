"""The phrase library: what the guided conversation suggests saying at each stage.

A TOML file with one section per stage (and one for the follow-up call), each with a line of
guidance and phrases with {placeholders}: {name}, {issue}, {agent}, {days}, {action} and
{change}. The file is passed in; which file is in use is the caller's choice.

What the placeholders say, so that a filled phrase reads as if the agent had written it (the
rules are repeated in the phrase file's header for whoever edits it):

- {name} (`address`): the customer's first name by default — the first word of the name, or
  the given name of "Family, Given"; a name of one word (or in a script written without
  spaces, like 李雷) is used whole, and so is a name that starts with a title ("Mr Smith").
  The `phrase_name` setting chooses first, full or none.
- {issue} (`describe_issue`): a short neutral description. The complaint's summary when the
  agent wrote it and it is one: at most 12 words, no first-person word (I, I'm, me, my, we,
  our, us, ...), which would be the customer speaking. A summary taken by default from the
  first line of the customer's words is never used (the caller passes None: see
  `services.complaints.agent_summary`). Otherwise "the CATEGORY problem" ("the delivery
  problem"). Its final full stop, "!" or "?" is dropped: the phrase supplies the punctuation.
- Spliced in (`fill`): a value that starts a sentence gets a capital; {issue}, {action} and
  {change} after a comma lose their first capital ("again, we now pack ..."), unless their
  first word is "I" or has other capitals (an acronym like DHL, iPhone, McDonald). Doubled
  punctuation (". ." "!." ",." " ,") left by a value is reduced to one mark.
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


NAME_STYLES = ("first", "full", "none")
# Titles before a name: "Mr Smith" has no first name to use, so the name is used whole.
_TITLES = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "dame", "sr", "sra"}
    | {"srta", "herr", "frau", "mme", "mlle"}
)
_FIRST_PERSON = re.compile(
    r"\b(?:i|i'm|i've|i'd|i'll|me|my|mine|myself|we|we're|we've|we'd|our|ours|us)\b",
    re.IGNORECASE,
)
ISSUE_MAX_WORDS = 12
# Values written as sentences: their first capital follows the sentence they are put into.
_SENTENCE_VALUES = frozenset({"issue", "action", "change"})
_I_WORDS = frozenset({"I", "I'm", "I've", "I'd", "I'll"})


def address(name: str | None, style: str = "first") -> str:
    """{name}: how a phrase names the customer (first, full or none; see the module)."""
    text = " ".join((name or "").split()).strip(" ,;:")
    if style == "none" or not text:
        return ""
    if "," in text:  # "Díaz, Ana": family name first
        family, _, given = text.partition(",")
        text = " ".join(f"{given} {family}".split())
    words = text.split(" ")
    if style == "full" or len(words) == 1 or words[0].rstrip(".").lower() in _TITLES:
        return text
    return words[0]


def _first_person(text: str) -> bool:
    return any(m.group() != "US" for m in _FIRST_PERSON.finditer(text.replace("\u2019", "'")))


def describe_issue(summary: str | None, category: str | None) -> str:
    """{issue}: the summary if it is short and neutral, else "the CATEGORY problem"."""
    text = " ".join((summary or "").split()).rstrip(" .!?…;:,")
    if text and len(text.split()) <= ISSUE_MAX_WORDS and not _first_person(text):
        return text
    topic = " ".join((category or "").replace("_", " ").split()).lower()
    return f"the {topic} problem" if topic else "the problem"


def _as_spliced(key: str, value: str, before: str) -> str:
    """`value` with the capital its place asks for (see the module docstring)."""
    if not value:
        return value
    lead = before.rstrip()
    if not lead or lead[-1] in ".!?":
        return value[0].upper() + value[1:]
    first = value.split(" ", 1)[0]
    keeps_capitals = first in _I_WORDS or any(c.isupper() for c in first[1:])
    if key in _SENTENCE_VALUES and lead.endswith(",") and not keeps_capitals:
        return value[0].lower() + value[1:]
    return value


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


# Without a name, a greeting says "Hello there"; anywhere else the name is left out.
_GREETING_NAME = re.compile(
    r"\b(hello|hi|hey|dear|good (?:morning|afternoon|evening))[ \t]*,?[ \t]*\{name\}",
    re.IGNORECASE,
)


def fill(phrase: str, values: Mapping[str, str]) -> str:
    """The phrase with {placeholders} filled in; unknown ones stay as typed."""
    if not values.get("name", "").strip():
        phrase = _GREETING_NAME.sub(r"\1 there", phrase)
    parts: list[str] = []
    at = 0
    for match in _PLACEHOLDER.finditer(phrase):
        parts.append(phrase[at : match.start()])
        key = match.group(1)
        if key in values:
            value = values[key].strip()
            if phrase[match.end() : match.end() + 1] in tuple(".!?,;:"):
                value = value.rstrip(".!?…")  # the phrase's own mark follows
            parts.append(_as_spliced(key, value, "".join(parts)))
        else:
            parts.append(match.group())
        at = match.end()
    parts.append(phrase[at:])
    text = "".join(parts)
    # An empty {name} must not leave "Sorry, ." or "Thank you, , for" behind, nor a value
    # ending in "." or "!" a doubled mark.
    text = re.sub(r"\s+([,.!?;:])", r"\1", text)
    text = re.sub(r",+\s*([.!?,;:])", r"\1", text)
    text = re.sub(r"([.!?…])[.,;:]+", r"\1", text)
    return re.sub(r"  +", " ", text).strip()


def action_of(stages: Sequence[StageView]) -> str:
    """What was done at the latest Take action, for {action}: its detail, else its kind."""
    for stage in reversed(stages):
        if stage.stage == Stage.TAKE_ACTION.value:
            return action_text(stage.action_detail, stage.action_kind)
    return ""


def listen_of(stages: Sequence[StageView]) -> str:
    """The customer's words (the Listen text), to tell a summary taken from them."""
    return next((s.text for s in stages if s.stage == Stage.LISTEN.value), "")


def action_text(detail: str | None, kind: str | None) -> str:
    """{action} for a Take action: its detail without the final full stop, else its kind."""
    # Phrases put their own full stop after {action}.
    return (detail or "").strip().rstrip(".") or (kind or "").replace("_", " ")
