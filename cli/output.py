"""Printing results: an aligned table, one JSON document, or CSV, on stdout."""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar

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


def table(
    texts: Iterable[Sequence[str]],
    columns: Sequence[str],
    empty: str = "nothing found",
    out: TextIO | None = None,
) -> None:
    """Rows already as their cells' texts, in `columns` order, as an aligned table."""
    texts = list(texts)  # every row counts for the widths
    if not texts:
        click.echo(empty, file=out)
        return
    widths = [max(len(c), *(len(t[i]) for t in texts)) for i, c in enumerate(columns)]
    line = "  ".join(f"{{:<{width}}}" for width in widths)
    header = line.format(*(c.upper() for c in columns))
    write_lines(out, [header.rstrip(), *(line.format(*text).rstrip() for text in texts)])


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
    writer = csv.writer(out or sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(texts)


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
