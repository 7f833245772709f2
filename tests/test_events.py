"""The event log's one contract (latte_cli/events.py) and the rules that keep it the only one."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

import latte_cli
from latte_cli import events, workflow
from latte_cli.errors import InvalidValue
from latte_cli.events import EventKind
from latte_cli.models import Complaint, Event
from latte_cli.services import complaints, team
from latte_cli.services.eventlog import events_of
from latte_cli.services.integrity import check_database
from latte_cli.workflow import Stage
from tests.conftest import Latte

PACKAGE = Path(latte_cli.__file__).parent
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

SAMPLES: list[events.Details] = [
    events.OpenedDetails(assigned_agent="ana"),
    events.OpenedDetails(assigned_agent=None, source="import"),
    events.StageDetails(stage=Stage.TAKE_ACTION, cycle=1),
    events.TransferDetails(from_agent=None, to_agent="sam", note="Taken from the queue."),
    events.ReopenDetails(reason="The refund never arrived.", cycle=1),
    events.ResolvedDetails(),
    events.FollowUpDetails(reached=True, satisfied=False, nps=3, repurchased=None),
    events.UpdatedDetails(changed=("category", "summary"), source="import"),
    events.ErasedDetails(reason="erasure request"),
    events.HeldDetails(hold_id=3, scope="customer", reason="claim 2026/311"),
    events.ReleasedDetails(hold_id=3, scope="customer", reason=""),
    events.AmendedDetails(
        stage=Stage.TAKE_ACTION,
        cycle=0,
        before={"action_kind": "refund", "amount_cents": 2500, "options_offered": None},
        after={"action_kind": "credit", "amount_cents": None, "options_offered": ["a", "b"]},
        reason="Picked the wrong kind.",
    ),
    events.MergedDetails(into=12, reason="Same parcel, called twice."),
    events.CustomerEditedDetails(
        customer_id=3, before={"name": "Ana Diaz"}, after={"name": "Ana Díaz"}, reason=""
    ),
    events.CustomerMergedDetails(from_customer=4, to_customer=3, reason="Same person."),
    events.CustomerUpdateDetails(text="The refund is on its way.", channel="email"),
]


@dataclass(frozen=True)
class Row:
    kind: str
    data: str
    at: datetime = T0
    agent: str = "ana"


def test_every_kind_has_details_and_a_sample() -> None:
    assert set(events.DETAILS) == set(EventKind)
    assert {details.kind for details in SAMPLES} == set(EventKind)


@pytest.mark.parametrize("details", SAMPLES, ids=lambda d: f"{d.kind}-{id(d) % 1000}")
def test_encode_then_decode_gives_the_same_details(details: events.Details) -> None:
    kind, data = events.encode(details)
    assert kind is details.kind
    assert isinstance(json.loads(data), dict)
    assert events.decode(Row(kind=kind.value, data=data)) == details


def test_the_stored_layout_is_the_one_latte_has_always_written() -> None:
    """Existing databases stay readable without a migration: same kinds, same JSON."""
    assert events.encode(events.OpenedDetails(assigned_agent="ana")) == (
        "opened",
        '{"assigned_agent": "ana"}',
    )
    assert events.encode(events.StageDetails(stage=Stage.LISTEN, cycle=0)) == (
        "stage",
        '{"cycle": 0, "stage": "listen"}',
    )
    assert events.encode(events.ResolvedDetails()) == ("resolved", "{}")
    assert [kind.value for kind in EventKind] == [
        "opened",
        "stage",
        "transfer",
        "reopen",
        "resolved",
        "followup",
        "updated",
        "erased",
        "held",
        "released",
        "amended",
        "merged",
        "customer_edited",
        "customer_merged",
        "customer_update",
    ]
    # Every kind fits the event table's kind column (20 characters).
    assert max(len(kind.value) for kind in EventKind) <= 20


def test_decoding_an_unknown_kind_fails_naming_it() -> None:
    with pytest.raises(InvalidValue, match=r"unknown kind 'split'.*known: opened, stage"):
        events.decode(Row(kind="split", data="{}"))


def test_decoding_details_that_lack_a_field_fails_naming_the_kind() -> None:
    with pytest.raises(InvalidValue, match="'transfer' event cannot be read"):
        events.decode(Row(kind="transfer", data='{"note": "no receiver"}'))
    with pytest.raises(InvalidValue, match="'stage' event cannot be read"):
        events.decode(Row(kind="stage", data="not json"))


def test_rows_become_workflow_events_and_others_are_left_out() -> None:
    rows = [
        Row("opened", '{"assigned_agent": null}'),
        Row("transfer", '{"from_agent": null, "note": "", "to_agent": "sam"}', agent="sam"),
        Row("stage", '{"cycle": 0, "stage": "listen"}', at=T0 + timedelta(minutes=1)),
        Row("updated", '{"changed": ["summary"], "source": "import"}'),
        Row("erased", '{"reason": "erasure request"}'),
    ]
    assert events.workflow_events(rows) == [
        workflow.Opened(at=T0, agent=None),
        workflow.Transferred(to_agent="sam", at=T0, agent="sam"),
        workflow.StageRecorded(stage=Stage.LISTEN, at=T0 + timedelta(minutes=1), agent="ana"),
    ]


# One derivation of state -----------------------------------------------------------------------


def test_a_reopened_cycle_records_from_the_reopen_stage() -> None:
    assert workflow.cycle_stages(0) == workflow.STAGES
    reopened = workflow.cycle_stages(1)
    assert reopened[0] is workflow.REOPEN_STAGE
    assert reopened == workflow.STAGES[workflow.STAGES.index(workflow.REOPEN_STAGE) :]


# Writers go through the workflow -----------------------------------------------------------------


def test_a_claim_from_the_queue_replays_to_the_stored_state(session: Session) -> None:
    new = complaints.NewComplaint(channel="phone", category="billing", listen="x", assign=False)
    opened = complaints.open_complaint(session, new=new, agent="ana", at=T0)
    assert opened.id is not None and opened.assigned_agent is None

    claimed = team.claim_next(session, agent="sam")

    assert claimed is not None and claimed.id == opened.id
    stored = session.exec(select(Complaint).where(Complaint.id == opened.id)).one()
    rows = events_of(session, opened.id)
    assert [row.kind for row in rows] == ["opened", "stage", "transfer"]
    assert events.decode(rows[-1]) == events.TransferDetails(
        from_agent=None, to_agent="sam", note="Taken from the queue."
    )
    replayed = workflow.replay(events.workflow_events(rows))
    assert replayed is not None
    assert replayed.assigned_agent == stored.assigned_agent == "sam"
    assert replayed.stage_due == Stage(stored.stage_due or "")
    assert check_database(session).problems == []


def test_db_check_reports_an_unknown_event_kind_instead_of_failing(session: Session) -> None:
    new = complaints.NewComplaint(channel="phone", category="billing", listen="x")
    opened = complaints.open_complaint(session, new=new, agent="ana", at=T0)
    assert opened.id is not None
    session.add(Event(complaint_id=opened.id, at=T0, agent="ana", kind="split", data="{}"))
    session.commit()

    problems = check_database(session).problems

    assert any("unknown kind 'split'" in problem for problem in problems), problems
    kinds = session.exec(select(Event.kind).order_by(col(Event.id))).all()
    assert kinds == ["opened", "stage", "split"]


# The rules that keep events.py the only place ---------------------------------------------------


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, module-level or in a function, except under TYPE_CHECKING."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Which latte_cli modules each latte_cli module imports when it runs."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                # `from package import module` imports the module; otherwise the package.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                    for alias in node.names
                ]
            graph[name].update(t for t in targets if t in paths and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None."""
    done: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in stack:
            return [*stack[stack.index(node) :], node]
        if node in done:
            return None
        stack.append(node)
        for target in sorted(graph[node]):
            if cycle := visit(target):
                return cycle
        stack.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        if cycle := visit(start):
            return cycle
    return None


def test_find_cycle_finds_one_and_reports_its_path() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_sees_function_local_imports_but_not_type_checking_ones() -> None:
    graph = import_graph()
    assert "latte_cli.events" in graph["latte_cli.services.complaints"]
    # cli/render.py names the views' types under TYPE_CHECKING only.
    assert "latte_cli.services.views" not in graph["latte_cli.cli.render"]
    assert len(graph) > 40


def test_latte_cli_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


KIND_VALUES = {kind.value for kind in EventKind}


def _names_a_kind(node: ast.expr) -> bool:
    if isinstance(node, ast.Call) and node.args:  # col(Event.kind)
        return _names_a_kind(node.args[0])
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return name == "kind"


def _kind_literals(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and node.value in KIND_VALUES:
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [v for element in node.elts for v in _kind_literals(element)]
    return []


def bare_kind_comparisons(source: str) -> list[tuple[int, str]]:
    """(line, literal) of each event kind compared as a bare string with something named kind."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(_names_a_kind(o) for o in operands):
                found += [(node.lineno, v) for o in operands for v in _kind_literals(o)]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "in_"
            and _names_a_kind(node.func.value)
        ):
            found += [(node.lineno, v) for a in node.args for v in _kind_literals(a)]
    return found


def test_the_scan_finds_bare_kind_comparisons() -> None:
    source = (
        "a = row.kind == 'transfer'\n"
        "b = e.kind in ('stage', 'reopen')\n"
        "c = col(Event.kind).in_(('resolved',))\n"
        "d = kind != 'opened'\n"
        "e = row.kind == EventKind.STAGE\n"
        "f = export_kind == 'complaints'\n"
    )
    assert bare_kind_comparisons(source) == [
        (1, "transfer"),
        (2, "stage"),
        (2, "reopen"),
        (3, "resolved"),
        (4, "opened"),
    ]


def test_only_events_py_compares_event_kinds_with_strings() -> None:
    offending = [
        (str(path.relative_to(PACKAGE)), line, literal)
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "events.py" or path.parent != PACKAGE
        for line, literal in bare_kind_comparisons(path.read_text(encoding="utf-8"))
    ]
    assert offending == []


def test_imported_complaints_of_every_shape_replay_to_their_stored_state(
    latte: Latte, session: Session, tmp_path: Path
) -> None:
    times = ["acknowledged_at", "take_action_at", "thank_at", "explain_at"]
    header = "external_id,channel,category,listen,opened_at,action_kind,resolved_at,"
    lines = [header + ",".join(times)]
    for count in range(len(times) + 1):
        for resolved in (False, True):
            if resolved and count == len(times):
                continue  # explain_at already resolves it
            stamps = [f"2026-03-0{2 + i}T09:00:00Z" for i in range(count)]
            stamps += [""] * (len(times) - count)
            action = "refund" if count >= 2 else ""
            resolution = "2026-03-09T09:00:00Z" if resolved else ""
            lines.append(
                f"T{count}{'r' if resolved else ''},phone,billing,words,2026-03-01T09:00:00Z,"
                f"{action},{resolution}," + ",".join(stamps)
            )
    source = tmp_path / "shapes.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    latte.ok("import", "complaints", str(source))

    stored_rows = session.exec(select(Complaint)).all()
    assert len(stored_rows) == 9
    for complaint in stored_rows:
        assert complaint.id is not None
        state = workflow.replay(events.workflow_events(events_of(session, complaint.id)))
        assert state is not None
        assert (
            state.stage_due.value if state.stage_due else None,
            state.resolved_at,
            state.first_resolved_at,
            state.assigned_agent,
        ) == (
            complaint.stage_due,
            complaint.resolved_at,
            complaint.first_resolved_at,
            complaint.assigned_agent,
        ), complaint.external_id
    assert check_database(session).problems == []


def test_erasing_free_text_keeps_what_replay_reads() -> None:
    transfer = events.TransferDetails(from_agent="ana", to_agent="sam", note="Call Ana at home")
    reopen = events.ReopenDetails(reason="Ana's parcel wet again", cycle=1)
    assert events.without_free_text(transfer) == events.TransferDetails("ana", "sam", "[erased]")
    assert events.without_free_text(reopen) == events.ReopenDetails("[erased]", 1)
    held = events.HeldDetails(hold_id=3, scope="complaint", reason="Ana Diaz v. Shop")
    assert events.without_free_text(held) == events.HeldDetails(3, "complaint", "[erased]")
    released = events.ReleasedDetails(hold_id=3, scope="complaint", reason="")
    assert events.without_free_text(released) is released
    stage = events.StageDetails(stage=Stage.LISTEN, cycle=0)
    assert events.without_free_text(stage) is stage
    for details in (transfer, reopen):
        assert events.without_free_text(details).to_workflow(T0, "ana") == details.to_workflow(
            T0, "ana"
        )
