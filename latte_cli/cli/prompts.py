"""The questions latte asks at a terminal (questionary on prompt_toolkit).

Every prompt returns a plain value and never touches the database; the guided flow decides what
to save. All of them use `.unsafe_ask()`, so Ctrl-C raises KeyboardInterrupt and the end of
input raises EOFError, and the caller keeps what was completed. Tests hand a `Prompter` a
prompt_toolkit pipe input and a DummyOutput to answer the questions headlessly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import questionary
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output

T = TypeVar("T")
WRITE_OWN = "\x00write-own"
MULTILINE_HINT = "(Esc then Enter to finish)"


@dataclass(frozen=True)
class Suggestion:
    """One completion offered while typing: the text inserted and what is shown beside it."""

    value: str
    label: str


class _SearchCompleter(Completer):
    def __init__(self, search: Callable[[str], Sequence[Suggestion]]) -> None:
        self.search = search

    def get_completions(
        self, document: Document, complete_event: CompleteEvent
    ) -> Iterable[Completion]:
        typed = document.text_before_cursor
        if not typed.strip():
            return
        for suggestion in self.search(typed):
            yield Completion(
                suggestion.value, start_position=-len(typed), display_meta=suggestion.label
            )


def _not_empty(what: str) -> Callable[[str], bool | str]:
    def check(value: str) -> bool | str:
        return True if value.strip() else f"{what} cannot be empty."

    return check


class Prompter:
    """Asks questions on the terminal, or on the given prompt_toolkit input and output."""

    def __init__(self, input: Input | None = None, output: Output | None = None) -> None:
        self.input = input
        self.output = output

    def _io(self) -> dict[str, Any]:
        io: dict[str, Any] = {}
        if self.input is not None:
            io["input"] = self.input
        if self.output is not None:
            io["output"] = self.output
        return io

    def text(
        self,
        message: str,
        *,
        default: str = "",
        required: bool = True,
        validate: Callable[[str], bool | str] | None = None,
        multiline: bool = False,
    ) -> str:
        """Free text; `required` refuses an empty answer; `validate` returns True or a message."""
        checks = [c for c in (_not_empty("The answer") if required else None, validate) if c]

        def check(value: str) -> bool | str:
            for one in checks:
                verdict = one(value)
                if verdict is not True:
                    return verdict
            return True

        answer = questionary.text(
            message,
            default=default,
            validate=check if checks else None,
            multiline=multiline,
            instruction=MULTILINE_HINT if multiline else None,
            **self._io(),
        ).unsafe_ask()
        return str(answer).strip()

    def select(
        self, message: str, choices: Sequence[tuple[str, T]], *, default: T | None = None
    ) -> T:
        """One of `choices` (title, value); digits and letters are shortcuts."""
        options = [
            questionary.Choice(title, value=index) for index, (title, _) in enumerate(choices)
        ]
        start = next((i for i, (_, value) in enumerate(choices) if value == default), 0)
        index = questionary.select(
            message,
            choices=options,
            default=options[start],
            use_shortcuts=len(options) <= 36,
            **self._io(),
        ).unsafe_ask()
        return choices[int(index)][1]

    def confirm(self, message: str, *, default: bool = True) -> bool:
        return bool(questionary.confirm(message, default=default, **self._io()).unsafe_ask())

    def search(
        self,
        message: str,
        suggest: Callable[[str], Sequence[Suggestion]],
        *,
        instruction: str | None = None,
        required: bool = False,
    ) -> str:
        """Free text with suggestions from `suggest` while typing (Tab or arrows to pick)."""
        answer = questionary.text(
            message,
            completer=_SearchCompleter(suggest),
            instruction=instruction,
            validate=_not_empty("The answer") if required else None,
            **self._io(),
        ).unsafe_ask()
        return str(answer).strip()

    def phrase(
        self,
        message: str,
        phrases: Sequence[str],
        *,
        multiline: bool = False,
        validate: Callable[[str], bool | str] | None = None,
    ) -> str:
        """Text the agent writes, optionally starting from one of `phrases` and editing it."""
        start = ""
        if phrases:
            choices = [(p, p) for p in phrases] + [("Write my own", WRITE_OWN)]
            picked = self.select(f"{message} Start from a phrase?", choices)
            start = "" if picked == WRITE_OWN else picked
        return self.text(message, default=start, multiline=multiline, validate=validate)

    def optional_int(self, message: str, *, low: int, high: int) -> int | None:
        """A whole number in [low, high], or None for an empty answer."""

        def check(value: str) -> bool | str:
            value = value.strip()
            if not value:
                return True
            if value.isdigit() and low <= int(value) <= high:
                return True
            return f"Give a whole number from {low} to {high}, or leave it empty."

        answer = self.text(message, required=False, validate=check)
        return int(answer) if answer else None
