"""One customer-matching rule: normalisation, matching, search, and the keys' migration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlmodel import col, select

from latte_cli import db, identity
from latte_cli.identity import CustomerIndex, Keys, clean, email_key, fold, keys_of, phone_key
from latte_cli.migrations import alembic_config
from latte_cli.models import Complaint, Customer
from latte_cli.services.customers import (
    CustomerDetails,
    colliding_customers,
    find_customer,
    match_or_create_customer,
    search_customers,
)

from .conftest import Latte

ZWSP, ZWJ, WORD_JOINER, BOM = "\u200b", "\u200d", "\u2060", "\ufeff"
LRM, RLO, PDF, RLI, PDI, ALM = "\u200e", "\u202e", "\u202c", "\u2067", "\u2069", "\u061c"
ZOE = "Zoë O'Brien-Łukasiewicz"


def fullwidth(ascii_text: str) -> str:
    """`ascii_text` in full-width forms (U+FF01-U+FF5E), as some keyboards type it."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in ascii_text)


# The normalisation, without a database.


def test_clean_applies_nfkc_and_drops_invisible_characters_and_outer_space() -> None:
    assert clean(fullwidth("CUST-104")) == "CUST-104"  # full-width forms
    assert clean("ﬁle") == "file"  # a ligature
    assert clean(f" C-ZW1{ZWSP}\t") == "C-ZW1"
    assert clean(f"{BOM}C{ZWJ}-{WORD_JOINER}1{LRM}") == "C-1"
    assert clean(f"{RLO}C-1{PDF}{RLI}{PDI}{ALM}") == "C-1"
    assert clean(f"{ZWSP} ") is None and clean(None) is None
    # Inner spaces of a ref are kept: "AB 1" and "AB1" may be different refs.
    assert clean(" AB 1 ") == "AB 1"


def test_refs_keep_their_case() -> None:
    assert keys_of(ref="c-104", email=None, phone=None, name=None).ref == "c-104"
    assert keys_of(ref="C-104", email=None, phone=None, name=None).ref == "C-104"


def test_emails_compare_case_folded_in_every_script() -> None:
    assert email_key(" Ana@Example.ORG ") == "ana@example.org"
    assert email_key(f"ana{ZWSP}@example.org{RLO}") == "ana@example.org"
    assert email_key("ΣΟΦΙΑ@example.gr") == email_key("σοφια@EXAMPLE.gr")
    assert email_key("STRASSE@x.de") == email_key("straße@x.de") == "strasse@x.de"


def test_phones_compare_on_their_digits_keeping_a_leading_plus() -> None:
    assert phone_key("+46 (70) 123-45.67") == "+46701234567"
    assert phone_key("070 123 45 67") == "0701234567"
    assert phone_key(fullwidth("+33") + "\u3000" + fullwidth("12")) == "+3312"  # full-width
    assert phone_key("٠١٢٣") == "0123"  # Arabic-Indic digits
    assert phone_key(f"06{ZWSP}00") == "0600"
    assert phone_key("+33 1") != phone_key("0033 1")
    assert phone_key("n/a") is None


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Οδυσσέας Παπαδόπουλος", "ΟΔΥΣΣΕΑΣ ΠΑΠΑΔΟΠΟΥΛΟΣ"),  # Greek, final sigma
        ("Пётр Ильич", "ПЁТР ИЛЬИЧ"),  # Cyrillic
        ("Łucja Żółć", "ŁUCJA ŻÓŁĆ"),  # Polish
        ("Straße", "STRASSE"),  # ß case-folds to ss
        (ZOE, "zoe o'brien-lukasiewicz"),  # diacritics and the stroke of Ł folded
        ("Ana  Diaz", f" ana{ZWSP} diaz "),
    ],
)
def test_names_fold_case_and_diacritics_in_every_script(one: str, other: str) -> None:
    assert fold(one) == fold(other)


def test_folding_keeps_different_letters_apart() -> None:
    assert fold("Ana") != fold("Anna")
    assert fold("Σοφία") != fold("Sofia")  # no transliteration between scripts


def test_search_terms_look_at_phones_only_for_phone_like_text() -> None:
    terms = identity.search_terms(" ŁUK ")
    assert terms is not None and terms.name == "luk" and terms.phone is None
    phone = identity.search_terms("+46 70 123")
    assert phone is not None and phone.phone == "4670123"
    ref = identity.search_terms("C-104")
    assert ref is not None and ref.phone is None
    assert identity.search_terms(f" {ZWSP}") is None


# The matching order, without a database.


def index_of(*customers: Keys) -> CustomerIndex:
    return CustomerIndex(enumerate(customers, start=1))


def test_match_by_ref_then_email_then_name_and_phone() -> None:
    index = index_of(
        Keys(ref="C-1", email="ana@x.org", name="ana"),
        Keys(ref="C-2", name="bo lind", phone="+46701234567"),
    )
    assert index.match(keys_of(ref=f"C-1{ZWSP}", email=None, phone=None, name=None)) == 1
    assert index.match(keys_of(ref=None, email="ANA@x.org", phone=None, name=None)) == 1
    given = keys_of(ref=None, email=None, phone="+46 70 123 45 67", name="Bo Lind")
    assert index.match(given) == 2
    # A ref names its customer even when the email given is someone else's.
    assert index.match(keys_of(ref="C-2", email="ana@x.org", phone=None, name=None)) == 2


def test_a_name_or_phone_alone_never_matches_a_customer_known_by_more() -> None:
    index = index_of(Keys(ref="C-1", name="ana", phone="0600"))
    assert index.match(keys_of(ref=None, email=None, phone=None, name="Ana")) is None
    assert index.match(keys_of(ref=None, email=None, phone="0600", name=None)) is None


def test_details_without_ref_or_email_match_only_the_same_bare_record() -> None:
    index = index_of(Keys(name="ana"), Keys(name="ana", phone="0600"))
    assert index.match(keys_of(ref=None, email=None, phone=None, name="ANA")) == 1
    assert index.match(keys_of(ref=None, email=None, phone="06 00", name="Ana")) == 2
    assert index.match(keys_of(ref=None, email=None, phone="0700", name="Ana")) is None


def test_different_refs_sharing_an_email_stay_different_customers() -> None:
    index = index_of(Keys(ref="C-1", email="family@x.org"))
    assert index.match(keys_of(ref="C-9", email="family@x.org", phone=None, name=None)) is None
    # A customer without a ref is the one the email names: the ref is filled in.
    bare = index_of(Keys(email="family@x.org"))
    assert bare.match(keys_of(ref="C-9", email="family@x.org", phone=None, name=None)) == 1


def test_name_and_phone_do_not_match_across_a_different_ref_or_email() -> None:
    index = index_of(Keys(ref="C-1", email="ana@x.org", name="ana", phone="0600"))
    assert index.match(keys_of(ref="C-2", email=None, phone="0600", name="Ana")) is None
    assert index.match(keys_of(ref=None, email="a@y.org", phone="0600", name="Ana")) is None
    assert index.match(keys_of(ref=None, email=None, phone="0600", name="Ana")) == 1


# Storage: the agent's path and the importer on SQLite and PostgreSQL.

SEED = (
    CustomerDetails(ref="C-1", name="Ana Diaz", email="ana@example.com"),
    CustomerDetails(ref="C-2", name="Bo Lind", phone="+46 70 123 45 67"),
    CustomerDetails(ref="C-ZW1", name=ZOE),
)
CASES = (
    CustomerDetails(ref=f"C-ZW1{ZWSP}"),  # the seeded C-ZW1
    CustomerDetails(email=" ANA@EXAMPLE.COM"),  # Ana, by email
    CustomerDetails(ref=fullwidth("CUST-1"), name="Ana"),  # full-width: a new customer CUST-1
    CustomerDetails(name="Ana"),  # a name alone matches nobody known by more: new
    CustomerDetails(name=f"ANA{ZWSP}"),  # ... but the bare "Ana" just created
    CustomerDetails(name="bo lind", phone="0046 70"),  # another phone: new
    CustomerDetails(name="BO LIND", phone="+46701234567"),  # Bo, by name and phone
    CustomerDetails(ref="C-9", email="ana@example.com"),  # another ref: new
    CustomerDetails(email="cust1@example.com", ref="cust-1"),  # refs keep case: new
    CustomerDetails(ref="CUST-1", phone="0600"),  # CUST-1 again, phone filled in
)


def seed(url: str) -> list[int]:
    with db.open_session(url) as session:
        ids = [match_or_create_customer(session, details) for details in SEED]
        session.commit()
        return [c.id for c in ids if c is not None and c.id is not None]


def agent_matches(url: str) -> list[int]:
    found = []
    with db.open_session(url) as session:
        for details in CASES:
            customer = match_or_create_customer(session, details)
            assert customer is not None and customer.id is not None
            found.append(customer.id)
            session.commit()
    return found


def import_matches(latte: Latte, url: str, tmp_path: Path) -> list[int]:
    lines = [
        "external_id,customer_ref,customer_name,customer_email,customer_phone,channel,"
        "category,summary,opened_at"
    ]
    for n, case in enumerate(CASES):
        cells = [case.ref, case.name, case.email, case.phone]
        quoted = ",".join(f'"{cell}"' if cell else "" for cell in cells)
        lines.append(f"T{n},{quoted},phone,billing,Late,2026-11-0{1 + n % 9}T10:00:00Z")
    source = tmp_path / "cases.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    latte.ok("--db", url, "import", "complaints", str(source))
    with db.open_session(url) as session:
        rows = session.exec(select(Complaint.external_id, Complaint.customer_id)).all()
    by_ticket = dict(rows)
    return [by_ticket[f"T{n}"] or 0 for n in range(len(CASES))]


def customers_of(url: str) -> list[tuple[object, ...]]:
    with db.open_session(url) as session:
        return [
            (c.id, c.ref, c.name, c.email, c.phone, c.ref_key, c.email_key, c.phone_key, c.name_key)
            for c in session.exec(select(Customer).order_by(col(Customer.id))).all()
        ]


@pytest.fixture
def second_url(store: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Another empty database on the same kind of store."""
    if store.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'second.db'}"
    server = request.getfixturevalue("postgres_server")
    url: str = server.create_database()
    return url


def test_the_importer_and_the_agent_match_alike(
    store: str, second_url: str, latte: Latte, tmp_path: Path
) -> None:
    c1, c2, zw1 = seed(store)
    assert seed(second_url) == [c1, c2, zw1]
    by_agent = agent_matches(store)
    by_import = import_matches(latte, second_url, tmp_path)
    assert by_import == by_agent
    cust1, bare_ana, other_bo, c9, lower_cust1 = 4, 5, 6, 7, 8
    assert by_agent == [zw1, c1, cust1, bare_ana, bare_ana, other_bo, c2, c9, lower_cust1, cust1]
    assert customers_of(store) == customers_of(second_url)
    stored = {row[0]: row for row in customers_of(store)}
    assert stored[cust1][1:5] == ("CUST-1", "Ana", None, "0600")


def test_reimporting_rows_with_only_a_name_adds_no_customer(
    db_url: str, latte: Latte, tmp_path: Path
) -> None:
    seeded = seed(db_url)
    source = tmp_path / "names.csv"
    source.write_text(
        "external_id,customer_name,channel,category,summary,opened_at\n"
        "N1,Ana Diaz,web,billing,Late,2026-11-01T10:00:00Z\n"
        "N2,ANA DÍAZ,web,billing,Late,2026-11-02T10:00:00Z\n",
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(source))
    again = json.loads(latte.ok("import", "complaints", str(source), "--json").stdout)
    assert again["unchanged"] == 2
    with db.open_session(db_url) as session:
        rows = dict(session.exec(select(Complaint.external_id, Complaint.customer_id)).all())
        count = len(session.exec(select(Customer.id)).all())
    # Not the seeded Ana Diaz (she has a ref and an email): one new customer for both rows.
    assert rows["N1"] == rows["N2"] not in seeded
    assert count == len(SEED) + 1


def test_a_ref_with_a_trailing_zero_width_space_is_the_same_customer(db_url: str) -> None:
    with db.open_session(db_url) as session:
        first = match_or_create_customer(session, CustomerDetails(ref="C-ZW1", name="Zoë"))
        again = match_or_create_customer(
            session, CustomerDetails(ref=f"C-ZW1{ZWSP}", email="zoe@x.org")
        )
        session.commit()
        assert first is not None and again is not None and again.id == first.id
        assert again.ref == "C-ZW1" and again.email == "zoe@x.org"
        assert again.email_key == "zoe@x.org" and again.ref_key == "C-ZW1"
        found = find_customer(session, CustomerDetails(ref=f"{RLO}C-ZW1 "))
        assert found is not None and found.id == first.id


@pytest.mark.parametrize("text", ["łuk", "ŁUK", "Łuk", "zoe", "ZOË", "lukasiewicz", "o'brien"])
def test_search_finds_a_name_whatever_its_case_and_accents(db_url: str, text: str) -> None:
    with db.open_session(db_url) as session:
        match_or_create_customer(session, CustomerDetails(ref="C-7", name=ZOE))
        match_or_create_customer(session, CustomerDetails(ref="C-8", name="Luc Besson"))
        session.commit()
        assert [c.ref for c in search_customers(session, text)] == ["C-7"]


def test_search_looks_at_refs_emails_and_phones(db_url: str, latte: Latte) -> None:
    with db.open_session(db_url) as session:
        match_or_create_customer(
            session, CustomerDetails(ref="C-7", name=ZOE, phone="+46 70 123 45 67")
        )
        match_or_create_customer(session, CustomerDetails(ref="X_1", email="Ana@Example.com"))
        session.commit()
        assert [c.ref for c in search_customers(session, "70-123")] == ["C-7"]
        assert [c.ref for c in search_customers(session, "c-7")] == ["C-7"]
        assert [c.ref for c in search_customers(session, "ANA@EXAMPLE")] == ["X_1"]
        # LIKE's wildcards in the text are plain characters.
        assert [c.ref for c in search_customers(session, "_")] == ["X_1"]
        assert search_customers(session, "%") == []
    found = json.loads(latte.ok("customer", "search", "łuk", "--json").stdout)
    assert [c["name"] for c in found] == [ZOE]


def test_customer_show_finds_a_ref_typed_with_invisible_characters(latte: Latte) -> None:
    latte.ok("new", "--customer", "C-104", "--channel", "web", "--category", "x", "--listen", "hi")
    shown = json.loads(latte.ok("customer", "show", f"C-104{ZWSP}", "--json").stdout)
    assert shown["customer"]["ref"] == "C-104"


# The migration: keys for the customers of an older database, and collisions reported.

OLD_CUSTOMERS = (
    (1, "C-ZW1", ZOE, None, "+46 70 123 45 67"),
    (2, f"C-ZW1{ZWSP}", None, None, None),
    (3, None, "Ana", "Ana@Example.com", None),
    (4, None, None, " ana@example.COM", None),
    (5, "C-5", "Bo", "shared@x.org", None),
    (6, "C-6", "Eva", "shared@x.org", None),
)


def old_database(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    with engine.begin() as connection:
        for row in OLD_CUSTOMERS:
            connection.execute(
                text(
                    "INSERT INTO customer (id, ref, name, email, phone, created_at) "
                    "VALUES (:id, :ref, :name, :email, :phone, '2026-01-05 10:00:00')"
                ),
                dict(zip(("id", "ref", "name", "email", "phone"), row, strict=True)),
            )
    engine.dispose()


def test_the_migration_fills_the_keys_of_an_older_database(db_url: str, latte: Latte) -> None:
    old_database(db_url)
    latte.ok("db", "upgrade")
    keys = {row[0]: row[5:] for row in customers_of(db_url)}
    expected = {
        n: (
            identity.clean(ref),
            identity.email_key(email),
            identity.phone_key(phone),
            identity.fold(name),
        )
        for n, ref, name, email, phone in OLD_CUSTOMERS
    }
    assert keys == expected
    assert keys[1] == ("C-ZW1", None, "+46701234567", "zoe o'brien-lukasiewicz")
    assert keys[2][0] == "C-ZW1" and keys[4][1] == "ana@example.com"
    with db.open_session(db_url) as session:
        # Colliding customers are kept apart; matching picks the oldest.
        found = find_customer(session, CustomerDetails(ref="C-ZW1"))
        assert found is not None and found.id == 1
        assert [c.id for c in search_customers(session, "łuk")] == [1]


def test_db_check_reports_customers_that_collide_after_the_migration(
    db_url: str, latte: Latte
) -> None:
    old_database(db_url)
    latte.ok("db", "upgrade")
    with db.open_session(db_url) as session:
        collisions = colliding_customers(session)
    # Customers 5 and 6 share an address but their refs tell them apart: no collision.
    assert [(c.kind, c.key, c.ids) for c in collisions] == [
        ("ref", "C-ZW1", (1, 2)),
        ("email", "ana@example.com", (3, 4)),
    ]
    result = latte("db", "check")
    assert result.exit_code != 0
    assert "customers 1, 2: the same ref 'C-ZW1' once normalised" in result.stdout
    assert "customers 3, 4: the same email 'ana@example.com'" in result.stdout
    assert "Traceback" not in result.output


def test_db_check_is_clean_without_collisions(latte: Latte) -> None:
    latte.ok(
        "new",
        "--customer",
        "C-1",
        "--email",
        "a@x.org",
        "--channel",
        "web",
        "--category",
        "x",
        "--listen",
        "hi",
    )
    latte.ok("new", "--email", "A@X.ORG", "--channel", "web", "--category", "x", "--listen", "hi")
    latte.ok("db", "check")
