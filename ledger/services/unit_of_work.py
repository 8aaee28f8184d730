"""Write transactions: locking, the journal append and the projection, retried when safe.

A write takes, before it reads anything its decision depends on, the locks that make the
check and the write of a grant one atomic decision:
- SQLite: `BEGIN IMMEDIATE`, the database's single writer lock;
- PostgreSQL: a transaction-scoped advisory lock per title touched (so grants on
  different titles do not wait for each other's checks), a shared lock that a whole-file
  import takes exclusively, and the journal's lock at append time.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from ledger.errors import Refused
from ledger.persistence.database import immediate, is_sqlite
from ledger.persistence.journal import JournalWriter
from ledger.persistence.projection import Projector

T = TypeVar("T")

TITLE_LOCK = 73
IMPORT_LOCK = (74, 0)
RETRIES = 5
# SQLSTATEs worth another try: serialization failure, deadlock, lost connection.
TRANSIENT_STATES = {"40001", "40P01", "08000", "08003", "08006", "57P01"}


@dataclass
class Work:
    """What a write step gets: the connection, the journal and the projector."""

    conn: Connection
    journal: JournalWriter
    projector: Projector

    def record(self, kind: str, subject: str, payload: dict[str, object], reason: str | None = None) -> int:
        entry = self.journal.append(kind, subject, payload, reason)
        self.projector.apply(entry)
        return entry.seq


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def _refusal(exc: DBAPIError) -> Refused | None:
    message = str(exc.orig).lower()
    if _sqlstate(exc) == "42501" or "readonly database" in message or "read-only" in message:
        return Refused("this database connection may only read: ask for a role that may write")
    if "database is locked" in message:
        return Refused("the ledger stayed locked by another writer for 60 s; try again")
    return None


def run_write(
    engine: Engine,
    actor: str,
    now: Callable[[], datetime],
    step: Callable[[Work], T],
    titles: Iterable[str] = (),
    whole_ledger: bool = False,
) -> T:
    """Run `step` in one transaction that appends to the journal, retrying transient faults."""
    title_keys = sorted({zlib.crc32(t.encode()) & 0x7FFFFFFF for t in titles})
    for attempt in range(RETRIES):
        try:
            with engine.connect() as conn, immediate(conn), conn.begin():
                if not is_sqlite(conn):
                    _lock_pg(conn, title_keys, whole_ledger)
                work = Work(conn, JournalWriter(conn, actor, now), Projector(conn))
                result = step(work)
                work.projector.flush()
                work.journal.flush()
                return result
        except OperationalError as exc:
            refusal = _refusal(exc)
            if refusal is not None:
                raise refusal from None
            if _sqlstate(exc) in TRANSIENT_STATES or exc.connection_invalidated:
                if attempt + 1 < RETRIES:
                    time.sleep(0.05 * 2**attempt)
                    continue
                raise Refused(f"the database kept failing ({_sqlstate(exc)}); nothing was written") from None
            raise
        except DBAPIError as exc:
            refusal = _refusal(exc)
            if refusal is not None:
                raise refusal from None
            if _sqlstate(exc) in TRANSIENT_STATES and attempt + 1 < RETRIES:
                time.sleep(0.05 * 2**attempt)
                continue
            raise
    raise AssertionError("unreachable")


def _lock_pg(conn: Connection, title_keys: list[int], whole_ledger: bool) -> None:
    if whole_ledger:
        conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": IMPORT_LOCK[0], "b": IMPORT_LOCK[1]})
        return
    conn.execute(text("SELECT pg_advisory_xact_lock_shared(:a, :b)"), {"a": IMPORT_LOCK[0], "b": IMPORT_LOCK[1]})
    for key in title_keys:
        conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": TITLE_LOCK, "b": key})
