"""Text that tries to break in: every free-text flag of new, step, transfer and reopen and the
imported complaint fields, with control characters, bidirectional overrides, zero-width
characters, very long strings, SQL and shell metacharacters and spreadsheet formula prefixes.

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
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: keeps the suite fast
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MEGABYTE = "\u202e" + "x" * 1_000_000
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


STEP_FLAGS = {
    "acknowledge": ("--text",),
    "take_action": ("--text", "--detail", "--amount", "--option"),
}


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
    complaint = opened(latte)
    if stage == "take_action":
        latte.ok("step", str(complaint), "acknowledge", "--text", "Sorry.")
    extra = ["--kind", "other"] if stage == "take_action" else []
    if flag != "--text":
        extra += ["--text", "Done."]
    before = counts(sqlite_path)
    result = latte("step", str(complaint), stage, *extra, flag, value)
    if outcome(result, before, sqlite_path):
        assert_shown_safely(latte, complaint)


@pytest.mark.sqlite_only
@FAST
@given(value=texts)
def test_explain_change_with_hostile_text(latte: Latte, sqlite_path: Path, value: str) -> None:
    complaint = opened(latte)
    latte.ok("step", str(complaint), "acknowledge", "--text", "Sorry.")
    latte.ok("step", str(complaint), "take_action", "--kind", "other", "--detail", "x")
    latte.ok("step", str(complaint), "thank", "--text", "Thanks.")
    before = counts(sqlite_path)
    result = latte(
        "step", str(complaint), "explain", "--root-cause", "other", "--text", "Why.",
        "--change", value,
    )  # fmt: skip
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
    complaint = opened(latte)
    latte.ok("step", str(complaint), "acknowledge", "--text", "Sorry.")
    latte.ok("step", str(complaint), "take_action", "--kind", "other", "--detail", "x")
    latte.ok("step", str(complaint), "thank", "--text", "Thanks.")
    latte.ok(
        "step", str(complaint), "explain", "--root-cause", "other", "--text", "Why.",
        "--change", "More checks.",
    )  # fmt: skip
    before = counts(sqlite_path)
    result = latte("reopen", str(complaint), "--reason", value)
    if outcome(result, before, sqlite_path):
        assert_shown_safely(latte, complaint)


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
