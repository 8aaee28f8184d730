"""Connecting to a ledger database and keeping its schema current.

SQLite is the zero-set-up default: the file is created and migrated on first use.
PostgreSQL is migrated explicitly (`rights-ledger db upgrade`); a command run against an
out-of-date schema is refused. Migrations are the only way the schema changes.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from ledger.errors import BadInput, SchemaOutOfDate

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import CursorResult
    from sqlalchemy.sql.base import Executable

# The newest migration. Every command compares the database with it before it starts,
# without loading Alembic (a fifth of a command's start-up); a test keeps it equal to
# the head of `migrations/versions`.
SCHEMA_HEAD = "0009"

DB_ENV = "RIGHTS_LEDGER_DB"
LOCK_TIMEOUT_ENV = "RIGHTS_LEDGER_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 60.0
# PostgreSQL advisory lock that lets one `db upgrade` run at a time.
MIGRATION_LOCK = (75, 0)


def default_url() -> str:
    """The embedded default: an SQLite file in the user's data directory."""
    # Imported only when no database is named: most runs name one, and start-up counts.
    import platformdirs

    data_dir = Path(platformdirs.user_data_dir("rights-ledger", appauthor=False))
    return f"sqlite:///{data_dir / 'ledger.db'}"


def resolve_url(url: str | None) -> str:
    return url or os.environ.get(DB_ENV) or default_url()


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def streamed(
    conn: Connection, query: Executable, batch: int = 2000
) -> CursorResult[*tuple[Any, ...]]:
    """The rows of `query`, read `batch` at a time (a server-side cursor where there is one).

    Asked of this statement alone: `Connection.execution_options` changes the connection
    in place, and every later statement on it would stream too (on SQLite, with a row
    read ahead by SQLAlchemy that `driver_rows` would never see)."""
    return conn.execute(query, execution_options={"yield_per": batch})


def driver_rows(conn: Connection, query: Executable, batch: int = 2000) -> Iterator[Any]:
    """The rows of `query`, for a read of tens of thousands of rows whose values are
    taken as they come: read `batch` at a time, and passed on in C (no Python frame
    a row).

    On SQLite, as its driver makes them: plain tuples (a date is text). The statement is
    still compiled, cached and run by SQLAlchemy, but its `Row` for each row is skipped:
    for a country-wide `holders` at a million grants, a tenth of its time. Elsewhere,
    SQLAlchemy's rows, from a server-side cursor."""
    if not is_sqlite(conn):
        return chain.from_iterable(streamed(conn, query, batch).partitions())
    # Not streamed by SQLAlchemy, even where the caller's connection asks it to be.
    result = conn.execute(query, execution_options={"stream_results": False, "yield_per": 0})
    return chain.from_iterable(_driver_batches(result, batch))


def _driver_batches(result: CursorResult[Any], batch: int) -> Iterator[Sequence[Any]]:
    """The driver's rows of a SQLite `result`, `batch` at a time. Without `yield_per`,
    SQLAlchemy has read none of them (its buffered strategy reads a first one ahead), and
    SQLite's driver steps through the query as they are fetched. A driver error while
    they are read is raised as SQLAlchemy would raise it, with the statement."""
    try:
        while rows := result.cursor.fetchmany(batch):
            yield rows
    except sqlite3.Error as error:
        raise DBAPIError.instance(result.context.statement, None, error, sqlite3.Error) from None
    finally:
        result.close()


def lock_timeout_seconds() -> float:
    """How long a writer waits for another writer's lock before it is refused
    (RIGHTS_LEDGER_LOCK_TIMEOUT, in seconds; 60 by default)."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{LOCK_TIMEOUT_ENV} must be a number of seconds, not {raw!r}") from None
    if value <= 0:
        raise BadInput(f"{LOCK_TIMEOUT_ENV} must be more than 0 seconds, not {raw!r}")
    return value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's `begin` event issue BEGIN IMMEDIATE itself (see below), so that a
    # writer takes the database lock before it reads what its conflict check relies on.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(lock_timeout_seconds() * 1000)}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.info.get("begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url` (or RIGHTS_LEDGER_DB, or the default SQLite file)."""
    url_text = resolve_url(url)
    try:
        parsed = make_url(url_text)
    except ArgumentError:
        raise BadInput(f"not a database URL: {url_text!r}") from None
    if parsed.drivername.startswith("sqlite"):
        database = parsed.database or ""
        if database and database != ":memory:" and not _is_sqlite_uri(parsed.query, database):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(parsed, future=True)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise BadInput(f"cannot use database {parsed.drivername!r}: {exc}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _is_sqlite_uri(query: Mapping[str, Any], database: str) -> bool:
    # `sqlite:///file:/path/ledger.db?mode=ro&uri=true` names a file by SQLite URI (e.g.
    # to open it read-only); its text is not a path, and it is never created here.
    return str(query.get("uri", "")).lower() == "true" or database.startswith("file:")


@contextmanager
def rollback_journal(conn: Connection) -> Iterator[None]:
    """Write the next transaction of `conn` into its SQLite file through a rollback
    journal rather than the WAL, then go back to the WAL: for a bulk write into a ledger
    far smaller than what is written.

    A million-grant import into a new ledger writes more than a gigabyte of new pages.
    Through the WAL each page is written twice, to the log and again when the commit
    copies the log into the file; through a rollback journal a page added past the old
    end of the file is written once (only pages that held data before are journaled),
    and the file is as safe: after a crash the journal rolls it back. Readers wait for
    such a write to end (up to the lock timeout) instead of reading the ledger as it was
    beside it. The mode can change only while no other connection has the file open; if
    one has, the WAL stays. Call it before the transaction begins."""
    if not is_sqlite(conn):
        yield
        return
    dbapi = conn.connection.driver_connection
    switched = _journal_mode(dbapi, "DELETE") == "delete"
    try:
        yield
    finally:
        if switched:
            # Should a reader hold the file now, the next connection's set-up brings the
            # WAL back instead (`_sqlite_pragmas`).
            _journal_mode(dbapi, "WAL")


def _journal_mode(dbapi: Any, mode: str) -> str | None:
    """Ask SQLite for `mode`; the mode it is in after, or None if the file was busy."""
    try:
        return str(dbapi.execute(f"PRAGMA journal_mode={mode}").fetchone()[0]).lower()
    except sqlite3.OperationalError:
        return None


@contextmanager
def immediate(conn: Connection) -> Iterator[None]:
    """Mark `conn` so that its next SQLite transaction takes the write lock at once."""
    conn.info["begin"] = "IMMEDIATE"
    try:
        yield
    finally:
        conn.info.pop("begin", None)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    location = resources.files("ledger.migrations")
    config.set_main_option("script_location", str(location))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _recorded_revision(engine: Engine) -> str | None:
    """The revision in `alembic_version`, read with plain SQL; None when there is none."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        return None
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to `revision`. Concurrent upgrades (several processes using one new SQLite
    file at once, two admins running `db upgrade`) take turns under a lock, and the later
    ones find the schema current and do nothing."""
    with engine.connect() as conn, immediate(conn), conn.begin():
        if not is_sqlite(conn):
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:a, :b)"),
                {"a": MIGRATION_LOCK[0], "b": MIGRATION_LOCK[1]},
            )
        from alembic import command

        command.upgrade(alembic_config(conn), revision)


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str | None

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def schema_state(engine: Engine) -> SchemaState:
    return SchemaState(current_revision(engine), head_revision())


def ensure_current(engine: Engine) -> None:
    """Migrate an SQLite ledger on first use; refuse an out-of-date PostgreSQL one."""
    if _recorded_revision(engine) == SCHEMA_HEAD:
        return
    state = schema_state(engine)
    if state.up_to_date:
        return
    if is_sqlite(engine):
        upgrade(engine)
        return
    raise SchemaOutOfDate(
        f"the database schema is at {state.current or 'nothing'}, this tool needs "
        f"{state.head}: run `rights-ledger db upgrade`"
    )
