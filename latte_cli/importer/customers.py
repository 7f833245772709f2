"""Customers named by import rows, matched a batch at a time by `latte_cli.identity`'s rule.

It is the rule an agent's new complaint follows (`services.customers.match_or_create_customer`):
rows are matched in file order, a customer a row creates is matched by the rows after it, and
details a row gives fill in fields the stored customer lacks, never overwriting what is there.
A row without any detail is an anonymous complaint. A batch costs a few IN queries for the
candidates, one insert for the new customers and one update per filled column, never a query
per row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select

from latte_cli import identity
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

COLUMNS = ("ref", "name", "email", "phone")
KEY_OF = {"ref": "ref_key", "name": "name_key", "email": "email_key", "phone": "phone_key"}


@dataclass(frozen=True)
class CustomerIn:
    ref: str | None
    name: str | None
    email: str | None
    phone: str | None

    def cleaned(self) -> dict[str, str | None]:
        return {name: identity.clean(getattr(self, name)) for name in COLUMNS}


def parse(c: dict[str, str], prefix: str = "customer_") -> CustomerIn | None:
    def cell(name: str, limit: int) -> str | None:
        """The cell cleaned by the matching rule, so the limit applies to what is stored."""
        field = f"{prefix}{name}"
        return text(identity.clean(c.get(field, "")) or "", field, limit=limit)

    ref, name = cell("ref", 100), cell("name", 200)
    email, phone = cell("email", 200), cell("phone", 50)
    if email and "@" not in email:
        raise Bad(f"{prefix}email", f"{email!r} has no @")
    if identity.is_pseudonym(ref) and (name or email or phone):
        # A forgotten customer stays forgotten (docs/architecture.md, "Customer data"): a
        # row may name it by its pseudonym, never give it a name, email or phone again.
        given = next(f for f, v in (("name", name), ("email", email), ("phone", phone)) if v)
        raise Bad(
            f"{prefix}{given}",
            f"{ref!r} is a forgotten customer's pseudonym: it takes no {given}; leave "
            f"{prefix}name, {prefix}email and {prefix}phone empty on its rows",
        )
    if not (ref or name or email or phone):
        return None
    return CustomerIn(ref, name, email, phone)


def _keys(values: dict[str, str | None]) -> identity.Keys:
    return identity.keys_of(
        ref=values["ref"], email=values["email"], phone=values["phone"], name=values["name"]
    )


def _candidates(conn: Connection, wanted: Iterable[identity.Keys]) -> list[Any]:
    """The stored customers sharing a key with any of `wanted`, in id order."""
    table = Customer.__table__  # type: ignore[attr-defined]
    by_column: dict[str, set[str]] = defaultdict(set)
    for keys in wanted:
        names = COLUMNS if keys.by_name_and_phone else ("ref", "email")
        for name in names:
            value = getattr(keys, name)
            if value:
                by_column[KEY_OF[name]].add(value)
    columns = [
        table.c.id,
        table.c.merged_into,
        *(table.c[n] for n in COLUMNS),
        *(table.c[k] for k in KEY_OF.values()),
    ]
    found: dict[int, Any] = {}
    for column, values in by_column.items():
        for part in chunks(sorted(values)):
            for row in conn.execute(select(*columns).where(table.c[column].in_(part))):
                found[row.id] = row
    return [found[i] for i in sorted(found)]


def resolve(conn: Connection, given: list[CustomerIn | None], run: Run) -> dict[CustomerIn, int]:
    """The customer id of each distinct customer given, creating those that are new."""
    wanted = list(dict.fromkeys(c for c in given if c is not None))
    if not wanted:
        return {}
    if not any(c.name or c.email or c.phone for c in wanted):
        return _resolve_refs(conn, wanted, run)
    details = {customer: customer.cleaned() for customer in wanted}
    given_keys = {customer: _keys(values) for customer, values in details.items()}
    stored = _candidates(conn, given_keys.values())
    index = identity.CustomerIndex(
        (row.id, identity.Keys(row.ref_key, row.email_key, row.phone_key, row.name_key))
        for row in stored
    )
    records: dict[int, dict[str, str | None]] = {
        row.id: {name: getattr(row, name) for name in COLUMNS} for row in stored
    }
    # A customer joined into another (`latte customer merge`) is found by its ref and stands
    # for the customer kept: rows naming it go there, and fill nothing in on the pointer.
    pointers = {row.id: row.merged_into for row in stored if row.merged_into is not None}
    new: list[int] = []
    filled: dict[str, list[int]] = defaultdict(list)
    chosen: dict[CustomerIn, int] = {}
    for customer in wanted:
        given_values = details[customer]
        found = index.match(given_keys[customer])
        if found is None:
            # A placeholder id below zero until the insert below gives the real one.
            found = -1 - len(new)
            new.append(found)
            records[found] = dict(given_values)
        elif found not in pointers:
            record = records[found]
            for name in COLUMNS:
                if given_values[name] and record[name] is None:
                    record[name] = given_values[name]
                    if found > 0:
                        filled[name].append(found)
        index.add(found, _keys(records[found]))
        chosen[customer] = found
    real = _insert(conn, [records[i] for i in new], run)
    placeholders = dict(zip(new, real, strict=True))
    _fill(conn, records, filled, run)
    return {customer: pointers.get(i, placeholders.get(i, i)) for customer, i in chosen.items()}


def _resolve_refs(conn: Connection, wanted: list[CustomerIn], run: Run) -> dict[CustomerIn, int]:
    """Customers given by ref alone: see `resolve_refs`."""
    ids = resolve_refs(conn, [customer.ref for customer in wanted], run)
    return {customer: ids[customer.ref] for customer in wanted}


def resolve_refs(conn: Connection, refs: list[str | None], run: Run) -> dict[str | None, int]:
    """The customer id of each distinct ref (every purchase line), creating those that are
    new. Details given by ref alone reach only the first rule of
    `identity.CustomerIndex.match`, the same ref with the lowest id, and fill nothing in, so
    one grouped query finds them (tests/test_import.py holds this to the index)."""
    key_of = {ref: identity.clean(ref) for ref in dict.fromkeys(refs)}
    query = "SELECT ref_key, min(id) FROM customer WHERE ref_key IN ({in}) GROUP BY ref_key"
    keys = sorted({key for key in key_of.values() if key})
    found: dict[str | None, int] = dict(run.store.rows_in(conn, query, keys))
    new = list(dict.fromkeys(key for key in key_of.values() if key not in found))
    found.update(zip(new, _insert_refs(conn, new, run), strict=True))
    return {ref: found[key] for ref, key in key_of.items()}


def _insert_refs(conn: Connection, refs: list[str | None], run: Run) -> list[int]:
    """Insert customers known by their (cleaned) ref alone: the ref is its own key
    (`identity.keys_of`), no other detail or key."""
    if not run.store.sqlite:
        records = [{"ref": ref, "name": None, "email": None, "phone": None} for ref in refs]
        return _insert(conn, records, run)
    if not refs:
        return []
    created_at = run.store.ts(run.now)
    names = ("ref", "ref_key", "created_at")
    return _insert_sqlite(conn, names, [(ref, ref, created_at) for ref in refs], run)


def _insert(conn: Connection, records: list[dict[str, str | None]], run: Run) -> list[int]:
    """Insert new customers with their keys; their ids, in the order given."""
    if not records:
        return []
    table = Customer.__table__  # type: ignore[attr-defined]
    rows = []
    for record in records:
        keys = _keys(record)
        rows.append(
            {
                **record,
                **{KEY_OF[name]: getattr(keys, name) for name in COLUMNS},
                "created_at": run.now,
            }
        )
    if run.store.sqlite:
        names = list(rows[0])
        created_at = run.store.ts(run.now)
        values = [tuple(created_at if n == "created_at" else row[n] for n in names) for row in rows]
        return _insert_sqlite(conn, names, values, run)
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [row.id for row in conn.execute(statement, rows)]


def _insert_sqlite(
    conn: Connection, names: Sequence[str], values: list[tuple[Any, ...]], run: Run
) -> list[int]:
    """One executemany instead of a RETURNING statement per row (what SQLAlchemy falls back
    to on SQLite when the order must be kept). The import holds the write lock, so the new
    rows take the ids after the largest one, in the order given."""
    table = Customer.__table__  # type: ignore[attr-defined]
    before = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    run.store.insert(conn, "customer", names, values)
    # Each new row took the next rowid, so the ids are the numbers after `before`;
    # the count and the largest id prove it without reading every id back.
    count, last = conn.execute(
        select(func.count(), func.max(table.c.id)).where(table.c.id > before)
    ).one()
    assert (count, last) == (len(values), before + len(values)), "the import holds the lock"
    return list(range(before + 1, before + 1 + len(values)))


def _fill(
    conn: Connection,
    records: dict[int, dict[str, str | None]],
    filled: dict[str, list[int]],
    run: Run,
) -> None:
    """Write the fields rows filled in on stored customers, with their keys."""
    quote = run.store.dialect.identifier_preparer.quote
    mark = run.store.mark
    for name, ids in filled.items():
        column, key = quote(name), quote(KEY_OF[name])
        rows = []
        for customer_id in dict.fromkeys(ids):
            value = records[customer_id][name]
            rows.append((value, getattr(_keys(records[customer_id]), name), customer_id))
        conn.exec_driver_sql(
            f"UPDATE customer SET {column} = {mark}, {key} = {mark} "
            f"WHERE id = {mark} AND {column} IS NULL",
            rows,
        )
