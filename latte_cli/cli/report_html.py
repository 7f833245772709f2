"""The HTML report: one self-contained file (inline CSS and SVG charts, no scripts, no links
to fetch), so it opens offline and survives being emailed.

Charts are drawn with matplotlib into inline SVG. It is imported here only, and this module is
imported only when `--format html` is asked for.
"""

from __future__ import annotations

import hashlib
import html
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from latte_cli.cli import detail_render, report_links
from latte_cli.cli.render import visible
from latte_cli.cli.report_render import DASH, Section, empty_notice, header, sections
from latte_cli.reports.build import Report
from latte_cli.reports.definitions import explain

if TYPE_CHECKING:
    from latte_cli.services.detail import DetailPage

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;
max-width:960px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px}
p.meta{color:#555;margin:2px 0}
table{border-collapse:collapse;margin:8px 0}
th,td{border-bottom:1px solid #ddd;padding:3px 10px;text-align:right;font-size:14px}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}
.chart{margin:12px 0}.chart svg{max-width:100%;height:auto}
figcaption{color:#444;font-size:13px;max-width:720px;margin-top:4px}
p.notice{background:#fff4d6;border-left:4px solid #e0a100;padding:8px 12px;font-weight:600}
p.notice code{white-space:nowrap}
dl dt{font-weight:600;margin-top:8px}dl dd{margin-left:16px;color:#333}
td a{color:inherit}section.detail td{font-size:13px}
"""
# Rows per drill-down table, so that a report with big counts stays a small file.
DETAIL_ROWS = 200


# Room above the tallest bar or point, as a share of the axis, so that nothing touches or
# crosses the top edge (values in the trend are never negative, so the bottom is 0).
HEADROOM = 1.15
# Element ids in the SVG (matplotlib gids), one prefix per chart so that two charts on a page
# never share one; tests/test_report_html.py reads their geometry in Chromium.
TREND, SPEED = "trend", "speed"


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str
    caption: str


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _top(values: list[float]) -> float:
    return max([*values, 0.0]) * HEADROOM or 1.0


def _trend_chart(report: Report, plt: Any) -> Chart:
    rows = report.trend
    labels = [r.week.label[2:] for r in rows]
    positions = list(range(len(labels)))
    figure, (volume, speed) = plt.subplots(2, 1, figsize=(8, 5.4), sharex=True)
    width = 0.4
    for name, offset, colour, values in (
        ("opened", -width / 2, "#4e79a7", [r.opened for r in rows]),
        ("resolved", width / 2, "#59a14f", [r.resolved for r in rows]),
    ):
        bars = volume.bar([x + offset for x in positions], values, width, label=name,
                          color=colour)  # fmt: skip
        for i, patch in enumerate(bars.patches):
            patch.set_gid(f"{TREND}-{name}-{i}")
    volume.set_ylim(0, _top([float(max(r.opened, r.resolved)) for r in rows]))
    volume.yaxis.get_major_locator().set_params(integer=True)
    volume.set_ylabel("complaints")
    # Above the axes, never over the first weeks' bars.
    legend = volume.legend(loc="lower left", bbox_to_anchor=(0, 1.02), ncol=2, frameon=False,
                           borderaxespad=0)  # fmt: skip
    legend.set_gid(f"{TREND}-legend")
    hours = [None if r.resolution.median is None else r.resolution.median / 3600 for r in rows]
    # NaN breaks the line at a week with no resolution instead of bridging it.
    line = speed.plot(positions, [float("nan") if h is None else h for h in hours], marker="o",
                      color="#e15759")[0]  # fmt: skip
    line.set_gid(f"{TREND}-median")
    speed.set_ylim(0, _top([h for h in hours if h is not None]))
    speed.set_ylabel("median resolution (h)")
    speed.set_xticks(positions, labels, rotation=45, ha="right")
    for axis, name in ((volume, "volume"), (speed, "speed")):
        axis.patch.set_gid(f"{TREND}-{name}-axes")
        axis.spines[["top", "right"]].set_visible(False)
    svg = _svg(figure)
    plt.close(figure)
    o = report.options
    caption = (
        f"Top: complaints opened (blue) and first resolved (green) in each ISO week from "
        f"{rows[0].week.label} to {rows[-1].week.label} ({o.zone.key}). Bottom: the median "
        f"resolution time, in {o.clock}, of the complaints first resolved that week; a week "
        "with none has no point."
    )
    return Chart("Volume and median resolution time per week", svg, caption)


def _speed_chart(report: Report, plt: Any) -> Chart:
    buckets = report.totals.by_speed
    figure, axis = plt.subplots(figsize=(8, 3.2))
    rates = [o.rate.value for _, o in buckets]
    names = [f"{label}\n(n={o.rate.n})" for label, o in buckets]
    bars = axis.bar(names, [100 * r if r is not None else 0 for r in rates], color="#76b7b2")
    for i, patch in enumerate(bars.patches):
        patch.set_gid(f"{SPEED}-bar-{i}")
    for x, r in enumerate(rates):
        label = axis.annotate(DASH if r is None else f"{100 * r:.0f}%", (x, 100 * (r or 0)),
                              xytext=(0, 3), textcoords="offset points", ha="center",
                              va="bottom")  # fmt: skip
        label.set_gid(f"{SPEED}-label-{x}")
    axis.set_ylim(0, 100 * HEADROOM)
    axis.set_yticks(range(0, 101, 20))
    axis.set_ylabel("repurchase rate (%)")
    axis.patch.set_gid(f"{SPEED}-axes")
    axis.spines[["top", "right"]].set_visible(False)
    svg = _svg(figure)
    plt.close(figure)
    o, totals = report.options, report.totals
    caption = (
        f"Repurchase rate of the complaints first resolved in {report.current.label}, by how "
        f"long their first resolution took ({o.clock}): repurchased / (repurchased + lost) "
        f"within {o.window_days} days. n under each bar counts repurchased and lost; "
        f"{totals.repurchase.pending} pending (window still open) are left out, not lost. "
        f"{DASH}: no complaint with an outcome."
    )
    return Chart("Repurchase rate by resolution speed", svg, caption)


def charts(report: Report) -> list[Chart]:
    """The weekly trend (weekly report) and the repurchase rate by speed bucket."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 10})
    result = [_trend_chart(report, plt)] if report.trend else []
    result.append(_speed_chart(report, plt))
    return result


def _escape(text: str) -> str:
    """HTML-escaped, with characters that could reorder or hide text made visible."""
    return html.escape(visible(text))


def _code(text: str) -> str:
    """Escaped text whose `backticked` commands are set as <code>."""
    pieces = _escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def _table(section: Section, cell: Callable[[int, int, str], str] | None = None) -> str:
    head = "".join(f"<th>{_escape(c)}</th>" for c in section.columns)
    shown = cell or (lambda r, c, text: _escape(text))
    body = "".join(
        "<tr>" + "".join(f"<td>{shown(r, c, text)}</td>" for c, text in enumerate(row)) + "</tr>"
        for r, row in enumerate(section.rows)
    )
    note = f"<p class='meta'>{_escape(section.note)}</p>" if section.note else ""
    return f"<h2>{_escape(section.title)}</h2><table><tr>{head}</tr>{body}</table>{note}"


def html_text(report: Report, details: Mapping[str, DetailPage] | None = None) -> str:
    """The report as one HTML file; with `details` (figure: its complaints, see
    `report_links.linked_figures`) each count links to a table of its complaints."""
    lines = header(report)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>latte · {_escape(lines[0])}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_escape(lines[0])}</h1>",
        *[f"<p class='meta'>{_escape(line)}</p>" for line in lines[1:]],
    ]
    notice = empty_notice(report)
    if notice:
        parts.append(f"<p class='notice'>{_code(notice)}</p>")
    for chart in charts(report):
        parts.append(
            f"<h2>{_escape(chart.title)}</h2><figure class='chart'>{chart.svg}"
            f"<figcaption>{_escape(chart.caption)}</figcaption></figure>"
        )
    parts += [_table(section, _linker(report, section, details)) for section in sections(report)]
    parts.append("<h2>Definitions</h2><dl>")
    for d in explain(report):
        parts.append(
            f"<dt>{_escape(d.figure)}</dt><dd>{_escape(d.definition)} "
            f"<em>Clock:</em> {_escape(d.clock)}. "
            f"<em>Exclusions:</em> {_escape(d.exclusions)}</dd>"
        )
    parts.append(f"</dl><p class='meta'>{DASH} means no data (n = 0).</p>")
    if details:
        parts.append(_detail_sections(report, details))
    parts.append("</body></html>\n")
    return "".join(parts)


# Drill-down: each count links to the complaints behind it (docs/metrics.md, "Drill-down").


def _anchor(figure: str) -> str:
    """A fragment id for the figure's table: figure names may hold any character."""
    return "detail-" + hashlib.sha1(figure.encode()).hexdigest()[:12]


def _shared(details: Mapping[str, DetailPage]) -> dict[str, str]:
    """Figure: the figure whose table it links to. Counts of the same complaints with the same
    columns (resolved, resolution_time.n, within_target.n, ...) share one table."""
    first: dict[tuple[Any, ...], str] = {}
    found: dict[str, str] = {}
    for figure, page in details.items():
        d = page.detail
        key = (d.columns, d.unit, tuple(m.complaint_id for m in d.members))
        found[figure] = first.setdefault(key, figure)
    return found


def _linker(
    report: Report, section: Section, details: Mapping[str, DetailPage] | None
) -> Callable[[int, int, str], str] | None:
    """How the section's cells are written: a count with its complaints becomes a link."""
    if not details:
        return None

    shared = _shared(details)

    def cell(row: int, column: int, text: str) -> str:
        figure = report_links.figure_at(report, section, row, column)
        if figure is None or figure not in details:
            return _escape(text)
        return f"<a href='#{_anchor(shared[figure])}'>{_escape(text)}</a>"

    return cell


def _detail_sections(report: Report, details: Mapping[str, DetailPage]) -> str:
    parts = ["<h2>The complaints behind each count</h2>"]
    zone = report.options.zone
    shared = _shared(details)
    for figure, page in details.items():
        if shared[figure] != figure:
            continue
        d = page.detail
        also = [f for f, first in shared.items() if first == figure and f != figure]
        columns = ["ID", "Opened", "Customer", "Agent", "Summary"]
        columns += [detail_render.heading(c) for c in d.columns]
        head = "".join(f"<th>{_escape(c)}</th>" for c in columns)
        rows = []
        for row, member in zip(page.rows, d.members, strict=False):
            cells = [
                str(row.id),
                detail_render.cell_time(row.opened_at, zone),
                row.customer_name or row.customer_ref or DASH,
                row.assigned_agent or DASH,
                row.summary,
                *[
                    detail_render.cell(c, v, zone)
                    for c, v in zip(d.columns, member.values, strict=True)
                ],
            ]
            rows.append("<tr>" + "".join(f"<td>{_escape(c)}</td>" for c in cells) + "</tr>")
        shown = len(page.rows)
        note = ""
        if shown < page.total:
            note = (
                f"<p class='meta'>showing {shown} of {page.total:,}; all of them: "
                f"<code>{_escape(report_links.command(report, figure))}</code></p>"
            )
        parts.append(
            f"<section class='detail' id='{_anchor(figure)}' data-total='{page.total}'>"
            f"<h3>{_escape(detail_render.title(page))}</h3>{_also(also)}{note}"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "</section>"
        )
    return "".join(parts)


def _also(figures: list[str]) -> str:
    if not figures:
        return ""
    return f"<p class='meta'>Also the complaints of: {_escape(', '.join(figures))}.</p>"
