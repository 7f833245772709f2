"""Vocabularies are data: the shipped file, an organisation's extension, one parser for every
path (docs/architecture.md, "One rule, one place")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from latte_cli import vocabulary
from latte_cli.errors import InvalidValue

from .conftest import Latte

# Every value latte stored before vocabularies were data: they must stay valid.
STORED_BEFORE = {
    "channel": ["phone", "email", "chat", "in_person", "social", "web", "other"],
    "severity": ["low", "medium", "high", "critical"],
    "action_kind": [
        "refund",
        "replacement",
        "repair",
        "credit",
        "discount",
        "escalation",
        "explanation_only",
        "other",
    ],
    "root_cause": [
        "product_defect",
        "delivery",
        "billing",
        "service",
        "policy",
        "communication",
        "customer_error",
        "other",
    ],
}

ORGANISATION = """
[channel.carrier_pigeon]
label = "Carrier pigeon"
aliases = ["Pigeon post"]

[channel.letter]
aliases = ["Courrier"]

[root_cause.weather]
label = "Weather"
"""


@pytest.fixture(autouse=True)
def shipped_vocabulary() -> Iterator[None]:
    """Every test starts and ends with the shipped vocabulary (it is loaded once per process)."""
    vocabulary.use(lambda: None)
    yield
    vocabulary.use(lambda: None)


@pytest.mark.parametrize("kind", vocabulary.KINDS)
def test_every_value_stored_before_stays_valid(kind: str) -> None:
    shipped = vocabulary.load()
    for value in STORED_BEFORE[kind]:
        assert shipped.parse(kind, value) == value
        assert shipped.label(kind, value)


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("channel", "Postal mail", "letter"),
        ("channel", "E-mail", "email"),
        ("channel", "Web form", "web"),
        ("channel", "  IN-PERSON ", "in_person"),
        ("channel", "in app", "in_app"),
        ("channel", "FAX", "fax"),
        ("severity", "Urgent", "critical"),
        ("action_kind", "Store credit", "credit"),
        ("root_cause", "product-defect", "product_defect"),
    ],
)
def test_values_and_aliases_ignore_case_spaces_and_hyphens(
    kind: str, text: str, value: str
) -> None:
    assert vocabulary.load().parse(kind, text) == value


def test_an_unknown_value_names_the_accepted_ones_and_both_fixes() -> None:
    with pytest.raises(InvalidValue) as raised:
        vocabulary.load().parse("channel", "Pigeon post")
    message = raised.value.message
    assert "Channel 'Pigeon post' is not one of: phone, email" in message
    assert "--value channel:Pigeon post=" in message
    assert "latte config set vocabulary" in message


def test_an_organisation_adds_values_and_aliases(tmp_path: Path) -> None:
    extension = tmp_path / "ours.toml"
    extension.write_text(ORGANISATION, encoding="utf-8")
    ours = vocabulary.load(extension)
    assert ours.parse("channel", "pigeon post") == "carrier_pigeon"
    assert ours.parse("channel", "courrier") == "letter"
    assert ours.parse("channel", "postal mail") == "letter"  # the shipped alias is kept
    assert ours.label("channel", "letter") == "Letter"
    assert ours.values("root_cause")[-1] == "weather"
    assert set(vocabulary.load().values("channel")) < set(ours.values("channel"))


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('[channel.fax]\naliases = ["e-mail"]\n', "'e_mail' names both email and fax"),
        ('[colour.red]\nlabel = "Red"\n', "[colour] is not one of"),
        ('[channel."Carrier Pigeon"]\n', "lower-case letters"),
        ('[channel.telex]\naliases = "telex"\n', "aliases must be a list"),
        ("[channel.telex\n", "cannot be read"),
    ],
)
def test_a_bad_vocabulary_file_names_the_problem(tmp_path: Path, body: str, problem: str) -> None:
    extension = tmp_path / "bad.toml"
    extension.write_text(body, encoding="utf-8")
    with pytest.raises(InvalidValue, match=problem.replace("[", r"\[").replace("(", r"\(")):
        vocabulary.load(extension)


def test_flags_help_and_import_read_the_organisation_vocabulary(
    latte: Latte, tmp_path: Path
) -> None:
    extension = tmp_path / "ours.toml"
    extension.write_text(ORGANISATION, encoding="utf-8")
    refused = latte("new", "--channel", "Pigeon post", "--category", "x", "--listen", "hi")
    assert refused.exit_code == 1 and "is not one of" in refused.stderr
    latte.ok("config", "set", "vocabulary", str(extension))
    opened = json.loads(
        latte.ok(
            "new", "--channel", "Pigeon post", "--category", "x", "--listen", "hi", "--json"
        ).stdout
    )
    assert opened["channel"] == "carrier_pigeon"
    assert "carrier_pigeon" in latte.ok("new", "--help").stdout
    assert "weather" in latte.ok("step", "--help").stdout
    listed = json.loads(latte.ok("list", "--channel", "pigeon-post", "--json").stdout)
    assert [c["id"] for c in listed] == [opened["id"]]
    source = tmp_path / "tickets.csv"
    source.write_text(
        "Ticket,Channel,Category,Description,Agent,Created\n"
        "T1,Courrier,delivery,Late,sam,2026-11-01T10:00:00Z\n"
        "T2,Web form,delivery,Late,sam,2026-11-01T10:00:00Z\n"
        "T3,Telex,delivery,Late,sam,2026-11-01T10:00:00Z\n",
        encoding="utf-8",
    )
    result = latte("import", "complaints", str(source), "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["inserted"], report["rejected"]) == (2, 1)
    assert "map it with --value channel:Telex=" in report["rejects"][0]["reason"]


def test_config_refuses_a_broken_vocabulary_file_and_writes_nothing(
    latte: Latte, tmp_path: Path
) -> None:
    extension = tmp_path / "bad.toml"
    extension.write_text('[channel.fax]\naliases = ["e-mail"]\n', encoding="utf-8")
    result = latte("config", "set", "vocabulary", str(extension))
    assert result.exit_code == 1
    assert "names both email and fax" in result.stderr and "Nothing was written" in result.stderr


def test_the_documented_copy_is_the_shipped_file() -> None:
    repository = Path(__file__).resolve().parent.parent
    assert (repository / "data" / "vocabulary.toml").read_text(
        encoding="utf-8"
    ) == vocabulary.PACKAGED_VOCABULARY.read_text(encoding="utf-8")
