"""Text that tries to break in: every free-text flag of new, step, transfer, reopen, followup
record, hold and forget, and the imported complaint, follow-up and purchase fields, with control
characters, bidirectional overrides, zero-width characters, very long strings, SQL and shell
metacharacters and spreadsheet formula prefixes.

Whatever is typed: no traceback, a refused command writes nothing, and what tables and the HTML
report show cannot reorder or hide text (docs/architecture.md, "User text on screen")."""

from __future__ import annotations

import csv
import io
import sqlite3
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import Result

from latte_cli.cli.render import visible

from .conftest import Latte

HOSTILE = [
    "\u202eevil.exe\u202c",  # right-to-left override
    "a\u2066b\u2069c\u200fd\u061c",  # isolates, marks
    "in\u200bvis\u200dible\ufeff\u2060",  # zero-width
    "\x1b[2J\x1b[31mred\x1b]0;title\x07",  # terminal escape sequences
    "bell\x07back\x08\x7fdel\rret\x0bvt\x0cff\x85nel\u2028ls\u2029ps",
    "'; DROP TABLE complaint; --",
    '" OR 1=1 --',
    "$(rm -rf ~) `id` ; | & > /dev/null",
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "<script>alert(1)</script>&amp;",
    "[bold red]markup[/]",
    "%s %d {0} {name}",
    "\U0001f600 emoji",
]

ALPHABET = st.characters(
    codec="utf-8",
    categories=("L", "N", "P", "S", "Zs", "Cc", "Cf", "Zl", "Zp", "Co"),
    exclude_characters="\x00",
)
texts = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(ALPHABET, min_size=1, max_size=40),
    st.lists(st.sampled_from(HOSTILE), min_size=1, max_size=3).map("".join),
)
FAST = settings(
    max_examples=5,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: keeps the suite fast
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The longest text latte keeps (1,000,000 characters; docs/architecture.md, "Batch import").
MEGABYTE = "\u202e" + "x" * 999_999
HIDING = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def hidden_characters(shown: str) -> set[str]:
    """Characters that could reorder or hide text on a screen (newline and tab are fine)."""
    return {c for c in shown if c not in "\n\t" and unicodedata.category(c) in HIDING}


def counts(sqlite_path: Path) -> tuple[int, ...]:
    with sqlite3.connect(sqlite_path) as raw:
        return tuple(
            raw.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("customer", "complaint", "stage_record", "event", "followup")
        )


def outcome(
    result: Result, before: tuple[int, ...], sqlite_path: Path, *, partial: bool = False
) -> bool:
    """True when the command succeeded; a refusal is one line and wrote nothing. `partial`:
    exit 3 (an import that rejected rows, listed in its rejects file) is an answer too."""
    if partial and result.exit_code == 3:
        return True
    assert result.exit_code in (0, 1), (result.exit_code, result.output[:500])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    if result.exit_code == 1:
        assert result.output.startswith("Error: "), result.output[:500]
        assert len(result.output.strip().splitlines()) == 1, result.output[:500]
        assert "Traceback" not in result.output
        assert counts(sqlite_path) == before
        return False
    return True


def assert_shown_safely(latte: Latte, complaint_id: int) -> None:
    for args in (("show", str(complaint_id)), ("list", "--sort", "newest", "--limit", "3")):
        shown = latte.ok(*args).stdout
        assert hidden_characters(shown) == set(), args


def newest_id(sqlite_path: Path) -> int:
    with sqlite3.connect(sqlite_path) as raw:
        return int(raw.execute("SELECT MAX(id) FROM complaint").fetchone()[0])


def opened(latte: Latte) -> int:
    import json

    result = latte.ok(
        "new", "--channel", "phone", "--category", "delivery", "--listen", "Broken.", "--json"
    )
    return int(json.loads(result.stdout)["id"])


NEW_FLAGS = (
    "--listen",
    "--category",
    "--location",
    "--summary",
    "--customer",
    "--name",
    "--email",
    "--phone",
)


def test_visible_shows_what_would_hide_or_reorder_text() -> None:
    assert visible("abc") == "abc"
    assert visible("a\u202eb") == "a\\u202eb"
    assert visible("\x1b[31m") == "\\x1b[31m"
    assert visible("zero\u200bwidth") == "zero\\u200bwidth"
    assert visible("two\nlines\tand tab") == "two\nlines\tand tab"
    assert visible("\U000e0041") == "\\U000e0041"  # a tag character
    assert visible("café ✓ 😀") == "café ✓ 😀"


@pytest.mark.sqlite_only
@FAST
@given(flag=st.sampled_from(NEW_FLAGS), value=texts)
def test_new_with_hostile_text(latte: Latte, sqlite_path: Path, flag: str, value: str) -> None:
    latte.ok("db", "upgrade")
    before = counts(sqlite_path)
    args = ["new", "--channel", "phone", "--category", "delivery", "--listen", "Broken."]
    if flag in ("--listen", "--category"):
        args = [a for a in args if a not in (flag, "Broken." if flag == "--listen" else "delivery")]
    result = latte(*args, flag, value)
    if outcome(result, before, sqlite_path):
        assert_shown_safely(latte, newest_id(sqlite_path))


# Every stage's free-text flags, and what each stage needs besides (given plainly).
STEP_FLAGS = {
    "acknowledge": ("--text",),
    "take_action": ("--text", "--detail", "--amount", "--option"),
    "thank": ("--text",),
    "explain": ("--text", "--change"),
}
STEP_PLAIN = {
    "acknowledge": ("--text", "Sorry."),
    "take_action": ("--kind", "other", "--detail", "x"),
    "thank": ("--text", "Thanks."),
    "explain": ("--root-cause", "other", "--text", "Why.", "--change", "More checks."),
}


def advanced(latte: Latte, to: str) -> int:
    """A new complaint with every stage before `to` recorded plainly ("resolved": all)."""
    complaint = opened(latte)
    for stage, args in STEP_PLAIN.items():
        if stage == to:
            break
        latte.ok("step", str(complaint), stage, *args)
    return complaint


@pytest.mark.sqlite_only
@FAST
@given(
    stage_flag=st.sampled_from(
        [(stage, flag) for stage, flags in STEP_FLAGS.items() for flag in flags]
    ),
    value=texts,
)
def test_step_with_hostile_text(
    latte: Latte, sqlite_path: Path, stage_flag: tuple[str, str], value: str
) -> None:
    stage, flag = stage_flag
    complaint = advanced(latte, stage)
    plain = list(STEP_PLAIN[stage])
    if flag in plain:
        del plain[plain.index(flag) : plain.index(flag) + 2]
    before = counts(sqlite_path)
    result = latte("step", str(complaint), stage, *plain, flag, value)
    if outcome(result, before, sqlite_path):
        assert_shown_safely(latte, complaint)


@pytest.mark.sqlite_only
@FAST
@given(flag=st.sampled_from(("--to", "--note")), value=texts)
def test_transfer_with_hostile_text(latte: Latte, sqlite_path: Path, flag: str, value: str) -> None:
    complaint = opened(latte)
    before = counts(sqlite_path)
    given_values = {"--to": "ben", "--note": "Call back after 5."}
    given_values[flag] = value
    result = latte(
        "transfer", str(complaint), "--to", given_values["--to"], "--note",
        given_values["--note"], "--force",
    )  # fmt: skip
    if outcome(result, before, sqlite_path):
        assert_shown_safely(latte, complaint)


@pytest.mark.sqlite_only
@FAST
@given(value=texts)
def test_reopen_with_hostile_reason(latte: Latte, sqlite_path: Path, value: str) -> None:
    complaint = advanced(latte, "resolved")
    before = counts(sqlite_path)
    result = latte("reopen", str(complaint), "--reason", value)
    if outcome(result, before, sqlite_path):
        assert_shown_safely(latte, complaint)


@pytest.mark.sqlite_only
@FAST
@given(value=texts)
def test_followup_note_with_hostile_text(latte: Latte, sqlite_path: Path, value: str) -> None:
    complaint = advanced(latte, "resolved")
    before = counts(sqlite_path)
    result = latte("followup", "record", str(complaint), "--reached", "--note", value)
    if outcome(result, before, sqlite_path):
        assert_shown_safely(latte, complaint)
        assert hidden_characters(latte.ok("followup", "list").stdout) == set()


@pytest.mark.sqlite_only
@FAST
@given(command=st.sampled_from(("hold", "release", "forget")), value=texts)
def test_hold_and_forget_reasons_with_hostile_text(
    latte: Latte, sqlite_path: Path, command: str, value: str
) -> None:
    latte.ok("db", "upgrade")
    ref = f"C-{counts(sqlite_path)[1] + 1}"
    latte.ok("new", "--customer", ref, "--channel", "phone", "--category", "x", "--listen", "y")
    if command == "release":
        latte.ok("hold", ref, "--reason", "case 1")
    before = counts(sqlite_path)
    args = {
        "hold": ("hold", ref, "--reason", value),
        "release": ("hold", ref, "--release", "--reason", value),
        "forget": ("customer", "forget", ref, "--reason", value, "--yes"),
    }[command]
    if outcome(latte(*args), before, sqlite_path):
        assert hidden_characters(latte.ok("hold", "--list", "--all").stdout) == set()
        assert_shown_safely(latte, newest_id(sqlite_path))


IMPORTED = ("Customer", "Name", "Email", "Category", "Location", "Subject", "Description", "Agent")


@pytest.mark.sqlite_only
@FAST
@given(values=st.fixed_dictionaries({column: texts for column in IMPORTED}))
def test_import_of_hostile_fields(
    latte: Latte, sqlite_path: Path, tmp_path: Path, values: dict[str, str]
) -> None:
    latte.ok("db", "upgrade")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Ticket", "Channel", "Created", *IMPORTED])
    writer.writerow(["T1", "email", "2026-11-02 09:00", *(values[c] for c in IMPORTED)])
    source = tmp_path / "hostile.csv"
    source.write_text(buffer.getvalue(), encoding="utf-8")
    before = counts(sqlite_path)
    result = latte("import", "complaints", str(source))
    if outcome(result, before, sqlite_path, partial=True) and counts(sqlite_path) != before:
        assert_shown_safely(latte, newest_id(sqlite_path))
        html = tmp_path / "report.html"
        latte.ok(
            "report", "weekly", "--since", "2026-11-01", "--until", "2026-11-08",
            "--by", "category", "--format", "html", "--output", str(html),
        )  # fmt: skip
        text = html.read_text(encoding="utf-8")
        assert hidden_characters(text) == set()
        assert "<script>alert" not in text


@pytest.mark.sqlite_only
@FAST
@given(note=texts, order=texts, customer=texts)
def test_import_of_hostile_followups_and_purchases(
    latte: Latte, sqlite_path: Path, tmp_path: Path, note: str, order: str, customer: str
) -> None:
    complaints = tmp_path / "c.csv"
    complaints.write_text(
        "Ticket,Channel,Category,Created,Description,Resolved\n"
        "T1,email,billing,2026-11-02 09:00,Charged twice,2026-11-03 09:00\n",
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(complaints))
    for kind, header, row in (
        ("followups", ["complaint_external_id", "reached", "note"], ["T1", "yes", note]),
        (
            "purchases",
            ["order_ref", "customer_ref", "purchased_at", "amount"],
            [order, customer, "2026-11-04T10:00:00Z", "12.50"],
        ),
    ):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerow(row)
        source = tmp_path / f"{kind}.csv"
        source.write_text(buffer.getvalue(), encoding="utf-8")
        before = counts(sqlite_path)
        outcome(latte("import", kind, str(source)), before, sqlite_path, partial=True)
    assert_shown_safely(latte, newest_id(sqlite_path))
    assert hidden_characters(latte.ok("followup", "list").stdout) == set()


@pytest.mark.sqlite_only
def test_a_megabyte_of_text_in_an_imported_description(
    latte: Latte, sqlite_path: Path, tmp_path: Path
) -> None:
    latte.ok("db", "upgrade")
    source = tmp_path / "big.csv"
    source.write_text(
        "Ticket,Channel,Category,Created,Description\n"
        f'T1,email,billing,2026-11-02 09:00,"{MEGABYTE}"\n',
        encoding="utf-8",
    )
    before = counts(sqlite_path)
    result = latte("import", "complaints", str(source))
    if outcome(result, before, sqlite_path, partial=True) and counts(sqlite_path) != before:
        assert_shown_safely(latte, newest_id(sqlite_path))


@pytest.mark.sqlite_only
def test_a_megabyte_in_every_free_text_flag(latte: Latte, sqlite_path: Path) -> None:
    complaint = opened(latte)
    base = ["new", "--channel", "phone", "--category", "delivery", "--listen", "Broken."]
    commands = [[*base, flag, MEGABYTE] for flag in NEW_FLAGS]
    commands += [
        ["step", str(complaint), "acknowledge", "--text", MEGABYTE],
        ["transfer", str(complaint), "--to", "ben", "--note", MEGABYTE, "--force"],
        ["transfer", str(complaint), "--to", MEGABYTE, "--note", "x", "--force"],
        ["reopen", str(complaint), "--reason", MEGABYTE],
    ]
    for args in commands:
        before = counts(sqlite_path)
        if outcome(latte(*args), before, sqlite_path):
            assert_shown_safely(latte, newest_id(sqlite_path))
