"""An import writes its new complaints' search documents once per batch (revision 0016).

What the index holds after an import must be what a rebuild of it from the tables holds, and a
batch that fails or is killed must leave no hold behind and no complaint without its document
(docs/architecture.md, "The search index")."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from latte_cli import db
from latte_cli.errors import LatteError
from latte_cli.importer import ImportOptions, import_file
from latte_cli.services.integrity import check_database
from latte_cli.services.search import SearchFilter, rebuild_index, search

HEAD = [
    "external_id", "customer_ref", "customer_name", "channel", "category", "listen",
    "opened_at", "acknowledged_at", "take_action_at", "action_kind", "action_detail",
    "thank_at", "explain_at", "root_cause", "what_will_change",
]  # fmt: skip


def _row(n: int, *, resolved: bool) -> dict[str, str]:
    """Complaint n: every text holds tokens of its own (`listenN`, `detailN`, `changeN`), and
    its customer (shared by three complaints) a name token."""
    day = f"2026-10-{1 + n % 28:02d}"
    row = dict.fromkeys(HEAD, "")
    row.update(
        external_id=f"E-{n}",
        customer_ref=f"C-{n // 3}",
        customer_name=f"Ana kowalska{n // 3}",
        channel="phone",
        category="delivery",
        listen=f"The parcel listen{n} never came",
        opened_at=f"{day}T09:00:00Z",
        acknowledged_at=f"{day}T10:00:00Z",
    )
    if resolved:
        row.update(
            take_action_at=f"{day}T11:00:00Z",
            action_kind="refund",
            action_detail=f"Refunded detail{n}",
            thank_at=f"{day}T12:00:00Z",
            explain_at=f"{day}T13:00:00Z",
            root_cause="delivery",
            what_will_change=f"New carrier change{n}",
        )
    return row


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEAD, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _import(url: str, path: Path, **options: object) -> None:
    report = import_file(
        url,
        ImportOptions(kind="complaints", path=str(path), agent="test", **options),  # type: ignore[arg-type]
    )
    assert report.rejected == 0, report.first_rejects


def _found(url: str, words: list[str]) -> dict[str, list[int]]:
    with db.open_session(url) as session:
        return {
            word: sorted(hit.complaint_id for hit in search(session, SearchFilter(text=word)))
            for word in words
        }


def _ids(url: str) -> dict[str, int]:
    with db.get_engine(url).connect() as conn:
        return dict(conn.execute(text("SELECT external_id, id FROM complaint")).tuples().all())


def _holds(url: str) -> int:
    with db.get_engine(url).connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM search_index_hold")).scalar_one())


def test_imported_documents_equal_a_rebuild(db_url: str, tmp_path: Path) -> None:
    """Two imports in batches of five: new complaints (held), then a file that finishes the
    open ones (existing complaints: the triggers as ever) and adds more."""
    total = 23
    first = tmp_path / "first.csv"
    first.write_text(_csv([_row(n, resolved=n % 2 == 0) for n in range(total)]))
    _import(db_url, first, batch_rows=5)
    second = tmp_path / "second.csv"
    finished = [_row(n, resolved=True) for n in range(total)]
    more = [_row(n, resolved=n % 3 == 0) for n in range(total, total + 7)]
    second.write_text(_csv(finished + more))
    _import(db_url, second, batch_rows=5)

    ids = _ids(db_url)
    # Independently: which complaints hold each token, from the rows the files gave.
    expected: dict[str, set[int]] = {}
    for rows in ([_row(n, resolved=n % 2 == 0) for n in range(total)], finished + more):
        for row in rows:
            n = int(row["external_id"][2:])
            for word in (f"listen{n}", f"detail{n}", f"change{n}"):
                if word.removesuffix(str(n)) == "listen" or row["action_detail"]:
                    expected.setdefault(word, set()).add(ids[row["external_id"]])
    for n in range(total + 7):
        expected.setdefault(f"kowalska{n // 3}", set()).add(ids[f"E-{n}"])
    words = [*sorted(expected), "nothing"]
    found = _found(db_url, words)
    assert found == {w: sorted(expected.get(w, ())) for w in words}
    with db.open_session(db_url) as session:
        report = check_database(session)
        assert report.clean, report.problems
        rebuild_index(session)
    assert _found(db_url, words) == found
    if db_url.startswith("sqlite"):
        assert _holds(db_url) == 0


BOOM = (
    "CREATE TRIGGER boom BEFORE INSERT ON stage_record WHEN NEW.text LIKE '%explode%' "
    "BEGIN SELECT RAISE(ABORT, 'boom'); END"
)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("strict", [False, True])
def test_a_failed_batch_leaves_no_hold_and_no_half_documents(
    sqlite_path: Path, tmp_path: Path, strict: bool
) -> None:
    url = f"sqlite:///{sqlite_path}"
    db.ensure_schema(url)
    with db.get_engine(url).begin() as conn:
        conn.exec_driver_sql(BOOM)
    rows = [_row(n, resolved=True) for n in range(12)]
    rows[7]["listen"] = "This one will explode listen7"
    path = tmp_path / "c.csv"
    path.write_text(_csv(rows))
    with pytest.raises(LatteError):
        _import(url, path, batch_rows=5, strict=strict)
    kept = 0 if strict else 5
    assert sorted(_ids(url)) == sorted(f"E-{n}" for n in range(kept))
    assert _holds(url) == 0
    words = [f"listen{n}" for n in range(12)]
    assert {w: bool(ids) for w, ids in _found(url, words).items()} == {
        f"listen{n}": n < kept for n in range(12)
    }
    with db.open_session(url) as session:
        report = check_database(session)
        assert report.clean, report.problems


# Batches of five; dies, without unwinding, inside the second batch's held block, after its
# rows are written.
KILLED_CHILD = """
import os, sys
from latte_cli.importer import base, complaints
from latte_cli.cli.main import app
start = base._Batch.__init__
def small(self, *args):
    start(self, *args)
    self.size = 5
base._Batch.__init__ = small
original, calls = complaints._insert, []
def insert(*args, **kwargs):
    original(*args, **kwargs)
    calls.append(1)
    if len(calls) == 2:
        os._exit(9)
complaints._insert = insert
app(args=sys.argv[1:], prog_name="latte")
"""


@pytest.mark.sqlite_only
def test_a_killed_batch_leaves_no_hold_and_a_rerun_completes_it(
    sqlite_path: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{sqlite_path}"
    rows = [_row(n, resolved=n % 2 == 1) for n in range(12)]
    path = tmp_path / "c.csv"
    path.write_text(_csv(rows))
    args = ["--db", str(sqlite_path), "import", "complaints", str(path), "--json"]
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert killed.returncode == 9, killed.stderr
    with sqlite3.connect(sqlite_path) as conn:
        assert conn.execute("SELECT count(*) FROM search_index_hold").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM complaint").fetchone() == (5,)
    with db.open_session(url) as session:
        report = check_database(session)
        assert report.clean, report.problems
    done = subprocess.run(
        [sys.executable, "-m", "latte_cli", *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inserted"] == 7
    found = _found(url, [f"listen{n}" for n in range(12)])
    assert all(len(ids) == 1 for ids in found.values()), found
    with db.open_session(url) as session:
        assert check_database(session).clean
    assert _holds(url) == 0
