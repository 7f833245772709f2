"""Importing complaints, with their history from another system.

A row opens a complaint (the `opened` event and its Listen stage) and records one `stage`
event and stage record per stage time present, in LATTE order; a system that only knows when
a complaint was resolved gives `resolved_at` alone, which writes a `resolved` event and leaves
the unrecorded stages without times. The stored state is what replaying those events gives.

Re-importing a complaint (same external id) compares it with what latte holds: descriptive
fields that changed are updated (with an `updated` event); stages the file adds to an open
complaint are appended; history latte already recorded is never rewritten, so a row that
contradicts it is rejected with the reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, select, update

from latte_cli import workflow
from latte_cli.deadlines import STANDARD_DEADLINES, Deadlines
from latte_cli.events import (
    CustomerUpdateDetails,
    EventKind,
    OpenedDetails,
    ResolvedDetails,
    StageDetails,
    UpdatedDetails,
    encode,
)
from latte_cli.importer import customers
from latte_cli.importer.base import IMPORT_CACHE_KIB, Pending, Run, chunks
from latte_cli.importer.fields import Amounts, Bad, choice, text
from latte_cli.importer.search_hold import documents_once
from latte_cli.models import Complaint, StageRecord
from latte_cli.timeutil import epoch
from latte_cli.workflow import STAGES, Stage, default_summary

# The customer's words and stage texts: no real complaint is refused for length
# (docs/architecture.md, "Batch import"); the CSV reader's field limit is the same.
MAX_TEXT = 1_000_000
# Stages, kinds and details as plain strings: `.value` of an enum costs a function call and
# SQLite binds a str subclass more slowly, several times a row.
LISTEN, TAKE_ACTION, EXPLAIN = (s.value for s in (Stage.LISTEN, Stage.TAKE_ACTION, Stage.EXPLAIN))
OPENED_KIND, STAGE_KIND, RESOLVED_KIND = (
    k.value for k in (EventKind.OPENED, EventKind.STAGE, EventKind.RESOLVED)
)
# The column of each stage's completion time; listen's is optional (default: opened_at).
STAGE_COLUMN = {
    Stage.ACKNOWLEDGE: "acknowledged_at",
    Stage.TAKE_ACTION: "take_action_at",
    Stage.THANK: "thank_at",
    Stage.EXPLAIN: "explain_at",
}
STAGE_FIELDS = tuple((STAGE_COLUMN[s], s.value) for s in STAGES if s is not Stage.LISTEN)
# Who completed each stage, where the file says it per stage (`acknowledged_by`...); the
# opening is the Listen stage's, a resolution without stages the Explain stage's.
AGENT_COLUMN = {s.value: f"{STAGE_COLUMN.get(s, 'listen_at')[:-3]}_by" for s in STAGES}
AGENT_FIELDS = frozenset(AGENT_COLUMN.values())
# Event rows, encoded once: a million complaints write several each.
STAGE_EVENT = {s.value: encode(StageDetails(stage=s, cycle=0))[1] for s in Stage}
RESOLVED_EVENT = encode(ResolvedDetails())[1]
UPDATE_KIND, UPDATE_EVENT = (v for v in encode(CustomerUpdateDetails(text="")))

ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": (
        "id",
        "ticket_id",
        "ticket",
        "ticket_number",
        "case_id",
        "case_number",
        "complaint_id",
        "reference",
        "external_ref",
    ),
    "customer_ref": customers.REF_ALIASES,
    "customer_name": (
        "name",
        "requester",
        "requester_name",
        "client_name",
        "contact_name",
        "full_name",
    ),
    "customer_email": ("email", "requester_email", "contact_email", "e_mail"),
    "customer_phone": ("phone", "telephone", "requester_phone", "contact_phone"),
    "channel": ("source", "via", "medium", "contact_channel"),
    "category": ("type", "topic", "issue_type", "complaint_type", "reason"),
    "location": ("branch", "store", "site", "department", "shop"),
    "severity": ("priority", "urgency"),
    "summary": ("subject", "title"),
    "listen": (
        "description",
        "body",
        "message",
        "text",
        "complaint",
        "details",
        "listen_text",
        "customer_words",
    ),
    "agent": ("assignee", "owner", "assigned_agent", "agent_name", "handled_by"),
    "opened_at": (
        "created_at",
        "created",
        "opened",
        "date",
        "submitted_at",
        "received_at",
        "open_date",
        "created_date",
    ),
    "listen_at": ("listened_at",),
    "acknowledged_at": ("acknowledge_at", "first_response_at", "first_reply_at", "responded_at"),
    "take_action_at": ("action_at", "actioned_at"),
    "thank_at": ("thanked_at",),
    "explain_at": ("explained_at",),
    "resolved_at": ("closed_at", "solved_at", "resolution_date", "closed", "resolved"),
    "action_kind": ("action", "resolution_type", "action_type"),
    "action_detail": ("action_details", "resolution_detail", "resolution_notes"),
    "amount": ("action_amount", "refund_amount", "credit_amount", "refund"),
    "root_cause": ("cause",),
    "what_will_change": ("change", "prevention"),
    "listen_by": ("listened_by",),
    "acknowledged_by": ("acknowledge_by", "first_response_by", "first_reply_by", "responded_by"),
    "take_action_by": ("action_by", "actioned_by"),
    "thank_by": ("thanked_by",),
    "explain_by": ("explained_by", "resolved_by", "solved_by"),
    # Times of updates sent to the customer, separated by ";" (docs/metrics.md, "Keeping the
    # customer informed").
    "updates": ("customer_updates", "update_times"),
}
# Columns latte's own export adds that say what the import derives: read, not needed.
EXPORT_ONLY = (
    "latte_id",
    "status",
    "stage_due",
    "first_resolved_at",
    "reopen_count",
    "followup_at",
    "followup_reached",
    "followup_satisfied",
    "followup_nps",
    "followup_repurchased",
    "followup_note",
)


class StageIn(NamedTuple):
    """One recorded stage; tuples rather than dataclasses: a million rows make several each."""

    stage: str
    at: datetime
    text: str
    action_kind: str | None = None
    action_detail: str | None = None
    amount_cents: int | None = None
    root_cause: str | None = None
    what_will_change: str | None = None


class ComplaintIn(NamedTuple):
    external_id: str
    customer: customers.CustomerIn | None
    channel: str
    category: str
    location: str | None
    severity: str
    summary: str
    agent: str | None
    opened_at: datetime
    stages: tuple[StageIn, ...]
    # Resolved without an explain stage: when.
    resolved_only: datetime | None
    # (stage, agent) for the stages the file credits to their own agent.
    stage_agents: tuple[tuple[str, str], ...] = ()
    # Updates sent to the customer, in time order (the `updates` column).
    updates: tuple[datetime, ...] = ()


class ComplaintKind:
    name: str = "complaints"
    cache_kib: int = IMPORT_CACHE_KIB
    aliases: dict[str, tuple[str, ...]] = ALIASES
    required: tuple[str | tuple[str, ...], ...] = (
        "external_id",
        "opened_at",
        "channel",
        "category",
        ("listen", "summary"),
    )
    ignored: tuple[str, ...] = EXPORT_ONLY

    def key(self, row: ComplaintIn) -> str:
        return row.external_id

    def parse(self, c: dict[str, str], run: Run) -> ComplaintIn:
        get = c.get
        external_id = text(c["external_id"], "external_id", limit=100, required=True)
        assert external_id is not None
        customer = customers.parse(c)
        channel = choice(get("channel", ""), "channel")
        category = text(get("category", ""), "category", limit=100, required=True)
        assert category is not None
        location = text(get("location", ""), "location", limit=100)
        severity_text = get("severity", "")
        severity = choice(severity_text, "severity") if severity_text.strip() else "medium"
        listen = text(get("listen", ""), "listen", limit=MAX_TEXT)
        summary = text(get("summary", ""), "summary", limit=500)
        if not listen and not summary:
            raise Bad("listen", "is empty, and so is summary: give the customer's words")
        listen = listen or summary or ""
        summary = summary or default_summary(listen)
        agent = text(get("agent", ""), "agent", limit=100)
        times = run.times
        opened_at = times(c["opened_at"], "opened_at")
        if opened_at is None:
            raise Bad("opened_at", "is empty")
        listen_at = times(get("listen_at", ""), "listen_at") or opened_at
        if listen_at < opened_at:
            raise Bad("listen_at", f"({listen_at.isoformat()}) is before opened_at")
        stages = [StageIn(LISTEN, listen_at, listen)]
        previous, previous_name = listen_at, "listen_at" if get("listen_at") else "opened_at"
        gap: str | None = None
        for name, stage in STAGE_FIELDS:
            at = times(get(name, ""), name)
            if at is None:
                gap = gap or name
                continue
            if gap is not None:
                raise Bad(name, f"is given but {gap} is empty: stages are recorded in order")
            if at < previous:
                raise Bad(
                    name,
                    f"({at.isoformat()}) is before {previous_name} "
                    f"({previous.isoformat()}): stage times must be in order",
                )
            stages.append(_stage(stage, at, c, run.amounts))
            previous, previous_name = at, name
        given = [f for f in ("action_kind", "action_detail", "amount") if get(f, "").strip()]
        if given and len(stages) < 3:
            # The first column of the action the row fills in, which may be all it has.
            raise Bad(given[0], "is given but take_action_at is empty: the action is a stage")
        resolved_at = times(get("resolved_at", ""), "resolved_at")
        resolved_only = None
        if resolved_at is not None:
            if stages[-1].stage == EXPLAIN:
                if resolved_at != stages[-1].at:
                    raise Bad("resolved_at", "differs from explain_at: give one or make them equal")
            elif resolved_at < previous:
                raise Bad(
                    "resolved_at",
                    f"({resolved_at.isoformat()}) is before "
                    f"{previous_name} ({previous.isoformat()})",
                )
            else:
                resolved_only = resolved_at
        stage_agents = () if AGENT_FIELDS.isdisjoint(c) else _stage_agents(c)
        updates = _updates(get("updates", ""), opened_at, run) if get("updates") else ()
        return ComplaintIn(
            external_id,
            customer,
            channel,
            category.lower(),
            location,
            severity,
            summary,
            agent,
            opened_at,
            tuple(stages),
            resolved_only,
            stage_agents,
            updates,
        )

    def write(self, conn: Connection, batch: list[Pending], run: Run) -> None:
        ids = customers.resolve(conn, [p.row.customer for p in batch], run)
        existing = _existing(conn, [p.row.external_id for p in batch])
        fresh = [p for p in batch if p.row.external_id not in existing]
        if fresh:
            with documents_once(conn):
                _insert(conn, fresh, ids, run)
            run.report.inserted += len(fresh)
        known = [p for p in batch if p.row.external_id in existing]
        if known:
            records = _stage_records(conn, [existing[p.row.external_id]["id"] for p in known])
            for pending in known:
                row = existing[pending.row.external_id]
                _reconcile(conn, pending, row, records.get(row["id"], []), ids, run)

    def finish(self, conn: Connection, run: Run) -> None:
        return None


def _updates(cell: str, opened_at: datetime, run: Run) -> tuple[datetime, ...]:
    """The `updates` column: times separated by ";", none before the opening."""
    found = []
    for part in filter(None, (p.strip() for p in cell.split(";"))):
        at = run.times(part, "updates")
        if at is None:
            continue
        if at < opened_at:
            raise Bad("updates", f"has {part!r}, which is before opened_at")
        found.append(at)
    return tuple(sorted(found))


def _stage_agents(c: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The agents the row names per stage (empty cells: the row's agent does it)."""
    found = []
    for stage, column in AGENT_COLUMN.items():
        agent = text(c.get(column, ""), column, limit=100)
        if agent:
            found.append((stage, agent))
    return tuple(found)


def _stage(stage: str, at: datetime, c: dict[str, str], amounts: Amounts) -> StageIn:
    get = c.get
    if stage == TAKE_ACTION:
        kind_text = get("action_kind", "")
        if not kind_text.strip():
            raise Bad(
                "action_kind",
                "is empty but take_action_at is given: say what was done "
                "(refund, replacement, repair, credit, discount, "
                "escalation, explanation_only, other)",
            )
        kind = choice(kind_text, "action_kind")
        detail = text(get("action_detail", ""), "action_detail", limit=MAX_TEXT)
        return StageIn(
            stage, at, detail or kind, kind, detail, amounts(get("amount", ""), "amount")
        )
    if stage == EXPLAIN:
        cause_text = get("root_cause", "")
        cause = choice(cause_text, "root_cause") if cause_text.strip() else None
        change = text(get("what_will_change", ""), "what_will_change", limit=MAX_TEXT)
        return StageIn(stage, at, change or "", root_cause=cause, what_will_change=change)
    return StageIn(stage, at, "")


def _existing(conn: Connection, keys: list[str]) -> dict[str, dict[str, Any]]:
    table = Complaint.__table__  # type: ignore[attr-defined]
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(sorted(set(keys))):
        for row in conn.execute(select(table).where(table.c.external_id.in_(part))).mappings():
            found[row["external_id"]] = dict(row)
    return found


def _ids(conn: Connection, keys: list[str]) -> dict[str, int]:
    table = Complaint.__table__  # type: ignore[attr-defined]
    found: dict[str, int] = {}
    for part in chunks(keys):
        statement = select(table.c.external_id, table.c.id).where(table.c.external_id.in_(part))
        found.update({key: cid for key, cid in conn.execute(statement)})
    return found


def _stage_records(conn: Connection, ids: list[int]) -> dict[int, list[StageIn]]:
    table = StageRecord.__table__  # type: ignore[attr-defined]
    records: dict[int, list[StageIn]] = {}
    for part in chunks(ids):
        statement = select(table).where(table.c.complaint_id.in_(part), table.c.cycle == 0)
        for r in conn.execute(statement.order_by(table.c.complaint_id, table.c.id)).mappings():
            records.setdefault(r["complaint_id"], []).append(
                StageIn(
                    r["stage"],
                    r["completed_at"],
                    r["text"],
                    r["action_kind"],
                    r["action_detail"],
                    r["amount_cents"],
                    r["root_cause"],
                    r["what_will_change"],
                )
            )
    return records


@lru_cache(maxsize=4096)
def _opened_data(agent: str | None) -> str:
    return encode(OpenedDetails(assigned_agent=agent, source="import"))[1]


class Derived(NamedTuple):
    """What the complaint row holds beyond the file's own fields."""

    stage_due: str | None
    resolved: datetime | None
    ack: datetime | None
    action: str | None
    cause: str | None


# A first cycle records the stages in the workflow's order, so a stage's place in a row's
# stages is its place in STAGES.
PLACE = {stage: place for place, stage in enumerate(STAGES)}
ACK_PLACE, ACTION_PLACE, CAUSE_PLACE = (
    PLACE[s] for s in (Stage.ACKNOWLEDGE, Stage.TAKE_ACTION, Stage.EXPLAIN)
)
MOMENT = datetime(2000, 1, 1, tzinfo=UTC)  # any time: only which stages there are counts


@lru_cache(maxsize=64)
def _stage_due(stages: tuple[str, ...], resolved_only: bool) -> str | None:
    """The stage due after these stages (and a resolution without stages): replayed through
    the workflow once per combination, since it depends on which stages there are alone."""
    steps = [workflow.StageRecorded(stage=Stage(stage), at=MOMENT, agent="") for stage in stages]
    resolution = [workflow.Resolved(at=MOMENT, agent="")] if resolved_only else []
    state = workflow.replay([workflow.Opened(at=MOMENT, agent=None), *steps, *resolution])
    assert state is not None
    return state.stage_due.value if state.stage_due else None


def _derive(stages: tuple[StageIn, ...], resolved_only: datetime | None) -> Derived:
    """The state the workflow gives for these stages, and the fields some stages set."""
    due = _stage_due(tuple([st.stage for st in stages]), resolved_only is not None)
    count = len(stages)
    return Derived(
        due,
        (resolved_only or stages[-1].at) if due is None else None,
        stages[ACK_PLACE].at if count > ACK_PLACE else None,
        stages[ACTION_PLACE].action_kind if count > ACTION_PLACE else None,
        stages[CAUSE_PLACE].root_cause if count > CAUSE_PLACE else None,
    )


COMPLAINT_COLUMNS = (
    "external_id",
    "customer_id",
    "channel",
    "category",
    "location",
    "severity",
    "summary",
    "opened_by",
    "assigned_agent",
    "stage_due",
    "cycle",
    "reopen_count",
    "opened_at",
    "opened_epoch",
    "acknowledged_at",
    "acknowledged_epoch",
    "first_resolved_at",
    "first_resolved_epoch",
    "resolved_at",
    "resolved_epoch",
    "action_kind",
    "root_cause",
    "updated_at",
    "deadline_policy",
    "first_response_due_epoch",
    "final_response_due_epoch",
    "update_every_days",
    "last_update_epoch",
)
EVENT_COLUMNS = ("complaint_id", "at", "agent", "kind", "data")
RECORD_COLUMNS = (
    "complaint_id",
    "cycle",
    "stage",
    "text",
    "agent",
    "completed_at",
    "duration_seconds",
    "action_kind",
    "action_detail",
    "amount_cents",
    "options_offered",
    "root_cause",
    "what_will_change",
)


def _insert(
    conn: Connection, fresh: list[Pending], customer_ids: dict[customers.CustomerIn, int], run: Run
) -> None:
    store, ts = run.store, run.store.ts
    now = ts(run.now)
    importer = run.importer
    deadlines: Deadlines = run.options.deadlines or STANDARD_DEADLINES
    rows = []
    opened_texts = []
    for p in fresh:
        r: ComplaintIn = p.row
        s = _derive(r.stages, r.resolved_only)
        resolved, ack = s.resolved, s.ack
        opened = ts(r.opened_at)
        opened_epoch = epoch(r.opened_at)
        # Fixed from the opening by the policy in force at import (docs/metrics.md).
        due = deadlines.fixed_at_opening(
            severity=r.severity, category=r.category, channel=r.channel, opened=opened_epoch
        )
        opened_texts.append(opened)
        resolved_text = ts(resolved)
        rows.append(
            (
                r.external_id,
                customer_ids[r.customer] if r.customer else None,
                r.channel,
                r.category,
                r.location,
                r.severity,
                r.summary,
                _by(r, LISTEN, importer),
                r.agent,
                s.stage_due,
                0,
                0,
                opened,
                opened_epoch,
                ts(ack),
                epoch(ack) if ack else None,
                resolved_text,
                epoch(resolved) if resolved else None,
                resolved_text,
                epoch(resolved) if resolved else None,
                s.action,
                s.cause,
                now,
                due.rule,
                due.first_response,
                due.final_response,
                due.update_every_days,
                epoch(r.updates[-1]) if r.updates else opened_epoch,
            )
        )
    store.insert(conn, "complaint", COMPLAINT_COLUMNS, rows)
    ids = _ids(conn, [p.row.external_id for p in fresh])
    events: list[tuple[Any, ...]] = []
    records: list[tuple[Any, ...]] = []
    for p, opened in zip(fresh, opened_texts, strict=True):
        r = p.row
        cid = ids[r.external_id]
        events.append((cid, opened, _by(r, LISTEN, importer), OPENED_KIND, _opened_data(r.agent)))
        _append_stages(cid, r, r.stages, r.opened_at, importer, events, records, ts, opened)
        by = r.agent or importer
        events.extend((cid, ts(at), by, UPDATE_KIND, UPDATE_EVENT) for at in r.updates)
    store.insert(conn, "event", EVENT_COLUMNS, events)
    store.insert(conn, "stage_record", RECORD_COLUMNS, records)


def _by(r: ComplaintIn, stage: str, importer: str) -> str:
    """Who did `stage`: its own agent column, else the row's agent, else the file
    (docs/architecture.md, "Batch import")."""
    for named, agent in r.stage_agents:
        if named == stage:
            return agent
    return r.agent or importer


def _append_stages(
    cid: int,
    r: ComplaintIn,
    stages: tuple[StageIn, ...],
    previous: datetime,
    importer: str,
    events: list[tuple[Any, ...]],
    records: list[tuple[Any, ...]],
    ts: Any,
    opened_text: str | None = None,
) -> None:
    default = r.agent or importer
    for st in stages:
        at = opened_text if opened_text and st.at is r.opened_at else ts(st.at)
        who = _by(r, st.stage, importer) if r.stage_agents else default
        events.append((cid, at, who, STAGE_KIND, STAGE_EVENT[st.stage]))
        records.append(
            (
                cid,
                0,
                st.stage,
                st.text,
                who,
                at,
                int((st.at - previous).total_seconds()),
                st.action_kind,
                st.action_detail,
                st.amount_cents,
                None,
                st.root_cause,
                st.what_will_change,
            )
        )
        previous = st.at
    if r.resolved_only is not None:
        who = _by(r, EXPLAIN, importer)
        events.append((cid, ts(r.resolved_only), who, RESOLVED_KIND, RESOLVED_EVENT))


DESCRIPTIVE = ("customer_id", "channel", "category", "location", "severity", "summary")


def _reconcile(
    conn: Connection,
    pending: Pending,
    stored: dict[str, Any],
    records: list[StageIn],
    customer_ids: dict[customers.CustomerIn, int],
    run: Run,
) -> None:
    """Count an already-imported complaint as unchanged or updated, or reject it."""
    r: ComplaintIn = pending.row
    new_stages = r.stages[len(records) :]
    try:
        _check_recorded_history(r, stored, records)
        resolve = _resolution_to_add(r, stored, records)
        _check_appendable(stored, new_stages, resolve)
    except Bad as conflict:
        run.reject(pending.record, conflict.field, conflict.reason)
        return
    changes = _descriptive_changes(r, stored, customer_ids)
    if not changes and not new_stages and resolve is None:
        run.report.unchanged += 1
        return
    _apply_update(conn, stored, r, new_stages, resolve, records, changes, run)
    run.report.updated += 1


def _check_recorded_history(r: ComplaintIn, stored: dict[str, Any], records: list[StageIn]) -> None:
    """Refuse a row whose opening or stages differ from those latte recorded."""
    if stored["opened_at"] != r.opened_at:
        raise Bad(
            "opened_at",
            f"latte has this complaint opened at {stored['opened_at'].isoformat()}; "
            "recorded history is never rewritten",
        )
    for mine, theirs in zip(r.stages, records, strict=False):
        if mine != theirs:
            raise Bad(
                "listen" if mine.stage == LISTEN else f"{mine.stage} fields",
                f"differs from the {mine.stage} stage latte recorded "
                f"({theirs.at.isoformat()}); recorded history is never rewritten",
            )


def _resolution_to_add(
    r: ComplaintIn, stored: dict[str, Any], records: list[StageIn]
) -> datetime | None:
    """The resolution without stages the row adds: None if it gives none or latte has it."""
    resolve = r.resolved_only
    if resolve is None:
        return None
    stored_resolved_only = (
        stored["stage_due"] is None
        and stored["cycle"] == 0
        and (not records or records[-1].stage != EXPLAIN)
    )
    if stored_resolved_only:
        if len(records) != len(r.stages) or stored["first_resolved_at"] != resolve:
            raise Bad(
                "resolved_at",
                "latte has this complaint resolved at "
                f"{stored['first_resolved_at'].isoformat()} after {len(records)} "
                "stages; recorded history is never rewritten",
            )
        return None
    if len(records) > len(r.stages):
        raise Bad(
            "resolved_at",
            "latte recorded more stages of this complaint than the file has; "
            "recorded history is never rewritten",
        )
    return resolve


def _check_appendable(
    stored: dict[str, Any], new_stages: tuple[StageIn, ...], resolve: datetime | None
) -> None:
    """Refuse stages or a resolution that latte's complaint cannot take next."""
    if not new_stages and resolve is None:
        return
    if (
        stored["stage_due"] is None
        or stored["cycle"] != 0
        or (new_stages and stored["stage_due"] != new_stages[0].stage)
    ):
        raise Bad(
            f"{new_stages[0].stage}_at" if new_stages else "resolved_at",
            f"cannot be added: latte's complaint is at stage {stored['stage_due'] or 'resolved'}",
        )


def _descriptive_changes(
    r: ComplaintIn, stored: dict[str, Any], customer_ids: dict[customers.CustomerIn, int]
) -> dict[str, Any]:
    """The descriptive fields the row changes, with their new values."""
    wanted = {
        "customer_id": customer_ids[r.customer] if r.customer else None,
        "channel": r.channel,
        "category": r.category,
        "location": r.location,
        "severity": r.severity,
        "summary": r.summary,
    }
    return {name: wanted[name] for name in DESCRIPTIVE if stored[name] != wanted[name]}


def _apply_update(
    conn: Connection,
    stored: dict[str, Any],
    r: ComplaintIn,
    new_stages: tuple[StageIn, ...],
    resolve: datetime | None,
    records: list[StageIn],
    changes: dict[str, Any],
    run: Run,
) -> None:
    table = Complaint.__table__  # type: ignore[attr-defined]
    store, ts = run.store, run.store.ts
    cid = stored["id"]
    events: list[tuple[Any, ...]] = []
    stage_rows: list[tuple[Any, ...]] = []
    values: dict[str, Any] = dict(changes)
    if changes:
        kind, data = encode(UpdatedDetails(changed=tuple(sorted(changes)), source="import"))
        events.append((cid, ts(run.now), run.importer, kind.value, data))
    if new_stages or resolve is not None:
        previous = records[-1].at if records else r.opened_at
        shadow = r._replace(resolved_only=resolve)
        _append_stages(cid, shadow, new_stages, previous, run.importer, events, stage_rows, ts)
        s = _derive((*records, *new_stages), resolve)
        values["stage_due"] = s.stage_due
        if s.resolved is not None:
            values.update(
                resolved_at=s.resolved,
                resolved_epoch=epoch(s.resolved),
                first_resolved_at=s.resolved,
                first_resolved_epoch=epoch(s.resolved),
            )
        if s.ack is not None and stored["acknowledged_at"] is None:
            values.update(acknowledged_at=s.ack, acknowledged_epoch=epoch(s.ack))
        if s.action is not None:
            values["action_kind"] = s.action
        if s.cause is not None:
            values["root_cause"] = s.cause
    values["updated_at"] = run.now
    conn.execute(update(table).where(table.c.id == cid).values(**values))
    store.insert(conn, "event", EVENT_COLUMNS, events)
    store.insert(conn, "stage_record", RECORD_COLUMNS, stage_rows)
