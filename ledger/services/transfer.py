"""Moving grants in and out: CSV and EMA Avails files, all or nothing.

An import checks every row (its values, then conflicts with the ledger and with the
rows before it) inside one transaction, and writes nothing unless every row passes.
It streams: a CSV file is read a chunk of rows at a time, each grant is journaled and
projected as soon as it is checked, and only the titles being worked on are held in
memory, so a million-row file needs no more memory than a thousand-row one. A large CSV
file's rows are read, parsed and checked in a second process while this one records them
(`ledger.services.prepare`); on SQLite the writes run on a thread of their own
(`_Background`).
"""

from __future__ import annotations

import json
import os
import queue
import re
import sqlite3
import sys
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Index, Table, func, select
from sqlalchemy.exc import DBAPIError

from ledger.domain.grants import GrantSpec
from ledger.errors import BadInput, LedgerError
from ledger.io.csv_format import RowFile
from ledger.io.order import in_check_order
from ledger.io.rows import BadRows, GrantRow, RowErrors
from ledger.persistence.database import is_sqlite, streamed
from ledger.persistence.journal import json_string
from ledger.persistence.schema import (
    Agreement,
    GrantTerritory,
    JournalEntry,
    Party,
    RightsGrant,
    Title,
)
from ledger.services.checks import CheckResult, ReportedConflict
from ledger.services.collector import collector_paused, sweep_young
from ledger.services.ledger import Ledger, need_reason, next_grant_id
from ledger.services.prepare import (
    Chunk,
    Failed,
    Item,
    Names,
    Naming,
    Parsed,
    Plan,
    Preparing,
    RowChecker,
    Shapes,
    can_prepare_apart,
    chunks,
)
from ledger.services.queries import granted_end
from ledger.services.unit_of_work import Work
from ledger.services.views import TitleScope, grant_label

A = Agreement.__table__
G = RightsGrant.__table__
GT = GrantTerritory.__table__
J = JournalEntry.__table__
P = Party.__table__
T = Title.__table__

Result = TypeVar("Result")
FORMATS = ("csv", "ema")
Progress = Callable[[int], None]

CHUNK = 1000
"""Rows read, looked up and written together."""
READ_AHEAD = 4
"""Chunks read and looked up ahead of the one being checked."""
SWEEP_EVERY = 50
"""Chunks between two sweeps of the reference cycles they left (the collector is paused)."""
KNOWN_NAMES = 100_000
"""Names of each kind an import keeps in mind. Far more than the rows in flight (those
read ahead, those whose new parties, titles and agreements wait in the projector for
their flush) could name: a name forgotten was written before any look-up that misses
it could be made."""
OPEN_TITLES = 4
"""Titles whose grants an import keeps at hand. Rows come a title at a time
(`ledger.io.order`), so a title let go never comes back within the import; memory holds
the grants of the title being checked, whatever the file's size."""
IMPORT_CACHE_KIB = 64 * 1024
"""SQLite page cache for an import: the indexes of a large ledger stay in memory."""
SHOWN_CONFLICTS = 1_000
"""Conflicts an import reports in full (the first found); the others are counted. With
`allow_conflicts` each is kept in the ledger anyway, with its grant."""
TITLE_KINDS = {"episode": "episode", "season": "season", "series": "series", "volume": "season"}
"""The kind of a title an import creates, by the row's `WorkType` (an EMA column, or a CSV
column of that name): a film otherwise. A volume (some episodes of a season) is licensed
as a season is."""
PREPARE_APART_FROM = 20_000
"""File rows from which a CSV import has its rows made ready in a second process."""
PREPARE_APART_TITLES = 200_000
"""Titles in the ledger beyond which it does not: the second process is told each one
(their rows are checked by the import itself)."""
REINDEX_FROM = 50_000
"""File rows from which an SQLite import may build its scattered indexes at the end."""
REBUILD_CACHE_KIB = 16 * 1024
"""SQLite page cache while the indexes set aside are built again (their sorts need room)."""
DEFERRED_INDEXES = frozenset(
    {
        "ix_journal_subject",
        "ix_rights_grant_agreement_ref",
        "ix_rights_grant_grantee_id",
        "ix_rights_grant_grantor_id",
        "ix_rights_grant_last_day",
        "ix_rights_grant_notice_on",
        "ix_grant_territory_code_lookup",
        "ix_agreement_status",
    }
)
"""What an import never reads (unlike a title's grants, by `title_id`) and would otherwise
update at scattered places, row after row."""


def read_rows(path: Path, fmt: str, licensee: str = "") -> RowFile | list[GrantRow]:
    """The rows of a CSV or EMA Avails file, spreadsheet or XML (`licensee` for EMA files
    that name none).

    A CSV file is read lazily, as the import goes (see `RowFile`)."""
    if not path.is_file():
        raise BadInput(f"no such file: {path}")
    if fmt == "ema" and path.suffix.lower() == ".xml":
        from ledger.io.ema_xml import read_ema_xml

        return read_ema_xml(path, licensee=licensee)
    if fmt == "ema":
        # openpyxl takes a third of a second to import: only when a workbook is read.
        from ledger.io.ema import read_ema

        return read_ema(path, licensee=licensee)
    return RowFile(path)


def _year(text: str) -> int | None:
    """A `ReleaseYear` as the title's year, when it is one (four digits)."""
    text = text.strip()
    return int(text) if len(text) == 4 and text.isdigit() else None


EMA_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xml"})
"""File names that say EMA Avails: the spreadsheet, or the XML."""


def read_deal(path: Path) -> tuple[list[GrantSpec], list[int]]:
    """A deal to check: the rows of a CSV (or EMA Avails file) as proposed grants, and
    their rows in the file. Every bad row is reported in one `RowErrors`."""
    fmt = "ema" if path.suffix.lower() in EMA_SUFFIXES else "csv"
    specs: list[GrantSpec] = []
    lines: list[int] = []
    errors: list[tuple[int, str]] = []
    for _count, bad, _names, parsed in chunks(in_check_order(read_rows(path, fmt)), [], CHUNK):
        errors.extend(bad)
        specs.extend(item.spec for item in parsed)
        lines.extend(item.row.row for item in parsed)
    if errors:
        raise RowErrors(path.name, errors)
    return specs, lines


@dataclass
class ImportSummary:
    grants: int = 0
    parties: int = 0
    """Parties, titles and agreements created."""
    titles: int = 0
    agreements: int = 0
    warnings: list[ReportedConflict] = field(default_factory=list)
    """The conflicts that did not refuse the import: warnings, and with `allow_conflicts`
    the blocking ones too (the first `SHOWN_CONFLICTS`)."""
    unshown: int = 0
    """Conflicts found beyond those in `warnings`."""
    allowed: int = 0
    """Grants recorded despite conflicts (`allow_conflicts`), each with the reason."""
    dry_run: bool = False


class ImportRefused(LedgerError):
    """Rows conflict with the ledger or with each other; nothing was imported."""

    def __init__(self, result: CheckResult, source: str, blocking: int, unshown: int) -> None:
        super().__init__(
            f"{source}: {blocking} blocking conflict(s); nothing was imported "
            "(--allow-conflicts --reason TEXT records them anyway)"
        )
        self.result = result
        """The first `SHOWN_CONFLICTS` conflicts found."""
        self.unshown = unshown
        """Conflicts found beyond those in `result`."""


class _DryRun(Exception):
    def __init__(self, summary: ImportSummary) -> None:
        self.summary = summary


def import_rows(
    ledger: Ledger,
    rows: Iterable[GrantRow],
    source: str,
    owner: str | None = None,
    owner_from_grantor: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    sorting: Callable[[], None] | None = None,
    allow_conflicts: bool = False,
    reason: str | None = None,
) -> ImportSummary:
    """Import rows all or nothing. Missing parties, titles and agreements are created;
    a created title is owned worldwide by `owner` (or, for EMA, by the row's licensor).

    Every row is checked against the ledger and the rows before it. Bad rows (values,
    missing owners, terminated agreements) are all reported, with their row numbers, in
    one `RowErrors`; otherwise blocking conflicts in one `ImportRefused`. `sorting` is
    called when a CSV file not grouped by title is about to be sorted (a pass over the
    whole file before the first row is checked).

    With `allow_conflicts` (and a `reason`) a row that conflicts is recorded all the same,
    as `grant add --allow-conflicts` records it: its journal entry carries the conflicts
    and the reason, and its grant the reason. Bad rows still refuse the whole file."""
    if allow_conflicts:
        need_reason(reason)
    elif reason is not None:
        raise BadInput("--reason is kept only for conflicts allowed: give --allow-conflicts")
    if isinstance(rows, Iterator):
        rows = list(rows)  # a retried transaction reads them again
    bulk = _is_bulk(ledger.engine, rows)

    def step(work: Work) -> ImportSummary:
        with _bulk_cache(work.conn), collector_paused():
            set_aside = _set_aside_indexes(work.conn) if bulk else []
            allowed = reason if allow_conflicts else None
            run = _Import(work, source, owner, owner_from_grantor, dry_run, allowed, rows, sorting)
            try:
                summary = run.feed(progress)
            finally:
                run.stop()
            _rebuild(work.conn, set_aside)
            return summary

    try:
        return ledger.write(step, whole=True, bulk=bulk)  # type: ignore[no-any-return]
    except _DryRun as done:
        return done.summary


class _bulk_cache:
    """A larger SQLite page cache for the length of an import (then the usual one)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.before: int | None = None

    def __enter__(self) -> None:
        if is_sqlite(self.conn):
            self.before = int(self.conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
            self.conn.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")

    def __exit__(self, *_exc: object) -> None:
        if self.before is not None:
            self.conn.exec_driver_sql(f"PRAGMA cache_size={self.before}")


def _is_bulk(engine: Engine, rows: Iterable[GrantRow]) -> bool:
    """Whether an import into an SQLite ledger is written in bulk: a file of at least
    `REINDEX_FROM` rows and at least as many as the ledger has grants. Its scattered
    indexes are then set aside and built at the end (`_set_aside_indexes`), and it is
    written through a rollback journal rather than the WAL (`rollback_journal`)."""
    if not is_sqlite(engine):
        return False
    coming = len(rows) if isinstance(rows, RowFile | list) else 0
    if coming < REINDEX_FROM:
        return False
    with engine.connect() as conn:
        return coming >= next_grant_id(conn) - 1


def _set_aside_indexes(conn: Connection) -> list[Index]:
    """Drop the indexes a bulk import would update all over the place; `_rebuild` makes
    them again.

    Inserting a million grants into indexes keyed by agreement, party, day or territory
    touches pages at random, far more of them than the page cache holds: building each
    index once at the end, from sorted keys, is several times cheaper. The drop is part
    of the import's transaction: an import that fails or is a dry run rolls back to the
    indexes as they were."""
    dropped = [index for index in _deferrable() if index.name in DEFERRED_INDEXES]
    for index in dropped:
        index.drop(conn)
    return dropped


def _rebuild(conn: Connection, indexes: list[Index]) -> None:
    if not indexes:
        return
    # Sorting a million keys takes memory beside the page cache: a smaller one meanwhile,
    # and a second thread for SQLite's sorter on a machine that has a second core.
    conn.exec_driver_sql(f"PRAGMA cache_size=-{REBUILD_CACHE_KIB}")
    conn.exec_driver_sql(f"PRAGMA threads={min(2, os.cpu_count() or 1) - 1}")
    try:
        for index in indexes:
            index.create(conn)
    finally:
        conn.exec_driver_sql("PRAGMA threads=0")


def _deferrable() -> list[Index]:
    return [index for table in (J, A, G, GT) for index in cast(Table, table).indexes]


class _Background:
    """An import's database work, run in order on a second thread, so that SQLite updates
    its tables and indexes on the second core while this one checks the next rows (the
    driver lets go of the GIL inside SQLite, a whole multi-row INSERT at a time).

    Only on SQLite; elsewhere each job runs at once, in the caller's thread. While jobs
    are queued nothing else may use the connection: `drain` first.
    """

    QUEUED = 8
    """Jobs waiting at most (each a flush of a few thousand rows): bounds the memory."""
    SWITCH_INTERVAL = 0.0005
    """Seconds a thread holding the GIL keeps it while another waits, during an import.

    The writer needs the GIL back between two statements (to bind the next rows), and
    the importing thread, busy in Python, holds it: at Python's usual 5 ms the writer
    spends much of its time waiting for it, and SQLite's second core idles. At 0.5 ms a
    million-grant import takes a sixth less time (0.2 ms: no better)."""

    def __init__(self, threaded: bool) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue(
            maxsize=self.QUEUED
        )
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._interval = sys.getswitchinterval()
        if threaded:
            sys.setswitchinterval(self.SWITCH_INTERVAL)
            self._thread = threading.Thread(target=self._work, name="import-writer", daemon=True)
            self._thread.start()

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` in turn; its failure is raised by a later `submit`, `ask` or `drain`."""
        self.ask(job)

    def ask(self, job: Callable[[], Result]) -> Future[Result]:
        """Run `job` in turn; the future holds its result."""
        future: Future[Result] = Future()
        if self._thread is None:
            future.set_result(job())
            return future
        if self._failure is not None:
            raise self._failure
        self._jobs.put((job, future))
        return future

    def drain(self) -> None:
        """Wait until every job has run; raise the first failure."""
        if self._thread is not None:
            self._jobs.join()
        if self._failure is not None:
            raise self._failure

    def stop(self) -> None:
        """Let the jobs queued run (none after a failure) and end the thread."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
            sys.setswitchinterval(self._interval)

    def abandon(self) -> None:
        """Skip the jobs still queued (the transaction is being given up) and stop."""
        if self._failure is None:
            self._failure = _Abandoned()
        self.stop()

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            try:
                if self._failure is not None:
                    future.set_exception(self._failure)
                else:
                    future.set_result(job())
            except BaseException as error:  # handed to the importing thread
                self._failure = error
                future.set_exception(error)
            finally:
                self._jobs.task_done()
        self._jobs.task_done()


class _Names(OrderedDict[str, None]):
    """The names of one kind (parties, titles or agreements) an import knows the ledger
    to have: the `KNOWN_NAMES` it met last, so that a file naming a million agreements
    needs no more memory than one naming a thousand. A name met again after that many
    others is looked up again: by then the ledger has it (it was written long before).
    (`name in names` is the dictionary's own test: an import asks it four times a row.)"""

    def __init__(self) -> None:
        super().__init__()
        self.capacity = KNOWN_NAMES

    def add(self, name: str) -> None:
        self[name] = None
        if len(self) > self.capacity:
            self.popitem(last=False)

    def update_names(self, names: Iterable[str]) -> None:
        for name in names:
            self.add(name)

    def unknown(self, names: set[str]) -> set[str]:
        """Those of `names` not in mind; the others are kept in mind as just met (rows
        read ahead count on them until they are checked)."""
        missing = {name for name in names if name not in self}
        if len(self) > self.capacity // 2:
            # Names may soon be forgotten: not those the rows read ahead count on. (Below
            # half full, more names than a few chunks can name would have to come first.)
            for name in names:
                if name not in missing:
                    self.move_to_end(name)
        return missing


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
"""What no name the import records may hold: a control character (a tab, a line break, a
unit separator: the ledger stores a holding's values between unit separators)."""


class _Abandoned(Exception):
    """The import stopped before its queued writes ran."""


class _Import:
    """One import run: creates what rows name, checks each row, then journals it."""

    def __init__(
        self,
        work: Work,
        source: str,
        owner: str | None,
        owner_from_grantor: bool,
        dry_run: bool,
        allowed: str | None,
        rows: Iterable[GrantRow],
        sorting: Callable[[], None] | None,
    ) -> None:
        self.work = work
        self.conn = work.conn
        self.source = source
        self.owner = owner
        self.owner_from_grantor = owner_from_grantor
        self.summary = ImportSummary(dry_run=dry_run)
        self.allowed = allowed
        """The reason conflicts are allowed for, or None: conflicts refuse the import."""
        self.errors = BadRows()
        self.conflicts: list[ReportedConflict] = []  # the first SHOWN_CONFLICTS found
        self.blocking = 0  # blocking conflicts found, shown or not
        self.unshown = 0  # conflicts found beyond those shown
        # What the ledger has (or this import made) that the rows named lately.
        self.parties = _Names()
        self.titles = _Names()
        self.agreements = _Names()
        self.terminated: set[str] = set()
        self.chunks = 0
        # Titles this import created and has not checked a row of yet: known empty.
        self.fresh: dict[str, str] = {}
        # Numbered under the journal's lock, as `add_grant` does (the whole-ledger import
        # lock already keeps other writers out; this keeps the rule in one shape).
        work.journal.open()
        self.first_id = next_grant_id(self.conn)
        self.written = 0  # grants checked and written so far
        self.checker = RowChecker(
            source,
            self.first_id,
            allowed,
            is_sqlite(self.conn),
            self._scope_of,
            SHOWN_CONFLICTS,
            OPEN_TITLES,
        )
        self.shapes = Shapes()  # of the agreements created
        self.note = f"created by import of {source}"
        """The note on each agreement the import creates."""
        self.note_json = json_string(self.note)
        self.rows = rows
        self.sorting = sorting
        # Before this process starts a thread (the writer's, below): see `Preparing`.
        self.preparing = self._preparing()
        # Parties, titles and agreements are buffered with the grants: nothing reads
        # them back before the projector's next flush (`_scope_of` flushes first).
        work.projector.bulk = True
        self.background = _Background(threaded=is_sqlite(self.conn))
        work.journal.defer = work.projector.defer = self.background.submit
        self.finished = False

    def _preparing(self) -> Preparing | None:
        """The second process that makes the rows ready, for a large CSV file on a machine
        that can run one beside this (`ledger.services.prepare`); None: they are made
        ready here. It is told the titles the ledger has (their rows are checked here),
        unless there are too many to tell."""
        rows = self.rows
        if not (isinstance(rows, RowFile) and can_prepare_apart()):
            return None
        if len(rows) < PREPARE_APART_FROM:
            return None
        titles = self.conn.execute(select(func.count()).select_from(T)).scalar_one()
        if titles > PREPARE_APART_TITLES:
            return None
        plan = Plan(
            rows,
            self.source,
            self.first_id,
            self.allowed,
            is_sqlite(self.conn),
            self.owner,
            self.owner_from_grantor,
            frozenset(self.conn.execute(select(T.c.id)).scalars()),
            CHUNK,
            SHOWN_CONFLICTS,
            OPEN_TITLES,
            SWEEP_EVERY,
        )
        return Preparing(plan, self.sorting)

    def feed(self, progress: Progress | None) -> ImportSummary:
        # The next chunks are read, parsed and looked up while this one is recorded: their
        # look-ups wait on the writer thread behind the writes queued before them, and a
        # few chunks ahead they are answered by the time they are needed.
        ahead: deque[tuple[Chunk, Future[Found]]] = deque()
        upcoming = self._chunks()
        while True:
            while len(ahead) < READ_AHEAD and (chunk := next(upcoming, None)) is not None:
                wanted = self._unseen(chunk[2])
                # Only names this import has not met: what the ledger had before it,
                # whatever the import has written since, so the query may wait its turn
                # behind the writes.
                ahead.append((chunk, self.background.ask(partial(_look_up, self.conn, wanted))))
            if not ahead:
                break
            (count, errors, _names, items), found = ahead.popleft()
            self.chunks += 1
            if self.chunks % SWEEP_EVERY == 0:
                sweep_young()
            self.errors.extend(errors)
            self._learn(found.result())
            # What the rows name first, then their grants: the grant rows of a chunk are
            # written together rather than between parties, titles and agreements.
            ready = [item for item in items if self._create_missing(item[0])]
            if not self.errors:
                for item in ready:
                    self._record(item)
            if progress is not None:
                progress(count)
        if self.errors:
            raise RowErrors(self.source, self.errors)
        self.work.projector.flush()
        self.work.journal.flush()
        self.background.drain()
        self.finished = True
        if self.blocking and self.allowed is None:
            raise ImportRefused(
                CheckResult(tuple(self.conflicts)), self.source, self.blocking, self.unshown
            )
        self.summary.warnings = self.conflicts
        self.summary.unshown = self.unshown
        self.summary.grants = self.written
        if self.summary.dry_run:
            raise _DryRun(self.summary)
        return self.summary

    def stop(self) -> None:
        """End the second process and the background writer; the connection is this
        thread's again."""
        if self.preparing is not None:
            self.preparing.stop()
        if self.finished:
            self.background.stop()
        else:
            self.background.abandon()
        self.work.journal.defer = self.work.projector.defer = None

    def _chunks(self) -> Iterator[Chunk]:
        """The rows a chunk at a time, in check order, from the second process or read
        here. Rows that cannot be read are bad rows, whenever the reader meets them."""
        if self.preparing is not None:
            return self.preparing.chunks()
        read_errors: list[tuple[int, str]] = []
        if isinstance(self.rows, RowFile):
            stream = self.rows.in_check_order(read_errors, self.sorting)
        else:
            stream = in_check_order(self.rows)
        return chunks(stream, read_errors, CHUNK)

    def _unseen(self, names: Names) -> dict[str, set[str]]:
        """The parties, titles and agreements of `names` that no earlier chunk named."""
        parties, titles, agreements = names
        if self.owner:
            parties.add(self.owner)
        return {
            "party": self.parties.unknown(parties),
            "title": self.titles.unknown(titles),
            "agreement": self.agreements.unknown(agreements),
        }

    def _learn(self, found: Found) -> None:
        parties, titles, agreements = found
        self.parties.update_names(parties)
        self.titles.update_names(titles)
        for ref, status in agreements.items():
            self.agreements.add(ref)
            if status == "terminated":
                self.terminated.add(ref)

    def _create_missing(self, naming: Naming) -> bool:
        """Record the parties, title and agreement the row names but the ledger lacks;
        False (and an error) when the row cannot be imported."""
        row, agreement, title, grantor, grantee = naming[:5]
        known = (
            agreement in self.agreements
            and title in self.titles
            and grantor in self.parties
            and grantee in self.parties
        )
        if not known and not self._record_missing(naming):
            return False
        if agreement in self.terminated:
            self.errors.append((row, f"agreement {agreement} is terminated"))
            return False
        return True

    def _record_missing(self, naming: Naming) -> bool:
        row, agreement, title, grantor, grantee, status, title_name = naming[:7]
        grantor_name, grantee_name, work_type, release_year = naming[7:]
        for what, name in (
            ("agreement", agreement),
            ("title", title),
            ("grantor", grantor),
            ("grantee", grantee),
        ):
            if _CONTROL.search(name):
                self.errors.append((row, f"{what} {name!r} has a control character"))
                return False
        work = self.work
        names = {grantor: grantor_name, grantee: grantee_name}
        for party in (grantor, grantee):
            if party not in self.parties:
                work.record(
                    "party.added",
                    f"party:{party}",
                    {"id": party, "name": names[party] or party, "country": None},
                    as_read_back=True,
                )
                self.parties.add(party)
                self.summary.parties += 1
        if title not in self.titles:
            title_owner = self.owner
            if self.owner_from_grantor and self.owner is None:
                title_owner = grantor
            if title_owner is None:
                self.errors.append(
                    (
                        row,
                        f"title {title!r} is not in the ledger: "
                        "give --owner PARTY (or --owner-from-grantor) to create it",
                    )
                )
                return False
            if title_owner not in self.parties:
                self.errors.append((row, f"no party {title_owner!r} to own {title!r}"))
                return False
            work.record(
                "title.added",
                f"title:{title}",
                {
                    "id": title,
                    "name": title_name or title,
                    "original_name": None,
                    "kind": TITLE_KINDS.get(work_type.strip().lower(), "film"),
                    "year": _year(release_year),
                    "origin": None,
                    "eidr": None,
                    "parent": None,
                    "owners": [{"party": title_owner, "territory": "WW", "share": None}],
                },
                as_read_back=True,
            )
            self.titles.add(title)
            if self.preparing is None:  # else its rows are checked in the second process
                self.fresh[title] = title_owner
            self.summary.titles += 1
        if agreement not in self.agreements:
            payload = {
                "ref": agreement,
                "parties": list(dict.fromkeys((grantor, grantee))),
                "status": status,
                "signed_on": None,
                "note": self.note,
            }
            body = self._agreement_body(payload)
            work.record("agreement.added", f"agreement:{agreement}", payload, body=body)
            self.agreements.add(agreement)
            self.summary.agreements += 1
        return True

    def _scope_of(self, spec: GrantSpec) -> TitleScope:
        """The title of `spec`, as this import first meets it in its check order."""
        fresh_owner = self.fresh.pop(spec.title, None)
        if fresh_owner is not None:
            return TitleScope.fresh(fresh_owner)
        # Already in the ledger: its recorded grants. None of this file's rows are of it
        # yet (they come a title at a time); the connection is this thread's once the
        # writes queued before have run.
        self.work.projector.flush()
        self.background.drain()
        return TitleScope.load(self.conn, spec.title, first_new=self.first_id)

    def _agreement_body(self, payload: dict[str, Any]) -> str:
        """`canonical_json(payload)` of an agreement this import creates, written out (a
        file may name a new agreement on every row); the first is compared with
        `canonical_json`, and must agree."""
        body = "".join(
            (
                '{"note":',
                self.note_json,
                ',"parties":[',
                ",".join(map(json_string, payload["parties"])),
                '],"ref":',
                json_string(payload["ref"]),
                ',"signed_on":null,"status":',
                json_string(payload["status"]),
                "}",
            )
        )
        return self.shapes.checked("agreement", body, lambda: payload)

    def _record(self, item: Item) -> None:
        """Journal and project the grant of a row, checked here if it was not yet."""
        if isinstance(item, Failed):
            raise BadInput(item.problem)
        if isinstance(item, Parsed):
            item = self.checker.check(self.written, item)
        naming, grant_id, body, reason, values, blocking, conflicts, unexplained = item
        if grant_id != self.first_id + self.written:
            raise AssertionError(f"row {naming[0]} was numbered out of turn")
        self._report(blocking, conflicts, unexplained)
        if reason is not None:
            self.summary.allowed += 1
        entry = self.work.journal.append_json(
            "grant.added", f"grant:{grant_label(grant_id)}", body, reason
        )
        self.work.projector.add_grant(entry.seq, values)
        self.written += 1

    def _report(
        self, blocking: int, conflicts: tuple[ReportedConflict, ...], unexplained: int
    ) -> None:
        """Count the conflicts a row met; keep those explained while fewer than
        `SHOWN_CONFLICTS` are (a file colliding on every row keeps its memory)."""
        self.blocking += blocking
        room = max(0, SHOWN_CONFLICTS - len(self.conflicts))
        self.conflicts.extend(conflicts[:room])
        self.unshown += len(conflicts[room:]) + unexplained


Found = tuple[set[str], set[str], dict[str, str]]
"""What the ledger has of the parties, titles and agreements some rows name."""


def _look_up(conn: Connection, wanted: dict[str, set[str]]) -> Found:
    """Which of the named parties and titles the ledger has, and the named agreements it
    has with their status."""
    return (
        {name for (name,) in _named(conn, P.c.id, wanted["party"])},
        {name for (name,) in _named(conn, T.c.id, wanted["title"])},
        dict(_named(conn, A.c.ref, wanted["agreement"], A.c.status)),
    )


LOOK_UP_BATCH = 500
"""Names looked up in one query."""


def _named(conn: Connection, key: Any, names: set[str], *more: Any) -> Iterator[Any]:
    """(`key`, *`more`) of the rows of `key`'s table whose `key` is one of `names`.

    On SQLite straight through the driver: the look-ups run on the import's writer
    thread beside its writes, where SQLAlchemy's expanding `IN` costs more than the
    query (with an agreement a row, a tenth of that thread's time)."""
    ordered = sorted(names)
    batches = (ordered[at : at + LOOK_UP_BATCH] for at in range(0, len(ordered), LOOK_UP_BATCH))
    if not is_sqlite(conn):
        for batch in batches:
            yield from conn.execute(select(key, *more).where(key.in_(batch)))
        return
    columns = ", ".join(column.name for column in (key, *more))
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    sql = ""
    try:
        for batch in batches:
            places = ", ".join("?" * len(batch))
            sql = f"SELECT {columns} FROM {key.table.name} WHERE {key.name} IN ({places})"
            yield from cursor.execute(sql, batch)
    except sqlite3.Error as error:
        # As SQLAlchemy would have raised it (OperationalError, ...).
        raise DBAPIError.instance(sql, None, error, sqlite3.Error) from None
    finally:
        cursor.close()


def export_rows(conn: Connection) -> Iterator[GrantRow]:
    """Every grant as a file row (the title's and parties' names alongside), in id order."""
    names = {r.id: r.name for r in conn.execute(select(P.c.id, P.c.name))}
    title_names = {r.id: r.name for r in conn.execute(select(T.c.id, T.c.name))}
    query = select(G, A.c.standing).join(A, A.c.ref == G.c.agreement_ref).order_by(G.c.id)
    for row in streamed(conn, query):
        refs = json.loads(row.external_refs) if row.external_refs else {}
        yield GrantRow(
            row=row.id,
            agreement=row.agreement_ref,
            title=row.title_id,
            grantor=row.grantor_id,
            grantee=row.grantee_id,
            rights=row.rights,
            territory=row.territory,
            start=row.start,
            end=_end_text(row),
            exclusivity=row.exclusivity,
            language=row.languages or "",
            status=row.standing,
            title_name=title_names.get(row.title_id, ""),
            grantor_name=names.get(row.grantor_id, ""),
            grantee_name=names.get(row.grantee_id, ""),
            extras=refs,
        )


def _end_text(row: Any) -> str:
    """An exported grant ends on its last day in force: its termination day when it was
    cut short, a term's resolved end date, an event-relative end as written while TBD."""
    if row.terminated_on is not None:
        return str(row.terminated_on.isoformat())
    return granted_end(row.end, row.first_day, row.last_day, None) or ""
