"""Forgetting a customer forgets every customer merged into it: a merged duplicate is the same
person, and its row keeps a ref, a name, an email and a phone otherwise (docs/architecture.md,
"Customer data"). `latte customer forget` and `latte db retain` follow the same rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from latte_cli import db

from .conftest import Latte
from .test_privacy import _dump

# ref, name, email, phone: nothing shared, so that no matching rule joins them by itself.
ROOT = ("C-ROOT", "Rosalind Quarrington", "rq@example.org", "0113 496 0001")
DUP_1 = ("C-DUP-1", "Rozalind Quarington", "rozq@example.com", "0113 496 0002")
DUP_2 = ("C-DUP-2", "Ros Quarryngton", "r.quarryngton@example.net", "0113 496 0003")
DUP_3 = ("C-DUP-3", "Rosie Kwarrington", "rosie.k@example.co.uk", "0113 496 0004")
OTHER = ("C-OTHER", "Ottilie Brannock", "ob@example.net", "0161 496 0099")
PEOPLE = (ROOT, DUP_1, DUP_2, DUP_3, OTHER)


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with db.get_engine(url).connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def _execute(url: str, sql: str) -> None:
    with db.get_engine(url).begin() as connection:
        connection.execute(text(sql))


def _id(url: str, ref: str) -> int:
    return int(str(_rows(url, f"SELECT id FROM customer WHERE ref = '{ref}'")[0][0]))


def _open(latte: Latte, person: tuple[str, str, str, str], at: datetime, resolve: bool) -> None:
    ref, name, email, phone = person
    cid = latte.ok(
        "new",
        *("--customer", ref, "--name", name, "--email", email, "--phone", phone),
        *("--channel", "phone", "--category", "delivery", "--location", "Leeds"),
        *("--listen", f"Parcel torn, call {name}", "--at", at.isoformat()),
    ).stdout.strip()
    if not resolve:
        return
    steps = [
        ("acknowledge", ("--text", f"Sorry {name}")),
        ("take_action", ("--kind", "refund", "--detail", "Refund", "--amount", "12")),
        ("thank", ("--text", f"Thank you {name}")),
        ("explain", ("--root-cause", "delivery", "--change", "Better boxes")),
    ]
    for stage, args in steps:
        at += timedelta(minutes=30)
        latte.ok("step", cid, stage, *args, "--at", at.isoformat())


@pytest.fixture
def people(latte: Latte) -> Latte:
    """One complaint for each person, resolved in 2025 (long past any retention period here)."""
    start = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    for n, person in enumerate(PEOPLE):
        _open(latte, person, start + timedelta(days=n), resolve=True)
    return latte


def _identity_left(url: str, ids: set[int]) -> list[tuple[object, ...]]:
    """The rows among `ids` that still hold a ref other than a pseudonym, or any detail."""
    return [
        row
        for row in _rows(url, "SELECT id, ref, name, email, phone FROM customer")
        if int(str(row[0])) in ids
        and (not str(row[1]).startswith("forgotten-") or any(v is not None for v in row[2:]))
    ]


def test_forget_forgets_every_customer_merged_into_it(people: Latte, db_url: str) -> None:
    people.ok("customer", "merge", DUP_2[0], "--into", DUP_1[0], "--reason", "same person")
    people.ok("customer", "merge", DUP_1[0], "--into", ROOT[0], "--reason", "same person")
    ids = {_id(db_url, p[0]) for p in (ROOT, DUP_1, DUP_2)}
    # Read independently: the rows pointing at the root after the merges.
    pointing = _rows(db_url, f"SELECT id FROM customer WHERE merged_into = {_id(db_url, ROOT[0])}")
    assert {int(str(r[0])) for r in pointing} == ids - {_id(db_url, ROOT[0])}
    assert all(s in _dump(db_url) for p in (ROOT, DUP_1, DUP_2) for s in p)

    result = people.ok("customer", "forget", ROOT[0], "--reason", "erasure request", "--yes")
    assert "2 customer(s) merged into C-ROOT forgotten with it." in result.stdout
    assert _identity_left(db_url, ids) == []
    stored = _dump(db_url)
    for person in (ROOT, DUP_1, DUP_2):
        for secret in person:
            assert secret not in stored, secret
    assert all(s in stored for s in OTHER)  # someone else is untouched
    # A duplicate's old ref now behaves as the forgotten customer's own ref.
    for ref in (ROOT[0], DUP_1[0], DUP_2[0]):
        for command in ("show", "export"):
            shown = people("customer", command, ref)
            assert shown.exit_code == 1 and ref in shown.stderr, (command, ref, shown.output)
            details = [s for p in (ROOT, DUP_1, DUP_2) for s in p[1:]]
            assert [s for s in details if s in shown.output] == []
    assert "no problems found" in people.ok("db", "check").stdout


def test_forget_follows_a_chain_of_merges_and_says_how_many(people: Latte, db_url: str) -> None:
    people.ok("customer", "merge", DUP_1[0], "--into", ROOT[0], "--reason", "same person")
    people.ok("customer", "merge", DUP_3[0], "--into", ROOT[0], "--reason", "same person")
    # Records merged before a merge repointed earlier duplicates may form a chain.
    _execute(
        db_url,
        f"UPDATE customer SET merged_into = {_id(db_url, DUP_1[0])} "
        f"WHERE id = {_id(db_url, DUP_3[0])}",
    )
    done = json.loads(
        people.ok("customer", "forget", ROOT[0], "--reason", "r", "--yes", "--json").stdout
    )
    assert done["duplicates"] == 2 and done["complaints"] == 3
    ids = {_id(db_url, p) for p in (done["pseudonym"],)} | {
        int(str(r[0]))
        for r in _rows(db_url, "SELECT id FROM customer WHERE merged_into IS NOT NULL")
    }
    assert len(ids) == 3 and _identity_left(db_url, ids) == []


def test_a_duplicate_on_hold_keeps_the_customer(people: Latte, db_url: str) -> None:
    people.ok("customer", "merge", DUP_1[0], "--into", ROOT[0], "--reason", "same person")
    people.ok("hold", DUP_1[0], "--reason", "court order 12")
    before = _dump(db_url)
    result = people("customer", "forget", ROOT[0], "--reason", "r", "--yes")
    assert result.exit_code == 1
    assert "Customer C-DUP-1 is under legal hold" in result.stderr
    assert "nothing was erased" in result.stderr and "Traceback" not in result.output
    assert _dump(db_url) == before


def _retention(tmp_path: Path) -> None:
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text('retention = "30d"\n', encoding="utf-8")


def test_retention_forgets_the_duplicates_too(people: Latte, db_url: str, tmp_path: Path) -> None:
    people.ok("customer", "merge", DUP_1[0], "--into", ROOT[0], "--reason", "same person")
    people.ok("customer", "merge", DUP_2[0], "--into", ROOT[0], "--reason", "same person")
    people.ok("hold", DUP_3[0], "--reason", "court order 12")
    # Every complaint was resolved in 2025: all due; DUP-3's is held.
    _open(people, OTHER, datetime.now(UTC) - timedelta(days=1), resolve=False)  # still open
    _retention(tmp_path)
    done = json.loads(people.ok("db", "retain", "--json").stdout)
    # ROOT (with its duplicates' complaints) loses its identity; OTHER has an open complaint,
    # DUP-3 is held.
    assert done["customers"] == 1 and done["duplicates"] == 2
    ids = {_id(db_url, DUP_3[0]), _id(db_url, OTHER[0])}
    merged = {
        int(str(r[0]))
        for r in _rows(db_url, "SELECT id FROM customer WHERE merged_into IS NOT NULL")
    }
    assert len(merged) == 2 and _identity_left(db_url, merged) == []
    assert len(_identity_left(db_url, ids)) == 2
    assert "no problems found" in people.ok("db", "check").stdout


def test_retention_keeps_a_customer_whose_duplicate_is_held(
    people: Latte, db_url: str, tmp_path: Path
) -> None:
    people.ok("customer", "merge", DUP_1[0], "--into", ROOT[0], "--reason", "same person")
    people.ok("hold", DUP_1[0], "--reason", "court order 12")
    _retention(tmp_path)
    done = json.loads(people.ok("db", "retain", "--json").stdout)
    assert done["duplicates"] == 0
    both = {_id(db_url, ROOT[0]), _id(db_url, DUP_1[0])}
    assert len(_identity_left(db_url, both)) == 2


def test_a_duplicate_left_by_an_earlier_forget_is_found_and_finished(
    people: Latte, db_url: str, tmp_path: Path
) -> None:
    """A customer forgotten before duplicates went with it: `db check` names the duplicate,
    forgetting the pseudonym finishes it."""
    done = json.loads(
        people.ok("customer", "forget", ROOT[0], "--reason", "r", "--yes", "--json").stdout
    )
    dup = _id(db_url, DUP_1[0])
    _execute(
        db_url,
        f"UPDATE customer SET merged_into = {_id(db_url, done['pseudonym'])} WHERE id = {dup}",
    )
    root = _id(db_url, done["pseudonym"])
    _execute(db_url, f"UPDATE complaint SET customer_id = {root} WHERE customer_id = {dup}")
    check = people("db", "check")
    assert check.exit_code == 1
    assert f"customer {dup}: merged into forgotten customer {done['pseudonym']}" in check.stdout
    again = json.loads(
        people.ok(
            "customer", "forget", done["pseudonym"], "--reason", "r", "--yes", "--json"
        ).stdout
    )
    assert again["duplicates"] == 1 and _identity_left(db_url, {dup}) == []
    assert people("customer", "forget", done["pseudonym"], "--reason", "r", "--yes").exit_code == 1
