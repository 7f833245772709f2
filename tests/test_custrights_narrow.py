"""`latte hold --list` and `latte customer show` at 60 and 80 columns: times and ids stay whole,
the free-text column keeps whole words, no line is longer than the terminal."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from latte_cli.cli import render

from .conftest import Latte

pytestmark = pytest.mark.sqlite_only  # what is drawn does not depend on the store

REASON = "claim 2026/311 pending in the county court"
SUMMARY = "My parcel arrived broken and the courier left it in the rain"


def _lines(text: str, columns: int) -> list[str]:
    lines = text.splitlines()
    assert all(len(line) <= columns for line in lines), lines
    return lines


def _words_whole(text: str, words: str) -> None:
    for word in words.split():
        assert any(word in line.split() for line in text.splitlines()), (word, text)


@pytest.mark.parametrize("columns", [60, 80])
def test_hold_list_keeps_times_and_reasons_readable(
    latte: Latte, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    latte.ok("new", "--customer", "C-HOLD-0001", "--name", "Ana", "--channel", "phone",
             "--category", "delivery", "--listen", SUMMARY)  # fmt: skip
    latte.ok("hold", "C-HOLD-0001", "--reason", REASON)
    latte.ok("hold", "1", "--reason", "regulator asked")
    latte.ok("hold", "1", "--release")
    holds = json.loads(latte.ok("hold", "--list", "--all", "--json").stdout)
    monkeypatch.setattr(render.console, "_width", columns)
    text = latte.ok("hold", "--list", "--all").stdout
    lines = _lines(text, columns)
    assert "…" not in text
    for hold in holds:
        placed = render.short_when(datetime.fromisoformat(hold["placed_at"]), None)
        row = next(line for line in lines if line.split()[:1] == [str(hold["id"])])
        assert placed in row, (placed, row)
    _words_whole(text, REASON)


@pytest.mark.parametrize("columns", [60, 80])
def test_customer_show_keeps_the_summary_readable(
    latte: Latte, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    for category in ("delivery", "installation-and-setup"):
        latte.ok("new", "--customer", "C-1", "--name", "Ana", "--channel", "phone",
                 "--category", category, "--listen", SUMMARY)  # fmt: skip
    latte.ok("step", "2", "acknowledge", "--text", "Sorry")
    latte.ok("step", "2", "take_action", "--kind", "replacement", "--detail", "A new one")
    monkeypatch.setattr(render.console, "_width", columns)
    text = latte.ok("customer", "show", "C-1").stdout
    lines = _lines(text, columns)
    assert "…" not in text
    header = next(line for line in lines if line.lstrip().startswith("ID"))
    assert "Summary" in header.split()
    for cid in ("1", "2"):
        row = next(line for line in lines if line.split()[:1] == [cid])
        assert row.split()[1].count("-") == 1 and ":" in row.split()[2]  # "MM-DD HH:MM" whole
    _words_whole(text, SUMMARY)
