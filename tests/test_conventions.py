"""CLI conventions every command follows: help that names what a group holds, flags shown as
flags, and shell completion."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from latte_cli.cli.main import app

Group = typer.core.TyperGroup


def root() -> Group:
    command = typer.main.get_command(app)
    assert isinstance(command, Group)
    return command


def commands(group: Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    """Every command and group under `group`, with the words that reach it."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, Group):
            yield from commands(command, (*path, name))


def groups() -> list[tuple[str, Group]]:
    return [(" ".join(path), c) for path, c in commands(root()) if isinstance(c, Group)]


def test_there_are_groups_to_check() -> None:
    assert {"db", "config", "report", "customer", "agent"} <= {name for name, _ in groups()}


@pytest.mark.parametrize(("name", "group"), groups())
def test_every_group_help_names_each_of_its_subcommands(name: str, group: Group) -> None:
    summary = (group.help or "").split("\n\n")[0]
    missing = [sub for sub in group.commands if not re.search(rf"\b{re.escape(sub)}\b", summary)]
    assert missing == [], f"`latte {name}`'s help does not name {missing}: {summary!r}"


def help_of(*words: str) -> str:
    result = CliRunner().invoke(app, [*words, "--help"], prog_name="latte", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("words", [(), *(path for path, _ in commands(root()))], ids=" ".join)
def test_flags_are_shown_without_a_value_placeholder(words: tuple[str, ...]) -> None:
    text = help_of(*words)
    assert "<bool>" not in text
    flags = re.findall(r"(--json|--help|--explain|--mine|--queue)\s+(\S+)", text)
    assert all(not after.startswith("<") for _, after in flags), flags


def test_completion_is_offered_and_completes_commands_and_setting_keys() -> None:
    assert "--install-completion" in help_of() and "--show-completion" in help_of()
    # The script --show-completion prints, asked for by name: what that flag prints depends on
    # detecting the calling shell, which a test run without a terminal may not have.
    script = subprocess.run(
        [sys.executable, "-m", "latte_cli"],
        env={"_LATTE_COMPLETE": "source_bash", "PATH": ""},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "_LATTE_COMPLETE=complete_bash" in script.stdout

    def complete(line: str) -> list[str]:
        words = line.split(" ")
        result = subprocess.run(
            [sys.executable, "-m", "latte_cli"],
            env={"_LATTE_COMPLETE": "complete_bash", "COMP_WORDS": line,
                 "COMP_CWORD": str(len(words) - 1), "PATH": ""},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return result.stdout.split()

    assert complete("latte d") == ["db"]
    assert complete("latte config set s") == ["sla_hours"]
