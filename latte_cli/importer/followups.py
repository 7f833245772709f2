"""Importing follow-up outcomes of resolved complaints.

A follow-up is known by its complaint (external id) and the time it was recorded. A new one
fills in the complaint's pending follow-up if it has one, else is added; either way it is
logged as a `followup` event, as when an agent records the call. A known one whose outcome
changed is updated (and logged again); an unchanged one is counted as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from latte_cli.events import FollowUpDetails, encode
from latte_cli.importer.base import Pending, Run, chunks
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


class FollowUpKind:
    name: str = "followups"
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
                complaints.c.id, complaints.c.external_id, complaints.c.stage_due
            ).where(complaints.c.external_id.in_(part))
            found.update({row.external_id: row for row in conn.execute(statement)})
        ids = sorted({row.id for row in found.values()})
        stored: dict[int, list[Any]] = {}
        for part in chunks(ids):
            statement = select(table).where(table.c.complaint_id.in_(part)).order_by(table.c.id)
            for row in conn.execute(statement):
                stored.setdefault(row.complaint_id, []).append(row)
        ts = run.store.ts
        inserts: list[tuple[Any, ...]] = []
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
            rows = stored.get(complaint.id, [])
            same = next((f for f in rows if f.recorded_at == r.recorded_at), None)
            if same is not None:
                if (
                    same.reached,
                    same.satisfied,
                    same.nps,
                    same.repurchased,
                    same.note,
                    same.agent,
                ) == (*r.outcome(), agent):
                    run.report.unchanged += 1
                    continue
                conn.execute(update(table).where(table.c.id == same.id).values(**values))
                run.report.updated += 1
            else:
                pending_row = next((f for f in reversed(rows) if f.recorded_at is None), None)
                if pending_row is not None:
                    conn.execute(update(table).where(table.c.id == pending_row.id).values(**values))
                    rows.remove(pending_row)
                else:
                    inserts.append(
                        (
                            complaint.id,
                            ts(r.recorded_at),
                            epoch(r.recorded_at),
                            agent,
                            r.reached,
                            r.satisfied,
                            r.nps,
                            r.repurchased,
                            r.note,
                        )
                    )
                run.report.inserted += 1
            kind, data = encode(
                FollowUpDetails(
                    reached=r.reached, satisfied=r.satisfied, nps=r.nps, repurchased=r.repurchased
                )
            )
            events.append((complaint.id, ts(r.recorded_at), agent, kind.value, data))
        run.store.insert(
            conn,
            "followup",
            (
                "complaint_id",
                "recorded_at",
                "recorded_epoch",
                "agent",
                "reached",
                "satisfied",
                "nps",
                "repurchased",
                "note",
            ),
            inserts,
        )
        run.store.insert(conn, "event", ("complaint_id", "at", "agent", "kind", "data"), events)

    def finish(self, conn: Connection, run: Run) -> None:
        return None
