"""A stored value that reads `(none)` (imported, or written by another program) is a group of its
own, apart from the complaints with no value: on both stores, in every format, with its own
figures, and `--detail` reaches each (docs/metrics.md, "Comparisons, groups and trends").
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, SQLModel

from latte_cli.reports import queries as q

from .test_detail import AS_OF, assert_every_count_opens, options_for
from .test_reports import (
    WEEK_END,
    WEEK_START,
    Row,
    assert_same,
    epoch_of,
    expected,
    generate,
    write,
)

DAY = 86_400
WEEK = ("--week", "2026-W47", "--as-of", AS_OF)
# Stored location: no value (NULL or empty text), the text "(none)", an ordinary one.
LOCATIONS = (None, "", "(none)", "north")
CAUSES = (None, "", "(none)", "billing")
NULL_AGENT = "-"  # in the rows: a complaint whose assigned agent is set to NULL after writing


def shown(value: str | None) -> str:
    """The label docs/metrics.md gives a stored value."""
    if not value:
        return "(none)"
    return "'(none)'" if value == "(none)" else value


@pytest.fixture
def data(session: Session) -> tuple[list[Row], list[tuple[int, int]]]:
    rows, purchases = generate(11, WEEK_START - 21 * DAY, WEEK_END, n=200)
    rnd = random.Random(11)
    for r in rows:
        r.location = rnd.choice(LOCATIONS)
        r.agent = rnd.choice(["ana", "sam", "(none)", NULL_AGENT])
        if r.action and rnd.random() < 0.3:
            r.action = "(none)"  # an action kind stored as the text
    write(session, rows, purchases)
    complaint = SQLModel.metadata.tables["complaint"]
    conn = session.connection()
    nobody = [r.id for r in rows if r.agent == NULL_AGENT]
    conn.execute(update(complaint).where(complaint.c.id.in_(nobody)).values(assigned_agent=None))
    for cause in CAUSES:  # a root cause recorded as "(none)" is a cause like any other
        ids = [r.id for r in rows if r.first_resolved and r.id % len(CAUSES) == CAUSES.index(cause)]
        conn.execute(update(complaint).where(complaint.c.id.in_(ids)).values(root_cause=cause))
    session.commit()
    for r in rows:
        r.agent = None if r.agent == NULL_AGENT else r.agent  # type: ignore[assignment]
    return rows, purchases


def report(latte: Any, *args: str) -> dict[str, Any]:
    result = latte.ok("report", *args, "--format", "json")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_label_sets_stored_texts_apart_from_no_value() -> None:
    values = [None, "(none)", "'(none)'", "''(none)''", "'(none)", "(none)'", "north", "(None)"]
    labels = [q.label(v) for v in values]
    assert labels[:3] == ["(none)", "'(none)'", "''(none)''"]
    assert len(set(labels)) == len(labels)
    assert [q.labelled(t) for t in labels] == values
    assert q.label("north") == "north"


@pytest.mark.parametrize("by", ["location", "agent"])
def test_each_group_has_its_own_label_and_figures(latte: Any, data: Any, by: str) -> None:
    rows, purchases = data
    found = report(latte, "weekly", *WEEK, "--by", by)
    labels = [g["group"] for g in found["groups"]]
    assert len(labels) == len(set(labels)), labels
    values = {getattr(r, by) for r in rows}
    assert set(labels) == {shown(v) for v in values}
    assert {"(none)", "'(none)'"} <= set(labels)
    groups = {g["group"]: g for g in found["groups"]}
    kinds = found["figures"]["repurchase_by_action"]
    assert "'(none)'" in kinds
    # The oracle keys the action kinds as they are stored: the stored text as it is shown.
    labelled = [replace(r, action=r.action and shown(r.action)) for r in rows]
    for label in labels:
        mine = [r for r in labelled if shown(getattr(r, by)) == label]
        wanted = expected(mine, purchases, WEEK_START, WEEK_END, as_of=epoch_of(AS_OF))
        assert_same(groups[label]["figures"], wanted, label)
    weeks = [(t["week"], t["group"]) for t in found["trend"]]
    assert len(weeks) == len(set(weeks))
    assert {g for _, g in weeks} >= {"(none)", "'(none)'", None}


@pytest.mark.parametrize("kind", ["weekly", "agents", "repurchase"])
def test_csv_keys_are_unique(latte: Any, data: Any, kind: str) -> None:
    by = () if kind == "agents" else ("--by", "location")
    text = latte.ok("report", kind, *WEEK, *by, "--format", "csv").stdout
    table = list(csv.DictReader(io.StringIO(text)))
    keys = [(r["report"], r["series"], r["period"], r["group"], r["figure"]) for r in table]
    assert len(keys) == len(set(keys)), [k for k in keys if keys.count(k) > 1][:3]
    assert {"(none)", "'(none)'"} <= {r["group"] for r in table}


def test_table_markdown_and_html_show_both_groups(latte: Any, data: Any) -> None:
    args = ("report", "weekly", *WEEK, "--by", "location")
    markdown = latte.ok(*args, "--format", "markdown").stdout
    assert "\n| '(none)' | " in markdown
    assert "\n| (none) | " in markdown
    table = latte.ok(*args).stdout
    firsts = [line.split("│")[1].strip() for line in table.splitlines() if line.count("│") > 2]
    assert "'(none)'" in firsts
    assert "(none)" in firsts
    page = latte.ok(*args, "--format", "html").stdout
    for label in ("'(none)'", "(none)"):
        assert f"<td>{html.escape(label)}</td>" in page
        assert f"<h3>opened ({html.escape(label)}) in " in page  # its drill-down table


def test_repeats_by_agent_keep_the_two_apart(latte: Any, data: Any) -> None:
    rows, _ = data
    found = report(latte, "weekly", *WEEK)
    by_agent = found["figures"]["repeat_by_agent"]
    assert {"(none)", "'(none)'"} <= set(by_agent)
    cohort = [
        r
        for r in rows
        if r.customer
        and r.first_resolved
        and WEEK_START <= r.first_resolved < WEEK_END
        and r.first_resolved <= epoch_of(AS_OF)
    ]
    for label in ("(none)", "'(none)'"):
        n = sum(by_agent[label][k] for k in ("repeats", "not_repeated", "pending"))
        assert n == sum(shown(r.agent) == label for r in cohort), label


@pytest.mark.parametrize("hours", [None, "Mon-Fri 09:00-17:00"])
def test_detail_reaches_each_group(latte: Any, session: Session, data: Any, hours: Any) -> None:
    clock = ("--hours", hours) if hours else ()
    found = report(latte, "weekly", *WEEK, "--by", "location", *clock)
    assert found["figures"]["root_causes"]["(none)"]["count"] > 0
    assert_every_count_opens(session, found, options_for(by="location", hours=hours))
    groups = {g["group"]: g for g in found["groups"]}
    for label in ("(none)", "'(none)'"):
        listed = json.loads(
            latte.ok(
                "report", "weekly", *WEEK, "--by", "location", *clock,
                "--detail", f"opened:{label}", "--format", "json",
            ).stdout
        )  # fmt: skip
        assert len(listed) == groups[label]["figures"]["opened"] > 0, label
        assert {r["location"] or "" for r in listed} <= (
            {"(none)"} if label == "'(none)'" else {""}
        )
    # A label no value has (the stored "'(none)" is shown as "''(none)'") names no group.
    result = latte("report", "weekly", *WEEK, "--by", "location", "--detail", "opened:'(none)")
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1
    assert 'No complaint has location "\'(none)"' in result.output


def test_unknown_group_lists_every_group_when_few(latte: Any, data: Any) -> None:
    result = latte("report", "agents", *WEEK, "--detail", "resolved:nobody")
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1
    assert "No complaint has agent 'nobody'. Give one of: '(none)', ana, sam, (none)." in (
        result.output
    )


def test_unknown_group_names_the_closest_among_many(latte: Any, session: Session) -> None:
    rows, purchases = generate(3, WEEK_START - 7 * DAY, WEEK_END, n=60)
    for r in rows:
        r.location = f"store {r.id % 14:02d}"
    write(session, rows, purchases)
    result = latte("report", "weekly", *WEEK, "--by", "location", "--detail", "opened:store 1")
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1
    text = result.output
    assert "No complaint has location 'store 1'." in text
    assert "Give one of the 14 groups the report shows with --by location" in text
    assert "(the closest: store 1" in text
