"""Help texts and usage lines read well at 80 columns, and their examples work."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from latte_cli import vocabulary
from latte_cli.cli.main import app
from tests.conftest import Latte

WIDTH = 80


def commands() -> list[list[str]]:
    """Every command's path, groups included: ["customer", "show"], ..."""
    root = get_command(app)
    found: list[list[str]] = []

    def walk(group: object, path: list[str]) -> None:
        ctx = type(root).context_class(group)  # type: ignore[arg-type]
        for name in group.list_commands(ctx):  # type: ignore[attr-defined]
            command = group.get_command(ctx, name)  # type: ignore[attr-defined]
            found.append([*path, name])
            if hasattr(command, "list_commands"):
                walk(command, [*path, name])

    walk(root, [])
    return found


def help_of(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(WIDTH)}, color=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_help_paragraphs_are_wrapped_by_the_terminal_not_the_source(path: list[str]) -> None:
    """Each line of a paragraph above the options is as full as the next word allows."""
    text = help_of(path).split("╭", 1)[0]
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        for line, following in pairwise(lines):
            if line.startswith("Usage:"):
                continue
            next_word = following.split()[0]
            assert len(line) + 1 + len(next_word) > WIDTH - 4, (path, line, following)


def test_no_option_help_is_lost_to_markup() -> None:
    """Help is rendered as rich markup, which takes "[default: medium]" for a style tag and
    drops it: an option's help shows all of its words."""
    from rich.markup import render

    root = get_command(app)
    lost = []
    for path in commands():
        command = root
        for name in path:
            ctx = type(root).context_class(command)  # type: ignore[arg-type]
            command = command.get_command(ctx, name)  # type: ignore[attr-defined]
        for param in command.params:
            written = getattr(param, "help", None) or ""
            if render(written).plain != written:
                lost.append((" ".join(path), param.name, written))
    assert not lost


def test_resume_usage_shows_its_optional_id_once() -> None:
    usage = help_of(["resume"])
    assert "[[ID]]" not in usage
    assert "latte resume [OPTIONS] [ID]" in usage


def test_the_amend_example_names_a_root_cause_the_vocabulary_accepts() -> None:
    found = re.search(r"--root-cause (\S+)", help_of(["amend"]))
    assert found is not None
    assert vocabulary.parse("root_cause", found.group(1)) == found.group(1)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["--channel", "phone"], "Missing --category. Pass it as an option"),
        ([], "Missing --channel, --category. Pass them as options"),
    ],
)
def test_missing_options_are_named_in_good_grammar(
    latte: Latte, given: list[str], said: str
) -> None:
    result = latte("new", "--listen", "It broke", *given)
    assert result.exit_code == 1
    assert said in result.output
