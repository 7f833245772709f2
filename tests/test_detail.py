"""Drill-down (`--detail`): for every count of a report's JSON, on both stores, with and without
`--by`, on the calendar and the business-hours clock, the complaints listed are exactly as many
as the report counts; and the selections of the deadline, repeat, root-cause and remedy figures
against plain-Python computations of their definitions (docs/metrics.md).

The report reads the summaries kept at write time, the drill-down the complaint rows: the walk
over the JSON fails on a count it cannot open, so a figure added later without a drill-down
breaks this test.
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import Session, SQLModel

from latte_cli.cli import report_html
from latte_cli.reports.build import Options
from latte_cli.reports.detail import is_count, parse_figure
from latte_cli.reports.hours import parse_schedule
from latte_cli.reports.periods import choose_span
from latte_cli.services.detail import figure_details

from .test_report_html import CHROMIUM, chromium
from .test_reports import WEEK_END, WEEK_START, Row, epoch_of, generate, write

AS_OF = "2026-11-23T08:00"
H, DAY = 3600, 86_400


def leaves(data: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every count's path in a report's `figures` (the JSON, walked)."""
    for key, value in data.items():
        here = (*path, key)
        if isinstance(value, dict):
            yield from leaves(value, here)
        elif is_count(here, value):
            yield here


def lookup(data: dict[str, Any], path: tuple[str, ...]) -> int:
    for key in path:
        data = data[key]
    assert isinstance(data, int)
    return data


def dotted(path: tuple[str, ...]) -> str:
    return ".".join(p if p.isidentifier() else f'"{p}"' for p in path)


def enrich(session: Session, rows: list[Row], seed: int) -> dict[int, dict[str, Any]]:
    """Give the generated complaints what the newer figures read: merged duplicates, root
    causes, remedy amounts, and deadlines (revision 0010). Returns what was set, per id."""
    rnd = random.Random(seed)
    t = SQLModel.metadata.tables
    conn = session.connection()
    extra: dict[int, dict[str, Any]] = {}
    ids = [r.id for r in rows]
    for r in rows:
        values: dict[str, Any] = {
            "root_cause": rnd.choice(["delivery", "billing", "product"])
            if r.first_resolved
            else None,
            "first_response_due_epoch": r.opened + rnd.choice([H, 4 * H, 30 * H]),
            "final_response_due_epoch": r.opened + rnd.choice([8 * H, 3 * DAY, 20 * DAY]),
        }
        if rnd.random() < 0.06:
            values["merged_into"] = rnd.choice([i for i in ids if i != r.id])
        extra[r.id] = values
        conn.execute(update(t["complaint"]).where(t["complaint"].c.id == r.id).values(**values))
        cents = rnd.choice([None, 500, 2500])
        conn.execute(
            update(t["stage_record"])
            .where(
                t["stage_record"].c.complaint_id == r.id, t["stage_record"].c.stage == "take_action"
            )
            .values(amount_cents=cents)
        )
        extra[r.id]["amount"] = cents
    session.commit()
    return extra


@pytest.fixture
def data(session: Session) -> tuple[list[Row], list[tuple[int, int]], dict[int, dict[str, Any]]]:
    rows, purchases = generate(7, WEEK_START - 21 * DAY, WEEK_END, n=220)
    write(session, rows, purchases)
    return rows, purchases, enrich(session, rows, 7)


def report_json(latte: Any, *args: str) -> dict[str, Any]:
    return json.loads(latte.ok("report", *args, "--format", "json").stdout)  # type: ignore[no-any-return]


def options_for(*, by: str | None, zone: str = "UTC", hours: str | None = None, **more: Any) -> Any:
    tz = ZoneInfo(zone)
    return Options(
        zone=tz,
        as_of=epoch_of(AS_OF, zone),
        by=by,
        schedule=parse_schedule(hours) if hours else None,
        **more,
    )


def assert_every_count_opens(session: Session, report: dict[str, Any], options: Any) -> int:
    """Open every count of the report (current and previous period, every group); return how
    many counts were not zero."""
    span = choose_span(zone=options.zone, as_of=options.as_of, week=report["period"]["label"])
    blocks = [("", "", report["figures"]), ("previous.", "", report["previous"])]
    for g in report["groups"]:
        blocks += [
            ("", f":{g['group']}", g["figures"]),
            ("previous.", f":{g['group']}", g["previous"]),
        ]
    non_zero = 0
    for prefix, suffix, figures in blocks:
        paths = list(leaves(figures))
        assert paths
        names = [f"{prefix}{dotted(p)}{suffix}" for p in paths]
        pages = figure_details(session, span=span, options=options, figures=names)
        for path, name, page in zip(paths, names, pages, strict=True):
            wanted = lookup(figures, path)
            assert page.total == wanted, (name, page.total, wanted)
            assert len(page.rows) == wanted, name
            non_zero += wanted > 0
    return non_zero


def test_every_count_opens_to_as_many_complaints(latte: Any, session: Session, data: Any) -> None:
    report = report_json(latte, "weekly", "--week", "2026-W47", "--as-of", AS_OF)
    counts = list(leaves(report["figures"]))
    assert len(counts) > 60
    non_zero = assert_every_count_opens(session, report, options_for(by=None))
    assert non_zero > 0.7 * 2 * len(counts), "the data must make most counts non-zero"


def test_lost_windows_and_a_short_target_open_too(latte: Any, session: Session, data: Any) -> None:
    """A 3-day window closes before the as-of time for most of the cohort: lost counts."""
    args = ("weekly", "--week", "2026-W47", "--as-of", AS_OF, "--window", "3", "--target", "8")
    report = report_json(latte, *args, "--by", "channel")
    assert report["figures"]["repurchase"]["lost"] > 0
    assert report["previous"]["repurchase"]["lost"] > 0
    options = options_for(by="channel", window_days=3, target_hours=8.0)
    assert_every_count_opens(session, report, options)


@pytest.mark.parametrize("by", ["agent", "location"])
def test_every_count_of_every_group_opens(latte: Any, session: Session, data: Any, by: str) -> None:
    report = report_json(latte, "weekly", "--week", "2026-W47", "--as-of", AS_OF, "--by", by)
    assert len(report["groups"]) >= 3
    assert_every_count_opens(session, report, options_for(by=by))


def test_business_hours_counts_open(
    latte: Any, session: Session, data: Any, monkeypatch: Any
) -> None:
    schedule = "Mon-Fri 09:00-17:00"
    monkeypatch.setenv("LATTE_HOURS", schedule)
    zone = "Europe/Paris"
    report = report_json(latte, "weekly", "--week", "2026-W47", "--as-of", AS_OF, "--tz", zone)
    assert report["clock"].startswith("business hours")
    options = options_for(by=None, zone=zone, hours=schedule)
    assert assert_every_count_opens(session, report, options) > 40


def test_the_walk_fails_on_a_count_it_cannot_open(session: Session, data: Any) -> None:
    options = options_for(by=None)
    span = choose_span(zone=options.zone, as_of=options.as_of, week="2026-W47")
    with pytest.raises(Exception, match="not a figure that can be opened"):
        figure_details(session, span=span, options=options, figures=["complaints_per_moon.n"])


# The command -------------------------------------------------------------------------------


def test_detail_command_lists_the_rows_as_json_csv_and_table(latte: Any, data: Any) -> None:
    args = ("report", "weekly", "--week", "2026-W47", "--as-of", AS_OF)
    report = report_json(latte, *args[1:])
    lost = report["figures"]["repurchase_by_speed"]["> 3 d"]["pending"]
    assert lost > 0
    figure = 'repurchase_by_speed."> 3 d".pending'
    rows = json.loads(latte.ok(*args, "--detail", figure, "--format", "json").stdout)
    assert len(rows) == lost
    assert {r["outcome"] for r in rows} == {"pending"}
    assert all(r["resolution_seconds"] >= 72 * H for r in rows)
    assert {"id", "customer_ref", "summary", "window_end", "bought_at"} <= set(rows[0])
    text = latte.ok(*args, "--detail", figure, "--format", "csv").stdout
    table = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["id"]) for r in table] == [r["id"] for r in rows]
    screen = latte.ok(*args, "--detail", figure).stdout
    assert f"{lost} complaints" in screen
    assert all(len(line) <= 80 for line in screen.splitlines())
    assert all(str(r["id"]) in screen for r in rows)


def test_detail_by_group_from_the_agents_report(latte: Any, data: Any) -> None:
    args = ("report", "agents", "--week", "2026-W47", "--as-of", AS_OF)
    report = report_json(latte, *args[1:])
    group = report["groups"][0]
    rows = json.loads(
        latte.ok(*args, "--detail", f"resolved:{group['group']}", "--format", "json").stdout
    )
    assert len(rows) == group["figures"]["resolved"]
    assert {r["assigned_agent"] for r in rows} <= {group["group"]}


@pytest.mark.parametrize(
    ("figure", "extra", "message"),
    [
        ("repurchase.los", (), "repurchase.lost"),
        ("resolution_time.median_seconds", (), "not a count of complaints"),
        ("repurchase.rate", (), "not a count of complaints"),
        ("resolved:ana", (), "add --by"),
        ("resolved:zed", ("--by", "agent"), "No complaint has agent 'zed'"),
        ('repurchase_by_speed."> 3 d.lost', (), "not a figure name"),
        ("opened", ("--format", "html"), "--detail lists complaints as"),
    ],
)
def test_bad_detail_is_a_one_line_error(
    latte: Any, data: Any, figure: str, extra: tuple[str, ...], message: str
) -> None:
    result = latte(
        "report", "weekly", "--week", "2026-W47", "--as-of", AS_OF, "--detail", figure, *extra
    )
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


# The newer figures against their definitions -------------------------------------------------


def _opened(rows: list[Row], extra: dict[int, dict[str, Any]]) -> dict[int, Row]:
    return {r.id: r for r in rows if "merged_into" not in extra[r.id]}


def test_deadlines_repeats_causes_and_remedies_by_definition(session: Session, data: Any) -> None:
    rows, _purchases, extra = data
    options = options_for(by=None)
    as_of = options.as_of
    span = choose_span(zone=options.zone, as_of=as_of, week="2026-W47")
    counted = _opened(rows, extra)
    start, end = WEEK_START, WEEK_END
    cohort = [
        r
        for r in counted.values()
        if r.first_resolved and start <= r.first_resolved < end and r.first_resolved <= as_of
    ]

    def ids(figure: str) -> list[int]:
        (page,) = figure_details(session, span=span, options=options, figures=[figure])
        return sorted(m.complaint_id for m in page.detail.members)

    checked = 0
    for kind, done_of, column in (
        ("first", lambda r: r.ack, "first_response_due_epoch"),
        ("final", lambda r: r.first_resolved, "final_response_due_epoch"),
    ):
        wanted: dict[str, list[int]] = {"met": [], "breached": [], "pending": []}
        for r in counted.values():
            due = extra[r.id][column]
            if not start <= due < end:
                continue
            done = done_of(r)
            done = done if done is not None and done <= as_of else None
            if done is not None:
                wanted["met" if done <= due else "breached"].append(r.id)
            else:
                wanted["breached" if as_of > due else "pending"].append(r.id)
        for key, expected_ids in wanted.items():
            assert ids(f"deadlines.{kind}.{key}") == sorted(expected_ids), (kind, key)
            checked += len(expected_ids)
        assert ids(f"deadlines.{kind}.n") == sorted(wanted["met"] + wanted["breached"])
    assert checked > 20

    repeat_window = 30 * DAY
    outcome: dict[int, str] = {}
    for r in cohort:
        if r.customer is None:
            continue
        resolved = r.first_resolved
        assert resolved is not None
        again = [
            o
            for o in counted.values()
            if o.customer == r.customer
            and o.id != r.id
            and resolved < o.opened <= resolved + repeat_window
            and o.opened <= as_of
        ]
        outcome[r.id] = (
            "repeats"
            if again
            else "not_repeated"
            if resolved + repeat_window <= as_of
            else "pending"
        )
    for key in ("repeats", "not_repeated", "pending"):
        assert ids(f"repeat.{key}") == sorted(i for i, o in outcome.items() if o == key), key
    assert set(outcome.values()) >= {"repeats", "pending"}
    for cause in ("delivery", "billing", "product"):
        mine = [r.id for r in cohort if extra[r.id]["root_cause"] == cause]
        assert ids(f"root_causes.{cause}.count") == sorted(mine)
        assert ids(f"repeat_by_cause.{cause}.repeats") == sorted(
            i for i in mine if outcome.get(i) == "repeats"
        )
    for agent in ("ana", "sam", "lee"):
        assert ids(f"repeat_by_agent.{agent}.pending") == sorted(
            r.id for r in cohort if r.agent == agent and outcome.get(r.id) == "pending"
        )
    for action in ("refund", "repair"):
        assert ids(f"remedies.by_action.{action}.complaints") == sorted(
            r.id for r in cohort if r.action == action
        )
    opened = [r.id for r in counted.values() if start <= r.opened < end and r.opened <= as_of]
    assert ids("per_1000_active.opened") == sorted(opened)


def test_parse_figure_keeps_quoted_keys_whole() -> None:
    name = parse_figure('previous.repurchase_by_speed."> 3 d".lost:north')
    assert name.path == ("repurchase_by_speed", "> 3 d", "lost")
    assert name.group == "north" and name.previous
    assert parse_figure('opened:"a:b"').group == "a:b"


# The HTML report ---------------------------------------------------------------------------

# Run in the page by Chromium (only the test's copy has a script): for every link of the
# report's tables, the link's text and the rows of the table it leads to.
LINKS = """<script>
const out = document.createElement("pre"); out.id = "links";
out.textContent = JSON.stringify([...document.querySelectorAll("td a[href^='#']")].map(a => {
  const target = document.querySelector(a.getAttribute("href"));
  return {text: a.textContent, href: a.getAttribute("href"),
          found: target !== null, total: target && Number(target.dataset.total),
          rows: target ? target.querySelectorAll("tbody tr").length : -1,
          note: target ? [...target.querySelectorAll("p")].map(p => p.textContent).join(" ") : ""};
}));
document.body.appendChild(out);
</script>"""


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_counts_link_to_tables_of_as_many_rows(
    latte: Any, data: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    cap = 25  # below the bigger counts, so that the cap and its note are seen too
    monkeypatch.setattr(report_html, "DETAIL_ROWS", cap)
    page = tmp_path / "week.html"
    args = ("weekly", "--week", "2026-W47", "--as-of", AS_OF, "--by", "agent", "--weeks", "2")
    latte.ok("report", *args, "--format", "html", "--output", str(page))
    report = report_json(latte, *args)
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", LINKS + "</body>"))
    dom = chromium(tmp_path, "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="links">(.*?)</pre>', dom.stdout.decode(), re.S)
    assert found, "the page's script did not run"
    links = json.loads(html.unescape(found[1]))
    assert len(links) > 40
    for link in links:
        assert link["found"], link
        count = int(link["text"])
        assert link["total"] == count, link
        assert link["rows"] == min(count, cap), link
        if count > cap:
            assert f"showing {cap} of {count}" in link["note"]
            assert "--detail" in link["note"]
    assert any(int(link["text"]) > cap for link in links)
    # The links say what the JSON says: opened, and the lost of a speed bucket.
    texts = {link["text"] for link in links}
    assert str(report["figures"]["opened"]) in texts
    assert any(int(link["text"]) > 0 for link in links)


def test_a_long_period_html_report_has_no_links(latte: Any, data: Any, tmp_path: Path) -> None:
    """Beyond five weeks the HTML report leaves the drill-down to `--detail` (docs/metrics.md)."""
    page = tmp_path / "long.html"
    week = ("--week", "2026-W47", "--as-of", AS_OF)
    latte.ok("report", "weekly", *week, "--format", "html", "--output", str(page))
    assert "The complaints behind each count" in page.read_text()
    long = ("--since", "2026-09-01", "--until", "2026-11-22", "--as-of", AS_OF)
    latte.ok("report", "weekly", *long, "--format", "html", "--output", str(page))
    text = page.read_text()
    assert "The complaints behind each count" not in text and '<a href="#' not in text


@pytest.mark.parametrize(
    "key", ['=HYPERLINK("http://evil.example","agent")', "a.b:c", 'back\\slash"', "> 3 d", "ana"]
)
def test_any_key_survives_quoting(key: str) -> None:
    """A group such as an agent's name may hold quotes, dots, colons and backslashes: the name
    `--detail` is given for it reads back as the same key."""
    from latte_cli.reports.detail import quoted_key

    name = parse_figure(f"repeat_by_agent.{quoted_key(key)}.repeats:{key}")
    assert name.path == ("repeat_by_agent", key, "repeats") and name.group == key
