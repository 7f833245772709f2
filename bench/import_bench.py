# ruff: noqa: E501  (the floor is SQL text, kept on one line per statement)
"""Import benchmark: `latte import` against the practical floor, in the same run.

    python bench/import_bench.py                      # 1,000,000 complaints, ~2,000,000 lines
    python bench/import_bench.py --complaints 100000  # quicker
    python bench/import_bench.py --complaints 200000 --kinds purchases
    python bench/import_bench.py --rss-only 100000,200000,500000,1000000 --kinds purchases

The floor is plain stdlib `sqlite3`: read the same CSV with `csv`, convert only what the
schema needs (timestamps to SQLAlchemy's text layout and epoch seconds), and `executemany` the
same database rows latte writes (customer, complaint, its `opened` and `stage` events and stage
records; purchases summed per order) into the same schema (created by latte's migrations), in
one transaction, WAL, default page cache; where the schema has revision 0016's hold, the
complaints' search documents are written once per batch as latte writes them. No validation,
no upsert, no rejects: what latte cannot beat. Each import runs in its own process; peak RSS
is that process's ru_maxrss.

Prints rows/s for both, the ratio (also per CPU second: the figure to compare on a shared,
loaded machine, where wall time says more about the neighbours than about the import), and
peak RSS of latte at 100k and at the full size.
Targets: complaints and purchases at least 0.5 times the floor; peak RSS ≤ 250 MB and within
10% between 100k and 1M.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LATTE_CHILD = """
import resource, sys, time
from latte_cli.cli.main import app
start = time.perf_counter()
try:
    app(args=sys.argv[1:], prog_name="latte")
except SystemExit:
    pass
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(f"BENCH {elapsed} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}", file=sys.stderr)
"""

FLOOR_CHILD = r"""
import csv, json, resource, sqlite3, sys, time
from datetime import datetime
kind, source, database = sys.argv[1:4]
start = time.perf_counter()
conn = sqlite3.connect(database, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA synchronous=NORMAL")
conn.execute("PRAGMA foreign_keys=ON")
conn.execute("BEGIN")

def ts(text):  # "2026-09-07T00:18:10Z" -> SQLAlchemy's layout and the epoch
    moment = datetime.fromisoformat(text)
    return text[:10] + " " + text[11:19] + ".000000", int(moment.timestamp())

customers = {}
def customer(ref, name, email, now):
    if not ref:
        return None
    if ref not in customers:
        cur = conn.execute("INSERT INTO customer (ref, name, email, created_at) VALUES (?,?,?,?)",
                           (ref, name or None, email or None, now))
        customers[ref] = cur.lastrowid
    return customers[ref]

now = "2026-11-23 00:00:00.000000"
rows = 0
with open(source, encoding="utf-8", newline="") as f:
    reader = csv.reader(f)
    next(reader)
    if kind == "complaints":
        cid = 0
        batch_c, batch_e, batch_s = [], [], []
        stage_names = ["acknowledge", "take_action", "thank", "explain"]
        # Revision 0016: the search triggers held off the batch's new complaints, whose
        # documents are then added in one statement from the same view (as latte does).
        hold = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'search_index_hold'").fetchone()
        def flush():
            if hold:
                conn.execute("INSERT INTO search_index_hold (after_id) SELECT ifnull(max(id), 0) FROM complaint")
            conn.executemany("INSERT INTO complaint (id, external_id, customer_id, channel, category, location, severity, summary, opened_by, assigned_agent, stage_due, cycle, reopen_count, opened_at, opened_epoch, acknowledged_at, acknowledged_epoch, first_resolved_at, first_resolved_epoch, resolved_at, resolved_epoch, action_kind, root_cause, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch_c)
            conn.executemany("INSERT INTO event (complaint_id, at, agent, kind, data) VALUES (?,?,?,?,?)", batch_e)
            conn.executemany("INSERT INTO stage_record (complaint_id, cycle, stage, text, agent, completed_at, duration_seconds, action_kind, action_detail, amount_cents, root_cause, what_will_change) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", batch_s)
            if hold:
                conn.execute("INSERT INTO search_index (rowid, words, customer) SELECT id, words, customer FROM search_document WHERE id > (SELECT after_id FROM search_index_hold)")
                conn.execute("DELETE FROM search_index_hold")
            batch_c.clear(); batch_e.clear(); batch_s.clear()
        for r in reader:
            rows += 1
            cid += 1
            (ext, ref, name, email, channel, category, location, severity, summary, listen, agent,
             opened, ack, act, thank, explain, resolved, kind_, detail, amount, cause, change,
             updates) = r
            o, oe = ts(opened)
            stages = [t for t in (ack, act, thank, explain) if t]
            times = [ts(t) for t in stages]
            res = ts(explain) if explain else (ts(resolved) if resolved else (None, None))
            a = ts(ack) if ack else (None, None)
            due = None if res[0] else ["acknowledge", "take_action", "thank", "explain"][len(stages)]
            who = agent or "bench"
            batch_c.append((cid, ext, customer(ref, name, email, now), channel, category, location,
                            severity, summary, who, agent or None, due, 0, 0, o, oe, a[0], a[1],
                            res[0], res[1], res[0], res[1], kind_ or None, cause or None, now))
            batch_e.append((cid, o, who, "opened", json.dumps({"assigned_agent": agent or None})))
            batch_e.append((cid, o, who, "stage", '{"cycle": 0, "stage": "listen"}'))
            batch_s.append((cid, 0, "listen", listen, who, o, 0, None, None, None, None, None))
            previous = oe
            for name_, (t, te) in zip(stage_names, times):
                batch_e.append((cid, t, who, "stage", '{"cycle": 0, "stage": "%s"}' % name_))
                # The same record contents latte writes (their texts feed the search index).
                content = ("", None, None, None, None, None)
                if name_ == "take_action":
                    cents = int(round(float(amount) * 100)) if amount else None
                    content = (detail or kind_, kind_ or None, detail or None, cents, None, None)
                elif name_ == "explain":
                    content = (change or "", None, None, None, cause or None, change or None)
                batch_s.append((cid, 0, name_, content[0], who, t, te - previous, *content[1:]))
                previous = te
            if resolved and not explain:
                batch_e.append((cid, res[0], who, "resolved", "{}"))
            for at in updates.split(";") if updates else ():
                batch_e.append((cid, ts(at)[0], who, "customer_update", '{"channel": null, "text": ""}'))
            if len(batch_c) >= 5000:
                flush()
        flush()
    else:
        batch = []
        current = None
        for order, ref, when, amount in reader:
            rows += 1
            cents = int(round(float(amount) * 100))
            if current and current[0] == order:
                current[4] += cents
                current[5] += 1
                continue
            if current:
                batch.append(tuple(current))
            t, te = ts(when)
            current = [order, customer(ref, None, None, now), t, te, cents, 1]
            if len(batch) >= 5000:
                conn.executemany("INSERT INTO purchase (order_ref, customer_id, purchased_at, purchased_epoch, amount_cents, lines) VALUES (?,?,?,?,?,?)", batch)
                batch.clear()
        if current:
            batch.append(tuple(current))
        conn.executemany("INSERT INTO purchase (order_ref, customer_id, purchased_at, purchased_epoch, amount_cents, lines) VALUES (?,?,?,?,?,?)", batch)
conn.execute("COMMIT")
elapsed = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(f"BENCH {elapsed} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}", file=sys.stderr)
"""


def _measure(code: str, args: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MiB, CPU seconds) of one child process."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    line = next((x for x in done.stderr.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"benchmark child failed:\n{done.stdout}\n{done.stderr}")
    _, seconds, rss_kib, cpu = line.split()
    return float(seconds), int(rss_kib) / 1024, float(cpu)


def _fresh_db(path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "latte_cli", "--db", str(path), "db", "upgrade"],
        check=True, capture_output=True,
    )  # fmt: skip


def _rows(path: Path) -> int:
    import csv

    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def run(
    complaints: int, folder: Path, small: int, only: tuple[str, ...] = ("complaints", "purchases")
) -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "scripts"))
    from generate_sample import generate

    results: dict[str, object] = {}
    sizes = sorted({small, complaints})
    for size in sizes:
        data = folder / f"data-{size}"
        if not (data / "complaints.csv").exists():
            generate(data, size, seed=11, lines_per_purchase=2.9)
        kinds = ["complaints", "purchases"] if size == complaints else ["complaints"]
        kinds = [kind for kind in kinds if kind in only]
        for kind in kinds:
            source = data / f"{kind}.csv"
            lines = _rows(source)
            for who in ("floor", "latte"):
                database = folder / f"{who}-{kind}-{size}.db"
                for leftover in folder.glob(f"{database.name}*"):
                    leftover.unlink()
                _fresh_db(database)
                if who == "floor":
                    seconds, rss, cpu = _measure(FLOOR_CHILD, [kind, str(source), str(database)])
                else:
                    seconds, rss, cpu = _measure(
                        LATTE_CHILD,
                        ["--db", str(database), "import", kind, str(source), "--json"],
                    )
                key = f"{kind}-{size}-{who}"
                results[key] = {
                    "rows": lines,
                    "seconds": round(seconds, 2),
                    "rows_per_s": round(lines / seconds),
                    "cpu_seconds": round(cpu, 2),
                    "rows_per_cpu_s": round(lines / cpu),
                    "peak_rss_mib": round(rss),
                }
                print(key, results[key], flush=True)
    for kind in ("complaints", "purchases"):
        floor = results.get(f"{kind}-{complaints}-floor")
        latte = results.get(f"{kind}-{complaints}-latte")
        if isinstance(floor, dict) and isinstance(latte, dict):
            ratio = latte["rows_per_s"] / floor["rows_per_s"]
            cpu_ratio = latte["rows_per_cpu_s"] / floor["rows_per_cpu_s"]
            results[f"{kind}-ratio"] = round(ratio, 2)
            results[f"{kind}-cpu-ratio"] = round(cpu_ratio, 2)
            print(
                f"{kind}: latte {latte['rows_per_s']:,} rows/s = {ratio:.2f}x the floor "
                f"(per CPU second: {cpu_ratio:.2f}x)"
            )
    big = results.get(f"complaints-{complaints}-latte")
    little = results.get(f"complaints-{small}-latte")
    if isinstance(big, dict) and isinstance(little, dict) and small != complaints:
        growth = big["peak_rss_mib"] / little["peak_rss_mib"] - 1
        results["rss-growth"] = round(growth, 3)
        print(f"peak RSS {little['peak_rss_mib']} MiB at {small:,} rows, "
              f"{big['peak_rss_mib']} MiB at {complaints:,} ({growth:+.1%})")  # fmt: skip
    return results


def rss_only(sizes: list[int], kinds: list[str], folder: Path) -> dict[str, object]:
    """Peak RSS (and CPU) of latte's import alone, per file size: is memory flat?"""
    sys.path.insert(0, str(ROOT / "scripts"))
    from generate_sample import generate

    results: dict[str, object] = {}
    for size in sorted(sizes):
        data = folder / f"data-{size}"
        if not (data / "complaints.csv").exists():
            generate(data, size, seed=11, lines_per_purchase=2.9)
        for kind in kinds:
            database = folder / f"rss-{kind}-{size}.db"
            for leftover in folder.glob(f"{database.name}*"):
                leftover.unlink()
            _fresh_db(database)
            source = data / f"{kind}.csv"
            seconds, rss, cpu = _measure(
                LATTE_CHILD, ["--db", str(database), "import", kind, str(source), "--json"]
            )
            for leftover in folder.glob(f"{database.name}*"):
                leftover.unlink()
            key = f"{kind}-{size}-latte"
            results[key] = {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                            "peak_rss_mib": round(rss)}  # fmt: skip
            print(key, results[key], flush=True)
    for kind in kinds:
        peaks = [results[f"{kind}-{size}-latte"]["peak_rss_mib"] for size in sorted(sizes)]  # type: ignore[index]
        print(f"{kind}: peak RSS {peaks} MiB at {sorted(sizes)} rows "
              f"({max(peaks) / min(peaks) - 1:+.1%} largest over smallest)")  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="Keep the generated files in this folder.")
    parser.add_argument(
        "--rss-only",
        help="Comma-separated sizes (complaints): measure latte's peak RSS alone at each.",
    )
    parser.add_argument("--kinds", default="complaints,purchases", help="The imports to run.")
    args = parser.parse_args()
    os.environ.setdefault("LATTE_AGENT", "bench")
    os.environ.setdefault("LATTE_TZ", "UTC")
    if args.rss_only:
        sizes = [int(size) for size in args.rss_only.split(",")]
        kinds = args.kinds.split(",")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            results = rss_only(sizes, kinds, args.keep)
        else:
            with tempfile.TemporaryDirectory() as folder:
                results = rss_only(sizes, kinds, Path(folder))
    elif args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        results = run(args.complaints, args.keep, args.small, tuple(args.kinds.split(",")))
    else:
        with tempfile.TemporaryDirectory() as folder:
            results = run(args.complaints, Path(folder), args.small, tuple(args.kinds.split(",")))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
