"""Purchase amounts a report can add up: whole cents from 0 to `workflow.MAX_CENTS`.

Every write latte makes keeps a purchase's amount in that range, but the database takes what
another program gives it: SQLite stores text or a fraction in the integer column, and either
store takes a negative or a number far beyond the bound. Revenue kept adds the amounts up, so
one such value makes the figure wrong (a negative subtracts, 9e18 swamps it), fails the
report on text, or overflows the sum. It cannot be computed correctly without the purchase,
so a report names it and how to correct it instead (docs/metrics.md, "Remedies and revenue
kept"). `latte db check` lists every such purchase with the same rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, case, func, or_, select
from sqlalchemy.exc import DBAPIError

from latte_cli import workflow
from latte_cli.errors import InvalidValue
from latte_cli.reports.queries import table


def wrong_amount(amount: Any, dialect: str) -> Any:
    """The condition that an amount column holds what no write of latte's allows."""
    wrong = or_(amount.is_(None), amount < 0, amount > workflow.MAX_CENTS)
    if dialect == "sqlite":
        wrong = or_(wrong, func.typeof(amount) != "integer")
    return wrong


# What a pair reads for a purchase whose amount no write allows: no amount is negative.
WRONG_CENTS = -1


def read_cents(amount: Any, dialect: str) -> Any:
    """SQL: the amount as the pairs of revenue kept read it, WRONG_CENTS when it is wrong, so
    that text or a fraction never reaches the integers numpy parses (text failed the report,
    a fraction was cut to whole cents)."""
    return case((wrong_amount(amount, dialect), WRONG_CENTS), else_=amount)


def check_cents(conn: Connection, cents: Any) -> None:
    """Refuse the report when a purchase read into `cents` (a numpy array) had a wrong
    amount; the purchase is found again by `refuse_wrong_amounts`."""
    if len(cents) and int(cents.min()) < 0:
        refuse_wrong_amounts(conn)


@contextmanager
def blamed(conn: Connection) -> Iterator[None]:
    """Revenue kept summed from amounts that another program wrote can fail anywhere: a sum
    that overflows, a number numpy cannot hold. When a purchase's amount is to blame, the
    report says so (`refuse_wrong_amounts`); otherwise the failure goes on as it was."""
    try:
        yield
    except (ValueError, TypeError, OverflowError, DBAPIError) as error:
        try:
            refuse_wrong_amounts(conn)
        except DBAPIError:  # the failed statement ended the transaction (PostgreSQL)
            raise error from None
        raise


def refuse_wrong_amounts(conn: Connection) -> None:
    """Raise InvalidValue naming the first purchase whose amount no write allows.

    This reads every purchase (about 0.3 CPU s over 2,000,000 on SQLite), so it runs only
    when a report has met a wrong amount."""
    p = table("purchase").c
    found = conn.execute(
        select(p.id, p.amount_cents)
        .where(wrong_amount(p.amount_cents, conn.dialect.name))
        .order_by(p.id)
        .limit(1)
    ).first()
    if found is not None:
        raise wrong_amount_error(*found)


def is_wrong(value: Any) -> bool:
    """`wrong_amount` for one value read back (what SQLite hands over for another program's
    text or fraction)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return True
    return not 0 <= value <= workflow.MAX_CENTS


def wrong_amount_error(purchase_id: int, value: Any) -> InvalidValue:
    return InvalidValue(
        f"purchase {purchase_id} has an amount no import writes ({value!r}); run "
        "`latte db check` and correct it."
    )
