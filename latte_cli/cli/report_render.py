"""Report rendering: rich tables (with inline bars), Markdown, CSV and JSON.

Every format is built from the same `Section`s (formatted cells) except JSON and CSV, which carry
raw numbers: durations in seconds, shares as a count, an n and a rate. JSON keys are part of
latte's interface (README "Supervisors: reports"): add keys, never rename.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from latte_cli import vocabulary
from latte_cli.cli.io import neutralise
from latte_cli.cli.markdown import markdown_text
from latte_cli.reports.build import Figures, Report, TrendRow
from latte_cli.reports.definitions import Definition, explain
from latte_cli.reports.fixes import Cause, Deadline, FixFigures, Repeats
from latte_cli.reports.periods import Period, format_moment
from latte_cli.reports.stats import Dist, Nps, Outcomes, Share

if TYPE_CHECKING:
    from rich.console import Console

DASH = "—"
BAR_WIDTH = 12


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    bars: list[float | None] | None = None  # one per row, drawn after the cells in tables
    note: str = ""
    # Headers for a terminal too narrow for `columns` (docs/architecture.md, "80 columns").
    short: list[str] | None = None


# Formatting ---------------------------------------------------------------------------------


def hours(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    value = seconds / 3600
    if abs(value) >= 72:
        return f"{value / 24:.1f} d"
    return f"{value:.1f} h"


def percent(share: Share) -> str:
    value = share.value
    return DASH if value is None else f"{100 * value:.1f}%"


def nps_text(nps: Nps) -> str:
    return DASH if nps.score is None else f"{nps.score:+.0f}"


def _signed(value: float, unit: str, digits: int = 1) -> str:
    return f"{value:+.{digits}f}{unit}"


def change_hours(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return DASH
    delta = (now - before) / 3600
    if abs(delta) >= 72:
        return _signed(delta / 24, " d")
    return _signed(delta, " h")


def change_share(now: Share, before: Share) -> str:
    if now.value is None or before.value is None:
        return DASH
    return _signed(100 * (now.value - before.value), " pp")


def change_count(now: int, before: int) -> str:
    return f"{now - before:+d}"


def bar(value: float | None, top: float) -> str:
    if value is None or top <= 0:
        return ""
    eighths = round(BAR_WIDTH * 8 * max(value, 0) / top)
    full, part = divmod(eighths, 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")


# Sections -----------------------------------------------------------------------------------


def header(report: Report) -> list[str]:
    o = report.options
    p = report.current
    title = {"weekly": "Weekly report", "agents": "Agents", "repurchase": "Repurchase outcomes"}
    days = _span(p, report)
    named = p.label if days == p.label else f"{p.label} ({days})"  # a range is named by its days
    return [
        f"{title[report.kind]}: {named} · {o.zone.key}",
        f"As of {format_moment(o.as_of, o.zone)} · clock: {o.clock} · target "
        f"{o.target_hours:g} h · repurchase window {o.window_days} d",
        f"Previous period: {report.previous.label}",
    ]


def empty_notice(report: Report) -> str | None:
    """What to say when the report's period (the default week or one asked for) is empty, so
    that a report of dashes is not a riddle: which week has complaints, and the command that
    shows it."""
    empty = report.empty_default
    if empty is None:
        return None
    label = report.current.label
    if empty.latest is None:
        return (
            f"No complaints in {label}, nor in any week before it. Record one with `latte new` "
            "or load a file with `latte import complaints FILE`."
        )
    week = empty.latest.label
    return (
        f"No complaints in {label}. The latest week with complaints is {week}: "
        f"`latte report {report.kind} --week {week}`"
    )


def _span(period: Period, report: Report) -> str:
    zone = report.options.zone
    start = datetime.fromtimestamp(period.start, UTC).astimezone(zone)
    end = datetime.fromtimestamp(period.end - 1, UTC).astimezone(zone)
    return f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"


COMPARE = ["Figure", "This", "n", "Previous", "Change"]


def _dist_rows(name: str, now: Dist, before: Dist) -> list[list[str]]:
    return [
        [f"{name} median", hours(now.median), str(now.n), hours(before.median),
         change_hours(now.median, before.median)],
        [f"{name} p90", hours(now.p90), str(now.n), hours(before.p90),
         change_hours(now.p90, before.p90)],
        [f"{name} mean", hours(now.mean), str(now.n), hours(before.mean),
         change_hours(now.mean, before.mean)],
    ]  # fmt: skip


def _share_row(name: str, now: Share, before: Share) -> list[str]:
    return [name, percent(now), str(now.n), percent(before), change_share(now, before)]


def _count_row(name: str, now: int, before: int) -> list[str]:
    return [name, str(now), "", str(before), change_count(now, before)]


def volume_and_speed(f: Figures, p: Figures, target: float) -> list[Section]:
    volume = Section("Volume", COMPARE)
    volume.rows = [
        _count_row("opened", f.opened, p.opened),
        _count_row("resolved", f.resolved, p.resolved),
        _count_row("open backlog at end", f.backlog, p.backlog),
        _count_row("overdue at end", f.overdue, p.overdue),
    ]
    speed = Section("Speed", COMPARE)
    speed.rows = [
        *_dist_rows("acknowledge", f.acknowledge, p.acknowledge),
        *_dist_rows("resolution", f.resolution, p.resolution),
        _share_row(f"within {target:g} h", f.within_target, p.within_target),
    ]
    stages = Section("Where time goes (median per stage)", COMPARE)
    previous = dict(p.stages)
    stages.rows = [
        [stage, hours(d.median), str(d.n), hours(previous[stage].median),
         change_hours(d.median, previous[stage].median)]
        for stage, d in f.stages
    ]  # fmt: skip
    stages.bars = [d.median for _, d in f.stages]
    quality = Section("Quality", COMPARE)
    quality.rows = [
        _share_row("reopen rate", f.reopened, p.reopened),
        _share_row("follow-up completion", f.followed_up, p.followed_up),
        [
            "NPS",
            nps_text(f.nps),
            str(f.nps.n),
            nps_text(p.nps),
            DASH
            if f.nps.score is None or p.nps.score is None
            else _signed(f.nps.score - p.nps.score, "", 0),
        ],
    ]
    return [volume, speed, stages, quality]


OUTCOME_COLUMNS = ["Group", "Rate", "n", "Repurch.", "Lost", "Pending"]


def _outcome_row(name: str, o: Outcomes) -> list[str]:
    return [name, percent(o.rate), str(o.rate.n), str(o.repurchased), str(o.lost), str(o.pending)]


def repurchase_sections(f: Figures, p: Figures) -> list[Section]:
    overall = Section("Repurchase outcomes", COMPARE)
    overall.rows = [
        _share_row("repurchase rate", f.repurchase.rate, p.repurchase.rate),
        _count_row("repurchased", f.repurchase.repurchased, p.repurchase.repurchased),
        _count_row("lost", f.repurchase.lost, p.repurchase.lost),
        _count_row("pending (not lost)", f.repurchase.pending, p.repurchase.pending),
    ]
    speed = Section("Repurchase by resolution speed", OUTCOME_COLUMNS)
    speed.rows = [_outcome_row(label, o) for label, o in f.by_speed]
    speed.bars = [o.rate.value for _, o in f.by_speed]
    action = Section("Repurchase by action kind", OUTCOME_COLUMNS)
    # Labelled from the vocabulary; JSON and CSV keep the stored value.
    action.rows = [_outcome_row(vocabulary.label("action_kind", k), o) for k, o in f.by_action] or [
        _outcome_row(DASH, Outcomes())
    ]
    action.bars = [o.rate.value for _, o in f.by_action] or [None]
    fast = Section("Fast and satisfied against the rest", OUTCOME_COLUMNS)
    fast.rows = [
        _outcome_row("fast and satisfied", f.fast_satisfied),
        _outcome_row("the rest", f.rest),
    ]
    fast.bars = [f.fast_satisfied.rate.value, f.rest.rate.value]
    return [overall, speed, action, fast]


def cents(value: int | None) -> str:
    """Money in the terminal: cents shown with two decimals."""
    if value is None:
        return DASH
    sign = "-" if value < 0 else ""
    whole, part = divmod(abs(value), 100)
    return f"{sign}{whole:,}.{part:02d}"


def change_cents(now: int, before: int) -> str:
    """A change of money, signed like every other change ("+75.00", "-204.49", "+0.00")."""
    delta = now - before
    return ("+" if delta >= 0 else "") + cents(delta)


def ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def _rate_cell(share: Share) -> str:
    return f"{percent(share)} ({share.n})"


def deadline_section(f: Figures, p: Figures) -> Section:
    section = Section(
        "Deadlines (due in the period)",
        ["Deadline", "Met", "Breached", "Pending", "Rate", "n", "Previous", "Change"],
        short=["Deadline", "Met", "Late", "Pend.", "Rate", "n", "Prev.", "Chg."],
    )
    for name, now, before in (
        ("first response", f.fixes.deadline_first, p.fixes.deadline_first),
        ("final response", f.fixes.deadline_final, p.fixes.deadline_final),
    ):
        section.rows.append(
            [
                name,
                str(now.met),
                str(now.breached),
                str(now.pending),
                percent(now.rate),
                str(now.rate.n),
                percent(before.rate),
                change_share(now.rate, before.rate),
            ]
        )
    section.note = "Rate = met / (met + breached); pending = open and not yet due."
    return section


TOP_CHANGES = 3


def cause_sections(f: Figures) -> list[Section]:
    pareto = Section(
        "Root causes (Pareto, resolved in the period)",
        ["Cause", "n", "Share", "Cum.", "Median", "Repurch.", "Repeat", "Change", "Flags"],
        short=["Cause", "n", "Share", "Cum.", "Med.", "Rep.", "Rpt.", "Chg.", "Flags"],
    )
    changes = Section("What will change, by cause", ["Cause", "What will change", "n"])
    for c in f.fixes.root_causes:
        flags = "".join(x for x, on in (("↑", c.rising), ("↻", c.recurring)) if on)
        label = vocabulary.label("root_cause", c.cause)
        pareto.rows.append(
            [
                label,
                str(c.count),
                DASH if c.share is None else f"{100 * c.share:.1f}%",
                DASH if c.cumulative_share is None else f"{100 * c.cumulative_share:.1f}%",
                hours(c.resolution.median),
                percent(c.repurchase.rate),
                percent(c.repeat.rate),
                DASH if c.change is None else f"{c.change:+d}",
                flags or DASH,
            ]
        )
        for text, n in c.changes[:TOP_CHANGES]:
            changes.rows.append([label, text, str(n)])
    if not pareto.rows:
        pareto.rows.append([DASH] * len(pareto.columns))
    pareto.bars = None
    pareto.note = (
        "Change: count against the previous period. ↑ rising, ↻ recurring (see --explain)."
    )
    result = [pareto]
    if changes.rows:
        changes.note = f"The {TOP_CHANGES} most frequent per cause; all of them in --format json."
        result.append(changes)
    return result


REPEAT_COLUMNS = ["Group", "Rate", "n", "Repeats", "Not rep.", "Pending"]


def _repeat_row(name: str, r: Repeats) -> list[str]:
    return [name, percent(r.rate), str(r.rate.n), str(r.repeats), str(r.not_repeated),
            str(r.pending)]  # fmt: skip


def repeat_sections(f: Figures, p: Figures, repeat_days: int) -> list[Section]:
    overall = Section(f"Repeat complaints (within {repeat_days} d)", COMPARE)
    now, before = f.fixes.repeat, p.fixes.repeat
    overall.rows = [
        _share_row("repeat rate", now.rate, before.rate),
        _count_row("repeats", now.repeats, before.repeats),
        _count_row("not repeated", now.not_repeated, before.not_repeated),
        _count_row("pending", now.pending, before.pending),
    ]
    by_cause = Section("Repeat by root cause", REPEAT_COLUMNS)
    by_cause.rows = [
        _repeat_row(vocabulary.label("root_cause", c), r) for c, r in f.fixes.repeat_by_cause
    ] or [_repeat_row(DASH, Repeats())]
    by_agent = Section("Repeat by agent", REPEAT_COLUMNS)
    by_agent.rows = [_repeat_row(a, r) for a, r in f.fixes.repeat_by_agent] or [
        _repeat_row(DASH, Repeats())
    ]
    return [overall, by_cause, by_agent]


def remedy_sections(f: Figures, p: Figures) -> list[Section]:
    r, before = f.fixes.remedies, p.fixes.remedies
    overall = Section("Remedies and revenue kept", COMPARE)
    overall.rows = [
        ["remedy cost", cents(r.cost_cents), "", cents(before.cost_cents),
         change_cents(r.cost_cents, before.cost_cents)],
        ["revenue kept", cents(r.revenue_kept_cents), "", cents(before.revenue_kept_cents),
         change_cents(r.revenue_kept_cents, before.revenue_kept_cents)],
        ["kept per unit of remedy", ratio(r.kept_per_remedy), "", ratio(before.kept_per_remedy),
         DASH if r.kept_per_remedy is None or before.kept_per_remedy is None
         else f"{r.kept_per_remedy - before.kept_per_remedy:+.2f}"],
    ]  # fmt: skip
    action = Section("Remedy cost by action kind", ["Action", "Complaints", "Cost"])
    action.rows = [
        [vocabulary.label("action_kind", k), str(v.complaints), cents(v.cost_cents)]
        for k, v in r.by_action
    ] or [[DASH, "0", cents(0)]]
    speed = Section(
        "Remedies by resolution speed",
        ["Speed", "Complaints", "Cost", "Revenue kept", "Kept/cost"],
        short=["Speed", "n", "Cost", "Kept", "Kept/cost"],
    )
    speed.rows = [
        [label, str(v.complaints), cents(v.cost_cents), cents(v.revenue_kept_cents),
         ratio(v.kept_per_remedy)]
        for label, v in r.by_speed
    ]  # fmt: skip
    speed.note = "Money in the currency of the amounts recorded, two decimals."
    return [overall, action, speed]


def per_1000_section(f: Figures, p: Figures) -> Section:
    now, before = f.fixes.per_1000, p.fixes.per_1000
    section = Section("Complaints per 1,000 active customers", COMPARE)
    section.rows = [
        _count_row("opened", now.opened, before.opened),
        _count_row("active customers", now.active_customers, before.active_customers),
        ["per 1,000 active", ratio(now.rate), str(now.active_customers), ratio(before.rate),
         DASH if now.rate is None or before.rate is None else f"{now.rate - before.rate:+.2f}"],
    ]  # fmt: skip
    section.note = "Active: a purchase in the 365 days before the period's end."
    return section


def fix_sections(report: Report) -> list[Section]:
    f, p = report.totals, report.previous_totals
    return [
        deadline_section(f, p),
        *cause_sections(f),
        *repeat_sections(f, p, report.options.repeat_days),
        *remedy_sections(f, p),
        per_1000_section(f, p),
    ]


def group_fix_section(report: Report) -> Section:
    by = report.options.by or "group"
    section = Section(
        f"By {by}: deadlines, repeats, remedies",
        [by.capitalize(), "Final met", "Repeat", "Remedy cost", "Revenue kept", "Per 1,000"],
        short=[by.capitalize(), "Final", "Repeat", "Cost", "Kept", "/1000"],
    )
    for g in report.groups:
        x = g.current.fixes
        section.rows.append(
            [
                g.group,
                _rate_cell(x.deadline_final.rate),
                _rate_cell(x.repeat.rate),
                cents(x.remedies.cost_cents),
                cents(x.remedies.revenue_kept_cents),
                ratio(x.per_1000.rate),
            ]
        )
    return section


def group_section(report: Report) -> Section:
    by = report.options.by or "group"
    section = Section(
        f"By {by}",
        [by.capitalize(), "Opened", "Resolved", "Median", "≤target", "Repurchased", "NPS"],
        short=[by.capitalize(), "Opened", "Res.", "Median", "≤target", "Repurch.", "NPS"],
    )
    for g in report.groups:
        f = g.current
        section.rows.append(
            [
                g.group,
                str(f.opened),
                str(f.resolved),
                hours(f.resolution.median),
                percent(f.within_target),
                f"{percent(f.repurchase.rate)} ({f.repurchase.rate.n})",
                f"{nps_text(f.nps)} ({f.nps.n})",
            ]
        )
    return section


def agents_section(report: Report) -> Section:
    section = Section(
        "One row per agent (this period)",
        [
            "Agent",
            "Resolved",
            "Median",
            "p90",
            "≤target",
            "Reopened",
            "Repurchased",
            "NPS",
            "Open",
        ],
        short=["Agent", "Res.", "Med.", "p90", "≤tgt", "Reop.", "Rep.", "NPS", "Open"],
    )
    for g in report.groups:
        f = g.current
        section.rows.append(
            [
                g.group,
                str(f.resolved),
                hours(f.resolution.median),
                hours(f.resolution.p90),
                percent(f.within_target),
                percent(f.reopened),
                f"{percent(f.repurchase.rate)} ({f.repurchase.rate.n})",
                f"{nps_text(f.nps)} ({f.nps.n})",
                f"{f.backlog} ({f.overdue} late)",
            ]
        )
    section.note = "Open = backlog at the end (overdue in brackets)."
    return section


def trend_section(rows: tuple[TrendRow, ...], grouped: bool) -> Section:
    columns = ["Week", "Opened", "Resolved", "Backlog", "Median", "≤target"]
    if grouped:
        columns.insert(1, "Group")
    section = Section("Trend by week" + (" and group" if grouped else ""), columns)
    for r in rows:
        cells = [
            r.week.label,
            str(r.opened),
            str(r.resolved),
            str(r.backlog),
            hours(r.resolution.median),
            percent(r.within_target),
        ]
        if grouped:
            cells.insert(1, r.group or DASH)
        section.rows.append(cells)
    if not grouped:
        section.bars = [float(r.opened) for r in rows]
        section.note = "Bars: complaints opened per week."
    return section


def outcome_trend_section(rows: tuple[TrendRow, ...], grouped: bool) -> Section:
    """Per week, the repurchase outcomes and NPS of the complaints first resolved that week."""
    columns = ["Week", "Repurchased", "Lost", "Pending", "Rate", "NPS", "n"]
    if grouped:
        columns.insert(1, "Group")
    title = "Outcomes by week" + (" and group" if grouped else "")
    section = Section(title, columns)
    for r in rows:
        o = r.repurchase
        cells = [
            r.week.label,
            str(o.repurchased),
            str(o.lost),
            str(o.pending),
            percent(o.rate),
            nps_text(r.nps),
            str(r.nps.n),
        ]
        if grouped:
            cells.insert(1, r.group or DASH)
        section.rows.append(cells)
    return section


def sections(report: Report) -> list[Section]:
    f, p = report.totals, report.previous_totals
    target = report.options.target_hours
    if report.kind == "agents":
        return [agents_section(report), group_fix_section(report)]
    if report.kind == "repurchase":
        result = [*repurchase_sections(f, p), *remedy_sections(f, p)]
        if report.groups:
            result += [group_section(report), group_fix_section(report)]
        return result
    result = [*volume_and_speed(f, p, target), *repurchase_sections(f, p), *fix_sections(report)]
    if report.groups:
        result += [group_section(report), group_fix_section(report)]
    if report.trend:
        result.append(trend_section(report.trend, grouped=False))
        result.append(outcome_trend_section(report.trend, grouped=False))
    if report.group_trend:
        result.append(trend_section(report.group_trend, grouped=True))
        result.append(outcome_trend_section(report.group_trend, grouped=True))
    return result


# Table and Markdown -------------------------------------------------------------------------


def print_table(report: Report, console: Console, *, with_definitions: bool) -> None:
    # rich only for a table: a JSON, CSV or Markdown report does without (start-up).
    from rich.table import Table
    from rich.text import Text

    from latte_cli.cli.render import visible

    for line in header(report):
        console.print(line, markup=False, highlight=False)
    notice = empty_notice(report)
    if notice:
        console.print()
        text = notice.replace(": `", ":\n  ").replace("`", "")  # the command on a line of its own
        console.print(text, style="bold", markup=False, highlight=False)
    for section in sections(report):
        headers, widths = fit_columns(section, console.width)
        if not _fits(section, widths, console.width) and section.bars is not None:
            section = replace(section, bars=None)  # the bars give way to the figures
            headers, widths = fit_columns(section, console.width)
        if not _fits(section, widths, console.width):
            _print_records(section, console)
            continue
        table = Table(title=section.title, title_justify="left", expand=False, pad_edge=False)
        for i, column in enumerate(headers):
            table.add_column(
                column,
                justify="left" if i == 0 else "right",
                overflow="fold",
                width=widths[i] if widths else None,
            )
        top = max((b for b in section.bars or [] if b is not None), default=0.0)
        if section.bars is not None:
            table.add_column("", no_wrap=True, min_width=BAR_WIDTH, max_width=BAR_WIDTH)
        for i, row in enumerate(section.rows):
            cells: list[Any] = [
                Text(_wrapped(visible(c), widths[k] if widths else None, label=k == 0))
                for k, c in enumerate(row)
            ]
            if section.bars is not None:
                value = section.bars[i] if i < len(section.bars) else None
                cells.append(Text(bar(value, top), style="cyan"))
            table.add_row(*cells)
        console.print()
        console.print(table)
        legend = [
            f"{short} = {full}"
            for short, full in zip(headers, section.columns, strict=True)
            if short != full
        ]
        note = " ".join(x for x in ("; ".join(legend) + "." if legend else "", section.note) if x)
        if note:
            console.print(note, markup=False, highlight=False)
    if with_definitions:
        console.print()
        console.print("Definitions", style="bold")
        for d in explain(report):
            console.print(
                f"- {d.figure}: {d.definition} Clock: {d.clock}. Exclusions: {d.exclusions}",
                markup=False,
                highlight=False,
            )


def _fits(section: Section, widths: list[int] | None, width: int) -> bool:
    """Whether the table of `fit_columns`' widths fits `width` (None: as it is)."""
    if widths is None:
        return True
    bars = section.bars is not None
    return sum(widths) + (BAR_WIDTH if bars else 0) + _chrome(len(widths) + bars) <= width


def _print_records(section: Section, console: Console) -> None:
    """A section too wide for the terminal even with its cells on several lines (60 columns):
    each row as a record, its label on a line and each figure on its own line under its full
    header, so that no figure is cut (docs/architecture.md, "80 columns")."""
    from rich.padding import Padding
    from rich.text import Text

    console.print()
    console.print(Text(section.title, style="italic"))
    for row in section.rows:
        console.print(Text(row[0], style="bold"))
        for header, cell in zip(section.columns[1:], row[1:], strict=True):
            if cell:
                console.print(Padding(Text(f"{header}: {cell}"), (0, 0, 0, 2)))
    if section.note:
        console.print(section.note, markup=False, highlight=False)


def _chrome(columns: int) -> int:
    """Columns a table's borders and padding take: a rule before, between and after the
    columns, and a space each side of a cell except the table's outer edges (pad_edge=False)."""
    return (columns + 1) + 2 * columns - 2


def _parts(cell: str, label: bool) -> list[str]:
    """Where a cell may go on another line: a figure before its bracket ("100.0%" / "(265)"),
    never between a number and its unit ("31.8 h"); a row's label (an agent's name, say)
    after a space, ".", "-", "@" or "_"."""
    pattern = r"(?<=[ .\-@_])" if label else r"(?<= )(?=\()"
    return [part for part in re.split(pattern, cell) if part]


def _wrapped(cell: str, width: int | None, label: bool) -> str:
    """The cell on as many lines as `width` needs, broken only between its parts."""
    from rich.cells import cell_len

    if width is None or cell_len(cell) <= width:
        return cell
    lines = [""]
    for part in _parts(cell, label):
        if lines[-1] and cell_len((lines[-1] + part).rstrip()) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(line.rstrip() for line in lines)


def fit_columns(section: Section, width: int) -> tuple[list[str], list[int] | None]:
    """The headers and column widths that fit `width` without splitting a header or a word.

    rich, given a table too wide, narrows its widest columns until they are equal, cutting
    headers and numbers in two ("≤targe/t"). Here: the full headers if the table fits as it
    is; else the short ones; and if it is still too wide, each column gets its longest word
    (a header is one word, a cell's parts are those of `_parts`) and the room left is shared
    in proportion to what each would take unwrapped; a cell too wide for its column goes on
    two lines at its bracket ("100.0%" / "(265)"), never inside a word or a figure.
    """
    from rich.cells import cell_len

    bar = BAR_WIDTH if section.bars is not None else 0
    extra = (1 if section.bars is not None else 0) + len(section.columns)
    options = [section.columns] + ([section.short] if section.short else [])
    for headers in options:
        natural = [
            max([cell_len(h), *(cell_len(row[i]) for row in section.rows)])
            for i, h in enumerate(headers)
        ]
        if sum(natural) + bar + _chrome(extra) <= width:
            return headers, None
    headers = options[-1]
    smallest = [
        max(
            [cell_len(h)]
            + [cell_len(p.rstrip()) for row in section.rows for p in _parts(row[i], i == 0)]
        )
        for i, h in enumerate(headers)
    ]
    room = width - bar - _chrome(extra) - sum(smallest)
    if room < 0:
        return headers, smallest  # wider than the terminal: the terminal folds the lines
    wanted = [n - m for n, m in zip(natural, smallest, strict=True)]
    total = sum(wanted) or 1
    widths = [m + room * w // total for m, w in zip(smallest, wanted, strict=True)]
    return headers, [min(w, n) for w, n in zip(widths, natural, strict=True)]


def _md_cell(text: str) -> str:
    """A cell (an agent's or a category's name, say) shown as itself, on one line."""
    return " ".join(markdown_text(text).split())


def markdown(report: Report, *, with_definitions: bool) -> str:
    lines = [f"# {header(report)[0]}", "", *[f"{line}  " for line in header(report)[1:]]]
    notice = empty_notice(report)
    if notice:
        lines += ["", f"> **{notice}**"]
    for section in sections(report):
        lines += ["", f"## {section.title}", ""]
        lines.append("| " + " | ".join(section.columns) + " |")
        aligns = ["---"] + ["---:"] * (len(section.columns) - 1)
        lines.append("| " + " | ".join(aligns) + " |")
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in section.rows]
        if section.note:
            lines += ["", section.note]
    if with_definitions:
        lines += ["", "## Definitions", ""]
        lines += [
            f"- **{d.figure}**: {d.definition} *Clock:* {d.clock}. *Exclusions:* {d.exclusions}"
            for d in explain(report)
        ]
    return "\n".join(lines) + "\n"


# JSON and CSV -------------------------------------------------------------------------------


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def dist_json(d: Dist) -> dict[str, Any]:
    return {
        "n": d.n,
        "median_seconds": _r(d.median),
        "p90_seconds": _r(d.p90),
        "mean_seconds": _r(d.mean),
    }


def share_json(s: Share) -> dict[str, Any]:
    return {"count": s.count, "n": s.n, "rate": _r(s.value)}


def outcomes_json(o: Outcomes) -> dict[str, Any]:
    return {
        "repurchased": o.repurchased,
        "lost": o.lost,
        "pending": o.pending,
        "n": o.rate.n,
        "rate": _r(o.rate.value),
    }


def figures_json(f: Figures) -> dict[str, Any]:
    return {
        "opened": f.opened,
        "resolved": f.resolved,
        "open_backlog": f.backlog,
        "overdue": f.overdue,
        "time_to_acknowledge": dist_json(f.acknowledge),
        "resolution_time": dist_json(f.resolution),
        "within_target": share_json(f.within_target),
        "stages": {stage: dist_json(d) for stage, d in f.stages},
        "reopen_rate": share_json(f.reopened),
        "repurchase": outcomes_json(f.repurchase),
        "repurchase_by_speed": {label: outcomes_json(o) for label, o in f.by_speed},
        "repurchase_by_action": {kind: outcomes_json(o) for kind, o in f.by_action},
        "fast_and_satisfied": outcomes_json(f.fast_satisfied),
        "rest": outcomes_json(f.rest),
        "nps": nps_json(f.nps),
        "followup_completion": share_json(f.followed_up),
        **fixes_json(f.fixes),
    }


def deadline_json(d: Deadline) -> dict[str, Any]:
    return {
        "met": d.met,
        "breached": d.breached,
        "pending": d.pending,
        "n": d.rate.n,
        "rate": _r(d.rate.value),
    }


def repeats_json(r: Repeats) -> dict[str, Any]:
    return {
        "repeats": r.repeats,
        "not_repeated": r.not_repeated,
        "pending": r.pending,
        "n": r.rate.n,
        "rate": _r(r.rate.value),
    }


def cause_json(c: Cause) -> dict[str, Any]:
    return {
        "count": c.count,
        "share": _r(c.share),
        "cumulative_share": _r(c.cumulative_share),
        "resolution_time": dist_json(c.resolution),
        "repurchase": outcomes_json(c.repurchase),
        "repeat": repeats_json(c.repeat),
        "previous_count": c.previous_count,
        "change": c.change,
        "rising": c.rising,
        "recurring": c.recurring,
        # A list: the CSV leaves it out (free texts are not figures).
        "what_will_change": [{"text": t, "count": n} for t, n in c.changes],
    }


def fixes_json(x: FixFigures) -> dict[str, Any]:
    r = x.remedies
    return {
        "deadlines": {
            "first": deadline_json(x.deadline_first),
            "final": deadline_json(x.deadline_final),
        },
        "root_causes": {c.cause: cause_json(c) for c in x.root_causes},
        "repeat": repeats_json(x.repeat),
        "repeat_by_cause": {cause: repeats_json(v) for cause, v in x.repeat_by_cause},
        "repeat_by_agent": {agent: repeats_json(v) for agent, v in x.repeat_by_agent},
        "remedies": {
            "by_action": {
                kind: {"complaints": v.complaints, "cost_cents": v.cost_cents}
                for kind, v in r.by_action
            },
            "cost_cents": r.cost_cents,
            "revenue_kept_cents": r.revenue_kept_cents,
            "kept_per_remedy": _r(r.kept_per_remedy),
            "by_speed": {
                label: {
                    "complaints": v.complaints,
                    "cost_cents": v.cost_cents,
                    "revenue_kept_cents": v.revenue_kept_cents,
                    "kept_per_remedy": _r(v.kept_per_remedy),
                }
                for label, v in r.by_speed
            },
        },
        "per_1000_active": {
            "opened": x.per_1000.opened,
            "active_customers": x.per_1000.active_customers,
            "rate": _r(x.per_1000.rate),
        },
    }


def nps_json(nps: Nps) -> dict[str, Any]:
    return {
        "score": _r(nps.score),
        "n": nps.n,
        "promoters": nps.promoters,
        "passives": nps.passives,
        "detractors": nps.detractors,
    }


def period_json(p: Period) -> dict[str, Any]:
    def iso(moment: int) -> str:
        return datetime.fromtimestamp(moment, UTC).isoformat()

    return {"label": p.label, "start": iso(p.start), "end": iso(p.end)}


def trend_json(r: TrendRow) -> dict[str, Any]:
    return {
        "week": r.week.label,
        "start": period_json(r.week)["start"],
        "group": r.group,
        "opened": r.opened,
        "resolved": r.resolved,
        "open_backlog": r.backlog,
        "resolution_time": dist_json(r.resolution),
        "within_target": share_json(r.within_target),
        "repurchase": outcomes_json(r.repurchase),
        "nps": nps_json(r.nps),
    }


def definition_json(d: Definition) -> dict[str, str]:
    return {
        "figure": d.figure,
        "definition": d.definition,
        "clock": d.clock,
        "exclusions": d.exclusions,
    }


def report_json(report: Report) -> dict[str, Any]:
    o = report.options
    return {
        "report": report.kind,
        "period": period_json(report.current),
        "previous_period": period_json(report.previous),
        "time_zone": o.zone.key,
        "as_of": datetime.fromtimestamp(o.as_of, UTC).isoformat(),
        "clock": o.clock,
        "business_hours": o.schedule.text if o.schedule else None,
        "target_hours": o.target_hours,
        "window_days": o.window_days,
        "repeat_days": o.repeat_days,
        "by": o.by,
        # Set only when the report's period is empty (README "Supervisors: reports").
        "latest_week_with_data": _latest_week(report),
        "notice": (empty_notice(report) or "").replace("`", "") or None,
        "figures": figures_json(report.totals),
        "previous": figures_json(report.previous_totals),
        "groups": [
            {
                "group": g.group,
                "figures": figures_json(g.current),
                "previous": figures_json(g.previous),
            }
            for g in report.groups
        ],
        "trend": [trend_json(r) for r in (*report.trend, *report.group_trend)],
        "definitions": [definition_json(d) for d in explain(report)],
    }


def _latest_week(report: Report) -> str | None:
    empty = report.empty_default
    return empty.latest.label if empty and empty.latest else None


def json_text(report: Report) -> str:
    return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"


def _flatten(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, list):
        return  # texts ("what will change"), in JSON only
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
    else:
        yield prefix, value


CSV_COLUMNS = ["report", "series", "period", "group", "figure", "value"]


def csv_text(report: Report) -> str:
    """Long format: one row per (series, period, group, figure) with the raw value.

    `series` (current / previous / trend) keeps every row's key unique: the trend's week and the
    report's period can be the same week, and a pivot over the key must not add them twice.
    Text cells go through the export's formula neutralising; `value` holds only numbers (raw,
    as docs/metrics.md "Showing numbers" says), so a negative change or NPS stays a number.
    """
    data = report_json(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    kind = data["report"]
    now, before = data["period"]["label"], data["previous_period"]["label"]
    blocks: list[tuple[str, str, str, dict[str, Any]]] = [
        ("current", now, "", data["figures"]),
        ("previous", before, "", data["previous"]),
    ]
    for g in data["groups"]:
        blocks.append(("current", now, g["group"], g["figures"]))
        blocks.append(("previous", before, g["group"], g["previous"]))
    for t in data["trend"]:
        rest = {k: v for k, v in t.items() if k not in {"week", "start", "group"}}
        blocks.append(("trend", t["week"], t["group"] or "", rest))
    for series, period, group, figures in blocks:
        for figure, value in _flatten("", figures):
            cells = [kind, series, period, group, figure]
            writer.writerow([*map(neutralise, cells), _csv_value(value)])
    return out.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):  # flags (a cause rising, recurring) as numbers
        return int(value)
    if isinstance(value, str):  # no figure is text today; a future one must not run as a formula
        return neutralise(value)
    return value
