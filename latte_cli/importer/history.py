"""Importing latte's own JSONL export with its history: a migration that loses nothing.

A complaints JSONL file whose records carry `history` (written by `latte export complaints
--format jsonl`, see services/export.py) is rebuilt event by event rather than from the flat
columns: each event's details are read by `latte_cli.events`, checked against the stage rules
by `workflow.apply` and written the way the services write them (a stage event with its stage
record and the complaint's columns), then the follow-ups. `latte show --json` of an imported
complaint equals the original's, ids aside (docs/architecture.md, "Batch import").

Counts and rejects work as for any import. A complaint whose external id is already in the
database is left as it is and counted unchanged, so importing the same export twice changes
nothing. Rows are validated entirely before anything of them is written.

A merged duplicate's `merged` event names its target by the target's external id (the event's
`into`, beside its details): the internal id in the details named a complaint of the source
database. The importer points the duplicate at the complaint with that external id; one merged
into a complaint further on in the file waits until the end of the file, and is rejected if
its target is then in neither the file nor the database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from latte_cli import events, identity, vocabulary, workflow
from latte_cli.deadlines import STANDARD_DEADLINES, Deadlines
from latte_cli.errors import LatteError
from latte_cli.importer.base import (
    MAX_SHOWN_REJECTS,
    ImportOptions,
    ImportReport,
    Progress,
    Reject,
    Rejects,
    _settle_rejects_file,
    default_rejects,
)
from latte_cli.importer.fields import Bad
from latte_cli.importer.source import Record, Source
from latte_cli.models import Complaint, Customer, FollowUp
from latte_cli.services.complaints import _record, _store_state, fix_deadlines
from latte_cli.services.customers import CustomerDetails, check_details
from latte_cli.services.customers import _create as create_customer
from latte_cli.services.eventlog import log_event
from latte_cli.timeutil import epoch, utcnow
from latte_cli.workflow import Stage

# Complaints written per transaction (a strict or dry run is one transaction).
BATCH = 200


def carries_history(source: Source) -> bool:
    """Whether `source` is JSONL whose first record carries a `history` list (a file or
    stdin alike: the first record is read when the source is opened)."""
    if source.format != "jsonl":
        return False
    try:
        data = json.loads(source._first.decode(source.encoding))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("history"), list)


class _Stored(NamedTuple):
    """An exported event as `events` reads a stored row."""

    kind: str
    at: datetime
    agent: str
    data: str


@dataclass(frozen=True)
class Step:
    at: datetime
    agent: str
    details: events.Details
    # A stage event's content: the StageRecord columns other than stage, cycle, time, agent.
    content: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class HistoryIn:
    external_id: str
    customer: CustomerDetails
    channel: str
    category: str
    location: str | None
    severity: str
    summary: str
    opened_by: str
    steps: tuple[Step, ...]
    # Each follow-up's FollowUp columns.
    followups: tuple[dict[str, Any], ...]
    # A merged duplicate: its target's external id, as the export names it.
    merged_into: str | None = None


def _text(data: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise Bad(key, "is missing; the record must carry it as exported")
        return None
    if not isinstance(value, str):
        raise Bad(key, f"{value!r} is not text")
    return value


def _moment(value: Any, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Bad(field, f"{value!r} is not an ISO time like 2026-11-02T09:00:00+00:00") from None
    if moment.tzinfo is None:
        raise Bad(field, f"{value!r} has no UTC offset; export times carry one")
    return moment


def _vocabulary(kind: str, value: Any) -> str:
    try:
        return vocabulary.parse(kind, str(value))
    except LatteError as error:
        raise Bad(kind, error.message) from None


def _content(data: Any, number: int) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Bad("history", f"event {number}: a stage event needs its stage content")
    options = data.get("options_offered")
    if options is not None and not (
        isinstance(options, list) and all(isinstance(o, str) for o in options)
    ):
        raise Bad("history", f"event {number}: options_offered must be a list of text")
    amount = data.get("amount_cents")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise Bad("history", f"event {number}: amount_cents must be a whole number")
    kind, cause = data.get("action_kind"), data.get("root_cause")
    return {
        "text": str(data.get("text") or ""),
        "action_kind": _vocabulary("action_kind", kind) if kind else None,
        "action_detail": data.get("action_detail"),
        "amount_cents": amount,
        "options_offered": json.dumps(options) if options else None,
        "root_cause": _vocabulary("root_cause", cause) if cause else None,
        "what_will_change": data.get("what_will_change"),
    }


def _steps(history: Any) -> tuple[Step, ...]:
    """The events, read and replayed through the stage rules; Bad naming the first wrong one."""
    if not isinstance(history, list) or not history:
        raise Bad("history", "must be a non-empty list of events, as exported")
    steps: list[Step] = []
    state: workflow.State | None = None
    for number, event in enumerate(history, start=1):
        where = f"event {number}"
        try:
            at = _moment(event["at"], "history")
            agent = event["agent"]
            if not isinstance(agent, str) or not agent:
                raise Bad("history", f"{where}: the agent is missing")
            stored = _Stored(event["kind"], at, agent, json.dumps(event["details"]))
            details = events.decode(stored)
            content = (
                _content(event.get("stage"), number)
                if details.kind is events.EventKind.STAGE
                else None
            )
            change = details.to_workflow(at, agent)
            if change is not None:
                state = workflow.apply(state, change)
        except (KeyError, TypeError) as error:
            raise Bad(
                "history", f"{where} lacks {error}; give kind, at, agent and details"
            ) from None
        except Bad as bad:
            raise Bad(bad.field, f"{where}: {bad.reason}") from None
        except LatteError as error:
            raise Bad("history", f"{where} ({event.get('kind')}): {error.message}") from None
        if number == 1 and not isinstance(details, events.OpenedDetails):
            raise Bad("history", "the first event must be the opening")
        steps.append(Step(at, agent, details, content))
    return tuple(steps)


def _flag(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise Bad("followups", f"{field} {value!r} must be true, false or null")


def _followups(data: Any) -> tuple[dict[str, Any], ...]:
    if data is None:
        return ()
    if not isinstance(data, list) or not all(isinstance(f, dict) for f in data):
        raise Bad("followups", "must be a list of follow-ups, as exported")
    found = []
    for f in data:
        recorded = _moment(f["recorded_at"], "followups") if f.get("recorded_at") else None
        nps = f.get("nps")
        if nps is not None and (isinstance(nps, bool) or not isinstance(nps, int)):
            raise Bad("followups", f"nps {nps!r} must be a whole number from 0 to 10")
        found.append(
            {
                "due_at": _moment(f["due_at"], "followups") if f.get("due_at") else None,
                "recorded_at": recorded,
                "recorded_epoch": epoch(recorded) if recorded else None,
                "agent": f.get("agent"),
                "reached": _flag(f.get("reached"), "reached"),
                "satisfied": _flag(f.get("satisfied"), "satisfied"),
                "nps": nps,
                "repurchased": _flag(f.get("repurchased"), "repurchased"),
                "note": f.get("note"),
            }
        )
    return tuple(found)


def parse(data: Mapping[str, Any]) -> HistoryIn:
    """One exported complaint, checked entirely; Bad naming the field and the problem."""
    external_id = _text(data, "external_id", required=True)
    try:
        customer = check_details(
            CustomerDetails(
                ref=_text(data, "customer_ref"),
                name=_text(data, "customer_name"),
                email=_text(data, "customer_email"),
                phone=_text(data, "customer_phone"),
            )
        )
    except LatteError as error:
        raise Bad("customer_ref", error.message) from None
    steps = _steps(data.get("history"))
    assert external_id is not None
    return HistoryIn(
        external_id=external_id,
        customer=customer,
        channel=_vocabulary("channel", data.get("channel")),
        category=_text(data, "category", required=True) or "",
        location=_text(data, "location"),
        severity=_vocabulary("severity", data.get("severity") or "medium"),
        summary=_text(data, "summary") or "",
        opened_by=_text(data, "opened_by") or steps[0].agent,
        steps=steps,
        followups=_followups(data.get("followups")),
        merged_into=_merge_target(data.get("history")),
    )


def _merge_target(history: Any) -> str | None:
    """The external id the last `merged` event names its target by (None: an export made
    before targets were named so; the internal id is kept as it was)."""
    target = None
    for event in history:
        if event.get("kind") == events.EventKind.MERGED.value and "into" in event:
            target = event["into"]
            if not isinstance(target, str) or not target:
                raise Bad("history", f"a merged event's into {target!r} is not an external id")
    return target


def _customer(session: Session, details: CustomerDetails) -> Customer | None:
    """The customer as exported: the one with its ref, else one with exactly these details,
    else a new one. Not the matching rule of `identity`: the export holds each customer's
    final details, and matching them would merge customers the source kept apart."""
    if details.is_empty():
        return None
    if details.ref:
        statement = select(Customer).where(Customer.ref_key == identity.clean(details.ref))
    else:
        statement = select(Customer).where(
            col(Customer.ref).is_(None),
            *(
                col(column).is_(None) if value is None else column == value
                for column, value in (
                    (Customer.name, details.name),
                    (Customer.email, details.email),
                    (Customer.phone, details.phone),
                )
            ),
        )
    found = session.exec(statement.order_by(col(Customer.id))).first()
    if found is not None:
        return found
    created = create_customer(session, Customer(**asdict(details), created_at=utcnow()))
    session.flush()
    return created


def merge_target(session: Session, item: HistoryIn) -> int | None:
    """The id, in this database, of the complaint `item` was merged into (None: not merged,
    or its target is not here yet)."""
    if item.merged_into is None:
        return None
    found = session.exec(select(Complaint.id).where(Complaint.external_id == item.merged_into))
    return found.first()


def write(
    session: Session,
    item: HistoryIn,
    deadlines: Deadlines = STANDARD_DEADLINES,
    *,
    target: int | None = None,
) -> None:
    """Write one complaint, its events, stage records and follow-ups; does not commit.

    Its deadlines are fixed from its opening by the policy in force at import, and its last
    update to the customer is the latest `customer_update` of its history. A merged duplicate's
    `merged` events name `target` (`merge_target`)."""
    customer = _customer(session, item.customer)
    opened = item.steps[0]
    complaint = Complaint(
        external_id=item.external_id,
        customer_id=customer.id if customer else None,
        channel=item.channel,
        category=item.category,
        location=item.location,
        severity=item.severity,
        summary=item.summary,
        opened_by=item.opened_by,
        opened_at=opened.at,
        opened_epoch=epoch(opened.at),
        updated_at=utcnow(),
    )
    fix_deadlines(complaint, deadlines)
    state: workflow.State | None = None
    for step in item.steps:
        details = step.details
        if isinstance(details, events.StageDetails):
            assert state is not None and step.content is not None
            # The stage record, the complaint's columns and the event, as the services write them.
            state = _record(
                session,
                complaint,
                state,
                Stage(details.stage),
                agent=step.agent,
                at=step.at,
                **step.content,
            )
            continue
        if isinstance(details, events.MergedDetails) and target is not None:
            details = replace(details, into=target)
        change = details.to_workflow(step.at, step.agent)
        if change is not None:
            state = workflow.apply(state, change)
            _store_state(complaint, state)
        if complaint.id is None:
            session.add(complaint)
            session.flush()
        assert complaint.id is not None
        log_event(session, complaint_id=complaint.id, at=step.at, agent=step.agent, details=details)
        if isinstance(details, events.CustomerUpdateDetails):
            complaint.last_update_epoch = max(complaint.last_update_epoch or 0, epoch(step.at))
    assert complaint.id is not None
    for followup in item.followups:
        session.add(FollowUp(complaint_id=complaint.id, **followup))
    session.flush()


def import_history(
    url: str,
    options: ImportOptions,
    source: Source,
    *,
    progress: Progress | None = None,
    busy_timeout_ms: int | None = None,
) -> ImportReport:
    """Import an export with history; the same report, rejects file and exit code as any
    import (see the module docstring)."""
    from latte_cli.db import ensure_schema, open_session, translate

    ensure_schema(url, busy_timeout_ms=busy_timeout_ms)
    report = ImportReport(
        kind="complaints", source=source.name, dry_run=options.dry_run, strict=options.strict
    )
    rejects_path = (
        Path(options.rejects) if options.rejects else default_rejects(options.path, "jsonl")
    )
    rejects = Rejects(rejects_path, source)

    def reject(record: Record, column: str, reason: str) -> None:
        found = Reject(record.line, column, reason)
        report.rejected += 1
        if len(report.first_rejects) < MAX_SHOWN_REJECTS:
            report.first_rejects.append(found)
        rejects.add(record, found)

    one_transaction = options.strict or options.dry_run
    deadlines = options.deadlines or STANDARD_DEADLINES
    # Merged duplicates whose target is further on in the file (few: kept until its end).
    waiting: list[tuple[Record, HistoryIn]] = []
    try:
        with open_session(url, busy_timeout_ms=busy_timeout_ms) as session:
            for record in source.records():
                report.rows += 1
                raw = record.raw
                if not isinstance(raw, dict) or "history" not in raw:
                    reject(record, "", record.problem or "the record carries no history")
                    continue
                try:
                    item = parse(raw)
                except Bad as bad:
                    reject(record, bad.field, bad.reason)
                    continue
                known = select(Complaint.id).where(Complaint.external_id == item.external_id)
                if session.exec(known).first() is not None:
                    report.unchanged += 1
                    continue
                target = merge_target(session, item)
                if item.merged_into is not None and target is None:
                    waiting.append((record, item))  # its target comes later in the file
                    continue
                write(session, item, deadlines, target=target)
                report.inserted += 1
                if not one_transaction and report.inserted % BATCH == 0:
                    session.commit()
                if progress is not None and report.rows % 1000 == 0:
                    progress(report.rows, source.bytes_read)
            for record, item in waiting:
                target = merge_target(session, item)
                if target is None:
                    reject(
                        record,
                        "history",
                        f"merged into {item.merged_into}, which is neither in the file nor in "
                        "the database; import the file that holds it first",
                    )
                    continue
                write(session, item, deadlines, target=target)
                report.inserted += 1
            if options.dry_run or (options.strict and report.rejected):
                session.rollback()
            else:
                session.commit()
                report.written = True
    except DBAPIError as error:
        raise translate(error, url) from None
    finally:
        rejects.close()
        if progress is not None:
            progress(report.rows, source.bytes_read)
    _settle_rejects_file(report, rejects_path, options)
    return report
