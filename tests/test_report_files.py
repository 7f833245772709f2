"""Report files: CSV a spreadsheet can trust, Markdown and HTML that show names as text, and an
empty default period that says where the data is."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from markdown_it import MarkdownIt
from sqlmodel import Session

from tests.test_reports import AS_OF, WEEK_END, WEEK_START, epoch_of, generate, write

# Names another program (or a mischievous agent) could give an agent, a category, a location.
HOSTILE_AGENT = '=HYPERLINK("http://evil.example","agent")'
HOSTILE_CATEGORY = "+1+cmd|' /C calc'!A0"
HOSTILE_LOCATION = "@SUM(1+1)"
QUOTED_FORMULA = "'-2+3"  # already one apostrophe: gets one more, as `latte export` does
MARKUP_AGENT = "<img src=x onerror=alert(1)> [click](http://evil.example) *bold* a|b"


def hostile_data(session: Session) -> None:
    rows, purchases = generate(11, WEEK_START - 21 * 86_400, WEEK_END)
    for i, row in enumerate(rows):
        if i % 4 == 0:
            row.agent = HOSTILE_AGENT
            # Every score a detractor's: the group's NPS is negative, a number that starts with -.
            for f in row.followups:
                if f["nps"] is not None:
                    f["nps"] = 0
        elif i % 4 == 1:
            row.agent = MARKUP_AGENT
        if i % 3 == 0:
            row.category = HOSTILE_CATEGORY
        if i % 5 == 0:
            row.location = HOSTILE_LOCATION
        elif i % 5 == 1:
            row.location = QUOTED_FORMULA
    write(session, rows, purchases)


def csv_rows(latte: Any, *args: str) -> list[dict[str, str]]:
    text = latte.ok("report", *args, "--as-of", AS_OF, "--format", "csv").stdout
    return list(csv.DictReader(io.StringIO(text)))


def test_every_csv_row_has_a_unique_key(latte: Any, session: Session) -> None:
    hostile_data(session)
    for args in (
        ("weekly", "--week", "2026-W47", "--weeks", "8", "--by", "agent"),
        ("weekly", "--week", "2026-W47", "--weeks", "3", "--by", "location"),
        ("agents", "--week", "2026-W47"),
        ("repurchase", "--since", "2026-11-01", "--until", "2026-11-22", "--by", "category"),
    ):
        rows = csv_rows(latte, *args)
        keys = Counter(
            (r["report"], r["series"], r["period"], r["group"], r["figure"]) for r in rows
        )
        assert [k for k, n in keys.items() if n > 1] == [], args
        assert {r["series"] for r in rows} <= {"current", "previous", "trend"}
    # The week of the report is also a week of its trend: the series tells the two rows apart,
    # and both carry the same count.
    rows = csv_rows(latte, "weekly", "--week", "2026-W47", "--weeks", "8", "--by", "agent")
    opened = {
        r["series"]: r["value"]
        for r in rows
        if r["period"] == "2026-W47" and r["group"] == "" and r["figure"] == "opened"
    }
    assert set(opened) == {"current", "trend"} and opened["current"] == opened["trend"]


def test_hostile_names_are_neutralised_in_csv(latte: Any, session: Session) -> None:
    hostile_data(session)
    expected = {
        "agent": {"'" + HOSTILE_AGENT, MARKUP_AGENT},
        "category": {"'" + HOSTILE_CATEGORY},
        "location": {"'" + HOSTILE_LOCATION, "'" + QUOTED_FORMULA},
    }
    negatives = 0
    for by, names in expected.items():
        rows = csv_rows(latte, "weekly", "--week", "2026-W47", "--weeks", "2", "--by", by)
        groups = {r["group"] for r in rows}
        assert names <= groups, (by, groups)
        for row in rows:
            for column in ("report", "series", "period", "group", "figure"):
                assert not row[column].lstrip("'").startswith(("=", "+", "-", "@")) or row[
                    column
                ].startswith("'"), (column, row)
            # `value` holds numbers only: negative ones stay numbers, not text.
            if row["value"]:
                negatives += float(row["value"]) < 0
    assert negatives > 0
    # Over the whole span, as of when every follow-up is known: all the agent's scores are 0.
    text = latte.ok(
        "report", "agents", "--since", "2026-10-01", "--until", "2026-11-22",
        "--as-of", "2027-03-01", "--format", "csv",
    ).stdout  # fmt: skip
    agents = list(csv.DictReader(io.StringIO(text)))
    score = next(
        r["value"]
        for r in agents
        if r["group"] == "'" + HOSTILE_AGENT and r["series"] == "current"
        and r["figure"] == "nps.score"
    )  # fmt: skip
    assert float(score) == -100


def test_hostile_names_are_text_in_markdown_and_html(latte: Any, session: Session) -> None:
    hostile_data(session)
    args = ("report", "weekly", "--week", "2026-W47", "--as-of", AS_OF, "--by", "agent")
    text = latte.ok(*args, "--format", "markdown").stdout
    # Render it as a Markdown viewer would (CommonMark with raw HTML on, plus tables).
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    assert "<img" not in rendered and "<a href" not in rendered and "<em>bold" not in rendered
    cells = TextOf.cells(rendered)
    assert MARKUP_AGENT in cells and HOSTILE_AGENT in cells

    page = latte.ok(*args, "--format", "html").stdout
    assert "<img" not in page and 'href="http://evil' not in page
    cells = TextOf.cells(page)
    assert MARKUP_AGENT in cells and HOSTILE_AGENT in cells


class TextOf(HTMLParser):
    """The text of every table cell of an HTML document, and whether any tag sneaked in."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.found.append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    @classmethod
    def cells(cls, document: str) -> set[str]:
        parser = cls()
        parser.feed(document)
        return set(parser.found)


# An empty default period ----------------------------------------------------------------------


def iso_week(moment: int) -> str:
    year, week, _ = datetime.fromtimestamp(moment, UTC).isocalendar()
    return f"{year}-W{week:02d}"


def test_an_empty_default_week_names_the_latest_week_with_complaints(
    latte: Any, session: Session
) -> None:
    rows, purchases = generate(3, WEEK_START - 60 * 86_400, WEEK_START - 20 * 86_400, n=60)
    write(session, rows, purchases)
    as_of = "2026-12-02T09:00"  # the default period is 2026-W48, three weeks after the data
    latest = iso_week(max(r.opened for r in rows))
    assert latest != "2026-W48"
    base = ("report", "weekly", "--as-of", as_of, "--tz", "UTC")
    command = f"latte report weekly --week {latest}"
    sentence = f"No complaints in 2026-W48. The latest week with complaints is {latest}:"

    table = " ".join(latte.ok(*base).stdout.split())
    assert sentence in table and command in table
    data = json.loads(latte.ok(*base, "--format", "json").stdout)
    assert data["latest_week_with_data"] == latest
    assert data["notice"] == f"{sentence} {command}"
    assert f"{sentence} `{command}`" in latte.ok(*base, "--format", "markdown").stdout
    assert f"{sentence} <code>{command}</code>" in latte.ok(*base, "--format", "html").stdout
    agents = latte.ok("report", "agents", "--as-of", as_of, "--tz", "UTC").stdout
    assert f"latte report agents --week {latest}" in " ".join(agents.split())

    # The hint follows the as-of time: complaints opened after it are not known.
    assert min(r.opened for r in rows) > epoch_of("2026-09-01T00:00")
    before = json.loads(latte.ok("report", "weekly", "--as-of", "2026-09-01", "-f", "json").stdout)
    assert before["latest_week_with_data"] is None
    assert "nor in any week before it" in before["notice"]

    # A week asked for by name that is empty gets the same hint (tests/test_report_words.py).
    named = json.loads(latte.ok(*base, "--week", "2026-W48", "--format", "json").stdout)
    assert named["latest_week_with_data"] == latest
    assert named["notice"] == f"{sentence} {command}"


def test_a_default_week_with_complaints_has_no_notice(latte: Any, session: Session) -> None:
    rows, purchases = generate(7, WEEK_START - 21 * 86_400, WEEK_END)
    write(session, rows, purchases)
    data = json.loads(latte.ok("report", "weekly", "--as-of", AS_OF, "-f", "json").stdout)
    assert data["period"]["label"] == "2026-W47" and data["figures"]["opened"] > 0
    assert data["latest_week_with_data"] is None and data["notice"] is None
    assert epoch_of(AS_OF) > WEEK_END


def test_an_empty_database_says_there_is_nothing_yet(latte: Any) -> None:
    latte.ok("db", "upgrade")
    text = " ".join(latte.ok("report", "weekly").stdout.split())
    assert "nor in any week before it" in text and "latte import complaints FILE" in text
    data = json.loads(latte.ok("report", "repurchase", "-f", "json").stdout)
    assert data["latest_week_with_data"] is None and data["notice"].startswith("No complaints")
