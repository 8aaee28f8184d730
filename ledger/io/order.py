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
its rows are read a title at a time from where each lies in the file
(`ledger.io.csv_format.iter_csv_by_title`), so that a million-row file needs little
more memory than a grouped one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import groupby

from ledger.io.rows import GrantRow


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


def file_in_check_order(
    titles: Iterable[str],
    rows: Iterator[GrantRow],
    by_title: Callable[[], Iterable[GrantRow]],
    sorting: Callable[[], None] | None = None,
) -> Iterator[GrantRow]:
    """A file's rows in check order: `rows` streamed when `titles` (its rows' titles,
    read in a pass of their own, which stops at the first title that comes back) show
    the file grouped by title; else, after a call of `sorting`, the rows `by_title`
    gives: the same rows grouped by title, in order of first mention, file order within
    each."""
    if grouped_by_title(titles):
        return licences_first(rows)
    if sorting is not None:
        sorting()
    return licences_first(by_title())
