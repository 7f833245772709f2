"""One follow-up per resolution (docs/metrics.md): a second record is refused unless
`--replace`, the earlier answer stays in the event log, an imported second row for the same
resolution updates the one follow-up, and NPS counts each complaint once. NPS is checked
against a plain-Python computation over the answers the test gave; on both stores.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import Latte

PERIOD = ("--since", "2026-11-01", "--until", "2026-11-30", "--tz", "UTC", "--format", "json")


def resolved(latte: Latte, customer: str, ref: str) -> str:
    at = ["--at", "2026-11-02T10:00:00+00:00"]
    cid = latte.ok(
        "new", "--customer", customer, "--name", "Ana", "--channel", "phone",
        "--category", "delivery", "--listen", f"Broken {ref}", *at,
    ).stdout.strip()  # fmt: skip
    for stage, flags in (
        ("acknowledge", ["--text", "Sorry"]),
        ("take_action", ["--kind", "refund", "--detail", "Refunded"]),
        ("thank", ["--text", "Thanks"]),
        ("explain", ["--root-cause", "delivery", "--change", "Padding"]),
    ):
        latte.ok("step", cid, stage, *flags, *at)
    return cid


def nps_of(scores: list[int]) -> dict[str, int]:
    """The plain definition: promoters 9-10, detractors 0-6, each complaint's one score."""
    return {
        "n": len(scores),
        "promoters": sum(s >= 9 for s in scores),
        "detractors": sum(s <= 6 for s in scores),
    }


def reported_nps(latte: Latte) -> dict[str, int]:
    nps = json.loads(latte.ok("report", "weekly", *PERIOD).stdout)["figures"]["nps"]
    return {k: nps[k] for k in ("n", "promoters", "detractors")}


def rows(db_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def record(latte: Latte, cid: str, nps: int, *extra: str) -> object:
    return latte(
        "followup", "record", cid, "--reached", "--satisfied", "--nps", str(nps), *extra
    )  # fmt: skip


def test_second_record_is_refused_unless_replace(latte: Latte, db_url: str) -> None:
    first = resolved(latte, "C-1", "R-1")
    second = resolved(latte, "C-2", "R-2")
    assert record(latte, first, 9).exit_code == 0  # type: ignore[attr-defined]
    assert record(latte, second, 10).exit_code == 0  # type: ignore[attr-defined]
    refused = record(latte, first, 3)
    assert refused.exit_code == 1  # type: ignore[attr-defined]
    assert "--replace" in refused.output  # type: ignore[attr-defined]
    assert "Traceback" not in refused.output  # type: ignore[attr-defined]
    assert reported_nps(latte) == nps_of([9, 10])

    assert record(latte, first, 3, "--replace").exit_code == 0  # type: ignore[attr-defined]
    stored = rows(db_url, f"SELECT nps FROM followup WHERE complaint_id = {first}")
    assert stored == [(3,)]
    # The earlier answer stays in the event log.
    events = rows(
        db_url,
        f"SELECT data FROM event WHERE complaint_id = {first} AND kind = 'followup' ORDER BY id",
    )
    assert [json.loads(str(d))["nps"] for (d,) in events] == [9, 3]
    assert reported_nps(latte) == nps_of([3, 10])


def test_a_new_resolution_gets_its_own_followup_counted_once(latte: Latte, db_url: str) -> None:
    cid = resolved(latte, "C-1", "R-1")
    assert record(latte, cid, 2).exit_code == 0  # type: ignore[attr-defined]
    latte.ok("reopen", cid, "--reason", "Refund never arrived")
    for stage, flags in (
        ("take_action", ["--kind", "refund", "--detail", "Again"]),
        ("thank", ["--text", "Thanks"]),
        ("explain", ["--root-cause", "delivery", "--change", "Padding"]),
    ):
        latte.ok("step", cid, stage, *flags)
    assert record(latte, cid, 10).exit_code == 0  # type: ignore[attr-defined]
    assert len(rows(db_url, "SELECT id FROM followup WHERE recorded_at IS NOT NULL")) == 2
    # The complaint's latest answer, once.
    assert reported_nps(latte) == nps_of([10])


def test_imported_second_row_updates_the_one_followup(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    complaints = tmp_path / "c.csv"
    complaints.write_text(
        "external_id,customer,channel,category,listen,opened_at,resolved_at\n"
        "X1,C-1,phone,delivery,Late,2026-11-01T10:00Z,2026-11-01T12:00Z\n"
        "X2,C-2,phone,delivery,Late,2026-11-01T10:00Z,2026-11-01T12:00Z\n",
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(complaints))
    calls = tmp_path / "f.jsonl"
    calls.write_text(
        '{"external_id": "X1", "recorded_at": "2026-11-04T10:00Z", "nps": 9}\n'
        '{"external_id": "X1", "recorded_at": "2026-11-06T10:00Z", "nps": 4}\n'
        '{"external_id": "X2", "recorded_at": "2026-11-04T10:00Z", "nps": 10}\n',
        encoding="utf-8",
    )
    first = json.loads(latte.ok("import", "followups", str(calls), "--json").stdout)
    assert (first["inserted"], first["updated"], first["rejected"]) == (2, 1, 0)
    stored = rows(
        db_url,
        "SELECT c.external_id, f.nps FROM followup f JOIN complaint c ON c.id = f.complaint_id "
        "WHERE f.recorded_at IS NOT NULL ORDER BY c.external_id",
    )
    assert stored == [("X1", 4), ("X2", 10)]
    again = json.loads(latte.ok("import", "followups", str(calls), "--json").stdout)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert reported_nps(latte) == nps_of([4, 10])
    latte.ok("db", "check")
