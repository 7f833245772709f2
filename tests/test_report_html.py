"""The HTML report as a person sees it: opened in headless Chromium, charts actually drawn."""

from __future__ import annotations

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
