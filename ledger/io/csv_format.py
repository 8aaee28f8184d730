"""The ledger's CSV deal format: one header row, then one grant per line.

Columns are found by name (any order, any case); `language` and `status` may be left
out, and columns the ledger does not know are kept in `GrantRow.extras` so a caller can
echo them back. Values are passed on as written: territories, rights and dates are
checked by the import service, not here. Every bad line is collected before raising,
so one run of `import` or `check --file` shows every problem in the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import operator
import os
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from itertools import accumulate, chain
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from ledger.errors import BadInput
from ledger.io.order import file_in_check_order
from ledger.io.rows import GrantRow, RowErrors

if TYPE_CHECKING:
    from _csv import Reader as _Reader

CSV_COLUMNS = (
    "agreement",
    "title",
    "grantor",
    "grantee",
    "rights",
    "territory",
    "start",
    "end",
    "exclusivity",
    "language",
    "status",
)
OPTIONAL_COLUMNS = ("language", "status")
REQUIRED_COLUMNS = tuple(c for c in CSV_COLUMNS if c not in OPTIONAL_COLUMNS)
# `end` must be a column (an absent column would silently make every grant perpetual)
# but an empty cell is meaningful: an open end.
REQUIRED_VALUES = tuple(c for c in REQUIRED_COLUMNS if c != "end")
# Display names a richer export may add; read into the row, not into extras.
NAME_COLUMNS = ("title_name", "grantor_name", "grantee_name")


def read_csv(path: Path) -> list[GrantRow]:
    """Read a deal CSV into rows; raise `BadInput` (or `RowErrors`) naming lines."""
    errors: list[tuple[int, str]] = []
    rows = list(iter_csv(path, errors))
    if errors:
        raise RowErrors(path.name, errors)
    return rows


class RowFile:
    """The rows of a CSV file, read as they are needed (again on each pass), never all
    at once. `len()` counts its lines once, an upper bound of its rows, for a progress
    bar and an import's choices (a pass over the file: a tenth of a second at 1M rows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lines: int | None = None

    def __len__(self) -> int:
        if self._lines is None:
            lines = 0
            with self.path.open("rb") as stream:
                while block := stream.read(1 << 20):
                    lines += block.count(b"\n")
            self._lines = max(0, lines - 1)
        return self._lines

    def __iter__(self) -> Iterator[GrantRow]:
        errors: list[tuple[int, str]] = []
        yield from self.rows(errors)
        if errors:
            raise RowErrors(self.path.name, errors)

    def rows(self, errors: list[tuple[int, str]]) -> Iterator[GrantRow]:
        """The well-formed rows; each malformed one is added to `errors` as (row, problem)."""
        return iter_csv(self.path, errors)

    def in_check_order(
        self, errors: list[tuple[int, str]], sorting: Callable[[], None] | None = None
    ) -> Iterator[GrantRow]:
        """`rows` in the order they are checked (`ledger.io.order`): as read when the file
        is grouped by title, else read again a title at a time (`sorting` is called
        first)."""
        return file_in_check_order(
            iter_titles(self.path),
            self.rows(errors),
            partial(iter_csv_by_title, self.path, errors),
            sorting,
        )


def iter_csv(path: Path, errors: list[tuple[int, str]]) -> Iterator[GrantRow]:
    """The well-formed rows, read as they are needed (a million-row file is never held);
    each malformed one is added to `errors` as (line, problem). A file that cannot be
    read at all (not UTF-8, no header, a missing column) raises `BadInput`."""
    with _records(path) as (header, columns, reader):
        make_row = _RowMaker(header, columns, errors)
        line_after_previous = reader.line_num
        for record in reader:
            # A record may span lines (a quoted line break): report where it starts.
            line = line_after_previous + 1
            line_after_previous = reader.line_num
            row = make_row(record, line)
            if row is not None:
                yield row


def iter_csv_by_title(path: Path, errors: list[tuple[int, str]]) -> Iterator[GrantRow]:
    """`iter_csv`'s rows grouped by title: the titles in the order the file first names
    them, each title's rows in file order, with their own row numbers.

    For a file not grouped by title, in two passes and little memory: the first reads
    each record's title and where in the file it starts (a few arrays of numbers: about
    30 MB at a million rows), the second reads each title's records from those places,
    by their byte offsets, and parses them as `iter_csv` would: a million shuffled rows
    in about 1.4 times a grouped file's single read. A file saved again while it is read
    (from before the first pass to the end of the second) raises `BadInput`."""
    try:
        indexed, bom = _version_and_bom(path)
    except OSError as error:
        raise _unreadable(path, error) from None
    line_starts = array("q")
    with _records(path, partial(_counted, line_starts, bom)) as (
        header,
        columns,
        reader,
    ):
        position = columns["title"]
        numbers: dict[str, int] = {}
        titles = array("l")  # a record's title, by its number in order of first mention
        first_lines = array("q")  # the index of a record's first line
        line_after_previous = reader.line_num
        for record in reader:
            first_lines.append(line_after_previous)
            line_after_previous = reader.line_num
            title = record[position].strip() if len(record) > position else ""
            titles.append(numbers.setdefault(title, len(numbers)))
        delimiter = reader.dialect.delimiter
    starts = array("q", map(line_starts.__getitem__, first_lines))
    # A record ends where the next one starts, the last at the end of the file.
    sizes = array("q", map(operator.sub, chain(starts[1:], line_starts[-1:]), starts))
    del line_starts
    make_row = _RowMaker(header, columns, errors)
    changed = BadInput(f"{path.name} changed while it was read: import it again once saved")
    try:
        stream = path.open("rb", buffering=0)
    except OSError as error:
        raise _unreadable(path, error) from None
    with stream:
        read_at = _reader_at(stream)
        for group in _grouped(titles, len(numbers)):
            try:
                text = b"".join([read_at(sizes[r], starts[r]) for r in group]).decode()
                records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
                numbered = list(zip(group, records, strict=True))
            except (ValueError, csv.Error):  # a record cut or joined: not the file indexed
                raise changed from None
            except OSError as error:
                raise _unreadable(path, error) from None
            for r, record in numbered:
                row = make_row(record, first_lines[r] + 1)
                if row is not None:
                    yield row
        # Rows read from a file changed in place are not the file's rows: the import,
        # all or nothing, fails rather than record them.
        if _version(os.fstat(stream.fileno())) != indexed:
            raise changed


def _reader_at(stream: BinaryIO) -> Callable[[int, int], bytes]:
    """`read_at(size, offset)`: `size` bytes of `stream` from `offset`, by `os.pread` (one
    system call), or by a seek and a read where there is none (Windows)."""
    if hasattr(os, "pread"):
        return partial(os.pread, stream.fileno())

    def read_at(size: int, offset: int) -> bytes:
        stream.seek(offset)
        return stream.read(size)

    return read_at


def _version(status: os.stat_result) -> tuple[int, int]:
    """What tells one version of a file from the next: its size and modification time."""
    return status.st_size, status.st_mtime_ns


def _version_and_bom(path: Path) -> tuple[tuple[int, int], int]:
    """The file's `_version`, and the bytes of the UTF-8 byte order mark it starts with
    (which `utf-8-sig` leaves out of its first line): 3 or 0."""
    with path.open("rb") as stream:
        bom = len(codecs.BOM_UTF8) if stream.read(3) == codecs.BOM_UTF8 else 0
        return _version(os.fstat(stream.fileno())), bom


def _counted(starts: array[int], offset: int, lines: Iterable[str]) -> Iterator[str]:
    """`lines`, each one's byte offset in the file appended to `starts` as it passes (and
    the end of the file after the last)."""
    for line in lines:
        starts.append(offset)
        offset += len(line) if line.isascii() else len(line.encode())
        yield line
    starts.append(offset)


def _grouped(titles: array[int], count: int) -> Iterator[array[int]]:
    """The records' indexes, a title at a time (`titles[r]` numbers record r's title,
    `count` of them), in file order within each: a counting sort."""
    sizes = [0] * count
    for title in titles:
        sizes[title] += 1
    ends = list(accumulate(sizes))
    order = array("q", bytes(8 * len(titles)))
    places = [end - size for end, size in zip(ends, sizes, strict=True)]
    for record, title in enumerate(titles):
        order[places[title]] = record
        places[title] += 1
    for end, size in zip(ends, sizes, strict=True):
        yield order[end - size : end]


def iter_titles(path: Path) -> Iterator[str]:
    """The title of each record after the header, as written (stripped), read without
    the rest of the row: a quick pass to learn how a large file is ordered."""
    with _records(path) as (_header, columns, reader):
        position = columns["title"]
        for record in reader:
            if len(record) > position:
                yield record[position].strip()


@contextmanager
def _records(
    path: Path, lines: Callable[[Iterable[str]], Iterator[str]] | None = None
) -> Iterator[tuple[list[str], dict[str, int], _Reader]]:
    """The header, its columns by name and a reader of the records after it (of the
    file's lines passed through `lines`, when given); a file that cannot be read (not
    UTF-8, no header, a missing column) raises `BadInput`, while the records are read
    too."""
    name = path.name
    try:
        # utf-8-sig drops the BOM Excel writes; newline="" lets csv handle CRLF and
        # line breaks inside quoted cells.
        with path.open(encoding="utf-8-sig", newline="") as stream:
            delimiter = _delimiter(stream)
            reader = csv.reader(stream if lines is None else lines(stream), delimiter=delimiter)
            header: list[str] | None = None
            for record in reader:
                if any(cell.strip() for cell in record):
                    header = record
                    break
            if header is None:
                raise BadInput(
                    f"{name}: empty file; expected a header row: {','.join(CSV_COLUMNS)}"
                )
            yield header, _index_header(header, name, reader.line_num), reader
    except UnicodeDecodeError as error:
        raise BadInput(
            f"{name}: not UTF-8 text (bad byte at offset {error.start}); save the file as CSV UTF-8"
        ) from None
    except OSError as error:
        raise _unreadable(path, error) from None


def _unreadable(path: Path, error: OSError) -> BadInput:
    return BadInput(f"{path.name}: cannot read file ({error.strerror})")


DELIMITERS = (",", ";", "\t")
"""What may separate a file's columns: commas, as written; semicolons, as Excel saves
"CSV" where the decimal mark is a comma; tabs, as a spreadsheet's copy and paste."""


def _delimiter(stream: TextIO) -> str:
    """The first of `DELIMITERS` by which the file's first line that is not blank names
    every required column (`,` when none does: the header check then names what is
    missing). The stream is left at its start."""
    first = next((line for line in iter(stream.readline, "") if line.strip()), "")
    stream.seek(0)
    for delimiter in DELIMITERS:
        names = {cell.strip().strip('"').strip().lower() for cell in first.split(delimiter)}
        if names.issuperset(REQUIRED_COLUMNS):
            return delimiter
    return ","


def _index_header(header: list[str], name: str, line: int) -> dict[str, int]:
    """Map lower-cased column name -> position; reject duplicates and missing columns."""
    columns: dict[str, int] = {}
    for position, raw in enumerate(header):
        key = raw.strip().lower()
        if not key:
            continue
        if key in columns:
            raise BadInput(f"{name} row {line}: column '{raw.strip()}' appears twice")
        columns[key] = position
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        listed = ", ".join(f"'{c}'" for c in missing)
        raise BadInput(
            f"{name} row {line}: missing column{'s' if len(missing) > 1 else ''} {listed} "
            f"(the header needs {','.join(REQUIRED_COLUMNS)})"
        )
    return columns


def _make_row(
    record: list[str], line: int, header: list[str], columns: dict[str, int]
) -> tuple[GrantRow | None, str]:
    if len(record) > len(header) and any(cell.strip() for cell in record[len(header) :]):
        return None, f"{len(record)} values but the header has {len(header)} columns"

    def value(column: str) -> str:
        position = columns.get(column)
        if position is None or position >= len(record):
            return ""
        return record[position].strip()

    missing = [c for c in REQUIRED_VALUES if not value(c)]
    if missing:
        return None, "missing " + ", ".join(f"'{c}'" for c in missing)

    known = set(CSV_COLUMNS) | set(NAME_COLUMNS)
    extras = {
        header[position].strip(): record[position].strip()
        for key, position in columns.items()
        if key not in known and position < len(record) and record[position].strip()
    }
    return (
        GrantRow(
            row=line,
            agreement=value("agreement"),
            title=value("title"),
            grantor=value("grantor"),
            grantee=value("grantee"),
            rights=value("rights"),
            territory=value("territory"),
            start=value("start"),
            end=value("end"),
            exclusivity=value("exclusivity"),
            language=value("language"),
            status=value("status"),
            title_name=value("title_name"),
            grantor_name=value("grantor_name"),
            grantee_name=value("grantee_name"),
            extras=extras,
        ),
        "",
    )


class _RowMaker:
    """A record and its line as a row, or None: a blank line, or a bad row, whose problem
    is added to `errors`. The common case (every required value, no stray cells) at a
    fraction of `_make_row`'s cost; anything else is left to `_make_row`."""

    def __init__(
        self, header: list[str], columns: dict[str, int], errors: list[tuple[int, str]]
    ) -> None:
        self.header, self.columns, self.errors = header, columns, errors
        self.width = len(header)
        self.positions = tuple(columns.get(c, -1) for c in (*CSV_COLUMNS, *NAME_COLUMNS))
        self.required = tuple(columns[c] for c in REQUIRED_VALUES)
        known = set(CSV_COLUMNS) | set(NAME_COLUMNS)
        self.extras = tuple(
            (header[position].strip(), position)
            for key, position in columns.items()
            if key not in known
        )

    def __call__(self, record: list[str], line: int) -> GrantRow | None:
        width = len(record)
        if width > self.width or (width < self.width and any(p >= width for p in self.required)):
            return self._uncommon(record, line)
        values = [record[p].strip() if 0 <= p < width else "" for p in self.positions]
        for position in self.required:
            if not record[position].strip():
                return self._uncommon(record, line)
        extras = {}
        for column, position in self.extras:
            if position < width and (cell := record[position].strip()):
                extras[column] = cell
        # `values` come in GrantRow's field order, after `row` (a test keeps it so).
        return GrantRow._make((line, *values, extras))

    def _uncommon(self, record: list[str], line: int) -> GrantRow | None:
        if not any(cell.strip() for cell in record):
            return None  # a blank line
        row, problem = _make_row(record, line, self.header, self.columns)
        if problem:
            self.errors.append((line, problem))
        return row


def write_csv(rows: Iterable[GrantRow], stream: TextIO, extra_columns: Sequence[str] = ()) -> int:
    """Write the header and one line per row; return how many rows were written.

    Rows are written as they come, so an export of a million grants never holds them
    all. `extra_columns` names `extras` keys to add as columns after the standard ones
    (the header must be known before the first row, hence a parameter, not a scan).
    """
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *extra_columns])
    count = 0
    for row in rows:
        writer.writerow(
            [
                row.agreement,
                row.title,
                row.grantor,
                row.grantee,
                row.rights,
                row.territory,
                row.start,
                row.end,
                row.exclusivity,
                row.language,
                row.status,
                *(row.extras.get(column, "") for column in extra_columns),
            ]
        )
        count += 1
    return count
