"""The questions latte asks at a terminal (questionary on prompt_toolkit).

Every prompt returns a plain value and never touches the database; the guided flow decides what
to save. All of them use `.unsafe_ask()`, so Ctrl-C raises KeyboardInterrupt, and Ctrl-D (the
end of input) raises EOFError at every prompt — text, select, confirm, multi-line — and the
caller keeps what was completed. Esc then Enter, which finishes a multi-line answer, answers a
select or a yes/no question as Enter does: never an empty answer. Tests hand a `Prompter` a
prompt_toolkit pipe input and a DummyOutput to answer the questions headlessly.

At 80 columns (docs/architecture.md, "80 columns"): a long answer goes on its own line below
the question, so that it has the terminal's whole width; answers wrap at words, never inside
one (`_WordWrap`); a select's choices that would not fit end in "…". In a multi-line answer,
Ctrl-E opens the user's editor (cli/editor.py) with the text so far.
"""

from __future__ import annotations

import re
import shutil
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import questionary
from prompt_toolkit.application import run_in_terminal
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPress, KeyPressEvent, merge_key_bindings
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput
from prompt_toolkit.layout.utils import explode_text_fragments
from prompt_toolkit.output import Output
from prompt_toolkit.utils import get_cwidth

from latte_cli.errors import LatteError

T = TypeVar("T")
WRITE_OWN = "\x00write-own"
EDITOR_KEY = "c-e"
MULTILINE_HINT = "(Esc then Enter to finish · Ctrl-E: open your editor)"
ELLIPSIS = "…"
# A select's choice line: " » " or 3 spaces, the shortcut "1) ", and a free last column.
CHOICE_MARGIN = 7
# Choices are never cut shorter than this, however long the question.
MIN_CHOICE_WIDTH = 24


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


class _WordWrap(Processor):
    """Wraps an answer at words: pads a row with spaces where a word would be cut in two.

    prompt_toolkit wraps a long line at the last column, inside a word. `first` is the width
    of what stands before the answer's first row (the question, when the answer shares its
    line), `rest` the width before every other row (the continuation).
    """

    def __init__(self, first: int, rest: int) -> None:
        self.first = first
        self.rest = rest

    def apply_transformation(self, ti: TransformationInput) -> Transformation:
        fragments = explode_text_fragments(ti.fragments)
        chars = [text for _, text, *_ in fragments]
        width = ti.width
        column = self.first if ti.lineno == 0 else self.rest
        pads: list[tuple[int, int]] = []  # (source index, spaces inserted before it)
        hidden: list[int] = []  # spaces at the end of a full row: not carried to the next
        for token in re.finditer(r"\S+|\s", "".join(chars)):
            size = sum(get_cwidth(c) for c in token.group())
            fits_a_row = size <= width - self.rest
            if column + size > width and column > self.rest and fits_a_row:
                if token.group() == " ":
                    hidden.append(token.start())
                    column = self.rest
                    continue
                pads.append((token.start(), width - column))
                column = self.rest
            column += size
            while column > width:
                column -= width - self.rest
        if not pads and not hidden:
            return Transformation(ti.fragments)
        result = list(fragments)
        for index in hidden:
            result[index] = (result[index][0], "")
        for index, count in reversed(pads):
            result[index:index] = [("", " ")] * count
        starts = [index for index, _ in pads]
        before = [0]
        for _, count in pads:
            before.append(before[-1] + count)

        def to_display(i: int) -> int:
            return i + before[bisect_right(starts, i)]

        def to_source(d: int) -> int:
            offset = 0
            for index, count in pads:
                if d < index + offset:
                    break
                if d < index + offset + count:  # inside the padding: the word after it
                    return index
                offset += count
            return d - offset

        return Transformation(result, source_to_display=to_display, display_to_source=to_source)


def _exit_on_ctrl_d() -> KeyBindings:
    """Ctrl-D ends the input at any prompt, even a select or one with text typed."""
    bindings = KeyBindings()

    @bindings.add("c-d", eager=True)
    def _(event: KeyPressEvent) -> None:
        event.app.exit(exception=EOFError, style="class:aborting")

    return bindings


def _esc_enter_is_enter() -> KeyBindings:
    """Esc then Enter at a choice answers as Enter does (the pointed choice, the default).

    The multi-line questions teach Esc then Enter to finish; at a select or a yes/no question
    prompt_toolkit would otherwise accept the empty text line under it, which is no answer.
    """
    bindings = KeyBindings()

    @bindings.add("escape", "enter", eager=True)
    def _(event: KeyPressEvent) -> None:
        event.key_processor.feed(KeyPress(Keys.ControlM, "\r"), first=True)

    return bindings


def _editor_key(what: str) -> KeyBindings:
    """Ctrl-E: write the answer in the user's editor, starting from what is typed."""
    bindings = KeyBindings()

    @bindings.add(EDITOR_KEY, eager=True)
    def _(event: KeyPressEvent) -> None:
        buffer = event.app.current_buffer

        def write() -> str:
            from latte_cli.cli.editor import edit

            try:
                return edit(buffer.text, [f"Write {what} above these lines."])
            except LatteError as error:
                print(error.message, file=sys.stderr)
                return ""

        async def run() -> None:
            written = await run_in_terminal(write, in_executor=True)
            if written.strip():  # an empty text keeps the answer as it was
                buffer.document = Document(written, len(written))

        event.app.create_background_task(run())

    return bindings


def _with_keys(question: questionary.Question, *extra: KeyBindings) -> questionary.Question:
    app = question.application
    app.key_bindings = merge_key_bindings([b for b in (app.key_bindings, *extra) if b])
    return question


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

    def columns(self) -> int:
        """The terminal's width (the given output's, in tests)."""
        if self.output is not None:
            return self.output.get_size().columns
        return shutil.get_terminal_size().columns

    def _ask(self, question: questionary.Question, *extra: KeyBindings) -> Any:
        return _with_keys(question, _exit_on_ctrl_d(), *extra).unsafe_ask()

    def text(
        self,
        message: str,
        *,
        default: str = "",
        required: bool = True,
        validate: Callable[[str], bool | str] | None = None,
        multiline: bool = False,
        below: bool = False,
    ) -> str:
        """Free text; `required` refuses an empty answer; `validate` returns True or a message.

        A multi-line answer, or one with `below`, starts on the line below the question and
        has the whole width; a multi-line one offers the editor (Ctrl-E).
        """
        checks = [c for c in (_not_empty("The answer") if required else None, validate) if c]

        def check(value: str) -> bool | str:
            for one in checks:
                verdict = one(value)
                if verdict is not True:
                    return verdict
            return True

        below = below or multiline
        # questionary writes the instruction as " {instruction} ": after a line break that
        # leaves one space before the answer, and the continuation matches it.
        instruction = (MULTILINE_HINT if multiline else "") + "\n" if below else None
        wrap = _WordWrap(1, 1) if below else _WordWrap(get_cwidth(f"? {message} "), 0)
        keys = [_editor_key(message.rstrip(":").lower())] if multiline else []
        question = questionary.text(
            message,
            default=default,
            validate=check if checks else None,
            multiline=multiline,
            instruction=instruction,
            input_processors=[wrap],
            prompt_continuation=" " if below else None,
            **self._io(),
        )
        return str(self._ask(question, *keys)).strip()

    def select(
        self, message: str, choices: Sequence[tuple[str, T]], *, default: T | None = None
    ) -> T:
        """One of `choices` (title, value); digits and letters are shortcuts.

        A title too long for its line, or for the answer's line after the question, ends in
        "…"; the value returned is the whole choice.
        """
        columns = self.columns()
        room = columns - max(CHOICE_MARGIN, get_cwidth(f"? {message} ") + 1)
        if room < MIN_CHOICE_WIDTH:
            room = columns - CHOICE_MARGIN
        options = [
            questionary.Choice(shorten(title, room), value=index)
            for index, (title, _) in enumerate(choices)
        ]
        start = next((i for i, (_, value) in enumerate(choices) if value == default), 0)
        question = questionary.select(
            message,
            choices=options,
            default=options[start],
            use_shortcuts=len(options) <= 36,
            **self._io(),
        )
        answer = self._ask(question, _esc_enter_is_enter())
        while not isinstance(answer, int):  # not a choice: asked again, never a crash
            answer = self._ask(question, _esc_enter_is_enter())
        return choices[answer][1]

    def confirm(self, message: str, *, default: bool = True) -> bool:
        question = questionary.confirm(message, default=default, **self._io())
        answer = self._ask(question, _esc_enter_is_enter())
        while not isinstance(answer, bool):  # not a yes or a no: asked again
            answer = self._ask(question, _esc_enter_is_enter())
        return answer

    def search(
        self,
        message: str,
        suggest: Callable[[str], Sequence[Suggestion]],
        *,
        instruction: str | None = None,
        required: bool = False,
    ) -> str:
        """Free text with suggestions from `suggest` while typing (Tab or arrows to pick)."""
        question = questionary.text(
            message,
            completer=_SearchCompleter(suggest),
            instruction=instruction,
            validate=_not_empty("The answer") if required else None,
            **self._io(),
        )
        return str(self._ask(question)).strip()

    def phrase(
        self,
        message: str,
        phrases: Sequence[str],
        *,
        multiline: bool = False,
        validate: Callable[[str], bool | str] | None = None,
    ) -> str:
        """Text the agent writes, optionally starting from one of `phrases` and editing it.

        The phrase is chosen by a short question (its answer line keeps more of the phrase),
        then edited in full width below `message`.
        """
        start = ""
        if phrases:
            choices = [(p, p) for p in phrases] + [("Write my own", WRITE_OWN)]
            picked = self.select("Start from a phrase?", choices)
            start = "" if picked == WRITE_OWN else picked
        return self.text(message, default=start, multiline=multiline, validate=validate, below=True)

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


def shorten(title: str, width: int) -> str:
    """`title` in at most `width` columns: cut at a word and ended with "…" if too long."""
    if get_cwidth(title) <= width:
        return title
    kept = ""
    for char in title:
        if get_cwidth(kept + char) > width - 1:
            break
        kept += char
    at_word = kept.rsplit(" ", 1)[0] if " " in kept[width // 2 :] else kept
    return at_word.rstrip(" ,.;:") + ELLIPSIS
