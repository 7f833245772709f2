"""A correction never gives a customer the email or phone of another one: `latte customer edit`
and `latte new --update-customer` refuse it in one line naming the other customer and the
merge, and write nothing."""

from __future__ import annotations

from sqlalchemy import text

from latte_cli import db

from .conftest import Latte

NEW = ("--channel", "phone", "--category", "delivery", "--listen", "My parcel arrived broken")


def _two(latte: Latte) -> None:
    latte.ok("new", "--customer", "A-1", "--name", "Ana", "--email", "a@example.com",
             "--phone", "0161 496 0000", *NEW)  # fmt: skip
    latte.ok("new", "--customer", "B-1", "--name", "Bob", "--email", "b@example.com", *NEW)


def _stored(db_url: str) -> list[tuple[str, str | None, str | None]]:
    with db.get_engine(db_url).connect() as c:
        rows = c.execute(text("SELECT ref, email, phone FROM customer ORDER BY id")).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _events(db_url: str) -> int:
    with db.get_engine(db_url).connect() as c:
        return int(c.execute(text("SELECT count(*) FROM event")).scalar_one())


def _refused(latte: Latte, *args: str, field: str) -> None:
    refused = latte(*args)
    assert refused.exit_code == 1, refused.output
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert f"Customer A-1 (Ana) already has the {field}" in lines[0]
    assert "latte customer merge B-1 --into A-1" in lines[0]
    assert "Traceback" not in refused.output


def test_edit_refuses_another_customers_email_or_phone(latte: Latte, db_url: str) -> None:
    _two(latte)
    before, events = _stored(db_url), _events(db_url)
    _refused(latte, "customer", "edit", "B-1", "--email", "A@Example.com", field="email")
    _refused(latte, "customer", "edit", "B-1", "--phone", "01614960000", field="phone")
    assert _stored(db_url) == before and _events(db_url) == events
    assert latte.ok("customer", "show", "a@example.com", "--json").stdout.count('"A-1"') >= 1
    # Its own details, and details no one else has, are still corrected.
    latte.ok("customer", "edit", "B-1", "--email", "bob@example.com", "--phone", "0161 496 0001")
    latte.ok("customer", "edit", "A-1", "--email", "ana@example.com")
    assert _stored(db_url)[1] == ("B-1", "bob@example.com", "0161 496 0001")


def test_update_customer_refuses_it_the_same_way(latte: Latte, db_url: str) -> None:
    _two(latte)
    before, events = _stored(db_url), _events(db_url)
    _refused(latte, "new", "--customer", "B-1", "--email", "a@example.com", "--update-customer",
             *NEW, field="email")  # fmt: skip
    assert _stored(db_url) == before and _events(db_url) == events


def test_new_refuses_filling_in_another_customers_phone(latte: Latte, db_url: str) -> None:
    _two(latte)
    before, events = _stored(db_url), _events(db_url)
    _refused(latte, "new", "--customer", "B-1", "--phone", "0161 496 0000", *NEW, field="phone")
    assert _stored(db_url) == before and _events(db_url) == events
    filled = latte.ok("new", "--customer", "B-1", "--phone", "0161 496 0002", *NEW)
    assert "had no phone" in filled.stderr
