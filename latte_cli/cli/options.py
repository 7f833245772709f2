"""The options several commands share, declared once so that they read and behave alike.

Settings options (`--tz`, `--target`, `--hours`, `--followup-days`) only name the override: the
value and its default come from latte_cli/config.py, where flag > environment > config file >
default is resolved.
"""

from __future__ import annotations

from typing import Annotated

import typer

Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

ComplaintId = Annotated[int, typer.Argument(metavar="ID", help="The complaint's id.")]

At = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="WHEN",
        help="When it happened (ISO 8601, in --tz). Default: now.",
        show_default=False,
    ),
]

Since = Annotated[
    str | None,
    typer.Option("--since", metavar="WHEN", help="From this date or time (ISO 8601), inclusive."),
]

Until = Annotated[
    str | None,
    typer.Option("--until", metavar="WHEN", help="Before this date or time (ISO 8601)."),
]

Tz = Annotated[
    str | None,
    typer.Option(
        "--tz",
        metavar="ZONE",
        help="Time zone for this command (IANA name, or local). Default: the global --tz, "
        "$LATTE_TZ, the config file, else local.",
        show_default=False,
    ),
]

Target = Annotated[
    float | None,
    typer.Option(
        "--target",
        metavar="HOURS",
        help="SLA resolution target in hours. Default: $LATTE_SLA_HOURS, the config file, else 24.",
        show_default=False,
    ),
]

FollowupDays = Annotated[
    int | None,
    typer.Option(
        "--followup-days",
        metavar="DAYS",
        help="explain: schedule the follow-up this many days later. Default: "
        "$LATTE_FOLLOWUP_DAYS, the config file, else 3.",
        show_default=False,
    ),
]

Hours = Annotated[
    str | None,
    typer.Option(
        "--hours",
        metavar="SCHEDULE",
        help='Business hours, e.g. "Mon-Fri 09:00-17:00". Default: $LATTE_HOURS, the config '
        "file, else calendar hours.",
        show_default=False,
    ),
]

By = Annotated[
    str | None,
    typer.Option(
        "--by", metavar="DIMENSION", help="Break down by agent, channel, category or location."
    ),
]

# A report's or an export's file, written whole or not at all (`latte_cli.outfiles`).
OutputFile = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write to this file instead of stdout (- for stdout). The previous file is kept "
        "if writing fails.",
    ),
]

Edit = Annotated[
    bool,
    typer.Option(
        "--edit",
        help="Write the text in your editor ($VISUAL, else $EDITOR, else vi), as git commit "
        "does; any text given as an option is where it starts.",
    ),
]
