"""Customers named by import rows, matched a batch at a time: by ref, else email, else name.

As when an agent opens a complaint, details a row gives fill in fields the stored customer
lacks and never overwrite what is there. A row without any detail is an anonymous complaint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from latte_cli.importer.base import chunks
from latte_cli.importer.fields import Bad, text
from latte_cli.models import Customer

# Column names other systems use for the customer reference, in complaint and purchase files.
REF_ALIASES = (
    "customer",
    "customer_id",
    "customer_number",
    "client_id",
    "account",
    "account_id",
    "requester_id",
)

if TYPE_CHECKING:
    from latte_cli.importer.base import Run

COLUMNS = ("ref", "name", "email", "phone", "created_at")


@dataclass(frozen=True)
class CustomerIn:
    ref: str | None
    name: str | None
    email: str | None
    phone: str | None

    def key(self) -> tuple[str, str]:
        if self.ref:
            return ("ref", self.ref)
        if self.email:
            return ("email", self.email.lower())
        if self.name:
            return ("name", self.name)
        return ("phone", self.phone or "")


def parse(c: dict[str, str], prefix: str = "customer_") -> CustomerIn | None:
    get = c.get
    ref = text(get(f"{prefix}ref", ""), f"{prefix}ref", limit=100)
    name = text(get(f"{prefix}name", ""), f"{prefix}name", limit=200)
    email = text(get(f"{prefix}email", ""), f"{prefix}email", limit=200)
    phone = text(get(f"{prefix}phone", ""), f"{prefix}phone", limit=50)
    if email and "@" not in email:
        raise Bad(f"{prefix}email", f"{email!r} has no @")
    if not (ref or name or email or phone):
        return None
    return CustomerIn(ref, name, email, phone)


def _lookup(conn: Connection, wanted: Iterable[CustomerIn]) -> dict[tuple[str, str], Any]:
    table = Customer.__table__  # type: ignore[attr-defined]
    by_kind: dict[str, set[str]] = {"ref": set(), "email": set(), "name": set(), "phone": set()}
    for customer in wanted:
        kind, value = customer.key()
        by_kind[kind].add(value)
        if kind == "email" and customer.email:
            by_kind["email"].add(customer.email)
    found: dict[tuple[str, str], Any] = {}
    columns = (table.c.id, table.c.ref, table.c.name, table.c.email, table.c.phone)
    for part in chunks(sorted(by_kind["ref"])):
        for row in conn.execute(select(*columns).where(table.c.ref.in_(part))):
            found[("ref", row.ref)] = row
    for part in chunks(sorted(by_kind["email"])):
        statement = select(*columns).where(table.c.email.in_(part)).order_by(table.c.id)
        for row in conn.execute(statement):
            found.setdefault(("email", row.email.lower()), row)
    for part in chunks(sorted(by_kind["name"])):
        statement = (
            select(*columns)
            .where(table.c.name.in_(part), table.c.ref.is_(None), table.c.email.is_(None))
            .order_by(table.c.id)
        )
        for row in conn.execute(statement):
            found.setdefault(("name", row.name), row)
    for part in chunks(sorted(by_kind["phone"])):
        statement = (
            select(*columns)
            .where(
                table.c.phone.in_(part),
                table.c.ref.is_(None),
                table.c.email.is_(None),
                table.c.name.is_(None),
            )
            .order_by(table.c.id)
        )
        for row in conn.execute(statement):
            found.setdefault(("phone", row.phone), row)
    return found


def resolve(conn: Connection, given: list[CustomerIn | None], run: Run) -> dict[CustomerIn, int]:
    """The customer id of each distinct customer given, creating those that are new."""
    wanted = {c for c in given if c is not None}
    if not wanted:
        return {}
    found = _lookup(conn, wanted)
    new: dict[tuple[str, str], CustomerIn] = {}
    for customer in sorted(wanted, key=lambda c: c.key()):
        if customer.key() not in found:
            new.setdefault(customer.key(), customer)
    if new:
        created = run.store.ts(run.now)
        run.store.insert(
            conn,
            "customer",
            COLUMNS,
            [(c.ref, c.name, c.email, c.phone, created) for c in new.values()],
        )
        found.update(_lookup(conn, new.values()))
    fills: dict[str, list[tuple[Any, int]]] = {"name": [], "email": [], "phone": []}
    ids: dict[CustomerIn, int] = {}
    for customer in wanted:
        row = found[customer.key()]
        ids[customer] = row.id
        for name in fills:
            value = getattr(customer, name)
            if value and getattr(row, name) is None:
                fills[name].append((value, row.id))
    quote = run.store.dialect.identifier_preparer.quote
    mark = run.store.mark
    for name, rows in fills.items():
        if rows:
            column = quote(name)
            conn.exec_driver_sql(
                f"UPDATE customer SET {column} = {mark} WHERE id = {mark} AND {column} IS NULL",
                rows,
            )
    return ids
