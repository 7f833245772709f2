"""A forgotten customer stays forgotten: no merge, edit or new detail gives its pseudonym an
identity again, and `latte db check` flags one that holds an identity anyway; pseudonyms are
random, so that two databases never give two people the same one; the texts a refused command
kept for an erased complaint go with it (docs/architecture.md, "Customer data")."""

from __future__ import annotations

import json
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from latte_cli.cli.editor import database_key

from .conftest import Latte
from .test_forget_merged import _execute, _rows
from .test_privacy import _dump

ALICE = ("--customer", "C-A", "--name", "Alice Alpha")
BOB = ("--customer", "C-B", "--name", "Bob Beta", "--email", "bob@example.org")
BOB += ("--phone", "555123456")
CAROL = ("--customer", "C-C", "--name", "Carol Gamma", "--email", "carol@example.org")
WHERE = ("--channel", "phone", "--category", "delivery")


def _new(latte: Latte, who: tuple[str, ...], words: str, *more: str) -> int:
    return int(latte.ok("new", *who, *WHERE, "--listen", words, *more).stdout.strip())


def _forget(latte: Latte, ref: str) -> dict[str, object]:
    done: dict[str, object] = json.loads(
        latte.ok("customer", "forget", ref, "--reason", "erasure request", "--yes", "--json").stdout
    )
    return done


@pytest.fixture
def forgotten(latte: Latte) -> str:
    """Alice forgotten; Bob and Carol live, Carol merged into Bob. Returns Alice's pseudonym."""
    _new(latte, ALICE, "Alice's own words")
    _new(latte, BOB, "Bob's own words")
    _new(latte, CAROL, "Carol's own words")
    latte.ok("customer", "merge", "C-C", "--into", "C-B", "--reason", "same person")
    return str(_forget(latte, "C-A")["pseudonym"])


def _refused(latte: Latte, db_url: str, *args: str) -> str:
    """Run a command that must be refused (exit 1, one line, nothing written); its message."""
    stored = _dump(db_url)
    result = latte(*args)
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert _dump(db_url) == stored
    message = result.stderr.strip()
    assert message.startswith("Error: ") and "Traceback" not in result.output
    return " ".join(message.split())


def test_no_merge_or_edit_gives_a_forgotten_customer_an_identity(
    latte: Latte, db_url: str, forgotten: str
) -> None:
    into = _refused(latte, db_url, "customer", "merge", "C-B", "--into", forgotten, "--reason", "x")
    assert f"Customer {forgotten} was forgotten (its data was erased)" in into
    of = _refused(latte, db_url, "customer", "merge", forgotten, "--into", "C-B", "--reason", "x")
    assert f"Customer {forgotten} was forgotten (its data was erased)" in of
    edit = _refused(latte, db_url, "customer", "edit", forgotten, "--name", "New Name")
    assert "was forgotten (its data was erased)" in edit
    # Taking the pseudonym as a ref names a forgotten customer: refused, no merge suggested.
    ref = _refused(latte, db_url, "customer", "edit", "C-B", "--ref", forgotten)
    assert "customer merge" not in ref and "marks forgotten customers" in ref
    _refused(latte, db_url, "customer", "edit", "C-B", "--ref", "forgotten-0123456789")
    # A new complaint for the pseudonym may not bring a name, email or phone with it.
    new = _refused(latte, db_url, "new", "--customer", forgotten, "--name", "Bob", *WHERE,
                   "--listen", "words")  # fmt: skip
    assert "was forgotten (its data was erased)" in new
    _refused(latte, db_url, "new", "--customer", "forgotten-new", *WHERE, "--listen", "w")
    identity = _rows(db_url, f"SELECT name, email, phone FROM customer WHERE ref = '{forgotten}'")
    assert identity == [(None, None, None)]
    assert "no problems found" in latte.ok("db", "check").stdout


def test_amend_writes_no_words_back_into_an_erased_complaint(
    latte: Latte, db_url: str, forgotten: str
) -> None:
    """A forgotten customer's complaint keeps `[erased]`: `latte amend --text` (or another free
    text) is refused in one line, nothing written; a correction of a figure still goes in."""
    query = "SELECT complaint.id FROM complaint JOIN customer ON customer.id = customer_id"
    (cid,) = _rows(db_url, f"{query} WHERE customer.ref = '{forgotten}'")[0]
    why = _refused(latte, db_url, "amend", str(cid), "listen", "--reason", "restore",
                   "--text", "Alice's own words")  # fmt: skip
    assert f"Complaint {cid} was erased" in why and "--text would write its words again" in why
    assert "Alice" not in json.dumps(_rows(db_url, "SELECT text FROM stage_record"))
    latte.ok("step", str(cid), "acknowledge", "--text", "Sorry.")
    latte.ok("step", str(cid), "take_action", "--kind", "refund", "--detail", "Refunded.")
    _refused(latte, db_url, "amend", str(cid), "take_action", "--reason", "r", "--detail", "x")
    latte.ok("amend", str(cid), "take_action", "--reason", "wrong kind", "--kind", "replacement")


def test_db_check_flags_a_forgotten_customer_that_holds_an_identity(
    latte: Latte, db_url: str, forgotten: str
) -> None:
    # As a merge into the pseudonym left it before merges into one were refused.
    _execute(db_url, f"UPDATE customer SET email = 'bob@example.org' WHERE ref = '{forgotten}'")
    result = latte("db", "check")
    assert result.exit_code != 0
    (cid,) = _rows(db_url, f"SELECT id FROM customer WHERE ref = '{forgotten}'")[0]
    found = " ".join(result.output.split())
    assert f"customer {cid}: forgotten as {forgotten} but holds a name, email or phone" in found
    # The fix it names works: the identity goes, and the check is clean again.
    latte.ok("customer", "forget", forgotten, "--reason", "repair", "--yes")
    identity = _rows(db_url, f"SELECT ref, name, email, phone FROM customer WHERE id = {cid}")
    assert identity == [(forgotten, None, None, None)]  # the pseudonym stays once given
    assert "no problems found" in latte.ok("db", "check").stdout


def test_an_edit_to_a_merged_customers_ref_is_refused_in_one_line(
    latte: Latte, db_url: str, forgotten: str
) -> None:
    _new(latte, ("--customer", "C-D", "--name", "Dan Delta"), "Dan's words")
    for ref in ("C-B", "C-D"):
        message = _refused(latte, db_url, "customer", "edit", ref, "--ref", "C-C")
        assert "The ref 'C-C' exists: customer C-C (Carol Gamma), merged into C-B (Bob Beta)" in (
            message
        )
        assert "Give a ref no one has." in message and "UNIQUE" not in message
    # An email held by a merged customer is no key any more: Dan may take it.
    latte.ok("customer", "edit", "C-D", "--email", "carol@example.org")
    assert "no problems found" in latte.ok("db", "check").stdout


@pytest.mark.sqlite_only
def test_pseudonyms_are_random_and_differ_across_databases(
    latte: Latte, tmp_path: Path, db_url: str
) -> None:
    """Customer 1 of two databases: the same row id, two pseudonyms."""
    other = f"sqlite:///{tmp_path / 'other.db'}"
    given = []
    for url in (db_url, other):
        latte.ok("--db", url, "new", *ALICE, *WHERE, "--listen", "Alice's words")
        args = ("customer", "forget", "C-A", "--reason", "r", "--yes", "--json")
        done = json.loads(latte.ok("--db", url, *args).stdout)
        assert _rows(url, f"SELECT id FROM customer WHERE ref = '{done['pseudonym']}'") == [(1,)]
        given.append(done["pseudonym"])
    assert given[0] != given[1]
    assert all(re.fullmatch(r"forgotten-[0-9a-f]{16}", p) for p in given)
    # Stable once given: forgetting again changes nothing.
    assert latte("customer", "forget", given[0], "--reason", "r", "--yes").exit_code == 1
    assert _rows(db_url, "SELECT ref FROM customer") == [(given[0],)]


def test_a_pseudonym_given_before_stays_and_is_still_forgotten(
    latte: Latte, db_url: str, forgotten: str
) -> None:
    """A pseudonym derived from the row id by an earlier release keeps its ref and its rule."""
    old = "forgotten-e8a005aef4"
    _execute(
        db_url, f"UPDATE customer SET ref = '{old}', ref_key = '{old}' WHERE ref = '{forgotten}'"
    )
    _refused(latte, db_url, "customer", "merge", "C-B", "--into", old, "--reason", "x")
    _refused(latte, db_url, "customer", "edit", old, "--email", "a@example.org")
    assert latte("customer", "forget", old, "--reason", "r", "--yes").exit_code == 1
    assert _rows(db_url, f"SELECT count(*) FROM customer WHERE ref = '{old}'") == [(1,)]
    assert "no problems found" in latte.ok("db", "check").stdout


def test_ctrl_c_at_the_forget_question_says_nothing_was_erased(
    latte: Latte, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _new(latte, ALICE, "Alice's own words")
    monkeypatch.setattr("latte_cli.cli.app.stdin_is_terminal", lambda: True)
    stored = _dump(db_url)

    def interrupt(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("typer.prompt", interrupt)
    result = latte("customer", "forget", "C-A", "--reason", "r")
    assert result.exit_code == 130
    assert result.stderr.strip() == "Error: Interrupted: nothing was erased."
    assert _dump(db_url) == stored


# --- texts kept by refused commands ------------------------------------------------------


@pytest.fixture
def kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's data folder's `unsaved/`, and an editor that writes the customer's words."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Words of the person\\n" >> "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("VISUAL", str(editor))
    monkeypatch.delenv("EDITOR", raising=False)
    return tmp_path / "data" / "latte" / "unsaved"


def _keep_a_text(latte: Latte, complaint_id: int) -> Path:
    """A `step --edit` refused (the stage is out of order): its text is kept."""
    refused = latte("step", str(complaint_id), "thank", "--edit")
    assert refused.exit_code == 1 and "Your text is kept" in refused.stderr
    return Path(f"step-{complaint_id}-thank.txt")


def test_forget_removes_the_texts_kept_for_the_erased_complaints(
    latte: Latte, db_url: str, kept: Path
) -> None:
    alice = [_new(latte, ALICE, "Alice's words"), _new(latte, ALICE, "More words")]
    bob = _new(latte, BOB, "Bob's words")
    names = {cid: _keep_a_text(latte, cid) for cid in (*alice, bob)}
    kept = kept / database_key(db_url)
    (kept / "step-x-thank.txt").write_text("not a complaint's\n")  # not a kept step text
    assert {p.name for p in kept.iterdir()} == {
        *(str(n) for n in names.values()),
        "step-x-thank.txt",
    }
    done = _forget(latte, "C-A")
    assert done["drafts_removed"] == len(alice) and done["complaint_ids"] == alice
    assert {p.name for p in kept.iterdir()} == {str(names[bob]), "step-x-thank.txt"}


def test_retain_removes_kept_texts_and_a_dry_run_claims_no_change(
    latte: Latte, db_url: str, kept: Path, tmp_path: Path
) -> None:
    opened = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    old = _new(latte, ALICE, "Alice's words", "--at", opened.isoformat())
    at = opened
    for stage, args in (
        ("acknowledge", ("--text", "Sorry")),
        ("take_action", ("--kind", "refund", "--detail", "Refund", "--amount", "12")),
        ("thank", ("--text", "Thanks")),
        ("explain", ("--root-cause", "delivery", "--change", "Better boxes")),
    ):
        at += timedelta(minutes=30)
        latte.ok("step", str(old), stage, *args, "--at", at.isoformat())
    recent = _new(latte, BOB, "Bob's words")
    _keep_a_text(latte, old)  # refused: the complaint is resolved
    _keep_a_text(latte, recent)
    # One kept by an earlier version, in `unsaved/` itself: its database is unknown, so the
    # erasure of a complaint of its id removes it too.
    (kept / f"step-{old}-thank.txt").write_text("Words of the person\n")
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir(exist_ok=True)
    config.write_text('retention = "30d"\n')
    stored = _dump(db_url)
    tried = json.loads(latte.ok("db", "retain", "--dry-run", "--json").stdout)
    assert _dump(db_url) == stored
    assert tried["complaint_ids"] == [old]
    assert tried["rows_changed"] == 0 and tried["checkpointed"] is None
    assert tried["rows_to_change"] > 0
    assert tried["drafts_removed"] == 0 and tried["drafts_to_remove"] == 2
    assert (kept / f"step-{old}-thank.txt").exists()
    done = json.loads(latte.ok("db", "retain", "--json").stdout)
    assert done["rows_changed"] == done["rows_to_change"] == tried["rows_to_change"]
    assert done["checkpointed"] is True and done["drafts_removed"] == 2
    own = kept / database_key(db_url)
    assert sorted(p.name for p in kept.iterdir()) == [own.name]
    assert sorted(p.name for p in own.iterdir()) == [f"step-{recent}-thank.txt"]


def test_forget_says_what_it_did_in_80_columns(latte: Latte, db_url: str, kept: Path) -> None:
    complaint = _new(latte, ALICE, "Alice's words")
    _keep_a_text(latte, complaint)
    result = latte.ok("customer", "forget", "C-A", "--reason", "erasure request", "--yes")
    (pseudonym,) = _rows(db_url, "SELECT ref FROM customer")[0]
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        f"Forgot customer C-A: now {pseudonym}.",
        "1 complaint(s) and 0 purchase(s) kept without personal data.",
        "1 unsaved text(s) kept for their complaints removed.",
    ]
    assert all(len(line) <= 80 for line in result.output.splitlines())


def test_an_import_gives_a_forgotten_customer_no_identity(
    latte: Latte, db_url: str, forgotten: str, tmp_path: Path
) -> None:
    """A row may name the forgotten customer by its pseudonym (another database's export
    does), never bring a name, email or phone for it."""
    source = tmp_path / "cx.csv"
    header = "external_id,customer_ref,customer_name,customer_email,channel,category,listen,"
    header += "opened_at"
    source.write_text(
        f"{header}\n"
        f"X-1,{forgotten},Bob,,chat,delivery,Broken again,2026-01-19T01:30:52Z\n"
        f"X-2,{forgotten},,bob@example.org,chat,delivery,Broken again,2026-01-19T01:31:52Z\n"
        f"X-3,{forgotten},,,chat,delivery,Broken again,2026-01-19T01:32:52Z\n",
        encoding="utf-8",
    )
    result = latte("import", "complaints", str(source), "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["inserted"], report["rejected"]) == (1, 2)
    reasons = {r["line"]: (r["column"], r["reason"]) for r in report["rejects"]}
    assert reasons[2][0] == "customer_name" and "forgotten customer's pseudonym" in reasons[2][1]
    assert reasons[3][0] == "customer_email"
    identity = _rows(db_url, f"SELECT name, email, phone FROM customer WHERE ref = '{forgotten}'")
    assert identity == [(None, None, None)]
    assert "no problems found" in latte.ok("db", "check").stdout
