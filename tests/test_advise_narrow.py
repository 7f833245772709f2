"""`latte advise` at 80 and 60 columns: every figure with its n, nothing cut or dropped; an
action kind that was never recorded is not shown as if it were an action."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from latte_cli.cli import advise as advise_cli
from latte_cli.cli import render
from latte_cli.services.advice import NO_KIND, advise

from . import test_advice
from .conftest import Latte
from .test_advice import AS_OF, MIN_N, Row, expected, load, open_one

# test_advice's generated complaints, loaded: the same fixture, not a copy of it.
data = test_advice.data


def percent(hits: int, n: int) -> str:
    return f"{hits * 100 / n:.0f}%"


@pytest.mark.parametrize("columns", [80, 60])
def test_every_action_kind_is_shown_with_its_n_at_any_width(
    latte: Latte, data: tuple, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setattr(render.console, "_width", columns)
    new = open_one(latte, "delivery")

    shown = latte.ok("advise", str(new), "--as-of", "2026-06-01T00:00:00Z").stdout

    lines = shown.splitlines()
    assert all(len(line) <= columns for line in lines), shown
    counted, _ = expected(data, category="delivery")
    listed = {kind: e for kind, e in counted.items() if e.bought + e.lost >= MIN_N}
    assert listed
    for kind, e in listed.items():
        n = e.bought + e.lost
        at = next(i for i, line in enumerate(lines) if line.startswith(kind))
        # n on the action's own line, and the rate it counts on that line or the next ones.
        assert f"{n:,}" in lines[at], (kind, lines[at])
        assert percent(e.bought, n) in " ".join(lines[at : at + 3]), (kind, shown)
    assert ("(n " in shown) is (columns < 80)  # a record per action kind at 60 columns


@pytest.mark.parametrize("columns", [80, 60])
def test_no_action_kind_recorded_is_labelled_so(
    latte: Latte, data: tuple, session: Session, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    monkeypatch.setattr(render.console, "_width", columns)
    new = open_one(latte, "delivery")
    found = advise(session, new, as_of=AS_OF, months=12, min_n=MIN_N, window_days=90)
    session.commit()
    unnamed = replace(found, rows=(replace(found.rows[0], action_kind=NO_KIND), *found.rows[1:]))

    with render.console.capture() as captured:
        advise_cli.show_advice(unnamed, None)

    shown = captured.get()
    assert NO_KIND not in shown
    assert any(line.startswith("no action recorded") for line in shown.splitlines()), shown


def _day(day: str) -> int:
    return int(datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp())


def small_history() -> tuple[list[Row], list[tuple[str, str, int]], list[tuple[str, int]]]:
    """A few delivery complaints whose three counts differ: resolved in January (every window
    closed), in April (the 90-day repurchase window still open, the 30-day repeat one closed)
    and in late May (both open); one customer complained again, one bought again early."""
    rows = [
        Row(
            f"R{i}",
            f"C-{i}",
            "delivery",
            _day(f"2026-01-{i + 10:02}"),
            _day(f"2026-01-{i + 11:02}"),
            "refund",
        )
        for i in range(1, 7)
    ]
    rows += [
        Row("R7", "C-7", "delivery", _day("2026-04-14"), _day("2026-04-15"), "refund"),
        Row("R8", "C-8", "delivery", _day("2026-04-14"), _day("2026-04-15"), "refund"),
        Row("R9", "C-9", "delivery", _day("2026-05-19"), _day("2026-05-20"), "refund"),
        Row("P1", "C-11", "delivery", _day("2026-02-02"), _day("2026-02-04"), "replacement"),
        Row("P2", "C-12", "delivery", _day("2026-02-02"), _day("2026-02-05"), "replacement"),
        Row("P3", "C-13", "delivery", _day("2026-02-03"), _day("2026-02-05"), "replacement"),
        Row("P4", "C-14", "delivery", _day("2026-05-24"), _day("2026-05-25"), "replacement"),
        Row("P5", "C-16", "delivery", _day("2026-04-19"), _day("2026-04-20"), "replacement"),
        # Not counted: anonymous, still open (C-1's complaint again), resolved too long ago.
        Row("A1", "", "delivery", _day("2026-02-02"), _day("2026-02-03"), "refund"),
        Row("O1", "C-1", "delivery", _day("2026-01-20"), None, "refund"),
        Row("L1", "C-15", "delivery", _day("2025-03-01"), _day("2025-03-02"), "refund"),
    ]
    purchases = [
        ("C-2", "O-1", _day("2026-02-01")),
        ("C-7", "O-2", _day("2026-05-01")),
        ("C-11", "O-3", _day("2026-03-01")),
    ]
    return rows, purchases, []


@pytest.mark.sqlite_only
def test_each_figure_shows_the_n_it_is_computed_from(
    latte: Latte, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repurchase rate counts decided repurchase outcomes, the median every complaint
    counted (pending ones too), the repeat rate decided repeat outcomes: three different n,
    each shown beside its figure at 80 columns, on its figure's line at 60, and in --json."""
    history = small_history()
    load(latte, tmp_path, history)
    monkeypatch.setenv("LATTE_ADVICE_MIN_N", "3")
    counted, took = expected(history, category="delivery")
    wanted = {
        kind: (e.bought + e.lost, len(took[kind]), e.repeated + e.not_repeated)
        for kind, e in counted.items()
    }
    assert set(wanted) == {"refund", "replacement"}
    assert all(len(set(ns)) == 3 for ns in wanted.values()), wanted  # the test can tell them apart
    new = str(open_one(latte, "delivery"))
    at = ("--as-of", "2026-06-01T00:00:00Z")

    answer = json.loads(latte.ok("advise", new, *at, "--json").stdout)
    shown = {
        a["action_kind"]: (a["repurchase"]["n"], a["median_resolution_n"], a["repeat"]["n"])
        for a in answer["actions"]
    }
    assert shown == wanted

    monkeypatch.setattr(render.console, "_width", 80)
    lines = latte.ok("advise", new, *at).stdout.splitlines()
    header = next(line for line in lines if line.startswith("action"))
    assert re.split(r"\s{2,}", header.strip()) == [
        "action", "n", "bought again", "95% range", "n", "median time", "n", "repeat ≤30 d"
    ]  # fmt: skip
    for kind, (repurchase_n, median_n, repeat_n) in wanted.items():
        cells = re.split(r"\s{2,}", next(line for line in lines if line.startswith(kind)))
        assert (cells[1], cells[4], cells[6]) == (str(repurchase_n), str(median_n), str(repeat_n))

    monkeypatch.setattr(render.console, "_width", 60)
    lines = [line.strip() for line in latte.ok("advise", new, *at).stdout.splitlines()]
    for kind, (repurchase_n, median_n, repeat_n) in wanted.items():
        first = lines.index(f"{kind} (n {repurchase_n})")
        record = lines[first + 1 : first + 5]
        assert record[2].startswith("median time:") and record[2].endswith(f"(n {median_n})")
        assert record[3].startswith("repeat ≤30 d:") and record[3].endswith(f"(n {repeat_n})")
