"""Exporting complaints, purchases and follow-ups as rows that `latte import` reads back.

Columns are the importer's field names, so export → import into a fresh database → export
gives identical files. Complaints come one row per complaint: every stage's completion time
(the first cycle's), the action, the outcome and the latest recorded follow-up. Rows are read
a batch at a time by id, so memory stays flat on a large database.

A CSV row cannot hold a reopened complaint's later cycles: it exports with its first cycle's
stage times and its `reopen_count`. A JSONL export loses nothing: each complaint also carries
`opened_by`, its whole event log as `history` (each event's details encoded by
`latte_cli.events`, each stage event with the stage's content) and every follow-up as
`followups`; `latte import complaints` rebuilds it from them (`importer/history.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, func, select

from latte_cli import events, workflow
from latte_cli.models import Complaint, Customer, Event, FollowUp, Purchase, StageRecord
from latte_cli.workflow import STAGES, Stage

BATCH = 2000
KINDS = ("complaints", "purchases", "followups")

COMPLAINT_COLUMNS = (
    "external_id", "customer_ref", "customer_name", "customer_email", "customer_phone",
    "channel", "category", "location", "severity", "summary", "listen", "agent", "status",
    "stage_due", "opened_at", "listen_at", "acknowledged_at", "take_action_at", "thank_at",
    "explain_at", "resolved_at", "first_resolved_at", "reopen_count", "action_kind",
    "action_detail", "amount", "root_cause", "what_will_change", "followup_at",
    "followup_reached", "followup_satisfied", "followup_nps", "followup_repurchased",
    "followup_note",
)  # fmt: skip
PURCHASE_COLUMNS = ("order_ref", "customer_ref", "purchased_at", "amount", "lines")
FOLLOWUP_COLUMNS = (
    "complaint_external_id", "recorded_at", "agent", "reached", "satisfied", "nps",
    "repurchased", "note",
)  # fmt: skip
# The importer's column for each stage's completion time.
STAGE_TIME = {
    Stage.LISTEN: "listen_at",
    Stage.ACKNOWLEDGE: "acknowledged_at",
    Stage.TAKE_ACTION: "take_action_at",
    Stage.THANK: "thank_at",
    Stage.EXPLAIN: "explain_at",
}


def columns_of(kind: str) -> tuple[str, ...]:
    return {
        "complaints": COMPLAINT_COLUMNS,
        "purchases": PURCHASE_COLUMNS,
        "followups": FOLLOWUP_COLUMNS,
    }[kind]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def amount(cents: int | None) -> float | None:
    return None if cents is None else cents / 100


def external_id(value: str | None, latte_id: int) -> str:
    """Complaints opened in latte have no external id; `latte-ID` names them in a file."""
    return value or f"latte-{latte_id}"


def _batches(conn: Connection, statement: Any, id_column: Any) -> Iterator[list[Any]]:
    last = 0
    while True:
        rows = conn.execute(statement.where(id_column > last).order_by(id_column).limit(BATCH))
        batch = list(rows.mappings())
        if not batch:
            return
        yield batch
        last = batch[-1]["id"]


def _window(statement: Any, column: Any, since: datetime | None, until: datetime | None) -> Any:
    if since is not None:
        statement = statement.where(column >= int(since.timestamp()))
    if until is not None:
        statement = statement.where(column < int(until.timestamp()))
    return statement


def export_rows(
    conn: Connection,
    kind: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    history: bool = False,
) -> Iterator[dict[str, Any]]:
    """Each row of the export as a dict keyed by `columns_of(kind)`, oldest first; with
    `history`, complaints also carry their whole history (see the module docstring)."""
    if kind == "complaints":
        return _complaints(conn, since, until, history)
    if kind == "purchases":
        return _purchases(conn, since, until)
    return _followups(conn, since, until)


def _complaints(
    conn: Connection, since: datetime | None, until: datetime | None, history: bool = False
) -> Iterator[dict[str, Any]]:
    c, cu = _table(Complaint), _table(Customer)
    sr, fu = _table(StageRecord), _table(FollowUp)
    statement = select(
        c, cu.c.ref.label("customer_ref"), cu.c.name.label("customer_name"),
        cu.c.email.label("customer_email"), cu.c.phone.label("customer_phone"),
    ).select_from(c.outerjoin(cu, cu.c.id == c.c.customer_id))  # fmt: skip
    statement = _window(statement, c.c.opened_epoch, since, until)
    for batch in _batches(conn, statement, c.c.id):
        ids = [row["id"] for row in batch]
        stages: dict[int, dict[str, Any]] = {}
        records = select(sr).where(sr.c.complaint_id.in_(ids), sr.c.cycle == 0)
        for record in conn.execute(records.order_by(sr.c.id)).mappings():
            stages.setdefault(record["complaint_id"], {})[record["stage"]] = record
        latest = (
            select(func.max(fu.c.id))
            .where(fu.c.complaint_id.in_(ids), fu.c.recorded_at.is_not(None))
            .group_by(fu.c.complaint_id)
        )
        followups = {
            f["complaint_id"]: f
            for f in conn.execute(select(fu).where(fu.c.id.in_(latest))).mappings()
        }
        histories = _histories(conn, ids) if history else {}
        for row in batch:
            data = _complaint_row(row, stages.get(row["id"], {}), followups.get(row["id"]))
            if history:
                data.update(opened_by=row["opened_by"], **histories.get(row["id"], {}))
            yield data


def _histories(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """`history` and `followups` of each complaint in `ids`."""
    ev, sr, fu = _table(Event), _table(StageRecord), _table(FollowUp)
    content: dict[tuple[int, int, str], Any] = {}
    for record in conn.execute(select(sr).where(sr.c.complaint_id.in_(ids))).mappings():
        content[(record["complaint_id"], record["cycle"], record["stage"])] = record
    found: dict[int, dict[str, Any]] = {i: {"history": [], "followups": []} for i in ids}
    rows = conn.execute(select(ev).where(ev.c.complaint_id.in_(ids)).order_by(ev.c.id))
    history = [
        (row, events.decode(_Stored(row["kind"], row["at"], row["agent"], row["data"])))
        for row in rows.mappings()
    ]
    targets = _external_ids(
        conn, {d.into for _, d in history if isinstance(d, events.MergedDetails)}
    )
    for row, details in history:
        event: dict[str, Any] = {
            "kind": details.kind.value,
            "at": iso(row["at"]),
            "agent": row["agent"],
            "details": events.as_data(details),
        }
        if isinstance(details, events.MergedDetails):
            # The target by the id the file gives it: its internal id names another complaint
            # in the database the file is imported into (importer/history.py maps it back).
            event["into"] = targets.get(details.into)
        if isinstance(details, events.StageDetails):
            key = (row["complaint_id"], details.cycle, details.stage.value)
            if (stage_row := content.get(key)) is not None:
                event["stage"] = _stage_content(stage_row)
        found[row["complaint_id"]]["history"].append(event)
    followups = select(fu).where(fu.c.complaint_id.in_(ids)).order_by(fu.c.id)
    for f in conn.execute(followups).mappings():
        found[f["complaint_id"]]["followups"].append(
            {
                "due_at": iso(f["due_at"]),
                "recorded_at": iso(f["recorded_at"]),
                "agent": f["agent"],
                "reached": f["reached"],
                "satisfied": f["satisfied"],
                "nps": f["nps"],
                "repurchased": f["repurchased"],
                "note": f["note"],
            }
        )
    return found


def _external_ids(conn: Connection, ids: set[int]) -> dict[int, str]:
    """The external ids these complaints have in an export (`external_id`, else `latte-ID`)."""
    if not ids:
        return {}
    c = _table(Complaint)
    rows = conn.execute(select(c.c.id, c.c.external_id).where(c.c.id.in_(sorted(ids))))
    return {row.id: external_id(row.external_id, row.id) for row in rows}


def _stage_content(record: Any) -> dict[str, Any]:
    options = record["options_offered"]
    return {
        "text": record["text"],
        "action_kind": record["action_kind"],
        "action_detail": record["action_detail"],
        "amount_cents": record["amount_cents"],
        "options_offered": json.loads(options) if options else None,
        "root_cause": record["root_cause"],
        "what_will_change": record["what_will_change"],
    }


class _Stored(NamedTuple):
    """An event row as `events.decode` reads it."""

    kind: str
    at: datetime
    agent: str
    data: str


def _complaint_row(row: Any, stages: dict[str, Any], followup: Any) -> dict[str, Any]:
    action = stages.get(Stage.TAKE_ACTION)
    explain = stages.get(Stage.EXPLAIN)
    listen = stages.get(Stage.LISTEN)
    data: dict[str, Any] = {
        "external_id": external_id(row["external_id"], row["id"]),
        "customer_ref": row["customer_ref"],
        "customer_name": row["customer_name"],
        "customer_email": row["customer_email"],
        "customer_phone": row["customer_phone"],
        "channel": row["channel"],
        "category": row["category"],
        "location": row["location"],
        "severity": row["severity"],
        "summary": row["summary"],
        "listen": listen["text"] if listen else None,
        "agent": row["assigned_agent"],
        "status": workflow.status(row["stage_due"], row["merged_into"]),
        "stage_due": row["stage_due"],
        "opened_at": iso(row["opened_at"]),
    }
    for stage in STAGES:
        record = stages.get(stage)
        data[STAGE_TIME[stage]] = iso(record["completed_at"]) if record else None
    data.update(
        resolved_at=iso(explain["completed_at"] if explain else row["resolved_at"]),
        first_resolved_at=iso(row["first_resolved_at"]),
        reopen_count=row["reopen_count"],
        action_kind=action["action_kind"] if action else None,
        action_detail=action["action_detail"] if action else None,
        amount=amount(action["amount_cents"]) if action else None,
        root_cause=explain["root_cause"] if explain else None,
        what_will_change=explain["what_will_change"] if explain else None,
        followup_at=iso(followup["recorded_at"]) if followup else None,
        followup_reached=followup["reached"] if followup else None,
        followup_satisfied=followup["satisfied"] if followup else None,
        followup_nps=followup["nps"] if followup else None,
        followup_repurchased=followup["repurchased"] if followup else None,
        followup_note=followup["note"] if followup else None,
    )
    return data


def _purchases(
    conn: Connection, since: datetime | None, until: datetime | None
) -> Iterator[dict[str, Any]]:
    p, cu = _table(Purchase), _table(Customer)
    statement = select(p, cu.c.ref.label("customer_ref")).select_from(
        p.join(cu, cu.c.id == p.c.customer_id)
    )
    statement = _window(statement, p.c.purchased_epoch, since, until)
    for batch in _batches(conn, statement, p.c.id):
        for row in batch:
            yield {
                "order_ref": row["order_ref"],
                "customer_ref": row["customer_ref"],
                "purchased_at": iso(row["purchased_at"]),
                "amount": amount(row["amount_cents"]),
                "lines": row["lines"],
            }


def _followups(
    conn: Connection, since: datetime | None, until: datetime | None
) -> Iterator[dict[str, Any]]:
    fu, c = _table(FollowUp), _table(Complaint)
    statement = (
        select(fu, c.c.external_id.label("complaint_external_id"), c.c.id.label("latte_id"))
        .select_from(fu.join(c, c.c.id == fu.c.complaint_id))
        .where(fu.c.recorded_at.is_not(None))
    )
    statement = _window(statement, fu.c.recorded_epoch, since, until)
    for batch in _batches(conn, statement, fu.c.id):
        for row in batch:
            yield {
                "complaint_external_id": external_id(row["complaint_external_id"], row["latte_id"]),
                "recorded_at": iso(row["recorded_at"]),
                "agent": row["agent"],
                "reached": row["reached"],
                "satisfied": row["satisfied"],
                "nps": row["nps"],
                "repurchased": row["repurchased"],
                "note": row["note"],
            }
