"""`latte resume` without a terminal points at a command that works: for a duplicate merged
into a resolved complaint, `latte reopen` on that one (`latte resume` on it would be refused);
for a complaint with a stage due, `latte step` with that stage named. On both stores."""

from __future__ import annotations

from .conftest import Latte

RESOLVE = (
    ("acknowledge", ("--text", "Sorry")),
    ("take_action", ("--kind", "refund", "--detail", "Done", "--amount", "5")),
    ("thank", ("--text", "Thanks")),
    ("explain", ("--root-cause", "delivery", "--change", "Better boxes")),
)


def opened(latte: Latte, words: str) -> int:
    return int(
        latte.ok(
            "new", "--customer", "C-1", "--name", "Ana", "--channel", "phone",
            "--category", "delivery", "--listen", words,
        ).stdout.strip()
    )  # fmt: skip


def test_a_duplicate_of_a_resolved_complaint_points_at_reopening_it(latte: Latte) -> None:
    kept, duplicate = opened(latte, "kettle one"), opened(latte, "kettle two")
    for stage, args in RESOLVE:
        latte.ok("step", str(kept), stage, *args)
    latte.ok("merge", str(duplicate), "--into", str(kept), "--force", "--reason", "same kettle")

    result = latte("resume", str(duplicate), input="")

    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        f"Error: Complaint {duplicate} was merged into complaint {kept}: nothing to continue "
        f"here. Reopen that one with `latte reopen {kept} --reason TEXT`."
    )
    # The command named works.
    latte.ok("reopen", str(kept), "--reason", "Broke again")


def test_a_complaint_with_a_stage_due_names_that_stage(latte: Latte) -> None:
    cid = opened(latte, "kettle one")
    latte.ok("step", str(cid), "acknowledge", "--text", "Sorry")

    result = latte("resume", str(cid), input="")

    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        "Error: latte resume asks questions and needs a terminal. Record the stage due with "
        f"`latte step {cid} take_action ...` (see `latte show {cid}`)."
    )


def test_without_an_id_the_stage_stays_a_placeholder(latte: Latte) -> None:
    result = latte("resume", input="")

    assert result.exit_code == 1, result.output
    assert "`latte step ID STAGE ...`" in result.stderr
