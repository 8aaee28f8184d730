"""Printing results: an aligned table, one JSON document, or CSV, on stdout."""

from __future__ import annotations

import csv
import io
import json
import marshal
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain, islice, starmap
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, TextIO, TypeVar

import click

from ledger.errors import BadInput
from ledger.services.checks import CheckResult
from ledger.services.ledger import BlockedGrant

FORMATS = ("table", "json", "csv")
F = TypeVar("F", bound=Callable[..., Any])


def format_option(func: F) -> F:
    """The `--format table|json|csv` option every listing command shares."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format: an aligned table, one JSON document, or CSV.",
    )(func)


def cell(value: Any) -> str:
    if type(value) is str:  # most cells: first, and cheaply
        return value
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(cell(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


TABLE_IN_MEMORY = 10_000
"""Rows a table holds in memory. Every row counts for the column widths, so a longer
table is set aside in a temporary file while they are measured, then read back: a
listing of a million grants needs no more memory than one of ten thousand."""


def table(
    texts: Iterable[Sequence[str]],
    columns: Sequence[str],
    empty: str = "nothing found",
    out: TextIO | None = None,
) -> None:
    """Rows already as their cells' texts, in `columns` order, as an aligned table."""
    rows = iter(texts)
    head = list(islice(rows, TABLE_IN_MEMORY))
    if not head:
        click.echo(empty, file=out)
        return
    widths = _widths([len(c) for c in columns], head)
    if len(head) < TABLE_IN_MEMORY:
        _aligned(out, columns, widths, head)
        return
    with tempfile.TemporaryFile() as spool:
        _spill(spool, head)
        del head
        for batch in _batches(rows):
            widths = _widths(widths, batch)
            _spill(spool, batch)
        spool.seek(0)
        _aligned(out, columns, widths, _spooled(spool))


def _spill(spool: IO[bytes], rows: Sequence[Sequence[str]]) -> None:
    """`rows` set aside at the end of `spool`, as `_spooled` reads them back."""
    data = marshal.dumps([tuple(text) for text in rows])
    spool.write(len(data).to_bytes(8, "little") + data)


def _widths(widths: list[int], rows: Sequence[Sequence[str]]) -> list[int]:
    """`widths` widened to the cells of `rows`, column by column (a column read straight
    from the rows: transposing them first costs three times as much)."""
    return [
        max(width, max(map(len, map(itemgetter(column), rows)), default=0))
        for column, width in enumerate(widths)
    ]


def _batches(rows: Iterator[Sequence[str]]) -> Iterator[list[Sequence[str]]]:
    while batch := list(islice(rows, TABLE_IN_MEMORY)):
        yield batch


def _spooled(spool: IO[bytes]) -> Iterator[Sequence[str]]:
    """The rows `table` set aside, batch after batch (each read whole: `marshal.load`
    from a file reads it a few bytes at a time)."""
    while size := int.from_bytes(spool.read(8), "little"):
        yield from marshal.loads(spool.read(size))


def _aligned(
    out: TextIO | None, columns: Sequence[str], widths: list[int], rows: Iterable[Sequence[str]]
) -> None:
    line = "  ".join(f"{{:<{width}}}" for width in widths)
    header = line.format(*(c.upper() for c in columns))
    # Each line formatted and stripped in C (`starmap`, `map`): a third quicker than a
    # generator's frame a line.
    write_lines(out, chain((header.rstrip(),), map(str.rstrip, starmap(line.format, rows))))


def write_lines(out: TextIO | None, lines: Iterable[str]) -> None:
    """Lines on `out` (default stdout), a few thousand to a write: a listing of tens of
    thousands of rows spends most of its time in writes of one line each."""
    stream = out or sys.stdout
    batch: list[str] = []
    for text in lines:
        batch.append(text)
        if len(batch) == WRITE_BATCH:
            stream.write("\n".join(batch) + "\n")
            batch.clear()
    if batch:
        stream.write("\n".join(batch) + "\n")
    stream.flush()


WRITE_BATCH = 4096


def emit_json(document: Any, out: TextIO | None = None) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str), file=out)


def emit_json_list(items: Iterable[Any], out: TextIO | None = None) -> None:
    """A JSON list streamed an item a line: bounded memory, and each item is written by
    the json module's C encoder (which an indented document cannot use)."""
    encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
    emit_json_texts((encode(item) for item in items), out)


def emit_json_texts(texts: Iterable[str], out: TextIO | None = None) -> None:
    """`emit_json_list` of items already written as JSON, one a line."""
    write_lines(out, _json_list_lines(iter(texts)))


def _json_list_lines(items: Iterator[str]) -> Iterator[str]:
    before = next(items, None)
    if before is None:
        yield "[]"
        return
    yield "["
    for text in items:
        yield before + ","
        before = text
    yield before
    yield "]"


def emit_csv(
    texts: Iterable[Sequence[str]], columns: Sequence[str], out: TextIO | None = None
) -> None:
    """Rows already as their cells' texts, in `columns` order, as CSV (streamed)."""
    write_lines(out, csv_lines(chain((columns,), texts)))


def csv_lines(rows: Iterable[Sequence[str]]) -> Iterator[str]:
    """Rows of texts as the lines `csv.writer(stream, lineterminator="\\n")` writes, each
    without its line end.

    Joined with commas when no cell needs quoting (no comma, quote or line break in
    any), which is nearly every row of a ledger's listing: for tens of thousands of rows
    several times quicker than the writer, which looks at each character of each cell.
    Any other row is written by `csv.writer` itself."""
    quoted = io.StringIO()
    writer = csv.writer(quoted, lineterminator="\n")  # which cells it quotes depends on it
    join = ",".join
    for cells in rows:
        line = join(cells)
        if (
            line.count(",") == len(cells) - 1
            and '"' not in line
            and "\n" not in line
            and "\r" not in line
            and line  # one empty cell alone is written `""`
        ):
            yield line
        else:
            quoted.seek(0)
            quoted.truncate()
            writer.writerow(cells)
            yield quoted.getvalue()[:-1]


def emit(
    fmt: str,
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    empty: str = "nothing found",
    out: TextIO | None = None,
) -> None:
    """Rows in the asked format; JSON carries every key, table and CSV the named columns.
    The rows may be a generator: JSON and CSV stream them."""
    if fmt == "json":
        emit_json_list(rows, out)
    else:
        emit_texts(fmt, ([cell(row.get(c)) for c in columns] for row in rows), columns, empty, out)


def emit_texts(
    fmt: str,
    texts: Iterable[Sequence[str]],
    columns: Sequence[str],
    empty: str = "nothing found",
    out: TextIO | None = None,
) -> None:
    """Rows already as their cells' texts, as a table or CSV: for a listing of tens of
    thousands of rows, which would spend more time making dictionaries than printing."""
    if fmt == "csv":
        emit_csv(texts, columns, out)
    else:
        table(texts, columns, empty, out)


def warn(message: str) -> None:
    click.echo(message, err=True)


def write_atomically(path: Path, write: Callable[[TextIO], None]) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see half a file."""
    directory = path.expanduser().resolve().parent
    if not directory.is_dir():
        raise BadInput(f"no such directory: {directory}")
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            write(stream)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def warn_conflicts(result: CheckResult) -> None:
    """Each conflict on stderr, so that stdout stays the grant id alone."""
    for conflict in result.conflicts:
        warn(f"{conflict.severity}: {conflict.kind}: {conflict.message}")


@contextmanager
def reporting_conflicts() -> Iterator[None]:
    """Show every conflict of a refused write before its one-line refusal."""
    try:
        yield
    except BlockedGrant as blocked:
        warn_conflicts(blocked.result)
        raise
