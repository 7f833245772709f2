"""What latte prints for people: user text shown exactly as typed, and 80 columns respected.

Names, refs, summaries and notes may contain square brackets, which rich would read as markup;
long agent and customer names must fold inside their column instead of pushing another column
out of the table or cropping its border.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlmodel import Session

from latte_cli.cli import render
from latte_cli.services.views import timeline
from tests.conftest import Latte

BORDERS = "│┃┏┡┗└╭╰┌┢┣├"
LONG_AGENT = "christopher.montgomery@example.com"
OTHER_LONG_AGENT = "bartholomew.fitzgerald-longname@example.com"
LONG_NAME = "Maximiliana Alexandrina Bartholomew-Fitzgerald de la Cruz"
LONG_SUMMARY = "The parcel arrived crushed and the replacement came two weeks late, broken too"
LONG_WORDS = (
    "I ordered a lamp for my mother's birthday; the box was crushed, the lamp was in pieces "
    "and nobody answered the phone for three days."
)
LONG_NOTE = "Prefers a call after five in the evening; speaks Portuguese and English"
LONG_ORDER = "ORDER-2026-000000000000000000000000000000000000000000000000042"


def resolve(latte: Latte, cid: str, agent: str, *, text: str = "Sorry") -> None:
    for stage, flags in (
        ("acknowledge", ["--text", text]),
        ("take_action", ["--kind", "refund", "--detail", text, "--option", text]),
        ("thank", ["--text", text]),
        ("explain", ["--root-cause", "delivery", "--change", text]),
    ):
        latte.ok("--agent", agent, "step", cid, stage, *flags)


# User text is never markup ----------------------------------------------------------------

MARKUP = ["[/]", "[bold]x[/bold]", "[vip]", "[red]", "[link=https://x.test]y[/link]"]


@pytest.mark.parametrize("odd", MARKUP)
def test_brackets_in_user_text_are_shown_as_typed(
    latte: Latte, monkeypatch: pytest.MonkeyPatch, odd: str
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # nothing folds: each value is on one line
    agent, receiver = f"ag{odd}", f"to{odd}"
    cid = latte.ok(
        "--agent", agent, "new", "--customer", f"c-{odd}", "--name", f"Name {odd}",
        "--email", f"{odd}ana@x.com", "--phone", f"+351{odd}", "--channel", "phone",
        "--category", f"cat{odd}", "--location", f"loc{odd}", "--summary", f"sum {odd}",
        "--listen", f"words {odd}",
    ).stdout.strip()  # fmt: skip
    latte.ok(
        "--agent", agent, "transfer", cid, "--to", receiver, "--note", f"note {odd}", "--force"
    )  # fmt: skip
    resolve(latte, cid, agent, text=f"said {odd}")
    latte.ok("--agent", agent, "new", "--customer", odd, "--channel", "phone",
             "--category", "x", "--listen", "y")  # fmt: skip

    shown = latte.ok("--agent", receiver, "show", cid).stdout
    for expected in (
        f"Transferred to you by {agent}",
        f"note {odd}",
        f"Name {odd} (c-{odd})",
        f"Category: cat{odd} · Location: loc{odd}",
        f"Assigned to: {receiver}",
        f"by {agent}",
        f"Summary: sum {odd}",
        f"words {odd}",
        f"said {odd}",
        f"[refund] said {odd}",
        f"[delivery] said {odd}",
        f"to {receiver}: note {odd}",
    ):
        assert expected in shown, (expected, shown)
    assert_in_column(agent, shown, "Who", "When")

    listed = latte.ok("list", "--all").stdout
    assert_in_column(f"Name {odd}", listed, "Customer", "Category")
    assert_in_column(f"cat{odd}", listed, "Category", "Stage due")
    assert_in_column(receiver, listed, "Agent", "Summary")
    assert_in_column(f"sum {odd}", listed, "Summary")

    customer = latte.ok("customer", "show", f"c-{odd}").stdout
    assert f"Name {odd} ref c-{odd} · {odd}ana@x.com · +351{odd}" in customer
    assert_in_column(f"cat{odd}", customer, "Category", "Action")
    assert_in_column(f"sum {odd}", customer, "Summary")
    assert f"{odd} ref {odd}" in latte.ok("customer", "show", odd).stdout

    followups = latte.ok("followup", "list").stdout
    assert_in_column(f"Name {odd}", followups, "Customer", "Phone")
    assert_in_column(f"+351{odd}", followups, "Phone", "Agent")
    assert_in_column(receiver, followups, "Agent", "Summary")
    assert_in_column(f"sum {odd}", followups, "Summary")

    agents = latte.ok("agent", "list").stdout
    assert_in_column(agent, agents, "Agent", "Status")


@pytest.mark.parametrize("odd", ["[/]", "[bold]x[/bold]"])
def test_database_path_with_brackets(
    latte: Latte, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, odd: str
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    path = tmp_path / f"data{odd}base.db"
    latte.ok("--db", str(path), "db", "upgrade")
    result = latte("--db", str(path), "db", "status")
    assert result.exit_code == 0, (result.output, result.exception)
    assert f"Database: {path}" in result.stdout


def test_a_bracket_customer_ref_that_does_not_exist_is_a_clean_refusal(latte: Latte) -> None:
    latte.ok("db", "upgrade")
    result = latte("customer", "show", "[/]")
    assert result.exit_code == 1
    assert "No customer has the ref, email, phone or name '[/]'" in result.stderr
    assert isinstance(result.exception, SystemExit)


# 80 columns with long names ----------------------------------------------------------------


def check_fits(output: str, width: int = 80) -> None:
    """No line wider than the terminal; a line that starts with a border ends with one."""
    assert output.strip()
    for line in output.splitlines():
        assert len(line) <= width, line
        if line[:1] in BORDERS:
            assert line.rstrip()[-1:] in BORDERS + "┓┩┛┘╮╯┐┤┫", line


def squash(text: str) -> str:
    return re.sub(r"\s", "", text)


def column(output: str, header: str, next_header: str | None = None) -> str:
    """Everything printed in one table column, its folded lines joined, without spaces."""
    lines = output.splitlines()
    at = next(
        i
        for i, line in enumerate(lines)
        if re.search(rf"(^|[\s┃]){re.escape(header)}(\s|┃|$)", line)
        and (next_header is None or next_header in line)
    )
    start = re.search(rf"(^|[\s┃])({re.escape(header)})", lines[at])
    assert start is not None
    begin = start.start(2)
    end = lines[at].index(next_header, begin) if next_header else None
    parts = []
    for line in lines[at + 1 :]:
        if not line.strip() or line[:1] in "└╰":
            break
        if set(line.strip()) <= set("━╇┡┩─"):
            continue
        parts.append(line[begin:end])
    return re.sub(r"[\s│┃]", "", "".join(parts))


def assert_in_column(text: str, output: str, header: str, next_header: str | None = None) -> None:
    got = column(output, header, next_header)
    assert squash(text) in got, (text, header, got, output)


@pytest.fixture
def long_names(latte: Latte) -> str:
    """A complaint resolved, reopened, taken again and transferred, by agents with long names."""
    cid = latte.ok(
        "--agent", LONG_AGENT, "new", "--customer", "C-1", "--name", LONG_NAME, "--phone",
        "+351 912 345 678", "--channel", "phone", "--category", "delivery", "--summary",
        LONG_SUMMARY, "--listen", LONG_WORDS, "--at", "2026-01-05T09:00",
    ).stdout.strip()  # fmt: skip
    resolve(latte, cid, LONG_AGENT, text=LONG_WORDS)
    latte.ok("--agent", LONG_AGENT, "reopen", cid, "--reason", LONG_WORDS)
    latte.ok(
        "--agent", LONG_AGENT, "step", cid, "take_action", "--kind", "replacement",
        "--detail", LONG_WORDS,
    )  # fmt: skip
    latte.ok(
        "--agent", LONG_AGENT, "transfer", cid, "--to", OTHER_LONG_AGENT, "--note", LONG_NOTE,
        "--force",
    )  # fmt: skip
    # A second, resolved complaint of the same customer, for the follow-up list.
    second = latte.ok(
        "--agent", OTHER_LONG_AGENT, "new", "--customer", "C-1", "--channel", "email",
        "--category", "billing-and-invoicing-department", "--summary", LONG_SUMMARY,
        "--listen", LONG_WORDS, "--at", "2026-01-05T09:00",
    ).stdout.strip()  # fmt: skip
    resolve(latte, second, OTHER_LONG_AGENT, text=LONG_NOTE)
    return cid


def test_show_keeps_long_agent_names_whole_at_80_columns(latte: Latte, long_names: str) -> None:
    out = latte.ok("--agent", OTHER_LONG_AGENT, "show", long_names).stdout
    check_fits(out)
    # Names too long for a Who column beside the text: one record per step, names whole.
    lines = out.splitlines()
    assert not any("┃ Who" in line for line in lines)
    records = [line for line in lines if line.startswith(("listen · ", "take_action (#2) · "))]
    assert len(records) == 2 and all(line.endswith(f" · {LONG_AGENT}") for line in records)
    assert squash(LONG_WORDS) in squash(out)
    assert squash(f"to {OTHER_LONG_AGENT}: {LONG_NOTE}") in squash(out)
    # The transfer note's panel: a long sender stays whole.
    assert squash(f"{LONG_AGENT}, ") in squash(out.split("Complaint")[0])
    assert squash(LONG_NOTE) in squash(out.split("Complaint")[0])


def test_list_customer_and_followups_fit_80_columns(latte: Latte, long_names: str) -> None:
    listed = latte.ok("list", "--all").stdout
    check_fits(listed)
    assert_in_column(LONG_NAME, listed, "Customer", "Category")
    assert_in_column(OTHER_LONG_AGENT, listed, "Agent", "Summary")
    assert_in_column(LONG_SUMMARY, listed, "Summary")

    customer = latte.ok("customer", "show", "C-1").stdout
    check_fits(customer)
    assert squash(LONG_NAME) in squash(customer.splitlines()[0] + customer.splitlines()[1])
    assert_in_column(LONG_SUMMARY, customer, "Summary")

    followups = latte.ok("followup", "list").stdout
    check_fits(followups)
    assert_in_column(LONG_NAME, followups, "Customer", "Phone")
    assert_in_column("+351 912 345 678", followups, "Phone", "Agent")
    assert_in_column(OTHER_LONG_AGENT, followups, "Agent", "Summary")
    assert_in_column(LONG_SUMMARY, followups, "Summary")

    longest = "x" * 40 + "." + LONG_AGENT  # 75 characters
    latte.ok("--agent", longest, "agent", "away")
    agents = latte.ok("agent", "list").stdout
    check_fits(agents)
    for name in (OTHER_LONG_AGENT, longest):
        assert_in_column(name, agents, "Agent", "Status")


def test_late_followups_fit_80_columns(latte: Latte) -> None:
    cid = latte.ok(
        "--agent", LONG_AGENT, "new", "--name", LONG_NAME, "--channel", "phone",
        "--category", "x", "--listen", LONG_WORDS, "--at", "2025-01-05T09:00",
    ).stdout.strip()  # fmt: skip
    for stage, flags in (
        ("acknowledge", ["--text", "a"]),
        ("take_action", ["--kind", "refund", "--detail", "d"]),
        ("thank", ["--text", "t"]),
        ("explain", ["--root-cause", "delivery", "--change", "c"]),
    ):
        latte.ok("step", cid, stage, *flags, "--at", "2025-01-05T10:00")
    out = latte.ok("followup", "list").stdout
    check_fits(out)
    assert "late" in column(out, "Due", "Customer")


def test_purchases_with_long_order_refs_fit_80_columns(latte: Latte, tmp_path: Path) -> None:
    latte.ok("new", "--customer", "C-1", "--channel", "phone", "--category", "x", "--listen", "y")
    purchases = tmp_path / "purchases.csv"
    purchases.write_text(
        f"order_ref,customer_ref,purchased_at,amount\n{LONG_ORDER},C-1,2026-01-02T10:00Z,123456.78\n"
    )
    latte.ok("import", "purchases", str(purchases))
    out = latte.ok("customer", "show", "C-1").stdout
    check_fits(out)
    assert_in_column(LONG_ORDER, out, "Order", "When")


def test_guided_summary_fits_80_columns(
    latte: Latte, long_names: str, session: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    view = timeline(session, int(long_names))
    session.commit()
    capsys.readouterr()
    render.show_summary(view.complaint, view.stages, None, None)
    out = capsys.readouterr().out
    check_fits(out)
    assert_in_column(LONG_AGENT, out, "By", "Completed")


def test_a_long_transfer_sender_stays_whole(latte: Latte) -> None:
    sender = "a-really-long-agent-name-from-the-night-shift@support.example.com"
    latte.ok("--agent", sender, "new", "--channel", "phone", "--category", "x", "--listen", "y")
    latte.ok("agent", "available")  # ana, the receiver, is known
    latte.ok("--agent", sender, "transfer", "1", "--to", "ana", "--note", LONG_NOTE)
    out = latte.ok("show", "1").stdout
    check_fits(out)
    panel = out.split("Complaint 1")[0]
    assert panel.lstrip().startswith("╭─ Transferred to you")
    assert "…" not in panel
    assert squash(f"From {sender}") in squash(panel)


def test_sla_countdown_near_and_past_target() -> None:
    from datetime import UTC, datetime, timedelta

    opened = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert render.sla_countdown(opened, opened + timedelta(hours=2), 24) is None
    assert render.sla_countdown(opened, opened + timedelta(hours=17, minutes=59), 24) is None
    near = render.sla_countdown(opened, opened + timedelta(hours=20), 24)
    assert near is not None and near.plain == "SLA: 4h 00m left (target 24h)"
    at = render.sla_countdown(opened, opened + timedelta(hours=24), 24)
    assert at is not None and at.plain == "SLA: overdue by 0s (target 24h)"
    late = render.sla_countdown(opened, opened + timedelta(hours=30), 24)
    assert late is not None and late.plain == "SLA: overdue by 6h 00m (target 24h)"
