"""`latte search`: ranked, Unicode-folded full-text search kept current by every writer, on
SQLite (FTS5) and PostgreSQL (tsvector), and the index's backfill by revision 0008."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pexpect
import pytest
from alembic import command
from sqlalchemy import inspect, text

from latte_cli import db
from latte_cli.migrations import alembic_config
from latte_cli.services import complaints as service
from latte_cli.services.customers import CustomerDetails
from latte_cli.services.search import Query, SearchFilter, search

from .conftest import Latte

START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def ids(latte: Latte, *args: str) -> list[int]:
    return [hit["id"] for hit in json.loads(latte.ok("search", *args, "--json").stdout)]


def new(latte: Latte, listen: str, *customer: str, at: datetime = START) -> str:
    return latte.ok(
        "new", *customer, "--channel", "phone", "--category", "delivery",
        "--listen", listen, "--at", at.isoformat(),
    ).stdout.strip()  # fmt: skip


def integrity(url: str) -> None:
    """SQLite: FTS5 compares its index with the documents the view builds (raises if not)."""
    if url.startswith("sqlite"):
        with db.get_engine(url).begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO search_index (search_index, rank) VALUES ('integrity-check', 1)"
            )


def test_best_match_first(latte: Latte, db_url: str) -> None:
    once = new(latte, "The lid of my kettle is loose and the handle wobbles")
    often = new(latte, "My kettle leaks: the kettle base is cracked")
    latte.ok("step", often, "acknowledge", "--text", "Sorry about the kettle")
    new(latte, "The toaster burns bread")
    assert ids(latte, "kettle") == [int(often), int(once)]
    # Every word must occur; a last word ending in * may be the start of a word.
    assert ids(latte, "kettle cracked") == [int(often)]
    assert ids(latte, "kettle wobb*") == [int(once)]
    assert ids(latte, "kettle wobb") == []
    assert ids(latte, "kettle toaster") == []
    integrity(db_url)


def test_case_and_accents_fold_on_both_stores(latte: Latte) -> None:
    zoe = new(
        latte, "Mein Kühlschrank ist kaputt, Straße gesperrt; crème brûlée", "--customer",
        "C-1", "--name", "Zoë O'Brien-Łukasiewicz", "--email", "Zoe.OBrien@Example.ORG",
    )  # fmt: skip
    new(latte, "Nothing special here", "--customer", "C-2", "--name", "Ana Diaz")
    for query in (
        "łukasiewicz", "ŁUKASIEWICZ", "lukasiewicz", "zoe", "ZOË", "obrien", "brien",
        "kühlschrank", "KUHLSCHRANK", "strasse", "STRAẞE", "creme brulee", "CRÈME",
        "zoe.obrien@example.org",
    ):  # fmt: skip
        assert ids(latte, query) == [int(zoe)], query


def test_phone_digits_match_whatever_the_punctuation(latte: Latte) -> None:
    cid = new(latte, "Broken lamp", "--customer", "C-9", "--phone", "+44 (7700) 900-123")
    new(latte, "Another lamp", "--customer", "C-8", "--phone", "+44 7700 900 999")
    for query in ("+447700900123", "+44 7700 900 123", "+44.7700.900.123", "447700900123"):
        assert ids(latte, query) == [int(cid)], query
    assert len(ids(latte, "+44 7700")) == 2  # the start of a number finds both
    assert ids(latte, "+44 7700 900 124") == []


def test_kept_current_by_stages_notes_followups_and_customers(latte: Latte, db_url: str) -> None:
    cid = new(latte, "Parcel late", "--customer", "C-5", "--name", "Ana Diaz")
    assert ids(latte, "apologised") == []
    latte.ok("step", cid, "acknowledge", "--text", "We apologised for the wait")
    latte.ok("step", cid, "take_action", "--kind", "refund", "--detail", "Refunded postage")
    latte.ok("transfer", cid, "--to", "sam", "--force", "--note", "Needs a callback tomorrow")
    latte.ok("step", cid, "thank", "--text", "Thank you for your patience")
    latte.ok("step", cid, "explain", "--root-cause", "delivery", "--change", "Courier swap")
    latte.ok(
        "followup", "record", cid, "--reached", "--satisfied", "--note", "Spoke with her husband"
    )
    latte.ok("reopen", cid, "--reason", "Parcel never arrived after all")
    for word in ("apologised", "postage", "callback", "patience", "courier", "never", "husband"):
        assert ids(latte, word) == [int(cid)], word
    # A detail given later fills the customer's empty email: the index follows.
    new(latte, "Second parcel late", "--customer", "C-5", "--email", "ana@shop.example")
    assert len(ids(latte, "ana@shop.example")) == 2
    integrity(db_url)


def test_imported_complaints_are_found(latte: Latte, db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "complaints.csv"
    source.write_text(
        "external_id,customer_ref,customer_name,channel,category,listen,opened_at,"
        "acknowledged_at\n"
        "X-1,C-1,Jürgen Weiß,email,delivery,The wardrobe doors are scratched,"
        "2026-10-01T10:00:00Z,2026-10-01T11:00:00Z\n"
        "X-2,C-2,Ana,email,billing,Charged twice for one order,2026-10-02T10:00:00Z,\n",
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(source))
    assert len(ids(latte, "wardrobe scratched")) == 1
    assert len(ids(latte, "juergen")) == 0  # ü folds to u, not to ue
    assert len(ids(latte, "jurgen weiss")) == 1
    latte.ok("import", "complaints", str(source))  # unchanged the second time
    assert len(ids(latte, "charged")) == 1
    integrity(db_url)


def test_forgotten_words_are_no_longer_found(latte: Latte, db_url: str) -> None:
    cid = new(latte, "My marmalade jar exploded", "--customer", "C-7", "--name", "Quentin Zorb")
    latte.ok("step", cid, "acknowledge", "--text", "Sorry about the quincepaste")
    keep = new(latte, "Marmalade lid stuck", "--customer", "C-6", "--name", "Ana")
    latte.ok("customer", "forget", "C-7", "--reason", "erasure request", "--yes")
    assert ids(latte, "zorb") == []
    assert ids(latte, "quincepaste") == []
    assert ids(latte, "marmalade") == [int(keep)]
    integrity(db_url)


def test_filters_and_snippets(latte: Latte) -> None:
    old = new(latte, "Heater broken again", "--customer", "C-1", at=START - timedelta(days=400))
    latte.ok("step", old, "acknowledge", "--text", "Sorry", "--at", START.isoformat())
    for stage, args in (
        ("take_action", ("--kind", "repair", "--detail", "Fixed")),
        ("thank", ("--text", "Thanks")),
        ("explain", ("--root-cause", "delivery", "--change", "None")),
    ):
        latte.ok("step", old, stage, *args, "--at", START.isoformat())
    recent = new(latte, "Heater makes noise", "--customer", "C-2")
    assert ids(latte, "heater", "--status", "open") == [int(recent)]
    assert ids(latte, "heater", "--status", "resolved") == [int(old)]
    assert ids(latte, "heater", "--customer", "C-1") == [int(old)]
    assert ids(latte, "heater", "--since", "2026-01-01") == [int(recent)]
    assert ids(latte, "heater", "--until", "2026-01-01") == [int(old)]
    assert len(ids(latte, "heater", "--limit", "1")) == 1
    hits = json.loads(latte.ok("search", "noise", "--json").stdout)
    assert set(hits[0]) == {
        "id", "customer_ref", "customer_name", "status", "stage_due", "opened_at", "snippet",
    }  # fmt: skip
    assert hits[0]["snippet"] == "Heater makes noise"
    table = latte.ok("search", "heater").stdout
    assert old in table and "2025-" in table  # another year's date shows its year


def test_among_many_matches_only_the_most_recent_are_ranked(
    latte: Latte, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond CANDIDATES matches the most recent CANDIDATES (highest ids) are ranked, the
    filters applied first (docs/architecture.md, "The search index")."""
    import latte_cli.services.search as searching

    monkeypatch.setattr(searching, "CANDIDATES", 3)
    texts = [
        "Kettle kettle kettle: the kettle again",  # the best match, but the oldest
        "A kettle arrived late",
        "Kettle broken, kettle lid missing",
        "The toaster burns bread",
        "My kettle is noisy",
        "The kettle handle is loose",
    ]
    opened = [int(new(latte, text, "--customer", f"C-{i % 2}")) for i, text in enumerate(texts)]
    matching = [cid for cid, text in zip(opened, texts, strict=True) if "kettle" in text.lower()]
    recent = sorted(matching, reverse=True)[:3]
    found = ids(latte, "kettle")
    assert sorted(found) == sorted(recent)
    assert found[0] == opened[2]  # twice the word: ranked first among the three
    # The customer filter comes before the cut: C-0's three most recent matches.
    mine = [c for i, c in enumerate(opened) if i % 2 == 0 and c in matching]
    assert sorted(ids(latte, "kettle", "--customer", "C-0")) == sorted(mine)[-3:]
    assert ids(latte, "toaster") == [opened[3]]


def test_long_texts_are_cut_around_the_words_found(latte: Latte) -> None:
    words = " ".join(f"filler{n}" for n in range(60))
    new(latte, f"{words} the blender exploded {words}")
    (hit,) = json.loads(latte.ok("search", "blender", "--json").stdout)
    assert "blender exploded" in hit["snippet"]
    assert hit["snippet"].startswith("…") and hit["snippet"].endswith("…")
    assert len(hit["snippet"]) <= 100


def test_bad_searches_are_refused(latte: Latte) -> None:
    latte.ok("db", "upgrade")
    for args, message in (
        (("?!",), "no word or number"),
        (("kettle", "--status", "closed"), "--status"),
        (("kettle", "--limit", "0"), "--limit"),
        (("kettle", "--customer", "C-404"), "C-404"),
    ):
        result = latte("search", *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output


def test_queries_cannot_inject_operators() -> None:
    query = Query.parse('kettle" OR "x NEAR(a b) AND NOT -y:*')
    assert query.words == ("kettle", "or", "x", "near", "a", "b", "and", "not", "y")
    assert query.fts5().count('"') == 2 * len(query.words)


def test_the_migration_fills_the_index_from_stored_complaints(db_url: str) -> None:
    details = CustomerDetails(ref="C-1", name="Wiesława Ørsted", phone="+48 600 100 200")
    with db.open_session(db_url) as session:
        for n in range(5):
            service.open_complaint(
                session,
                new=service.NewComplaint(
                    channel="phone",
                    category="delivery",
                    listen=f"Stored before the index {n} pierogi",
                    customer=details,
                ),
                agent="ana",
                at=START + timedelta(hours=n),
            )
    # Back to the revision before the index: the complaints stay, the index is gone; the
    # upgrade's backfill must find every one of them again.
    engine = db.get_engine(db_url)
    config = alembic_config()
    for target, step in (("0007", command.downgrade), ("head", command.upgrade)):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, target)
            if target == "0007":
                assert "search_index" not in inspect(connection).get_table_names()
                count = connection.execute(text("SELECT count(*) FROM complaint")).scalar()
                assert count == 5
    with db.open_session(db_url) as session:
        for query in ("pierogi", "wieslawa orsted", "+48600100200"):
            assert len(search(session, SearchFilter(text=query))) == 5, query
    integrity(db_url)


def test_downgrade_removes_the_index_and_upgrade_builds_it_again(latte: Latte, db_url: str) -> None:
    new(latte, "The blender exploded")
    engine = db.get_engine(db_url)
    config = alembic_config()
    for target, step in (("0007", command.downgrade), ("head", command.upgrade)):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, target)
    assert len(ids(latte, "blender")) == 1
    integrity(db_url)


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_on_a_terminal_the_words_found_are_highlighted(latte: Latte, db_url: str) -> None:
    new(latte, "The blender exploded in the kitchen")
    env = {**os.environ, "LATTE_DB": db_url, "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        sys.executable, ["-m", "latte_cli", "search", "Blender kitch*"],
        env=env, encoding="utf-8", dimensions=(24, 100), timeout=30,
    )  # fmt: skip
    child.expect(pexpect.EOF)
    shown = child.before or ""
    assert "\x1b[1;7mblender\x1b[0m" in shown and "\x1b[1;7mkitchen\x1b[0m" in shown
    assert "\x1b[1;7mexploded" not in shown


def test_updates_sent_to_the_customer_are_found_until_forgotten(latte: Latte, db_url: str) -> None:
    """Revision 0013: the text of an update sent to the customer is in the complaint's
    document; forgetting the customer erases it from the index too."""
    cid = new(latte, "The lamp flickers", "--customer", "C-8", "--name", "Ana Diaz")
    other = new(latte, "The lamp is dim", "--customer", "C-9", "--name", "Ben Rossi")
    assert ids(latte, "zeppelin") == []
    latte.ok("update", cid, "--text", "A zeppelin courier brings the new lamp on Friday")
    latte.ok("update", other, "--text", "We are still looking into it")
    assert ids(latte, "zeppelin") == [int(cid)]
    assert ids(latte, "zeppelin courier friday") == [int(cid)]
    integrity(db_url)
    latte.ok("customer", "forget", "C-8", "--reason", "erasure request", "--yes")
    assert ids(latte, "zeppelin") == []
    assert ids(latte, "looking") == [int(other)]
    integrity(db_url)


def test_revision_0013_adds_stored_updates_and_its_downgrade_removes_them(
    latte: Latte, db_url: str
) -> None:
    cid = new(latte, "The kettle leaks")
    latte.ok("update", cid, "--text", "The quokka team is on it")
    engine = db.get_engine(db_url)
    config = alembic_config()
    for target, step, found in (
        ("0010", command.downgrade, []),
        ("head", command.upgrade, [int(cid)]),
    ):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, target)
        integrity(db_url)
        with db.open_session(db_url) as session:
            hits = search(session, SearchFilter(text="quokka"))
            assert [hit.complaint_id for hit in hits] == found
        assert len(ids(latte, "kettle")) == 1


def test_db_check_finds_a_broken_index_and_rebuild_search_repairs_it(
    latte: Latte, db_url: str
) -> None:
    """`latte db check` finds a complaint without its document and a document that differs
    from a fresh build of it; `latte db rebuild-search` repairs both."""
    lost = new(latte, "The wombat plush lost an ear", "--customer", "C-1", "--name", "Ana")
    stale = new(latte, "The teapot lid cracked", "--customer", "C-2", "--name", "Ben")
    latte.ok("update", stale, "--text", "A new lid is on its way")
    latte.ok("db", "check")
    sqlite = db_url.startswith("sqlite")
    breaks = (
        [
            "INSERT INTO search_index (search_index, rowid, words, customer) "
            f"SELECT 'delete', id, words, customer FROM search_document WHERE id = {lost}",
            "INSERT INTO search_index (search_index, rowid, words, customer) "
            f"SELECT 'delete', id, words, customer FROM search_document WHERE id = {stale}",
            f"INSERT INTO search_index (rowid, words, customer) VALUES ({stale}, 'bogus', '')",
        ]
        if sqlite
        else [
            f"DELETE FROM search_index WHERE complaint_id = {lost}",
            "UPDATE search_index SET document = to_tsvector('simple', 'bogus') "
            f"WHERE complaint_id = {stale}",
        ]
    )
    with db.get_engine(db_url).begin() as connection:
        for statement in breaks:
            connection.exec_driver_sql(statement)
    assert ids(latte, "wombat") == []
    assert ids(latte, "bogus") == [int(stale)]

    result = latte("db", "check")
    assert result.exit_code == 1
    assert "Run `latte db rebuild-search`" in result.stderr
    assert "1 complaints have no document" in result.stdout
    differs = "differs from the complaints' documents" if sqlite else f"complaint {stale}: its"
    assert differs in result.stdout

    rebuilt = latte.ok("db", "rebuild-search")
    assert "Search index rebuilt: 2 complaints." in rebuilt.stdout
    latte.ok("db", "check")
    assert ids(latte, "wombat") == [int(lost)]
    assert ids(latte, "bogus") == []
    assert ids(latte, "lid way") == [int(stale)]
    integrity(db_url)


def test_a_phone_finds_its_digits_and_the_texts_holding_its_groups(latte: Latte) -> None:
    """A phone search matches the customers whose phone's digits start with its digits, and
    the complaints holding every digit group as a word; on SQLite the groups are left out of
    the ranking when they find nothing the digits do not (services/search.py, `_fts5`)."""
    rows = [  # text, customer, phone as written
        ("Broken lamp", "C-1", "+44 7700 900 123"),
        ("Cracked lamp", "C-2", "+447700900123"),
        ("Lamp again", "C-3", "+44 (7700) 900-999"),
        ("Call me on 44 7700 900 123 please", "C-4", None),
    ]
    opened = {}
    for said, ref, phone in rows:
        cid = int(new(latte, said, "--customer", ref, *(("--phone", phone) if phone else ())))
        opened[cid] = (said, phone or "")

    def expected(query: str) -> set[int]:
        digits = "".join(c for c in query if c.isdigit())
        groups = set("".join(c if c.isdigit() else " " for c in query).split())
        return {
            cid
            for cid, (text, phone) in opened.items()
            if "".join(c for c in phone if c.isdigit()).startswith(digits)
            or groups <= set("".join(c if c.isalnum() else " " for c in text + " " + phone).split())
        }

    for query in ("+44 7700 900 123", "+44.7700.900.123", "+447700900123", "+44 (7700) 900 999"):
        found = ids(latte, query)
        assert len(found) == len(set(found)) and set(found) == expected(query), query
    assert len(expected("+44 7700 900 123")) == 3  # two phones and the text that quotes one


def test_the_newest_matches_are_the_same_read_either_way(
    latte: Latte, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads the newest CANDIDATES matches by testing documents newest first, or,
    when the planner expects few matches, every match through the GIN index (`_tsquery`):
    both find the complaints a plain reading of the texts finds, in the same order."""
    import sqlalchemy as sa

    import latte_cli.services.search as searching

    monkeypatch.setattr(searching, "CANDIDATES", 3)
    texts = [
        f"Kettle {'cracked ' * (i % 3)}number {i}" if i % 2 else f"Toaster {i}" for i in range(12)
    ]
    opened = [int(new(latte, text, "--customer", f"C-{i % 4}")) for i, text in enumerate(texts)]
    if db_url.startswith("postgresql"):
        with db.get_engine(db_url).begin() as connection:
            connection.exec_driver_sql("ANALYZE search_index")

    def expected(word: str, customer: int | None = None) -> list[int]:
        said = dict(zip(opened, texts, strict=True))
        found = [
            cid
            for i, cid in enumerate(opened)
            if word in said[cid].lower().split() and customer in (None, i % 4)
        ]
        return sorted(found, reverse=True)[:3]

    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", seen)
    orders: dict[tuple[str, int | None], list[int]] = {}
    try:
        for visit, how in ((0, "matches AS MATERIALIZED"), (10**9, "recent AS MATERIALIZED")):
            monkeypatch.setattr(searching, "GIN_VISIT", visit)
            for word, customer in (("kettle", None), ("cracked", None), ("kettle", 1)):
                args = ("--customer", f"C-{customer}") if customer is not None else ()
                found = ids(latte, word, *args)
                assert sorted(found, reverse=True) == expected(word, customer), (visit, word)
                # Ranked alike whichever way they were read.
                assert orders.setdefault((word, customer), found) == found, (visit, word)
            if db_url.startswith("postgresql"):
                assert any(how in statement for statement in statements), visit
                # The tsquery is a value in the statement, not made again for each document.
                reading = [s for s in statements if "MATERIALIZED" in s]
                assert reading and not any("unaccent" in s for s in reading), visit
            statements.clear()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", seen)
