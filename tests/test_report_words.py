"""Report wording: `--format` takes the short names `--output`'s suffix implies (`md`, `htm`),
and a period asked for by `--week` or `--since`/`--until` that has no complaints says so and
names the latest week with complaints, as the default period does."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlmodel import Session

from tests.test_report_files import iso_week
from tests.test_reports import AS_OF, WEEK_END, WEEK_START, generate, write


def _same_html(text: str) -> str:
    """The HTML without the ids matplotlib gives its clip paths and markers at random."""
    return re.sub(r"\b[mp][0-9a-f]{10}\b", "ID", text)


def test_format_md_and_htm_are_markdown_and_html(
    latte: Any, session: Session, tmp_path: Path
) -> None:
    rows, purchases = generate(5, WEEK_START - 21 * 86_400, WEEK_END, n=40)
    write(session, rows, purchases)
    for kind in ("weekly", "agents", "repurchase"):
        base = ("report", kind, "--week", "2026-W47", "--as-of", AS_OF)
        markdown = latte.ok(*base, "--format", "markdown").stdout
        assert markdown.startswith("# ")
        assert latte.ok(*base, "--format", "md").stdout == markdown
        assert latte.ok(*base, "-f", "MD").stdout == markdown
        # `-f md` is what a file named .md already meant.
        latte.ok(*base, "-o", str(tmp_path / f"{kind}.md"))
        assert (tmp_path / f"{kind}.md").read_text(encoding="utf-8") == markdown

        html = _same_html(latte.ok(*base, "--format", "html").stdout)
        assert html.startswith("<!DOCTYPE html>")
        assert _same_html(latte.ok(*base, "-f", "htm").stdout) == html
        latte.ok(*base, "-o", str(tmp_path / f"{kind}.htm"))
        assert _same_html((tmp_path / f"{kind}.htm").read_text(encoding="utf-8")) == html

    help_text = " ".join(latte.ok("report", "weekly", "--help").stdout.split())
    assert "markdown (or md)" in help_text and "html (or htm)" in help_text
    refused = latte("report", "weekly", "--as-of", AS_OF, "-f", "txt")
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        "Error: --format 'txt' is not one of: table, json, csv, markdown (or md), html (or htm)."
    ]


def _old_data(session: Session) -> str:
    """Complaints opened some weeks before the as-of time; the latest of their weeks."""
    rows, purchases = generate(3, WEEK_START - 60 * 86_400, WEEK_START - 20 * 86_400, n=60)
    write(session, rows, purchases)
    return iso_week(max(r.opened for r in rows))


EMPTY_AS_OF = "2026-12-02T09:00"


def test_an_empty_week_asked_for_names_the_latest_week_with_complaints(
    latte: Any, session: Session
) -> None:
    latest = _old_data(session)
    for week in ("2020-W01", "2026-W48"):
        base = ("report", "weekly", "--week", week, "--as-of", EMPTY_AS_OF, "--tz", "UTC")
        sentence = f"No complaints in {week}. The latest week with complaints is {latest}:"
        command = f"latte report weekly --week {latest}"
        table = " ".join(latte.ok(*base).stdout.split())
        assert f"{sentence} {command}" in table
        assert f"> **{sentence} `{command}`**" in latte.ok(*base, "-f", "markdown").stdout
        # JSON carries the same sentence in its documented fields.
        data = json.loads(latte.ok(*base, "-f", "json").stdout)
        assert data["latest_week_with_data"] == latest
        assert data["notice"] == f"{sentence} {command}"
    for kind in ("agents", "repurchase"):
        text = latte.ok("report", kind, "--week", "2020-W01", "--as-of", EMPTY_AS_OF).stdout
        assert f"latte report {kind} --week {latest}" in " ".join(text.split())

    # The week the notice names has complaints: no notice there.
    base = ("report", "weekly", "--week", latest, "--as-of", EMPTY_AS_OF, "--tz", "UTC")
    data = json.loads(latte.ok(*base, "-f", "json").stdout)
    assert data["figures"]["opened"] > 0
    assert data["latest_week_with_data"] is None and data["notice"] is None
    assert "No complaints" not in latte.ok(*base).stdout


def test_an_empty_range_asked_for_names_the_latest_week_with_complaints(
    latte: Any, session: Session
) -> None:
    latest = _old_data(session)
    base = ("report", "repurchase", "--since", "2020-01-01", "--until", "2020-01-31")
    base = (*base, "--as-of", EMPTY_AS_OF, "--tz", "UTC")
    sentence = (
        f"No complaints in 2020-01-01..2020-01-31. The latest week with complaints is {latest}:"
    )
    command = f"latte report repurchase --week {latest}"
    assert f"{sentence} {command}" in " ".join(latte.ok(*base).stdout.split())
    assert f"> **{sentence} `{command}`**" in latte.ok(*base, "-f", "markdown").stdout
