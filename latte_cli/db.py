"""Engines, sessions and schema upgrades.

A database is brought to the newest schema the first time latte touches it, through the Alembic
revisions shipped in `latte_cli/migrations`. Checking is cheap: the revision list is known
without importing Alembic, which is only loaded when there is something to upgrade.
"""

from __future__ import annotations

import atexit
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from latte_cli import summary
from latte_cli.config import redact_url
from latte_cli.errors import DatabaseError
from latte_cli.migrations import HEAD, REVISIONS

# How long a SQLite writer waits for the write lock unless told otherwise (the busy_timeout
# setting, see latte_cli/config.py).
BUSY_TIMEOUT_MS = 15_000
# Waiting on a locked SQLite database (write lock, WAL switch): try again after a random pause
# in this range (s).
WRITE_LOCK_POLL = (0.002, 0.010)


_engines: dict[str, Engine] = {}
_busy_timeouts: dict[str, int] = {}
# SQLite files this process wrote to: checkpointed when the engines are disposed (at exit).
_written: set[Path] = set()


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _create_sqlite_file(path: Path) -> None:
    """Create the file and its folders, readable by its owner only (0600)."""
    if path.exists():
        if path.is_dir():
            raise DatabaseError(
                f"{path} is a folder, not a database file. Pass --db with a file path."
            )
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    except OSError as error:
        reason = error.strerror or str(error)
        raise DatabaseError(
            f"Cannot create the database file {path}: {reason}. "
            "Pass --db with a writable path or set LATTE_DB."
        ) from None


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, timeout_ms: int) -> None:
    # Transactions are begun explicitly (see _on_sqlite_begin), so that writers take the
    # write lock up front and wait for it instead of failing half-way.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        # Switching to WAL needs a moment's lock, and SQLite may refuse the pragma at once
        # ("database is locked", no busy wait) while other processes write: set it only when
        # the file is not in WAL mode yet, and try again for as long as a writer would wait.
        if not _until_unlocked(lambda: _use_wal(cursor), timeout_ms):
            _use_wal(cursor)  # out of time: this try's error is the one reported
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        # Freed bytes are zeroed, so no stale copy of erased text stays in the file's free
        # space (docs/architecture.md, "Customer data").
        cursor.execute("PRAGMA secure_delete = ON")
    finally:
        cursor.close()


def _use_wal(cursor: sqlite3.Cursor) -> None:
    (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
    if str(mode).lower() != "wal":
        cursor.execute("PRAGMA journal_mode = WAL")


def _until_unlocked(attempt: Callable[[], object], timeout_ms: int) -> bool:
    """Call `attempt` until it does not fail with "database is locked", after a short random
    pause each time, for up to `timeout_ms`. False when time ran out or it failed otherwise."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        try:
            attempt()
            return True
        except sqlite3.OperationalError as error:
            if "locked" not in str(error).lower():
                return False
        time.sleep(random.uniform(*WRITE_LOCK_POLL))
    return False


def _on_sqlite_begin(connection: Any, timeout_ms: int, path: Path) -> None:
    if connection.get_execution_options().get("latte_readonly"):
        connection.exec_driver_sql("BEGIN DEFERRED")
    else:
        _written.add(path)
        _begin_immediate(connection, timeout_ms)


def _begin_immediate(connection: Any, timeout_ms: int) -> None:
    """Take SQLite's write lock, waiting for it up to the busy timeout.

    SQLite's own busy handler sleeps longer the longer a connection has waited (up to 100 ms a
    try), so under steady contention a writer that has waited a while loses almost every race to
    writers that just started waiting, and can starve. Here every waiter tries again after a
    short random pause whatever its waiting time, so each has the same chance at each release.
    """
    driver = connection.connection.driver_connection
    driver.execute("PRAGMA busy_timeout = 0")
    try:
        if not _until_unlocked(lambda: driver.execute("BEGIN IMMEDIATE"), timeout_ms):
            # Out of time (or another failure): one last try, whose error SQLAlchemy reports.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        # Statements inside the transaction (and readers) keep the busy timeout.
        driver.execute(f"PRAGMA busy_timeout = {timeout_ms}")


def get_engine(url: str, *, busy_timeout_ms: int | None = None) -> Engine:
    """One engine per URL per process, with latte's SQLite settings applied.

    `busy_timeout_ms`: how long SQLite writers wait for the write lock; None keeps the
    engine's (BUSY_TIMEOUT_MS for a new one).
    """
    if url in _engines:
        if busy_timeout_ms is None or busy_timeout_ms == _busy_timeouts[url]:
            return _engines[url]
        _engines.pop(url).dispose()
    timeout_ms = BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms
    path = _sqlite_path(url)
    if path is not None:
        sqlite_file: Path = path
        _refuse_read_only(sqlite_file)
        _create_sqlite_file(sqlite_file)
        engine = create_engine(url, connect_args={"timeout": timeout_ms / 1000})
        event.listen(
            engine, "connect", lambda dbapi, _record: _on_sqlite_connect(dbapi, timeout_ms)
        )
        event.listen(
            engine,
            "begin",
            lambda connection: _on_sqlite_begin(connection, timeout_ms, sqlite_file),
        )
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except ImportError as error:
            if "psycopg" in str(error):
                raise DatabaseError(
                    "PostgreSQL support is not installed. Install it with pip install "
                    "'latte-cli[postgresql]' (from a clone: pip install '.[postgresql]')."
                ) from None
            raise DatabaseError(
                f"Cannot use the database URL {redact_url(url)}: {error}. Check --db or LATTE_DB."
            ) from None
        except (SQLAlchemyError, ValueError) as error:
            raise DatabaseError(
                f"Cannot use the database URL {redact_url(url)}: {error}. Check --db or LATTE_DB."
            ) from None
    _engines[url] = engine
    _busy_timeouts[url] = timeout_ms
    return engine


def _is_read_only(path: Path) -> bool:
    """The file, or the folder that must hold its -wal and -shm files, cannot be written (a
    read-only mount, an immutable file, or permissions)."""
    return not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK)


def _refuse_read_only(path: Path) -> None:
    """Writing commands (and engines that may write) refuse a read-only database in one line."""
    if path.is_file() and _is_read_only(path):
        raise DatabaseError(
            f"The database {path} is read-only: reading commands work on it, writing ones "
            "cannot. Make the file and its folder writable, or copy it with "
            "`latte --db FILE db backup COPY` and pass --db COPY."
        )


def _missing_database(path: Path) -> DatabaseError:
    return DatabaseError(
        f"No database at {path}. Create one with `latte new` (or `latte db upgrade`), or pass "
        "--db with the path of an existing database."
    )


def _on_read_only_connect(dbapi_connection: sqlite3.Connection, timeout_ms: int) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _read_only_uri(path: Path) -> str:
    """SQLite's URI for reading `path` without writing anything beside it."""
    shm = path.with_name(f"{path.name}-shm")
    shm_usable = os.access(path.parent, os.W_OK) or (shm.exists() and os.access(shm, os.W_OK))
    flags = "mode=ro" if shm_usable else "mode=ro&immutable=1"
    return f"file:{quote(str(path.resolve()))}?{flags}"


def _read_only_engine(url: str, path: Path, busy_timeout_ms: int | None) -> Engine:
    """An engine that opens the file with SQLite's `mode=ro`, and `immutable=1` when not even
    the -shm file can be written (the folder is read-only and it does not exist writable): then
    SQLite neither locks nor reads a -wal file, which is why writing commands leave the file
    fully checkpointed (docs/architecture.md, "A file that is always whole")."""
    key = f"{url}#read-only"
    if key in _engines:
        return _engines[key]
    timeout_ms = BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms
    engine = create_engine(
        f"sqlite:///{_read_only_uri(path)}&uri=true",
        connect_args={"timeout": timeout_ms / 1000},
    )
    event.listen(engine, "connect", lambda dbapi, _record: _on_read_only_connect(dbapi, timeout_ms))
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN DEFERRED"))
    engine = engine.execution_options(latte_readonly=True)
    with translated_errors(url):
        revision = current_revision(engine)
    if revision != HEAD:
        engine.dispose()
        if revision is not None and revision not in REVISIONS:
            raise DatabaseError(
                f"The database {path} was written by a newer latte (schema {revision}; this "
                f"latte knows up to {HEAD}). Upgrade latte to read it."
            )
        raise DatabaseError(
            f"The database {path} is read-only and at schema revision {revision or 'none'} "
            f"(this latte reads {HEAD}). Copy it to a writable place and run "
            "`latte --db COPY db upgrade` on the copy."
        )
    _engines[key] = engine
    _busy_timeouts[key] = timeout_ms
    return engine


def reading_engine(url: str, *, busy_timeout_ms: int | None = None) -> Engine:
    """The engine for a reading command: never creates a database (a missing SQLite file is a
    one-line error), and opens a read-only file read-only instead of failing."""
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise _missing_database(path)
        if path.is_file() and _is_read_only(path):
            return _read_only_engine(url, path, busy_timeout_ms)
    return ensure_schema(url, busy_timeout_ms=busy_timeout_ms)


def dispose_engines() -> None:
    """Close every connection, then fold the write-ahead log of each SQLite file this process
    wrote to back into the file (see `checkpoint`)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _busy_timeouts.clear()
    written = sorted(_written)
    _written.clear()
    for path in written:
        checkpoint(path)


def checkpoint(path: Path, *, wait_ms: int = 0) -> bool:
    """Copy the write-ahead log into the database file and empty the log, so that the file
    alone holds every committed change (a plain copy of it is a whole database; see "A file
    that is always whole" in docs/architecture.md).

    Best effort: PASSIVE copies what no reader still needs, TRUNCATE then empties the log once
    no other process is reading or writing, waiting for that up to `wait_ms` (0 at exit: never
    wait, another process's later exit folds in the rest). True when the log is empty
    afterwards; never raises.
    """
    if not path.is_file():
        return False  # connecting would create it
    try:
        with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as connection:
            connection.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            (busy, _log, _done) = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return int(busy) == 0
    except (sqlite3.Error, OSError):
        return False


def sqlite_file(engine: Engine) -> Path | None:
    """The SQLite file behind an engine; None for PostgreSQL or an in-memory database."""
    return _sqlite_path(engine.url.render_as_string(hide_password=False))


def busy_timeout_of(engine: Engine) -> int:
    """The busy timeout (ms) latte gave this engine."""
    return _busy_timeouts.get(engine.url.render_as_string(hide_password=False), BUSY_TIMEOUT_MS)


atexit.register(dispose_engines)


def translate(error: Exception, url: str) -> DatabaseError:
    """A database failure as a message the user can act on."""
    message = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    where = redact_url(url)
    lowered = message.lower()
    if "out of range" in lowered:
        return DatabaseError("A number given is too large for the database. Give a smaller value.")
    if "locked" in lowered or "busy" in lowered:
        return DatabaseError(
            f"The database {where} is busy: another program kept it locked for more than "
            f"{_busy_timeouts.get(url, BUSY_TIMEOUT_MS) / 1000:g} s. Try again in a moment "
            "(or raise busy_timeout: `latte config set busy_timeout SECONDS`)."
        )
    if "not a database" in lowered or "malformed" in lowered:
        return DatabaseError(
            f"{where} is not a latte database (the file is not SQLite). "
            "Pass --db with another path, or move that file away."
        )
    if "readonly" in lowered or "read-only" in lowered:
        return DatabaseError(
            f"The database {where} is read-only. Make the file writable or pass --db with "
            "another path."
        )
    if "unable to open" in lowered:
        return DatabaseError(
            f"Cannot open the database {where}. Pass --db with a writable path or set LATTE_DB."
        )
    return DatabaseError(
        f"The database {where} failed: {redact_url(message)}. Check that it is reachable "
        "(--db or LATTE_DB)."
    )


def current_revision(engine: Engine) -> str | None:
    """The schema revision stored in the database, None for a database without latte's schema.

    Raises DatabaseError for a database that has other tables but not latte's. Reads only, so
    it never waits for another process's write lock.
    """
    with engine.execution_options(latte_readonly=True).connect() as connection:
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables:
            if tables:
                raise DatabaseError(
                    f"{redact_url(str(engine.url))} is not a latte database: it has tables "
                    f"({', '.join(sorted(tables)[:3])}...) but no latte schema. "
                    "Pass --db with a new file or a latte database."
                )
            return None
        row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
        return row[0] if row else None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (revision before, revision after)."""
    before = current_revision(engine)
    if before is not None and before not in REVISIONS:
        raise DatabaseError(
            f"The database {redact_url(str(engine.url))} was written by a newer latte "
            f"(schema {before}; this latte knows up to {HEAD}). Upgrade latte to use it."
        )
    if before == HEAD:
        return before, HEAD
    from alembic import command

    from latte_cli.migrations import alembic_config

    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Agents starting together on a new team database would each create the tables
            # and all but one fail on a duplicate; the first upgrades, the rest then find it done.
            # (SQLite's BEGIN IMMEDIATE already serialises this.)
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7418235)")
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return before, HEAD


_ready: set[str] = set()


@contextmanager
def translated_errors(url: str) -> Iterator[None]:
    """Turn the database's own failures into a DatabaseError the user can act on."""
    try:
        yield
    except (DBAPIError, OperationalError) as error:
        raise translate(error, url) from None
    except OverflowError:
        # SQLite refuses integers beyond 64 bits before the statement runs.
        raise DatabaseError(
            "A number given is too large for the database. Give a smaller value."
        ) from None


def upgrade_database(url: str, *, busy_timeout_ms: int | None = None) -> tuple[str | None, str]:
    """`upgrade` for the database at `url`; returns (revision before, revision after)."""
    with translated_errors(url):
        revisions = upgrade(get_engine(url, busy_timeout_ms=busy_timeout_ms))
    _ready.add(url)
    return revisions


def ensure_schema(url: str, *, busy_timeout_ms: int | None = None) -> Engine:
    if url not in _ready:
        upgrade_database(url, busy_timeout_ms=busy_timeout_ms)
    return get_engine(url, busy_timeout_ms=busy_timeout_ms)


def _fold_summary(session: Session) -> None:
    """Before a session commits, fold its complaint changes into the report summary."""
    connection = session.connection()
    if not connection.get_execution_options().get("latte_readonly"):
        # The hook runs before commit's own flush: flush first, so that this commit's
        # complaint changes are in the queue when it is folded.
        session.flush()
        summary.fold(connection)


event.listen(Session, "before_commit", _fold_summary)


@contextmanager
def open_session(
    url: str,
    *,
    readonly: bool = False,
    busy_timeout_ms: int | None = None,
    create: bool | None = None,
) -> Iterator[Session]:
    """A session on an up-to-date database. Services commit; anything uncommitted rolls back.

    `create`: whether a missing SQLite file is created (default: only for writing sessions; a
    reading session on a missing file is a DatabaseError, and one on a read-only file opens it
    read-only; a writing session with `create=False` refuses a missing file too). Database
    failures leave as DatabaseError with a message for the user.
    """
    create = not readonly if create is None else create
    with translated_errors(url):
        if readonly and not create:
            engine = reading_engine(url, busy_timeout_ms=busy_timeout_ms)
        else:
            path = _sqlite_path(url)
            if not create and path is not None and not path.exists():
                raise _missing_database(path)
            engine = ensure_schema(url, busy_timeout_ms=busy_timeout_ms)
        if readonly:
            options: dict[str, Any] = {"latte_readonly": True}
            if engine.dialect.name == "postgresql":
                # One snapshot for all of a report's statements (the summary and the changes
                # not folded into it yet must be read as of the same moment).
                options["isolation_level"] = "REPEATABLE READ"
            engine = engine.execution_options(**options)
        with Session(engine, expire_on_commit=False) as session:
            yield session


def backup(url: str, destination: Path, *, busy_timeout_ms: int | None = None) -> int:
    """Copy a live SQLite database with SQLite's online backup API; returns the bytes written.

    The copy is written beside the destination and renamed into place, so a failed backup never
    leaves a half-written file under the destination's name.
    """
    source_path = _sqlite_path(url)
    if source_path is None:
        raise DatabaseError(
            "`latte db backup` copies SQLite databases. For PostgreSQL use pg_dump "
            "(see the README's team database section)."
        )
    if destination.exists():
        raise DatabaseError(f"{destination} already exists. Give a new file name.")
    with translated_errors(url):
        reading_engine(url, busy_timeout_ms=busy_timeout_ms)
    timeout_ms = _busy_timeouts.get(url, BUSY_TIMEOUT_MS)
    read_only = _is_read_only(source_path)
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        os.close(fd)
        source_name = _read_only_uri(source_path) if read_only else str(source_path)
        with closing(sqlite3.connect(source_name, uri=read_only)) as source:
            source.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            with closing(sqlite3.connect(partial)) as target:
                source.backup(target)
        os.replace(partial, destination)
    except (OSError, sqlite3.Error) as error:
        partial.unlink(missing_ok=True)
        raise DatabaseError(
            f"Cannot write the backup to {destination}: {error}. Choose a writable path."
        ) from None
    return destination.stat().st_size


@dataclass(frozen=True)
class Status:
    location: str
    revision: str | None
    head: str
    counts: dict[str, int]


COUNTED_TABLES = ("customer", "complaint", "stage_record", "event", "followup", "purchase", "agent")


def status(url: str, *, busy_timeout_ms: int | None = None) -> Status:
    with translated_errors(url):
        engine = reading_engine(url, busy_timeout_ms=busy_timeout_ms)
        revision = current_revision(engine)
        with engine.execution_options(latte_readonly=True).connect() as connection:
            counts = {
                table: int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
                for table in COUNTED_TABLES
            }
    path = _sqlite_path(url)
    location = str(path) if path else redact_url(url)
    return Status(location=location, revision=revision, head=HEAD, counts=counts)
