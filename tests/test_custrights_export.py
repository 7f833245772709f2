"""`latte customer export` of a customer hands over the identities of the customers merged into
it (the same person, erased with it by `forget`), in JSON and in Markdown."""

from __future__ import annotations

import json

from .conftest import Latte

NEW = ("--channel", "phone", "--category", "delivery", "--listen", "My parcel arrived broken")
OLD = ("X-1", "Xavier Old", "x-old@example.com", "0161 000 1111")
OLDER = ("Z-1", "Zed Older", "z-older@example.com", "0161 000 2222")


def _merged(latte: Latte) -> None:
    """Y-1 kept; X-1 merged into it, and Z-1 merged into X-1 before that (a chain)."""
    latte.ok("new", "--customer", "Y-1", "--name", "Yan", "--email", "y@example.com", *NEW)
    for ref, name, email, phone in (OLD, OLDER):
        latte.ok("new", "--customer", ref, "--name", name, "--email", email, "--phone", phone,
                 *NEW)  # fmt: skip
    latte.ok("customer", "merge", "Z-1", "--into", "X-1", "--reason", "same person")
    latte.ok("customer", "merge", "X-1", "--into", "Y-1", "--reason", "same person")


def test_json_export_lists_the_merged_customers_identities(latte: Latte) -> None:
    _merged(latte)
    data = json.loads(latte.ok("customer", "export", "Y-1").stdout)
    assert data["customer"]["ref"] == "Y-1"
    merged = data["merged_customers"]
    assert [(m["ref"], m["name"], m["email"], m["phone"]) for m in merged] == [OLD, OLDER]
    assert len(data["complaints"]) == 3
    # A customer with nothing merged into it has an empty list, not a missing key.
    latte.ok("new", "--customer", "W-1", "--name", "Wu", *NEW)
    assert json.loads(latte.ok("customer", "export", "W-1").stdout)["merged_customers"] == []


def test_markdown_export_labels_the_merged_customers(latte: Latte) -> None:
    _merged(latte)
    text = latte.ok("customer", "export", "Y-1", "--format", "md").stdout
    heading = "## Customers merged into this one (the same person) (2)"
    assert heading in text
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    for value in (*OLD, *OLDER):
        assert value in section, value


def test_forgotten_duplicates_are_not_exported(latte: Latte) -> None:
    _merged(latte)
    done = latte.ok("customer", "forget", "Y-1", "--reason", "erasure request", "--yes", "--json")
    pseudonym = json.loads(done.stdout)["pseudonym"]
    forgotten = json.loads(latte.ok("customer", "export", pseudonym).stdout)
    assert forgotten["merged_customers"] == []
    assert "Xavier" not in json.dumps(forgotten) and "Zed" not in json.dumps(forgotten)
