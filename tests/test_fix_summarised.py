"""The figures on what to fix read from the cohort summary (`reports/fix_summarised.py`) give
exactly the rows of their SQL over the complaint and stage record rows
(`reports/fix_queries.py`), on both stores: every `--by`, several zones, an as-of time inside
a day, a week and many months; with complaints reopened (Take action and Explain records of a
later cycle), amended, merged and forgotten. The remedies are also checked against a
plain-Python computation over the stage records, and `latte db check` finds a broken remedy
blob that `latte db rebuild-summary` repairs.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, text
from sqlmodel import Session, SQLModel

from latte_cli import cohort, db, vocabulary
from latte_cli.reports import fix_queries as fq
from latte_cli.reports import fix_summarised as fs
from latte_cli.reports.periods import Period, week_of, week_period
from latte_cli.reports.queries import SPEED_LIMITS
from latte_cli.services import amend, merge
from latte_cli.services.integrity import check_database
from latte_cli.services.privacy import ERASED
from tests.conftest import Latte
from tests.test_report_fixes import enrich
from tests.test_reports import Row, epoch_of, generate, write

H = 3600
DAY = 86_400
START = epoch_of("2026-01-05T00:00")
END = epoch_of("2026-11-23T00:00")
ZONES = ("UTC", "America/Los_Angeles", "Asia/Kathmandu")
BYS = (None, "agent", "channel", "category", "location")
WINDOW = 30 * DAY
REPEAT = 14 * DAY
TEXTS = ("Train the team", "  Padded  ", "", "New courier")


def later_cycles(session: Session, rows: list[Row], seed: int) -> None:
    """Take action and Explain records of a second cycle for the reopened complaints, as
    another program (or an import) would write them; some without a kind, an amount or a
    text, one completed long after the first resolution."""
    rnd = random.Random(seed)
    records = []
    kinds = [*vocabulary.values("action_kind")[:3], "", None]
    for r in rows:
        if not (r.reopen_at and r.first_resolved):
            continue
        done = r.resolved_again or r.reopen_at + rnd.choice([H, 40 * DAY])
        for stage, at in (("take_action", r.reopen_at + H), ("explain", done)):
            records.append(
                {
                    "complaint_id": r.id,
                    "cycle": 1,
                    "stage": stage,
                    "agent": r.agent,
                    "completed_at": datetime.fromtimestamp(at, UTC),
                    "duration_seconds": 60,
                    "action_kind": rnd.choice(kinds) if stage == "take_action" else None,
                    "amount_cents": rnd.choice([None, 0, 700]) if stage == "take_action" else None,
                    "what_will_change": rnd.choice([*TEXTS, None]) if stage == "explain" else None,
                }
            )
    session.connection().execute(SQLModel.metadata.tables["stage_record"].insert(), records)
    session.commit()


@pytest.fixture
def data(session: Session) -> list[Row]:
    rows, purchases = generate(11, START, END, n=360)
    write(session, rows, purchases)
    enrich(session, rows, purchases, seed=5)
    later_cycles(session, rows, seed=6)
    return rows


def seconds_of(value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        return tuple(sorted(int(v) for v in value.split(",") if v))
    return tuple(sorted(int(v) for v in value))


def cells(rows: Any) -> list[Any]:
    """Cohort cell rows, normalised and sorted."""
    found = [
        (int(k), g, cause, agent, int(b), int(o), int(r), int(n), seconds_of(s))
        for k, g, cause, agent, b, o, r, n, s in rows
        if k is not None
    ]
    return sorted(found, key=repr)


def remedies(rows: Any) -> list[Any]:
    """Remedy rows, normalised and sorted."""
    found = [
        (int(k), g, int(b), kind, int(n), int(cents or 0))
        for k, g, b, kind, n, cents in rows
        if k is not None
    ]
    return sorted(found, key=repr)


def both(
    conn: Connection, periods: list[Period], by: str | None, as_of: int
) -> dict[str, tuple[list[Any], list[Any]]]:
    """Per figure: (the SQL rows, the summarised rows), normalised and sorted."""
    return {
        "cohort": (
            cells(
                fq.cohort_cells(
                    conn,
                    periods,
                    by,
                    as_of,
                    window=WINDOW,
                    repeat=REPEAT,
                    per_complaint=False,
                    kept=True,
                )
            ),
            cells(fs.cohort_cells(conn, periods, by, as_of, window=WINDOW, repeat=REPEAT)),
        ),
        "remedies": (
            remedies(fq.remedy_cells(conn, periods, by, as_of, per_complaint=False)),
            remedies(fs.remedy_cells(conn, periods, by, as_of)),
        ),
        "changes": (
            sorted(fq.change_texts(conn, periods[:1], by, as_of), key=repr),
            sorted(fs.change_texts(conn, periods[:1], by, as_of), key=repr),
        ),
        "weeks": (
            sorted(fq.cause_weeks(conn, periods, by, as_of), key=repr),
            sorted(fs.cause_weeks(conn, periods, by, as_of), key=repr),
        ),
    }


def cases(zone: ZoneInfo) -> list[tuple[list[Period], int]]:
    """(periods, as-of): a week and the one before, as of a moment inside a day of it; six
    months and the six before, as of inside the later half; four weeks (recurring)."""
    as_of = epoch_of("2026-11-19T13:17:05") - 3_600 * 5 - 17
    week = week_of(as_of, zone)
    months = Period(START + 150 * DAY + 7_777, END - 10 * DAY, "months")
    before = Period(START - (months.end - months.start) + 150 * DAY + 7_777, months.start, "b")
    return [
        ([week_period(week, zone), week_period(week - 1, zone)], as_of),
        ([months, before], months.start + 100 * DAY + 4_321),
        ([months, before], END + 60 * DAY),
        ([week_period(week - i, zone) for i in range(4)], as_of),
    ]


def assert_same(connection: Connection, zones: tuple[str, ...] = ZONES) -> None:
    seen: defaultdict[str, int] = defaultdict(int)
    for zone_name in zones:
        zone = ZoneInfo(zone_name)
        for periods, as_of in cases(zone):
            for by in BYS:
                for figure, (sql, summarised) in both(connection, periods, by, as_of).items():
                    assert summarised == sql, (figure, zone_name, by, periods, as_of)
                    seen[figure] += len(sql)
    # The data reach every figure (else the comparison proves nothing).
    assert all(seen[f] > 0 for f in ("cohort", "remedies", "changes", "weeks")), seen


def test_the_summarised_rows_are_the_sql_rows(db_url: str, data: list[Row]) -> None:
    with db.get_engine(db_url).connect() as connection:
        assert cohort.differences(connection) == (0, [])
        assert_same(connection)


def remedy_oracle(
    connection: Connection, periods: list[Period], as_of: int
) -> dict[tuple[int, int, str], tuple[int, int]]:
    """(key, speed bucket, kind): (complaints, cents) from the rows, in plain Python."""
    complaints = {
        cid: (opened, first)
        for cid, opened, first in connection.execute(
            text(
                "SELECT id, opened_epoch, first_resolved_epoch FROM complaint "
                "WHERE first_resolved_epoch IS NOT NULL AND merged_into IS NULL"
            )
        )
    }
    found: dict[tuple[int, int, str], list[Any]] = defaultdict(lambda: [set(), 0])
    for cid, completed, kind, cents in connection.execute(
        text(
            "SELECT complaint_id, completed_at, action_kind, amount_cents FROM stage_record "
            "WHERE stage = 'take_action'"
        )
    ):
        if cid not in complaints:
            continue
        opened, first = complaints[cid]
        if isinstance(completed, str):
            completed = datetime.fromisoformat(completed)
        if completed.tzinfo is None:
            completed = completed.replace(tzinfo=ZoneInfo("UTC"))
        at = completed.timestamp()
        keys = [k for k, p in enumerate(periods) if p.start <= first < p.end and first <= as_of]
        if not keys or at > as_of:
            continue
        bucket = sum(first - opened >= limit for limit in SPEED_LIMITS)
        cell = found[(keys[0], bucket, kind or "(none)")]
        cell[0].add(cid)
        cell[1] += cents or 0
    return {key: (len(ids), cents) for key, (ids, cents) in found.items()}


def test_remedies_equal_a_plain_python_computation(db_url: str, data: list[Row]) -> None:
    zone = ZoneInfo("UTC")
    with db.get_engine(db_url).connect() as connection:
        for periods, as_of in cases(zone)[:3]:
            rows = fs.remedy_cells(connection, periods, None, as_of)
            mine = {(k, b, kind): (n, cents) for k, _g, b, kind, n, cents in rows}
            assert mine == remedy_oracle(connection, periods, as_of)
            assert mine


def day_content(connection: Connection, complaint_id: int) -> tuple[Any, ...]:
    """The remedy and change entries stored for one complaint, with their texts."""
    first = connection.execute(
        text("SELECT first_resolved_epoch FROM complaint WHERE id = :id"), {"id": complaint_id}
    ).scalar_one()
    row = connection.execute(
        text(
            "SELECT names, records, scores, remedies, changes FROM report_cohort WHERE day = :day"
        ),
        {"day": first // DAY},
    ).one()
    day = (row[0], bytes(row[1]), bytes(row[2]), bytes(row[3]), bytes(row[4]))
    _, _, remedies, changes = cohort._canonical(day)
    return (
        tuple(r[2:] for r in remedies if r[0] == complaint_id),
        tuple(c[2:] for c in changes if c[0] == complaint_id),
    )


def test_amended_merged_and_forgotten_complaints_stay_exact(
    session: Session, db_url: str, data: list[Row]
) -> None:
    rnd = random.Random(9)
    resolved = [r for r in data if r.first_resolved and len(r.stage_times) == 5]
    reopened = [r for r in resolved if r.reopen_at and r.resolved_again]
    kinds = vocabulary.values("action_kind")
    causes = vocabulary.values("root_cause")
    amended = rnd.sample(resolved, 12)
    for i, r in enumerate(amended):
        given = (
            amend.Correction(amount=f"{i + 1}.25", action_kind=kinds[i % len(kinds)])
            if i % 2
            else amend.Correction(root_cause=causes[i % len(causes)], what_will_change=f"Fix {i}")
        )
        stage = "take_action" if i % 2 else "explain"
        amend.amend_stage(
            session,
            complaint_id=r.id,
            stage=stage,
            given=given,
            reason="typo",
            agent="ana",
            cycle=1,
        )
    # A later cycle's records amended too.
    for r in reopened[:3]:
        amend.amend_stage(
            session,
            complaint_id=r.id,
            stage="take_action",
            reason="typo",
            agent="ana",
            given=amend.Correction(amount="99.99", action_kind=kinds[0]),
            cycle=2,
        )
        amend.amend_stage(
            session,
            complaint_id=r.id,
            stage="explain",
            reason="typo",
            agent="ana",
            given=amend.Correction(what_will_change="Second fix"),
            cycle=2,
        )
    with db.get_engine(db_url).connect() as connection:
        odd, even = amended[1], amended[0]
        remedies, _ = day_content(connection, odd.id)
        assert (kinds[1 % len(kinds)], 225) in remedies, remedies
        _, changes = day_content(connection, even.id)
        assert changes[:1] == (("Fix 0",),), changes
        for r in reopened[:3]:
            remedies, changes = day_content(connection, r.id)
            assert (kinds[0], 9999) in remedies, remedies
            assert ("Second fix",) in changes, changes
    # A merge of two resolved complaints of one customer, and a forgotten customer.
    merged = {
        int(i)
        for (i,) in session.connection().execute(
            text("SELECT id FROM complaint WHERE merged_into IS NOT NULL")
        )
    }
    by_customer: dict[int, list[Row]] = defaultdict(list)
    for r in resolved:
        if r.customer and r.id not in merged:
            by_customer[r.customer].append(r)
    pair = next(rs for rs in by_customer.values() if len(rs) >= 2)
    merge.merge_complaint(
        session, complaint_id=pair[1].id, into=pair[0].id, reason="same", agent="ana"
    )
    forgotten = next(c for c in by_customer if c != pair[0].customer)
    # Forgetting erases every free text of the customer's complaints (`privacy._erase`), here
    # written as the service writes it (the generated event log is not the service's).
    session.connection().execute(
        text(
            "UPDATE stage_record SET what_will_change = :erased WHERE what_will_change <> '' "
            "AND complaint_id IN (SELECT id FROM complaint WHERE customer_id = :c)"
        ),
        {"erased": ERASED, "c": forgotten},
    )
    session.commit()
    with db.get_engine(db_url).connect() as connection:
        assert cohort.differences(connection) == (0, [])
        assert_same(connection, zones=("UTC",))


def test_db_check_finds_a_broken_remedy_blob_and_rebuild_repairs_it(
    latte: Latte, db_url: str, data: list[Row]
) -> None:
    """`latte db check`'s summary problems (its listing is full of the generated event logs,
    which are not latte's, so the count is read from the check itself)."""

    def summary_problems() -> int:
        with Session(db.get_engine(db_url)) as session:
            return check_database(session).summary_problems

    assert summary_problems() == 0
    engine = db.get_engine(db_url)
    with engine.begin() as connection:
        day = connection.execute(
            text("SELECT min(day) FROM report_cohort WHERE length(remedies) > 0")
        ).scalar_one()
        connection.execute(
            text("UPDATE report_cohort SET remedies = changes WHERE day = :d"), {"d": day}
        )
    with engine.connect() as connection:
        assert cohort.differences(connection)[0] == 1
    assert summary_problems() == 1
    latte.ok("db", "rebuild-summary")
    assert summary_problems() == 0


def test_revision_0015_downgrades_to_rows_an_older_latte_reads_and_upgrades_again(
    db_url: str, data: list[Row]
) -> None:
    """Downgraded, the days of the new layout are gone and every resolved complaint queued
    (an older latte computes from the rows until it folds them); upgraded again, the summary
    is exact."""
    from alembic import command
    from sqlalchemy import inspect

    from latte_cli.migrations import alembic_config

    engine = db.get_engine(db_url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0014")
        columns = {c["name"] for c in inspect(connection).get_columns("report_cohort")}
        assert not {"remedies", "changes"} & columns
        assert connection.execute(text("SELECT count(*) FROM report_cohort")).scalar() == 0
        resolved = sum(1 for r in data if r.first_resolved)
        queued = connection.execute(text("SELECT count(*) FROM report_queue")).scalar()
        assert queued == resolved
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with engine.connect() as connection:
        assert cohort.differences(connection) == (0, [])
        assert_same(connection, zones=("UTC",))


def test_a_root_cause_changed_alone_is_folded(
    session: Session, db_url: str, data: list[Row]
) -> None:
    """Another program changes only complaints' root causes (no stage record): the trigger
    queues them and latte's next write folds them into the day records."""
    conn = session.connection()
    resolved = [
        int(i)
        for (i,) in conn.execute(
            text(
                "SELECT id FROM complaint WHERE first_resolved_epoch IS NOT NULL "
                "AND merged_into IS NULL ORDER BY id LIMIT 5"
            )
        )
    ]
    for cid in resolved:
        conn.execute(text("UPDATE complaint SET root_cause = 'moved' WHERE id = :id"), {"id": cid})
    session.commit()
    with db.get_engine(db_url).connect() as connection:
        assert cohort.differences(connection) == (0, [])
        periods = [Period(START, END + 30 * DAY, "all")]
        rows = fs.cohort_cells(connection, periods, None, END + 30 * DAY, window=WINDOW, repeat=1)
        assert sum(n for _, _, cause, *_, n, _ in rows if cause == "moved") == len(resolved)
