"""The order in which the rows of a file are checked and recorded.

A file's rows are checked a title at a time: the titles in the order the file first
names them, each title's rows in the file's order, except that a licence comes before
the sublicences it backs. Grants are numbered in that order.

- Checks never reach across titles (a title's grants meet only its own, and its parent's
  recorded derivative grants), so taking titles one at a time changes no answer. It is
  what lets an import keep only the titles being worked on in memory: a file sorted by
  licensee, agreement or date would otherwise bring every title back again and again.
- Within a title, a file sorted by licensee may list a sublicence before the licence that
  gives its grantor the rights. Both are in the same file, signed off together: the line
  order of a spreadsheet does not decide whether the chain of title holds, so licences
  are checked first.

A file already grouped by title (as an export is) is streamed as it is read. Otherwise
its rows are sorted on disk, in a temporary SQLite database, so that a million-row file
needs no more memory than a grouped one.
"""

from __future__ import annotations

import marshal
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby, islice
from pathlib import Path

from ledger.errors import LedgerError
from ledger.io.rows import GrantRow

SORT_BATCH = 5000
"""Rows written to the sort database together."""
SORT_CACHE_KIB = 8 * 1024
"""Page cache of the sort database (beyond it, SQLite's sorter spills to disk)."""


def title_of(row: GrantRow) -> str:
    return row.title.strip()


def in_check_order(rows: Iterable[GrantRow]) -> Iterator[GrantRow]:
    """`rows` (grouped by title, or not) in the order they are checked: see the module."""
    if not isinstance(rows, list):
        rows = list(rows)
    if not grouped_by_title(map(title_of, rows)):
        # `sorted` numbers the rows in file order, and is stable: file order within a title.
        rows = sorted(rows, key=_title_numbers())
    return licences_first(rows)


def _title_numbers() -> Callable[[GrantRow], int]:
    """A row's title numbered in order of first mention, the rows asked in file order."""
    numbers: dict[str, int] = {}

    def number(row: GrantRow) -> int:
        return numbers.setdefault(title_of(row), len(numbers))

    return number


def grouped_by_title(titles: Iterable[str]) -> bool:
    """Whether each title's rows come together (no title comes back after another)."""
    done: set[str] = set()
    current: str | None = None
    for title in titles:
        if title != current:
            if title in done:
                return False
            if current is not None:
                done.add(current)
            current = title
    return True


def licences_first(rows: Iterable[GrantRow]) -> Iterator[GrantRow]:
    """Rows grouped by title, each title's licences before the sublicences they back."""
    for _title, group in groupby(rows, key=title_of):
        yield from _upstream_first(list(group))


def _upstream_first(rows: list[GrantRow]) -> list[GrantRow]:
    """One title's rows by the depth of their grantor in the file's chains of title (a
    grantor no row grants to first, then those they grant to...), in file order at each
    depth. A grantor reached only through a cycle comes last."""
    grantors = [row.grantor.strip() for row in rows]
    granted_to: dict[str, list[str]] = {}  # grantor -> the parties it grants to here
    for grantor, row in zip(grantors, rows, strict=True):
        grantee = row.grantee.strip()
        if grantee != grantor:  # a reservation is no link in a chain
            granted_to.setdefault(grantor, []).append(grantee)
    grantees = {grantee for parties in granted_to.values() for grantee in parties}
    if grantees.isdisjoint(grantors):
        return rows  # no sublicence: nothing moves
    depth: dict[str, int] = {}
    level = [grantor for grantor in grantors if grantor not in grantees]
    step = 0
    while level:
        following: list[str] = []
        for party in level:
            if party not in depth:
                depth[party] = step
                following.extend(granted_to.get(party, ()))
        level = following
        step += 1
    # `step` is now past every depth: the grantors only a cycle reaches.
    ranks = [depth.get(grantor, step) for grantor in grantors]
    return [rows[i] for i in sorted(range(len(rows)), key=ranks.__getitem__)]


def sorted_on_disk(rows: Iterable[GrantRow], directory: Path | None = None) -> Iterator[GrantRow]:
    """`rows` grouped by title (titles in order of first appearance, file order within
    each), through a temporary SQLite database: memory stays bounded however they come."""
    with tempfile.TemporaryDirectory(prefix="rights-ledger-sort-", dir=directory) as place:
        db = sqlite3.connect(Path(place) / "rows.db")
        try:
            yield from _sorted(db, rows)
        except sqlite3.Error as error:
            raise LedgerError(
                f"could not sort the file's rows by title in {place} ({error}); "
                "set TMPDIR to a directory with room for about the file's size"
            ) from None
        finally:
            db.close()


def _sorted(db: sqlite3.Connection, rows: Iterable[GrantRow]) -> Iterator[GrantRow]:
    """The rows through the sort database `db`, back grouped by title."""
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute(f"PRAGMA cache_size=-{SORT_CACHE_KIB}")
    db.execute("PRAGMA temp_store=FILE")
    db.execute("CREATE TABLE line (title INTEGER, body BLOB)")
    number = _title_numbers()
    stream = iter(rows)
    while batch := list(islice(stream, SORT_BATCH)):
        db.executemany("INSERT INTO line VALUES (?, ?)", [_stored(row, number) for row in batch])
    del number
    for (body,) in db.execute("SELECT body FROM line ORDER BY title, rowid"):
        yield _read_back(body)


def _stored(row: GrantRow, number: Callable[[GrantRow], int]) -> tuple[int, bytes]:
    """A row as (its title's number, its values as one `marshal` blob).

    One blob rather than a column per value: the driver binds two values a row instead
    of seventeen, and makes one object a row when reading back (a million rows: the sort
    took 10-11 s instead of 12-14 s beyond reading the file). `marshal` rather than JSON or
    pickle: the fastest way to write a tuple of strings and read it back, and what it
    reads is only what this process wrote, in a directory of its own, moments before."""
    return number(row), marshal.dumps((*row[:-1], dict(row.extras)))


def _read_back(body: bytes) -> GrantRow:
    return GrantRow._make(marshal.loads(body))


def file_in_check_order(
    titles: Iterable[str],
    rows: Iterator[GrantRow],
    sorting: Callable[[], None] | None = None,
) -> Iterator[GrantRow]:
    """A file's rows in check order: streamed when `titles` (its rows' titles, read in a
    pass of their own) show the file grouped by title, else sorted on disk first, after
    a call of `sorting` (no row comes out of the sort before the last is in)."""
    if grouped_by_title(titles):
        return licences_first(rows)
    if sorting is not None:
        sorting()
    return licences_first(sorted_on_disk(rows))
