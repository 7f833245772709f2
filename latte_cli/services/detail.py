"""The complaints behind a report's counts, as `latte list` rows (docs/metrics.md, "Drill-down").

`reports/detail.py` selects the complaints by the figures' definitions; this module reads their
list rows (`services/views.ComplaintRow`), in the order the selection gives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from latte_cli.models import Complaint, Customer
from latte_cli.reports.build import Options
from latte_cli.reports.detail import Detail, Facts, FigureName, detail, parse_figure
from latte_cli.reports.periods import Span
from latte_cli.services.views import ComplaintRow

# Ids per query when reading the rows: well under SQLite's and PostgreSQL's parameter limits.
CHUNK = 900
# ComplaintRow fields taken from the customer rather than the complaint.
FROM_CUSTOMER = {"customer_ref": "ref", "customer_name": "name"}


@dataclass(frozen=True)
class DetailPage:
    """A figure's complaints: `rows` (at most the limit asked for) beside `detail.members`."""

    detail: Detail
    rows: list[ComplaintRow]

    @property
    def total(self) -> int:
        return len(self.detail.members)


def complaint_rows(session: Session, ids: Sequence[int]) -> list[ComplaintRow]:
    """The list rows of `ids`, in that order: every `ComplaintRow` field that is a column, read
    by its name from the complaint's columns (the customer's ref and name from the customer),
    as plain rows, not ORM objects (a year's cohort is a few hundred thousand)."""
    complaint, customer = Complaint.__table__, Customer.__table__  # type: ignore[attr-defined]
    # Fields with no column of that name (the deadline countdown) keep their defaults: the
    # figure's own columns say what the drill-down is about.
    names = [
        f.name
        for f in dataclasses.fields(ComplaintRow)
        if f.name in FROM_CUSTOMER or f.name in complaint.c
    ]
    columns = [
        customer.c[FROM_CUSTOMER[n]].label(n) if n in FROM_CUSTOMER else complaint.c[n]
        for n in names
    ]
    found: dict[int, ComplaintRow] = {}
    conn = session.connection()
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        statement = (
            select(*columns)
            .select_from(complaint.outerjoin(customer, customer.c.id == complaint.c.customer_id))
            .where(complaint.c.id.in_(chunk))
        )
        for values in conn.execute(statement).fetchall():
            row = ComplaintRow(**dict(zip(names, values, strict=True)))
            found[row.id] = row
    return [found[i] for i in ids if i in found]


def figure_details(
    session: Session,
    *,
    span: Span,
    options: Options,
    figures: Sequence[str | FigureName],
    limit: int | None = None,
) -> list[DetailPage]:
    """Each figure's complaints, with at most `limit` list rows each (all when None); the
    populations are read once for all of them."""
    conn = session.connection()
    facts = {
        False: Facts(conn, span.current, options),
        True: Facts(conn, span.previous, options),
    }
    pages = []
    for figure in figures:
        name = parse_figure(figure) if isinstance(figure, str) else figure
        found = detail(facts[name.previous], name)
        ids = [m.complaint_id for m in found.members[:limit]]
        pages.append(DetailPage(detail=found, rows=complaint_rows(session, ids)))
    return pages
