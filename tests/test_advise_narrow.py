"""`latte advise` at 80 and 60 columns: every figure with its n, nothing cut or dropped; an
action kind that was never recorded is not shown as if it were an action."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlmodel import Session

from latte_cli.cli import advise as advise_cli
from latte_cli.cli import render
from latte_cli.services.advice import NO_KIND, advise

from . import test_advice
from .conftest import Latte
from .test_advice import AS_OF, MIN_N, expected, open_one

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
