"""Write transactions: locking, the journal append and the projection, retried when safe.

A write takes, before it reads anything its decision depends on, the locks that make the
check and the write of a grant one atomic decision:
- SQLite: `BEGIN IMMEDIATE`, the database's single writer lock, so every writer waits
  for the one before it, whatever the title;
- PostgreSQL: a transaction-scoped advisory lock per title touched (so grants on
  different titles do not wait for each other's checks), a shared lock that a whole-file
  import takes exclusively, and the journal's lock at append time. Locks are always
  taken in that order (import, titles sorted by key, journal), so writers cannot
  deadlock on them.

A write either commits whole or leaves nothing behind. A transient fault (serialization
failure, deadlock, a lost connection, a concurrent writer claiming the same key first)
rolls the transaction back and runs the whole step again, re-checking from scratch, a
bounded number of times; then it is refused with a message saying nothing was written.
A connection lost while committing is the one case where the outcome is unknown: the
journal is asked whether the write's last entry is there before anything is retried.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError

from ledger.errors import Refused
from ledger.persistence.database import (
    immediate,
    is_sqlite,
    lock_timeout_seconds,
    rollback_journal,
)
from ledger.persistence.journal import JournalWriter
from ledger.persistence.projection import Projector
from ledger.persistence.schema import JournalEntry

T = TypeVar("T")

TITLE_LOCK = 73
IMPORT_LOCK = (74, 0)
ATTEMPTS = 8
# SQLSTATEs that say "try the whole transaction again": serialization failure, deadlock,
# lost or refused connection, server shutting down.
TRANSIENT_STATES = {"40001", "40P01", "08000", "08001", "08003", "08004", "08006", "57P01"}
# A concurrent writer inserted the same key first (e.g. two writers on different titles
# both computed the next grant id before either committed). Re-running the step re-reads
# the ledger, so the retry either succeeds with a fresh key or refuses for a real reason.
UNIQUE_VIOLATION = "23505"
READ_ONLY_STATES = {"42501", "25006"}  # insufficient privilege, read-only transaction
LOCK_TIMEOUT_STATE = "55P03"

READ_ONLY_MESSAGE = (
    "this database connection may only read: nothing was written "
    "(ask for a database role that may write)"
)

J = JournalEntry.__table__


@dataclass
class Work:
    """What a write step gets: the connection, the journal and the projector."""

    conn: Connection
    journal: JournalWriter
    projector: Projector
    locked: set[int] = field(default_factory=set)

    def lock_titles(self, titles: Iterable[str]) -> None:
        """Also lock titles found only inside the transaction (an agreement's grants read
        under its locks). Taken out of order, such a lock may deadlock with another
        writer; PostgreSQL then aborts one of them and `run_write` retries it."""
        if is_sqlite(self.conn):
            return  # BEGIN IMMEDIATE already holds the whole database
        lock = text("SELECT pg_advisory_xact_lock(:a, :b)")
        for key in sorted({title_lock_key(t) for t in titles} - self.locked):
            self.conn.execute(lock, {"a": TITLE_LOCK, "b": key})
            self.locked.add(key)

    def record(
        self,
        kind: str,
        subject: str,
        payload: Mapping[str, object],
        reason: str | None = None,
        as_read_back: bool = False,
        body: str | None = None,
    ) -> int:
        """Journal the change and project it.

        `as_read_back`: the payload is just what its JSON reads back as (lists, not
        tuples; text keys), so the projector takes it as it is instead of reading that
        JSON back (an import records a party, title or agreement per row at worst).
        `body`: that JSON, `canonical_json(payload)`, written by the caller (implies
        `as_read_back`)."""
        if body is None:
            entry = self.journal.append(kind, subject, payload, reason)
        else:
            entry = self.journal.append_json(kind, subject, body, reason)
        as_read_back = as_read_back or body is not None
        self.projector.apply(entry, dict(payload) if as_read_back else None)
        return entry.seq


def title_lock_key(title: str) -> int:
    """The second half of a title's advisory-lock key (a non-negative int4)."""
    return zlib.crc32(title.encode("utf-8")) & 0x7FFFFFFF


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def _first_line(exc: DBAPIError) -> str:
    lines = str(exc.orig).strip().splitlines()
    return lines[0] if lines else type(exc.orig).__name__


def refusal_for(exc: DBAPIError) -> Refused | None:
    """A clear refusal for a database error that retrying cannot cure, else None."""
    message = str(exc.orig).lower()
    state = _sqlstate(exc)
    if state in READ_ONLY_STATES or "readonly database" in message or "read-only" in message:
        return Refused(READ_ONLY_MESSAGE)
    if state == LOCK_TIMEOUT_STATE or "database is locked" in message:
        waited = f"{lock_timeout_seconds():g} s"
        return Refused(
            f"the ledger stayed locked by another writer (waited up to {waited}); "
            "nothing was written, try again"
        )
    return None


def _is_disconnect(exc: DBAPIError) -> bool:
    state = _sqlstate(exc)
    lost = state is not None and (state.startswith("08") or state == "57P01")
    return exc.connection_invalidated or lost


def _is_transient(exc: DBAPIError) -> bool:
    state = _sqlstate(exc)
    return _is_disconnect(exc) or state in TRANSIENT_STATES or state == UNIQUE_VIOLATION


def _landed(engine: Engine, seq: int, entry_hash: str) -> bool | None:
    """Whether the journal holds the entry `seq` with `entry_hash` (None: cannot tell).

    The entry is looked up by its sequence number, the journal's key: the write landed if
    the entry there has its hash (another writer's entry in that place, or none, says it
    did not)."""
    try:
        with engine.connect() as conn:
            return conn.execute(select(J.c.hash).where(J.c.seq == seq)).scalar() == entry_hash
    except DBAPIError:
        return None


def _pause(attempt: int) -> None:
    # Jittered so writers that collided once do not collide again in lockstep.
    time.sleep(min(1.0, 0.02 * 2**attempt) * random.uniform(0.5, 1.5))


def run_write(
    engine: Engine,
    actor: str,
    now: Callable[[], datetime],
    step: Callable[[Work], T],
    titles: Iterable[str] = (),
    whole_ledger: bool = False,
    bulk: bool = False,
) -> T:
    """Run `step` in one transaction that appends to the journal, retrying transient faults.

    `step` must do all its reading and deciding through `work.conn`: it may run more than
    once, and only its last run counts. A `bulk` write (far larger than the ledger it
    goes into) is written through a rollback journal on SQLite (`rollback_journal`).
    """
    title_keys = sorted({title_lock_key(t) for t in titles})
    for attempt in range(1, ATTEMPTS + 1):
        work: Work | None = None
        committing = False
        try:
            with (
                engine.connect() as conn,
                immediate(conn),
                rollback_journal(conn) if bulk else nullcontext(),
            ):
                with conn.begin():
                    if not is_sqlite(conn):
                        _lock_pg(conn, title_keys, whole_ledger)
                    work = Work(
                        conn,
                        JournalWriter(conn, actor, now),
                        Projector(conn),
                        locked=set(title_keys),
                    )
                    result = step(work)
                    work.projector.flush()
                    work.journal.flush()
                    committing = True  # leaving the block commits
                return result
        except DBAPIError as exc:
            refusal = refusal_for(exc)
            if refusal is not None:
                raise refusal from None
            if not _is_transient(exc):
                raise
            last = work.journal.last if work is not None else None
            if committing and _is_disconnect(exc) and last is not None:
                landed = _landed(engine, last.seq, last.hash)
                if landed:
                    return result
                if landed is None:
                    raise Refused(
                        "the connection to the database was lost while committing and the "
                        "database cannot be reached to tell whether the write landed: check "
                        "with `rights-ledger history` before trying again"
                    ) from None
            if attempt == ATTEMPTS:
                raise Refused(
                    f"the database kept failing ({_sqlstate(exc) or _first_line(exc)}) after "
                    f"{ATTEMPTS} attempts; nothing was written, try again"
                ) from None
            _pause(attempt)
    raise AssertionError("unreachable")


def _lock_pg(conn: Connection, title_keys: list[int], whole_ledger: bool) -> None:
    # A writer that waits longer than this is refused rather than left hanging.
    conn.execute(text(f"SET LOCAL lock_timeout = '{int(lock_timeout_seconds() * 1000)}ms'"))
    lock = text("SELECT pg_advisory_xact_lock(:a, :b)")
    if whole_ledger:
        conn.execute(lock, {"a": IMPORT_LOCK[0], "b": IMPORT_LOCK[1]})
        return
    shared = text("SELECT pg_advisory_xact_lock_shared(:a, :b)")
    conn.execute(shared, {"a": IMPORT_LOCK[0], "b": IMPORT_LOCK[1]})
    for key in title_keys:
        conn.execute(lock, {"a": TITLE_LOCK, "b": key})
