"""A duplicate closed by `latte merge` is `merged` wherever a status is shown or filtered
(show, search, list, customer show, export), on both stores; the commands that would carry
it on point at the complaint it was merged into, and those that keep its record (amend,
hold) still work on it (docs/architecture.md, "Merges")."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from latte_cli.cli import guided
from latte_cli.cli.prompts import Prompter

from .conftest import Latte


def opened(latte: Latte, words: str) -> int:
    return int(
        latte.ok(
            "new", "--customer", "C-1", "--name", "Ana", "--channel", "phone",
            "--category", "delivery", "--listen", words,
        ).stdout.strip()
    )  # fmt: skip


@pytest.fixture
def merged(latte: Latte) -> tuple[int, int, int]:
    """Complaint 1 kept, 2 merged into it, 3 resolved: the three statuses."""
    kept, duplicate, done = (opened(latte, f"kettle {n}") for n in ("one", "two", "three"))
    latte.ok("merge", str(duplicate), "--into", str(kept), "--reason", "same kettle")
    for stage, args in (
        ("acknowledge", ("--text", "Sorry")),
        ("take_action", ("--kind", "refund", "--detail", "Done", "--amount", "5")),
        ("thank", ("--text", "Thanks")),
        ("explain", ("--root-cause", "delivery", "--change", "Better boxes")),
    ):
        latte.ok("step", str(done), stage, *args)
    return kept, duplicate, done


def statuses(rows: list[dict[str, Any]]) -> dict[int, str]:
    return {row["id"]: row["status"] for row in rows}


def test_a_merged_duplicate_is_merged_in_every_view(
    latte: Latte, db_url: str, merged: tuple[int, int, int]
) -> None:
    kept, duplicate, done = merged
    expected = {kept: "open", duplicate: "merged", done: "resolved"}
    shown = json.loads(latte.ok("show", str(duplicate), "--json").stdout)
    assert shown["status"] == "merged"
    assert statuses(json.loads(latte.ok("search", "kettle", "--json").stdout)) == expected
    listed = latte.ok("list", "--all", "--customer", "C-1", "--json").stdout
    assert statuses(json.loads(listed)) == expected
    history = json.loads(latte.ok("customer", "show", "C-1", "--json").stdout)
    assert statuses(history["complaints"]) == expected
    exported = latte.ok("export", "complaints", "--format", "csv").stdout
    by_summary = {row["summary"]: row["status"] for row in csv.DictReader(io.StringIO(exported))}
    assert by_summary == {"kettle one": "open", "kettle two": "merged", "kettle three": "resolved"}


def test_the_status_filters_take_merged_and_resolved_leaves_it_out(
    latte: Latte, merged: tuple[int, int, int]
) -> None:
    kept, duplicate, done = merged
    for status, ids in (
        ("open", [kept]),
        ("resolved", [done]),
        ("merged", [duplicate]),
        ("all", [kept, duplicate, done]),
    ):
        listed = latte.ok("list", "--status", status, "--sort", "id", "--json").stdout
        assert [row["id"] for row in json.loads(listed)] == ids, status
        found = latte.ok("search", "kettle", "--status", status, "--json").stdout
        assert sorted(hit["id"] for hit in json.loads(found)) == ids, status


def test_list_and_search_tables_say_merged_into_and_no_deadline(
    latte: Latte, merged: tuple[int, int, int]
) -> None:
    kept, duplicate, _ = merged
    table = latte.ok("list", "--all", "--sort", "id").stdout
    row = next(line for line in table.splitlines() if line.strip().startswith(f"{duplicate} "))
    below = table.splitlines()[table.splitlines().index(row) + 1]
    assert "merged into" in row and below.split()[0] == str(kept)
    assert "due" not in below  # no deadline: the complaint kept works to it
    assert "merged into" in latte.ok("search", "two").stdout


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[PipeInput]:
    with create_pipe_input() as pipe_input:
        monkeypatch.setattr("latte_cli.cli.app.stdin_is_terminal", lambda: True)
        monkeypatch.setattr(guided, "make_prompter", lambda: Prompter(pipe_input, DummyOutput()))
        pipe_input.close()
        yield pipe_input


def test_resume_points_at_the_complaint_kept(
    latte: Latte, merged: tuple[int, int, int], terminal: PipeInput
) -> None:
    kept, duplicate, _ = merged
    result = latte("resume", str(duplicate))
    assert result.exit_code == 1, result.output
    assert f"merged into complaint {kept}" in result.stderr
    assert f"latte resume {kept}" in result.stderr
    assert "reopen" not in result.stderr


def test_resume_without_a_terminal_points_at_the_complaint_kept(
    latte: Latte, merged: tuple[int, int, int]
) -> None:
    kept, duplicate, done = merged
    result = latte("resume", str(duplicate))
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        f"Error: Complaint {duplicate} was merged into complaint {kept}: nothing to continue "
        f"here. Resume that one with `latte resume {kept}`."
    )
    # A resolved one is told how to reopen it, not to record a step either.
    resolved = latte("resume", str(done))
    assert resolved.exit_code == 1
    assert f"latte reopen {done} --reason" in resolved.stderr
    assert "latte step" not in resolved.stderr
    # One with a stage due still is.
    assert f"latte step {kept} acknowledge" in latte("resume", str(kept)).stderr


def test_advise_points_at_the_complaint_kept_amend_and_hold_work(
    latte: Latte, merged: tuple[int, int, int]
) -> None:
    kept, duplicate, _ = merged
    advice = latte("advise", str(duplicate))
    assert advice.exit_code == 1
    assert f"latte advise {kept}" in advice.stderr
    latte.ok("advise", str(kept))
    # Its record is still its own: a typo in what it heard can be corrected, and a legal hold
    # keeps it from retention and erasure like any complaint.
    latte.ok("amend", str(duplicate), "listen", "--text", "kettle two, spout", "--reason", "typo")
    assert "spout" in json.dumps(json.loads(latte.ok("show", str(kept), "--json").stdout))
    latte.ok("hold", str(duplicate), "--reason", "court order")
    for refused in (("step", str(duplicate), "acknowledge", "--text", "x"),):
        assert latte(*refused).exit_code == 1
