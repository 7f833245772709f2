"""A complaint id that is not a number (`3O`, `#12`), typed to any command taking one, is refused
with one line naming the value and what an id looks like, exit 1 (README, "Exit codes")."""

from __future__ import annotations

import pytest

from tests.conftest import Latte

NEW = (
    "new", "--customer", "C-1", "--name", "Ana Diaz", "--channel", "phone",
    "--category", "delivery", "--listen", "My kettle arrived broken",
)  # fmt: skip


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("args", "flag", "value"),
    [
        (("show", "3O"), "'ID'", "3O"),
        (("show", "#12"), "'ID'", "#12"),
        (("step", "1x", "acknowledge", "--text", "Sorry"), "'ID'", "1x"),
        (("reopen", "#1", "--reason", "Broke again"), "'ID'", "#1"),
        (("resume", "one"), "'ID'", "one"),
        (("merge", "1", "--into", "#2", "--force"), "'--into'", "#2"),
    ],
)
def test_a_mistyped_complaint_id_is_one_line_naming_it(
    latte: Latte, args: tuple[str, ...], flag: str, value: str
) -> None:
    latte.ok(*NEW)
    result = latte(*args, input="")

    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        f"Error: Invalid value for {flag}: {value!r} is not a complaint id. Give its number, "
        f"e.g. 12 (`latte list` shows them). See `latte {args[0]} --help`."
    )
    assert "Traceback" not in result.output


@pytest.mark.sqlite_only
def test_another_number_option_keeps_its_own_message(latte: Latte) -> None:
    result = latte("list", "--limit", "ten")

    assert result.exit_code == 1
    assert "is not a complaint id" not in result.stderr
    assert "--limit" in result.stderr
