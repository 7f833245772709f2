"""A small terminal emulator for pseudo-terminal tests: what a person would see on screen.

It replays the bytes a program wrote (text, carriage returns, line feeds, backspaces, cursor
moves, erasing, autowrap on and off) into rows of cells, so that a test can check where words
ended up at a given width. The screen grows downwards instead of scrolling, which keeps every
relative cursor move right and every row ever shown readable. Styles and other sequences are
skipped.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

SEQUENCE = re.compile(
    r"\x1b\[(?P<private>[?>=]?)(?P<args>[0-9;]*)(?P<final>[@-~])"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[()][0-9A-Za-z]"  # character sets
    r"|\x1b[=>78DEHMNOZc]"  # keypad modes, save/restore, ...
)


def width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


class Screen:
    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.rows: list[list[str]] = [[]]
        self.x = 0
        self.y = 0
        self.autowrap = True
        self.pending_wrap = False

    def _row(self) -> list[str]:
        while len(self.rows) <= self.y:
            self.rows.append([])
        row = self.rows[self.y]
        if len(row) < self.columns:
            row.extend([" "] * (self.columns - len(row)))
        return row

    def _put(self, char: str) -> None:
        size = width(char)
        if size == 0:
            return
        if self.pending_wrap or self.x + size > self.columns:
            if self.autowrap:
                self.x, self.y = 0, self.y + 1
            else:
                self.x = self.columns - size
            self.pending_wrap = False
        row = self._row()
        row[self.x] = char
        if size == 2:
            row[self.x + 1] = ""
        self.x += size
        if self.x >= self.columns:
            self.x = self.columns - 1
            self.pending_wrap = True

    def feed(self, data: str) -> None:
        at = 0
        while at < len(data):
            match = SEQUENCE.match(data, at) if data[at] == "\x1b" else None
            if match:
                self._sequence(match)
                at = match.end()
                continue
            char = data[at]
            at += 1
            if char == "\r":
                self.x, self.pending_wrap = 0, False
            elif char == "\n":
                self.y, self.pending_wrap = self.y + 1, False
                self._row()
            elif char == "\b":
                self.x, self.pending_wrap = max(0, self.x - 1), False
            elif char == "\t":
                self.x = min(self.columns - 1, (self.x // 8 + 1) * 8)
            elif char >= " ":
                self._put(char)

    def _sequence(self, match: re.Match[str]) -> None:
        final = match.group("final")
        if final is None:
            return
        args = [int(a) if a else 0 for a in (match.group("args") or "").split(";")]
        n = max(1, args[0])
        if match.group("private") == "?":
            if 7 in args and final in "hl":
                self.autowrap = final == "h"
            return
        self.pending_wrap = False
        if final == "A":
            self.y = max(0, self.y - n)
        elif final == "B":
            self.y += n
        elif final == "C":
            self.x = min(self.columns - 1, self.x + n)
        elif final == "D":
            self.x = max(0, self.x - n)
        elif final == "G":
            self.x = min(self.columns - 1, n - 1)
        elif final == "K":
            row = self._row()
            start, end = {0: (self.x, self.columns), 1: (0, self.x + 1)}.get(
                args[0], (0, self.columns)
            )
            row[start:end] = [" "] * (end - start)
        elif final == "J" and args[0] == 0:
            row = self._row()
            row[self.x :] = [" "] * (self.columns - self.x)
            del self.rows[self.y + 1 :]

    def lines(self) -> list[str]:
        """Every row, as text without trailing spaces."""
        return ["".join(row).rstrip() for row in self.rows]


def broken_words(lines: list[str], columns: int, words: set[str]) -> list[str]:
    """Words of `words` that were cut at the end of a full row and go on on the next one."""
    broken = []
    for row, following in itertools.pairwise(lines):
        if len(row) < columns - 1 or not following:
            continue
        tail = re.search(r"\w+$", row)
        head = re.match(r"\w+", following)
        if tail and head and tail.group() + head.group() in words:
            broken.append(f"{tail.group()}|{head.group()}")
    return broken
