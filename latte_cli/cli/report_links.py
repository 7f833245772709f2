"""Which count of a report's tables is which figure, for the HTML report's links to the
complaints behind each count (docs/metrics.md, "Drill-down"), and the command that lists them.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from datetime import UTC, datetime

from latte_cli.cli.report_render import Section, sections
from latte_cli.reports.build import Report
from latte_cli.reports.detail import quoted_key
from latte_cli.reports.queries import SPEED_BUCKETS

VOLUME = ("opened", "resolved", "open_backlog", "overdue")
QUALITY = ("reopen_rate", "followup_completion", "nps")
OUTCOMES = ("repurchased", "lost", "pending")
# Columns of the outcome breakdowns (report_render.OUTCOME_COLUMNS) that are counts.
OUTCOME_CELLS = {2: "n", 3: "repurchased", 4: "lost", 5: "pending"}


def _key(label: str) -> str:
    return quoted_key(label)


def _compare(key: str, column: int) -> str | None:
    """A count in a This / n / Previous table: This and Previous are the figure itself."""
    return {1: key, 3: f"previous.{key}"}.get(column)


def figure_at(report: Report, section: Section, row: int, column: int) -> str | None:
    """The figure (as `--detail` names it) a table cell counts, or None if it is no count."""
    title = section.title
    f = report.totals
    if title == "Volume":
        return _compare(VOLUME[row], column)
    if title == "Speed" and column == 2:
        return ("time_to_acknowledge.n", "resolution_time.n", "within_target.n")[row // 3]
    if title.startswith("Where time goes") and column == 2:
        return f"stages.{section.rows[row][0]}.n"
    if title == "Quality" and column == 2:
        return f"{QUALITY[row]}.n"
    if title == "Repurchase outcomes":
        if row == 0:
            return "repurchase.n" if column == 2 else None
        return _compare(f"repurchase.{OUTCOMES[row - 1]}", column)
    fixes = _fix_figure(report, title, row, column)
    if fixes is not None:
        return fixes
    if column not in OUTCOME_CELLS and not title.startswith(("By ", "One row per agent")):
        return None
    key = OUTCOME_CELLS.get(column)
    if title == "Repurchase by resolution speed":
        return f"repurchase_by_speed.{_key(SPEED_BUCKETS[row])}.{key}"
    if title == "Repurchase by action kind":
        if row >= len(f.by_action):
            return None
        return f"repurchase_by_action.{_key(f.by_action[row][0])}.{key}"
    if title == "Fast and satisfied against the rest":
        return f"{('fast_and_satisfied', 'rest')[row]}.{key}"
    if title.startswith("By ") and ":" not in title and column in (1, 2):
        return f"{('opened', 'resolved')[column - 1]}:{report.groups[row].group}"
    if title.startswith("One row per agent") and column == 1:
        return f"resolved:{report.groups[row].group}"
    return None


DEADLINE_CELLS = {1: "met", 2: "breached", 3: "pending", 5: "n"}
REPEAT_CELLS = {2: "n", 3: "repeats", 4: "not_repeated", 5: "pending"}
REPEAT_ROWS = ("repeats", "not_repeated", "pending")


def _fix_figure(report: Report, title: str, row: int, column: int) -> str | None:
    """The counts of the sections on what to fix and what it is worth (report_render)."""
    x = report.totals.fixes
    if title.startswith("Deadlines") and column in DEADLINE_CELLS:
        return f"deadlines.{('first', 'final')[row]}.{DEADLINE_CELLS[column]}"
    if title.startswith("Root causes (Pareto") and column == 1 and row < len(x.root_causes):
        return f"root_causes.{_key(x.root_causes[row].cause)}.count"
    if title.startswith("Repeat complaints"):
        if row == 0:
            return "repeat.n" if column == 2 else None
        return _compare(f"repeat.{REPEAT_ROWS[row - 1]}", column)
    for prefix, name, groups in (
        ("Repeat by root cause", "repeat_by_cause", x.repeat_by_cause),
        ("Repeat by agent", "repeat_by_agent", x.repeat_by_agent),
    ):
        if title == prefix:
            if row < len(groups) and column in REPEAT_CELLS:
                return f"{name}.{_key(groups[row][0])}.{REPEAT_CELLS[column]}"
            return None
    if title == "Remedy cost by action kind":
        if column == 1 and row < len(x.remedies.by_action):
            return f"remedies.by_action.{_key(x.remedies.by_action[row][0])}.complaints"
        return None
    if title == "Remedies by resolution speed":
        return f"remedies.by_speed.{_key(SPEED_BUCKETS[row])}.complaints" if column == 1 else None
    if title.startswith("Complaints per 1,000"):
        return _compare("per_1000_active.opened", column) if row == 0 else None
    return None


def linked(report: Report) -> Iterator[tuple[Section, int, int, str]]:
    """Every count cell of the report's tables with the figure it counts."""
    for section in sections(report):
        for r, cells in enumerate(section.rows):
            for c in range(len(cells)):
                figure = figure_at(report, section, r, c)
                if figure is not None:
                    yield section, r, c, figure


def linked_figures(report: Report) -> list[str]:
    """The figures the HTML report links, each once, in the order they appear."""
    return list(dict.fromkeys(figure for *_, figure in linked(report)))


def command(report: Report, figure: str) -> str:
    """The command that lists all the complaints behind `figure` of `report`."""
    o, p = report.options, report.current

    def local(moment: int) -> str:
        return datetime.fromtimestamp(moment, UTC).astimezone(o.zone).strftime("%Y-%m-%dT%H:%M")

    words = ["latte", "report", report.kind]
    if "-W" in p.label and ".." not in p.label:
        words += ["--week", p.label]
    else:
        words += ["--since", local(p.start), "--until", local(p.end)]
    as_of = datetime.fromtimestamp(o.as_of, UTC).astimezone(o.zone)
    words += ["--as-of", as_of.strftime("%Y-%m-%dT%H:%M:%S"), "--tz", o.zone.key]
    words += ["--target", f"{o.target_hours:g}", "--window", str(o.window_days)]
    if o.schedule is not None:
        words += ["--hours", o.schedule.text]
    if o.by is not None and report.kind != "agents":
        words += ["--by", o.by]
    words += ["--detail", figure]
    return shlex.join(words)
