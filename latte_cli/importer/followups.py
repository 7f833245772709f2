"""Importing follow-up outcomes of resolved complaints.

A follow-up is known by its complaint (external id) and the time it was recorded. A new one
fills in the complaint's pending follow-up if it has one, else is added; either way it is
logged as a `followup` event, as when an agent records the call. A known one whose outcome
changed is updated (and logged again); an unchanged one is counted as such.

One follow-up per resolution (docs/metrics.md, "One follow-up per resolution"): a row for a
complaint whose follow-up of the same resolution is already recorded (a row recorded at or
after the complaint's latest resolution, or both before it) is an update of that follow-up:
the later answer replaces it (the earlier stays in the event log), an earlier answer than the
one stored changes nothing. Importing the same file twice therefore changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from latte_cli.events import FollowUpDetails, encode
from latte_cli.importer.base import IMPORT_CACHE_KIB, Pending, Run, chunks
from latte_cli.importer.fields import Bad, boolean, integer, text
from latte_cli.models import Complaint, FollowUp
from latte_cli.timeutil import epoch

ALIASES: dict[str, tuple[str, ...]] = {
    "complaint_external_id": (
        "external_id",
        "complaint",
        "complaint_id",
        "ticket_id",
        "ticket",
        "case_id",
        "complaint_ref",
    ),
    "recorded_at": (
        "followup_at",
        "called_at",
        "date",
        "surveyed_at",
        "contacted_at",
        "follow_up_at",
    ),
    "reached": ("contacted", "answered", "reached_customer"),
    "satisfied": ("happy", "is_satisfied", "csat_satisfied"),
    "nps": ("score", "nps_score", "recommend", "likely_to_recommend"),
    "repurchased": ("bought_again", "repurchase", "purchased_again"),
    "note": ("notes", "comment", "comments", "remarks"),
    "agent": ("called_by", "caller", "agent_name"),
}


@dataclass(frozen=True)
class FollowUpIn:
    external_id: str
    recorded_at: datetime
    agent: str | None
    reached: bool
    satisfied: bool | None
    nps: int | None
    repurchased: bool | None
    note: str | None

    def outcome(self) -> tuple[Any, ...]:
        return (self.reached, self.satisfied, self.nps, self.repurchased, self.note)


OUTCOME_COLUMNS = (
    "recorded_at",
    "recorded_epoch",
    "agent",
    "reached",
    "satisfied",
    "nps",
    "repurchased",
    "note",
)


@dataclass
class _Stored:
    """A follow-up row of a complaint in the batch: stored (id) or to insert (no id)."""

    id: int | None
    values: dict[str, Any]
    changed: bool = False

    @classmethod
    def of(cls, row: Any) -> _Stored:
        return cls(row.id, {k: getattr(row, k) for k in OUTCOME_COLUMNS})


def _resolution(recorded: int, latest: int | None) -> bool:
    """Which resolution a follow-up answers: the latest (recorded at or after it), or one
    before a reopening."""
    return latest is None or recorded >= latest


class FollowUpKind:
    name: str = "followups"
    cache_kib: int = IMPORT_CACHE_KIB
    aliases: dict[str, tuple[str, ...]] = ALIASES
    required: tuple[str | tuple[str, ...], ...] = ("complaint_external_id", "recorded_at")
    ignored: tuple[str, ...] = ("latte_id", "complaint_latte_id")

    def key(self, row: FollowUpIn) -> str:
        return f"{row.external_id}\x00{row.recorded_at.isoformat()}"

    def parse(self, c: dict[str, str], run: Run) -> FollowUpIn:
        get = c.get
        external_id = text(
            c["complaint_external_id"], "complaint_external_id", limit=100, required=True
        )
        assert external_id is not None
        recorded_at = run.times(c["recorded_at"], "recorded_at")
        if recorded_at is None:
            raise Bad("recorded_at", "is empty")
        satisfied = boolean(get("satisfied", ""), "satisfied")
        nps = integer(get("nps", ""), "nps", 0, 10)
        repurchased = boolean(get("repurchased", ""), "repurchased")
        reached = boolean(get("reached", ""), "reached")
        told = satisfied is not None or nps is not None or repurchased is not None
        if reached is None:
            if not told:
                raise Bad("reached", "is empty: say whether the customer was reached (yes/no)")
            reached = True
        if not reached and told:
            raise Bad("reached", "is no, but the row gives the customer's answers")
        return FollowUpIn(
            external_id,
            recorded_at,
            text(get("agent", ""), "agent", limit=100),
            reached,
            satisfied,
            nps,
            repurchased,
            text(get("note", ""), "note", limit=10_000),
        )

    def write(self, conn: Connection, batch: list[Pending], run: Run) -> None:
        complaints = Complaint.__table__  # type: ignore[attr-defined]
        table = FollowUp.__table__  # type: ignore[attr-defined]
        found: dict[str, Any] = {}
        for part in chunks(sorted({p.row.external_id for p in batch})):
            statement = select(
                complaints.c.id,
                complaints.c.external_id,
                complaints.c.stage_due,
                complaints.c.resolved_epoch,
                complaints.c.first_resolved_epoch,
            ).where(complaints.c.external_id.in_(part))
            found.update({row.external_id: row for row in conn.execute(statement)})
        ids = sorted({row.id for row in found.values()})
        stored: dict[int, list[_Stored]] = {}
        for part in chunks(ids):
            statement = select(table).where(table.c.complaint_id.in_(part)).order_by(table.c.id)
            for row in conn.execute(statement):
                stored.setdefault(row.complaint_id, []).append(_Stored.of(row))
        ts = run.store.ts
        events: list[tuple[Any, ...]] = []
        for pending in batch:
            r: FollowUpIn = pending.row
            complaint = found.get(r.external_id)
            if complaint is None:
                run.reject(
                    pending.record,
                    "complaint_external_id",
                    f"no complaint has external id {r.external_id!r}; import the complaints first",
                )
                continue
            if complaint.stage_due is not None:
                run.reject(
                    pending.record,
                    "complaint_external_id",
                    f"complaint {r.external_id!r} is still open (stage due: "
                    f"{complaint.stage_due}); follow-ups are for resolved complaints",
                )
                continue
            first = complaint.first_resolved_epoch
            if first is not None and epoch(r.recorded_at) < first:
                resolved = datetime.fromtimestamp(first, UTC).isoformat()
                run.reject(
                    pending.record,
                    "recorded_at",
                    f"({r.recorded_at.isoformat()}) is before complaint {r.external_id!r} was "
                    f"first resolved ({resolved}): a follow-up answers a resolution",
                )
                continue
            agent = r.agent or run.importer
            values = {
                "recorded_at": r.recorded_at,
                "recorded_epoch": epoch(r.recorded_at),
                "agent": agent,
                "reached": r.reached,
                "satisfied": r.satisfied,
                "nps": r.nps,
                "repurchased": r.repurchased,
                "note": r.note,
            }
            rows = stored.setdefault(complaint.id, [])
            latest = complaint.resolved_epoch
            answers = _resolution(epoch(r.recorded_at), latest)
            same = next(
                (
                    f
                    for f in rows
                    if f.values.get("recorded_epoch") is not None
                    and _resolution(f.values["recorded_epoch"], latest) == answers
                ),
                None,
            )
            if same is not None:
                if same.values["recorded_epoch"] > epoch(r.recorded_at):
                    run.report.unchanged += 1  # an earlier answer than the one kept
                    continue
                if all(same.values[k] == v for k, v in values.items() if k != "recorded_at"):
                    run.report.unchanged += 1
                    continue
                same.values.update(values)
                same.changed = True
                run.report.updated += 1
            else:
                pending_row = next(
                    (f for f in reversed(rows) if f.values.get("recorded_epoch") is None), None
                )
                if pending_row is not None:
                    pending_row.values.update(values)
                    pending_row.changed = True
                else:
                    rows.append(_Stored(None, dict(values), changed=True))
                run.report.inserted += 1
            kind, data = encode(
                FollowUpDetails(
                    reached=r.reached, satisfied=r.satisfied, nps=r.nps, repurchased=r.repurchased
                )
            )
            events.append((complaint.id, ts(r.recorded_at), agent, kind.value, data))
        inserts: list[tuple[Any, ...]] = []
        for complaint_id, rows in stored.items():
            for f in rows:
                if not f.changed:
                    continue
                if f.id is not None:
                    conn.execute(update(table).where(table.c.id == f.id).values(**f.values))
                    continue
                v = f.values
                inserts.append(
                    (
                        complaint_id,
                        ts(v["recorded_at"]),
                        v["recorded_epoch"],
                        v["agent"],
                        v["reached"],
                        v["satisfied"],
                        v["nps"],
                        v["repurchased"],
                        v["note"],
                    )
                )
        run.store.insert(
            conn,
            "followup",
            ("complaint_id", *OUTCOME_COLUMNS),
            inserts,
        )
        run.store.insert(conn, "event", ("complaint_id", "at", "agent", "kind", "data"), events)

    def finish(self, conn: Connection, run: Run) -> None:
        return None
