"""The cohort summary's day rows and outcome look-ups are read one chunk ahead, in a second
thread (`cohort_days.ahead`, docs/architecture.md "Reports over long periods"): items come
in order, the reading thread's error reaches the caller, a caller that stops early stops it,
and it has ended whenever the caller goes on; the figures are the same whether a chunk's
look-ups were made ahead or when a family asked for them, on both stores.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from latte_cli import db
from latte_cli.reports import cohort_days
from latte_cli.reports import fix_summarised as fs
from latte_cli.reports.cohort_days import Texts
from tests.test_cohort_days import figures
from tests.test_fix_summarised import BYS, REPEAT, WINDOW, cases
from tests.test_fix_summarised import data as data
from tests.test_reports import Row


def reading_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "latte-read-ahead" and t.is_alive()]


def test_items_come_in_order_and_the_thread_ends() -> None:
    assert list(cohort_days.ahead(iter(range(1000)))) == list(range(1000))
    assert list(cohort_days.ahead(iter([]))) == []
    assert reading_threads() == []


def test_the_reading_threads_error_is_raised_in_the_callers() -> None:
    def failing() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("the database went away")

    got = []
    with pytest.raises(ValueError, match="went away"):
        for item in cohort_days.ahead(failing()):
            got.append(item)
    assert got == [1, 2]
    assert reading_threads() == []


def test_a_caller_that_stops_early_stops_the_reading_and_closes_it() -> None:
    closed = threading.Event()
    made: list[int] = []

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                made.append(n)
                yield n
                n += 1
        finally:
            closed.set()

    items = cohort_days.ahead(endless())
    assert next(items) == 0
    items.close()
    assert closed.is_set()  # closed in its thread, before close() returned
    assert reading_threads() == []
    assert len(made) <= 3  # one handed, one waiting to be: never far ahead


def test_a_callers_error_stops_the_reading() -> None:
    with pytest.raises(RuntimeError, match="grouping failed"):
        for item in cohort_days.ahead(iter(range(10**9))):
            if item == 5:
                raise RuntimeError("grouping failed")
    assert reading_threads() == []


def test_look_ups_made_ahead_or_when_asked_give_the_same_figures(
    db_url: str, data: list[Row], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    look_up, fetched = cohort_days.Source.look_up, cohort_days._fetched

    def counted(self: cohort_days.Source, name: str, lo: int, last: int) -> Any:
        asked.append(threading.current_thread().name)
        return look_up(self, name, lo, last)

    def none_ahead(source: Any, lo: int, last: int, blobs: Any, lookups: Any) -> Any:
        return fetched(source, lo, last, blobs, ())

    monkeypatch.setattr(cohort_days.Source, "look_up", counted)
    with db.get_engine(db_url).connect() as connection:
        for periods, as_of in cases(ZoneInfo("Asia/Kathmandu"))[:3]:
            for by in BYS:
                found = []
                for ahead in (True, False):
                    if not ahead:
                        monkeypatch.setattr(cohort_days, "_fetched", none_ahead)
                    asked.clear()
                    read = fs.fixes(by, as_of, window=WINDOW, repeat=REPEAT, texts=Texts())
                    found.append((figures(connection, periods, by, as_of, read), rows(read)))
                    # Every look-up, made in the reading thread, or else in the caller's.
                    made_in = "latte-read-ahead" if ahead else threading.current_thread().name
                    assert asked and set(asked) == {made_in}, (ahead, asked)
                    monkeypatch.setattr(cohort_days, "_fetched", fetched)
                assert found[0] == found[1], (by, periods, as_of)
                assert found[0][1][0], "the cases have cohort cells"


def rows(read: fs.Fixes) -> tuple[Any, ...]:
    """Every fix family's rows and revenue kept, order-free."""
    kept = read.kept
    return (
        sorted(map(repr, read.cells.rows(read.texts))),
        sorted(map(repr, read.remedies.rows(read.texts))),
        sorted(map(repr, read.changes.rows(read.texts))),
        sorted(kept.sums.items()),
        sorted(zip(*(column.tolist() for column in kept.pairs()), strict=True)),
    )
