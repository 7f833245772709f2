# ruff: noqa: RUF001  (Greek and Cyrillic words are the point of these tests)
"""Search ignores marks in every script: a word written with its accents (Greek tonos,
Cyrillic breve, French accents, ...) is found without them and the other way round, on both
stores, and revision 0021 folds the documents stored before it (docs/architecture.md,
"The search index")."""

from __future__ import annotations

import importlib
import json
import unicodedata
from datetime import UTC, datetime

from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from latte_cli import db, identity
from latte_cli.migrations import alembic_config
from latte_cli.services import complaints as service
from latte_cli.services.search import SearchFilter, search

from .conftest import Latte
from .test_search import integrity

START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
WORDS = (
    "Δέμα", "Νίκος", "Παπαδόπουλος", "σπασμένο", "Έλενα", "προϊόν", "Ϋδρα",  # Greek
    "Йогурт", "ёлка", "Київ", "ўсё", "ѓубре", "ќерка",  # Cyrillic
    "crème", "Nguyễn", "Kühlschrank", "Łódź", "İstanbul",  # Latin
)  # fmt: skip


def bare(word: str) -> str:
    """The word without its marks: its canonical decomposition without combining marks."""
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("Ł", "L")


def found(latte: Latte, text: str) -> set[int]:
    return {hit["id"] for hit in json.loads(latte.ok("search", text, "--json").stdout)}


def test_a_word_is_found_with_and_without_its_marks(latte: Latte, db_url: str) -> None:
    for word in WORDS:
        assert bare(word) != word, word
        with_marks = latte.ok(
            "new", "--channel", "phone", "--category", "x", "--listen", f"about {word} today",
        ).stdout.strip()  # fmt: skip
        without = latte.ok(
            "new", "--channel", "phone", "--category", "x", "--listen", f"{bare(word)} again",
        ).stdout.strip()  # fmt: skip
        both = {int(with_marks), int(without)}
        for text in (word, bare(word), word.upper(), bare(word).lower()):
            assert found(latte, text) == both, (word, text)
    integrity(db_url)
    latte.ok("db", "check")
    # A rebuild builds the same documents: the check still agrees, the words are still found.
    latte.ok("db", "rebuild-search")
    latte.ok("db", "check")
    assert found(latte, "δεμα") == found(latte, "Δέμα") != set()


def test_the_testers_greek_names_and_words(latte: Latte, db_url: str) -> None:
    latte.ok(
        "new", "--customer", "G", "--name", "Ελενα Σμιθ", "--channel", "phone",
        "--category", "x", "--listen", "καλημερα δεμα σπασμενο",
    )  # fmt: skip
    latte.ok(
        "new", "--customer", "G2", "--name", "Έλενα Νίκος Παπαδόπουλος", "--channel", "phone",
        "--category", "x", "--listen", "Δέμα σπασμένο",
    )  # fmt: skip
    for text in ("Δέμα", "δεμα", "Έλενα", "ελενα", "σπασμένο"):
        assert found(latte, text) == {1, 2}, text
    for text in ("Νίκος", "νικος", "Παπαδόπουλος", "παπαδοπουλος"):
        assert found(latte, text) == {2}, text


def test_every_letter_revision_0021_folds_is_folded_alike_by_a_search() -> None:
    revision = importlib.import_module(
        "latte_cli.migrations.versions.0021_search_greek_cyrillic_marks"
    )
    for letter, plain in revision.MARKED.items():
        assert identity.fold(letter) == identity.fold(plain) != letter.lower(), letter


LETTERS = st.sampled_from("αεηιουωάέήίόύώϊϋΐΰиеуогкйёїўѓќaeiouéèêëàâäôöüç")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(word=st.text(LETTERS, min_size=2, max_size=8))
def test_any_word_is_found_with_and_without_its_marks(session: Session, word: str) -> None:
    complaint = service.open_complaint(
        session,
        new=service.NewComplaint(channel="phone", category="x", listen=f"zz {word} zz"),
        agent="ana",
        at=START,
    )
    for text in (word, bare(word)):
        hits = search(session, SearchFilter(text=text, limit=1000))
        assert complaint.id in {hit.complaint_id for hit in hits}, text


def test_revision_0021_folds_the_documents_stored_before_it(latte: Latte, db_url: str) -> None:
    cid = int(latte.ok(
        "new", "--customer", "G", "--name", "Йоанна Νίκου", "--channel", "phone",
        "--category", "x", "--listen", "Το δέμα ήρθε σπασμένο",
    ).stdout.strip())  # fmt: skip
    latte.ok("new", "--channel", "phone", "--category", "x", "--listen", "plain kettle")
    engine = db.get_engine(db_url)
    config = alembic_config()
    for target, step, expected in (
        ("0020", command.downgrade, set()),
        ("head", command.upgrade, {cid}),
    ):
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, target)
        integrity(db_url)
        with db.open_session(db_url) as session:
            # Before it, neither store folded й (PostgreSQL's unaccent folds some Greek).
            for text in ("σπασμενο", "иоанна", "νικου") if expected else ("иоанна",):
                hits = search(session, SearchFilter(text=text))
                assert {hit.complaint_id for hit in hits} == expected, (target, text)
            assert len(search(session, SearchFilter(text="kettle"))) == 1
    latte.ok("db", "check")
