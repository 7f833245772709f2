"""Deadlines, the root-cause Pareto, repeat complaints, remedies against revenue kept and
complaints per 1,000 active customers, against a plain-Python computation of their
definitions (docs/metrics.md) over generated rows; on both stores.

The rows are those of `tests/test_reports.py` (`generate`, `write`); root causes, "what will
change" texts, remedy amounts, due times, purchase amounts and a merged duplicate are then
set with direct SQL updates, as another program (or a later revision) would.
"""

from __future__ import annotations

import csv
import io
import json
import random
import shlex
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session

from tests.test_reports import Row, epoch_of, generate, write

H = 3600
DAY = 86_400
CAUSES = ("delivery", "billing", "product_defect", "service")
TEXTS = ("Padding", "Second check", "Call back")
WEEK_START = epoch_of("2026-11-16T00:00")  # 2026-W47
WEEK_END = WEEK_START + 7 * DAY
AS_OF = "2026-11-23T08:00"


@dataclass
class Extra:
    """What the updates set, per complaint id."""

    cause: dict[int, str | None]
    change: dict[int, str | None]
    amount: dict[int, int | None]
    first_due: dict[int, int | None]
    final_due: dict[int, int | None]
    merged: set[int]
    purchases: list[tuple[int, int, int, int]]  # (purchase id, customer, epoch, cents)


def enrich(session: Session, rows: list[Row], purchases: list[tuple[int, int]], seed: int) -> Extra:
    rnd = random.Random(seed)
    conn = session.connection()
    extra = Extra({}, {}, {}, {}, {}, set(), [])
    for r in rows:
        resolved = r.first_resolved is not None
        extra.cause[r.id] = rnd.choice([*CAUSES, CAUSES[0], None]) if resolved else None
        extra.change[r.id] = rnd.choice([*TEXTS, None]) if resolved else None
        extra.amount[r.id] = rnd.choice([None, 0, 1250, 4999]) if len(r.stage_times) >= 3 else None
        extra.first_due[r.id] = rnd.choice([None, r.opened + H, r.opened + 30 * H])
        extra.final_due[r.id] = rnd.choice([None, r.opened + 8 * H, r.opened + 4 * DAY])
        conn.execute(
            text(
                "UPDATE complaint SET root_cause = :cause, first_response_due_epoch = :first, "
                "final_response_due_epoch = :final WHERE id = :id"
            ),
            {
                "cause": extra.cause[r.id],
                "first": extra.first_due[r.id],
                "final": extra.final_due[r.id],
                "id": r.id,
            },
        )
        conn.execute(
            text(
                "UPDATE stage_record SET what_will_change = :t WHERE complaint_id = :id "
                "AND stage = 'explain'"
            ),
            {"t": extra.change[r.id], "id": r.id},
        )
        conn.execute(
            text(
                "UPDATE stage_record SET amount_cents = :a WHERE complaint_id = :id "
                "AND stage = 'take_action'"
            ),
            {"a": extra.amount[r.id], "id": r.id},
        )
    # A duplicate merged into another complaint of the same customer counts nowhere.
    pairs = [
        (a, b)
        for a in rows
        for b in rows
        if a.id < b.id and a.customer and a.customer == b.customer and b.first_resolved
    ]
    target, duplicate = pairs[0]
    conn.execute(
        text("UPDATE complaint SET merged_into = :t WHERE id = :d"),
        {"t": target.id, "d": duplicate.id},
    )
    extra.merged.add(duplicate.id)
    ids = [int(i) for (i,) in conn.execute(text("SELECT id FROM purchase ORDER BY id"))]
    for pid, (customer, at) in zip(ids, purchases, strict=True):
        cents = 100 + pid * 37 % 5000
        conn.execute(
            text("UPDATE purchase SET amount_cents = :c WHERE id = :id"), {"c": cents, "id": pid}
        )
        extra.purchases.append((pid, customer, at, cents))
    session.commit()
    return extra


# The oracle ---------------------------------------------------------------------------------


def share(count: int, n: int) -> float | None:
    return count / n if n else None


def triple(values: list[str], names: tuple[str, str, str]) -> dict[str, Any]:
    """Counts of each name, n = the first two, rate = the first / n."""
    a, b, c = (values.count(name) for name in names)
    return {names[0]: a, names[1]: b, names[2]: c, "n": a + b, "rate": share(a, a + b)}


def oracle(
    rows: list[Row],
    x: Extra,
    start: int,
    end: int,
    *,
    as_of: int,
    window_d: int = 90,
    repeat_d: int = 30,
    clock: Any = None,
    previous: tuple[int, int] | None = None,
    agent: str | None = None,
) -> dict[str, Any]:
    span = clock or (lambda a, b: b - a)
    window, repeat = window_d * DAY, repeat_d * DAY
    live = [r for r in rows if r.id not in x.merged]
    mine = [r for r in live if agent is None or r.agent == agent]

    def deadline(due: dict[int, int | None], done: Any) -> dict[str, Any]:
        found = []
        for r in mine:
            d = due[r.id]
            if d is None or not start <= d < end or r.opened > as_of:
                continue
            at = done(r)
            if at is not None and at <= as_of:
                found.append("met" if at <= d else "breached")
            else:
                found.append("breached" if d < as_of else "pending")
        return triple(found, ("met", "breached", "pending"))

    def resolved_in(r: Row, a: int, b: int) -> bool:
        t = r.first_resolved
        return t is not None and a <= t < b and t <= as_of

    cohort = [r for r in mine if resolved_in(r, start, end)]

    def repeat_of(r: Row) -> str | None:
        if r.customer is None:
            return None
        t = r.first_resolved
        assert t is not None
        if any(
            o.customer == r.customer and o.id != r.id and t < o.opened <= t + repeat
            and o.opened <= as_of
            for o in live
        ):  # fmt: skip
            return "repeats"
        return "not_repeated" if t + repeat <= as_of else "pending"

    def outcome_of(r: Row) -> str | None:
        if r.customer is None:
            return None
        t = r.first_resolved
        assert t is not None
        bought = any(
            c == r.customer and t < at <= t + window and at <= as_of for _, c, at, _ in x.purchases
        )
        said = any(
            f["recorded"] and f["recorded"] <= as_of and f["repurchased"] is True
            for f in r.followups
        )
        if bought or said:
            return "repurchased"
        return "lost" if t + window <= as_of else "pending"

    def repeats(chosen: list[Row]) -> dict[str, Any]:
        values = [v for r in chosen if (v := repeat_of(r)) is not None]
        return triple(values, ("repeats", "not_repeated", "pending"))

    def outcomes(chosen: list[Row]) -> dict[str, Any]:
        values = [v for r in chosen if (v := outcome_of(r)) is not None]
        a, b, c = (values.count(k) for k in ("repurchased", "lost", "pending"))
        return {"repurchased": a, "lost": b, "pending": c, "n": a + b, "rate": share(a, a + b)}

    counts = Counter(x.cause[r.id] for r in cohort if x.cause[r.id] is not None)
    before: Counter[str | None] | None = None
    if previous is not None:
        before = Counter(
            x.cause[r.id] for r in mine if resolved_in(r, *previous) and x.cause[r.id] is not None
        )
    last = min(end - 1, as_of)
    monday = datetime.fromtimestamp(last, UTC).date()
    monday -= timedelta(days=monday.weekday())
    weeks = [
        (epoch_of(f"{monday - timedelta(weeks=i)}T00:00"),
         epoch_of(f"{monday - timedelta(weeks=i - 1)}T00:00"))
        for i in range(4)
    ]  # fmt: skip
    total = sum(counts.values())
    causes: dict[str, Any] = {}
    running = 0
    for cause, n in sorted(counts.items(), key=lambda item: (-item[1], str(item[0]))):
        assert cause is not None
        running += n
        chosen = [r for r in cohort if x.cause[r.id] == cause]
        seconds = sorted(span(r.opened, r.first_resolved) for r in chosen)
        prev = before.get(cause, 0) if before is not None else None
        texts = Counter(x.change[r.id] for r in chosen if x.change[r.id])
        causes[cause] = {
            "count": n,
            "share": n / total,
            "cumulative_share": running / total,
            "median": statistics.median(seconds),
            "repurchase": outcomes(chosen),
            "repeat": repeats(chosen),
            "previous_count": prev,
            "change": None if prev is None else n - prev,
            "rising": prev is not None and n - prev >= 3 and n >= 1.25 * prev,
            "recurring": previous is not None
            and all(
                any(resolved_in(r, a, b) and x.cause[r.id] == cause for r in mine) for a, b in weeks
            ),
            "what_will_change": sorted(
                ({"text": t, "count": c} for t, c in texts.items()),
                key=lambda d: (-d["count"], d["text"]),
            ),
        }

    def bucket(r: Row) -> str:
        s = span(r.opened, r.first_resolved)
        return (
            "< 4 h" if s < 4 * H else "4-24 h" if s < 24 * H else "1-3 d" if s < 72 * H else "> 3 d"
        )

    def kept(chosen: list[Row]) -> int:
        bought = {
            pid: cents
            for pid, c, at, cents in x.purchases
            for r in chosen
            if r.customer == c and r.first_resolved is not None
            and r.first_resolved < at <= r.first_resolved + window and at <= as_of
        }  # fmt: skip
        return sum(bought.values())

    def cost(chosen: list[Row]) -> int:
        return sum(x.amount[r.id] or 0 for r in chosen)

    kinds: dict[str, dict[str, int]] = {}
    for r in cohort:
        kind = r.action or "(none)"
        entry = kinds.setdefault(kind, {"complaints": 0, "cost_cents": 0})
        entry["complaints"] += 1
        entry["cost_cents"] += x.amount[r.id] or 0
    by_speed = {}
    for label in ("< 4 h", "4-24 h", "1-3 d", "> 3 d"):
        chosen = [r for r in cohort if bucket(r) == label]
        c, k = cost(chosen), kept(chosen)
        by_speed[label] = {"complaints": len(chosen), "cost_cents": c, "revenue_kept_cents": k,
                           "kept_per_remedy": k / c if c else None}  # fmt: skip
    active = {c for _, c, at, _ in x.purchases if end - 365 * DAY <= at < end and at <= as_of}
    opened = sum(1 for r in mine if start <= r.opened < end and r.opened <= as_of)
    agents = sorted({r.agent for r in cohort})
    c_all, k_all = cost(cohort), kept(cohort)
    return {
        "deadlines": {
            "first": deadline(
                x.first_due, lambda r: r.ack if r.ack is not None else r.first_resolved
            ),
            "final": deadline(x.final_due, lambda r: r.first_resolved),
        },
        "root_causes": causes,
        "repeat": repeats(cohort),
        "repeat_by_cause": {c: v["repeat"] for c, v in causes.items()},
        "repeat_by_agent": {
            a: repeats([r for r in cohort if r.agent == a])
            for a in agents
            if any(r.agent == a and r.customer for r in cohort)
        },
        "remedies": {
            "by_action": kinds,
            "cost_cents": c_all,
            "revenue_kept_cents": k_all,
            "kept_per_remedy": k_all / c_all if c_all else None,
            "by_speed": by_speed,
        },
        "per_1000_active": {
            "opened": opened,
            "active_customers": len(active),
            "rate": opened * 1000 / len(active) if active else None,
        },
    }


def check(actual: dict[str, Any], wanted: dict[str, Any]) -> None:
    """The reported figures against the oracle's, key by key (the report's key order kept)."""
    a = {k: actual[k] for k in wanted}
    causes = a["root_causes"]
    assert list(causes) == list(wanted["root_causes"])  # Pareto order
    for cause, w in wanted["root_causes"].items():
        got = causes[cause]
        median = got["resolution_time"]["median_seconds"]
        assert median == pytest.approx(w["median"], abs=1e-3), cause
        for key in ("count", "previous_count", "change", "rising", "recurring",
                    "what_will_change", "repurchase", "repeat"):  # fmt: skip
            assert approx(got[key]) == approx(w[key]), (cause, key)
        assert got["share"] == pytest.approx(w["share"], abs=1e-3)
        assert got["cumulative_share"] == pytest.approx(w["cumulative_share"], abs=1e-3)
    for key in ("deadlines", "repeat", "repeat_by_cause", "per_1000_active"):
        assert approx(a[key]) == approx(wanted[key]), key
    assert approx(a["remedies"]) == approx(wanted["remedies"])
    # repeat_by_agent: the report lists agents with a repeat outcome
    assert approx(a["repeat_by_agent"]) == approx(wanted["repeat_by_agent"])


def approx(value: Any) -> Any:
    """Floats rounded as the JSON rounds them (3 decimals)."""
    if isinstance(value, dict):
        return {k: approx(v) for k, v in value.items()}
    if isinstance(value, list):
        return [approx(v) for v in value]
    if isinstance(value, float):
        return round(value, 3)
    return value


def run_json(latte: Any, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(latte.ok("report", *args, "--format", "json").stdout)
    return data


@pytest.fixture
def data(session: Session) -> tuple[list[Row], Extra]:
    rows, purchases = generate(7, WEEK_START - 35 * DAY, WEEK_END, n=220)
    write(session, rows, purchases)
    return rows, enrich(session, rows, purchases, seed=3)


def test_every_new_figure_of_the_week_and_the_previous_week(latte: Any, data: Any) -> None:
    rows, extra = data
    as_of = epoch_of(AS_OF)
    report = run_json(latte, "weekly", "--week", "2026-W47", "--as-of", AS_OF)
    before = (WEEK_START - 7 * DAY, WEEK_START)
    wanted = oracle(rows, extra, WEEK_START, WEEK_END, as_of=as_of, previous=before)
    check(report["figures"], wanted)
    # Non-trivial data: each figure has something in it.
    assert wanted["deadlines"]["final"]["breached"] and wanted["deadlines"]["first"]["met"]
    assert wanted["repeat"]["repeats"] and wanted["repeat"]["pending"]
    assert wanted["remedies"]["revenue_kept_cents"] and wanted["remedies"]["cost_cents"]
    flags = [(c["rising"], c["recurring"]) for c in wanted["root_causes"].values()]
    assert {True, False} <= {r for r, _ in flags} and any(r for _, r in flags)
    # A purchase following two of a customer's complaints is counted once: the data has some.
    cohort = [r for r in rows if r.first_resolved and WEEK_START <= r.first_resolved < WEEK_END]
    following = Counter(
        pid
        for pid, customer, at, _ in extra.purchases
        for r in cohort
        if r.customer == customer and r.first_resolved < at <= r.first_resolved + 90 * DAY
        and r.id not in extra.merged
    )  # fmt: skip
    assert max(following.values()) > 1
    previous = oracle(rows, extra, *before, as_of=as_of)
    for cause in previous["root_causes"].values():
        cause["previous_count"] = cause["change"] = None
        cause["rising"] = cause["recurring"] = False
        cause["what_will_change"] = []  # the texts are read for the report's period only
    check(report["previous"], previous)


def test_a_month_with_other_windows_on_both_clocks_and_by_agent(
    latte: Any, data: Any, monkeypatch: Any
) -> None:
    rows, extra = data
    as_of = epoch_of("2027-03-01T00:00")
    start, end = epoch_of("2026-11-01T00:00"), epoch_of("2026-12-01T00:00")
    args = ("weekly", "--since", "2026-11-01", "--until", "2026-11-30", "--as-of", "2027-03-01",
            "--window", "30", "--repeat-days", "10", "--by", "agent")  # fmt: skip
    report = run_json(latte, *args)
    before = (epoch_of("2026-10-02T00:00"), start)
    settings = {"as_of": as_of, "window_d": 30, "repeat_d": 10, "previous": before}
    check(report["figures"], oracle(rows, extra, start, end, **settings))
    for group in report["groups"]:
        wanted = oracle(rows, extra, start, end, agent=group["group"], **settings)
        figures = group["figures"]
        wanted["per_1000_active"]["active_customers"] = figures["per_1000_active"][
            "active_customers"
        ]  # the desk's, checked above
        active = wanted["per_1000_active"]["active_customers"]
        opened = wanted["per_1000_active"]["opened"]
        wanted["per_1000_active"]["rate"] = opened * 1000 / active if active else None
        check(figures, wanted)
    # The business-hours clock: medians and speed buckets on the schedule; the complaint and
    # Take action rows streamed a few at a time (`queries.streamed`).
    from latte_cli.reports import queries

    monkeypatch.setattr(queries, "ROWS_AT_ONCE", 3)
    monkeypatch.setenv("LATTE_HOURS", "Mon-Fri 09:00-17:00")
    report = run_json(latte, *args[:-2], "--tz", "UTC")
    check(report["figures"], oracle(rows, extra, start, end, clock=utc_hours, **settings))


def utc_hours(a: int, b: int) -> int:
    """Mon-Fri 09:00-17:00 in UTC, minute by minute (times are whole minutes)."""
    total = 0
    for minute in range(a, b, 60):
        local = datetime.fromtimestamp(minute, UTC)
        if local.weekday() < 5 and 9 <= local.hour < 17:
            total += 60
    return total


def test_every_format_carries_the_figures(latte: Any, data: Any) -> None:
    args = ("report", "weekly", "--week", "2026-W47", "--as-of", AS_OF)
    figures = run_json(latte, *args[1:])["figures"]
    rows = list(csv.DictReader(io.StringIO(latte.ok(*args, "--format", "csv").stdout)))
    current = {r["figure"]: r["value"] for r in rows if r["series"] == "current" and not r["group"]}
    assert float(current["deadlines.final.breached"]) == figures["deadlines"]["final"]["breached"]
    assert int(current["remedies.revenue_kept_cents"]) == figures["remedies"]["revenue_kept_cents"]
    top = next(iter(figures["root_causes"]))
    assert int(current[f"root_causes.{top}.count"]) == figures["root_causes"][top]["count"]
    assert current[f"root_causes.{top}.rising"] in {"0", "1"}
    keys = [(r["report"], r["series"], r["period"], r["group"], r["figure"]) for r in rows]
    assert len(keys) == len(set(keys))
    table = latte.ok(*args, "--explain").stdout
    assert all(len(line) <= 80 for line in table.splitlines())
    cost = figures["remedies"]["cost_cents"]
    assert f"{cost // 100:,}.{cost % 100:02d}" in table
    for title in ("Deadlines", "Root causes", "Repeat complaints", "Remedies and revenue kept",
                  "Complaints per 1,000 active customers", "deadlines.final.breached"):  # fmt: skip
        assert title in table, title
    html = latte.ok(*args, "--format", "html").stdout
    assert "Root causes" in html and "Remedies by resolution speed" in html


@pytest.mark.parametrize(
    "period", [("--week", "2026-W46"), ("--since", "2026-11-02", "--until", "2026-11-12")]
)
def test_the_explained_breach_list_command_counts_what_the_report_counted(
    latte: Any, data: Any, period: tuple[str, ...]
) -> None:
    """`--explain` names a command for the list of breaches; run as printed it reports the
    report's own period, zone and as-of time, so it lists as many as the report counted."""
    args = ("report", "weekly", *period, "--as-of", AS_OF, "--tz", "Europe/Paris")
    breached = run_json(latte, *args[1:])["figures"]["deadlines"]["final"]["breached"]
    assert breached
    text = " ".join(latte.ok(*args, "--explain", "--format", "md").stdout.split())
    command = text.split("list them with `", 1)[1].split("`", 1)[0]
    assert command.startswith(f"latte report weekly {period[0]} ")
    listed = latte.ok(*shlex.split(command)[1:], "--format", "json").stdout
    assert len(json.loads(listed)) == breached


def test_a_change_of_money_carries_its_sign(latte: Any, data: Any) -> None:
    """Remedy cost and revenue kept show their change as every other change does: "+75.00",
    never a bare "75.00" that reads like a level."""
    for week in ("2026-W47", "2026-W46", "2026-W45", "2026-W44"):
        args = ("report", "weekly", "--week", week, "--as-of", AS_OF)
        report = run_json(latte, *args[1:])
        now, before = report["figures"]["remedies"], report["previous"]["remedies"]
        changes = {
            name: now[key] - before[key]
            for name, key in (("remedy cost", "cost_cents"), ("revenue kept", "revenue_kept_cents"))
        }
        if any(delta > 0 for delta in changes.values()):
            break  # a rise, the change that lost its sign
    else:
        raise AssertionError("no week of the generated data has a rise")
    for fmt, edge in (("table", "│ "), ("markdown", "| ")):
        lines = latte.ok(*args, "--format", fmt).stdout.splitlines()
        for name, delta in changes.items():
            line = next(x for x in lines if x.strip(edge).startswith(name))
            sign = "-" if delta < 0 else "+"
            wanted = f"{sign}{abs(delta) // 100:,}.{abs(delta) % 100:02d}"
            assert line.rstrip(edge).split()[-1].lstrip("│") == wanted, (fmt, line)


def test_bad_repeat_days_is_refused(latte: Any) -> None:
    result = latte("report", "weekly", "--repeat-days", "0")
    assert result.exit_code == 1
    assert "--repeat-days" in result.output and "Traceback" not in result.output


def test_a_complaint_imported_resolved_gave_its_first_response_at_resolution(
    latte: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import that knows only the resolution: that is when the first response was given
    (docs/metrics.md, "Deadlines"); its first-response deadline is met or breached by it."""
    monkeypatch.setenv("LATTE_DEADLINES", "cfpb")  # first response within 15 days
    source = tmp_path / "resolved.csv"
    source.write_text(
        "external_id,channel,category,listen,opened_at,resolved_at\n"
        "R-1,email,billing,Charged twice,2026-11-01T10:00:00Z,2026-11-03T10:00:00Z\n"
        "R-2,email,billing,Charged twice,2026-11-02T10:00:00Z,2026-11-20T10:00:00Z\n"
        "R-3,email,billing,Charged twice,2026-11-03T10:00:00Z,\n",
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(source))
    result = latte.ok(
        "report", "weekly", "--week", "2026-W47", "--as-of", "2026-11-23", "--format", "json"
    )
    first = json.loads(result.stdout)["figures"]["deadlines"]["first"]
    # Due 11-16, 11-17 and 11-18: R-1 answered 11-03, R-2 on 11-20, R-3 not yet.
    assert (first["met"], first["breached"], first["pending"]) == (1, 2, 0)
