"""Deadlines and revenue kept at their edges (docs/metrics.md, "Deadlines in reports" and
"Remedies and revenue kept"), against a plain-Python computation of the definitions; on both
stores, from the outcomes kept at write time and from the complaint rows (while a change
written by another program waits to be folded).

The rows are few and placed on purpose: due times on a period's first second, on its end and
at as-of; purchases at the resolution, at resolution + window and a second after it; one
purchase following two complaints of a customer in different groups and speed buckets; a
merged duplicate; a group stored as the empty text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import Session

from tests.test_reports import Row, epoch_of, write

H = 3600
DAY = 86_400
WINDOW = 20 * DAY
START = epoch_of("2026-03-01T00:00")
END = epoch_of("2026-04-01T00:00")
BEFORE = START - (END - START)  # the previous period, as long
AS_OF = "2026-03-31T22:00"  # inside the period
SPEEDS = ("< 4 h", "4-24 h", "1-3 d", "> 3 d")


def resolved_row(
    cid: int, customer: int | None, resolved: int, hours: float, channel: str, location: str | None
) -> Row:
    """A complaint first resolved at `resolved`, opened `hours` before, its stages between."""
    opened = resolved - int(hours * H)
    step = (resolved - opened) // 4
    times = [opened, opened + step, opened + 2 * step, opened + 3 * step, resolved]
    return Row(cid, opened, customer, "ana", channel, "billing", location, times)


def open_row(cid: int, opened: int, channel: str, location: str | None) -> Row:
    return Row(cid, opened, None, "sam", channel, "billing", location, [opened])


def scene() -> tuple[list[Row], list[tuple[int, int, int]], dict[int, tuple[int | None, ...]]]:
    """Rows, purchases (customer, epoch, cents) and due times {id: (first, final)}."""
    r1 = START + 5 * DAY
    as_of = epoch_of(AS_OF)
    rows = [
        # Customer 1: two complaints in different groups and speed buckets, one purchase
        # after both; a purchase at the first resolution (not after it), one exactly at its
        # resolution + window, one a second after the second's window.
        resolved_row(1, 1, r1, 2, "email", None),
        resolved_row(2, 1, r1 + DAY, 30, "phone", ""),
        # Customer 2: resolved in the previous period, bought in this one within the window.
        resolved_row(3, 2, START - 3 * DAY, 5, "email", "Leeds"),
        # Customer 3: the first purchase after the resolution a second after the window.
        resolved_row(4, 3, r1 + 2 * DAY, 100, "web", "Leeds"),
        # Customer 4: a merged duplicate (its purchase is counted through no one) and the
        # complaint it was merged into, resolved later than the purchase.
        resolved_row(5, 4, r1 + 3 * DAY, 1, "email", None),
        resolved_row(6, 4, r1 + 9 * DAY, 1, "email", None),
        # Customer 5: resolved on the period's last second, after as-of.
        resolved_row(7, 5, END - 1, 50, "chat", ""),
        # Customer 6: bought exactly at as-of and a minute after it.
        resolved_row(8, 6, as_of - 2 * DAY, 10, "chat", "York"),
        # Open complaints for the deadlines: not completed.
        open_row(9, START - 2 * DAY, "email", ""),
        open_row(10, START + 10 * DAY, "phone", None),
        open_row(11, END - DAY, "web", "York"),
        open_row(12, END - 5 * H, "chat", ""),
        open_row(13, END - H, "web", "York"),  # opened after as-of
    ]
    purchases = [
        (1, r1, 1_001),  # at the first resolution: after no resolution
        (1, r1 + 2 * DAY, 2_003),  # after both
        (1, r1 + WINDOW, 4_007),  # exactly the first's resolution + window: counted
        (1, r1 + DAY + WINDOW + 1, 8_009),  # a second after the second's window
        (2, START + 2 * DAY, 16_001),  # previous period's complaint, within its window
        (3, r1 + 2 * DAY + WINDOW + 1, 32_003),
        (4, r1 + 4 * DAY, 64_007),  # after the duplicate, before the other's resolution
        (5, END + DAY, 128_009),
        (6, as_of, 256_001),  # known at as-of
        (6, as_of + 60, 512_003),  # not known then
    ]
    due: dict[int, tuple[int | None, ...]] = {
        1: (START, r1),  # first response due on the period's first second; final met at due
        2: (END, r1),  # due on the period's end: the next period; final breached
        3: (START - 1, None),  # the previous period's last second
        4: (None, START + 20 * DAY),
        5: (START + 4 * DAY, START + 40 * DAY),  # merged: counted nowhere
        6: (r1 + 9 * DAY, END - 1),
        7: (END - 1, END - 1),  # resolved after as-of, due after it: pending
        8: (START - 5 * DAY, START),
        9: (START - DAY, START + DAY),  # not completed, due passed: breached
        10: (as_of, as_of),  # due at as-of, not completed: pending
        11: (END - DAY + H, END - 10),
        12: (END - 3 * H, as_of + 1),
        13: (END - H + 60, END - H + 120),
    }
    return rows, purchases, due


def store_scene(session: Session) -> tuple[list[Row], list[tuple[int, int, int]], dict[int, Any]]:
    rows, purchases, due = scene()
    write(session, rows, [(c, at) for c, at, _ in purchases])
    conn = session.connection()
    for n, (_, _, cents) in enumerate(purchases):
        conn.execute(
            text("UPDATE purchase SET amount_cents = :c WHERE order_ref = :r"),
            {"c": cents, "r": f"O-{n}"},
        )
    for cid, (first, final) in due.items():
        conn.execute(
            text(
                "UPDATE complaint SET first_response_due_epoch = :a, "
                "final_response_due_epoch = :b WHERE id = :id"
            ),
            {"a": first, "b": final, "id": cid},
        )
    conn.execute(text("UPDATE complaint SET merged_into = 6 WHERE id = 5"))
    session.commit()
    found = session.connection().execute(text("SELECT order_ref, id FROM purchase"))
    ids = {ref: int(pid) for ref, pid in found}
    session.commit()
    bought = [(ids[f"O-{n}"], c, at, cents) for n, (c, at, cents) in enumerate(purchases)]
    return rows, bought, due


# The oracle ---------------------------------------------------------------------------------


def group_of(row: Row, by: str | None) -> str:
    if by is None:
        return "(all)"
    value = {"channel": row.channel, "location": row.location}[by]
    return value or "(none)"


def deadlines(
    rows: list[Row], due: dict[int, Any], start: int, end: int, as_of: int
) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for i, name in enumerate(("first", "final")):
        counts = {"met": 0, "breached": 0, "pending": 0}
        for r in rows:
            d = due[r.id][i]
            if r.id == 5 or d is None or not start <= d < end or r.opened > as_of:
                continue
            done = (
                (r.ack if r.ack is not None else r.first_resolved) if i == 0 else r.first_resolved
            )
            if done is not None and done <= as_of:
                counts["met" if done <= d else "breached"] += 1
            else:
                counts["breached" if d < as_of else "pending"] += 1
        found[name] = counts
    return found


def speed(row: Row) -> str:
    assert row.first_resolved is not None
    seconds = row.first_resolved - row.opened
    limits = (4 * H, 24 * H, 72 * H)
    return SPEEDS[sum(seconds >= limit for limit in limits)]


def kept(rows: list[Row], bought: list[tuple[int, int, int, int]], as_of: int) -> int:
    """Each purchase once: known by as-of, in (resolved, resolved + window] of one of the
    rows' complaints of its customer."""
    counted = {
        pid: cents
        for pid, customer, at, cents in bought
        for r in rows
        if r.customer == customer and r.first_resolved is not None
        and r.first_resolved < at <= r.first_resolved + WINDOW and at <= as_of
    }  # fmt: skip
    return sum(counted.values())


def figures(
    rows: list[Row], bought: list[Any], due: dict[int, Any], start: int, end: int, by: str | None
) -> dict[str, Any]:
    as_of = epoch_of(AS_OF)
    found: dict[str, Any] = {}
    for group in sorted({group_of(r, by) for r in rows}):
        mine = [r for r in rows if group_of(r, by) == group]
        cohort = [
            r
            for r in mine
            if r.id != 5 and r.first_resolved is not None and start <= r.first_resolved < end
            and r.first_resolved <= as_of
        ]  # fmt: skip
        found[group] = {
            "deadlines": deadlines(mine, due, start, end, as_of),
            "kept": kept(cohort, bought, as_of),
            "by_speed": {
                s: kept([r for r in cohort if speed(r) == s], bought, as_of) for s in SPEEDS
            },
        }
    return found


def pick(f: dict[str, Any]) -> dict[str, Any]:
    """What the oracle computes, from a report's figures."""
    return {
        "deadlines": {
            name: {s: f["deadlines"][name][s] for s in ("met", "breached", "pending")}
            for name in ("first", "final")
        },
        "kept": f["remedies"]["revenue_kept_cents"],
        "by_speed": {s: f["remedies"]["by_speed"][s]["revenue_kept_cents"] for s in SPEEDS},
    }


def report(latte: Any, by: str | None) -> dict[str, Any]:
    args = ["report", "weekly", "--since", "2026-03-01", "--until", "2026-03-31", "--as-of",
            AS_OF, "--window", str(WINDOW // DAY), "--format", "json"]  # fmt: skip
    if by is not None:
        args += ["--by", by]
    data: dict[str, Any] = json.loads(latte.ok(*args).stdout)
    return data


def check(data: dict[str, Any], rows: list[Row], bought: list[Any], due: dict[int, Any],
          by: str | None) -> None:  # fmt: skip
    """The period's and the previous period's figures, in total and per group."""
    for key, (start, end) in (("figures", (START, END)), ("previous", (BEFORE, START))):
        assert pick(data[key]) == figures(rows, bought, due, start, end, None)["(all)"], key
        wanted = figures(rows, bought, due, start, end, by)
        got = {g["group"]: pick(g[key]) for g in data["groups"]}
        for group, values in got.items():
            assert values == wanted[group], (key, group)
        # A group the report leaves out has nothing in these figures.
        assert not any(any_value(v) for g, v in wanted.items() if by and g not in got), key


def any_value(values: dict[str, Any]) -> bool:
    counts = [n for kind in values["deadlines"].values() for n in kind.values()]
    return bool(values["kept"] or any(counts))


# Tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", [None, "channel", "location"])
def test_deadline_and_revenue_edges_from_the_kept_outcomes(
    latte: Any, session: Session, by: str | None
) -> None:
    rows, bought, due = store_scene(session)
    check(report(latte, by), rows, bought, due, by)
    # The scene reaches the edges it is meant to (the oracle's own figures).
    total = figures(rows, bought, due, START, END, None)["(all)"]
    assert total["kept"] == 2_003 + 4_007 + 256_001
    assert total["by_speed"]["< 4 h"] == total["by_speed"]["1-3 d"] == 2_003 + 4_007
    first, final = total["deadlines"]["first"], total["deadlines"]["final"]
    assert final["met"] and final["breached"] and final["pending"] >= 3
    assert first["breached"] and first["pending"]
    assert figures(rows, bought, due, BEFORE, START, None)["(all)"]["kept"] == 16_001


@pytest.mark.parametrize("by", [None, "location"])
def test_the_same_figures_while_a_change_waits_to_be_folded(
    latte: Any, session: Session, db_url: str, by: str | None
) -> None:
    """Another program's change queued and not folded yet: the report computes revenue kept
    from the complaint rows, with the same result as from the outcomes kept at write time."""
    rows, bought, due = store_scene(session)
    folded = report(latte, by)
    engine = create_engine(db_url)
    with engine.begin() as conn:  # not through latte: the change waits in the queue
        conn.execute(text("UPDATE purchase SET amount_cents = amount_cents + 0"))
        waiting = conn.execute(text("SELECT count(*) FROM report_queue")).scalar()
    engine.dispose()
    assert waiting
    unfolded = report(latte, by)
    check(unfolded, rows, bought, due, by)
    assert unfolded["figures"] == folded["figures"]
    assert unfolded["groups"] == folded["groups"]


@pytest.mark.parametrize("by", [None, "channel", "location"])
def test_revenue_kept_from_texts_a_day_at_a_time_and_whatever_groups_are_listed(
    latte: Any, session: Session, monkeypatch: pytest.MonkeyPatch, by: str | None
) -> None:
    """Revenue kept crosses from the database as texts of integers, one per chunk of days of
    the cohort summary read: the same figures with one day per chunk. Each complaint's group
    comes from its day record, so a group value the report summary does not list (another
    program's) changes nothing for revenue kept (the deadlines then group by the stored
    column), with the same figures."""
    from latte_cli.reports import cohort_days, fix_queries

    rows, bought, due = store_scene(session)
    from_rows = []
    read_rows = fix_queries.kept_purchases

    def counted(*args: Any, **kwargs: Any) -> Any:
        from_rows.append(args)
        return read_rows(*args, **kwargs)

    monkeypatch.setattr(fix_queries, "kept_purchases", counted)
    monkeypatch.setattr(cohort_days, "DAYS", 1)
    check(report(latte, by), rows, bought, due, by)
    assert not from_rows  # every pair from the texts
    monkeypatch.setattr(fix_queries, "group_values", lambda conn, by: [])
    check(report(latte, by), rows, bought, due, by)
    assert not from_rows  # the groups from the records, listed or not
