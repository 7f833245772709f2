"""The phrase library on its own: loading a phrase file, filling phrases, {action}."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from latte_cli import phrases
from latte_cli.errors import InvalidValue
from latte_cli.phrases import PACKAGED_PHRASES, StageGuide, action_of, fill, load_phrases
from latte_cli.services.views import StageView


def test_phrases_shipped_in_the_package_are_the_editable_template() -> None:
    template = Path(__file__).resolve().parent.parent / "data" / "phrases.toml"
    assert template.read_bytes() == PACKAGED_PHRASES.read_bytes()
    guides = load_phrases(PACKAGED_PHRASES)
    for stage in ("listen", "acknowledge", "take_action", "thank", "explain", "followup"):
        assert guides[stage].guidance and guides[stage].phrases


def test_a_custom_phrase_file_is_loaded_as_written(tmp_path: Path) -> None:
    custom = tmp_path / "phrases.toml"
    custom.write_text(
        "title = 'not a section: skipped'\n"
        "[acknowledge]\n"
        'guidance = "Say sorry first."\n'
        'phrases = ["Sorry {name}.", "We got it wrong, {name}."]\n'
        "[thank]\n"
        'phrases = ["Thanks."]\n'
    )
    assert load_phrases(custom) == {
        "acknowledge": StageGuide(
            "Say sorry first.", ("Sorry {name}.", "We got it wrong, {name}.")
        ),
        "thank": StageGuide("", ("Thanks.",)),
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[acknowledge\n", "cannot be read"),
        ('[acknowledge]\nphrases = "Sorry."\n', "[acknowledge] phrases must be a list of text"),
        ("[thank]\nphrases = [1, 2]\n", "[thank] phrases must be a list of text"),
    ],
)
def test_a_bad_phrase_file_is_a_clear_error(tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "phrases.toml"
    bad.write_text(content)
    with pytest.raises(InvalidValue) as raised:
        load_phrases(bad)
    assert str(bad) in raised.value.message
    assert expected in raised.value.message
    assert raised.value.message.endswith("Fix the file.")


def test_a_missing_phrase_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue, match=r"phrase library .*missing\.toml cannot be read"):
        load_phrases(tmp_path / "missing.toml")


def test_fill_puts_in_the_values() -> None:
    values = {"name": "Jo", "issue": "the lamp", "agent": "ana"}
    assert fill("Sorry {name}, about {issue}. It's {agent}.", values) == (
        "Sorry Jo, about the lamp. It's ana."
    )


def test_fill_keeps_unknown_placeholders_and_tidies_an_empty_name() -> None:
    assert fill("Sorry, {name}. {other}", {"name": ""}) == "Sorry. {other}"
    assert fill("Sorry {name}, {other}.", {"name": "Jo"}) == "Sorry Jo, {other}."
    assert fill("Odd { brace", {"name": "x"}) == "Odd { brace"


@pytest.mark.parametrize(
    ("phrase", "name", "filled"),
    [
        ("Hello {name}, it's {agent}.", "", "Hello there, it's ana."),
        ("Hi, {name}! It's {agent}.", "", "Hi there! It's ana."),
        ("Good morning {name}.", "", "Good morning there."),
        ("Hello {name}, it's {agent}.", "Rui", "Hello Rui, it's ana."),
        ("I'm sorry, {name}. That's on us.", "", "I'm sorry. That's on us."),
        ("Thank you, {name}, for waiting.", "", "Thank you, for waiting."),
    ],
)
def test_an_anonymous_customer_is_greeted_as_there(phrase: str, name: str, filled: str) -> None:
    assert fill(phrase, {"name": name, "agent": "ana"}) == filled


def test_shipped_followup_phrase_never_says_hello_comma() -> None:
    (hello, *_) = load_phrases(PACKAGED_PHRASES)["followup"].phrases
    text = fill(hello, {"name": "", "agent": "ana", "issue": "Late"})
    assert text.startswith("Hello there, it's ana.")


def _stage(name: str, detail: str | None = None, kind: str | None = None) -> StageView:
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    return StageView(name, 0, "ana", at, 0, "", action_kind=kind, action_detail=detail)


def test_action_is_the_latest_take_action_detail_else_its_kind() -> None:
    first = _stage("take_action", "Refunded.", "refund")
    again = _stage("take_action", None, "explanation_only")
    assert action_of([_stage("listen")]) == ""
    assert action_of([first, _stage("thank")]) == "Refunded"
    assert action_of([first, again]) == "explanation only"
    assert phrases.action_text("  Sent a new lamp.  ", "replacement") == "Sent a new lamp"
