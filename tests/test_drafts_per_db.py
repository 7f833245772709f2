"""The text a refused `--edit` kept belongs to the database the command ran on: two SQLite
files with a complaint 1 each, one agent working on both (README, "Writing in your editor")."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from latte_cli.cli.editor import database_key
from tests.conftest import Latte

WHERE = ("--channel", "phone", "--category", "delivery")


@pytest.fixture
def two(latte_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Database A (LATTE_DB) and B (given with --db), each with complaint 1 of its own
    customer; and VISUAL: an editor that copies what it opens to seen.txt, then adds $WORDS."""
    a, b = latte_env.removeprefix("sqlite:///"), str(tmp_path / "other.db")
    latte = Latte()
    latte.ok("--db", a, "new", "--customer", "C-A", "--name", "Alice Alpha", *WHERE,
             "--listen", "Alice's complaint")  # fmt: skip
    latte.ok("--db", b, "new", "--customer", "C-B", "--name", "Bob Beta", *WHERE,
             "--listen", "Bob's complaint")  # fmt: skip
    editor = tmp_path / "editor.sh"
    seen = tmp_path / "seen.txt"
    editor.write_text(f'#!/bin/sh\ncp "$1" "{seen}"\nprintf "%s\\n" "$WORDS" >> "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("VISUAL", str(editor))
    monkeypatch.delenv("EDITOR", raising=False)
    return a, b


def _refusal(db: str, words: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """`step 1 thank --edit` on `db`, refused (acknowledge is due): the error, on one line."""
    monkeypatch.setenv("WORDS", words)
    refused = Latte()("--db", db, "step", "1", "thank", "--edit")
    assert refused.exit_code == 1, refused.output
    return " ".join(refused.stderr.split())


def _refused_step(db: str, words: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the text of a refused `step 1 thank --edit` on `db` is kept."""
    message = _refusal(db, words, monkeypatch)
    found = re.search(r"Your text is kept in (\S+):", message)
    assert found, message
    return Path(found.group(1))


def _opened_by_edit(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """What `step 1 thank --edit` on `db` opens the editor with (the editor adds nothing, so
    a text not kept is refused as empty)."""
    monkeypatch.setenv("WORDS", "")
    Latte()("--db", db, "step", "1", "thank", "--edit")
    return (tmp_path / "seen.txt").read_text()


def _forget(db: str, ref: str) -> dict[str, object]:
    done = Latte().ok("--db", db, "customer", "forget", ref, "--reason", "erasure", "--yes",
                      "--json")  # fmt: skip
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_each_database_keeps_its_own_text_for_the_same_complaint_id(
    two: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    kept_a = _refused_step(a, "Alice thanked", monkeypatch)
    kept_b = _refused_step(b, "Bob thanked", monkeypatch)
    assert kept_a != kept_b
    assert kept_a.read_text() == "Alice thanked\n"  # B's refusal did not replace it
    assert kept_b.read_text() == "Bob thanked\n"
    # Each in its database's folder, named by a digest: owner only, like the file.
    for kept in (kept_a, kept_b):
        assert kept.parent.parent.name == "unsaved"
        assert re.fullmatch(r"[0-9a-f]{16}", kept.parent.name)
        assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # The refusal says the next --edit must run on the same database to start from it.
    message = _refusal(b, "Bob thanked", monkeypatch)
    assert f"kept in {kept_b}: `latte step 1 thank --edit` on the same database" in message


def test_edit_on_another_database_does_not_start_from_the_text(
    two: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    _refused_step(a, "Alice thanked", monkeypatch)
    opened = _opened_by_edit(b, tmp_path, monkeypatch)
    assert "Alice" not in opened
    assert opened.startswith("\n# Write how you thanked the customer")
    # On A itself the next --edit starts from it.
    assert _opened_by_edit(a, tmp_path, monkeypatch).startswith("Alice thanked\n\n# Write")


def test_forget_removes_only_the_same_databases_texts(
    two: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    kept_a = _refused_step(a, "Alice thanked", monkeypatch)
    done = _forget(b, "C-B")  # complaint 1 of B: A's complaint 1 is another person's
    assert done["complaint_ids"] == [1] and done["drafts_removed"] == 0
    assert kept_a.read_text() == "Alice thanked\n"
    done = _forget(a, "C-A")
    assert done["drafts_removed"] == 1
    assert not kept_a.exists()


def test_a_text_kept_by_an_earlier_version_is_not_offered_but_is_erased(
    two: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`unsaved/step-1-thank.txt` names no database: `--edit` on either does not start from
    it, and forgetting a complaint 1 (of either) removes it: it may hold that person's words."""
    a, b = two
    old = tmp_path / "data" / "latte" / "unsaved" / "step-1-thank.txt"
    old.parent.mkdir(mode=0o700, parents=True)
    old.write_text("Words of someone\n")
    assert "someone" not in _opened_by_edit(b, tmp_path, monkeypatch)
    assert "someone" not in _opened_by_edit(a, tmp_path, monkeypatch)
    assert _forget(b, "C-B")["drafts_removed"] == 1
    assert not old.exists()


def test_the_key_names_the_database_not_how_it_was_given_and_never_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link.db").symlink_to(tmp_path / "real.db")
    same = {
        database_key(f"sqlite:///{tmp_path / 'real.db'}"),
        database_key("sqlite:///real.db"),
        database_key(f"sqlite:///{tmp_path / 'link.db'}"),
    }
    assert len(same) == 1
    assert database_key(f"sqlite:///{tmp_path / 'other.db'}") not in same
    server = "postgresql+psycopg://ana:{}@Db.example.org:5432/latte"
    assert database_key(server.format("s3cret")) == database_key(server.format("other"))
    assert database_key(server.format("s3cret")) == database_key(
        "postgresql://ana@db.example.org/latte"  # the same host, port and user, as written
    )
    assert database_key(server.format("s3cret")) != database_key(
        server.format("s3cret").replace("/latte", "/latte2")
    )
    assert "s3cret" not in database_key(server.format("s3cret"))


def test_forget_names_a_kept_new_text_of_its_database_and_leaves_it(
    two: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused `latte new` text belongs to no complaint: forget leaves it and says where it
    is, since it may hold the erased customer's words; another database's is not named."""
    a, b = two
    monkeypatch.setenv("WORDS", "Carol's words")
    refused = Latte()("--db", a, "new", "--customer", "C-A", *WHERE, "--severity", "dire",
                      "--edit")  # fmt: skip
    assert refused.exit_code != 0, refused.output
    found = re.search(r"Your text is kept in (\S+):", " ".join(refused.stderr.split()))
    assert found, refused.stderr
    kept = Path(found.group(1))
    assert kept.name == "new-listen.txt" and kept.parent.parent.name == "unsaved"
    forgot_b = Latte().ok("--db", b, "customer", "forget", "C-B", "--reason", "r", "--yes")
    assert "latte new" not in forgot_b.stderr
    forgot_a = Latte().ok("--db", a, "customer", "forget", "C-A", "--reason", "r", "--yes")
    message = " ".join(forgot_a.stderr.split())
    assert f"The text of a refused `latte new` is kept in {kept}: it belongs to no" in message
    assert "Delete it if it holds this customer's words." in message
    assert kept.read_text() == "Carol's words\n"
