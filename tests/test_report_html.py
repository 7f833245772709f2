"""The HTML report as a person sees it: opened in headless Chromium, charts actually drawn."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from tests.test_reports import WEEK_END, WEEK_START, generate, write

CHROMIUM = shutil.which("chromium") or shutil.which("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_report_charts_render_in_chromium(
    latte: Any, session: Session, tmp_path: Path
) -> None:
    rows, purchases = generate(5, WEEK_START - 56 * 86_400, WEEK_END, n=300)
    write(session, rows, purchases)
    page = tmp_path / "week.html"
    latte.ok(
        "report", "weekly", "--week", "2026-W47", "--weeks", "8", "--as-of", "2027-06-01",
        "--format", "html", "--output", str(page),
    )  # fmt: skip

    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout.decode()
    assert text.count("<svg") == 2
    # The drawn marks: the volume bars (2 series x 8 weeks) and speed buckets are <path>s.
    first_chart = text[text.index("<svg") : text.index("</svg>")]
    assert first_chart.count("<path") > 16
    assert "Repurchase rate by resolution speed" in text

    shot = tmp_path / "shot.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri())
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    width, height = image.size
    # The bar colours of the volume chart (#4e79a7 opened, #59a14f resolved) must be painted.
    colours = colour_counts(image)
    assert colours.get((0x4E, 0x79, 0xA7), 0) > 500
    assert colours.get((0x59, 0xA1, 0x4F), 0) > 500
    non_white = sum(n for colour, n in colours.items() if colour != (255, 255, 255))
    assert non_white > 0.02 * width * height


def colour_counts(image: Any) -> dict[tuple[int, int, int], int]:
    return {colour: n for n, colour in image.getcolors(maxcolors=1 << 20)}


# Run in the page by Chromium: the rendered box of every chart element the report names (by its
# SVG id), written into the DOM for --dump-dom to carry out. Only the test's copy has a script.
GEOMETRY = """<script>
const box = e => { const r = e.getBoundingClientRect();
  return {id: e.id || e.parentElement.id, left: r.left, top: r.top, right: r.right,
          bottom: r.bottom}; };
const all = sel => [...document.querySelectorAll(sel)].map(box);
const out = document.createElement("pre"); out.id = "geometry";
out.textContent = JSON.stringify({
  axes: all("[id$=-axes]"), legend: all("#trend-legend"),
  bars: all("[id^=trend-opened-],[id^=trend-resolved-]"), points: all("#trend-median use"),
  speed_bars: all("[id^=speed-bar-]"), labels: all("[id^=speed-label-]"),
  captions: [...document.querySelectorAll("figure")].map(f => ({
    svg_bottom: f.querySelector("svg").getBoundingClientRect().bottom,
    caption_top: f.querySelector("figcaption").getBoundingClientRect().top,
    text: f.querySelector("figcaption").textContent}))});
document.body.appendChild(out);
</script>"""

Box = dict[str, Any]


def overlap(a: Box, b: Box) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and (b["top"] < a["bottom"])
    )


def inside(inner: Box, outer: Box, slack: float = 0.5) -> bool:
    return (
        inner["left"] >= outer["left"] - slack
        and inner["right"] <= outer["right"] + slack
        and inner["top"] >= outer["top"] - slack
        and inner["bottom"] <= outer["bottom"] + slack
    )


def geometry(tmp_path: Path, page: Path) -> dict[str, Any]:
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", GEOMETRY + "</body>"))
    dom = chromium(tmp_path, "--window-size=1000,1400", "--dump-dom", probe.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="geometry">(.*?)</pre>', dom.stdout.decode(), re.S)
    assert found, "the page's script did not run"
    data: dict[str, Any] = json.loads(html_unescape(found[1]))
    return data


def html_unescape(text: str) -> str:
    import html

    return html.unescape(text)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chart_layout_as_chromium_draws_it(latte: Any, session: Session, tmp_path: Path) -> None:
    """The legend is off the bars, bars and points have headroom and stay inside their axes, and
    each chart's caption sits under it and names what it shows."""
    rows, purchases = generate(9, WEEK_START - 56 * 86_400, WEEK_END, n=300)
    # The trend's first week (2026-W40) is the busiest, so its bars are the tallest, right
    # where a legend inside the axes at the upper left would sit.
    first_week = WEEK_START - 49 * 86_400
    for i, row in enumerate(rows[:60]):
        shift(row, first_week + 3600 * (i + 1) - row.opened)
    write(session, rows, purchases)
    page = tmp_path / "week.html"
    latte.ok(
        "report", "weekly", "--week", "2026-W47", "--weeks", "8", "--as-of", "2027-06-01",
        "--format", "html", "--output", str(page),
    )  # fmt: skip
    g = geometry(tmp_path, page)
    axes = {a["id"]: a for a in g["axes"]}
    assert set(axes) == {"trend-volume-axes", "trend-speed-axes", "speed-axes"}
    assert len(g["bars"]) == 16 and len(g["legend"]) == 1 and len(g["speed_bars"]) == 4

    legend = g["legend"][0]
    tallest = min(g["bars"], key=lambda b: b["top"])
    assert tallest["id"] in ("trend-opened-0", "trend-resolved-0")
    assert [b["id"] for b in g["bars"] if overlap(legend, b)] == []
    volume = axes["trend-volume-axes"]
    for bar in g["bars"]:
        assert inside(bar, volume), bar
    height = volume["bottom"] - volume["top"]
    assert min(b["top"] for b in g["bars"]) - volume["top"] >= 0.08 * height

    speed = axes["trend-speed-axes"]
    assert len(g["points"]) == 8
    for point in g["points"]:
        assert inside(point, speed), point
    assert min(p["top"] for p in g["points"]) - speed["top"] >= 0.05 * (
        speed["bottom"] - speed["top"]
    )

    buckets = axes["speed-axes"]
    for label in g["labels"]:
        assert inside(label, buckets), label
        assert [b["id"] for b in g["speed_bars"] if overlap(label, b)] == []

    trend_caption, speed_caption = g["captions"]
    for caption in g["captions"]:
        assert caption["svg_bottom"] <= caption["caption_top"]
    assert "opened (blue) and first resolved (green)" in trend_caption["text"]
    assert "2026-W40 to 2026-W47" in trend_caption["text"]
    assert "median resolution time" in trend_caption["text"]
    assert "Repurchase rate of the complaints first resolved in 2026-W47" in speed_caption["text"]


def shift(row: Any, delta: int) -> None:
    """Move a generated complaint, with everything that happened to it, by `delta` seconds."""
    row.opened += delta
    row.stage_times = [t + delta for t in row.stage_times]
    row.reopen_at = None if row.reopen_at is None else row.reopen_at + delta
    row.resolved_again = None if row.resolved_again is None else row.resolved_again + delta
    for f in row.followups:
        f["recorded"] = None if f["recorded"] is None else f["recorded"] + delta
