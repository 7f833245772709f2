"""A customer's data: `latte customer forget` erases the person and keeps every figure,
`latte customer export` hands over every stored row about them."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pexpect
import pytest
from sqlalchemy import text

from latte_cli import db

from .conftest import Latte

SAMPLE = Path(__file__).parent.parent / "data" / "sample"
# Distinctive strings of the customer who is forgotten: none occurs anywhere else.
NAME, EMAIL, PHONE = "Zebulon Quixwort", "zq.private@example.org", "+44 7700 913 842"
PHRASE = "marmalade-scented umbrella"
NOTE, REASON = "Quixwort prefers the evening", "umbrella leaked again Zebulon"
FOLLOWUP_NOTE = "spoke to Zebulon about marmalade"
REF = "C-ZQ-1"
# A word that only a stage text holds (Thank), besides the words above.
STAGE_ONLY = "Gooseberrywhistle"
SECRETS = (NAME, EMAIL, PHONE, PHRASE, NOTE, REASON, FOLLOWUP_NOTE, REF, STAGE_ONLY)
# The same words as the search index stores them: folded, one token each (revision 0008).
TOKENS = ("zebulon", "quixwort", "marmalade", "gooseberrywhistle", "447700913842")


def _subset(tmp_path: Path, complaints: int = 250) -> tuple[Path, Path, Path]:
    """The first complaints of the sample, with their customers' purchases and follow-ups."""
    with (SAMPLE / "complaints.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = [row for _, row in zip(range(complaints), reader, strict=False)]
        header = reader.fieldnames or []
    refs = {row["customer_ref"] for row in rows}
    ids = {row["external_id"] for row in rows}
    out = []
    for name, keep in (
        ("complaints.csv", lambda r: True),
        ("purchases.csv", lambda r: r["customer_ref"] in refs),
        ("followups.csv", lambda r: r["complaint_external_id"] in ids),
    ):
        with (SAMPLE / name).open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            source = rows if name == "complaints.csv" else [r for r in reader if keep(r)]
            fields = header if name == "complaints.csv" else reader.fieldnames or []
        path = tmp_path / name
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(source)
        out.append(path)
    return out[0], out[1], out[2]


def _customer_with_everything(
    latte: Latte,
    ref: str,
    name: str,
    email: str,
    phone: str,
    words: tuple[str, str, str, str],
    thanks: str = "",
) -> None:
    """Two complaints of one customer: stages, a transfer, a reopening, a follow-up."""
    phrase, note, reason, followup_note = words
    start = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
    for n in range(2):
        at = start + timedelta(days=7 * n)
        cid = latte.ok(
            "new",
            *("--customer", ref, "--name", name, "--email", email, "--phone", phone),
            *("--channel", "phone", "--category", "delivery", "--location", "Leeds"),
            *("--listen", f"My {phrase} arrived torn ({name})", "--at", at.isoformat()),
        ).stdout.strip()
        latte.ok("transfer", cid, "--to", "sam", "--note", note, "--force")
        steps = [
            ("acknowledge", ("--text", f"Sorry {name}, about the {phrase}")),
            ("take_action", ("--kind", "refund", "--detail", f"Refund {phrase}", "--amount", "12")),
            ("thank", ("--text", f"Thank you {name} {thanks}".strip())),
            ("explain", ("--root-cause", "delivery", "--change", f"No more {phrase}")),
        ]
        for stage, args in steps:
            at += timedelta(minutes=30)
            latte.ok("step", cid, stage, *args, "--at", at.isoformat())
        latte.ok(
            "followup", "record", cid, "--reached", "--satisfied", "--nps", "9",
            "--repurchased", "no", "--note", followup_note,
        )  # fmt: skip
    latte.ok("reopen", cid, "--reason", reason, "--at", (at + timedelta(days=1)).isoformat())


@pytest.fixture
def desk(latte: Latte, tmp_path: Path) -> Latte:
    complaints, purchases, followups = _subset(tmp_path)
    for kind, path in (("complaints", complaints), ("purchases", purchases)):
        latte.ok("import", kind, str(path))
    latte.ok("import", "followups", str(followups))
    words = (PHRASE, NOTE, REASON, FOLLOWUP_NOTE)
    _customer_with_everything(latte, REF, NAME, EMAIL, PHONE, words, thanks=STAGE_ONLY)
    other = ("velvet lampshade", "call after six", "lamp flickers", "happy with the lamp")
    _customer_with_everything(
        latte, "C-OTHER-2", "Ottilie Brannock", "ob@example.net", "0161 1", other
    )
    return latte


END = "2026-12-31"
REPORTS = [
    ("report", "weekly", "--weeks", "all", "--since", "2026-01-01", "--until", END),
    *(
        ("report", "weekly", "--weeks", "all", "--by", by, "--since", "2026-01-01", "--until", END)
        for by in ("agent", "channel", "category", "location")
    ),
    ("report", "agents", "--since", "2026-01-01", "--until", "2026-12-31"),
    ("report", "repurchase", "--since", "2026-01-01", "--until", "2026-12-31"),
]


def _reports(latte: Latte, as_of: str) -> list[object]:
    """Every report as JSON, as the database stood at `as_of`: the same moment before and after
    a change, so that only the change can make them differ (with the default, now, the
    definitions name the as-of minute, and a minute may turn between two runs).

    The "what will change" texts grouped under each root cause are free text, erased with the
    complaint: only how many there are is compared."""
    return [
        _texts_counted(json.loads(latte.ok(*a, "--as-of", as_of, "--format", "json").stdout))
        for a in REPORTS
    ]


def _texts_counted(data: object) -> object:
    if isinstance(data, dict):
        return {
            key: sum(t["count"] for t in value)
            if key == "what_will_change" and isinstance(value, list)
            else _texts_counted(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_texts_counted(value) for value in data]
    return data


def as_of_now() -> str:
    """A moment after everything the test wrote (some of it at the current time)."""
    return (datetime.now(UTC) + timedelta(seconds=1)).isoformat(timespec="seconds")


def _dump(url: str) -> str:
    """Every row of every table, as text: what the database holds, wherever it sits."""
    engine = db.get_engine(url)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            names = [
                r[0]
                for r in connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type='table'")
                )
            ]
        else:
            names = [
                r[0]
                for r in connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                )
            ]
        return "\n".join(
            repr(tuple(row))
            for name in names
            for row in connection.execute(text(f'SELECT * FROM "{name}"'))
        )


def test_forget_keeps_every_figure_and_no_personal_data(desk: Latte, db_url: str) -> None:
    as_of = as_of_now()
    before = _reports(desk, as_of)
    assert all(s in _dump(db_url) for s in SECRETS)
    result = desk.ok("customer", "forget", REF, "--reason", "erasure request", "--yes", "--json")
    done = json.loads(result.stdout)
    assert done["complaints"] == 2 and done["pseudonym"].startswith("forgotten-")
    assert _reports(desk, as_of) == before
    stored = _dump(db_url)
    for secret in SECRETS:
        assert secret not in stored, secret
    assert "Ottilie Brannock" in stored  # the other customer is untouched
    assert "[erased]" in stored
    # The record stays readable and consistent: replay still matches, the log says who and why.
    assert "no problems found" in desk.ok("db", "check").stdout
    shown = json.loads(desk.ok("customer", "show", done["pseudonym"], "--json").stdout)
    assert shown["customer"]["name"] is None and len(shown["complaints"]) == 2
    exported = json.loads(desk.ok("customer", "export", done["pseudonym"]).stdout)
    erased = [e for e in exported["events"] if e["kind"] == "erased"]
    assert len(erased) == 2
    assert all(e["agent"] == "ana" and e["data"] == {"reason": "erasure request"} for e in erased)
    kinds = [e["kind"] for e in exported["events"]]
    assert kinds.count("transfer") == 2 and kinds.count("reopen") == 1
    assert [p["amount_cents"] for p in exported["purchases"]] == []  # made no purchase
    amounts = [s["amount_cents"] for s in exported["stage_records"] if s["amount_cents"]]
    assert amounts == [1200, 1200]


def test_forget_keeps_purchase_amounts_and_dates(desk: Latte) -> None:
    data = json.loads(desk.ok("customer", "export", "C-000308").stdout)
    assert data["purchases"]
    figures = [(p["purchased_at"], p["amount_cents"]) for p in data["purchases"]]
    as_of = as_of_now()
    before = _reports(desk, as_of)
    done = json.loads(
        desk.ok("customer", "forget", "C-000308", "--reason", "r", "--yes", "--json").stdout
    )
    after = json.loads(desk.ok("customer", "export", done["pseudonym"]).stdout)
    assert [(p["purchased_at"], p["amount_cents"]) for p in after["purchases"]] == figures
    assert not any(p["order_ref"].startswith("O-") for p in after["purchases"])
    assert _reports(desk, as_of) == before


@pytest.mark.sqlite_only
def test_erased_bytes_are_in_no_file(desk: Latte, sqlite_path: Path) -> None:
    def raw() -> bytes:
        wal = sqlite_path.with_name(sqlite_path.name + "-wal")
        return sqlite_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    assert all(s.encode() in raw() for s in (*SECRETS, *TOKENS))
    assert [h["id"] for h in json.loads(desk.ok("search", STAGE_ONLY, "--json").stdout)]
    result = desk.ok("customer", "forget", REF, "--reason", "erasure request", "--yes")
    assert "Backups made before now still hold" in result.stderr
    # Read while latte's connections are still open: closing the last one would checkpoint.
    found = [s for s in (*SECRETS, *TOKENS) if s.encode() in raw()]
    assert found == []
    assert b"Ottilie Brannock" in raw()
    assert b"brannock" in raw()  # the other customer's words stay in the index


def test_forget_errors(desk: Latte) -> None:
    result = desk("customer", "forget", "C-NOBODY", "--reason", "r", "--yes")
    assert result.exit_code == 1 and "No customer with ref 'C-NOBODY'" in result.stderr
    result = desk("customer", "forget", REF, "--reason", "r")  # no terminal, no --yes
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert NAME in desk.ok("customer", "show", REF).stdout  # nothing was erased
    result = desk("customer", "forget", REF, "--reason", "  ", "--yes")
    assert result.exit_code == 1 and "--reason" in result.stderr


def test_export_holds_every_row_about_the_customer_and_no_other(
    desk: Latte, db_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "zq.json"
    desk.ok("customer", "export", REF, "--output", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    engine = db.get_engine(db_url)
    with engine.connect() as c:
        (customer_id,) = c.execute(text("SELECT id FROM customer WHERE ref = :r"), {"r": REF}).one()
        mine = "SELECT id FROM complaint WHERE customer_id = :c"
        counts = {
            table: c.execute(
                text(f"SELECT count(*) FROM {table} WHERE complaint_id IN ({mine})"),
                {"c": customer_id},
            ).scalar_one()
            for table in ("stage_record", "event", "followup")
        }
        counts["complaint"] = c.execute(
            text("SELECT count(*) FROM complaint WHERE customer_id = :c"), {"c": customer_id}
        ).scalar_one()
        counts["purchase"] = c.execute(
            text("SELECT count(*) FROM purchase WHERE customer_id = :c"), {"c": customer_id}
        ).scalar_one()
    assert counts == {
        "stage_record": len(data["stage_records"]),
        "event": len(data["events"]),
        "followup": len(data["followups"]),
        "complaint": len(data["complaints"]),
        "purchase": len(data["purchases"]),
    }
    assert counts["stage_record"] == 10 and counts["complaint"] == 2
    assert data["customer"]["name"] == NAME and data["customer"]["phone"] == PHONE
    document = json.dumps(data)
    assert PHRASE in document and NOTE in document and REASON in document
    assert "Ottilie" not in document and "ob@example.net" not in document
    markdown = desk.ok("customer", "export", REF, "--format", "markdown").stdout
    assert markdown.startswith(f"# Data held about customer {REF}")
    for needle in (NAME, EMAIL, PHONE, PHRASE, NOTE, REASON, FOLLOWUP_NOTE, "## Purchases (0)"):
        assert needle in markdown
    assert "Ottilie" not in markdown
    assert desk.ok("customer", "export", REF, "--format", "md").stdout == markdown
    assert desk("customer", "export", REF, "--format", "pdf").exit_code == 1
    assert desk("customer", "export", "C-NOBODY").exit_code == 1


@pytest.mark.slow
@pytest.mark.sqlite_only
@pytest.mark.sqlite_only
def test_the_markdown_export_shows_every_text_as_itself(latte: Latte) -> None:
    """A name or the customer's words written as Markdown or HTML stay text in the file handed
    to the customer: no link, tag, emphasis or heading."""
    name = "[click](http://evil.example) **bold** <script>x</script>"
    words = "It broke.\n# Heading\n- **id**: 999 `code`"
    latte.ok("new", "--customer", "C-MD-1", "--name", name, "--channel", "phone",
             "--category", "delivery", "--listen", words)  # fmt: skip
    markdown = latte.ok("customer", "export", "C-MD-1", "--format", "md").stdout
    for live in ("[click](", "**bold**", "<script>", "**id**: 999", "`code`", "<br># Heading"):
        assert live not in markdown, live
    assert "\\[click\\](http://evil.example) \\*\\*bold\\*\\* \\<script\\>" in markdown
    assert "It broke.<br>\\# Heading<br>- \\*\\*id\\*\\*: 999 \\`code\\`" in markdown


def test_on_a_terminal_forget_asks_for_the_ref(latte: Latte, db_url: str) -> None:
    from tests.test_pty import spawn

    latte.ok("new", "--customer", REF, "--name", NAME, "--channel", "phone", "--category", "x",
             "--listen", PHRASE)  # fmt: skip
    child = spawn(db_url, "customer", "forget", REF, "--reason", "erasure request")
    child.expect_exact("Type the ref to confirm")
    child.send("C-WRONG\r")
    child.expect_exact("Not confirmed: nothing was erased.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert NAME in latte.ok("customer", "show", REF).stdout
    child = spawn(db_url, "customer", "forget", REF, "--reason", "erasure request")
    child.expect_exact("Type the ref to confirm")
    child.send(f"{REF}\r")
    child.expect_exact(f"Forgot customer {REF}")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert latte("customer", "show", REF).exit_code == 1
