"""Evidence: the journal's history, `verify`, the ledger as it stood, and journal transfer."""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    String,
    Table,
    and_,
    create_engine,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from ledger.errors import BadInput, LedgerError, Refused
from ledger.persistence.database import immediate, streamed, upgrade
from ledger.persistence.journal import (
    GENESIS,
    JOURNAL_LOCK,
    Chain,
    Entry,
    entries,
    entry_count,
    verify_chain,
)
from ledger.persistence.projection import Projector
from ledger.persistence.schema import Base, JournalEntry, RightsGrant
from ledger.services.unit_of_work import IMPORT_LOCK
from ledger.services.views import parse_grant_label

J = cast(Table, JournalEntry.__table__)
G = cast(Table, RightsGrant.__table__)
# Entries about an agreement that change the standing of each of its grants.
AGREEMENT_STANDING = ("agreement.signed", "agreement.terminated")
STATE_TABLES: tuple[Table, ...] = tuple(t for t in Base.metadata.sorted_tables if t.name != J.name)


def scratch_engine() -> Engine:
    """An empty, migrated ledger database in a temporary file, removed with the engine.

    A file rather than memory, so that replaying a million-grant journal (verify, the
    ledger as it stood) stays within a bounded resident size.
    """
    directory = tempfile.mkdtemp(prefix="rights-ledger-scratch-")
    engine = create_engine(f"sqlite:///{Path(directory) / 'scratch.db'}", poolclass=StaticPool)
    weakref.finalize(engine, shutil.rmtree, directory, True)
    with engine.connect() as conn:
        # A throwaway copy: no need to survive a crash, so skip the disk syncs.
        conn.exec_driver_sql("PRAGMA synchronous=OFF")
        conn.exec_driver_sql("PRAGMA journal_mode=OFF")
    upgrade(engine)
    return engine


def replay(source: Iterable[Entry], target: Engine, copy_journal: bool = False) -> int:
    """Apply entries, in order, to `target`'s state tables (and journal, when copying)."""
    with target.begin() as conn:
        return _replay(source, conn, copy_journal)


class ReplayFailed(Exception):
    """An entry that the projection cannot apply: the chain holds but the content is forged."""

    def __init__(self, seq: int, cause: Exception) -> None:
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        super().__init__(f"journal entry {seq} cannot be applied ({first})")
        self.seq = seq


def _replay(source: Iterable[Entry], conn: Connection, copy_journal: bool) -> int:
    count = 0
    projector = Projector(conn)
    batch: list[dict[str, Any]] = []
    seq = 0
    try:
        for entry in source:
            seq = entry.seq
            projector.apply(entry)
            count += 1
            if copy_journal:
                batch.append(entry._asdict())
                if len(batch) >= 5000:
                    conn.execute(insert(J), batch)
                    batch.clear()
        projector.flush()
    except (ValueError, KeyError, TypeError, AttributeError, LedgerError, SQLAlchemyError) as exc:
        # Buffered grant rows are written in batches, so a failure at a flush may belong
        # to an earlier entry of the batch; the last entry read is the best name we have.
        raise ReplayFailed(seq, exc) from exc
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
class Anchor:
    """A head noted outside the database by an earlier `verify`: `SEQ:HASH` or a bare hash."""

    seq: int | None
    hash_prefix: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        seq_text, _, digest = text.strip().lower().rpartition(":")
        if (
            (seq_text and not seq_text.isdigit())
            or len(digest) < 8
            or len(digest) > 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise BadInput(
                f"not a journal anchor: {text!r} (give SEQ:HASH as `verify` prints it, or a hash "
                "prefix of at least 8 hex digits)"
            )
        return cls(int(seq_text) if seq_text else None, digest)

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash_prefix}" if self.seq is not None else self.hash_prefix


@dataclass(frozen=True)
class Verdict:
    entries: int
    problem: str | None
    head_seq: int = 0
    head_hash: str = GENESIS

    @property
    def intact(self) -> bool:
        return self.problem is None

    @property
    def head(self) -> str:
        """The anchor to note down for a later `verify --anchor`."""
        return f"{self.head_seq}:{self.head_hash}"


def verify(engine: Engine, anchor: Anchor | None = None) -> Verdict:
    """Recompute the hash chain, check the anchor, then rebuild the state and compare."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot for the chain and every state table: a write committed while
            # verify runs must not look like drift.
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        chain = verify_chain(conn, anchor.hash_prefix if anchor else None)
        if chain.broken is not None:
            return Verdict(chain.count, f"journal entry {chain.broken.seq}: {chain.broken.problem}")
        verdict = Verdict(chain.count, None, chain.head_seq, chain.head_hash)
        if anchor is not None:
            missing = _anchor_problem(anchor, chain)
            if missing is not None:
                return replace(verdict, problem=missing)
        scratch = scratch_engine()
        try:
            replay(entries(conn), scratch)
        except ReplayFailed as failed:
            return replace(verdict, problem=str(failed))
        with scratch.connect() as rebuilt:
            drift = _first_drift(conn, rebuilt)
        scratch.dispose()
        if drift is None:
            drift = _unguarded(conn)
    return replace(verdict, problem=drift)


# The triggers that make the database refuse edits to the journal (see the migrations).
JOURNAL_GUARDS = {
    "sqlite": ("journal_no_update", "journal_no_delete"),
    "postgresql": ("journal_no_update", "journal_no_delete", "journal_no_truncate"),
}


def _unguarded(conn: Connection) -> str | None:
    """Whether the database still refuses edits to the journal: a guard dropped, disabled
    or rewritten to let edits through is tampering even before anything is edited."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        rows = conn.execute(
            text(
                "SELECT t.tgname AS name, "
                "t.tgenabled <> 'D' AND p.prosrc LIKE '%RAISE EXCEPTION%' AS armed "
                "FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE t.tgrelid = to_regclass('journal') AND NOT t.tgisinternal"
            )
        )
    elif dialect == "sqlite":
        rows = conn.execute(
            text(
                "SELECT name, instr(upper(sql), 'RAISE(ABORT') > 0 AS armed "
                "FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'journal'"
            )
        )
    else:
        return None
    armed = {row.name for row in rows if row.armed}
    for guard in JOURNAL_GUARDS[dialect]:
        if guard not in armed:
            return (
                f"the journal's guard {guard} is missing, disabled or altered: the database "
                "no longer refuses edits to the journal"
            )
    return None


def _anchor_problem(anchor: Anchor, chain: Chain) -> str | None:
    if anchor.seq is None:
        if chain.anchor_seq is None:
            return f"the anchor {anchor} is not in the journal (cut short or rewritten)"
        return None
    if chain.anchor_seq == anchor.seq:
        return None
    if anchor.seq > chain.head_seq:
        return (
            f"journal entry {anchor.seq} (the anchor) is missing: the journal now ends at "
            f"entry {chain.head_seq} (cut short)"
        )
    return f"journal entry {anchor.seq} no longer matches the anchor {anchor} (rewritten)"


def _ordered_key(table: Table, dialect: str) -> list[Any]:
    """Primary-key ordering that is byte order on both backends, whatever the collation."""
    key: list[Any] = []
    for column in table.primary_key.columns:
        if dialect == "postgresql" and isinstance(column.type, String):
            key.append(column.collate("C"))
        else:
            key.append(column)
    return key


def _rows(conn: Connection, table: Table, stored: bool) -> Iterator[tuple[Any, ...]]:
    """Rows in key order; `stored` reads SQLite's values as stored, before type conversion,
    so that a value of the wrong type written behind the tool's back is a difference and
    not a crash."""
    if stored:
        columns: list[Any] = [sql_column(c.name) for c in table.columns]
        query = select(*columns).select_from(sql_table(table.name))
        query = query.order_by(*(sql_column(c.name) for c in table.primary_key.columns))
    else:
        query = select(table).order_by(*_ordered_key(table, conn.dialect.name))
    for row in streamed(conn, query, 5000):
        yield tuple(row)


def _sort_key(values: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    # SQLite's own order of storage classes: NULL, numbers, text, blobs.
    def rank(value: Any) -> tuple[int, Any]:
        if value is None:
            return (0, 0)
        if isinstance(value, bool | int | float):
            return (1, value)
        if isinstance(value, str):
            return (2, value)
        if isinstance(value, bytes):
            return (3, value)
        return (2, str(value))

    return tuple(rank(v) for v in values)


def _first_drift(live: Connection, rebuilt: Connection) -> str | None:
    """Walk each state table and its rebuilt twin together, in key order: the first row
    that one side has and the other lacks, or that differs, is the drift."""
    stored = live.dialect.name == "sqlite"
    for table in STATE_TABLES:
        names = [c.name for c in table.columns]
        key_names = [c.name for c in table.primary_key.columns]
        positions = [names.index(n) for n in key_names]

        def row_key(
            row: tuple[Any, ...], key_names: list[str] = key_names, positions: list[int] = positions
        ) -> str:
            return ", ".join(f"{n}={row[i]}" for n, i in zip(key_names, positions, strict=True))

        left, right = _rows(live, table, stored), _rows(rebuilt, table, stored)
        a, b = next(left, None), next(right, None)
        while a is not None or b is not None:
            ka = _sort_key(tuple(a[i] for i in positions)) if a is not None else None
            kb = _sort_key(tuple(b[i] for i in positions)) if b is not None else None
            if a is not None and b is not None and ka == kb:
                if a != b:
                    changed = ", ".join(n for n, x, y in zip(names, a, b, strict=True) if x != y)
                    return f"{table.name} row {row_key(a)} differs from the journal ({changed})"
                a, b = next(left, None), next(right, None)
            elif b is None or (a is not None and ka is not None and kb is not None and ka < kb):
                assert a is not None
                return f"{table.name} row {row_key(a)} is in the database but not in the journal"
            else:
                return f"{table.name} row {row_key(b)} is missing from the database"
    return None


def history(engine: Engine, subject: str | None) -> list[Entry]:
    """Entries about a grant (`G3`), an agreement and its grants, a party or a title.

    A grant's history includes the signing and termination of its agreement: they change
    the grant's standing (a terminated agreement ends the grant) without naming it.
    """
    with engine.connect() as conn:
        if subject is None:
            return list(entries(conn))
        subjects = {f"party:{subject}", f"title:{subject}", f"agreement:{subject}"}
        standing: set[str] = set()
        grant_id = parse_grant_label(subject)
        if grant_id is not None:
            subjects.add(f"grant:G{grant_id}")
            ref = conn.execute(
                select(G.c.agreement_ref).where(G.c.id == grant_id)
            ).scalar_one_or_none()
            if ref is not None:
                standing.add(f"agreement:{ref}")
        for row in conn.execute(select(G.c.id).where(G.c.agreement_ref == subject)):
            subjects.add(f"grant:G{row.id}")
        about: ColumnElement[bool] = J.c.subject.in_(sorted(subjects))
        if standing:
            its_agreement = and_(
                J.c.subject.in_(sorted(standing)), J.c.kind.in_(AGREEMENT_STANDING)
            )
            about = or_(about, its_agreement)
        rows = conn.execute(select(J).where(about).order_by(J.c.seq))
        return [Entry(**r._asdict()) for r in rows]


def export_journal(engine: Engine, stream: IO[str]) -> int:
    """The whole journal as JSON lines, oldest first."""
    count = 0
    with engine.connect() as conn:
        for entry in entries(conn):
            stream.write(json.dumps(entry._asdict(), sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return count


def journal_entries(path: Path) -> Iterator[Entry]:
    """The entries of a journal file, in order, each checked as it is read: its place in
    the sequence and in the hash chain. A line that is no entry, or a break in the chain,
    is bad input naming the line. The file is read as the entries are wanted, never held
    whole: a million-grant ledger's journal is most of a gigabyte."""
    name = path.name
    prev, seq = GENESIS, 0
    try:
        with path.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    entry = Entry(**json.loads(line))
                except (ValueError, TypeError) as exc:
                    raise BadInput(f"{name} line {number}: not a journal entry ({exc})") from None
                intact = entry.prev_hash == prev and entry.expected_hash() == entry.hash
                if entry.seq != seq + 1 or not intact:
                    raise BadInput(
                        f"{name} line {number}: the hash chain is broken at entry {entry.seq}"
                    )
                prev, seq = entry.hash, entry.seq
                yield entry
    except UnicodeDecodeError as error:
        raise BadInput(f"{name}: not UTF-8 text (bad byte at offset {error.start})") from None


def import_journal(engine: Engine, path: Path, dry_run: bool = False) -> int:
    """Copy the journal file at `path` into an empty ledger and rebuild its state from it.

    The file is read twice, entry by entry: once to check it whole before anything is
    written, then to replay it. The whole import is one transaction that holds the
    journal's lock, so no write can slip in between the emptiness check and the copy; an
    entry the projection cannot apply rolls everything back.
    """
    checked = sum(1 for _ in journal_entries(path))
    with engine.connect() as conn, immediate(conn), conn.begin():
        if conn.dialect.name == "postgresql":
            for a, b in (IMPORT_LOCK, JOURNAL_LOCK):
                conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": a, "b": b})
        if entry_count(conn):
            raise Refused("a journal can only be imported into an empty ledger")
        if any(conn.execute(select(t).limit(1)).first() is not None for t in STATE_TABLES):
            raise Refused("a journal can only be imported into an empty ledger (it holds rows)")
        try:
            count = _replay(journal_entries(path), conn, copy_journal=True)
        except ReplayFailed as failed:
            raise BadInput(f"{failed}; nothing was imported") from None
        if count != checked:
            raise BadInput(f"{path.name} changed while it was imported; nothing was imported")
        if dry_run:
            conn.rollback()
        return count
