"""Everything latte prints: rich tables and panels for people, JSON for scripts.

JSON keys are part of latte's interface (documented in the README): add keys, never rename.

Customer names, refs, summaries and agent names are typed by people and may contain square
brackets ("[vip]", "[/]"), which rich would read as markup: crashing on "[/]" or silently
dropping "[vip]". So latte's consoles never parse markup, and user text goes into tables and
panels as `Text` (whose content is never parsed); styles are set on `Text`, never in strings.

NO_COLOR (https://no-color.org) turns every escape sequence off, bold and underline included:
people who set it read latte through screen readers, logs and pagers.
"""

from __future__ import annotations

import dataclasses
import json
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console, Group
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from latte_cli import config, deadlines, workflow
from latte_cli.events import AmendedDetails, MergedDetails, TransferDetails, as_data
from latte_cli.phrases import TITLES
from latte_cli.timeutil import format_duration, local

if TYPE_CHECKING:
    from latte_cli.db import Status
    from latte_cli.models import Complaint, Customer
    from latte_cli.services.customers import CustomerHistory, DetailNote
    from latte_cli.services.holds import HoldView
    from latte_cli.services.privacy import CustomerData
    from latte_cli.services.search import Hit
    from latte_cli.services.team import TransferNote
    from latte_cli.services.views import (
        Change,
        ComplaintRow,
        CustomerUpdate,
        DeadlineView,
        HandOff,
        StageView,
        Timeline,
    )

_PLAIN = config.no_color()
console = Console(highlight=False, markup=False, color_system=None if _PLAIN else "auto")
err_console = Console(
    stderr=True, highlight=False, markup=False, color_system=None if _PLAIN else "auto"
)


# Timeline columns (see show_timeline). In 80 columns, borders and padding take 16, Step
# up to 17 ("take_action (#10)"), When 16 and Took 7: Who and What share the other 24.
WHAT_MIN_WIDTH = 12
# Show the SLA countdown once less than this share of the target is left.
SLA_WARNING_SHARE = 0.25
NOTE_WIDTH = 80
# `customer show`'s Summary column: at 60 columns, ID, Opened and the three short columns
# wrapped at their longest word leave it this much.
SUMMARY_MIN_WIDTH = 14
# `hold --list`'s Reason column, likewise.
REASON_MIN_WIDTH = 12
# Below this many columns those two lists tighten (`_tighten`).
NARROW_BELOW = 80


def when(moment: datetime | None, zone: tzinfo | None) -> str:
    if moment is None:
        return "—"
    return local(moment, zone).strftime("%Y-%m-%d %H:%M")


def short_when(moment: datetime | None, zone: tzinfo | None, now: datetime | None = None) -> str:
    """What fits in a list column: month, day and time this year, the date in another year."""
    if moment is None:
        return "—"
    shown = local(moment, zone)
    if shown.year != local(now or datetime.now(UTC), zone).year:
        return shown.strftime("%Y-%m-%d")
    return shown.strftime("%m-%d %H:%M")


def narrow_table(title: str | None = None) -> Table:
    """A table for lists: no borders, so that it fits 80 columns; the last column flexes."""
    return Table(
        title=title,
        expand=True,
        box=None,
        padding=(0, 1),
        pad_edge=False,
        header_style="bold underline",
    )


def _tighten(table: Table) -> bool:
    """Below 80 columns, one space between a list's columns instead of two and narrower short
    columns (the caller's), so that its free text keeps a readable width; whether it did."""
    if console.width >= NARROW_BELOW:
        return False
    table.padding = (0, 1, 0, 0)
    return True


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def money(cents: int | None) -> str:
    return "—" if cents is None else f"{cents / 100:.2f}"


def print_json(data: Any) -> None:
    console.file.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def fields_json(result: Any, *names: str) -> dict[str, Any]:
    """A service's result dataclass as a JSON object: the named fields (all by default), in
    order, times in ISO 8601."""
    keys = names or tuple(f.name for f in dataclasses.fields(result))
    out: dict[str, Any] = {}
    for key in keys:
        value = getattr(result, key)
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def customer_json(customer: Customer | None) -> dict[str, Any] | None:
    if customer is None:
        return None
    return {
        "ref": customer.ref,
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
    }


def complaint_status(complaint: Complaint) -> str:
    return workflow.status(complaint.stage_due, complaint.merged_into)


def complaint_json(complaint: Complaint, customer: Customer | None) -> dict[str, Any]:
    return {
        "id": complaint.id,
        "external_id": complaint.external_id,
        "customer": customer_json(customer),
        "channel": complaint.channel,
        "category": complaint.category,
        "location": complaint.location,
        "severity": complaint.severity,
        "summary": complaint.summary,
        "status": complaint_status(complaint),
        "stage_due": complaint.stage_due,
        "merged_into": complaint.merged_into,
        "assigned_agent": complaint.assigned_agent,
        "opened_by": complaint.opened_by,
        "opened_at": iso(complaint.opened_at),
        "acknowledged_at": iso(complaint.acknowledged_at),
        "first_resolved_at": iso(complaint.first_resolved_at),
        "resolved_at": iso(complaint.resolved_at),
        "reopen_count": complaint.reopen_count,
        "action_kind": complaint.action_kind,
        "root_cause": complaint.root_cause,
    }


def logged_json(entry: HandOff | Change) -> dict[str, Any]:
    """A logged hand-over or correction: its kind, when, who, its details, where it came from."""
    return {
        "kind": entry.kind.value,
        "at": iso(entry.at),
        "agent": entry.agent,
        **as_data(entry.details),
        "from_complaint": entry.from_complaint,
    }


def timeline_json(view: Timeline) -> dict[str, Any]:
    data = complaint_json(view.complaint, view.customer)
    data["stages"] = [
        {
            "stage": s.stage,
            "cycle": s.cycle,
            "agent": s.agent,
            "completed_at": iso(s.completed_at),
            "duration_seconds": s.duration_seconds,
            "text": s.text,
            "action_kind": s.action_kind,
            "action_detail": s.action_detail,
            "amount": None if s.amount_cents is None else s.amount_cents / 100,
            "options_offered": s.options_offered,
            "root_cause": s.root_cause,
            "what_will_change": s.what_will_change,
            "amended": s.amended,
            "from_complaint": s.from_complaint,
        }
        for s in view.stages
    ]
    data["handoffs"] = [logged_json(h) for h in view.handoffs]
    data["history"] = [logged_json(h) for h in view.history]
    data["merged_from"] = view.merged_from
    data["total_seconds"] = view.total_seconds
    data["first_resolution_seconds"] = view.first_resolution_seconds
    data["updates"] = [update_json(u) for u in view.updates]
    data["deadlines"] = deadline_json(view.deadline)
    return data


def update_json(update: CustomerUpdate) -> dict[str, Any]:
    return {
        "kind": update.details.kind.value,
        "at": iso(update.at),
        "agent": update.agent,
        **as_data(update.details),
        "from_complaint": update.from_complaint,
    }


def _epoch_iso(value: int | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).isoformat()


def deadline_json(view: DeadlineView | None) -> dict[str, Any] | None:
    """Due times fixed at opening and where they stand (docs/metrics.md, "Deadlines")."""
    if view is None:
        return None

    def one(due: int | None, done: int | None) -> dict[str, Any] | None:
        standing = view.standing(due, done)
        if due is None or standing is None:
            return None
        return {
            "due_at": _epoch_iso(due),
            "status": standing.value,
            "countdown": view.countdown(due, done),
        }

    return {
        "rule": view.rule,
        "first_response": one(view.first_response_due, view.first_response_done),
        "final_response": one(view.final_response_due, view.final_response_done),
        "update_every_days": view.update_every_days,
        "last_update_at": _epoch_iso(view.last_update),
        "next_update_due_at": _epoch_iso(view.next_update_due),
        "update_due": view.update_overdue,
    }


_STANDING_STYLE = {"met": "green", "breached": "red", "pending": "yellow"}


def deadline_lines(view: DeadlineView | None, zone: tzinfo | None) -> list[Text]:
    """`latte show`: each deadline with its due time and countdown, and the updates owed."""
    if view is None:
        return []
    lines = [plain(f"Deadlines ({view.rule or 'unnamed rule'}):")]
    for label, due, done in (
        ("First response", view.first_response_due, view.first_response_done),
        ("Final response", view.final_response_due, view.final_response_done),
    ):
        standing = view.standing(due, done)
        if due is None or standing is None:
            continue
        moment = datetime.fromtimestamp(due, UTC)
        lines.append(
            Text.assemble(
                f"  {label}: due {when(moment, zone)} · ",
                (view.countdown(due, done) or "", _STANDING_STYLE[standing.value]),
            )
        )
    if view.update_every_days:
        every = f"  Customer updates: every {view.update_every_days} d"
        if view.next_update_due is None:
            lines.append(Text(every))
        else:
            next_due = when(datetime.fromtimestamp(view.next_update_due, UTC), zone)
            late = Text(" · update due", "red") if view.update_overdue else Text("")
            lines.append(Text.assemble(f"{every} · next by {next_due}", late))
    return lines


def deadline_line(view: DeadlineView | None) -> Text | None:
    """One line for the guided flow's header: the deadline worked to now, and updates owed."""
    if view is None:
        return None
    parts: list[Text] = []
    current = view.next_due
    if current is not None:
        what, due = current
        standing = view.standing(due, None)
        style = _STANDING_STYLE[standing.value] if standing else ""
        parts.append(Text(f"{what.capitalize()} {view.countdown(due, None)}", style))
    if view.update_overdue:
        parts.append(Text("update to the customer due", "red"))
    if not parts:
        return None
    return Text("Deadline: ").append(Text(" · ").join(parts))


# Characters that move, hide or rewrite text on a screen: control characters (the terminal's
# escape sequences among them), bidirectional overrides and isolates, zero-width and other
# invisible format characters, line and paragraph separators. Newline and tab stay as typed.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def visible(text: str) -> str:
    """User text as it may be shown: every character that could reorder or hide what is on the
    screen is written out as its escape (U+202E as `\\u202e`, ESC as `\\x1b`), so that what
    an agent reads is what is stored. Tables, titles and the HTML report all go through here."""
    if text.isprintable():
        return text
    out: list[str] = []
    for char in text:
        if char in "\n\t" or unicodedata.category(char) not in _INVISIBLE_CATEGORIES:
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


def plain(value: object) -> Text:
    """User text for a table cell or a title: shown as typed (made `visible`), never read as
    markup."""
    return Text("" if value is None else visible(str(value)))


def status_label(stage_due: str | None, merged_into: int | None = None) -> Text:
    """The stage due, else the status (`workflow.status`): a duplicate names its target."""
    if merged_into is not None:
        return Text(f"merged into {merged_into}", style="yellow")
    if stage_due is None:
        return Text("resolved", style="green")
    return Text(stage_due, style="yellow")


def show_timeline(view: Timeline, zone: tzinfo | None) -> None:
    c = view.complaint
    who = "anonymous"
    if view.customer:
        who = (
            " ".join(
                filter(
                    None,
                    [view.customer.name, f"({view.customer.ref})" if view.customer.ref else None],
                )
            )
            or "unnamed"
        )
    status = status_label(c.stage_due, c.merged_into)
    console.print(Text(f"Complaint {c.id}", style="bold"), "·", status)
    if view.merged_from:
        merged = ", ".join(f"#{i}" for i in view.merged_from)
        console.print(f"Duplicates merged into it: {merged} (their steps are marked)")
    console.print(plain(f"Customer: {who}"))
    console.print(
        plain(
            f"Channel: {c.channel} · Category: {c.category} · Location: {c.location or '—'}"
            f" · Severity: {c.severity}"
        )
    )
    console.print(
        plain(
            f"Assigned to: {c.assigned_agent or '—'} · Opened {when(c.opened_at, zone)}"
            f" by {c.opened_by}"
        )
    )
    if c.summary:
        console.print(plain(f"Summary: {c.summary}"))
    entries: list[tuple[datetime, int, tuple[Text, Text, str, str, Text]]] = []
    for s in view.stages:
        label = s.stage if s.cycle == 0 else f"{s.stage} (#{s.cycle + 1})"
        detail = s.text
        if s.action_kind:
            detail = f"[{s.action_kind}] {s.action_detail or ''}"
            if s.amount_cents is not None:
                detail += f" · {money(s.amount_cents)}"
            if s.options_offered:
                detail += f" · offered: {', '.join(s.options_offered)}"
        if s.root_cause:
            detail = f"[{s.root_cause}] {s.what_will_change or ''}"
        if s.amended:
            detail = f"(amended) {detail}"
        if s.from_complaint is not None:
            detail = f"(from #{s.from_complaint}) {detail}"
        entries.append(
            (
                s.completed_at,
                1,
                (
                    Text(label),
                    plain(s.agent),
                    when(s.completed_at, zone),
                    format_duration(s.duration_seconds),
                    plain(detail),
                ),
            )
        )
    for h in view.handoffs:
        if isinstance(h.details, TransferDetails):
            what = f"to {h.details.to_agent}: {h.details.note}"
        elif isinstance(h.details, MergedDetails):
            what = f"into #{h.details.into}: {h.details.reason}"
        else:
            what = h.details.reason
        if h.from_complaint is not None:
            what = f"(from #{h.from_complaint}) {what}"
        label = h.kind.value
        entries.append((h.at, 0, (Text(label), plain(h.agent), when(h.at, zone), "", plain(what))))
    for u in view.updates:
        what = u.details.text or "(no text)"
        if u.details.channel:
            what = f"[{u.details.channel}] {what}"
        if u.from_complaint is not None:
            what = f"(from #{u.from_complaint}) {what}"
        entries.append(
            (u.at, 2, (Text("update"), plain(u.agent), when(u.at, zone), "", plain(what)))
        )
    rows = [row for _, _, row in sorted(entries, key=lambda e: (e[0], e[1]))]
    console.print(_steps(rows, console.width))
    total, first = view.total_seconds, view.first_resolution_seconds
    times = "once" if c.reopen_count == 1 else f"{c.reopen_count} times"
    if total is not None and not c.reopen_count:
        console.print(f"Resolved in {format_duration(total)}")
    elif total is not None and first is not None:
        console.print(
            f"Resolved in {format_duration(total)}; first resolved in "
            f"{format_duration(first)}, then reopened {times}"
        )
    elif first is not None:
        console.print(f"First resolved in {format_duration(first)}; reopened {times}, open again")


def _steps(rows: list[tuple[Text, Text, str, str, Text]], width: int) -> Table | Group:
    """A complaint's steps as a table, or, where the table would not fit `width`, one record
    per step. An agent's name, a time and a duration are never cut: only What wraps, at its
    words (docs/architecture.md, "80 columns")."""
    headers = ("Step", "Who", "When", "Took")
    fixed = [
        max([len(header)] + [cell_len(str(row[i])) for row in rows])
        for i, header in enumerate(headers)
    ]
    # Each of the five columns has a space either side and a rule before it, and one closes.
    if sum(fixed) + WHAT_MIN_WIDTH + 5 * 3 + 1 <= width:
        table = Table(show_lines=False, expand=False)
        for header, size in zip(headers, fixed, strict=True):
            justify: Any = "right" if header == "Took" else "left"
            table.add_column(header, min_width=size, no_wrap=True, justify=justify)
        table.add_column("What", min_width=WHAT_MIN_WIDTH)
        for row in rows:
            table.add_row(*row)
        return table
    records: list[Any] = []
    for label, agent, at, took, what in rows:
        head = Text.assemble(label, " · ", at, *((" · ", took) if took else ()), " · ", agent)
        records.append(head)
        if what.plain:
            records.append(Padding(what, (0, 0, 0, 2)))
    return Group(*records)


def _shown(field: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if field == "amount_cents":
        return money(int(value))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def show_history(view: Timeline, zone: tzinfo | None) -> None:
    """Every correction of the complaint (and of the duplicates merged into it): before and
    after of each changed field, who, when and why."""
    if not view.history:
        console.print("No corrections.")
        return
    console.print(Text("Corrections", style="bold"))
    for change in view.history:
        d = change.details
        if isinstance(d, AmendedDetails):
            what = f"{d.stage.value}" + ("" if d.cycle == 0 else f" (#{d.cycle + 1})")
        else:
            what = "customer details"
        if change.from_complaint is not None:
            what += f" of #{change.from_complaint}"
        console.print(
            Text(f"{when(change.at, zone)} · {change.agent} · {what} · reason: {d.reason or '—'}")
        )
        for name, after in d.after.items():
            before = d.before.get(name)
            label = name.removesuffix("_cents")
            console.print(
                Text(f"  {label}: {_shown(name, before)} → {_shown(name, after)}"),
            )


def detail_note(note: DetailNote, customer: Customer | None) -> str:
    """One line on a customer detail given to `latte new` that differs from the stored one."""
    who = (customer.ref or customer.name or "the customer") if customer else "the customer"
    if note.outcome == "filled":
        return f"Customer {who} had no {note.field}: stored {note.given}."
    if note.outcome == "updated":
        return f"Customer {who}'s {note.field} changed from {note.stored} to {note.given}."
    return (
        f"Warning: customer {who}'s {note.field} is stored as {note.stored}, not "
        f"{note.given}: kept. Pass --update-customer to replace it, or use "
        "`latte customer edit`."
    )


def row_json(row: ComplaintRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "external_id": row.external_id,
        "customer_ref": row.customer_ref,
        "customer_name": row.customer_name,
        "channel": row.channel,
        "category": row.category,
        "location": row.location,
        "severity": row.severity,
        "summary": row.summary,
        "status": row.status,
        "stage_due": row.stage_due,
        "assigned_agent": row.assigned_agent,
        "opened_at": iso(row.opened_at),
        "resolved_at": iso(row.resolved_at),
        "action_kind": row.action_kind,
        "reopen_count": row.reopen_count,
        "deadlines": deadline_json(row.deadline),
    }


def _list_deadline(view: DeadlineView | None, sla_late: timedelta | None) -> Text:
    """Under the stage due, one word on time: the deadline worked to ("due 2 d 4 h",
    "breached 3 d") when the complaint has one, else how far past the SLA target it is; and
    "update due" when the customer is owed one (docs/metrics.md, "Deadlines")."""
    text = Text()
    current = view.next_due if view is not None else None
    if view is not None and current is not None:
        _, due = current
        if view.now > due:
            text.append(f" breached {_largest_unit(view.now - due)}", style="red")
        elif due - view.now <= 7 * 86_400:
            text.append(f" due {deadlines.duration_text(due - view.now)}", style="yellow")
    elif sla_late is not None:
        text.append(f" late {format_duration(sla_late)}", style="red")
    if view is not None and view.update_overdue:
        text.append(" update due", style="magenta")
    return text


def _largest_unit(seconds: int) -> str:
    """ "3 d", "5 h", "12 min": a breach's age in a narrow column."""
    number, unit, *_ = deadlines.duration_text(seconds).split(" ")
    return f"{number} {unit}"


def show_list(
    rows: list[ComplaintRow],
    zone: tzinfo | None,
    *,
    sla_hours: float,
    now: datetime,
    total: int | None = None,
    needing_action: bool = False,
) -> None:
    """The rows as a table; `total` (all that match) says how many more there are."""
    if not rows:
        if needing_action:
            console.print("Nothing needs action: no open complaint is yours or unassigned.")
            console.print("See every complaint with `latte list --all`.")
        else:
            console.print("No complaints match.")
        return
    caption = None
    if total is not None and total > len(rows):
        more = "--limit or --all" if needing_action else "--limit"
        caption = f"showing {len(rows)} of {total:,} — use {more}"
    elif needing_action:
        caption = f"{len(rows)} needing action, most urgent first — every complaint: --all"
    table = narrow_table()
    table.caption = caption
    table.add_column("ID", justify="right", no_wrap=True, width=4)
    table.add_column("Opened", no_wrap=True, width=11)
    table.add_column("Customer", width=12, overflow="fold")
    table.add_column("Category", width=10, overflow="fold")
    table.add_column("Stage due", width=11)
    table.add_column("Agent", width=8, overflow="fold")
    table.add_column("Summary", overflow="fold", ratio=1)
    for row in rows:
        status = status_label(row.stage_due, row.merged_into)
        if row.merged_into is None:  # a duplicate works to no deadline: its target does
            status.append(_list_deadline(row.deadline, row.overdue_by(sla_hours, now)))
        table.add_row(
            str(row.id),
            short_when(row.opened_at, zone, now),
            plain(row.customer_name or row.customer_ref or "—"),
            plain(row.category),
            status,
            plain(row.assigned_agent or "—"),
            plain(row.summary),
        )
    console.print(table)


# The guided flow's guidance and suggested phrases ---------------------------------------------

SUGGESTION = "  You can say: "


def show_guidance(guidance: str) -> None:
    """A stage's line of guidance, wrapped at words like all of rich's text."""
    console.print(Text(guidance, style="italic"))


def show_suggestions(phrases: Sequence[str]) -> None:
    """Phrases to say, each after "You can say:" with its wrapped lines indented below it."""
    if not phrases:
        return
    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for phrase in phrases:
        grid.add_row(Text(SUGGESTION), Text(phrase))
    console.print(grid)


def hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "id": hit.complaint_id,
        "customer_ref": hit.customer_ref,
        "customer_name": hit.customer_name,
        "status": hit.status,
        "stage_due": hit.stage_due,
        "opened_at": iso(hit.opened_at),
        "snippet": hit.snippet,
    }


def show_customer_candidates(customers: Sequence[Customer]) -> None:
    """The customers an ambiguous email, phone or name fits, one a line on stderr."""
    for c in customers:
        err_console.print(
            Text("\t".join((c.ref or "—", c.name or "—", c.email or "—", c.phone or "—")))
        )


def show_search(hits: list[Hit], zone: tzinfo | None, *, text: str, now: datetime) -> None:
    """Search hits, best first; the words found are highlighted in each snippet."""
    if not hits:
        console.print(f"Nothing matches {text!r}.")
        return
    table = narrow_table()
    table.add_column("ID", justify="right", no_wrap=True, width=6)
    table.add_column("Opened", no_wrap=True, width=11)
    table.add_column("Customer", width=14, overflow="fold")
    table.add_column("Status", width=11)
    table.add_column("Found", overflow="fold", ratio=1)
    for hit in hits:
        snippet = Text(hit.snippet)
        for start, end in hit.marks:
            snippet.stylize("bold reverse", start, end)
        table.add_row(
            str(hit.complaint_id),
            short_when(hit.opened_at, zone, now),
            Text(hit.customer_name or hit.customer_ref or "—"),
            status_label(hit.stage_due, hit.merged_into),
            snippet,
        )
    console.print(table)


def sla_countdown(opened_at: datetime, now: datetime, target_hours: float) -> Text | None:
    """ "SLA: 3h 10m left" when little of the target is left, "overdue by" past it."""
    left = workflow.sla_left(opened_at, now, target_hours)
    if left <= timedelta(0):
        return Text(f"SLA: overdue by {format_duration(-left)} (target {target_hours:g}h)", "red")
    if left <= timedelta(hours=target_hours) * SLA_WARNING_SHARE:
        return Text(f"SLA: {format_duration(left)} left (target {target_hours:g}h)", "yellow")
    return None


def show_transfer_note(note: TransferNote, zone: tzinfo | None) -> None:
    """The note of a transfer, shown to its new owner before anything else."""
    sender = f"{note.from_agent}, {when(note.at, zone)}"
    title = plain(f"Transferred to you by {sender}")
    body = plain(note.note)
    if title.cell_len > NOTE_WIDTH - 6:
        # rich would cut a long title short with "…": keep the sender whole in the body.
        title = Text("Transferred to you")
        body = Text.assemble(f"From {sender}:\n", body)
    console.print(Panel(body, title=title, title_align="left", width=NOTE_WIDTH, expand=False))


def show_summary(
    complaint: Complaint, stages: Sequence[StageView], due: datetime | None, zone: tzinfo | None
) -> None:
    """The end of a guided conversation: each stage's time, the total and the follow-up."""
    table = Table(title=f"Complaint {complaint.id}: LATTE summary", expand=False)
    table.add_column("Stage", no_wrap=True)
    table.add_column("Took", justify="right", no_wrap=True)
    table.add_column("By", max_width=12, overflow="fold")
    table.add_column("Completed", no_wrap=True)
    total = 0
    for stage in stages:
        total += stage.duration_seconds
        title = TITLES[workflow.Stage(stage.stage)]
        table.add_row(
            title if stage.cycle == 0 else f"{title} (#{stage.cycle + 1})",
            format_duration(stage.duration_seconds),
            plain(stage.agent),
            when(stage.completed_at, zone),
        )
    console.print()
    console.print(table)
    if complaint.resolved_at is not None:
        total = int((complaint.resolved_at - complaint.opened_at).total_seconds())
    console.print(f"Total: {format_duration(total)}")
    if due is not None:
        console.print(f"Follow-up scheduled for {when(due, zone)}.")
        console.print(f"Record it with `latte followup record {complaint.id}`.")


def show_customer(history: CustomerHistory, zone: tzinfo | None) -> None:
    c = history.customer
    console.print(
        Text(visible(c.name or c.ref or "Customer"), style="bold"),
        plain(f"ref {c.ref or '—'} · {c.email or '—'} · {c.phone or '—'}"),
    )
    if history.merged_into is not None:
        target = history.merged_into
        console.print(
            Text(
                f"Merged into {target.ref or target.name or target.id}: its complaints and "
                f"purchases are there (latte customer show {target.ref or 'REF'})."
            )
        )
    if history.last_nps is not None:
        console.print(f"Last NPS: {history.last_nps}")
    if not history.complaints:
        console.print("No complaints on record.")
    else:
        # Ids and times never wrap; the free-text Summary keeps a readable share of a narrow
        # terminal and folds, the short words around it wrap at their widest.
        table = narrow_table(title="Complaints")
        short = _tighten(table)
        table.add_column("ID", justify="right", no_wrap=True)
        table.add_column("Opened", no_wrap=True)
        table.add_column("Category", max_width=8 if short else 10, overflow="fold")
        table.add_column("Action", max_width=8 if short else 11, overflow="fold")
        table.add_column("Outcome", max_width=11, overflow="fold")
        table.add_column("Summary", overflow="fold", ratio=1, min_width=SUMMARY_MIN_WIDTH)
        for p in history.complaints:
            outcome = status_label(p.stage_due, p.merged_into)
            if p.nps is not None:
                outcome.append(f" · NPS {p.nps}")
            table.add_row(
                str(p.id),
                short_when(p.opened_at, zone),
                plain(p.category),
                plain(p.action_kind or "—"),
                outcome,
                plain(p.summary),
            )
        console.print(table)
    if history.purchases:
        table = Table(title="Last purchases", expand=False)
        table.add_column("Order", max_width=40, overflow="fold")
        table.add_column("When", no_wrap=True)
        table.add_column("Amount", justify="right", no_wrap=True)
        for purchase in history.purchases:
            table.add_row(
                plain(purchase.order_ref),
                when(purchase.purchased_at, zone),
                money(purchase.amount_cents),
            )
        console.print(table)


def customer_history_json(history: CustomerHistory) -> dict[str, Any]:
    return {
        "customer": customer_json(history.customer),
        "merged_into": customer_json(history.merged_into),
        "last_nps": history.last_nps,
        "complaints": [
            {
                "id": p.id,
                "opened_at": iso(p.opened_at),
                "category": p.category,
                "summary": p.summary,
                "status": workflow.status(p.stage_due, p.merged_into),
                "stage_due": p.stage_due,
                "action_kind": p.action_kind,
                "resolved_at": iso(p.resolved_at),
                "nps": p.nps,
                "satisfied": p.satisfied,
            }
            for p in history.complaints
        ],
        "purchases": [
            {
                "order_ref": p.order_ref,
                "purchased_at": iso(p.purchased_at),
                "amount": p.amount_cents / 100,
            }
            for p in history.purchases
        ],
    }


def status_json(status: Status) -> dict[str, Any]:
    return fields_json(status)


def show_status(status: Status) -> None:
    console.print(Text(f"Database: {status.location}"))
    state = "up to date" if status.revision == status.head else f"head is {status.head}"
    console.print(f"Schema revision: {status.revision or 'none'} ({state})")
    table = Table(expand=False)
    table.add_column("Table")
    table.add_column("Rows", justify="right")
    for name, count in status.counts.items():
        table.add_row(plain(name), str(count))
    console.print(table)


def show_holds(holds: Sequence[HoldView], zone: tzinfo | None) -> None:
    if not holds:
        console.print("No legal holds in force.")
        return
    # Borderless, as other lists, so that the free-text Reason folds and the ids and times
    # (`short_when`) stay whole at 60 columns.
    table = narrow_table()
    short = _tighten(table)
    table.add_column("Hold", justify="right", no_wrap=True)
    table.add_column("On", max_width=12 if short else 14, overflow="fold")
    table.add_column("Reason", overflow="fold", ratio=1, min_width=REASON_MIN_WIDTH)
    table.add_column("Placed", no_wrap=True)
    table.add_column("By", max_width=8 if short else 12, overflow="fold")
    table.add_column("Released", max_width=11 if short else 14, overflow="fold")
    for h in holds:
        released = (
            "—" if h.released_at is None else f"{short_when(h.released_at, zone)} {h.released_by}"
        )
        table.add_row(
            str(h.id),
            plain(h.target),
            plain(h.reason),
            short_when(h.placed_at, zone),
            plain(h.placed_by),
            plain(released),
        )
    console.print(table)


def json_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def customer_markdown(data: CustomerData) -> str:
    """The subject-access answer as a readable Markdown file: every row, every column, each
    text shown as itself (escaped: a name or the customer's words never become a link, a tag
    or a heading in the file handed over)."""
    from latte_cli.cli.markdown import markdown_text

    def value(v: Any) -> str:
        if v is None:
            return "—"
        if isinstance(v, dict):
            return ", ".join(f"{k}: {value(x)}" for k, x in v.items()) or "—"
        lines = str(v).replace("\r\n", "\n").split("\n")
        return "<br>".join(markdown_text(line) for line in lines)

    def rows(title: str, items: list[dict[str, Any]]) -> list[str]:
        out = [f"## {title} ({len(items)})", ""]
        for item in items:
            out += [f"- **{k}**: {value(v)}" for k, v in item.items()]
            out.append("")
        return out

    c = data.customer
    lines = [f"# Data held about customer {value(c.get('ref') or c.get('id'))}", ""]
    if data.merged_into is not None:  # a merged-away customer: say where its data is
        lines += [f"**{markdown_text(data.merged_into['note'])}**", ""]
    lines += [f"- **{k}**: {value(v)}" for k, v in c.items()] + [""]
    lines += rows("Customers merged into this one (the same person)", data.merged_customers)
    lines += rows("Complaints", data.complaints)
    lines += rows("Stages", data.stage_records)
    lines += rows("Events (transfers, reopenings and every other change)", data.events)
    lines += rows("Follow-ups", data.followups)
    lines += rows("Purchases", data.purchases)
    return "\n".join(lines).rstrip("\n") + "\n"
