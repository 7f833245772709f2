"""Batch import of complaints, purchases and follow-ups from CSV or JSONL.

The contract is in docs/architecture.md ("Batch import"). A
streaming parse (`source`) → cheap per-field validation (`fields`) → batched upsert with
SQLAlchemy Core (`base`, one module per kind). Counts are exact: every row read is inserted,
updated, unchanged or rejected, and each reject is written, with the row's original values,
to a rejects file that can be fixed and imported again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import IO

from latte_cli.errors import InvalidValue
from latte_cli.importer.base import ImportOptions, ImportReport, Progress, Reject, run_import
from latte_cli.importer.fields import parse_mapping
from latte_cli.importer.source import Source, open_source

KINDS = ("complaints", "purchases", "followups")

__all__ = ["KINDS", "ImportOptions", "ImportReport", "Reject", "import_file", "parse_mapping"]


def import_file(
    url: str,
    options: ImportOptions,
    *,
    progress: Progress | None = None,
    stdin: IO[bytes] | None = None,
    busy_timeout_ms: int | None = None,
) -> ImportReport:
    """Import `options.path` (`-`: stdin) into the database at `url`; see the package
    docstring."""
    if options.kind not in KINDS:
        raise InvalidValue(f"Cannot import {options.kind!r}: choose one of {', '.join(KINDS)}.")
    source = open_source(
        options.path,
        encoding=options.encoding,
        format=options.format,
        stdin=stdin,
        decimal_mark=options.decimal_mark,
    )
    from latte_cli.db import get_engine

    try:
        if options.dry_run and _missing_sqlite_file(url):
            # A dry run creates no database file: it runs against an empty one made for it.
            with tempfile.TemporaryDirectory(prefix="latte-dry-run-") as folder:
                scratch = f"sqlite:///{Path(folder) / 'dry-run.db'}"
                try:
                    return _import_source(scratch, options, source, progress, busy_timeout_ms)
                finally:
                    get_engine(scratch).dispose()
        return _import_source(url, options, source, progress, busy_timeout_ms)
    finally:
        source.close()


def _import_source(
    url: str,
    options: ImportOptions,
    source: Source,
    progress: Progress | None,
    busy_timeout_ms: int | None,
) -> ImportReport:
    from latte_cli.db import ensure_schema
    from latte_cli.importer.base import Kind

    kind: Kind
    if options.kind == "complaints":
        from latte_cli.importer.history import carries_history, import_history

        if carries_history(source):  # latte's own JSONL export: rebuild every event
            return import_history(
                url, options, source, progress=progress, busy_timeout_ms=busy_timeout_ms
            )
        from latte_cli.importer.complaints import ComplaintKind

        kind = ComplaintKind()
    elif options.kind == "purchases":
        from latte_cli.importer.purchases import PurchaseKind

        kind = PurchaseKind()
    else:
        from latte_cli.importer.followups import FollowUpKind

        kind = FollowUpKind()
    engine = ensure_schema(url, busy_timeout_ms=busy_timeout_ms)
    return run_import(url, engine, kind, options, source, progress=progress)


def _missing_sqlite_file(url: str) -> bool:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()
