"""The advice at Take action and the urgency line at Listen (docs/metrics.md, "Advice for the
agent"), on both stores: generated complaints, purchases and follow-ups are imported, and every
figure is compared with a plain-Python computation of the definitions over the same rows."""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prompt_toolkit.input import PipeInput
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from latte_cli.advice import median, wilson
from latte_cli.models import Complaint
from latte_cli.services.advice import advise, months_before, urgency

from .conftest import Latte
from .test_guided import ACKNOWLEDGE, EXPLAIN, LISTEN, NEW_CUSTOMER, TAKE_ACTION, THANK, feed
from .test_guided import pipe as pipe  # the fixture

DAY, HOUR = 86_400, 3_600
AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
T = int(AS_OF.timestamp())
SINCE = int(months_before(AS_OF, 12).timestamp())
W, R = 90 * DAY, 30 * DAY
MIN_N = 12
DELAYS = [HOUR, 3 * HOUR, 10 * HOUR, 30 * HOUR, 80 * HOUR, 200 * HOUR]


@dataclass
class Row:
    ref: str
    customer: str  # "" anonymous
    category: str
    opened: int
    resolved: int | None
    kind: str


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(seed: int = 16) -> tuple[list[Row], list[tuple[str, str, int]], list[tuple[str, int]]]:
    """Complaints (delivery: many; billing: too few for any action kind), purchases (customer,
    order, epoch) and follow-ups saying the customer bought again (complaint, recorded)."""
    rng = random.Random(seed)
    start = int(datetime(2025, 3, 1, tzinfo=UTC).timestamp())
    rows: list[Row] = []
    for i in range(230):
        opened = start + rng.randrange(0, T - 6 * DAY - start)
        resolved = opened + rng.choice(DELAYS)
        if i % 23 == 0:
            resolved = None  # still open
        billing = i % 20 == 0  # 12 of them: no kind can reach MIN_N
        kind = "repair" if i % 29 == 1 else rng.choice(["refund", "refund", "replacement"])
        customer = "" if i % 31 == 2 else f"C-{rng.randrange(45)}"
        rows.append(
            Row(f"X{i}", customer, "billing" if billing else "delivery", opened, resolved, kind)
        )
    purchases = [
        (f"C-{rng.randrange(45)}", f"O{j}", start + rng.randrange(0, T + 20 * HOUR - start))
        for j in range(260)
    ]  # a few after T: not known yet
    followups = [
        (r.ref, r.resolved + rng.choice([2 * DAY, 20 * DAY, 120 * DAY]))
        for r in rows
        if r.resolved is not None and r.customer and rng.random() < 0.15
    ]
    followups = [(ref, at) for ref, at in followups if at < T + 20 * HOUR]
    return rows, purchases, followups


def write(path: Path, header: str, lines: list[str]) -> str:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return str(path)


def acted(row: Row) -> str:
    """Acknowledge and take action, halfway to the resolution."""
    assert row.resolved is not None
    return iso((row.opened + row.resolved) // 2)


def load(latte: Latte, tmp_path: Path, data: tuple[list[Row], list, list]) -> None:
    rows, purchases, followups = data
    complaints = [
        f"{r.ref},{r.customer},phone,{r.category},Late,{iso(r.opened)},"
        + (f"{iso(r.resolved)},{acted(r)},{acted(r)},{r.kind}" if r.resolved else ",,,")
        for r in rows
    ]
    header = (
        "external_id,customer,channel,category,listen,opened_at,resolved_at,acknowledged_at,"
        "take_action_at,"
        "action_kind"
    )
    latte.ok("import", "complaints", write(tmp_path / "c.csv", header, complaints))
    lines = [f"{order},{who},{iso(at)},10.00" for who, order, at in purchases]
    latte.ok("import", "purchases", write(tmp_path / "p.csv", "order,customer,date,total", lines))
    answers = [f"{ref},{iso(at)},yes" for ref, at in followups]
    header = "external_id,recorded_at,repurchased"
    latte.ok("import", "followups", write(tmp_path / "f.csv", header, answers))


@dataclass
class Expected:
    bought: int = 0
    lost: int = 0
    pending: int = 0
    repeated: int = 0
    not_repeated: int = 0
    repeat_pending: int = 0


def expected(
    data: tuple[list[Row], list, list], *, category: str | None, key: str = "kind"
) -> tuple[dict[str, Expected], dict[str, list[int]]]:
    """The definitions, row by row: outcome counts and resolution times per action kind (or
    per speed: "fast" under 4 h, "slow" 3 days or more)."""
    rows, purchases, followups = data
    counted: dict[str, Expected] = {}
    took: dict[str, list[int]] = {}
    for r in rows:
        if r.resolved is None or not r.customer or not SINCE < r.resolved <= T:
            continue
        if category is not None and r.category != category:
            continue
        if key == "kind":
            group = r.kind
        else:
            seconds = r.resolved - r.opened
            group = "fast" if seconds < 4 * HOUR else "slow" if seconds >= 3 * DAY else "mid"
        e = counted.setdefault(group, Expected())
        took.setdefault(group, []).append(r.resolved - r.opened)
        bought = any(
            who == r.customer and r.resolved < at <= r.resolved + W and at <= T
            for who, _, at in purchases
        ) or any(ref == r.ref and at <= T for ref, at in followups)
        if bought:
            e.bought += 1
        elif r.resolved + W <= T:
            e.lost += 1
        else:
            e.pending += 1
        again = any(
            o.customer == r.customer and r.resolved < o.opened <= r.resolved + R and o.opened <= T
            for o in rows
        )
        if again:
            e.repeated += 1
        elif r.resolved + R <= T:
            e.not_repeated += 1
        else:
            e.repeat_pending += 1
    return counted, took


@pytest.fixture
def data(latte: Latte, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    generated = generate()
    load(latte, tmp_path, generated)
    monkeypatch.setenv("LATTE_ADVICE_MIN_N", str(MIN_N))
    yield generated


def complaint_id(session: Session, ref: str) -> int:
    found = session.exec(select(Complaint.id).where(Complaint.external_id == ref)).one()
    session.commit()
    assert found is not None
    return found


def open_one(latte: Latte, category: str) -> int:
    result = latte.ok(
        "new", "--customer", "C-900", "--channel", "phone", "--category", category,
        "--listen", "Late again",
    )  # fmt: skip
    return int(result.stdout.strip())


def test_wilson_interval_matches_the_textbook() -> None:
    # Newcombe (1998), Statistics in Medicine 17, table I: 81 of 263 -> 0.2553 to 0.3662.
    low, high = wilson(81, 263) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    # 0 of 10: the interval starts at 0 and is not empty (the textbook 0 to 0.2775).
    assert wilson(0, 10) == (0.0, pytest.approx(0.27753, abs=1e-5))
    assert wilson(0, 0) is None
    assert median([5, 1, 3]) == 3 and median([4, 1, 3, 2]) == 2.5 and median([]) is None


def test_advice_matches_the_definitions(
    latte: Latte, session: Session, data: tuple, store: str
) -> None:
    new = open_one(latte, "delivery")
    found = advise(session, new, as_of=AS_OF, months=12, min_n=MIN_N, window_days=90)
    counted, took = expected(data, category="delivery")
    assert not found.fallback and found.scope.since == SINCE and found.scope.as_of == T
    shown = {row.action_kind: row for row in found.rows}
    enough = {k for k, e in counted.items() if e.bought + e.lost >= MIN_N}
    assert set(shown) == enough
    assert "repair" in counted and "repair" not in enough  # small n: hidden
    assert sum(e.pending for e in counted.values()) > 0  # censoring is exercised
    for kind in enough:
        e, row = counted[kind], shown[kind]
        assert (row.repurchase.hits, row.repurchase.n, row.repurchase.pending) == (
            e.bought,
            e.bought + e.lost,
            e.pending,
        )
        assert (row.repeat.hits, row.repeat.n, row.repeat.pending) == (
            e.repeated,
            e.repeated + e.not_repeated,
            e.repeat_pending,
        )
        assert row.median_seconds == pytest.approx(statistics.median(took[kind]))
    rates = [row.repurchase.rate or 0 for row in found.rows]
    assert rates == sorted(rates, reverse=True)


def test_changes_another_program_wrote_are_counted_before_and_after_folding(
    latte: Latte, session: Session, data: tuple, db_url: str, store: str
) -> None:
    rows, purchases, followups = data
    new = open_one(latte, "delivery")
    latte.ok("db", "check")  # what the advice reads is kept right at write time
    # A purchase and a follow-up written by another program wait in the queue: the advice
    # computes from the rows until latte folds them.
    lost = next(
        r
        for r in rows
        if r.category == "delivery" and r.customer and r.resolved and r.resolved + W < T - DAY
        and not any(ref == r.ref for ref, _ in followups)
        and not any(w == r.customer and r.resolved < at <= r.resolved + W for w, _, at in purchases)
    )  # fmt: skip
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO purchase (order_ref, customer_id, purchased_at, purchased_epoch, "
                "amount_cents, lines) SELECT 'LATE-1', id, :at, :epoch, 500, 1 FROM customer "
                "WHERE ref = :ref"
            ),
            {"at": datetime.fromtimestamp(lost.resolved + DAY, UTC), "epoch": lost.resolved + DAY,
             "ref": lost.customer},
        )  # fmt: skip
    engine.dispose()
    purchases = [*purchases, (lost.customer, "LATE-1", lost.resolved + DAY)]
    changed = (rows, purchases, followups)
    counted, _ = expected(changed, category="delivery")

    def shown() -> dict[str, tuple[int, int, int]]:
        found = advise(session, new, as_of=AS_OF, months=12, min_n=MIN_N, window_days=90)
        session.commit()
        return {
            r.action_kind: (r.repurchase.hits, r.repurchase.n, r.repeat.hits) for r in found.rows
        }

    want = {
        k: (e.bought, e.bought + e.lost, e.repeated)
        for k, e in counted.items()
        if e.bought + e.lost >= MIN_N
    }
    assert session.execute(text("SELECT count(*) FROM report_queue")).scalar()
    assert shown() == want  # from the rows, the queue not folded yet
    latte.ok("step", str(new), "acknowledge", "--text", "Sorry")  # latte writes: it folds
    assert shown() == want  # kept at write time
    latte.ok("db", "check")


def test_too_few_in_the_category_falls_back_to_every_category(
    latte: Latte, session: Session, data: tuple, store: str
) -> None:
    new = open_one(latte, "billing")
    found = advise(session, new, as_of=AS_OF, months=12, min_n=MIN_N, window_days=90)
    assert found.fallback and found.category == "billing"
    billing, _ = expected(data, category="billing")
    assert all(e.bought + e.lost < MIN_N for e in billing.values())
    everything, _ = expected(data, category=None)
    shown = {row.action_kind: (row.repurchase.hits, row.repurchase.n) for row in found.rows}
    assert shown == {
        k: (e.bought, e.bought + e.lost)
        for k, e in everything.items()
        if e.bought + e.lost >= MIN_N
    }
    # Nothing anywhere with enough outcomes: said honestly, no rows.
    none = advise(session, new, as_of=AS_OF, months=12, min_n=10_000, window_days=90)
    assert none.rows == () and none.as_json()["enough_history"] is False


def test_urgency_compares_fast_and_slow_resolutions(
    session: Session, data: tuple, store: str
) -> None:
    found = urgency(session, "delivery", as_of=AS_OF, months=12, min_n=5, window_days=90)
    counted, _ = expected(data, category="delivery", key="speed")
    assert found is not None
    for rate, group in ((found.fast, "fast"), (found.slow, "slow")):
        e = counted[group]
        assert (rate.hits, rate.n, rate.pending) == (e.bought, e.bought + e.lost, e.pending)
    assert urgency(session, "billing", as_of=AS_OF, months=12, min_n=5, window_days=90) is None


def test_advise_command_json_and_exit_codes(latte: Latte, data: tuple) -> None:
    new = open_one(latte, "delivery")
    answer = json.loads(
        latte.ok("advise", str(new), "--as-of", "2026-06-01T00:00:00Z", "--json").stdout
    )
    counted, _ = expected(data, category="delivery")
    assert answer["as_of_epoch"] == T and answer["window_days"] == 90
    assert answer["compared_with"] == "delivery" and answer["enough_history"] is True
    for action in answer["actions"]:
        e = counted[action["action_kind"]]
        assert action["repurchase"]["n"] == e.bought + e.lost
        low, high = action["repurchase"]["interval"]
        assert low <= action["repurchase"]["rate"] <= high
    missing = latte("advise", "99999")
    assert missing.exit_code == 1 and "No complaint with id 99999" in missing.output
    assert "Traceback" not in missing.output
    assert latte("advise").exit_code == 2


def test_advise_table_fits_80_columns(latte: Latte, data: tuple) -> None:
    new = open_one(latte, "delivery")
    shown = latte.ok("advise", str(new), "--as-of", "2026-06-01T00:00:00Z").stdout
    lines = shown.splitlines()
    assert lines[0].startswith("What kept customers") and "90 days" in shown
    assert "refund" in shown and "repair" not in shown
    assert all(len(line) <= 80 for line in lines)
    empty = latte.ok("advise", str(open_one(latte, "billing")), "--as-of", "2024-01-01")
    assert "not enough history yet" in empty.stdout


def test_step_take_action_json_carries_the_advice(latte: Latte, data: tuple) -> None:
    new = open_one(latte, "delivery")
    latte.ok("step", str(new), "acknowledge", "--text", "Sorry")
    answer = json.loads(
        latte.ok(
            "step", str(new), "take_action", "--kind", "refund", "--detail", "Refunded", "--json"
        ).stdout
    )
    advice = answer["advice"]
    assert advice["complaint_id"] == new and advice["compared_with"] == "delivery"
    assert answer["stage_due"] == "thank"


def test_guided_flow_shows_the_urgency_and_the_advice_before_the_action(
    latte: Latte, pipe: PipeInput, data: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("latte_cli.services.advice.utcnow", lambda: AS_OF)
    monkeypatch.setenv("LATTE_ADVICE_MIN_N", "5")
    feed(pipe, NEW_CUSTOMER, LISTEN, ACKNOWLEDGE, TAKE_ACTION, THANK, EXPLAIN)
    result = latte("new")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Speed matters for delivery" in out
    assert out.index("Saved Listen") < out.index("Speed matters") < out.index("Acknowledge")
    assert "What kept customers" in out
    heading, saved = out.index("3/5 Take action"), out.index("Saved Take action")
    assert heading < out.index("What kept customers") < saved  # before the action is chosen
    assert "refund" in out[heading:saved]
    assert all(len(line) <= 80 for line in out.splitlines())


def test_the_period_is_calendar_months_back() -> None:
    # The window arithmetic, alone: 12 calendar months back, clamped at a month's end.
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(AS_OF, 12) == AS_OF - timedelta(days=365)
    assert math.isclose(SINCE, T - 365 * DAY)
