"""The phrase library on its own: loading a phrase file, filling phrases, {action}."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from latte_cli import phrases
from latte_cli.errors import InvalidValue
from latte_cli.phrases import (
    PACKAGED_PHRASES,
    StageGuide,
    action_of,
    address,
    describe_issue,
    fill,
    load_phrases,
)
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
    assert text.startswith("Hello there, it's ana, calling")


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


# Every shipped phrase, filled as the guided flow fills it -------------------------------------

NAMES = [
    "Ana Díaz",
    "Łukasz",
    "李雷",
    "O'Brien",
    "Seán O'Brien",
    "Díaz, Ana",
    "Mr Smith",
    "  Zoë   van der Berg ",
    "",
]
SUMMARIES = [
    "Parcel arrived broken",
    "Parcel arrived broken.",
    "Charged twice for order 1234!",
    "Refund still missing?",
    "Wrong size sent...",
    "DHL lost the parcel",
    "I ordered a glass kettle and it arrived smashed.",
    "My parcel arrived broken",
    "We were charged twice",
    "Delivery driver left the parcel in the rain, soaked, and it was the second time this month",
    "",
]
CATEGORIES = ["delivery", "billing", "website_checkout", ""]
ACTIONS = ["Refunded the parcel.", "replacement", "Sent a new lamp!"]
CHANGES = [
    "We now pack fragile goods in padded boxes.",
    "padded boxes for fragile goods",
    "Our couriers call before they leave a parcel!",
]


def _rendered() -> list[tuple[str, str, str]]:
    """(phrase, name as filled, text) for every phrase and every mix of realistic values."""
    guides = load_phrases(PACKAGED_PHRASES)
    phrases = [p for guide in guides.values() for p in guide.phrases]
    out = []
    for style in ("first", "full", "none"):
        for name, summary, category, (action, change) in itertools.product(
            NAMES, SUMMARIES, CATEGORIES, zip(ACTIONS, CHANGES, strict=True)
        ):
            values = {
                "name": address(name, style),
                "issue": describe_issue(summary, category),
                "agent": "ana",
                "days": "3",
                "action": phrases_action(action),
                "change": change,
            }
            out.extend((p, values["name"], fill(p, values)) for p in phrases)
    return out


def phrases_action(detail: str) -> str:
    return phrases.action_text(detail, "refund")


DOUBLE_MARK = re.compile(r"[.!?,;:]\s*[.!?,;:]|\.\.")
CAPITAL_AFTER_COMMA = re.compile(r",\s+(\w[\w'-]*)")


def faults(text: str, name: str) -> list[str]:
    """What reads badly in a filled phrase: doubled marks, a space before a mark, a capital
    after a comma (the name's own capitals aside), a placeholder left, no capital at the start."""
    checked = text.replace(name, "name") if name else text
    found = []
    if DOUBLE_MARK.search(checked):
        found.append("double punctuation")
    if re.search(r"\s[,.!?;:]", text) or text != text.strip():
        found.append("a space before a mark")
    if any(
        word[0].isupper() and word not in ("I", "I'm", "I'll", "DHL")
        for word in CAPITAL_AFTER_COMMA.findall(checked)
    ):
        found.append("a capital after a comma")
    if re.search(r"[{}]", text):
        found.append("a placeholder left")
    if not text[:1].isupper():
        found.append("no capital at the start")
    return found


def test_every_shipped_phrase_reads_well_with_realistic_values() -> None:
    problems = {
        f"{', '.join(found)}: {text!r} from {phrase!r}"
        for phrase, name, text in _rendered()
        if (found := faults(text, name))
    }
    assert not problems, "\n".join(sorted(problems)[:20])


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("Sorry, Jo.. It broke.", "double punctuation"),
        ("Sorry, Jo. Broken!.", "double punctuation"),
        ("Thank you , Jo.", "a space before a mark"),
        ("To stop it, We pack better.", "a capital after a comma"),
        ("Sorry, Jo. {issue}.", "a placeholder left"),
        ("the delivery problem: sorry.", "no capital at the start"),
    ],
)
def test_the_check_finds_each_fault(text: str, fault: str) -> None:
    assert faults(text, "Jo") == [fault]
    assert faults("Sorry, Jo. To stop it, we pack better.", "Jo") == []


def test_issue_is_the_summary_when_neutral_else_the_category() -> None:
    assert describe_issue("Parcel arrived broken.", "delivery") == "Parcel arrived broken"
    assert describe_issue("Refund still missing?!", "billing") == "Refund still missing"
    assert describe_issue("Shipping to US delayed", "delivery") == "Shipping to US delayed"
    for first_person in (
        "I ordered a glass kettle and it arrived smashed.",
        "My parcel arrived broken",
        "We\u2019ve been charged twice",
        "Charged twice on our card",
        "Nobody called me back",
    ):
        assert describe_issue(first_person, "delivery") == "the delivery problem", first_person
    long = "Driver left the parcel in the rain soaked through again for the second time now"
    assert describe_issue(long, "Website_Checkout") == "the website checkout problem"
    assert describe_issue("", "") == "the problem"


@pytest.mark.parametrize(
    ("name", "first", "full"),
    [
        ("Ana Díaz", "Ana", "Ana Díaz"),
        ("Łukasz", "Łukasz", "Łukasz"),
        ("李雷", "李雷", "李雷"),
        ("O'Brien", "O'Brien", "O'Brien"),
        ("Seán O'Brien", "Seán", "Seán O'Brien"),
        ("Díaz, Ana", "Ana", "Ana Díaz"),
        ("Mr Smith", "Mr Smith", "Mr Smith"),
        ("Dr. Ana Díaz", "Dr. Ana Díaz", "Dr. Ana Díaz"),
        ("  Zoë   van der Berg ", "Zoë", "Zoë van der Berg"),
        ("", "", ""),
        (None, "", ""),
    ],
)
def test_name_is_the_first_name_by_default(name: str | None, first: str, full: str) -> None:
    assert address(name) == first
    assert address(name, "full") == full
    assert address(name, "none") == ""


def test_values_take_the_capital_of_their_place() -> None:
    values = {"issue": "the delivery problem", "change": "We now pack in padded boxes."}
    assert fill("{issue}: that is not right.", values) == (
        "The delivery problem: that is not right."
    )
    assert fill("To stop it, {change}.", values) == "To stop it, we now pack in padded boxes."
    assert fill("To stop it, {change}.", {"change": "DHL now calls first"}) == (
        "To stop it, DHL now calls first."
    )
    assert fill("Sorry, {name}.", {"name": "Ana"}) == "Sorry, Ana."
    assert fill("Done: {action}!", {"action": "Refunded."}) == "Done: Refunded!"
    assert fill("Hi {name}.", {"name": "Ana B."}) == "Hi Ana B."
