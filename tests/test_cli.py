"""The commands as a script or an agent types them: wiring, output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from latte_cli.cli.main import app

from .conftest import Latte

NEW = (
    "new",
    "--customer",
    "C-104",
    "--name",
    "Ana Diaz",
    "--email",
    "ana@example.com",
    "--channel",
    "phone",
    "--category",
    "Delivery",
    "--location",
    "Lyon",
    "--listen",
    "My parcel arrived broken.\nThe box was wet.",
)


def assert_fits_80_columns(output: str) -> None:
    """No line is wider than 80 columns and no bordered table lost its right edge to cropping."""
    for line in output.splitlines():
        assert len(line) <= 80, line
        if line.startswith(("│", "┃", "┏", "┡", "└")):
            assert line.rstrip()[-1] in "│┃┓┩┘", line


def walk_through(latte: Latte, cid: str, start: datetime) -> None:
    at = start
    steps = [
        ("acknowledge", 10, ("--text", "I am sorry, that is not good enough.")),
        (
            "take_action",
            50,
            (
                "--kind",
                "replacement",
                "--detail",
                "New parcel sent",
                "--amount",
                "0",
                "--option",
                "refund",
                "--option",
                "replacement",
            ),
        ),
        ("thank", 5, ("--text", "Thank you for telling us.")),
        ("explain", 120, ("--root-cause", "delivery", "--change", "Waterproof boxes")),
    ]
    for stage, minutes, args in steps:
        at += timedelta(minutes=minutes)
        latte.ok("step", cid, stage, *args, "--at", at.isoformat())


def test_a_complaint_from_first_word_to_resolution(latte: Latte) -> None:
    start = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    result = latte.ok(*NEW, "--at", start.isoformat())
    cid = result.stdout.strip()
    assert cid == "1"
    assert "latte step 1 acknowledge" in result.stderr
    walk_through(latte, cid, start)

    data = json.loads(latte.ok("show", cid, "--json").stdout)
    assert data["status"] == "resolved" and data["stage_due"] is None
    assert data["customer"] == {
        "ref": "C-104",
        "name": "Ana Diaz",
        "email": "ana@example.com",
        "phone": None,
    }
    assert data["category"] == "delivery"
    assert [s["stage"] for s in data["stages"]] == [
        "listen",
        "acknowledge",
        "take_action",
        "thank",
        "explain",
    ]
    assert [s["duration_seconds"] for s in data["stages"]] == [0, 600, 3000, 300, 7200]
    assert data["total_seconds"] == (10 + 50 + 5 + 120) * 60
    assert data["stages"][2]["options_offered"] == ["refund", "replacement"]
    assert data["stages"][2]["amount"] == 0
    assert data["stages"][4]["root_cause"] == "delivery"

    shown = latte.ok("show", cid).stdout
    for needle in (
        "Complaint 1",
        "resolved",
        "Ana Diaz (C-104)",
        "10m",
        "50m",
        "2h 00m",
        "[replacement] New parcel",
        "Resolved in 3h 05m",
    ):
        assert needle in shown
    assert_fits_80_columns(shown)


def test_transfer_and_reopen_appear_in_the_timeline(latte: Latte) -> None:
    start = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    latte.ok(*NEW, "--at", start.isoformat())
    walk_through(latte, "1", start)
    latte.ok("--agent", "sam", "agent", "available")
    # A resolved complaint is reopened first, then handed over.
    latte.ok("reopen", "1", "--reason", "Second parcel also wet")
    assert (
        "transferred to sam"
        in latte.ok("transfer", "1", "--to", "sam", "--note", "Prefers email").stdout
    )
    data = json.loads(latte.ok("show", "1", "--json").stdout)
    assert data["stage_due"] == "take_action" and data["reopen_count"] == 1
    assert data["total_seconds"] is None
    assert "First resolved in 3h 05m; reopened once, open again" in latte.ok("show", "1").stdout
    assert data["assigned_agent"] == "sam"
    kinds = [(h["kind"], h.get("to_agent"), h.get("reason")) for h in data["handoffs"]]
    assert kinds == [("reopen", None, "Second parcel also wet"), ("transfer", "sam", None)]
    first_resolution = data["first_resolved_at"]
    latte.ok(
        "step", "1", "take_action", "--kind", "refund", "--detail", "Refunded", "--amount", "19.90"
    )
    latte.ok("step", "1", "thank", "--text", "Thanks for your patience")
    latte.ok("step", "1", "explain", "--root-cause", "delivery", "--change", "New courier")
    data = json.loads(latte.ok("show", "1", "--json").stdout)
    assert data["first_resolved_at"] == first_resolution
    assert data["resolved_at"] > first_resolution
    assert [s["cycle"] for s in data["stages"]] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert data["action_kind"] == "refund"
    text = latte.ok("show", "1").stdout
    assert "take_action (#2)" in text and "to sam: Prefers email" in text
    assert "first resolved in 3h 05m, then reopened once" in text
    assert data["first_resolution_seconds"] == (10 + 50 + 5 + 120) * 60


def test_new_json_and_customer_matching(latte: Latte) -> None:
    first = json.loads(latte.ok(*NEW, "--json").stdout)
    expected_keys = {
        "id",
        "external_id",
        "customer",
        "channel",
        "category",
        "location",
        "severity",
        "summary",
        "status",
        "stage_due",
        "merged_into",
        "assigned_agent",
        "opened_by",
        "opened_at",
        "acknowledged_at",
        "first_resolved_at",
        "resolved_at",
        "reopen_count",
        "action_kind",
        "root_cause",
    }
    assert set(first) == expected_keys
    assert first["stage_due"] == "acknowledge" and first["opened_by"] == "ana"
    assert first["summary"] == "My parcel arrived broken."
    # Same email, no ref: matched to the same customer, phone filled in.
    latte.ok(
        "new",
        "--email",
        "ANA@example.com",
        "--phone",
        "0600",
        "--channel",
        "email",
        "--category",
        "billing",
        "--listen",
        "Charged twice",
    )
    history = json.loads(latte.ok("customer", "show", "C-104", "--json").stdout)
    assert history["customer"]["phone"] == "0600"
    assert [c["id"] for c in history["complaints"]] == [2, 1]
    # No details at all: an anonymous complaint.
    anonymous = json.loads(
        latte.ok("new", "--channel", "web", "--category", "x", "--listen", "hi", "--json").stdout
    )
    assert anonymous["customer"] is None


def list_ids(latte: Latte, *args: str) -> list[int]:
    return [row["id"] for row in json.loads(latte.ok("list", "--json", *args).stdout)]


def test_list_filters_and_sorting(latte: Latte) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rows: list[tuple[str, ...]] = [
        ("--channel", "phone", "--category", "billing", "--location", "Lyon", "--customer", "A"),
        ("--channel", "email", "--category", "delivery", "--location", "Paris", "--customer", "B"),
        ("--channel", "phone", "--category", "delivery", "--location", "Paris", "--customer", "A"),
    ]
    for days, extra in zip((3, 2, 0), rows, strict=True):
        at = (now - timedelta(days=days)).isoformat()
        latte.ok("new", *extra, "--listen", "words", "--at", at)
    latte.ok("step", "2", "acknowledge", "--text", "sorry")
    latte.ok("--agent", "sam", "transfer", "3", "--to", "sam", "--note", "yours")

    # --all: every complaint in the order of opening, which each filter narrows.
    assert list_ids(latte, "--all") == [1, 2, 3]
    assert list_ids(latte, "--all", "--sort", "newest") == [3, 2, 1]
    assert list_ids(latte, "--all", "--channel", "phone") == [1, 3]
    assert list_ids(latte, "--all", "--category", "DELIVERY") == [2, 3]
    assert list_ids(latte, "--all", "--location", "Paris") == [2, 3]
    assert list_ids(latte, "--all", "--customer", "A") == [1, 3]
    assert list_ids(latte, "--all", "--stage", "take_action") == [2]
    assert list_ids(latte, "--all", "--since", (now - timedelta(days=1)).date().isoformat()) == [3]
    assert list_ids(latte, "--all", "--until", (now - timedelta(days=1)).isoformat()) == [1, 2]
    assert list_ids(latte, "--all", "--limit", "2") == [1, 2]
    assert list_ids(latte, "--all", "--status", "resolved") == []
    # The default: what needs my action (sam has 3), and the same filters on it.
    assert list_ids(latte) == [1, 2]
    assert list_ids(latte, "--channel", "phone") == [1]
    assert list_ids(latte, "--customer", "A") == [1]
    assert list_ids(latte, "--assigned", "sam") == [3]
    assert list_ids(latte, "--mine") == [1, 2]
    assert list_ids(latte, "--overdue") == [1, 2]
    assert list_ids(latte, "--overdue", "--target", "60") == [1]
    assert list_ids(latte, "--limit", "1") == [1]
    assert list_ids(latte, "--status", "resolved") == []
    table = latte.ok("list", "--overdue").stdout
    assert "breached" in table and "Summary" in table and "words" in table
    assert_fits_80_columns(table)
    assert "No complaints match." in latte.ok("list", "--status", "resolved").stdout


def test_agent_identity_comes_from_option_then_environment(latte: Latte, monkeypatch: Any) -> None:
    assert json.loads(latte.ok("--agent", "zoe", *NEW, "--json").stdout)["opened_by"] == "zoe"
    assert json.loads(latte.ok(*NEW, "--json").stdout)["opened_by"] == "ana"
    monkeypatch.delenv("LATTE_AGENT")
    import getpass

    assert json.loads(latte.ok(*NEW, "--json").stdout)["opened_by"] == getpass.getuser()


def walk_commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append((path, command))
        if hasattr(command, "commands"):
            found.extend(walk_commands(command, path))
    return found


def test_every_command_and_option_has_help(latte: Latte) -> None:
    import typer.main

    root = typer.main.get_command(app)
    commands = walk_commands(root)
    assert {p[0] for p, _ in commands} >= {
        "new",
        "step",
        "show",
        "list",
        "transfer",
        "reopen",
        "customer",
        "db",
    }
    for path, command in commands:
        assert command.help or command.short_help, path
        for param in command.params:
            if param.param_type_name == "option" or getattr(param, "help", None) is not None:
                assert getattr(param, "help", None), (path, param.name)
        latte.ok(*path, "--help")
    for param in root.params:
        assert getattr(param, "help", None), param.name


def test_python_dash_m_runs_latte() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "latte_cli", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "Acknowledge" in result.stdout


def test_customer_search_matches_ref_email_and_name(latte: Latte) -> None:
    latte.ok(*NEW)
    latte.ok(
        "new",
        "--customer",
        "C-200",
        "--name",
        "Bo Lind",
        "--channel",
        "chat",
        "--category",
        "billing",
        "--listen",
        "Charged twice",
    )

    def refs(*args: str) -> list[str]:
        found = json.loads(latte.ok("customer", "search", *args, "--json").stdout)
        return [customer["ref"] for customer in found]

    assert refs("diaz") == ["C-104"]
    assert refs("EXAMPLE.COM") == ["C-104"]
    assert refs("c-") == ["C-104", "C-200"]
    assert refs("nobody") == []
    assert "No customer matches 'nobody'" in latte.ok("customer", "search", "nobody").stdout
    assert "Bo Lind" in latte.ok("customer", "search", "lind").stdout
