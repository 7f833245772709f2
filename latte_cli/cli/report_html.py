"""The HTML report: one self-contained file (inline CSS and SVG charts, no scripts, no links
to fetch), so it opens offline and survives being emailed.

Charts are drawn with matplotlib into inline SVG. It is imported here only, and this module is
imported only when `--format html` is asked for.
"""

from __future__ import annotations

import html
import io
from typing import Any

from latte_cli.cli.report_render import DASH, Section, empty_notice, header, sections
from latte_cli.reports.build import Report
from latte_cli.reports.definitions import explain

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;
max-width:960px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px}
p.meta{color:#555;margin:2px 0}
table{border-collapse:collapse;margin:8px 0}
th,td{border-bottom:1px solid #ddd;padding:3px 10px;text-align:right;font-size:14px}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}
.chart{margin:12px 0}.chart svg{max-width:100%;height:auto}
p.notice{background:#fff4d6;border-left:4px solid #e0a100;padding:8px 12px;font-weight:600}
dl dt{font-weight:600;margin-top:8px}dl dd{margin-left:16px;color:#333}
"""


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def charts(report: Report) -> list[tuple[str, str]]:
    """(title, inline SVG) for the weekly trend and repurchase rate by speed bucket."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 10})
    result: list[tuple[str, str]] = []
    if report.trend:
        labels = [r.week.label[2:] for r in report.trend]
        figure, (volume, speed) = plt.subplots(2, 1, figsize=(8, 5.2), sharex=True)
        positions = list(range(len(labels)))
        width = 0.4
        volume.bar([x - width / 2 for x in positions], [r.opened for r in report.trend], width,
                   label="opened", color="#4e79a7")  # fmt: skip
        volume.bar([x + width / 2 for x in positions], [r.resolved for r in report.trend], width,
                   label="resolved", color="#59a14f")  # fmt: skip
        volume.set_ylabel("complaints")
        volume.legend(loc="upper left", frameon=False)
        medians = [r.resolution.median for r in report.trend]
        points = [(x, m / 3600) for x, m in zip(positions, medians, strict=True) if m is not None]
        if points:
            speed.plot([p[0] for p in points], [p[1] for p in points], marker="o", color="#e15759")
        speed.set_ylabel("median resolution (h)")
        speed.set_xticks(positions, labels, rotation=45, ha="right")
        speed.set_ylim(bottom=0)
        for axis in (volume, speed):
            axis.spines[["top", "right"]].set_visible(False)
        result.append(("Volume and median resolution time per week", _svg(figure)))
        plt.close(figure)
    buckets = report.totals.by_speed
    figure, axis = plt.subplots(figsize=(8, 3))
    rates = [o.rate.value for _, o in buckets]
    names = [f"{label}\n(n={o.rate.n})" for label, o in buckets]
    axis.bar(names, [100 * r if r is not None else 0 for r in rates], color="#76b7b2")
    for x, r in enumerate(rates):
        axis.annotate(DASH if r is None else f"{100 * r:.0f}%", (x, 100 * (r or 0)),
                      ha="center", va="bottom")  # fmt: skip
    axis.set_ylim(0, 105)
    axis.set_ylabel("repurchase rate (%)")
    axis.spines[["top", "right"]].set_visible(False)
    result.append(("Repurchase rate by resolution speed", _svg(figure)))
    plt.close(figure)
    return result


def _code(text: str) -> str:
    """Escaped text whose `backticked` commands are set as <code>."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def _table(section: Section) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in section.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in section.rows
    )
    note = f"<p class='meta'>{html.escape(section.note)}</p>" if section.note else ""
    return f"<h2>{html.escape(section.title)}</h2><table><tr>{head}</tr>{body}</table>{note}"


def html_text(report: Report) -> str:
    lines = header(report)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>latte · {html.escape(lines[0])}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(lines[0])}</h1>",
        *[f"<p class='meta'>{html.escape(line)}</p>" for line in lines[1:]],
    ]
    notice = empty_notice(report)
    if notice:
        parts.append(f"<p class='notice'>{_code(notice)}</p>")
    for title, svg in charts(report):
        parts.append(f"<h2>{html.escape(title)}</h2><div class='chart'>{svg}</div>")
    parts += [_table(section) for section in sections(report)]
    parts.append("<h2>Definitions</h2><dl>")
    for d in explain(report):
        parts.append(
            f"<dt>{html.escape(d.figure)}</dt><dd>{html.escape(d.definition)} "
            f"<em>Clock:</em> {html.escape(d.clock)}. "
            f"<em>Exclusions:</em> {html.escape(d.exclusions)}</dd>"
        )
    parts.append(f"</dl><p class='meta'>{DASH} means no data (n = 0).</p>")
    parts.append("</body></html>\n")
    return "".join(parts)
