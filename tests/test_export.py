"""`latte export`: files that import back unchanged; cells neutralised against formulas."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from .conftest import Latte

SAMPLE = Path(__file__).parent.parent / "data" / "sample"
KINDS = ("complaints", "purchases", "followups")


def _import_all(latte: Latte, folder: Path, suffix: str, *db: str) -> None:
    for kind in KINDS:
        result = latte(*db, "import", kind, str(folder / f"{kind}{suffix}"), "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["rejected"] == 0


def _export_all(latte: Latte, folder: Path, fmt: str, *db: str) -> None:
    folder.mkdir(exist_ok=True)
    for kind in KINDS:
        latte.ok(*db, "export", kind, "--format", fmt, "-o", str(folder / f"{kind}.{fmt}"))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_import_export_is_identical(
    latte: Latte, db_url: str, tmp_path: Path, fmt: str
) -> None:
    _import_all(latte, SAMPLE, ".csv")
    first, second = tmp_path / "first", tmp_path / "second"
    _export_all(latte, first, fmt)
    fresh = ("--db", str(tmp_path / "fresh.db"))
    _import_all(latte, first, f".{fmt}", *fresh)
    _export_all(latte, second, fmt, *fresh)
    for kind in KINDS:
        assert (first / f"{kind}.{fmt}").read_bytes() == (second / f"{kind}.{fmt}").read_bytes()
    # Independent check: every sample complaint and order is in the export exactly once.
    with (SAMPLE / "complaints.csv").open(encoding="utf-8") as f:
        sample_ids = [row["external_id"] for row in csv.DictReader(f)]
    with (SAMPLE / "purchases.csv").open(encoding="utf-8") as f:
        sample_orders = {row["order_ref"] for row in csv.DictReader(f)}
    if fmt == "csv":
        with (first / "complaints.csv").open(encoding="utf-8") as f:
            exported = [row["external_id"] for row in csv.DictReader(f)]
        with (first / "purchases.csv").open(encoding="utf-8") as f:
            orders = [row["order_ref"] for row in csv.DictReader(f)]
        assert exported == sample_ids and sorted(orders) == sorted(sample_orders)


def test_formula_cells_are_neutralised_and_read_back(latte: Latte, tmp_path: Path) -> None:
    words = ["=HYPERLINK(1)", "+1 call me", "-- broken", "@home", "'=quoted", "plain"]
    # JSONL keeps every cell as it is, so the database holds these exact texts.
    rows = "".join(
        json.dumps({"external_id": f"E{i}", "channel": "phone", "category": "delivery",
                    "listen": w, "opened_at": "2026-11-01T10:00:00+00:00"}) + "\n"
        for i, w in enumerate(words)
    )  # fmt: skip
    (tmp_path / "in.jsonl").write_text(rows, encoding="utf-8")
    latte.ok("import", "complaints", str(tmp_path / "in.jsonl"))
    out = latte.ok("export", "complaints").stdout
    listens = [row["listen"] for row in csv.DictReader(out.splitlines())]
    assert listens == [
        "'=HYPERLINK(1)",
        "'+1 call me",
        "'-- broken",
        "'@home",
        "''=quoted",
        "plain",
    ]
    (tmp_path / "out.csv").write_text(out, encoding="utf-8")
    fresh = ("--db", str(tmp_path / "fresh.db"))
    latte.ok(*fresh, "import", "complaints", str(tmp_path / "out.csv"))
    again = latte.ok(*fresh, "export", "complaints", "--format", "jsonl").stdout
    assert [json.loads(line)["listen"] for line in again.splitlines()] == words


def test_export_window(latte: Latte) -> None:
    latte.ok("import", "complaints", str(SAMPLE / "complaints.csv"))
    out = latte.ok("export", "complaints", "--since", "2026-10-01", "--until", "2026-10-08")
    rows = list(csv.DictReader(out.stdout.splitlines()))
    with (SAMPLE / "complaints.csv").open(encoding="utf-8") as f:
        expected = [
            r["external_id"]
            for r in csv.DictReader(f)
            if "2026-10-01" <= r["opened_at"][:10] < "2026-10-08"
        ]
    assert [r["external_id"] for r in rows] == expected and expected


def _new(latte: Latte, words: str, *db: str) -> str:
    return latte.ok(
        *db, "new", "--channel", "phone", "--category", "delivery", "--listen", words
    ).stdout.strip()


def test_a_merged_complaint_points_at_its_target_after_an_import(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    """The `merged` event names its target by external id (`latte-ID` for a complaint opened
    in latte), and the import points the duplicate at that complaint, whatever its id is in
    the database imported into, even when the target comes later in the file."""
    duplicate = _new(latte, "Parcel broken (opened twice)")
    _new(latte, "Another parcel")
    target = _new(latte, "Parcel broken")
    latte.ok("merge", duplicate, "--into", target, "--reason", "Same parcel")
    exported = latte.ok("export", "complaints", "--format", "jsonl").stdout
    records = [json.loads(line) for line in exported.splitlines()]
    [merged] = [e for r in records for e in r["history"] if e["kind"] == "merged"]
    assert merged["into"] == f"latte-{target}"
    (tmp_path / "out.jsonl").write_text(exported, encoding="utf-8")

    fresh_path = tmp_path / "fresh.db"
    fresh = ("--db", str(fresh_path))
    for n in range(4):  # ids in the fresh database differ from the source's
        _new(latte, f"Already here {n}", *fresh)
    result = latte(*fresh, "import", "complaints", str(tmp_path / "out.jsonl"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 3
    connection = sqlite3.connect(fresh_path)
    rows = {
        external: (cid, into)
        for cid, external, into in connection.execute(
            "SELECT id, external_id, merged_into FROM complaint"
        )
    }
    connection.close()
    target_id = rows[f"latte-{target}"][0]
    assert target_id != int(target)
    assert rows[f"latte-{duplicate}"][1] == target_id
    shown = json.loads(
        latte.ok(*fresh, "show", str(rows[f"latte-{duplicate}"][0]), "--json").stdout
    )
    assert shown["merged_into"] == target_id
    latte.ok(*fresh, "db", "check")
    again = latte.ok(*fresh, "export", "complaints", "--format", "jsonl").stdout
    [merged] = [
        e for line in again.splitlines() for e in json.loads(line)["history"]
        if e["kind"] == "merged"
    ]  # fmt: skip
    assert merged["into"] == f"latte-{target}"  # the target keeps the name the file gave it


def test_a_merged_complaint_without_its_target_is_rejected(latte: Latte, tmp_path: Path) -> None:
    duplicate = _new(latte, "Parcel broken (opened twice)")
    target = _new(latte, "Parcel broken")
    latte.ok("merge", duplicate, "--into", target, "--reason", "Same parcel")
    lines = latte.ok("export", "complaints", "--format", "jsonl").stdout.splitlines()
    kept = [line for line in lines if json.loads(line)["external_id"] != f"latte-{target}"]
    (tmp_path / "out.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")
    fresh = ("--db", str(tmp_path / "fresh.db"))
    result = latte(*fresh, "import", "complaints", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 3
    assert f"merged into latte-{target}, which is neither in the file" in result.output
