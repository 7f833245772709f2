"""Each figure's definition, clock and exclusions in words (docs/metrics.md), filled in with the
report's own settings and counts, for `--explain` and the HTML report's notes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from latte_cli.reports.build import Report
from latte_cli.reports.fixes import RECURRING_WEEKS, RISING_MIN, RISING_RATIO
from latte_cli.reports.periods import format_moment


@dataclass(frozen=True)
class Definition:
    figure: str
    definition: str
    clock: str
    exclusions: str


def explain(report: Report) -> tuple[Definition, ...]:
    o = report.options
    as_of = format_moment(o.as_of, o.zone)
    target = f"{o.target_hours:g} h"
    clock = o.clock
    pending = report.totals.repurchase.pending
    cohort = (
        "complaints first resolved in the period (first_resolved_at in the period and at or "
        "before the as-of time)"
    )
    groups: tuple[Definition, ...] = ()
    if o.by is not None:
        owner = "assigned agent" if o.by == "agent" else o.by
        groups = (
            Definition(
                "groups",
                f"Every figure per {o.by}: each complaint counts under its current {owner}.",
                "as each figure",
                f"Complaints with no {o.by} (or an empty one) are under '(none)'.",
            ),
        )
    return (
        *groups,
        Definition(
            "opened",
            "Complaints opened in the period.",
            "opened_at",
            f"Complaints opened after the as-of time ({as_of}) are not counted.",
        ),
        Definition(
            "resolved",
            "Complaints first resolved in the period.",
            "first_resolved_at",
            "A complaint counts as resolved from its first resolution; one resolved after the "
            "as-of time counts as open then. A reopened complaint is not resolved twice.",
        ),
        Definition(
            "open backlog",
            "Complaints open at the end of the period (or at the as-of time, if earlier): "
            "opened by then and not yet first-resolved.",
            "opened_at, first_resolved_at",
            "A complaint reopened after its first resolution is not back in the backlog.",
        ),
        Definition(
            "overdue",
            f"Open backlog older than the target ({target}) at that moment.",
            clock,
            "Resolved complaints are never overdue.",
        ),
        Definition(
            "time to acknowledge",
            "acknowledge completion - opened_at: median, p90 (inclusive linear interpolation, "
            "as numpy's default and PERCENTILE.INC), mean beside them, n.",
            f"{clock}; counted over {cohort}",
            "Complaints without an acknowledge time are left out of n.",
        ),
        Definition(
            "resolution time",
            "first resolution (explain) - opened_at: median, p90 (inclusive), mean, n.",
            f"{clock}; counted over {cohort}",
            "The latest resolution of a reopened complaint is not used; see reopen rate.",
        ),
        Definition(
            "within target",
            f"Share of resolved complaints whose resolution time is at most {target}.",
            clock,
            "Open complaints are not in n (they show as overdue instead).",
        ),
        Definition(
            "time per stage",
            "Median (and mean) time in each LATTE stage: listen from opened_at to its "
            "completion, every later stage from the previous completion to its own.",
            f"calendar hours, always; first cycle of {cohort}",
            "Stages recorded after a reopening are left out, so the means add up to the "
            "calendar resolution time.",
        ),
        Definition(
            "reopen rate",
            "Share of resolved complaints reopened at or before the as-of time.",
            f"first_resolved_at; reopenings by {as_of}",
            "Reopenings after the as-of time are not counted.",
        ),
        Definition(
            "repurchase outcomes",
            f"For each resolved complaint with a known customer, window W = {o.window_days} "
            "days after its first resolution: repurchased = a purchase by that customer in "
            "(resolved_at, resolved_at + W] or a follow-up that recorded a repurchase; lost = "
            "no such evidence and resolved_at + W <= as-of; pending = no evidence yet and the "
            "window still open. Rate = repurchased / (repurchased + lost).",
            f"first_resolved_at; purchases and follow-ups known by {as_of}",
            f"pending: {pending} complaints whose {o.window_days}-day window is still open at "
            f"{as_of} are not counted as lost. Complaints without a customer are left out.",
        ),
        Definition(
            "speed buckets",
            "Repurchase outcomes by resolution time: < 4 h; 4-24 h (4 h up to but not "
            "including 24 h); 1-3 d (24 h up to but not including 72 h); > 3 d (72 h or more).",
            clock,
            "As repurchase outcomes.",
        ),
        Definition(
            "fast and satisfied",
            f"Resolved within the target ({target}) and a follow-up recorded by the as-of "
            "time said the customer was satisfied; 'the rest' is every other complaint in the "
            "repurchase outcomes.",
            clock,
            "A complaint without a recorded follow-up is in the rest.",
        ),
        Definition(
            "NPS",
            "% promoters (9-10) - % detractors (0-6) among follow-up scores, with n.",
            f"scores recorded by {as_of} for {cohort}",
            "Follow-ups without a score are left out of n.",
        ),
        Definition(
            "follow-up completion",
            "Share of resolved complaints with a follow-up recorded by the as-of time.",
            f"first_resolved_at; follow-ups recorded by {as_of}",
            "Follow-ups still pending count as not done.",
        ),
        *_fix_definitions(report, as_of, clock),
        Definition(
            "previous and change",
            f"The same figure for the period just before ({report.previous.label}, same "
            "length); change = this period - previous (percentage points for shares).",
            "as each figure",
            "— when either side has n = 0.",
        ),
        Definition(
            "trend",
            "Per ISO week (Monday-Sunday in the report's zone, DST included): opened, "
            "resolved, backlog at the week's end, resolution median/p90, share within "
            "target, and the repurchase rate and NPS of that week's resolved, as above.",
            f"{o.zone.key}; {clock}",
            "Weeks after the as-of time are empty.",
        ),
    )


def detail_command(report: Report) -> str:
    """The command that reports this report's period, zone and as-of time again, for a
    `--detail` hint: run as printed, it counts what this report counted."""
    o = report.options
    period = report.current
    if re.fullmatch(r"\d{4}-W\d{2}", period.label):
        chosen = f"--week {period.label}"
    else:
        start = datetime.fromtimestamp(period.start, o.zone)
        since = start.date().isoformat() if start.time() == time(0) else start.isoformat()
        last = datetime.fromtimestamp(period.end - 1, o.zone).date()
        chosen = f"--since {since} --until {last.isoformat()}"
    moment = datetime.fromtimestamp(o.as_of, o.zone).isoformat(timespec="seconds")
    return f"latte report {report.kind} {chosen} --tz {o.zone.key} --as-of {moment}"


def _fix_definitions(report: Report, as_of: str, clock: str) -> tuple[Definition, ...]:
    """Deadlines, root causes, repeats, remedies, per 1,000 active customers."""
    o = report.options
    x = report.totals.fixes
    final = x.deadline_final
    return (
        Definition(
            "deadlines",
            "For each complaint whose due time falls in the period: first response = "
            "acknowledge completion against first_response_due; final response = first "
            "resolution against final_response_due (both fixed at opening). Met = completed at "
            "or before the due time; breached = completed after it, or not completed by the "
            "as-of time and already past it; pending = not completed and not yet due at the "
            "as-of time. Rate = met / (met + breached).",
            f"due times in the period; completions known by {as_of}",
            f"Complaints without a due time are in none. {final.breached} final-response "
            f"breaches this period: list them with `{detail_command(report)} --detail "
            "deadlines.final.breached`.",
        ),
        Definition(
            "root causes",
            "Complaints first resolved in the period by their root cause (the current value "
            "recorded at Explain), most frequent first: share = count / all with a root cause, "
            "cumulative share in that order, median resolution time, repurchase rate, repeat "
            f"rate, change in count from the previous period. Rising = at least {RISING_MIN} "
            f"more than the previous period and at least {RISING_RATIO:g} times as many; "
            f"recurring = present in each of the last {RECURRING_WEEKS} ISO weeks up to the "
            "period's end. 'What will change': the texts recorded at Explain, with how often.",
            f"first_resolved_at; {clock} for the median",
            "Complaints without a root cause are left out of the Pareto and its shares.",
        ),
        Definition(
            "repeat complaints",
            f"For each resolved complaint with a known customer, R = {o.repeat_days} days: "
            "repeat = the same customer opened another complaint in (resolved_at, "
            "resolved_at + R], known by the as-of time; not repeated = none and resolved_at + R "
            "<= as-of; pending = none yet and the window still open. Rate = repeats / (repeats "
            "+ not repeated); by root cause and by the complaint's current agent.",
            f"first_resolved_at; complaints opened by {as_of}",
            f"pending: {x.repeat.pending} complaints whose window is still open are not counted "
            "as not repeated. Merged duplicates never count as a repeat. Anonymous complaints "
            "are left out.",
        ),
        Definition(
            "remedies and revenue kept",
            "Remedy cost = the amounts recorded at Take action (current values) of the "
            "complaints first resolved in the period, by action kind. Revenue kept = the "
            "amounts of the distinct purchases in (resolved_at, resolved_at + W] of at least "
            f"one of the customer's complaints first resolved in the period (W = "
            f"{o.window_days} days), each purchase counted once. Kept per unit of remedy = "
            "revenue kept / remedy cost. By speed bucket as the repurchase outcomes.",
            f"first_resolved_at; records and purchases known by {as_of}; {clock} for buckets",
            "— when the cost is 0. Complaints with no amount add nothing to the cost.",
        ),
        Definition(
            "complaints per 1,000 active customers",
            "Complaints opened in the period x 1000 / the distinct customers with a purchase "
            "in the 365 days before the period's end.",
            f"opened_at; purchases known by {as_of}",
            "— when there are no active customers. Per group: the group's complaints over all "
            "active customers.",
        ),
    )
