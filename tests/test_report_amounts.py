"""A report that meets a purchase amount no write allows (another program wrote it) refuses in
one line naming the purchase and the fix, exit 1: revenue kept cannot be computed correctly
without it (docs/metrics.md, "Remedies and revenue kept")."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from latte_cli import db
from latte_cli.workflow import MAX_CENTS

from .conftest import Latte

SAMPLE = Path(__file__).parent.parent / "data" / "sample"
PERIOD = ("--since", "2026-01-01", "--until", "2026-12-31")
REPORTS = ("weekly", "agents", "repurchase")
WINDOW = 90 * 86_400  # the default repurchase window


@pytest.fixture
def shop(latte: Latte) -> Latte:
    for kind in ("complaints", "purchases"):
        latte.ok("import", kind, str(SAMPLE / f"{kind}.csv"))
    return latte


def _kept_purchase(url: str) -> tuple[int, int]:
    """A purchase in the window of a first resolution of its customer in the period: revenue
    kept adds it up. Found here from the tables, independently of the report."""
    with db.get_engine(url).connect() as conn:
        complaints = conn.execute(
            text(
                "SELECT customer_id, first_resolved_epoch FROM complaint "
                "WHERE first_resolved_epoch IS NOT NULL AND customer_id IS NOT NULL"
            )
        ).all()
        purchases = conn.execute(
            text("SELECT id, customer_id, purchased_epoch, amount_cents FROM purchase")
        ).all()
    resolved: dict[int, list[int]] = {}
    for customer, at in complaints:
        resolved.setdefault(customer, []).append(at)
    kept = sorted(
        (pid, cents)
        for pid, customer, bought, cents in purchases
        if any(at < bought <= at + WINDOW for at in resolved.get(customer, []))
    )
    assert kept, "the sample has purchases after resolutions"
    return kept[0]


def _set_amount(url: str, purchase: int, value: str) -> None:
    with db.get_engine(url).begin() as conn:
        conn.execute(text(f"UPDATE purchase SET amount_cents = {value} WHERE id = {purchase}"))


def _refused(latte: Latte, report: str, purchase: int, shown: str, *more: str) -> None:
    result = latte("report", report, *PERIOD, "--format", "json", *more)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "unexpected" not in result.output
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"Error: purchase {purchase} has an amount no import writes ({shown}); run "
        "`latte db check` and correct it."
    ]


@pytest.mark.parametrize("value", ["-500", str(MAX_CENTS + 1)])
def test_a_wrong_amount_refuses_every_report_on_both_stores(
    shop: Latte, db_url: str, value: str
) -> None:
    purchase, cents = _kept_purchase(db_url)
    for report in REPORTS:
        shop.ok("report", report, *PERIOD, "--format", "json")
    _set_amount(db_url, purchase, value)
    for report in REPORTS:
        _refused(shop, report, purchase, value)
    _set_amount(db_url, purchase, str(cents))  # corrected, as the message says
    for report in REPORTS:
        shop.ok("report", report, *PERIOD, "--format", "json")


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("value", "shown"),
    [("9000000000000000000", "9000000000000000000"), ("'abc'", "'abc'"), ("12.5", "12.5")],
)
def test_sqlite_keeps_text_fractions_and_huge_numbers_and_reports_name_them(
    shop: Latte, db_url: str, value: str, shown: str
) -> None:
    purchase, _ = _kept_purchase(db_url)
    _set_amount(db_url, purchase, value)
    for report in REPORTS:
        _refused(shop, report, purchase, shown)
    if value == "'abc'":  # the complaints behind a count, with what was bought again
        _refused(shop, "weekly", purchase, shown, "--detail", "repurchase.repurchased")


@pytest.mark.sqlite_only
def test_a_wrong_amount_read_from_the_kept_summary_is_named(shop: Latte, db_url: str) -> None:
    """Once a rebuild has folded the wrong text into the kept summary, it is still named."""
    purchase, _ = _kept_purchase(db_url)
    _set_amount(db_url, purchase, "'abc'")
    shop.ok("db", "rebuild-summary")
    for report in REPORTS:
        _refused(shop, report, purchase, "'abc'")


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("value", "shown"), [("'abc'", "'abc'"), ("12.5", "12.5"), ("-500", "-500")]
)
def test_the_customer_screen_names_a_wrong_amount(
    shop: Latte, db_url: str, value: str, shown: str
) -> None:
    """`latte customer show` lists the customer's last purchases: one another program wrote
    wrong is named as the reports name it, not an unexpected failure."""
    purchase, _ = _kept_purchase(db_url)
    with db.get_engine(db_url).connect() as conn:
        ref = conn.execute(
            text(
                "SELECT c.ref FROM customer c JOIN purchase p ON p.customer_id = c.id "
                f"WHERE p.id = {purchase}"
            )
        ).scalar_one()
        latest = conn.execute(
            text(
                "SELECT id FROM purchase WHERE customer_id = "
                f"(SELECT customer_id FROM purchase WHERE id = {purchase}) "
                "ORDER BY purchased_epoch DESC LIMIT 1"
            )
        ).scalar_one()
    shop.ok("customer", "show", ref)
    _set_amount(db_url, latest, value)
    result = shop("customer", "show", ref)
    assert result.exit_code == 1, result.output
    assert "unexpected" not in result.output
    assert result.stderr.strip().splitlines() == [
        f"Error: purchase {latest} has an amount no import writes ({shown}); run "
        "`latte db check` and correct it."
    ]
