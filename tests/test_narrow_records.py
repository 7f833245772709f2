"""At 80 and 60 columns a figure or an identifier is never cut across lines: `latte show`
keeps an imported agent's name whole, and a report section too wide for the terminal becomes
one record per row instead of a table whose cells rich would cut (docs/architecture.md,
"80 columns")."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from latte_cli.cli import render

from .conftest import Latte

pytestmark = pytest.mark.sqlite_only

SAMPLE = Path(__file__).parent.parent / "data" / "sample"
WEEK = ("--week", "2026-W42", "--as-of", "2026-12-01T12:00")
# A figure as the reports print it: a count, a share, a duration, a change, an amount.
FIGURE = re.compile(r"[+-]?\d[\d,]*(?:\.\d+)?(?: ?(?:%|pp|h|d|min|s)\b|%)?")


@pytest.fixture
def desk(latte: Latte) -> Latte:
    for kind in ("complaints", "purchases", "followups"):
        latte.ok("import", kind, str(SAMPLE / f"{kind}.csv"))
    return latte


def _at(columns: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The terminal's width: reports make their console per command, `show` prints to the
    one made when latte starts."""
    monkeypatch.setenv("COLUMNS", str(columns))
    # The stored width, not the `width` property: undoing a patch of the property would fix
    # the console at the width read then, for every later test.
    monkeypatch.setattr(render.console, "_width", columns)


def _figures(text: str) -> Counter[str]:
    """The figures in the report's cells: a table's rows, or a record's values (after its
    header, which may hold a number: "p90: 4.1 h")."""
    cells = [
        line if line.startswith("│") else line.split(": ", 1)[1]
        for line in text.splitlines()
        if line.startswith("│") or (line.startswith("  ") and ": " in line)
    ]
    return Counter(m.group().replace(" ", "") for m in FIGURE.finditer("\n".join(cells)))


@pytest.mark.parametrize("columns", [80, 60])
def test_an_imported_agents_name_is_never_cut_in_show(
    latte: Latte, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: int
) -> None:
    source = tmp_path / "cx.csv"
    source.write_text(
        "external_id,customer_ref,channel,category,summary,listen,opened_at,acknowledged_at\n"
        "X-1,C-1,chat,delivery,Parcel broken,My parcel arrived broken in three pieces and "
        "nobody answered,2026-01-19T01:30:52Z,2026-01-19T01:34:33Z\n",
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(source))
    _at(columns, monkeypatch)
    lines = latte.ok("show", "1").stdout.splitlines()
    assert all(len(line) <= columns for line in lines), "\n".join(lines)
    steps = [line for line in lines if re.search(r"(^|│ )(listen|acknowledge)\b", line)]
    assert len(steps) == 2, "\n".join(lines)  # listen and acknowledge, each on one line
    assert all("import:cx.csv" in line for line in steps), "\n".join(lines)
    assert any("answered" in line for line in lines)


@pytest.mark.parametrize("report", ["weekly", "agents", "repurchase"])
@pytest.mark.parametrize("columns", [80, 60])
def test_report_figures_stay_whole_at_narrow_widths(
    desk: Latte, monkeypatch: pytest.MonkeyPatch, report: str, columns: int
) -> None:
    """The figures on a narrow screen are exactly those of a wide one: a number split over
    two lines would show as two other numbers."""
    _at(200, monkeypatch)
    wide = desk.ok("report", report, *WEEK).stdout
    _at(columns, monkeypatch)
    narrow = desk.ok("report", report, *WEEK).stdout
    lines = narrow.splitlines()
    assert all(len(line) <= columns for line in lines), "\n".join(lines)
    assert _figures(narrow) == _figures(wide), narrow
    assert len(_figures(wide)) > 20  # the sample fills the report


def test_a_section_too_wide_for_60_columns_becomes_records(
    desk: Latte, monkeypatch: pytest.MonkeyPatch
) -> None:
    _at(60, monkeypatch)
    lines = desk.ok("report", "agents", *WEEK).stdout.splitlines()
    start = lines.index("One row per agent (this period)")
    record = lines[start + 1 : start + 10]
    assert not record[0].startswith(" ") and "│" not in record[0]
    fields = [line.strip().split(": ")[0] for line in record[1:]]
    assert fields[:2] == ["Resolved", "Median"] and "Repurchased" in fields
