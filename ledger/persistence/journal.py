"""The append-only, hash-chained journal: writing entries and proving the chain intact.

Each entry's hash covers its own content and the previous entry's hash, so an edit,
a deletion or a reordering made behind the tool's back breaks the chain at that entry.
The database refuses UPDATE and DELETE on the table (triggers, see the migrations).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial
from itertools import chain, repeat
from operator import is_not, itemgetter
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from ledger.persistence.database import streamed
from ledger.persistence.schema import JournalEntry

GENESIS = "0" * 64
J = cast(Table, JournalEntry.__table__)

BATCH = 5000
"""Entries buffered before they are written in one statement."""

# Key of the PostgreSQL advisory lock that serialises appends to the chain.
JOURNAL_LOCK = (72, 0)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""What `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
would make, made once: `dumps` builds an encoder on every call, which costs as much
again as encoding a small payload."""


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


class Entry(NamedTuple):
    """One journal entry; its fields are the journal's columns, in order (`JOURNAL_COLUMNS`),
    so that an entry is also the row that records it. A named tuple: an import makes a
    million of these."""

    seq: int
    recorded_at: str
    actor: str
    kind: str
    subject: str
    reason: str | None
    payload: str
    prev_hash: str
    hash: str

    @property
    def data(self) -> dict[str, Any]:
        loaded = json.loads(self.payload)
        assert isinstance(loaded, dict)
        return loaded

    def expected_hash(self) -> str:
        return entry_hash(
            self.seq,
            self.recorded_at,
            self.actor,
            self.kind,
            self.subject,
            self.reason,
            self.payload,
            self.prev_hash,
        )


def entry_hash(
    seq: int,
    recorded_at: str,
    actor: str,
    kind: str,
    subject: str,
    reason: str | None,
    payload: str,
    prev_hash: str,
) -> str:
    content = canonical_json(
        {
            "seq": seq,
            "recorded_at": recorded_at,
            "actor": actor,
            "kind": kind,
            "subject": subject,
            "reason": reason,
            "payload": payload,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def timestamp_text(moment: datetime) -> str:
    """UTC, fixed width, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JournalWriter:
    """Appends entries inside the caller's transaction.

    The chain's head is read, under the journal's lock, only at the first append, so a
    write holds that lock for the shortest time: after its checks, until its commit.
    """

    def __init__(self, conn: Connection, actor: str, now: Callable[[], datetime]) -> None:
        self.conn = conn
        self.actor = actor
        self.now = now
        self.seq = 0
        self.prev_hash = GENESIS
        self.recorded_at = ""
        self._opened = False
        self._rows: list[Entry] = []
        self._openings: dict[str, str] = {}
        """The start of an entry's hashed JSON, up to its payload, by kind."""
        self._middles: dict[str | None, str] = {}
        """Its keys from the reason to the sequence number, by reason (see `_hash`)."""
        self.last: Entry | None = None
        """The last entry this writer appended (None before its first)."""
        self.defer: Callable[[Callable[[], None]], None] | None = None
        """Set by a bulk import: `flush` hands its insert to this (which runs it later, in
        order, on the same connection) instead of running it."""

    def open(self) -> None:
        """Take the chain's head (and, on PostgreSQL, its lock); later calls do nothing.

        A write that must number something by what is already recorded (the next grant
        id) opens the journal first, so no concurrent writer can take the same number.
        """
        if self._opened:
            return
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(
                text("SELECT pg_advisory_xact_lock(:a, :b)"),
                {"a": JOURNAL_LOCK[0], "b": JOURNAL_LOCK[1]},
            )
        head = self.conn.execute(
            select(J.c.seq, J.c.hash, J.c.recorded_at).order_by(J.c.seq.desc()).limit(1)
        ).first()
        stamp = timestamp_text(self.now())
        if head is not None:
            self.seq, self.prev_hash = head.seq, head.hash
            # Never let the recorded time run backwards (clocks differ across a team).
            stamp = max(stamp, head.recorded_at)
        self.recorded_at = stamp
        self._opened = True

    def append(
        self, kind: str, subject: str, payload: Mapping[str, Any], reason: str | None
    ) -> Entry:
        return self.append_json(kind, subject, canonical_json(payload), reason)

    def append_json(self, kind: str, subject: str, body: str, reason: str | None) -> Entry:
        """`append` for a payload already in its canonical JSON (`canonical_json(payload)`),
        so that a bulk import encodes each payload once."""
        self.open()
        self.seq += 1
        seq, recorded_at, actor, prev_hash = self.seq, self.recorded_at, self.actor, self.prev_hash
        digest = self._hash(seq, kind, subject, reason, body)
        entry = Entry(seq, recorded_at, actor, kind, subject, reason, body, prev_hash, digest)
        self.prev_hash = digest
        self.last = entry
        self._rows.append(entry)
        if len(self._rows) >= BATCH:
            self.flush()
        return entry

    def _hash(self, seq: int, kind: str, subject: str, reason: str | None, body: str) -> str:
        """`entry_hash` of the next entry, its canonical JSON written out by hand (keys in
        sorted order, strings through the encoder `json.dumps` itself uses); checked
        against `entry_hash` on each writer's first entry of each kind and of each reason.

        What an entry shares with the writer's others is made once: the opening up to the
        payload (by kind) and the keys from the reason to the sequence number (by reason,
        the time being the writer's): a fifth of the hash's cost, and a bulk import
        hashes an entry a grant."""
        opening = self._openings.get(kind)
        middle = self._middles.get(reason)
        first = opening is None or middle is None
        if opening is None:
            opening = f'{{"actor":{json_string(self.actor)},"kind":{json_string(kind)},"payload":'
            self._openings[kind] = opening
        if middle is None:
            written = "null" if reason is None else json_string(reason)
            middle = f'","reason":{written},"recorded_at":{json_string(self.recorded_at)},"seq":'
            self._middles[reason] = middle
        # A hash is hexadecimal: quoted as it is.
        content = (
            f"{opening}{json_string(body)},"
            f'"prev_hash":"{self.prev_hash}{middle}{seq},"subject":{json_string(subject)}}}'
        )
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        if first:
            expected = entry_hash(
                seq, self.recorded_at, self.actor, kind, subject, reason, body, self.prev_hash
            )
            if digest != expected:
                raise AssertionError("the journal's hand-written canonical JSON drifted")
        return digest

    def flush(self) -> None:
        if self._rows:
            rows, self._rows = self._rows, []
            write = partial(insert_rows, self.conn, J, JOURNAL_COLUMNS, rows)
            if self.defer is None:
                write()
            else:
                self.defer(write)


JOURNAL_COLUMNS = Entry._fields

json_string: Callable[[str], str] = json.encoder.encode_basestring
"""The string encoder of `canonical_json` (`json.dumps(..., ensure_ascii=False)`; the C
one when built)."""


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert `rows` (tuples in `columns` order) into `table`, in order.

    On SQLite straight through the driver, many rows to a statement (`sqlite_batches`);
    the values must then already be what SQLAlchemy would bind (text for dates, 0/1 for
    booleans). Elsewhere through SQLAlchemy, as dictionaries.
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    names, rows = _without_empty_columns(table, tuple(columns), rows)
    sqlite_batches(conn, rows, len(names), partial(_insert_sql, table.name, names))


def _without_empty_columns(
    table: Table, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]
) -> tuple[tuple[str, ...], Sequence[Sequence[Any]]]:
    """`columns` and `rows` but for the columns None in every row that are NULL when left
    out (no server default): the driver binds a None several times slower than a text
    (it looks for an adapter first, in vain), and an import's grants and entries leave
    most optional columns empty (a reason, a notice date, a termination...)."""
    keep = [
        position
        for position, name in enumerate(columns)
        if table.c[name].server_default is not None
        or any(map(is_not, map(itemgetter(position), rows), repeat(None)))
    ]
    if len(keep) == len(columns) or len(keep) < 2:
        return columns, rows
    pick = itemgetter(*keep)
    return tuple(columns[position] for position in keep), list(map(pick, rows))


def sqlite_batches(
    conn: Connection,
    rows: Sequence[Sequence[Any]],
    width: int,
    statement: Callable[[int], str],
    before: Sequence[Any] = (),
) -> None:
    """Run `statement(count)`, an SQLite statement that takes the values `before` then
    those of `count` rows of `width` values each, over `rows` in order, as many rows at a
    time as one statement may take (at most `_ROWS_PER_STATEMENT`).

    Straight through the driver, skipping SQLAlchemy's per-row parameter building. One
    statement is one call into SQLite, during which the driver lets other Python threads
    run (see the import's background writer); it binds the values beforehand, holding
    the GIL, so the fewer values sent the better.
    """
    if not rows:
        return
    if not conn.in_transaction():
        conn.begin()  # as SQLAlchemy's autobegin would, before its first statement
    driver = conn.connection.driver_connection
    room = _variable_limit(driver) - len(before)
    per_statement = max(1, min(_ROWS_PER_STATEMENT, room // width))
    cursor = driver.cursor()  # type: ignore[union-attr]
    sql = ""
    try:
        for start in range(0, len(rows), per_statement):
            batch = rows[start : start + per_statement]
            sql = statement(len(batch))
            cursor.execute(sql, [*before, *chain.from_iterable(batch)])
    except sqlite3.Error as error:
        # As SQLAlchemy would have raised it (IntegrityError, OperationalError, ...).
        raise DBAPIError.instance(sql, None, error, sqlite3.Error) from None
    finally:
        cursor.close()


_ROWS_PER_STATEMENT = 500


def _variable_limit(driver: Any) -> int:
    """How many parameters one SQLite statement may take (999 on old builds)."""
    try:
        return int(driver.getlimit(9))  # SQLITE_LIMIT_VARIABLE_NUMBER
    except (AttributeError, TypeError):
        return 999


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...], count: int) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    row = "(" + ", ".join("?" * len(columns)) + ")"
    return f'INSERT INTO "{table}" ({names}) VALUES ' + ", ".join([row] * count)


def entries(conn: Connection, up_to: str | None = None, batch: int = 5000) -> Iterator[Entry]:
    """Every entry in sequence order (streamed), optionally only those recorded by `up_to`."""
    query = select(J).order_by(J.c.seq)
    if up_to is not None:
        query = query.where(J.c.recorded_at <= up_to)
    for row in streamed(conn, query, batch):
        yield Entry(**row._asdict())


def entry_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(J)).scalar_one())


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


@dataclass(frozen=True)
class Chain:
    """What walking the chain found: how far it is intact, and where it first breaks."""

    count: int
    head_seq: int
    head_hash: str
    broken: ChainBreak | None
    anchor_seq: int | None = None


def verify_chain(conn: Connection, anchor: str | None = None) -> Chain:
    """Recompute the chain from the genesis; stop at the first bad entry.

    `anchor` is a head hash (or a prefix of one) noted outside the database earlier, by a
    previous `verify`: the chain must still hold that entry. That is what catches a journal
    cut short at its end, which breaks no link and may leave no trace in the state.
    """
    prev = GENESIS
    head_seq = 0
    count = 0
    anchor_seq: int | None = None
    for entry in entries(conn):
        count += 1
        expected_seq = head_seq + 1
        if entry.seq != expected_seq:
            problem = (
                f"is missing (the next entry found is {entry.seq})"
                if entry.seq > expected_seq
                else f"is out of order (found entry {entry.seq} where entry {expected_seq} belongs)"
            )
            return Chain(count, head_seq, prev, ChainBreak(expected_seq, problem), anchor_seq)
        if entry.prev_hash != prev:
            problem = "its link to the previous entry is broken (edited, removed or reordered)"
            return Chain(count, head_seq, prev, ChainBreak(entry.seq, problem), anchor_seq)
        if entry.expected_hash() != entry.hash:
            problem = "its content no longer matches its hash (edited)"
            return Chain(count, head_seq, prev, ChainBreak(entry.seq, problem), anchor_seq)
        if anchor is not None and anchor_seq is None and entry.hash.startswith(anchor):
            anchor_seq = entry.seq
        prev = entry.hash
        head_seq = entry.seq
    return Chain(count, head_seq, prev, None, anchor_seq)
