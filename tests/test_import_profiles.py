"""`latte import` with value maps, constants, profiles, plausible dates and attribution.

The contract is in docs/architecture.md ("Batch import").
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from latte_cli import db
from latte_cli.importer import ImportOptions, import_file, profiles
from latte_cli.models import Complaint, Event, FollowUp, StageRecord

from .conftest import Latte

ROOT = Path(__file__).resolve().parent.parent


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def complaints(url: str) -> dict[str, Complaint]:
    with db.open_session(url) as session:
        rows = session.exec(select(Complaint)).scalars().all()
        return {c.external_id: c for c in rows if c.external_id}


def agents(url: str) -> set[str]:
    with db.open_session(url) as session:
        events = {a for (a,) in session.exec(select(Event.agent)).all()}
        records = {a for (a,) in session.exec(select(StageRecord.agent)).all()}
        return events | records


# Real headers of three public exports, with realistic values.
CFPB_HEADER = [
    "Date received", "Product", "Sub-product", "Issue", "Sub-issue",
    "Consumer complaint narrative", "Company public response", "Company", "State",
    "ZIP code", "Tags", "Consumer consent provided?", "Submitted via", "Date sent to company",
    "Company response to consumer", "Timely response?", "Consumer disputed?", "Complaint ID",
]  # fmt: skip
LONG_NARRATIVE = ("I called the servicer again and was told the payment was not applied. " * 250)[
    :17_500
]
CFPB_ROWS = [
    ["2023-05-12", "Credit reporting, credit repair services, or other personal consumer "
     "reports", "Credit reporting", "Incorrect information on your report",
     "Information belongs to someone else", "", "", "EQUIFAX, INC.", "FL", "33101", "",
     "Consent not provided", "Web", "2023-05-12", "Closed with explanation", "Yes", "N/A",
     "7012345"],
    ["05/13/2023", "Mortgage", "Conventional home mortgage", "Trouble during payment process",
     "", LONG_NARRATIVE, "Company has responded to the consumer and the CFPB and chooses not "
     "to provide a public response", "NATIONSTAR MORTGAGE", "TX", "750XX", "Servicemember",
     "Consent provided", "Referral", "05/15/2023", "Closed with monetary relief", "Yes", "N/A",
     "7012346"],
    ["2023-05-14", "Debt collection", "I do not know", "Attempts to collect debt not owed",
     "Debt is not yours", "They keep calling about a debt that is not mine.", "", "ENCORE "
     "CAPITAL GROUP", "", "", "Older American", "Consent provided", "Postal mail",
     "2023-05-16", "In progress", "Yes", "N/A", "7012347"],
    ["2023-05-15", "Checking or savings account", "Checking account", "Managing an account",
     "Deposits and withdrawals", "", "", "BANK OF AMERICA, NATIONAL ASSOCIATION", "CA",
     "94105", "", "N/A", "Fax", "2023-05-15", "Closed with non-monetary relief", "No", "N/A",
     "7012348"],
    ["2023-05-16", "Credit card", "General-purpose credit card or charge card",
     "Problem with a purchase shown on your statement", "", "", "", "CAPITAL ONE FINANCIAL "
     "CORPORATION", "NY", "10001", "", "Consent not provided", "Phone", "2023-05-16",
     "Closed with explanation", "Yes", "N/A", "7012349"],
    ["2023-05-17", "Student loan", "Federal student loan servicing", "Dealing with your lender "
     "or servicer", "", "", "", "NELNET, INC.", "OH", "43215", "", "Consent withdrawn",
     "Email", "2023-05-17", "Closed with explanation", "Yes", "N/A", "7012350"],
]  # fmt: skip
SERVICENOW_HEADER = [
    "number", "opened_at", "short_description", "caller_id", "category", "subcategory",
    "priority", "impact", "urgency", "state", "assignment_group", "assigned_to",
    "contact_type", "resolved_at", "closed_at", "close_code", "opened_by", "sys_updated_on",
]  # fmt: skip
SERVICENOW_ROWS = [
    ["INC0010001", "2024-01-15 09:32:11", "Email not syncing on mobile", "Abel Tuter",
     "software", "email", "1 - Critical", "1 - High", "1 - High", "Resolved", "Service Desk",
     "Beth Anglin", "phone", "2024-01-15 11:02:40", "", "Solved (Permanently)",
     "Beth Anglin", "2024-01-15 11:02:40"],
    ["INC0010002", "2024-01-15 10:01:00", "Cannot print to floor 3 printer", "Fred Luddy",
     "hardware", "", "2 - High", "2 - Medium", "2 - Medium", "In Progress", "Hardware",
     "David Loo", "Self-service", "", "", "", "Fred Luddy", "2024-01-15 10:30:00"],
    ["INC0010003", "2024-01-16 08:15:00", "VPN drops every hour", "Bud Richman", "network",
     "vpn", "3 - Moderate", "2 - Medium", "3 - Low", "Closed", "Network", "", "Walk-in",
     "2024-01-17 16:00:00", "2024-01-24 16:00:00", "Solved (Work Around)", "Bud Richman",
     "2024-01-24 16:00:00"],
    ["INC0010004", "2024-01-16 12:40:00", "Request for new monitor", "Abel Tuter", "",
     "", "4 - Low", "3 - Low", "3 - Low", "New", "", "", "", "", "", "", "Abel Tuter",
     "2024-01-16 12:40:00"],
]  # fmt: skip
ZENDESK_HEADER = [
    "Id", "Requester", "Requester id", "Requester external id", "Requester email",
    "Requester domain", "Submitter", "Assignee", "Group", "Subject", "Tags", "Status",
    "Priority", "Via", "Ticket type", "Created at", "Updated at", "Assigned at",
    "Organization", "Due date", "Initially assigned at", "Solved at", "Resolution time",
    "Satisfaction Score", "Reopens", "Replies", "First reply time in minutes",
    "Full resolution time in minutes",
]  # fmt: skip
ZENDESK_ROWS = [
    ["101", "Maria Lopez", "36012345", "", "maria@example.com", "example.com", "Maria Lopez",
     "Sam Agent", "Support", "Order arrived damaged", "damaged shipping", "Solved", "High",
     "Web form", "Problem", "2024-02-01 09:00:00 +0000", "2024-02-02 10:00:00 +0000",
     "2024-02-01 09:10:00 +0000", "", "", "2024-02-01 09:10:00 +0000",
     "2024-02-02 10:00:00 +0000", "25", "Good", "0", "2", "12", "1500"],
    ["102", "Tom Baker", "36012346", "", "tom@example.org", "example.org", "Tom Baker", "",
     "", "Charged twice for my subscription", "", "Open", "Urgent", "Mail", "", "2024-02-03 "
     "14:30:00 +0100", "2024-02-03 15:00:00 +0100", "", "", "", "", "", "", "Unoffered", "0",
     "0", "", ""],
    ["103", "Ana Silva", "36012347", "", "ana@example.net", "example.net", "Sam Agent",
     "Sam Agent", "Support", "Where is my refund?", "refund", "Pending", "Normal",
     "Phone call (incoming)", "Question", "2024-02-04 08:00:00 +0000",
     "2024-02-04 09:00:00 +0000", "2024-02-04 08:05:00 +0000", "Acme", "", "", "", "", "",
     "0", "1", "5", ""],
    ["104", "Li Wei", "36012348", "", "li@example.com", "example.com", "Li Wei", "", "",
     "App crashes on login", "", "New", "", "Chat", "Incident", "2024-02-05 18:00:00 +0000",
     "2024-02-05 18:00:00 +0000", "", "", "", "", "", "", "", "0", "0", "", ""],
]  # fmt: skip
SHIPPED = [
    ("cfpb", "complaints.csv", CFPB_HEADER, CFPB_ROWS),
    ("servicenow", "incident.csv", SERVICENOW_HEADER, SERVICENOW_ROWS),
    ("zendesk", "export.csv", ZENDESK_HEADER, ZENDESK_ROWS),
]


@pytest.mark.parametrize(("name", "file", "header", "rows"), SHIPPED, ids=[s[0] for s in SHIPPED])
def test_shipped_profiles_take_whole_files(
    latte: Latte,
    db_url: str,
    tmp_path: Path,
    name: str,
    file: str,
    header: list[str],
    rows: list[list[str]],
) -> None:
    source = tmp_path / file
    source.write_text(csv_text(header, rows), encoding="utf-8")
    args = ("import", "complaints", str(source), "--profile", name, "--tz", "UTC", "--json")
    result = latte(*args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["inserted"], report["rejected"]) == (len(rows), len(rows), 0)
    assert report["rejects_file"] is None and not (tmp_path / f"{source.stem}.rejects.csv").exists()
    again = json.loads(latte.ok(*args).stdout)
    assert (again["unchanged"], again["inserted"], again["rejected"]) == (len(rows), 0, 0)
    stored = complaints(db_url)
    assert len(stored) == len(rows)
    channels = {c.channel for c in stored.values()}
    assert channels <= {"web", "email", "phone", "chat", "in_person", "social", "other"}
    if name == "cfpb":
        assert stored["7012346"].channel == "other" and stored["7012347"].channel == "other"
        assert stored["7012346"].opened_at == datetime(2023, 5, 13, tzinfo=UTC)
        assert stored["7012345"].category.startswith("credit reporting")
        assert "import:complaints.csv" in agents(db_url)
    elif name == "servicenow":
        assert (
            stored["INC0010001"].severity == "critical" and stored["INC0010002"].severity == "high"
        )
        assert stored["INC0010001"].stage_due is None
        assert stored["INC0010003"].channel == "in_person"
        assert stored["INC0010004"].category == "uncategorized"
        assert stored["INC0010001"].opened_by == "Beth Anglin"
        assert stored["INC0010004"].opened_by == "import:incident.csv"
    else:
        assert stored["102"].severity == "critical" and stored["103"].severity == "medium"
        assert stored["102"].opened_at == datetime(2024, 2, 3, 13, 30, tzinfo=UTC)
        assert stored["103"].channel == "phone" and stored["102"].category == "general"


def test_shipped_profiles_are_packaged_and_the_same() -> None:
    packaged = sorted(p.name for p in profiles.SHIPPED.glob("*.toml"))
    assert packaged == ["cfpb.toml", "servicenow.toml", "zendesk.toml"]
    for name in packaged:
        assert (ROOT / "data" / "profiles" / name).read_bytes() == (
            profiles.SHIPPED / name
        ).read_bytes()
        assert profiles.load(name.removesuffix(".toml")).kind == "complaints"
    assert '"data/profiles/*"' in (ROOT / "pyproject.toml").read_text()


def test_values_constants_and_one_column_into_two(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "incidents.csv"
    source.write_text(
        "number,opened_at,priority,Product,how\n"
        "I1,2024-03-01T10:00:00Z,1 - Critical,Billing portal,Fax\n"
        "I2,2024-03-02T10:00:00Z,  4 - low ,Mobile app,\n",
        encoding="utf-8",
    )
    result = latte(
        "--agent", "root", "import", "complaints", str(source),
        "--map", "number=external_id", "--map", "Product=category", "--map", "Product=summary",
        "--map", "how=channel",
        "--value", "severity:1 - CRITICAL=critical", "--value", "severity:4 - Low=low",
        "--value", "channel: fax =other", "--set", "channel=web", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = complaints(db_url)
    assert (stored["I1"].severity, stored["I1"].channel) == ("critical", "other")
    assert (stored["I2"].severity, stored["I2"].channel) == ("low", "web")
    assert (stored["I1"].category, stored["I1"].summary) == ("billing portal", "Billing portal")
    assert agents(db_url) == {"import:incidents.csv"}
    assert stored["I1"].opened_by == "import:incidents.csv"


def test_missing_required_field_stops_at_once(latte: Latte, db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "incidents.csv"
    rows = "".join(f"I{i},2024-03-01T10:00:00Z,phone,words\n" for i in range(500))
    source.write_text("number,opened_at,channel,description\n" + rows, encoding="utf-8")
    result = latte("import", "complaints", str(source), "--map", "number=external_id")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "category" in lines[0]
    assert "--map" in lines[0] and "--set" in lines[0]
    assert not (tmp_path / "incidents.rejects.csv").exists()
    assert complaints(db_url) == {}
    fixed = latte(
        "import", "complaints", str(source), "--map", "number=external_id",
        "--set", "category=it", "--json",
    )  # fmt: skip
    assert fixed.exit_code == 0, fixed.output
    assert json.loads(fixed.stdout)["inserted"] == 500


def test_implausible_dates_are_rejects_never_an_abort(
    latte: Latte, db_url: str, tmp_path: Path
) -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    source = tmp_path / "old.csv"
    source.write_text(
        "id,opened_at,channel,category,description\n"
        "A1,0001-01-01,phone,billing,x\n"
        "A2,1950-05-01,phone,billing,x\n"
        f"A3,{future},phone,billing,x\n"
        "A4,2024-05-01,phone,billing,x\n"
        "A5,9999-12-31T23:59:59-14:00,phone,billing,x\n",
        encoding="utf-8",
    )
    result = latte("import", "complaints", str(source), "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["inserted"], report["rejected"]) == (5, 1, 4)
    reasons = {r["line"]: r["reason"] for r in report["rejects"]}
    assert "1970-01-01" in reasons[2] and "--allow-dates-from" in reasons[3]
    assert "future" in reasons[4]
    rejects = list(csv.DictReader((tmp_path / "old.rejects.csv").open(encoding="utf-8")))
    assert [r["id"] for r in rejects] == ["A1", "A2", "A3", "A5"]
    too_wide = latte("import", "complaints", str(source), "--allow-dates-from", "1900-01-01")
    assert too_wide.exit_code == 1 and "1902-01-01" in too_wide.output
    wider = latte("import", "complaints", str(source), "--allow-dates-from", "1950-01-01")
    assert wider.exit_code == 3, wider.output
    assert set(complaints(db_url)) == {"A2", "A4"}


@pytest.mark.parametrize("at", ["0001-01-01", "1900-01-01", "2999-01-01", "0001-01-01T00:00+05:00"])
def test_at_refuses_implausible_dates_in_one_line(latte: Latte, db_url: str, at: str) -> None:
    result = latte(
        "new", "--listen", "late", "--channel", "phone", "--category", "billing", "--at", at
    )
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1 and "--at" in result.output
    assert "Traceback" not in result.output


def test_long_words_are_kept(latte: Latte, db_url: str, tmp_path: Path) -> None:
    words = "The parcel was lost. " * 10_000  # 210,000 characters
    source = tmp_path / "long.csv"
    source.write_text(
        csv_text(
            ["id", "opened_at", "channel", "category", "description"],
            [["L1", "2024-05-01", "web", "delivery", words], ["L2", "2024-05-01", "web", "x", "y"]],
        ),
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(source))
    with db.open_session(db_url) as session:
        text = session.exec(
            select(StageRecord.text).where(StageRecord.stage == "listen").order_by(StageRecord.id)
        ).first()
        assert text is not None and text[0] == words.strip()
    latte.ok("new", "--listen", words, "--channel", "web", "--category", "delivery")


def test_save_profile_then_profile_and_flags_win(latte: Latte, db_url: str, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text("Case;Via;Datum;Text\nK1;Fax;03/11/2024 14:30;Zu viel\n", encoding="utf-8")
    saved = tmp_path / "mine.toml"
    latte.ok(
        "import", "complaints", str(first), "--map", "Case=external_id", "--map", "Via=channel",
        "--map", "Datum=opened_at", "--map", "Text=listen", "--value", "channel:fax=other",
        "--set", "category=billing", "--date-format", "%d/%m/%Y %H:%M", "--tz", "Europe/Berlin",
        "--save-profile", str(saved),
    )  # fmt: skip
    loaded = profiles.load(str(saved))
    assert loaded.kind == "complaints" and loaded.zone == "Europe/Berlin"
    assert loaded.constants == {"category": "billing"}
    second = tmp_path / "b.csv"
    second.write_text(
        "Case;Via;Datum;Text\nK2;FAX;04/11/2024 09:00;Nochmal\nK3;Fax;05/11/2024 09:00;Und\n",
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(second), "--profile", str(saved))
    latte.ok("import", "complaints", str(second), "--profile", str(saved), "--set", "category=tax")
    stored = complaints(db_url)
    assert stored["K2"].channel == "other" and stored["K3"].category == "tax"
    assert stored["K2"].opened_at == datetime(2024, 11, 4, 8, 0, tzinfo=UTC)
    wrong = latte("import", "purchases", str(second), "--profile", str(saved))
    assert wrong.exit_code == 1 and "complaints" in wrong.output
    missing = latte("import", "complaints", str(second), "--profile", "nosuch")
    assert missing.exit_code == 1 and "cfpb" in missing.output


def test_followups_have_no_decimal_mark(latte: Latte, db_url: str, tmp_path: Path) -> None:
    """A follow-up holds no amount: `latte import followups` offers no --decimal-mark and
    passing it is a usage error (exit 2, nothing written); the kinds with amounts keep it. A
    profile's decimal_mark is ignored for follow-ups, as its [map] entries for fields a kind
    lacks are, and --save-profile does not carry it."""
    assert "--decimal-mark" not in latte.ok("import", "followups", "--help").stdout
    for kind in ("complaints", "purchases"):
        assert "--decimal-mark" in latte.ok("import", kind, "--help").stdout
    opened = tmp_path / "c.csv"
    opened.write_text(
        "external_id,channel,category,listen,opened_at,resolved_at\n"
        "X1,phone,delivery,Late,2026-11-01T10:00Z,2026-11-01T12:00Z\n",
        encoding="utf-8",
    )
    latte.ok("import", "complaints", str(opened))
    calls = tmp_path / "f.csv"
    calls.write_text("complaint_external_id,recorded_at,nps\nX1,2026-11-04T10:00Z,9\n")

    refused = latte("import", "followups", str(calls), "--decimal-mark", ",")

    assert refused.exit_code == 2 and "--decimal-mark" in refused.output
    with db.open_session(db_url) as session:
        assert session.exec(select(func.count()).select_from(FollowUp)).one()[0] == 0
    profile = tmp_path / "comma.toml"
    profile.write_text('decimal_mark = ","\n', encoding="utf-8")
    saved = tmp_path / "saved.toml"
    latte.ok(
        "import", "followups", str(calls), "--profile", str(profile),
        "--save-profile", str(saved),
    )  # fmt: skip
    with db.open_session(db_url) as session:
        assert [f.nps for (f,) in session.exec(select(FollowUp)).all()] == [9]
    kept = profiles.load(str(saved))
    assert (kept.kind, kept.decimal_mark) == ("followups", None)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("where", ["missing/p.toml", "."])
def test_a_save_profile_that_cannot_be_written_is_refused_before_the_import(
    latte: Latte, sqlite_path: Path, tmp_path: Path, where: str
) -> None:
    """The profile is written after the rows: a path that cannot take it is refused first,
    not after every row went in (exit 1 with the import done)."""
    source = tmp_path / "p.csv"
    source.write_text(
        "order_ref,customer_ref,purchased_at,amount\nO-1,C-1,2026-01-05T10:00:00Z,12.50\n",
        encoding="utf-8",
    )
    target = tmp_path / where
    result = latte("import", "purchases", str(source), "--save-profile", str(target))
    assert result.exit_code == 1, result.output
    assert f"--save-profile {target}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not sqlite_path.exists()  # nothing imported, not even a database made


@pytest.mark.sqlite_only
def test_a_failed_profile_write_keeps_the_device(latte: Latte, tmp_path: Path) -> None:
    source = tmp_path / "p.csv"
    source.write_text(
        "order_ref,customer_ref,purchased_at,amount\nO-1,C-1,2026-01-05T10:00:00Z,12.50\n",
        encoding="utf-8",
    )
    result = latte("import", "purchases", str(source), "--save-profile", "/dev/full")
    assert result.exit_code == 1, result.output
    assert "Cannot write /dev/full: No space left on device" in result.stderr
    assert Path("/dev/full").is_char_device()


def test_unknown_columns_list_is_cut_at_twenty(latte: Latte, db_url: str, tmp_path: Path) -> None:
    extra = [f"extra{i}" for i in range(30)]
    source = tmp_path / "wide.csv"
    source.write_text(
        csv_text(
            ["id", "opened_at", "channel", "category", "description", *extra],
            [["W1", "2024-05-01", "web", "x", "y", *["" for _ in extra]]],
        ),
        encoding="utf-8",
    )
    result = latte.ok("import", "complaints", str(source))
    assert "extra19 and 10 more" in result.output and "extra20" not in result.output


# Property tests: value maps, constants and profiles -------------------------------------

CHANNELS = ["web", "email", "phone", "chat", "other"]
SOURCES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz -", min_size=1, max_size=12).filter(
    lambda s: s.strip() != ""
)


@st.composite
def value_cases(draw: st.DrawFn) -> tuple[dict[str, str], list[str], str | None]:
    table = draw(st.dictionaries(SOURCES, st.sampled_from(CHANNELS), max_size=5))
    keys = list(table)
    cells = draw(
        st.lists(
            st.one_of(
                st.sampled_from(keys).map(lambda k: f"  {k.upper()} ") if keys else st.nothing(),
                st.sampled_from(["", "web", "fax!"]),
            ),
            min_size=1,
            max_size=8,
        )
    )
    constant = draw(st.one_of(st.none(), st.sampled_from(CHANNELS)))
    return table, cells, constant


@pytest.mark.sqlite_only
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=value_cases())
def test_value_maps_and_constants_count_exactly(db_url: str, tmp_path: Path, case: object) -> None:
    table, cells, constant = case  # type: ignore[misc]
    with db.open_session(db_url) as session:
        before = session.exec(select(func.count()).select_from(Complaint)).one()[0]
    tag = f"{before}-"
    path = tmp_path / "values.csv"
    path.write_text(
        csv_text(
            ["id", "opened_at", "channel", "category", "description"],
            [[f"{tag}{i}", "2024-05-01", cell, "x", "y"] for i, cell in enumerate(cells)],
        ),
        encoding="utf-8",
    )
    values = {"channel": {k.strip().casefold(): v for k, v in table.items()}}
    options = ImportOptions(
        kind="complaints",
        path=str(path),
        agent="t",
        values=values,
        constants={"channel": constant} if constant else {},
    )
    report = import_file(db_url, options)

    def expected(cell: str) -> str | None:
        if not cell.strip():
            cell = constant or ""
        cell = values["channel"].get(cell.strip().casefold(), cell)
        key = cell.strip().lower().replace("-", "_").replace(" ", "_")
        return key if key in CHANNELS or key in ("in_person", "social") else None

    want = [expected(c) for c in cells]
    good = sum(w is not None for w in want)
    assert (report.rows, report.inserted, report.rejected) == (len(cells), good, len(cells) - good)
    stored = complaints(db_url)
    for i, w in enumerate(want):
        got = stored.get(f"{tag}{i}")
        assert (got.channel if got else None) == w


@st.composite
def profile_cases(draw: st.DrawFn) -> dict[str, object]:
    """A profile (a value map and constants, one column into two fields), the rows of a file
    it reads, and whether the run is strict."""
    table = draw(st.dictionaries(SOURCES, st.sampled_from(CHANNELS), max_size=4))
    keys = list(table)
    kanal = st.one_of(
        st.sampled_from(keys).map(lambda k: f" {k.title()}  ") if keys else st.nothing(),
        st.sampled_from(["", "web", "Phone", "fax!"]),
    )
    rows = draw(st.lists(st.tuples(kanal, st.sampled_from(["", "Shoes", "Hats"])), max_size=8))
    return {
        "table": table,
        "rows": rows,
        "channel": draw(st.one_of(st.none(), st.sampled_from(CHANNELS))),
        "category": draw(st.one_of(st.none(), st.just("misc"))),
        "strict": draw(st.booleans()),
    }


@pytest.mark.sqlite_only
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=profile_cases())
def test_profiles_import_exactly_and_strict_writes_nothing_or_all(
    latte: Latte, db_url: str, tmp_path: Path, case: dict[str, object]
) -> None:
    """Through the command, as a user runs it: never a traceback, every row counted once,
    and a strict run with a bad row leaves the database as it was."""
    table, rows = case["table"], case["rows"]
    assert isinstance(table, dict) and isinstance(rows, list)
    before = complaints(db_url)
    tag = f"{len(before)}-"
    constants = {f: v for f in ("channel", "category") if isinstance(v := case[f], str)}
    toml = ['kind = "complaints"', "[map]", '"Kanal" = "channel"']
    toml += ['"Product" = ["category", "summary"]', '"Words" = "listen"', "[set]"]
    toml += [*(f'{f} = "{v}"' for f, v in constants.items()), "[values.channel]"]
    toml += [f'"{k}" = "{v}"' for k, v in table.items()]
    profile = tmp_path / "p.toml"
    profile.write_text("\n".join(toml) + "\n", encoding="utf-8")
    source = tmp_path / "rows.csv"
    source.write_text(
        csv_text(
            ["Id", "Opened", "Kanal", "Product", "Words"],
            [[f"{tag}{i}", "2024-05-01", k, p, "It broke"] for i, (k, p) in enumerate(rows)],
        ),
        encoding="utf-8",
    )
    args = ["import", "complaints", str(source), "--profile", str(profile), "--json"]
    result = latte(*args, *(["--strict"] if case["strict"] else []))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    keyed = {k.strip().casefold(): v for k, v in table.items()}

    def expected(kanal: str, product: str) -> tuple[str, str] | None:
        channel = kanal if kanal.strip() else constants.get("channel", "")
        channel = keyed.get(channel.strip().casefold(), channel).strip().lower()
        category = product or constants.get("category", "")
        if channel not in (*CHANNELS, "in_person", "social") or not category:
            return None
        return channel, category.lower()

    want = [expected(k, p) for k, p in rows]
    good = sum(w is not None for w in want)
    assert result.exit_code == (3 if good < len(rows) else 0), result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["inserted"], report["rejected"]) == (
        len(rows),
        good,
        len(rows) - good,
    )
    stored = complaints(db_url)
    written = not (case["strict"] and good < len(rows))
    assert len(stored) - len(before) == (good if written else 0)
    for i, w in enumerate(want):
        got = stored.get(f"{tag}{i}")
        assert ((got.channel, got.category) if got else None) == (w if written else None)
        if got is not None:
            assert got.summary == (rows[i][1] or "It broke")


PROFILE_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=10).filter(
    lambda s: s.strip() == s and s != ""
)
FIELDS = st.sampled_from(["external_id", "category", "summary", "channel", "opened_at"])


@settings(max_examples=60, deadline=None)
@given(
    mapping=st.lists(st.tuples(PROFILE_TEXT, FIELDS), unique=True, max_size=5),
    constants=st.dictionaries(FIELDS, PROFILE_TEXT, max_size=3),
    values=st.dictionaries(FIELDS, st.dictionaries(PROFILE_TEXT, PROFILE_TEXT, max_size=3)),
    formats=st.lists(st.sampled_from(["%d/%m/%Y", "%m/%d/%y %H:%M"]), unique=True),
    zone=st.one_of(st.none(), st.just("Europe/Paris")),
)
def test_profiles_read_back_what_was_saved(
    mapping: list[tuple[str, str]],
    constants: dict[str, str],
    values: dict[str, dict[str, str]],
    formats: list[str],
    zone: str | None,
) -> None:
    import tomllib

    keyed = {f: {k.strip().casefold(): v for k, v in t.items()} for f, t in values.items()}
    saved = profiles.Profile(
        kind="complaints",
        zone=zone,
        date_formats=tuple(formats),
        mapping=tuple(mapping),
        constants=constants,
        values=keyed,
    )
    back = profiles._profile(Path("p.toml"), tomllib.loads(profiles.dumps(saved)))
    grouped = sorted(mapping, key=lambda p: [s for s, _ in mapping].index(p[0]))
    assert back.mapping == tuple(grouped)
    assert (back.constants, back.date_formats, back.zone) == (constants, tuple(formats), zone)
    assert back.values == {f: {k.casefold(): v for k, v in t.items()} for f, t in keyed.items()}


@pytest.mark.sqlite_only
def test_dry_run_creates_no_database_file(latte: Latte, tmp_path: Path) -> None:
    target = tmp_path / "new" / "never.db"
    source = tmp_path / "t.csv"
    source.write_text(
        "id,opened_at,channel,category,description\nD1,2024-05-01,web,x,y\n", encoding="utf-8"
    )
    result = latte("--db", str(target), "import", "complaints", str(source), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 1
    assert not target.exists() and not target.parent.exists()


@pytest.mark.sqlite_only
def test_rejects_keep_the_original_bytes(latte: Latte, db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "mixed.csv"
    bad_row = b"B2,2024-05-01,web,caf\xe9 latin-1,na\xefve \xff words\n"
    source.write_bytes(
        b"id,opened_at,channel,category,description\n"
        b"B1,2024-05-01,web,x,fine\n" + bad_row + "B3,2024-05-01,web,x,caf\u00e9\n".encode()
    )
    result = latte("import", "complaints", str(source), "--json")
    assert result.exit_code == 3, result.output
    report = json.loads(result.stdout)
    assert (report["inserted"], report["rejected"]) == (2, 1)
    written = (tmp_path / "mixed.rejects.csv").read_bytes()
    assert written.endswith(b"," + bad_row.replace(b"\n", b"\r\n"))


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    ("content", "extra", "said"),
    [
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)), (), "binary"),
        (b"id,opened_at\x00,x\n" + b"\x00" * 100, (), "binary"),
        (b"a" * (2 << 20) + b"\nA1\n", (), "longer than"),
        (b"id,opened_at\nA1,2024-05-01\n", ("--encoding", "rot13"), "encoding"),
    ],
    ids=["gzip", "nul", "huge-header", "rot13"],
)
def test_unreadable_input_is_one_line(
    latte: Latte, tmp_path: Path, content: bytes, extra: tuple[str, ...], said: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    result = latte("import", "complaints", str(source), *extra)
    assert result.exit_code == 1, result.output
    assert said in result.output and "unexpected" not in result.output
    assert len(result.output.strip().splitlines()) == 1
