"""A merged-away customer stays reachable for a data-protection request: `customer export`
of it says, in the file and on stderr, that its data is the kept customer's; its own email or
name still finds it (naming the kept customer), and `customer forget` points at the kept one."""

from __future__ import annotations

import json

from .conftest import Latte

NEW = ("--channel", "phone", "--category", "delivery", "--listen", "My parcel arrived broken")
WHERE = "merged into C-IVAN (Ivan)"
EXPORT = "`latte customer export C-IVAN`"


def _merged(latte: Latte) -> None:
    latte.ok("new", "--customer", "C-IVAN", "--name", "Ivan", "--email", "ivan@example.org",
             "--phone", "0161 000 4444", *NEW)  # fmt: skip
    latte.ok("new", "--customer", "C-ZOE", "--name", "Zoë Ångström", "--email",
             "zoe@example.org", "--phone", "0161 000 3333", *NEW)  # fmt: skip
    latte.ok("customer", "merge", "C-ZOE", "--into", "C-IVAN", "--reason", "same person")


def test_json_export_of_a_merged_customer_names_the_kept_one(latte: Latte) -> None:
    _merged(latte)
    result = latte.ok("customer", "export", "C-ZOE")
    data = json.loads(result.stdout)
    assert data["merged_into"]["ref"] == "C-IVAN"
    assert WHERE in data["merged_into"]["note"] and EXPORT in data["merged_into"]["note"]
    assert WHERE in result.stderr and EXPORT in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # The kept customer's export is unchanged: nothing merged away, so no note.
    kept = json.loads(latte.ok("customer", "export", "C-IVAN").stdout)
    assert kept["merged_into"] is None and len(kept["complaints"]) == 2


def test_markdown_export_of_a_merged_customer_says_so_in_the_file(latte: Latte) -> None:
    _merged(latte)
    result = latte.ok("customer", "export", "C-ZOE", "--format", "md")
    head = result.stdout.split("\n## ", 1)[0]
    assert WHERE in head and "latte customer export C-IVAN" in head
    assert WHERE in result.stderr


def test_the_merged_customers_email_name_and_phone_still_find_it(latte: Latte) -> None:
    _merged(latte)
    for given in ("zoe@example.org", "Zoë Ångström", "zoe ångström", "0161 000 3333"):
        result = latte.ok("customer", "export", given)
        assert json.loads(result.stdout)["customer"]["ref"] == "C-ZOE", given
        assert f"{given} is customer C-ZOE" in result.stderr and EXPORT in result.stderr
        shown = json.loads(latte.ok("customer", "show", given, "--json").stdout)
        assert shown["customer"]["ref"] == "C-ZOE", given
        assert shown["merged_into"]["ref"] == "C-IVAN", given


def test_an_unmerged_customer_is_not_made_ambiguous(latte: Latte) -> None:
    _merged(latte)
    # Ivan's own email, and a new customer taking Zoë's name, find only the unmerged one.
    assert (
        json.loads(latte.ok("customer", "show", "ivan@example.org", "--json").stdout)["customer"][
            "ref"
        ]
        == "C-IVAN"
    )
    latte.ok("new", "--customer", "C-Z2", "--name", "Zoë Ångström", *NEW)
    shown = json.loads(latte.ok("customer", "show", "Zoë Ångström", "--json").stdout)
    assert shown["customer"]["ref"] == "C-Z2"


def test_forget_of_a_merged_customer_points_at_the_kept_one(latte: Latte) -> None:
    _merged(latte)
    for given in ("C-ZOE", "zoe@example.org"):
        result = latte("customer", "forget", given, "--reason", "erasure request", "--yes")
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert WHERE in result.output
        assert "`latte customer forget C-IVAN`" in result.output
    # Nothing erased: forgetting the kept customer erases both.
    assert json.loads(latte.ok("customer", "export", "C-ZOE").stdout)["customer"]["name"]
    done = latte.ok("customer", "forget", "C-IVAN", "--reason", "r", "--yes", "--json")
    assert json.loads(done.stdout)["duplicates"] == 1
