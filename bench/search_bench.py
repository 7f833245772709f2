"""Benchmark `latte search` on the 1,000,000-complaint bench database, on SQLite and PostgreSQL.

    cp /tmp/speed-bench-0014.db /tmp/search-bench.db    # never the original: this rewrites it
    python bench/search_bench.py --db /tmp/search-bench.db            # fill, index, time SQLite
    python bench/pg_load.py --db /tmp/search-bench.db --pg-url ADMIN_URL   # prints URL
    python bench/search_bench.py --db /tmp/search-bench.db --indexed --pg-url URL

The bench database (bench/report_bench.py) has no free text, so the run first writes some
where it is empty, deterministically: a summary (4-9 words), the Listen stage's words (12-30)
and the Acknowledge text (6-12) of every complaint, drawn from a Zipf-distributed vocabulary
of 30,000 generated words plus ordinary complaint words; and a name, an email and a phone
(written with varied punctuation) for every customer; the generator's `reopen` events get a
reason. The texts are written with the triggers off (no figure reads them) and the index is
then rebuilt whole. It measures:

1. the index build: FTS5's `rebuild` of the whole index (what `latte db rebuild-search`
   runs), CPU and wall time, and the index's size (SQLite's `dbstat`);
2. queries through the service (`latte_cli.services.search.search`, 20 hits with snippets)
   in-process: a common, a middling and a rare word, two words, a prefix, a name with an
   accent typed without it, and a phone typed with other punctuation; CPU and wall time,
   median of 5 after one warm-up run, with the number of complaints each query matches;
3. with `--pg-url`, the same queries on PostgreSQL, on the whole database loaded from the
   filled copy by bench/pg_load.py (which times the index's build with latte's own function
   and gives its size), with the CPU time of the server's backend per search (mean of the 5,
   when the server runs on this machine); beside them, the server's execution time (EXPLAIN
   ANALYZE, `rank-all`) of a query ranking every match, which the service avoids beyond 2,000
   matches.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED = 14
VOCABULARY = 30_000
SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
COMPLAINT_WORDS = [
    "parcel",
    "arrived",
    "broken",
    "late",
    "damaged",
    "refund",
    "charged",
    "twice",
    "order",
    "missing",
    "kettle",
    "lid",
    "handle",
    "cracked",
    "leaking",
    "delivery",
    "courier",
    "invoice",
    "wrong",
    "colour",
    "size",
    "battery",
    "screen",
    "replacement",
    "waiting",
    "weeks",
    "call",
    "back",
    "nobody",
    "answered",
    "manager",
    "rude",
    "store",
    "receipt",
]
FIRST = ["Ana", "Zoë", "Łukasz", "José", "Jürgen", "Chloé", "Søren", "Bob", "Mia", "Raj"]
LAST = ["Diaz", "Müller", "Łukasiewicz", "O'Brien", "Nguyen", "Smith", "Weiß", "Kowalski"]
QUERIES = (
    ("a common word", "parcel"),
    ("a middling word", None),  # filled in from the vocabulary's ranks
    ("a rare word", None),
    ("two words", "kettle cracked"),
    ("a prefix", "replac*"),
    ("a name, accents not typed", "jurgen muller"),
    ("a phone, other punctuation", None),
)


def vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    words = list(COMPLAINT_WORDS)
    seen = set(words)
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    weights, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += 1 / rank
        weights.append(total)
    return words, weights


def fill_texts(path: Path) -> None:
    """Write generated words where the bench database has none (idempotent)."""
    connection = sqlite3.connect(path)
    (named,) = connection.execute("SELECT count(name) FROM customer").fetchone()
    if named:
        connection.close()
        return
    rng = random.Random(SEED)
    words, weights = vocabulary(rng)

    def text(low: int, high: int) -> str:
        return " ".join(rng.choices(words, cum_weights=weights, k=rng.randint(low, high)))

    started = time.perf_counter()
    # The texts are written with the triggers off: they would refresh the search index and
    # queue every complaint for the report summary row by row. No figure reads these columns
    # (summary, stage texts, customer contact, a reopening's reason), and the index is rebuilt
    # whole afterwards.
    triggers = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
        "AND tbl_name IN ('complaint', 'stage_record', 'customer', 'event')"
    ).fetchall()
    with connection:
        for name, _ in triggers:
            connection.execute(f'DROP TRIGGER "{name}"')
        _reopen_reasons(connection)
        customers = [row[0] for row in connection.execute("SELECT id FROM customer")]
        rows = []
        for cid in customers:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            digits = f"{rng.randint(0, 999_999):06d}"
            phone = rng.choice(
                (f"+44 7700 9{digits[:2]} {digits[2:]}", f"+44 (7700) 9{digits[:2]}-{digits[2:]}")
            )
            rows.append((f"{first} {last}", f"{first}.{last}{cid}@example.org", phone, cid))
        connection.executemany(
            "UPDATE customer SET name = ?, email = ?, phone = ? WHERE id = ?", rows
        )
        _write_keys(connection)
        for table, stage, low, high in (
            ("complaint", None, 4, 9),
            ("stage_record", "listen", 12, 30),
            ("stage_record", "acknowledge", 6, 12),
        ):
            for part in _parts(connection, table, stage):
                column = "summary" if table == "complaint" else "text"
                connection.executemany(
                    f"UPDATE {table} SET {column} = ? WHERE id = ?",
                    [(text(low, high), row_id) for row_id in part],
                )
        for _, statement in triggers:
            connection.execute(statement)
    connection.close()
    print(f"filled the texts in {time.perf_counter() - started:.0f} s")


def _reopen_reasons(connection: sqlite3.Connection) -> None:
    """The generator's `reopen` events carry no details (`{}`, which latte cannot read): give
    them a reason, as `latte reopen` records one, and the first cycle (in the caller's
    transaction, the triggers off)."""
    rng = random.Random(SEED + 1)
    ids = [
        row[0]
        for row in connection.execute("SELECT id FROM event WHERE kind = 'reopen' AND data = '{}'")
    ]
    connection.executemany(
        "UPDATE event SET data = ? WHERE id = ?",
        [
            (json.dumps({"reason": " ".join(rng.sample(COMPLAINT_WORDS, 4)), "cycle": 1}), i)
            for i in ids
        ],
    )


def _parts(connection: sqlite3.Connection, table: str, stage: str | None) -> Iterator[list[int]]:
    where = f"WHERE stage = '{stage}'" if stage else ""
    cursor = connection.execute(f"SELECT id FROM {table} {where} ORDER BY id")
    while part := cursor.fetchmany(100_000):
        yield [row[0] for row in part]


def _write_keys(connection: sqlite3.Connection) -> None:
    from latte_cli import identity

    rows = connection.execute("SELECT id, ref, email, phone, name FROM customer").fetchall()
    keys = [
        (k.ref, k.email, k.phone, k.name, cid)
        for cid, ref, email, phone, name in rows
        for k in [identity.keys_of(ref=ref, email=email, phone=phone, name=name)]
    ]
    connection.executemany(
        "UPDATE customer SET ref_key = ?, email_key = ?, phone_key = ?, name_key = ? WHERE id = ?",
        keys,
    )


def pick_queries(path: Path) -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    words, _ = vocabulary(rng)
    connection = sqlite3.connect(path)
    phone = connection.execute(
        "SELECT phone FROM customer WHERE id = (SELECT customer_id FROM complaint WHERE id = 4242)"
    ).fetchone()[0]
    connection.close()
    digits = "".join(c for c in phone if c.isdigit())
    filled = {"a middling word": words[400], "a rare word": words[25_000]}
    filled["a phone, other punctuation"] = f"+{digits[:2]} {digits[2:6]}.{digits[6:]}"
    return [(what, text or filled[what]) for what, text in QUERIES]


def backend_clock(session: Any) -> Callable[[], float] | None:
    """The CPU seconds the session's PostgreSQL backend used so far (/proc/PID/stat, user +
    system), when the server runs on this machine; the work a search costs the server,
    whatever else the machine runs. Clock ticks are 10 ms: the bench gives the mean of 5."""
    pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return None
    ticks = os.sysconf("SC_CLK_TCK")

    def clock() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    return clock


def time_queries(
    url: str, queries: list[tuple[str, str]], explain: bool = False
) -> dict[str, list[int]]:
    """Time each query; returns the ids each one found, best first."""
    from sqlalchemy import text as sql

    from latte_cli.db import open_session
    from latte_cli.services.search import Query, SearchFilter, search

    found: dict[str, list[int]] = {}
    with open_session(url, readonly=True) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        for what, text in queries:
            query = Query.parse(text)
            if postgres:
                match = "document @@ to_tsquery('simple', unaccent(:q))"
                count_sql = f"SELECT count(*) FROM search_index WHERE {match}"
                params = {"q": query.tsquery()}
            else:
                count_sql = "SELECT count(*) FROM search_index WHERE search_index MATCH :q"
                params = {"q": query.fts5()}
            matched = session.connection().execute(sql(count_sql), params).scalar()
            filters = SearchFilter(text=text, limit=20)
            search(session, filters)
            cpu, wall = [], []
            backend = backend_clock(session) if postgres else None
            started = backend() if backend else 0.0
            for _ in range(5):
                c, w = time.process_time(), time.perf_counter()
                hits = search(session, filters)
                cpu.append(time.process_time() - c)
                wall.append(time.perf_counter() - w)
            found[text] = [hit.complaint_id for hit in hits]
            server = f"  server cpu {(backend() - started) / 5 * 1000:5.1f} ms" if backend else ""
            if explain and postgres:
                plan = (
                    session.connection()
                    .execute(
                        sql(
                            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT complaint_id FROM search_index "
                            f"WHERE {match} ORDER BY ts_rank(document, "
                            "to_tsquery('simple', unaccent(:q))) DESC LIMIT 20"
                        ),
                        params,
                    )
                    .scalar()
                )
                server += f"  rank-all {plan[0]['Execution Time']:7.1f} ms"
            print(
                f"  {what:28} {text!r:24} matches {matched:>8,}  hits {len(hits):>2}  "
                f"cpu {statistics.median(cpu) * 1000:6.1f} ms  "
                f"wall {statistics.median(wall) * 1000:6.1f} ms{server}"
            )
    return found


def index_size_sqlite(path: Path) -> int:
    connection = sqlite3.connect(path)
    (size,) = connection.execute(
        "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search_index%'"
    ).fetchone()
    connection.close()
    return int(size or 0)


def same_hits(path: Path | None, store: str, found: dict[str, list[int]]) -> None:
    """With --hits: the ids each query found (best first) are written to PATH the first
    time, and compared with it afterwards, so that a change to the search shows whether it
    finds the same complaints in the same order."""
    if path is None:
        return
    saved = json.loads(path.read_text()) if path.exists() else {}
    if store not in saved:
        saved[store] = found
        path.write_text(json.dumps(saved, indent=1))
        print(f"{store}: hits written to {path}")
        return
    differ = [text for text in found if saved[store].get(text) != found[text]]
    print(f"{store}: hits {'differ for ' + repr(differ) if differ else 'the same as'} in {path}")


def sqlite_run(path: Path) -> tuple[list[tuple[str, str]], dict[str, list[int]]]:
    """Fill the texts of a bench copy at the current revision (0014), rebuild its index the
    way `latte db rebuild-search` does and time the build, then the queries."""
    fill_texts(path)
    connection = sqlite3.connect(path)
    cpu, wall = time.process_time(), time.perf_counter()
    with connection:
        connection.execute("INSERT INTO search_index (search_index) VALUES ('rebuild')")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    connection.close()
    print(
        f"SQLite index build (rebuild on 1,000,000 complaints): cpu {cpu:.1f} s, "
        f"wall {wall:.1f} s, size {index_size_sqlite(path) / 2**20:.0f} MiB"
    )
    url = f"sqlite:///{path}"
    queries = pick_queries(path)
    print("SQLite queries (20 hits with snippets, in-process, median of 5):")
    return queries, time_queries(url, queries)


def postgres_run(url: str, queries: list[tuple[str, str]]) -> dict[str, list[int]]:
    """The queries on a PostgreSQL database loaded from the same filled copy by
    bench/pg_load.py (which builds the search index and reports its build time and size)."""
    from latte_cli import db

    with db.get_engine(url).connect() as connection:
        size = connection.exec_driver_sql("SELECT pg_total_relation_size('search_index')").scalar()
        documents = connection.exec_driver_sql("SELECT count(*) FROM search_index").scalar()
    print(f"PostgreSQL search index: {documents:,} documents, {int(size or 0) / 2**20:.0f} MiB")
    print("PostgreSQL queries (20 hits with snippets, in-process, median of 5):")
    found = time_queries(url, queries, explain=True)
    db.dispose_engines()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, required=True, help="A copy of the bench database.")
    parser.add_argument(
        "--pg-url", help="Also on PostgreSQL: a database bench/pg_load.py loaded from --db."
    )
    parser.add_argument(
        "--indexed",
        action="store_true",
        help="The copy is filled and indexed by an earlier run: time the queries only.",
    )
    parser.add_argument(
        "--pg-only", action="store_true", help="With --indexed: PostgreSQL's queries alone."
    )
    parser.add_argument(
        "--hits", type=Path, help="Write each query's ids to this JSON file, or compare with it."
    )
    args = parser.parse_args()
    if args.indexed:
        queries = pick_queries(args.db)
        if not args.pg_only:
            print("SQLite queries (20 hits with snippets, in-process, median of 5):")
            same_hits(args.hits, "sqlite", time_queries(f"sqlite:///{args.db}", queries))
    else:
        queries, found = sqlite_run(args.db)
        same_hits(args.hits, "sqlite", found)
    if args.pg_url:
        same_hits(args.hits, "postgresql", postgres_run(args.pg_url, queries))


if __name__ == "__main__":
    main()
