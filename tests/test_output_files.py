"""Files latte writes (report -o, export -o, customer export -o, the import's rejects file):
a failed write leaves the previous file and no temporary behind, and says in one line what went
wrong and what to do; the report's format follows -o's suffix; `-o -` is stdout."""

from __future__ import annotations

import csv
import errno
import json
import os
import stat
import threading
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import text

from latte_cli import db
from latte_cli.outfiles import OutFile

from .conftest import Latte

SAMPLE = Path(__file__).parent.parent / "data" / "sample"
PERIOD = ("--since", "2026-03-01", "--until", "2026-05-31")
OLD = "the previous file\n"
CUSTOMER = ("customer", "export", "C-000308")  # a customer of the sample complaints
DISK_FULL = "No space left on device. Free some space or choose another path."


class FillsUp:
    """A file on a disk with `room` characters left: the first part of what is written
    reaches the file, then the write fails with ENOSPC, as a full disk (or a quota) does
    part-way through a large report. A real full disk cannot be made in a test without
    privileges; /dev/full fails on the first write, so it cannot show the old file kept
    after a partial write."""

    def __init__(self, real: IO[str], room: int) -> None:
        self.real = real
        self.room = room

    def write(self, data: str) -> int:
        if len(data) > self.room:
            self.real.write(data[: self.room])
            self.real.flush()
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture(autouse=True)
def database(latte: Latte) -> None:
    """An empty database: the reports over it still fill a file."""
    latte.ok("db", "upgrade")


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file latte writes fills the disk after its first 40 characters."""
    real_open = OutFile._open

    def filling(self: OutFile) -> Any:
        return FillsUp(real_open(self), room=40)

    monkeypatch.setattr(OutFile, "_open", filling)


def _one_line_error(result: Any, expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "unexpected" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines == [f"Error: {expected}"], result.stderr


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


def _import_complaints(latte: Latte) -> None:
    latte.ok("import", "complaints", str(SAMPLE / "complaints.csv"))


# --- a full disk -------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_a_report_to_a_full_device_is_one_line(latte: Latte) -> None:
    result = latte("report", "weekly", *PERIOD, "--format", "csv", "-o", "/dev/full")
    _one_line_error(result, f"Cannot write /dev/full: {DISK_FULL}")


@pytest.mark.sqlite_only
def test_an_export_to_a_full_device_is_one_line(latte: Latte) -> None:
    _import_complaints(latte)
    result = latte("export", "complaints", "-o", "/dev/full")
    _one_line_error(result, f"Cannot write /dev/full: {DISK_FULL}")


@pytest.mark.sqlite_only
def test_rejects_to_a_full_device_is_one_line(latte: Latte, tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text("order_ref,customer_ref,purchased_at,amount\nO-1,C-1,yesterday?,x\n")
    result = latte("import", "purchases", str(source), "--rejects", "/dev/full")
    _one_line_error(result, f"Cannot write /dev/full: {DISK_FULL}")


@pytest.mark.sqlite_only
@pytest.mark.parametrize("fmt", ["csv", "table", "json", "html", "markdown"])
def test_a_report_that_fails_part_way_keeps_the_old_file(
    latte: Latte, tmp_path: Path, full_disk: None, fmt: str
) -> None:
    out = tmp_path / "week.out"
    out.write_text(OLD)
    result = latte("report", "weekly", *PERIOD, "--format", fmt, "-o", str(out))
    _one_line_error(result, f"Cannot write {out}: {DISK_FULL}")
    assert out.read_text() == OLD
    assert _leftovers(tmp_path) == []


@pytest.mark.sqlite_only
def test_an_export_that_fails_part_way_keeps_the_old_file(
    latte: Latte, tmp_path: Path, full_disk: None
) -> None:
    _import_complaints(latte)
    out = tmp_path / "complaints.csv"
    out.write_text(OLD)
    result = latte("export", "complaints", "-o", str(out))
    _one_line_error(result, f"Cannot write {out}: {DISK_FULL}")
    assert out.read_text() == OLD
    assert _leftovers(tmp_path) == []


@pytest.mark.sqlite_only
def test_a_rejects_file_that_fails_part_way_keeps_the_old_file(
    latte: Latte, tmp_path: Path, full_disk: None
) -> None:
    source = tmp_path / "orders.csv"
    source.write_text("order_ref,customer_ref,purchased_at,amount\nO-1,C-1,yesterday?,x\n")
    rejects = tmp_path / "bad.csv"
    rejects.write_text(OLD)
    result = latte("import", "purchases", str(source), "--rejects", str(rejects))
    _one_line_error(result, f"Cannot write {rejects}: {DISK_FULL}")
    assert rejects.read_text() == OLD
    assert _leftovers(tmp_path) == []


@pytest.mark.sqlite_only
def test_a_rejects_file_is_complete_and_replaces_the_old_one(latte: Latte, tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    lines = [f"O-{i},C-{i},not a date {i},1.00" for i in range(3)]
    source.write_text("order_ref,customer_ref,purchased_at,amount\n" + "\n".join(lines) + "\n")
    rejects = tmp_path / "bad.csv"
    rejects.write_text(OLD)
    result = latte("import", "purchases", str(source), "--rejects", str(rejects))
    assert result.exit_code == 3, result.output
    with rejects.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["order_ref"] for r in rows] == [f"O-{i}" for i in range(3)]
    assert _leftovers(tmp_path) == []


@pytest.mark.sqlite_only
def test_a_rewritten_report_keeps_the_files_permissions(latte: Latte, tmp_path: Path) -> None:
    out = tmp_path / "week.csv"
    out.write_text(OLD)
    out.chmod(0o640)
    latte.ok("report", "weekly", *PERIOD, "-o", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert out.read_text().startswith("report,series,period")


@pytest.mark.sqlite_only
def test_a_fifo_is_written_directly_not_replaced(latte: Latte, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    latte.ok("report", "weekly", *PERIOD, "--format", "json", "-o", str(fifo))
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert json.loads(received[0])["report"] == "weekly"


# --- a bad --rejects path is refused before anything is imported ---------------------------


def _counts(url: str) -> tuple[int, int]:
    with db.get_engine(url).connect() as conn:
        purchases = conn.execute(text("SELECT count(*) FROM purchase")).scalar_one()
        complaints = conn.execute(text("SELECT count(*) FROM complaint")).scalar_one()
    return purchases, complaints


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_a_bad_rejects_path_is_refused_before_importing(
    latte: Latte, db_url: str, tmp_path: Path, where: str
) -> None:
    _import_complaints(latte)
    before = _counts(db_url)
    rejects = tmp_path / "no" / "such" / "r.csv" if where == "missing folder" else tmp_path
    source = SAMPLE / "purchases.csv"
    result = latte("import", "purchases", str(source), "--rejects", str(rejects))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "unexpected" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: --rejects {rejects} ") and "Give a file" in line
    assert _counts(db_url) == before
    with source.open(encoding="utf-8") as f:
        assert sum(1 for _ in csv.DictReader(f)) > 0  # the file had rows to import
    assert not (tmp_path / "no").exists()


# --- -o names ------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_report_dash_is_stdout(
    latte: Latte, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = latte.ok("report", "weekly", *PERIOD, "--format", "json", "-o", "-")
    assert json.loads(result.stdout)["report"] == "weekly"
    assert not (tmp_path / "-").exists()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("command", [("report", "weekly"), ("export", "complaints"), CUSTOMER])
def test_an_empty_output_names_the_option(latte: Latte, command: tuple[str, ...]) -> None:
    result = latte(*command, "-o", "")
    _one_line_error(result, "--output is empty: give a file name, or - for stdout.")


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("name", "fmt"),
    [("week.html", "html"), ("week.csv", "csv"), ("week.json", "json"), ("week.md", "markdown")],
)
def test_the_report_format_follows_the_suffix(
    latte: Latte, tmp_path: Path, name: str, fmt: str
) -> None:
    out = tmp_path / name
    result = latte.ok("report", "weekly", *PERIOD, "-o", str(out))
    assert result.stderr.strip() == f"Wrote the {fmt} report to {out}."
    content = out.read_text(encoding="utf-8")
    if fmt == "html":
        assert content.startswith("<!DOCTYPE html>")
    elif fmt == "csv":
        assert next(csv.reader([content.splitlines()[0]]))[:2] == ["report", "series"]
    elif fmt == "json":
        assert json.loads(content)["report"] == "weekly"
    else:
        assert content.lstrip().startswith("#")


@pytest.mark.sqlite_only
def test_format_wins_over_the_suffix_and_a_table_file_is_announced(
    latte: Latte, tmp_path: Path
) -> None:
    out = tmp_path / "week.html"
    result = latte.ok("report", "weekly", *PERIOD, "--format", "table", "-o", str(out))
    assert result.stderr.strip() == f"Wrote the table report to {out}."
    assert "Weekly report" in out.read_text() and "<html" not in out.read_text()


# --- customer export writes its file as latte export does ------------------------------------


@pytest.mark.sqlite_only
def test_a_customer_export_to_a_full_device_is_one_line_and_leaves_the_device(
    latte: Latte,
) -> None:
    _import_complaints(latte)
    result = latte(*CUSTOMER, "-o", "/dev/full")
    _one_line_error(result, f"Cannot write /dev/full: {DISK_FULL}")
    # It used to write /dev/full.part and rename it over the device.
    assert stat.S_ISCHR(Path("/dev/full").stat().st_mode)
    assert not Path("/dev/full.part").exists()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_a_customer_export_that_fails_part_way_keeps_the_old_file(
    latte: Latte, tmp_path: Path, full_disk: None, fmt: str
) -> None:
    _import_complaints(latte)
    out = tmp_path / "C-000308.out"
    out.write_text(OLD)
    result = latte(*CUSTOMER, "--format", fmt, "-o", str(out))
    _one_line_error(result, f"Cannot write {out}: {DISK_FULL}")
    assert out.read_text() == OLD
    assert _leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".part")) == []


@pytest.mark.sqlite_only
def test_a_customer_export_replaces_the_old_file_whole(latte: Latte, tmp_path: Path) -> None:
    _import_complaints(latte)
    out = tmp_path / "C-000308.json"
    out.write_text(OLD)
    out.chmod(0o600)
    result = latte.ok(*CUSTOMER, "-o", str(out))
    assert result.stderr.strip() == f"Wrote customer C-000308's data to {out}."
    assert json.loads(out.read_text())["customer"]["ref"] == "C-000308"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert _leftovers(tmp_path) == []


@pytest.mark.sqlite_only
def test_a_customer_export_dash_is_stdout(
    latte: Latte, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _import_complaints(latte)
    monkeypatch.chdir(tmp_path)
    result = latte.ok(*CUSTOMER, "-o", "-")
    assert json.loads(result.stdout)["customer"]["ref"] == "C-000308"
    assert not (tmp_path / "-").exists()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("where", ["missing folder", "a folder"])
@pytest.mark.parametrize("command", [("export", "complaints"), CUSTOMER])
def test_a_bad_output_path_reads_the_same_for_every_command(
    latte: Latte, tmp_path: Path, where: str, command: tuple[str, ...]
) -> None:
    _import_complaints(latte)
    out = tmp_path / "no" / "such" / "x.json" if where == "missing folder" else tmp_path
    cause = "No such file or directory" if where == "missing folder" else "Is a directory"
    result = latte(*command, "-o", str(out))
    _one_line_error(result, f"Cannot write {out}: {cause}. Choose another path.")
    assert not (tmp_path / "no").exists()
