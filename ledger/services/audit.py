"""Evidence: the journal's history, `verify`, the ledger as it stood, and journal transfer."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import Connection, Engine, Table, create_engine, insert, select
from sqlalchemy.pool import StaticPool

from ledger.errors import BadInput, Refused
from ledger.persistence.database import upgrade
from ledger.persistence.journal import GENESIS, Entry, entries, entry_count, verify_chain
from ledger.persistence.projection import Projector
from ledger.persistence.schema import Base, JournalEntry, RightsGrant
from ledger.services.views import parse_grant_label

J = JournalEntry.__table__
G = RightsGrant.__table__
STATE_TABLES: tuple[Table, ...] = tuple(
    t for t in Base.metadata.sorted_tables if t.name != J.name
)


def scratch_engine() -> Engine:
    """An empty, migrated, in-memory ledger database."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    upgrade(engine)
    return engine


def replay(source: Iterable[Entry], target: Engine, copy_journal: bool = False) -> int:
    """Apply entries, in order, to `target`'s state tables (and journal, when copying)."""
    count = 0
    with target.begin() as conn:
        projector = Projector(conn)
        batch: list[dict[str, Any]] = []
        for entry in source:
            projector.apply(entry)
            count += 1
            if copy_journal:
                batch.append(entry.__dict__.copy())
                if len(batch) >= 5000:
                    conn.execute(insert(J), batch)
                    batch.clear()
        projector.flush()
        if batch:
            conn.execute(insert(J), batch)
    return count


def as_recorded(engine: Engine, moment: str) -> Engine:
    """A scratch ledger holding what had been recorded by `moment` (an ISO UTC timestamp)."""
    scratch = scratch_engine()
    with engine.connect() as conn:
        replay(entries(conn, up_to=moment), scratch, copy_journal=True)
    return scratch


@dataclass(frozen=True)
class Verdict:
    entries: int
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(engine: Engine) -> Verdict:
    """Recompute the hash chain, then rebuild the state from the journal and compare."""
    with engine.connect() as conn:
        count, broken = verify_chain(conn)
        if broken is not None:
            return Verdict(count, f"journal entry {broken.seq}: {broken.problem}")
        scratch = scratch_engine()
        replay(entries(conn), scratch)
        with scratch.connect() as rebuilt:
            drift = _first_drift(conn, rebuilt)
    return Verdict(count, drift)


def _rows(conn: Connection, table: Table) -> Iterator[tuple[Any, ...]]:
    key = list(table.primary_key.columns)
    for row in conn.execution_options(yield_per=5000).execute(select(table).order_by(*key)):
        yield tuple(row)


def _first_drift(live: Connection, rebuilt: Connection) -> str | None:
    for table in STATE_TABLES:
        key_width = len(table.primary_key.columns)
        names = [c.name for c in table.columns]
        left, right = _rows(live, table), _rows(rebuilt, table)
        while True:
            a, b = next(left, None), next(right, None)
            if a is None and b is None:
                break
            if a != b:
                row = a if a is not None else b
                assert row is not None
                key = ", ".join(f"{n}={v}" for n, v in zip(names[:key_width], row[:key_width], strict=False))
                if a is None:
                    what = "is missing from the database"
                elif b is None:
                    what = "is in the database but not in the journal"
                else:
                    changed = [n for n, x, y in zip(names, a, b, strict=True) if x != y]
                    what = f"differs from the journal ({', '.join(changed) or 'key'})"
                return f"{table.name} row {key} {what}"
    return None


def history(engine: Engine, subject: str | None) -> list[Entry]:
    """Entries about a grant (`G3`), an agreement and its grants, a party or a title."""
    with engine.connect() as conn:
        if subject is None:
            return list(entries(conn))
        subjects = {f"party:{subject}", f"title:{subject}", f"agreement:{subject}"}
        grant_id = parse_grant_label(subject)
        if grant_id is not None:
            subjects.add(f"grant:G{grant_id}")
        for row in conn.execute(select(G.c.id).where(G.c.agreement_ref == subject)):
            subjects.add(f"grant:G{row.id}")
        rows = conn.execute(select(J).where(J.c.subject.in_(sorted(subjects))).order_by(J.c.seq))
        return [Entry(**r._asdict()) for r in rows]


def export_journal(engine: Engine, stream: IO[str]) -> int:
    """The whole journal as JSON lines, oldest first."""
    count = 0
    with engine.connect() as conn:
        for entry in entries(conn):
            stream.write(json.dumps(entry.__dict__, sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return count


def read_journal(stream: IO[str], name: str) -> list[Entry]:
    """Parse and check a journal file before anything is written."""
    loaded: list[Entry] = []
    prev = GENESIS
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            entry = Entry(**json.loads(line))
        except (ValueError, TypeError) as exc:
            raise BadInput(f"{name} line {number}: not a journal entry ({exc})") from None
        if entry.seq != len(loaded) + 1 or entry.prev_hash != prev or entry.expected_hash() != entry.hash:
            raise BadInput(f"{name} line {number}: the hash chain is broken at entry {entry.seq}")
        prev = entry.hash
        loaded.append(entry)
    return loaded


def import_journal(engine: Engine, loaded: list[Entry], dry_run: bool = False) -> int:
    """Copy a verified journal into an empty ledger and rebuild its state from it."""
    with engine.connect() as conn:
        if entry_count(conn):
            raise Refused("a journal can only be imported into an empty ledger")
    if dry_run:
        return len(loaded)
    return replay(loaded, engine, copy_journal=True)
