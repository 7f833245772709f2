"""One read of the cohort summary's days feeds every figure family of a report
(`reports/cohort_days.py`), on both stores: the report's cohort figures and, on what to fix,
the cohort cells, remedies and texts read together give exactly what each gives read alone,
and the fix rows are those of their SQL over the complaint and stage record rows
(`reports/fix_queries.py`); a whole report reads each day row once for its periods.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from latte_cli import cohort, db
from latte_cli.reports import cohort_days, summarised
from latte_cli.reports import fix_queries as fq
from latte_cli.reports import fix_summarised as fs
from latte_cli.reports.build import NO_VALUE, _Material
from latte_cli.reports.periods import Period
from tests.conftest import Latte
from tests.test_fix_summarised import BYS, REPEAT, WINDOW, cases, cells, remedies
from tests.test_fix_summarised import data as data
from tests.test_reports import Row

TARGET = 48 * 3600.0


def material(m: _Material) -> tuple[Any, ...]:
    """A material's content, order-free: sorted durations, counts and outcomes."""

    def values(parts: list[Any]) -> list[int]:
        return sorted(int(v) for part in parts for v in np.asarray(part).tolist())

    stages = {stage: values(parts) for stage, parts in m.stages.items() if values(parts)}
    outcomes = {key: n for key, n in m.outcomes.items() if n}
    return (
        values(m.resolution),
        values(m.acknowledge),
        m.reopened,
        m.followed,
        tuple(m.nps),
        sorted(stages.items()),
        sorted(outcomes.items(), key=repr),
    )


def figures(
    connection: Any, periods: list[Period], by: str | None, as_of: int, fixes: fs.Fixes | None
) -> dict[tuple[int, Any], tuple[Any, ...]]:
    found: dict[tuple[int, Any], _Material] = {}

    def at(key: int, group: Any) -> _Material:
        return found.setdefault((key, group), _Material())

    summarised.cohort_figures(
        connection, dict(enumerate(periods)), by=by, as_of=as_of, target=TARGET, window=WINDOW,
        no_value=NO_VALUE, at=at, together=fixes.families if fixes else (),
        texts=fixes.texts if fixes else None, repeat=REPEAT,
    )  # fmt: skip
    return {key: material(m) for key, m in found.items() if material(m) != material(_Material())}


def test_one_read_gives_every_family_its_rows(db_url: str, data: list[Row]) -> None:
    seen: Counter[str] = Counter()
    with db.get_engine(db_url).connect() as connection:
        assert cohort.differences(connection) == (0, [])
        for zone_name in ("UTC", "Asia/Kathmandu"):
            for periods, as_of in cases(ZoneInfo(zone_name))[:3]:
                for by in BYS:
                    read = fs.fixes(
                        by, as_of, window=WINDOW, repeat=REPEAT, texts=cohort_days.Texts()
                    )
                    together = figures(connection, periods, by, as_of, read)
                    where = (zone_name, by, periods, as_of)
                    assert together == figures(connection, periods, by, as_of, None), where
                    sql_cells = fq.cohort_cells(
                        connection, periods, by, as_of, window=WINDOW, repeat=REPEAT,
                        per_complaint=False, kept=True,
                    )  # fmt: skip
                    assert cells(read.cells.rows(read.texts)) == cells(sql_cells), where
                    sql_remedies = fq.remedy_cells(
                        connection, periods, by, as_of, per_complaint=False
                    )
                    mine = remedies(read.remedies.rows(read.texts))
                    assert mine == remedies(sql_remedies), where
                    sql_changes = fq.change_texts(connection, periods[:1], by, as_of)
                    mine_changes = sorted(read.changes.rows(read.texts), key=repr)
                    assert mine_changes == sorted(sql_changes, key=repr), where
                    seen["figures"] += len(together)
                    seen["cells"] += len(sql_cells)
                    seen["remedies"] += len(sql_remedies)
                    seen["changes"] += len(sql_changes)
    # The data reach every family (else the comparison proves nothing).
    assert all(seen[name] > 0 for name in ("figures", "cells", "remedies", "changes")), seen


@pytest.fixture
def days_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every day row the reports read from the cohort summary, in order."""
    found: list[int] = []
    original = cohort.records_between

    def counting(*args: Any, **kwargs: Any) -> Iterator[list[tuple[Any, ...]]]:
        for rows in original(*args, **kwargs):
            found.extend(row[0] for row in rows)
            yield rows

    monkeypatch.setattr(cohort, "records_between", counting)
    return found


@pytest.mark.parametrize("report", [["agents"], ["repurchase", "--by", "channel"]])
def test_a_report_reads_each_day_once(
    db_url: str,
    data: list[Row],
    latte: Latte,
    days_read: list[int],
    report: list[str],
) -> None:
    """A report without a weekly trend reads its two periods' day rows once, then the last
    four weeks' again for the recurring causes; before, every family read them again."""
    latte.ok(
        "report", *report, "--since", "2026-03-01", "--until", "2026-08-31",
        "--as-of", "2026-11-20T12:00", "--format", "json",
    )  # fmt: skip
    counts = Counter(days_read)
    assert len(counts) > 60  # the report reached the data
    assert max(counts.values()) <= 2
    # Days read twice: only the recurring causes' four weeks (29 days at most).
    assert sum(1 for n in counts.values() if n == 2) <= 29


def test_columns_hold_what_concatenating_would() -> None:
    """Values kept across chunks (`cohort_days.Columns`) equal the chunks concatenated, also
    when a later chunk needs a wider type than the first or the bound was too small."""
    chunks = [
        np.array([3, -1, 7], np.int32),
        np.array([], np.int32),
        np.array([2**40, 5], np.int64),
        np.array([9], np.int16),
    ]
    for size in (sum(len(c) for c in chunks), 2):  # the bound, and one too small
        columns = cohort_days.Columns(size)
        for chunk in chunks:
            columns.add("seconds", chunk)
        (kept,) = columns.parts("seconds")
        assert kept.dtype == np.int64
        assert kept.tolist() == [3, -1, 7, 2**40, 5, 9]
        assert columns.parts("absent") == []


def test_scores_ordered_as_a_three_key_sort() -> None:
    """The latest score per complaint is found in (record, recorded, score) order, packed
    into one integer when it fits and by a lexsort when it does not (wide epochs)."""
    rnd = np.random.default_rng(3)
    for spread in (10**6, 2**31 - 1):
        at = rnd.integers(0, 3_000, 5_000)
        recorded = rnd.integers(-spread, spread, 5_000)
        nps = rnd.integers(0, 11, 5_000)
        if spread > 10**6:
            at = at * 2**20  # too wide to pack: the lexsort
        order = summarised._by_record_time_score(at, recorded, nps)
        columns = (at, recorded, nps)
        got = list(zip(*(column[order].tolist() for column in columns), strict=True))
        assert got == sorted(zip(*(column.tolist() for column in columns), strict=True))


def test_order_of_is_the_stable_order() -> None:
    """`cohort_days.order_of` gives the stable order of the keys (Python's sorted of the
    positions), by the 16-bit radix sort when the bound fits and by a comparison sort when
    it does not; unstable, it still puts the keys in order."""
    rnd = np.random.default_rng(5)
    for bound in (1, 300, 2**16, 2**16 + 1, 2**40):
        key = np.append(rnd.integers(0, bound, 4_000), [bound - 1, 0])  # both ends
        order = cohort_days.order_of(key, bound)
        assert order.tolist() == sorted(range(len(key)), key=lambda i: int(key[i]))
        unstable = cohort_days.order_of(key, bound, stable=False)
        assert sorted(unstable.tolist()) == list(range(len(key)))
        assert key[unstable].tolist() == sorted(key.tolist())


def test_a_chunk_marks_its_records_among_ids_in_any_order() -> None:
    """`Chunk.marked` (the buyers and repeat ids of a chunk) marks exactly the records whose
    id is among the ids given, unsorted and with ids of no record; `Chunk.inside` holds the
    records placed in a period."""
    rnd = np.random.default_rng(7)
    records = np.zeros(3_000, cohort_days.RECORD)
    records["id"] = rnd.permutation(10**6)[:3_000]  # distinct, in no order
    place = rnd.integers(-1, 3, 3_000)
    source = cohort_days.Source(None, 0, 0, 0)  # type: ignore[arg-type]
    chunk = cohort_days.Chunk(0, 0, records, place, source, total=3_000)
    ids = np.concatenate([rnd.choice(records["id"], 900, replace=False), 10**6 + np.arange(50)])
    rnd.shuffle(ids)
    wanted = set(ids.tolist())
    marked = chunk.marked(ids)
    assert marked.tolist() == [int(i) in wanted for i in records["id"]]
    assert not chunk.marked(np.zeros(0, np.int64)).any()
    inside, kept = chunk.inside()
    assert inside.tolist() == [p >= 0 for p in place.tolist()]
    pairs = zip(records["id"].tolist(), place.tolist(), strict=True)
    assert kept["id"].tolist() == [i for i, p in pairs if p >= 0]
