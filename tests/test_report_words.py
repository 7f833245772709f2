"""Report wording: `--format` takes the short names `--output`'s suffix implies (`md`, `htm`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlmodel import Session

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
