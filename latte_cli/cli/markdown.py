"""Text shown as itself in a Markdown file: a report's cells (`cli/report_render.py`) and a
customer export (`cli/render.customer_markdown`). No imports: a JSON or CSV report loads
nothing more for it (tests/test_layers.py)."""

from __future__ import annotations

# Characters that would make a text in a Markdown file (a name, the customer's words) into a
# link, an HTML tag, emphasis, a heading or a new table cell; CommonMark lets a backslash escape
# any of them.
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|&~!#"})


def markdown_text(text: str) -> str:
    """`text` to show as itself in a Markdown file (a report's cell, a customer export)."""
    return text.translate(_MD_SPECIAL)
