"""Revenue kept read with the cohort summary's days (`fix_summarised.KeptRevenue`, docs/
architecture.md "Reports over long periods"), on both stores, against a plain-Python
computation of its definition (docs/metrics.md, "Remedies and revenue kept"): each
complaint's period, group and speed bucket come from its day record, the sums kept at write
time are read with the buyers (`cohort.bought_and_kept`) and the shared pairs per chunk of
days. Every `--by`, three zones, a week, months and the whole history with the period
before, as-of times inside a day and inside the period, the default window (summed at write
time), a shorter one (every pair read) and a longer one (the buyers from
`ix_report_outcome_bought`, every pair read).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, text

from latte_cli import cohort, db
from latte_cli.reports import cohort_days
from latte_cli.reports import fix_summarised as fs
from latte_cli.reports import fixes as fx
from latte_cli.reports.periods import Period
from latte_cli.summary import DIMENSIONS
from tests.test_fix_summarised import BYS, DAY, END, REPEAT, START, ZONES, cases
from tests.test_fix_summarised import data as data
from tests.test_reports import Row

LIMITS = (4 * 3600, 24 * 3600, 72 * 3600)
WINDOWS = (cohort.KEPT_WINDOW, 30 * DAY, 120 * DAY)  # 120: the buyers from another index


def speed(seconds: int) -> int:
    return sum(seconds >= limit for limit in LIMITS)


def oracle(
    connection: Connection, periods: list[Period], by: str | None, as_of: int, window: int
) -> dict[Any, tuple[int, tuple[int, ...]]]:
    """Per (period index, group) and (period index, "(all)"): revenue kept and by speed
    bucket, each purchase counted once per figure, from the rows in plain Python."""
    column = DIMENSIONS[by] if by else "id"
    complaints = connection.execute(
        text(
            f"SELECT id, customer_id, opened_epoch, first_resolved_epoch, {column} "
            "FROM complaint WHERE merged_into IS NULL AND first_resolved_epoch IS NOT NULL "
            "AND customer_id IS NOT NULL"
        )
    ).all()
    purchases: defaultdict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for pid, customer, at, cents in connection.execute(
        text("SELECT id, customer_id, purchased_epoch, amount_cents FROM purchase")
    ):
        purchases[customer].append((pid, at, cents or 0))
    # Per figure: the distinct purchases it counts, with their cents.
    counted: defaultdict[Any, dict[int, int]] = defaultdict(dict)
    for _cid, customer, opened, resolved, value in complaints:
        if resolved > as_of:
            continue
        k = next((i for i, p in enumerate(periods) if p.start <= resolved < p.end), None)
        if k is None:
            continue
        group = (value or None) if by else "(all)"
        bucket = speed(resolved - opened)
        for pid, at, cents in purchases[customer]:
            if resolved < at <= resolved + window and at <= as_of:
                for key in {(k, "(all)"), (k, group)}:
                    counted[(key, None)][pid] = cents
                    counted[(key, bucket)][pid] = cents
    found: dict[Any, tuple[int, tuple[int, ...]]] = {}
    for key in {key for key, _ in counted}:
        total = sum(counted[(key, None)].values())
        buckets = tuple(sum(counted[(key, b)].values()) for b in range(len(LIMITS) + 1))
        if total or any(buckets):
            found[key] = (total, buckets)
    return found


def read_kept(
    connection: Connection, periods: list[Period], by: str | None, as_of: int, window: int
) -> tuple[dict[Any, tuple[int, tuple[int, ...]]], fs.KeptRevenue]:
    """Revenue kept as a report reads it with the cohort summary's days."""
    settings = fx.Settings(
        periods=(periods[0], periods[1]), by=by, as_of=as_of, window=window, repeat=REPEAT,
        clock=None, zone=ZoneInfo("UTC"), kept=True,
    )  # fmt: skip
    read = fx.summarised_fixes(settings)
    cohort_days.read(
        connection, periods, as_of, read.families, read.texts, window=window, repeat=REPEAT
    )
    cells: defaultdict[tuple[int, Any], Any] = defaultdict(fx._Cell)
    fx._kept(connection, settings, periods, cells, read)
    found = {
        (k, "(all)" if g is fx.ALL else g): (cell.kept, tuple(cell.bucket_kept))
        for (k, g), cell in cells.items()
        if cell.kept or any(cell.bucket_kept)
    }
    return found, read.kept


def long_cases(zone: ZoneInfo) -> list[tuple[list[Period], int]]:
    """The whole history with a period before it of the same length, as of after its end
    and as of inside it; and the short and month-long cases of the other tests."""
    whole = Period(START - 20 * DAY, END + 5 * DAY, "all")
    before = Period(2 * whole.start - whole.end, whole.start, "before")
    return [
        ([whole, before], END + 200 * DAY),
        ([whole, before], START + 200 * DAY + 3_917),
        *cases(zone)[:3],
    ]


@pytest.mark.parametrize("window", WINDOWS)
def test_revenue_kept_from_the_days_equals_the_definition(
    db_url: str, data: list[Row], window: int
) -> None:
    seen: defaultdict[str, int] = defaultdict(int)
    with db.get_engine(db_url).connect() as connection:
        assert cohort.differences(connection) == (0, [])
        for zone_name in ZONES:
            for periods, as_of in long_cases(ZoneInfo(zone_name)):
                for by in BYS:
                    found, family = read_kept(connection, periods, by, as_of, window)
                    wanted = oracle(connection, periods, by, as_of, window)
                    assert found == wanted, (zone_name, by, periods, as_of)
                    seen["figures"] += len(found)
                    seen["summed"] += sum(1 for cents in family.sums.values() if cents)
                    seen["pairs"] += len(family.pairs()[0])
    # Both ways of reading reach the data (else the comparison proves little).
    assert seen["figures"] and seen["pairs"], seen
    assert bool(seen["summed"]) == (window == cohort.KEPT_WINDOW), seen


def test_a_chunk_of_one_day_gives_the_same_figures(
    db_url: str, data: list[Row], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sums and pairs are read per chunk of days: a chunk of one day (every edge a
    chunk's edge) gives the same figures as the definition."""
    monkeypatch.setattr(cohort_days, "DAYS", 1)
    with db.get_engine(db_url).connect() as connection:
        for periods, as_of in long_cases(ZoneInfo("America/Los_Angeles"))[:2]:
            for by in (None, "agent"):
                found, _ = read_kept(connection, periods, by, as_of, cohort.KEPT_WINDOW)
                assert found == oracle(connection, periods, by, as_of, cohort.KEPT_WINDOW)
