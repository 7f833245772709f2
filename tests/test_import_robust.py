"""Messy files never produce a traceback or lose a valid row; a killed import can be re-run."""

from __future__ import annotations

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from latte_cli import db
from latte_cli.importer import ImportOptions, import_file
from latte_cli.services.integrity import check_database

ROOT = Path(__file__).parent.parent
HEADER = ["external_id", "channel", "category", "listen", "opened_at", "acknowledged_at",
          "take_action_at", "thank_at", "action_kind", "amount", "severity"]  # fmt: skip
# Each mutation makes a valid row invalid in one way a real file does.
MUTATIONS = ["channel", "date", "order", "gap", "amount", "no_id", "extra_cell", "short_row",
             "latin1", "too_long", "severity", "broken_quote"]  # fmt: skip

words = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    max_size=40,
)
listen_text = st.builds(
    lambda first, rest, newline: first + rest + ("\n" + rest if newline else ""),
    st.sampled_from("ABCxyzé"),
    words,
    st.booleans(),
)
row_spec = st.tuples(
    listen_text,
    st.sampled_from(["phone", "Email", "chat", "in-person", "web"]),
    st.integers(0, 3),  # stages recorded after listen
    st.one_of(st.none(), st.sampled_from(MUTATIONS)),
    st.integers(0, 2),  # blank lines after the row
)


def _cells(i: int, spec: tuple[str, str, int, str | None, int]) -> list[str]:
    listen, channel, stages, _mutation, _blank = spec
    times = [f"2026-10-{1 + i % 27:02d}T{9 + k:02d}:00:00Z" for k in range(4)]
    cells = [f"R{i}", channel, "delivery", listen, times[0]]
    cells += [times[k] if k <= stages else "" for k in (1, 2, 3)]
    cells += ["refund" if stages >= 2 else "", "12.50" if stages >= 2 else "", "high"]
    return cells


def _mutate(cells: list[str], mutation: str) -> list[str]:
    cells = list(cells)
    if mutation == "channel":
        cells[1] = "pigeon"
    elif mutation == "date":
        cells[4] = "31/31/2026"
    elif mutation == "order":
        cells[5] = "2020-01-01T00:00:00Z"
    elif mutation == "gap":
        cells[5], cells[6], cells[7] = "", "", cells[4]
    elif mutation == "amount":
        cells[5], cells[6], cells[8], cells[9] = cells[4], cells[4], "refund", "12,50"
    elif mutation == "no_id":
        cells[0] = "  "
    elif mutation == "extra_cell":
        cells.append("surprise")
    elif mutation == "short_row":
        cells = cells[:-2]
    elif mutation == "too_long":
        cells[3] = "x" * 1_000_001
    elif mutation == "severity":
        cells[10] = "urgent!!"
    elif mutation == "broken_quote":
        cells[1] = 'ph"one'
    return cells


def _file(specs: list[tuple[str, str, int, str | None, int]], bom: bool, delimiter: str) -> bytes:
    out = io.BytesIO()
    if bom:
        out.write(b"\xef\xbb\xbf")
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerow(HEADER)
    out.write(text.getvalue().encode())
    for i, spec in enumerate(specs):
        cells = _cells(i, spec)
        mutation = spec[3]
        if mutation:
            cells = _mutate(cells, mutation)
        if mutation == "latin1":
            # In the cell before quoting, so that a quote in the text cannot hide it.
            cells[3] += " café"
        text = io.StringIO()
        csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerow(cells)
        line = text.getvalue()
        if mutation == "broken_quote":
            line = line.replace('"ph""one"', 'ph"one')
        if mutation == "latin1":
            out.write(line.encode("latin-1", "replace"))
        else:
            out.write(line.encode())
        out.write(b"\r\n" * spec[4])
    return out.getvalue()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(row_spec, min_size=1, max_size=25),
    bom=st.booleans(),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
# A Latin-1 row whose text holds a quote; the rejects file then holds non-UTF-8 bytes.
@example(
    specs=[("A", "phone", 0, None, 0), ('A"0', "phone", 0, "latin1", 0)], bom=False, delimiter=","
)
def test_messy_files_lose_no_valid_row(
    specs: list[tuple[str, str, int, str | None, int]], bom: bool, delimiter: str
) -> None:
    folder = Path(os.environ["LATTE_TEST_TMP"]) / uuid.uuid4().hex
    folder.mkdir()
    path = folder / "messy.csv"
    path.write_bytes(_file(specs, bom, delimiter))
    url = f"sqlite:///{folder / 'latte.db'}"
    try:
        report = import_file(url, ImportOptions(kind="complaints", path=str(path), agent="t"))
        valid = {f"R{i}": spec[0].strip() for i, spec in enumerate(specs) if spec[3] is None}
        assert report.rows == len(specs)
        assert (report.inserted, report.rejected) == (len(valid), len(specs) - len(valid))
        with sqlite3.connect(folder / "latte.db") as conn:
            stored = dict(
                conn.execute(
                    "SELECT c.external_id, s.text FROM complaint c JOIN stage_record s "
                    "ON s.complaint_id = c.id AND s.stage = 'listen'"
                ).fetchall()
            )
        assert stored == valid
        if report.rejected:
            # The rejects file keeps a row's original bytes, even where they are not UTF-8.
            rejects = folder / "messy.rejects.csv"
            with rejects.open(encoding="utf-8", errors="surrogateescape", newline="") as f:
                rejected = list(csv.reader(f))
            assert len(rejected) == 1 + report.rejected
        with db.open_session(url) as session:
            assert check_database(session).clean
    finally:
        db.dispose_engines()
        db._ready.discard(url)


@pytest.fixture(autouse=True)
def _hypothesis_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATTE_TEST_TMP", str(tmp_path))


def _count(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM complaint").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_killed_import_is_consistent_and_a_rerun_completes_it(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from generate_sample import generate
    finally:
        sys.path.pop(0)
    total = 25_000
    generate(tmp_path / "big", total, seed=3)
    source = tmp_path / "big" / "complaints.csv"
    database = tmp_path / "killed.db"
    command = [sys.executable, "-m", "latte_cli", "--db", str(database), "import", "complaints",
               str(source), "--json"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _count(database) == 0 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = _count(database)
    assert 0 < done < total, "the import was not killed midway; make the file bigger"
    assert done % 5000 == 0  # whole batches only
    url = f"sqlite:///{database}"
    with db.open_session(url) as session:
        report = check_database(session)
        assert report.clean, report.problems
    db.dispose_engines()
    rerun = subprocess.run(command, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    import json

    counts = json.loads(rerun.stdout)
    assert (counts["inserted"], counts["unchanged"], counts["rejected"]) == (
        total - done,
        done,
        0,
    )
    assert _count(database) == total
    with db.open_session(url) as session:
        assert check_database(session).clean


# The child's own peak (VmHWM, in KiB): ru_maxrss would count the forked test process too.
RSS_CHILD = """
import sys
from latte_cli.cli.main import app
try:
    app(args=sys.argv[1:], prog_name="latte")
except SystemExit as done:
    code = done.code
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print("RSS", peak, code, file=sys.stderr)
"""


@pytest.mark.sqlite_only
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
def test_a_50_mb_field_is_a_clean_reject_in_bounded_memory(tmp_path: Path) -> None:
    """Texts are refused for length only past 1,000,000 characters; a 50 MB cell, quoted or
    not, rejects its row alone (exit 3), and the import stays within the 250 MB budget."""
    big = "x" * (50 << 20)
    source = tmp_path / "big.csv"
    with source.open("w", encoding="utf-8") as f:
        f.write("external_id,channel,category,listen,opened_at\n")
        for n, words in enumerate(["Late", f'"{big}"', "Late", big, "Late"], start=1):
            f.write(f"B{n},phone,delivery,{words},2026-11-01T10:00Z\n")
    del big
    database = tmp_path / "big.db"
    command = [sys.executable, "-c", RSS_CHILD, "--db", str(database), "import", "complaints",
               str(source), "--json"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert "Traceback" not in done.stderr
    rss_line = done.stderr.strip().splitlines()[-1].split()
    assert rss_line[0] == "RSS" and rss_line[2] == "3", done.stderr
    assert int(rss_line[1]) < 250 * 1024  # KiB
    import json

    report = json.loads(done.stdout)
    assert (report["rows"], report["inserted"], report["rejected"]) == (5, 3, 2)
    assert [r["line"] for r in report["rejects"]] == [3, 5]
    assert all("field limit" in r["reason"] for r in report["rejects"])


def test_ctrl_c_inside_a_statement_ends_the_import_at_once(tmp_path: Path) -> None:
    """Ctrl-C inside a statement makes SQLAlchemy drop the driver's connection, which can keep
    SQLite's write lock until the process ends (a statement it was running is never
    finalised; the other connection here stands in for it). The import's clean-up must not
    open a new transaction then: it would wait out the busy timeout and end with "busy"
    (exit 1) instead of "Interrupted" (exit 130)."""
    from latte_cli.importer.base import _import_cache

    path = tmp_path / "l.db"
    url = f"sqlite:///{path}"
    engine = db.ensure_schema(url, busy_timeout_ms=300)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with (
            pytest.raises(KeyboardInterrupt),
            engine.connect() as conn,
            _import_cache(conn, 1024),
        ):
            holder.execute("BEGIN IMMEDIATE")  # the dropped connection's lock
            conn.invalidate()
            raise KeyboardInterrupt
    finally:
        holder.close()
        engine.dispose()
